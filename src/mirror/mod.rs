//! The Postgres mirror: every stream record written into a table that converges to the
//! DynamoDB table, plus one typed SQL view per model.
//!
//! Turn it on with [`RouterBuilder::mirror`](crate::RouterBuilder::mirror). For each batch the
//! router first writes the batch's rows in one statement (one transaction, one round trip), and
//! only then runs the handlers; if the write fails, every record of the batch is reported failed
//! and Lambda delivers the batch again. A record is acknowledged only when the mirror and its
//! handler both succeeded.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use dynastream::mirror::MirrorConfig;
//! let router = dynastream::Router::builder(())
//!     .mirror(MirrorConfig::new("postgres://app@db.internal/analytics?sslmode=require")?.table("items")?)
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! The table (`pk`, `sk` in collation "C" so rows sort in DynamoDB's byte order; `entity`;
//! `schema_version`; `data` jsonb with every attribute but the keys; `seq` numeric; `event_time`;
//! `deleted`; `mirrored_at`) keeps a tombstone for a REMOVE, so a replayed older record cannot
//! bring the item back: a row is replaced only by a record with a higher sequence number.

mod json;
mod rows;
pub(crate) mod sql;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls, Statement};

pub use json::{image_to_json, ImageJson};

/// The schema-qualified name of `model`'s view under `config` (`public.user_profile`).
pub fn view_name(config: &MirrorConfig, model: &ModelSpec) -> String {
    format!(
        "{}.{}",
        config.schema,
        sql::view_name(&config.view_prefix, model)
    )
}
pub(crate) use rows::{newest_per_key, row, Row};

use crate::registry::ModelSpec;

/// What went wrong in the mirror. Messages name the server (host, port, database, user) but
/// never the password.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The connection string or a setting is invalid.
    #[error("mirror configuration: {0}")]
    Config(String),
    /// The server could not be reached or refused the connection.
    #[error("mirror: cannot connect to {target}: {message}")]
    Connect {
        /// host:port/database as user.
        target: String,
        /// Why.
        message: String,
    },
    /// Creating the table or a view failed.
    #[error("mirror: creating {what} failed: {source}")]
    Ddl {
        /// The table or view.
        what: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Writing the batch failed; nothing of it is acknowledged.
    #[error("mirror: writing {rows} rows to {target} failed: {source}")]
    Write {
        /// How many rows the statement carried.
        rows: usize,
        /// host:port/database.
        target: String,
        /// The server's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The server did not answer in time.
    #[error("mirror: {what} timed out after {after:?}")]
    Timeout {
        /// What was waiting.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
}

/// Where and how to mirror.
///
/// ```
/// use dynastream::mirror::MirrorConfig;
/// let c = MirrorConfig::new("postgres://app:s3cret@db.internal:5432/analytics").unwrap().table("items").unwrap();
/// assert!(!format!("{c:?}").contains("s3cret"));
/// assert!(MirrorConfig::new("postgres://db").unwrap().table("items; drop").is_err());
/// ```
#[derive(Clone)]
pub struct MirrorConfig {
    pg: tokio_postgres::Config,
    pub(crate) schema: String,
    pub(crate) table: String,
    view_prefix: String,
    views: bool,
    pk_attr: String,
    sk_attr: String,
    statement_timeout: Duration,
    connect_timeout: Duration,
    root_cert: Option<PathBuf>,
}

impl std::fmt::Debug for MirrorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorConfig")
            .field("target", &target(&self.pg))
            .field("table", &format!("{}.{}", self.schema, self.table))
            .field("views", &self.views)
            .field("statement_timeout", &self.statement_timeout)
            .finish_non_exhaustive()
    }
}

/// `host:port/db as user`, for messages (never the password).
fn target(pg: &tokio_postgres::Config) -> String {
    let host = match pg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        pg.get_dbname().unwrap_or("(default database)"),
        pg.get_user().unwrap_or("(default user)")
    )
}

impl MirrorConfig {
    /// Parses a libpq-style connection string or `postgres://` URL. TLS (rustls, certificates
    /// checked against the Mozilla roots and `PGSSLROOTCERT` when set) is used when it says
    /// `sslmode=require`. The table defaults to `public.dynastream_items`.
    pub fn new(connection: &str) -> Result<Self, MirrorError> {
        // tokio-postgres' own error text can quote the input; give a fixed message instead.
        let mut pg = tokio_postgres::Config::from_str(connection).map_err(|_| {
            MirrorError::Config(
                "the connection string is not a valid postgres:// URL or key=value list".into(),
            )
        })?;
        if pg.get_application_name().is_none() {
            pg.application_name("dynastream");
        }
        Ok(MirrorConfig {
            pg,
            schema: "public".into(),
            table: "dynastream_items".into(),
            view_prefix: String::new(),
            views: true,
            pk_attr: "PK".into(),
            sk_attr: "SK".into(),
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            root_cert: std::env::var_os("PGSSLROOTCERT").map(PathBuf::from),
        })
    }

    /// The table name: `items`, or `analytics.items` to set the schema too. Plain
    /// identifiers only (a letter or `_`, then letters, digits or `_`).
    pub fn table(mut self, table: &str) -> Result<Self, MirrorError> {
        let (schema, table) = match table.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, table),
        };
        sql::check_ident("table", table).map_err(MirrorError::Config)?;
        if let Some(s) = schema {
            self = self.schema(s)?;
        }
        self.table = table.into();
        Ok(self)
    }

    /// The schema holding the table and views (created if missing; default `public`).
    pub fn schema(mut self, schema: &str) -> Result<Self, MirrorError> {
        sql::check_ident("schema", schema).map_err(MirrorError::Config)?;
        self.schema = schema.into();
        Ok(self)
    }

    /// A prefix for view names (`story` by default; `app_story` with prefix `app_`).
    pub fn view_prefix(mut self, prefix: &str) -> Result<Self, MirrorError> {
        if !prefix.is_empty() {
            sql::check_ident("view prefix", prefix).map_err(MirrorError::Config)?;
        }
        self.view_prefix = prefix.into();
        Ok(self)
    }

    /// Whether to create the per-model views (default true).
    pub fn views(mut self, on: bool) -> Self {
        self.views = on;
        self
    }

    /// The key attribute names (default `PK`, `SK`).
    pub fn key_attributes(mut self, pk: &str, sk: &str) -> Self {
        self.pk_attr = pk.into();
        self.sk_attr = sk.into();
        self
    }

    /// The longest a statement may run (default 10 s). Keep it below the function's timeout.
    pub fn statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = d;
        self
    }

    /// The longest a connection attempt may take (default 5 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// A PEM file of extra trusted CA certificates (e.g. the RDS bundle); default
    /// `PGSSLROOTCERT`.
    pub fn root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_cert = Some(path.into());
        self
    }

    /// `schema.table`.
    pub fn qualified_table(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// The key attribute names.
    pub fn key_attribute_names(&self) -> (&str, &str) {
        (&self.pk_attr, &self.sk_attr)
    }
}

struct Conn {
    client: Client,
    upsert: Statement,
}

/// A mirror with its connection: one per process, reused across invocations, replaced after
/// a failure. Built by the router from a [`MirrorConfig`].
pub struct Mirror {
    config: MirrorConfig,
    upsert_sql: String,
    models: Vec<ModelSpec>,
    conn: Mutex<Option<Conn>>,
    ready: AtomicBool,
    writes_sent: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Mirror {
    /// A mirror for `models` (their views are created with the table). Connects lazily.
    pub fn new(config: MirrorConfig, models: Vec<ModelSpec>) -> Result<Self, MirrorError> {
        if config.views {
            let mut names = std::collections::HashSet::new();
            for m in &models {
                let v = sql::view_name(&config.view_prefix, m);
                sql::check_ident("view", &v).map_err(|e| {
                    MirrorError::Config(format!(
                        "{e} (model {}; set a view prefix or entity name)",
                        m.entity()
                    ))
                })?;
                if v == config.table || !names.insert(v.clone()) {
                    return Err(MirrorError::Config(format!(
                        "view name {v:?} for model {} is already taken; set a view prefix",
                        m.entity()
                    )));
                }
            }
        }
        Ok(Mirror {
            upsert_sql: sql::upsert(&config.schema, &config.table),
            config,
            models,
            conn: Mutex::new(None),
            ready: AtomicBool::new(false),
            writes_sent: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MirrorConfig {
        &self.config
    }

    /// How many batch writes (each one round trip on a warm connection) this mirror has sent.
    pub fn writes(&self) -> u64 {
        self.writes_sent.load(Ordering::Relaxed)
    }

    /// Connects (if needed), creates the table and views, and prepares the upsert. Called by
    /// the first write; call it at start-up to fail fast.
    pub async fn connect(&self) -> Result<(), MirrorError> {
        let mut slot = self.conn.lock().await;
        if slot.as_ref().is_some_and(|c| !c.client.is_closed()) {
            return Ok(());
        }
        *slot = Some(self.open().await?);
        Ok(())
    }

    /// Writes `rows` in one statement. On an error the connection is dropped, so the next batch
    /// starts on a fresh one; a failure on a reused connection is retried once on a new
    /// connection first (the write is idempotent).
    pub(crate) async fn write(&self, rows: &[Row]) -> Result<(), MirrorError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut slot = self.conn.lock().await;
        let reused = slot.as_ref().is_some_and(|c| !c.client.is_closed());
        if !reused {
            *slot = Some(self.open().await?);
        }
        let result = match slot.as_ref() {
            Some(c) => self.send(c, rows).await,
            None => return Err(MirrorError::Config("no connection".into())),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                *slot = None;
                if !reused {
                    return Err(e);
                }
                tracing::warn!(error = %e, "mirror write failed on a reused connection; reconnecting once");
                let c = self.open().await?;
                let second = self.send(&c, rows).await;
                if second.is_ok() {
                    *slot = Some(c);
                }
                second
            }
        }
    }

    async fn send(&self, c: &Conn, rows: &[Row]) -> Result<(), MirrorError> {
        let n = rows.len();
        let mut pk = Vec::with_capacity(n);
        let mut sk = Vec::with_capacity(n);
        let mut entity = Vec::with_capacity(n);
        let mut sv = Vec::with_capacity(n);
        let mut data = Vec::with_capacity(n);
        let mut seq = Vec::with_capacity(n);
        let mut et = Vec::with_capacity(n);
        let mut deleted = Vec::with_capacity(n);
        for r in rows {
            pk.push(r.pk.as_str());
            sk.push(r.sk.as_str());
            entity.push(r.entity);
            sv.push(r.schema_version.as_deref());
            data.push(r.data.as_deref());
            seq.push(r.seq.as_str());
            et.push(r.event_time.as_deref());
            deleted.push(r.deleted);
        }
        self.writes_sent.fetch_add(1, Ordering::Relaxed);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
            [&pk, &sk, &entity, &sv, &data, &seq, &et, &deleted];
        let fut = c.client.execute(&c.upsert, &params);
        let limit = self.config.statement_timeout + Duration::from_secs(2);
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(MirrorError::Write {
                rows: n,
                target: target(&self.config.pg),
                source,
            }),
            Err(_) => Err(MirrorError::Timeout {
                what: "batch write",
                after: limit,
            }),
        }
    }

    async fn open(&self) -> Result<Conn, MirrorError> {
        let limit = self.config.connect_timeout;
        let client = match tokio::time::timeout(limit, dial(&self.config)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(MirrorError::Timeout {
                    what: "connecting",
                    after: limit,
                })
            }
        };
        if !self.ready.load(Ordering::Acquire) {
            self.create(&client).await?;
            self.ready.store(true, Ordering::Release);
        }
        let upsert = client
            .prepare(&self.upsert_sql)
            .await
            .map_err(|source| MirrorError::Ddl {
                what: format!("the upsert statement for {}", self.config.qualified_table()),
                source,
            })?;
        tracing::info!(target_db = %target(&self.config.pg), table = %self.config.qualified_table(), "mirror connected");
        Ok(Conn { client, upsert })
    }

    /// Creates the table and the views under a transaction-scoped advisory lock, so cold
    /// starts racing each other take turns instead of colliding.
    async fn create(&self, client: &Client) -> Result<(), MirrorError> {
        let c = &self.config;
        let ddl_err = |what: String| move |source| MirrorError::Ddl { what, source };
        let table_what = format!("table {}", c.qualified_table());
        client
            .batch_execute("BEGIN")
            .await
            .map_err(ddl_err(table_what.clone()))?;
        let result = async {
            client
                .execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    &[&format!("dynastream mirror {}", c.qualified_table())],
                )
                .await
                .map_err(ddl_err(table_what.clone()))?;
            client
                .batch_execute(&sql::create_table(&c.schema, &c.table))
                .await
                .map_err(ddl_err(table_what.clone()))?;
            if c.views {
                for spec in &self.models {
                    self.create_view(client, spec).await?;
                }
            }
            Ok::<(), MirrorError>(())
        }
        .await;
        match result {
            Ok(()) => client
                .batch_execute("COMMIT")
                .await
                .map_err(ddl_err(table_what)),
            Err(e) => {
                // The connection is dropped by the caller if this fails too.
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    async fn create_view(&self, client: &Client, spec: &ModelSpec) -> Result<(), MirrorError> {
        let c = &self.config;
        let view = sql::view_name(&c.view_prefix, spec);
        let what = format!("view {}.{view}", c.schema);
        let err = |source| MirrorError::Ddl {
            what: what.clone(),
            source,
        };
        let comment = sql::view_comment(spec, &c.qualified_table());
        let current: Option<String> = client
            .query_one(
                "SELECT obj_description(to_regclass($1), 'pg_class')",
                &[&sql::qualified(&c.schema, &view)],
            )
            .await
            .map_err(err)?
            .get(0);
        if current.as_deref() == Some(comment.as_str()) {
            return Ok(());
        }
        let v = sql::qualified(&c.schema, &view);
        client
            .batch_execute(&format!(
                "DROP VIEW IF EXISTS {v}; {}; COMMENT ON VIEW {v} IS {};",
                sql::create_view(&c.schema, &c.table, &view, spec),
                sql::quote_literal(&comment)
            ))
            .await
            .map_err(err)?;
        tracing::info!(view = %format!("{}.{view}", c.schema), model = spec.entity(), "mirror view (re)created");
        Ok(())
    }
}

/// Opens a connection with the configuration's timeouts and TLS settings.
pub(crate) async fn dial(config: &MirrorConfig) -> Result<Client, MirrorError> {
    let mut pg = config.pg.clone();
    let mut options = pg.get_options().unwrap_or_default().to_string();
    options.push_str(&format!(
        " -c statement_timeout={}",
        config.statement_timeout.as_millis()
    ));
    pg.options(options.trim());
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(config.connect_timeout);
    }
    let fail = |message: String| MirrorError::Connect {
        target: target(&config.pg),
        message,
    };
    if pg.get_ssl_mode() == SslMode::Require {
        let tls = tls(config).map_err(fail)?;
        let (client, conn) = pg.connect(tls).await.map_err(|e| fail(e.to_string()))?;
        spawn_connection(conn);
        Ok(client)
    } else {
        let (client, conn) = pg.connect(NoTls).await.map_err(|e| fail(e.to_string()))?;
        spawn_connection(conn);
        Ok(client)
    }
}

fn tls(config: &MirrorConfig) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.root_cert {
        use rustls::pki_types::pem::PemObject as _;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("reading root certificates {}: {e}", path.display()))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| format!("reading root certificates {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("root certificate in {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Drives a connection in the background until it closes.
fn spawn_connection<F>(conn: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "mirror connection closed");
        }
    });
}
