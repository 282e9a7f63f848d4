//! A real Postgres for tests: `DATABASE_URL`, else the local server. Each test gets its own
//! schema so tests run in parallel; a TCP proxy in front of the server lets a test cut
//! connections, stop "the server" and count round trips.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, NoTls};

/// The server tests use.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A plain client for assertions.
pub async fn client() -> Client {
    let url = database_url();
    let (client, conn) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("tests need Postgres at DATABASE_URL or 127.0.0.1:5432: {e}"));
    tokio::spawn(conn);
    client
}

/// A fresh, empty schema named after the test.
pub async fn fresh_schema(name: &str) -> String {
    let schema = format!("t_{name}");
    client()
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop schema");
    schema
}

/// The host and port of the test server.
pub fn server_addr() -> (String, u16) {
    let cfg = tokio_postgres::Config::from_str(&database_url()).expect("DATABASE_URL");
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    (host, cfg.get_ports().first().copied().unwrap_or(5432))
}

/// `DATABASE_URL` with host and port replaced.
pub fn url_via(port: u16) -> String {
    let cfg = tokio_postgres::Config::from_str(&database_url()).expect("DATABASE_URL");
    let user = cfg.get_user().unwrap_or("postgres");
    let db = cfg.get_dbname().unwrap_or("test");
    let password = cfg
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    format!("postgres://{user}{password}@127.0.0.1:{port}/{db}")
}

/// A TCP proxy to the test server.
pub struct Proxy {
    pub port: u16,
    /// Client→server turns: each time the client sends after the server last spoke.
    pub turns: Arc<AtomicU64>,
    /// When set, the next client message kills its connection instead of being forwarded, and
    /// the proxy refuses new connections until [`Proxy::restart`]: the server died mid-request.
    pub cut_next: Arc<AtomicBool>,
    refuse: Arc<AtomicBool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mut p = Proxy {
            port,
            turns: Arc::new(AtomicU64::new(0)),
            cut_next: Arc::new(AtomicBool::new(false)),
            refuse: Arc::new(AtomicBool::new(false)),
            tasks: Arc::new(Mutex::new(Vec::new())),
            accept: None,
        };
        p.accept = Some(p.serve(listener));
        p
    }

    fn serve(&self, listener: TcpListener) -> JoinHandle<()> {
        let (turns, cut, refuse, tasks) = (
            self.turns.clone(),
            self.cut_next.clone(),
            self.refuse.clone(),
            self.tasks.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (turns, cut, refuse) = (turns.clone(), cut.clone(), refuse.clone());
                let t = tokio::spawn(async move {
                    let (host, port) = server_addr();
                    let Ok(server) = TcpStream::connect((host.as_str(), port)).await else {
                        return;
                    };
                    pipe(client, server, turns, cut, refuse).await;
                });
                tasks.lock().unwrap().push(t);
            }
        })
    }

    /// Stops listening and drops every connection: to clients, the server is gone.
    pub fn stop(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Listens again on the same port and accepts connections.
    pub async fn restart(&mut self) {
        self.stop();
        self.refuse.store(false, Ordering::SeqCst);
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("rebind proxy: {e}"),
            }
        };
        self.accept = Some(self.serve(listener));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    turns: Arc<AtomicU64>,
    cut: Arc<AtomicBool>,
    refuse: Arc<AtomicBool>,
) {
    let (mut cbuf, mut sbuf) = (vec![0u8; 65536], vec![0u8; 65536]);
    // Who spoke last: true = server (or nobody yet), so the first client message is a turn.
    let mut server_last = true;
    loop {
        tokio::select! {
            n = client.read(&mut cbuf) => {
                let Ok(n) = n else { return };
                if n == 0 { return; }
                if cut.swap(false, Ordering::SeqCst) {
                    refuse.store(true, Ordering::SeqCst);
                    return;
                }
                if server_last {
                    turns.fetch_add(1, Ordering::SeqCst);
                    server_last = false;
                }
                if server.write_all(&cbuf[..n]).await.is_err() { return; }
            }
            n = server.read(&mut sbuf) => {
                let Ok(n) = n else { return };
                if n == 0 { return; }
                server_last = true;
                if client.write_all(&sbuf[..n]).await.is_err() { return; }
            }
        }
    }
}

/// One stream record as Lambda delivers it.
pub fn record(
    kind: &str,
    seq: &str,
    keys: (&str, &str),
    new: Option<Value>,
    old: Option<Value>,
) -> Value {
    let k = json!({"PK": {"S": keys.0}, "SK": {"S": keys.1}});
    let mut d = json!({
        "ApproximateCreationDateTime": 1700000000.907,
        "Keys": k,
        "SequenceNumber": seq,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    });
    let with_keys = |mut img: Value| {
        img["PK"] = json!({"S": keys.0});
        img["SK"] = json!({"S": keys.1});
        img
    };
    if let Some(n) = new {
        d["NewImage"] = with_keys(n);
    }
    if let Some(o) = old {
        d["OldImage"] = with_keys(o);
    }
    json!({
        "eventID": format!("ev-{seq}"),
        "eventName": kind,
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/app/stream/2024-01-01T00:00:00.000",
        "awsRegion": "us-east-1",
        "dynamodb": d
    })
}

/// An event holding `records`.
pub fn event(records: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).expect("event json")
}
