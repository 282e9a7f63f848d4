//! The one connection module: where the mirror, the store and the checkpoints connect
//! ([`MirrorConfig`]), and how (timeouts, TLS with rustls).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use dynastream_core::BoxError;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, NoTls};

use crate::sql;
use crate::MirrorError;

/// Where and how to mirror.
///
/// ```
/// use dynastream_postgres::MirrorConfig;
/// let c = MirrorConfig::new("postgres://app:s3cret@db.internal:5432/analytics").unwrap().table("items").unwrap();
/// assert!(!format!("{c:?}").contains("s3cret"));
/// assert!(MirrorConfig::new("postgres://db").unwrap().table("items; drop").is_err());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct MirrorConfig {
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) schema: String,
    pub(crate) table: String,
    pub(crate) view_prefix: String,
    pub(crate) views: bool,
    /// Set by [`MirrorConfig::key_attributes`]; otherwise the models' own.
    pub(crate) pk_attr: Option<String>,
    pub(crate) sk_attr: Option<String>,
    pub(crate) statement_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) connections: usize,
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
pub(crate) fn target(pg: &tokio_postgres::Config) -> String {
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
            pk_attr: None,
            sk_attr: None,
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            connections: 1,
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

    /// The table's key attribute names; `sk` empty for a table with a partition key only.
    /// Default: the registered models' (`PK`/`SK` unless a model says otherwise); the router
    /// refuses a mirror whose models disagree and that has none set here.
    pub fn key_attributes(self, pk: &str, sk: &str) -> Self {
        self.partition_key_attribute(pk).sort_key_attribute(sk)
    }

    /// The table's partition key attribute name, leaving the sort key's to the models (or
    /// [`sort_key_attribute`](Self::sort_key_attribute)).
    pub fn partition_key_attribute(mut self, name: &str) -> Self {
        self.pk_attr = Some(name.into());
        self
    }

    /// The table's sort key attribute name; `""` for a table with a partition key only (its
    /// rows get the sort key `""`, which no real sort key can be: DynamoDB key strings are
    /// never empty). Without it, a record whose keys are one attribute is taken as such a
    /// table's too.
    pub fn sort_key_attribute(mut self, name: &str) -> Self {
        self.sk_attr = Some(name.into());
        self
    }

    /// The longest a statement may run (default 10 s). Keep it below the function's timeout.
    pub fn statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = d;
        self
    }

    /// How many connections the mirror keeps for batches written at the same time (default 1):
    /// one per concurrent invocation, so the invocations of a Lambda Managed Instances
    /// environment (`AWS_LAMBDA_MAX_CONCURRENCY`) do not wait for each other's writes. Each
    /// opens on first use. At least 1.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
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

    /// The key attribute names set with [`MirrorConfig::key_attributes`], if any.
    pub fn key_attribute_names(&self) -> (Option<&str>, Option<&str>) {
        (self.pk_attr.as_deref(), self.sk_attr.as_deref())
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
    let fail = |message: String, source: BoxError| MirrorError::Connect {
        target: target(&config.pg),
        message,
        source,
    };
    if pg.get_ssl_mode() == SslMode::Require {
        let tls = tls(config).map_err(|(message, source)| fail(message, source))?;
        let (client, conn) = pg
            .connect(tls)
            .await
            .map_err(|e| fail(crate::error::describe(&e), e.into()))?;
        spawn_connection(conn);
        Ok(client)
    } else {
        let (client, conn) = pg
            .connect(NoTls)
            .await
            .map_err(|e| fail(crate::error::describe(&e), e.into()))?;
        spawn_connection(conn);
        Ok(client)
    }
}

/// The TLS connector, or what failed (said for the message) with its error.
fn tls(
    config: &MirrorConfig,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, (String, BoxError)> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.root_cert {
        use rustls::pki_types::pem::PemObject as _;
        let said =
            |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", path.display());
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| (said("reading root certificates", &e), e.into()))?;
        for cert in certs {
            let cert = cert.map_err(|e| (said("reading root certificates", &e), e.into()))?;
            roots
                .add(cert)
                .map_err(|e| (said("root certificate in", &e), e.into()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (e.to_string(), e.into()))?
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
