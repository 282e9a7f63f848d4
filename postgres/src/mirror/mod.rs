//! The Postgres mirror: every stream record written into a table that converges to the
//! DynamoDB table, plus one typed SQL view per model.
//!
//! A [`Mirror`] is a [`BatchHook`]: register it with
//! [`RouterBuilder::hook`](dynastream_core::RouterBuilder::hook). For each batch the router
//! first has it write the batch's rows in one statement (one transaction, one round trip), and
//! only then runs the handlers; if the connection or the server fails, every record of the
//! batch is reported failed and Lambda delivers the batch again. A record the mirror cannot
//! take (no key attribute, no new image, U+0000 in a string or key, a number beyond `numeric`)
//! is refused alone, and so is a row the server refuses for its data (SQLSTATE class 22, 23 or
//! 54; found by writing the rows in halves); the router's `undecodable` policy decides whether
//! such a record fails or is skipped. A record is acknowledged only when the mirror and its
//! handler both succeeded.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use dynastream_postgres::{Mirror, MirrorConfig};
//! let mirror = Mirror::new(MirrorConfig::new("postgres://app@db.internal/analytics?sslmode=require")?.table("items")?);
//! let router = dynastream_core::Router::builder(()).hook(mirror).build()?;
//! router.start().await?; // connect and create the table and views now, not on the first batch
//! # Ok(()) }
//! ```
//!
//! The table (`pk`, `sk` in collation "C" so rows sort in DynamoDB's byte order; `entity`;
//! `schema_version`; `data` jsonb with every attribute but the keys; `seq` numeric; `event_time`;
//! `deleted`; `mirrored_at`; `stream`, the label of the record's stream) keeps a tombstone for
//! a REMOVE, so a replayed older record cannot bring the item back: a row is replaced only by
//! a record at a later position — a later stream (by label, the stream's creation time), or
//! the same stream and a higher sequence number.
//!
//! One mirror table holds one DynamoDB table's items: the table (from the records'
//! `eventSourceARN`, up to `table/NAME`) is recorded in `dynastream_sources` with the first
//! record, and records of any other table are refused alone, saying to give that table a
//! mirror table of its own.

mod backfill;
mod rows;
mod verify;

pub use backfill::{BackfillOptions, BackfillProgress, BackfillSummary, RefusedItem};
pub use verify::{Drift, DriftKind, EntityCounts, VerifyOptions, VerifyProgress, VerifyReport};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dynastream_core::dynamodb_json::SCHEMA_VERSION_ATTR;
use dynastream_core::event::{KinesisInfo, StreamArn};
use dynastream_core::hook::{Batch, BatchHook, Refusal};
use dynastream_core::registry::{ModelSpec, Registry};

use dynastream_core::BoxError;
use dynastream_core::BoxFuture;
use tokio::sync::Mutex;
use tokio_postgres::{Client, Statement};

use crate::conn::{dial, target};
use crate::{sql, MirrorConfig, MirrorError};

use rows::{newest_per_key, older_rows, row, Row, KINESIS_LABEL};

/// The schema-qualified name of `model`'s view under `config` (`public.user_profile`).
pub fn view_name(config: &MirrorConfig, model: &ModelSpec) -> String {
    format!(
        "{}.{}",
        config.schema,
        sql::view_name(&config.view_prefix, model)
    )
}

struct Conn {
    client: Client,
    upsert: Statement,
}

/// A mirror with its connection: one per process, reused across invocations, replaced after
/// a failure. A [`BatchHook`]: register it on the router (an `Arc<Mirror>` too, to keep a
/// handle), which hands it the models whose views it creates.
pub struct Mirror {
    config: MirrorConfig,
    upsert_sql: String,
    /// The router's models, set when the router is built.
    models: OnceLock<Vec<ModelSpec>>,
    /// The same models, to match scanned items' keys (a backfill's, a verify's).
    registry: OnceLock<Registry>,
    /// (entity, schema-version attribute) of the models that name their own; usually empty,
    /// so a record costs no lookup.
    custom_versions: OnceLock<Vec<(String, String)>>,
    /// The table's key attribute names: the configuration's, else the models'.
    key_attrs: OnceLock<(String, String)>,
    /// The connections ([`MirrorConfig::connections`]); the first also serves the mirror's own
    /// queries (its source, backfill and verify).
    conns: Vec<Mutex<Option<Conn>>>,
    /// Where the next write that finds every connection busy waits.
    next_conn: std::sync::atomic::AtomicUsize,
    /// The DynamoDB table (its ARN up to `table/NAME`) the mirror table holds, once known.
    source: OnceLock<String>,
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
    /// A mirror with `config`. It connects on [`Router::start`](dynastream_core::Router::start)
    /// or the first batch; the views are those of the router it is registered on.
    pub fn new(config: MirrorConfig) -> Self {
        Mirror {
            upsert_sql: sql::upsert(&config.schema, &config.table),
            conns: (0..config.connections.max(1))
                .map(|_| Mutex::new(None))
                .collect(),
            config,
            models: OnceLock::new(),
            registry: OnceLock::new(),
            custom_versions: OnceLock::new(),
            key_attrs: OnceLock::new(),
            next_conn: std::sync::atomic::AtomicUsize::new(0),
            source: OnceLock::new(),
            ready: AtomicBool::new(false),
            writes_sent: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Checks that every model gets a view name of its own, and keeps the models.
    fn set_models(&self, models: Vec<ModelSpec>) -> Result<(), MirrorError> {
        let config = &self.config;
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
        let custom: Vec<(String, String)> = models
            .iter()
            .filter(|m| m.schema_version_attr() != SCHEMA_VERSION_ATTR)
            .map(|m| (m.entity().to_string(), m.schema_version_attr().to_string()))
            .collect();
        let _ = self.custom_versions.set(custom);
        if let Ok(registry) = Registry::new(models.clone()) {
            let _ = self.registry.set(registry);
        }
        self.models.set(models).map_err(|_| {
            MirrorError::Config("this mirror is already registered on a router".into())
        })
    }

    /// The table's key attribute names: the configuration's, else the models' (`PK`/`SK`
    /// before the mirror is registered on a router).
    pub fn key_attributes(&self) -> (&str, &str) {
        match self.key_attrs.get() {
            Some((p, s)) => (p, s),
            None => {
                let (p, s) = self.config.key_attribute_names();
                (p.unwrap_or("PK"), s.unwrap_or("SK"))
            }
        }
    }

    /// The model whose patterns match a scanned item's keys, by entity name.
    fn entity_of(&self, pk_attr: &str, sk_attr: &str, pk: &str, sk: &str) -> Option<&str> {
        let registry = self.registry.get()?;
        let i = registry.find(pk_attr, sk_attr, pk, sk)?;
        Some(registry.spec(i).entity())
    }

    /// The schema-version attribute of the model named `entity` (the default for others).
    fn version_attr(&self, entity: Option<&str>) -> &str {
        match (entity, self.custom_versions.get()) {
            (Some(e), Some(custom)) if !custom.is_empty() => custom
                .iter()
                .find(|(name, _)| name == e)
                .map_or(SCHEMA_VERSION_ATTR, |(_, attr)| attr.as_str()),
            _ => SCHEMA_VERSION_ATTR,
        }
    }

    fn models(&self) -> &[ModelSpec] {
        self.models.get().map_or(&[], Vec::as_slice)
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
        self.live().await.map(|_| ())
    }

    /// The DynamoDB table this mirror table holds: the one recorded for it in
    /// `dynastream_sources`, else `table` (a table ARN, `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`,
    /// or the text of a stream ARN up to there), which is recorded then. One statement, safe
    /// for racing writers; after the first call the answer is kept.
    ///
    /// The mirror calls it with the first record of its first batch that names a stream;
    /// backfill and verify call it with the table they read. Records of another table are
    /// then refused: one mirror table holds one DynamoDB table's items.
    pub async fn claim_source(&self, table: &str) -> Result<&str, MirrorError> {
        if let Some(held) = self.source.get() {
            return Ok(held);
        }
        let c = self.live().await?;
        let what = || {
            format!(
                "recording the source table of {}",
                self.config.qualified_table()
            )
        };
        let held: String = c
            .client
            .query_one(
                &sql::claim_source(&self.config.schema),
                &[&self.config.qualified_table(), &table],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|source| MirrorError::Query {
                what: what(),
                source,
            })?;
        Ok(self.source.get_or_init(|| held))
    }

    /// The DynamoDB table this mirror table holds, if one is recorded; records nothing (what
    /// verify asks: a check must not bind a mirror to the table it was pointed at). Like
    /// [`claim_source`](Self::claim_source), a process keeps the answer once it is known: after
    /// the row in `dynastream_sources` is changed, restart the processes writing the mirror.
    pub async fn held_source(&self) -> Result<Option<String>, MirrorError> {
        if let Some(held) = self.source.get() {
            return Ok(Some(held.clone()));
        }
        let c = self.live().await?;
        let row = c
            .client
            .query_opt(
                &format!(
                    "SELECT source_table FROM {} WHERE mirror_table = $1",
                    sql::sources_table(&self.config.schema)
                ),
                &[&self.config.qualified_table()],
            )
            .await
            .and_then(|row| row.map(|r| r.try_get::<_, String>(0)).transpose())
            .map_err(|source| MirrorError::Query {
                what: format!(
                    "reading the source table of {}",
                    self.config.qualified_table()
                ),
                source,
            })?;
        Ok(row)
    }

    /// Writes `rows` (every takeable record of a batch; more than one per item possible) in one
    /// statement, the newest row per item, and returns the records Postgres refused for what
    /// they hold (see [`write_on`](Self::write_on)).
    ///
    /// On any other error the connection is dropped, so the next batch starts on a fresh one;
    /// a failure on a reused connection is retried once on a new connection first (the write
    /// is idempotent).
    async fn write(&self, rows: &[Row]) -> Result<Vec<Refusal>, MirrorError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut slot = self.free_conn().await;
        let reused = slot.as_ref().is_some_and(|c| !c.client.is_closed());
        if !reused {
            *slot = Some(self.open().await?);
        }
        let result = match slot.as_ref() {
            Some(c) => self.write_on(c, rows).await,
            None => return Err(MirrorError::Config("no connection".into())),
        };
        match result {
            Ok(refused) => Ok(refused),
            Err(e) => {
                *slot = None;
                if !reused {
                    return Err(e);
                }
                tracing::warn!(error = %e, "mirror write failed on a reused connection; reconnecting once");
                let c = self.open().await?;
                let second = self.write_on(&c, rows).await;
                if second.is_ok() {
                    *slot = Some(c);
                }
                second
            }
        }
    }

    /// One statement for the newest row of every item: the normal case, one round trip. When
    /// the server refuses it for the data it carries ([`MirrorError::refused_for_data`]), the
    /// rows are written in halves, recursively, until each refused row stands alone (about
    /// 2·log2(n) statements per refused row); the record of each such row is refused, and its
    /// item gets the newest of its other rows in the batch that the server takes. Any other
    /// error is the batch's.
    async fn write_on(&self, c: &Conn, rows: &[Row]) -> Result<Vec<Refusal>, MirrorError> {
        let newest = newest_per_key(rows);
        let first = match self.send(c, &newest).await {
            Ok(()) => return Ok(Vec::new()),
            Err(e) if e.refused_for_data() => e,
            Err(e) => return Err(e),
        };
        tracing::warn!(error = %first, rows = newest.len(), "Postgres refused the batch's rows for their data; writing them in parts to find the rows it refuses");
        let mut refused: Vec<(&Row, MirrorError)> = Vec::new();
        let mut parts: Vec<&[&Row]> = Vec::new();
        match newest.as_slice() {
            [one] => refused.push((one, first)),
            all => {
                let (a, b) = all.split_at(all.len() / 2);
                parts.extend([b, a]);
            }
        }
        while let Some(part) = parts.pop() {
            match self.send(c, part).await {
                Ok(()) => {}
                Err(e) if e.refused_for_data() => match part {
                    [one] => refused.push((one, e)),
                    all => {
                        let (a, b) = all.split_at(all.len() / 2);
                        parts.extend([b, a]);
                    }
                },
                Err(e) => return Err(e),
            }
        }
        let mut refusals = Vec::with_capacity(refused.len());
        for (row, e) in refused {
            refusals.push(Refusal::new(row.index, e.for_row(&row.pk, &row.sk)));
            for older in older_rows(rows, row) {
                match self.send(c, &[older]).await {
                    Ok(()) => break,
                    Err(e) if e.refused_for_data() => {
                        refusals.push(Refusal::new(older.index, e.for_row(&older.pk, &older.sk)));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(refusals)
    }

    async fn send(&self, c: &Conn, rows: &[&Row]) -> Result<(), MirrorError> {
        let n = rows.len();
        let mut pk = Vec::with_capacity(n);
        let mut sk = Vec::with_capacity(n);
        let mut entity = Vec::with_capacity(n);
        let mut sv = Vec::with_capacity(n);
        let mut data = Vec::with_capacity(n);
        let mut seq = Vec::with_capacity(n);
        let mut et = Vec::with_capacity(n);
        let mut deleted = Vec::with_capacity(n);
        let mut stream = Vec::with_capacity(n);
        for r in rows {
            pk.push(r.pk.as_str());
            sk.push(r.sk.as_str());
            entity.push(r.entity);
            sv.push(r.schema_version.as_deref());
            data.push(r.data.as_deref());
            seq.push(r.seq.as_str());
            et.push(r.event_time.as_deref());
            deleted.push(r.deleted);
            stream.push(&*r.stream);
        }
        self.writes_sent.fetch_add(1, Ordering::Relaxed);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
            [&pk, &sk, &entity, &sv, &data, &seq, &et, &deleted, &stream];
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

    /// A new connection with the configuration's settings, within its connect timeout.
    pub(crate) async fn dial_timed(&self) -> Result<Client, MirrorError> {
        let limit = self.config.connect_timeout;
        match tokio::time::timeout(limit, dial(&self.config)).await {
            Ok(r) => r,
            Err(_) => Err(MirrorError::Timeout {
                what: "connecting",
                after: limit,
            }),
        }
    }

    /// The mirror's connection, opened (and the table created) if there is none or it closed.
    /// A connection slot no other write holds; when all are busy, the next in turn (waiting
    /// for it). Rows of one item written by two batches at once converge by their positions
    /// (the upsert's guard), whatever the order the connections commit in.
    async fn free_conn(&self) -> tokio::sync::MutexGuard<'_, Option<Conn>> {
        for slot in &self.conns {
            if let Ok(guard) = slot.try_lock() {
                return guard;
            }
        }
        let i = self.next_conn.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].lock().await
    }

    async fn live(&self) -> Result<tokio::sync::MappedMutexGuard<'_, Conn>, MirrorError> {
        let mut slot = self.conns[0].lock().await;
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            *slot = Some(self.open().await?);
        }
        tokio::sync::MutexGuard::try_map(slot, Option::as_mut)
            .map_err(|_| MirrorError::Config("no connection".into()))
    }

    async fn open(&self) -> Result<Conn, MirrorError> {
        let client = self.dial_timed().await?;
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
                for spec in self.models() {
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
        // A view this project made for another mirror table: two mirror tables in one schema
        // would take each other's views over, each start flipping them.
        if let Some(other) = current.as_deref().and_then(sql::view_table) {
            if other != c.qualified_table() {
                return Err(MirrorError::Config(format!(
                    "view {}.{view} shows mirror table {other}, not {}: give this mirror table's views a prefix (MirrorConfig::view_prefix, --mirror-view-prefix) or a schema of its own",
                    c.schema,
                    c.qualified_table()
                )));
            }
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

/// A record's stream label, shared by the rows of one batch, or why the mirror refuses it.
type StreamOf = Result<Arc<str>, String>;

/// What a record's label depends on: its `eventSourceARN` and, on Kinesis, its `tableName`.
type SourceOf<'r> = (Option<&'r str>, Option<&'r str>);

/// The label of the stream a record comes from, or why the mirror refuses it: an ARN that is
/// no DynamoDB stream's, or one of a table other than `held`, the one the mirror table holds.
/// A record whose `eventSourceARN` is absent or no ARN at all (a hand-written event, a
/// sample's placeholder) names no stream: label `""`, earlier than every stream's records.
fn stream_of<'a>(
    arn: Option<&'a str>,
    kinesis: Option<&KinesisInfo<'_>>,
    held: Option<&str>,
    config: &MirrorConfig,
) -> Result<&'a str, String> {
    if let Some(k) = kinesis {
        return kinesis_label(arn, k, held, config);
    }
    let Some(arn) = arn.filter(|a| a.starts_with("arn:")) else {
        return Ok("");
    };
    let parsed = StreamArn::parse(arn).and_then(|a| Some((a.table, a.label?)));
    let Some((table, label)) = parsed else {
        return Err(format!(
            "eventSourceARN {arn:?} is not a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL); the mirror orders rows by their stream and keeps each table's items apart"
        ));
    };
    match held {
        Some(held) if held != table => Err(format!(
            "record of table {table}, but mirror table {} holds {held}: one mirror table holds one DynamoDB table's items; give this table a mirror table of its own (--mirror-table; to repoint this one, delete its row from dynastream_sources)",
            config.qualified_table()
        )),
        _ => Ok(label),
    }
}

/// [`stream_of`] for a record of Kinesis Data Streams for DynamoDB: its table is named by
/// the Kinesis stream's ARN (region, account) and the change's `tableName`; its rows take the
/// Kinesis label. A record whose ARN is absent or no ARN (a hand-written event) is not
/// checked, as on DynamoDB Streams.
fn kinesis_label(
    arn: Option<&str>,
    k: &KinesisInfo<'_>,
    held: Option<&str>,
    config: &MirrorConfig,
) -> Result<&'static str, String> {
    let Some(arn) = arn.filter(|a| a.starts_with("arn:")) else {
        return Ok(KINESIS_LABEL);
    };
    let Some(table) = k.table_arn(arn) else {
        return Err(match k.table_name.as_deref() {
            None | Some("") => format!("Kinesis record of {arn} names no table (no tableName in its change record): the mirror keeps each table's items apart"),
            Some(_) => format!("eventSourceARN {arn:?} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"),
        });
    };
    match held {
        Some(held) if held != table => Err(format!(
            "record of table {table} (by Kinesis stream {arn}), but mirror table {} holds {held}: one mirror table holds one DynamoDB table's items; give this table a mirror table of its own (--mirror-table; to repoint this one, delete its row from dynastream_sources)",
            config.qualified_table()
        )),
        _ => Ok(KINESIS_LABEL),
    }
}

impl BatchHook for Mirror {
    fn name(&self) -> &'static str {
        "mirror"
    }

    fn prepare(&self, registry: &Registry) -> Result<(), BoxError> {
        let (p, s) = match self.config.key_attribute_names() {
            (Some(p), Some(s)) => (p, s),
            (p, s) => {
                let (mp, ms) = registry.table_key_attributes()?;
                (p.unwrap_or(mp), s.unwrap_or(ms))
            }
        };
        let keys = (p.to_string(), s.to_string());
        let _ = self.key_attrs.set(keys);
        Ok(self.set_models(registry.specs().to_vec())?)
    }

    fn start(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move { Ok(self.connect().await?) })
    }

    /// Writes the rows of every record it can take in one statement; refuses the others: those
    /// it sees it cannot take (no key attribute, no new image, a value Postgres cannot store)
    /// and those the server refuses for their data.
    fn before_handlers<'a>(
        &'a self,
        batch: Batch<'a>,
    ) -> BoxFuture<'a, Result<Vec<Refusal>, BoxError>> {
        Box::pin(async move {
            let (pk_attr, sk_attr) = self.key_attributes();
            let mut rows = Vec::with_capacity(batch.len());
            let mut refused = Vec::new();
            // The table this mirror table holds: recorded with the first record that names
            // one, if none is yet.
            let first = batch.records().find_map(|r| {
                let arn = r.record.event_source_arn.as_deref()?;
                if let Some(k) = &r.record.kinesis {
                    return k.table_arn(arn).map(std::borrow::Cow::Owned);
                }
                let arn = StreamArn::parse(arn)?;
                arn.label.map(|_| std::borrow::Cow::Borrowed(arn.table))
            });
            let held = match first {
                Some(table) => Some(self.claim_source(&table).await?),
                None => self.source.get().map(String::as_str),
            };
            // A batch's records name one stream: its label is read and shared once, not per
            // record.
            let mut last: Option<(SourceOf<'_>, StreamOf)> = None;
            for r in batch.records() {
                let arn = r.record.event_source_arn.as_deref();
                let kinesis = r.record.kinesis.as_deref();
                // A Kinesis change names its table itself (`tableName`).
                let source = (arn, kinesis.and_then(|k| k.table_name.as_deref()));
                let known = match &last {
                    Some((a, known)) if *a == source => known.clone(),
                    _ => {
                        let known = stream_of(arn, kinesis, held, &self.config).map(Arc::from);
                        last = Some((source, known.clone()));
                        known
                    }
                };
                let stream = match known {
                    Ok(label) => label,
                    Err(message) => {
                        refused.push(Refusal::new(r.index, message));
                        continue;
                    }
                };
                // The matched model's schema-version attribute; the default for the others.
                let version_attr = self.version_attr(r.entity);
                match row(
                    r.index,
                    r.record,
                    r.entity,
                    (pk_attr, sk_attr),
                    version_attr,
                    stream,
                ) {
                    Ok(row) => rows.push(row),
                    Err(message) => refused.push(Refusal::new(r.index, message)),
                }
            }
            let writing = std::time::Instant::now();
            refused.extend(self.write(&rows).await?);
            dynastream_core::metrics::record_mirror_write(writing.elapsed(), rows.len() as u64);
            refused.sort_by_key(|r| r.index);
            Ok(refused)
        })
    }
}
