//! The Lambda main under Lambda Managed Instances: with `AWS_LAMBDA_MAX_CONCURRENCY` above 1
//! the binary serves that many invocations at once, each answered with its own batch
//! response. The test is the Lambda Runtime API, as Lambda serves it to a bootstrap
//! (`/2018-06-01/runtime/invocation/next`, `.../{id}/response`), on 127.0.0.1.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    /// Invocations not yet handed out: (request id, event).
    queue: VecDeque<(String, Vec<u8>)>,
    /// `/next` requests waiting now, and the most seen waiting at once.
    waiting: usize,
    most_waiting: usize,
    /// Responses by request id (`Err` for `.../error`).
    responses: HashMap<String, Result<String, String>>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request { method, path, body })
}

fn serve_connection(stream: TcpStream, shared: Shared) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    const PREFIX: &str = "/2018-06-01/runtime/invocation/";
    while let Some(req) = read_request(&mut reader) {
        let (lock, cv) = &*shared;
        if req.method == "GET" && req.path == format!("{PREFIX}next") {
            let (id, event) = {
                let mut s = lock.lock().unwrap();
                s.waiting += 1;
                s.most_waiting = s.most_waiting.max(s.waiting);
                cv.notify_all();
                let mut s = cv.wait_while(s, |s| s.queue.is_empty()).unwrap();
                s.waiting -= 1;
                s.queue.pop_front().unwrap()
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:stream\r\nContent-Length: {}\r\n\r\n",
                event.len()
            );
            if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&event).is_err() {
                return;
            }
        } else if let Some(rest) = req.path.strip_prefix(PREFIX) {
            let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let result = if what == "response" {
                Ok(body)
            } else {
                Err(body)
            };
            lock.lock()
                .unwrap()
                .responses
                .insert(id.to_string(), result);
            cv.notify_all();
            if writer
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .is_err()
            {
                return;
            }
        } else {
            // init/error and anything else: answer, and keep what it said.
            let body = String::from_utf8_lossy(&req.body).into_owned();
            lock.lock()
                .unwrap()
                .responses
                .insert(format!("{} {}", req.method, req.path), Err(body));
            cv.notify_all();
            if writer
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .is_err()
            {
                return;
            }
        }
    }
}

struct Runtime {
    shared: Shared,
    child: Child,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the Runtime API and the handler binary against it.
fn start(max_concurrency: Option<&str>) -> Runtime {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let shared: Shared = Arc::default();
    let accept = Arc::clone(&shared);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = Arc::clone(&accept);
            std::thread::spawn(move || serve_connection(stream, shared));
        }
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_handler"));
    cmd.env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "stream")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("RUST_LOG", "warn")
        .env_remove("MIRROR_URL")
        .env_remove("MIRROR_SECRET_ARN")
        .env_remove("TABLE_NAME")
        .env_remove("POWERTOOLS_METRICS_NAMESPACE")
        .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(n) = max_concurrency {
        cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", n);
    }
    let child = cmd.spawn().expect("start the handler binary");
    Runtime { shared, child }
}

fn event(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../events")
            .join(name),
    )
    .unwrap()
}

/// The batch response `handler replay` prints for the file.
fn replayed(name: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .arg("replay")
        .arg(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../events")
                .join(name),
        )
        .env("RUST_LOG", "off")
        .env_remove("POWERTOOLS_METRICS_NAMESPACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("response: "))
        .expect("replay prints the response");
    serde_json::from_str(line).unwrap()
}

/// Waits until `f` holds of the state, or fails after `secs`.
fn wait_for(rt: &Runtime, secs: u64, what: &str, f: impl Fn(&State) -> bool) {
    let (lock, cv) = &*rt.shared;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut s = lock.lock().unwrap();
    while !f(&s) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        s = cv.wait_timeout(s, left).unwrap().0;
    }
}

/// Invocations answered (response or error), not counting anything else posted.
fn answered(s: &State) -> usize {
    s.responses.keys().filter(|k| k.starts_with("req-")).count()
}

const FILES: [&str; 4] = [
    "bad-number.json",
    "insert.json",
    "image-mismatch.json",
    "bad-base64.json",
];

/// Hands the Runtime API one invocation per file of [`FILES`], `req-0` to `req-3`.
fn invoke_all(rt: &Runtime) {
    let (lock, cv) = &*rt.shared;
    let mut s = lock.lock().unwrap();
    for (i, f) in FILES.iter().enumerate() {
        s.queue.push_back((format!("req-{i}"), event(f)));
    }
    cv.notify_all();
}

#[test]
fn managed_instances_serve_invocations_at_once_each_with_its_own_response() {
    let rt = start(Some("4"));
    // Four workers, each waiting for an invocation at the same time.
    wait_for(&rt, 60, "4 concurrent /next requests", |s| s.waiting == 4);
    invoke_all(&rt);
    wait_for(&rt, 60, "4 responses", |s| answered(s) == 4);
    let s = rt.shared.0.lock().unwrap();
    assert_eq!(
        s.responses.len(),
        4,
        "no init or other error: {:?}",
        s.responses
    );
    for (i, f) in FILES.iter().enumerate() {
        let got = match &s.responses[&format!("req-{i}")] {
            Ok(body) => serde_json::from_str::<serde_json::Value>(body).unwrap(),
            Err(e) => panic!("{f}: invocation error {e}"),
        };
        assert_eq!(got, replayed(f), "{f}: the batch response of its own event");
    }
}

#[test]
fn classic_lambda_serves_one_invocation_at_a_time() {
    let rt = start(None);
    wait_for(&rt, 60, "a /next request", |s| s.waiting == 1);
    invoke_all(&rt);
    wait_for(&rt, 60, "4 responses", |s| answered(s) == 4);
    let s = rt.shared.0.lock().unwrap();
    assert_eq!(s.most_waiting, 1, "one /next at a time");
    assert_eq!(
        s.responses.len(),
        4,
        "no init or other error: {:?}",
        s.responses
    );
    for (i, f) in FILES.iter().enumerate() {
        let got = s.responses[&format!("req-{i}")]
            .clone()
            .expect("a response");
        let got: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(got, replayed(f), "{f}");
    }
}
