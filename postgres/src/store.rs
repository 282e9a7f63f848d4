//! The Postgres backend, on the mirror's table layout: `pk` and `sk` (collation "C", so
//! order is DynamoDB's byte order), `entity`, `schema_version`, `data` (every attribute but the
//! keys, as the mirror's JSON). Rows the mirror marked deleted are invisible; rows the store
//! writes carry stream `''` and `seq = 0`, the earliest position, so a mirror replaying the DynamoDB stream into the same table wins.
//!
//! Prefixes are matched with `starts_with`, never `LIKE`, so `_` and `%` are plain characters.

use std::collections::HashMap;

use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use dynastream_store::{
    to_dynamodb_json, Backend, BatchFailure, BoxFuture, Cursor, ItemKey, Page, PageRequest,
    RawBody, RawItem, ScanPage, ScanRequest, StoreError, TableInfo, TableScan, TxOp, WriteItem,
};

use crate::json::image_to_json;
use crate::MirrorError;
use crate::{sql, MirrorConfig};

/// Models in a Postgres table laid out like the mirror's.
pub struct PgStore {
    conn: Mutex<Conn>,
    schema: String,
    table: String,
    sql: Sql,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("table", &format!("{}.{}", self.schema, self.table))
            .finish_non_exhaustive()
    }
}

/// The connection and the statements prepared on it (each is prepared on first use, so an
/// operation is one round trip after that).
struct Conn {
    client: Client,
    prepared: HashMap<String, Statement>,
}

impl Conn {
    async fn statement(&mut self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// The store's statements for one table, built once.
struct Sql {
    put: String,
    create: String,
    fetch: String,
    remove: String,
    delete: String,
    batch: String,
    /// Ascending, descending.
    page: [String; 2],
    /// Ascending, descending.
    page_index: [String; 2],
    /// A page of one segment of a scan: the live rows whose key hashes to it, after a key.
    scan: String,
    /// The live rows.
    count: String,
}

impl Sql {
    fn new(t: &str) -> Self {
        // A row the mirror marked deleted counts as absent for `create`.
        let upsert = |cond: &str| {
            format!(
                "INSERT INTO {t} AS cur {COLUMNS}
VALUES ($1, $2, $3, $4, $5::text::jsonb, 0, NULL, false, now())
ON CONFLICT (pk, sk) DO UPDATE SET {SET}{cond}"
            )
        };
        let page = |cmp: &str, dir: &str| {
            format!(
                "SELECT pk, sk, data::text, NULL::text FROM {t}
WHERE pk = $1 AND sk >= $2 AND starts_with(sk, $2) AND NOT deleted
  AND ($3::text IS NULL OR sk {cmp} $3::text COLLATE \"C\")
ORDER BY sk {dir} LIMIT $4"
            )
        };
        let page_index = |cmp: &str, dir: &str| {
            format!(
                "SELECT pk, sk, data::text, data->>$5 FROM {t}
WHERE data->>$6 = $1 AND starts_with(data->>$5, $2) AND NOT deleted
  AND ($3::text IS NULL OR ((data->>$5) COLLATE \"C\", pk, sk) {cmp} ($3::text COLLATE \"C\", $7::text COLLATE \"C\", $8::text COLLATE \"C\"))
ORDER BY (data->>$5) COLLATE \"C\" {dir}, pk {dir}, sk {dir} LIMIT $4"
            )
        };
        Sql {
            put: upsert(""),
            create: upsert("\nWHERE cur.deleted"),
            fetch: format!("SELECT data::text FROM {t} WHERE pk = $1 AND sk = $2 AND NOT deleted"),
            remove: format!("DELETE FROM {t} WHERE pk = $1 AND sk = $2 RETURNING NOT deleted"),
            delete: format!("DELETE FROM {t} WHERE pk = $1 AND sk = $2"),
            batch: format!(
                "INSERT INTO {t} AS cur {COLUMNS}
SELECT u.pk, u.sk, u.entity, u.sv, u.data::jsonb, 0, NULL, false, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(pk, sk, entity, sv, data)
ON CONFLICT (pk, sk) DO UPDATE SET {SET}"
            ),
            page: [page(">", "ASC"), page("<", "DESC")],
            page_index: [page_index(">", "ASC"), page_index("<", "DESC")],
            scan: format!(
                "SELECT pk, sk, data::text FROM {t}
WHERE NOT deleted AND (hashtextextended(pk || chr(10) || sk, 0) & 9223372036854775807) % $1 = $2
  AND (pk, sk) > ($3::text COLLATE \"C\", $4::text COLLATE \"C\")
ORDER BY pk, sk LIMIT $5"
            ),
            count: format!("SELECT count(*) FROM {t} WHERE NOT deleted"),
        }
    }
}

/// A row's columns as the store writes them.
struct Columns {
    pk: String,
    sk: String,
    entity: &'static str,
    schema_version: Option<String>,
    data: String,
}

impl Columns {
    /// The parameters of the single-row upsert, in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.pk,
            &self.sk,
            &self.entity,
            &self.schema_version,
            &self.data,
        ]
    }
}

fn columns(item: &WriteItem) -> Result<Columns, StoreError> {
    let k = &item.key;
    let fail = |message: String| StoreError::Serialize {
        entity: k.entity,
        pk: k.pk.clone(),
        sk: k.sk.clone(),
        message,
    };
    let dynamo_json = to_dynamodb_json(&item.attrs);
    let plain = image_to_json(&dynamo_json, &[k.pk_attr, k.sk_attr], k.schema_version_attr)
        .map_err(fail)?;
    Ok(Columns {
        pk: k.pk.clone(),
        sk: k.sk.clone(),
        entity: k.entity,
        schema_version: plain.schema_version,
        data: plain.json,
    })
}

const COLUMNS: &str =
    "(pk, sk, entity, schema_version, data, seq, event_time, deleted, mirrored_at)";

const SET: &str = "
    entity = EXCLUDED.entity, schema_version = EXCLUDED.schema_version, data = EXCLUDED.data,
    seq = EXCLUDED.seq, event_time = EXCLUDED.event_time, deleted = false, mirrored_at = now(),
    stream = ''";

impl PgStore {
    /// A store over the table `config` names (`public.dynastream_items` unless set), with a
    /// connection opened with its settings (timeouts, TLS). Run [`PgStore::create_table`]
    /// once, or point it at a mirror's table.
    pub async fn connect(config: &MirrorConfig) -> Result<Self, StoreError> {
        let client = crate::conn::dial(config)
            .await
            .map_err(|e| StoreError::Backend {
                operation: "connect",
                message: e.to_string(),
                source: Some(e.into()),
            })?;
        Ok(Self::new(client, config))
    }

    /// A store over the table `config` names, on a connection you opened.
    pub fn new(client: Client, config: &MirrorConfig) -> Self {
        PgStore {
            conn: Mutex::new(Conn {
                client,
                prepared: HashMap::new(),
            }),
            sql: Sql::new(&sql::qualified(&config.schema, &config.table)),
            schema: config.schema.clone(),
            table: config.table.clone(),
        }
    }

    /// The table, `schema.table`.
    pub fn table(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// Creates the schema, table and index if missing, under the mirror's advisory lock.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().await;
        let what = format!("table {}.{}", self.schema, self.table);
        let ddl = |source| {
            let e = MirrorError::Ddl {
                what: what.clone(),
                source,
            };
            StoreError::Backend {
                operation: "create table",
                message: e.to_string(),
                source: Some(e.into()),
            }
        };
        let tx = conn.client.transaction().await.map_err(ddl)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("dynastream mirror {}.{}", self.schema, self.table)],
        )
        .await
        .map_err(ddl)?;
        tx.batch_execute(&sql::create_table(&self.schema, &self.table))
            .await
            .map_err(ddl)?;
        tx.commit().await.map_err(ddl)
    }

    fn error(&self, operation: &'static str, e: tokio_postgres::Error) -> StoreError {
        if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
            return StoreError::TableMissing {
                table: format!("{}.{}", self.schema, self.table),
            };
        }
        StoreError::Backend {
            operation,
            message: crate::error::describe(&e),
            source: Some(e.into()),
        }
    }
}

/// Read whole, for a verify against a Postgres store: segments split the live rows by a hash of
/// their key, each read in key order. Its items carry `data` (the keys are `pk` and `sk`), so
/// [`TableInfo::key_attributes`] is `None`: the table has no attribute names of its own.
impl TableScan for PgStore {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            let n: i64 = async {
                let st = conn.statement(&self.sql.count).await?;
                Ok::<i64, tokio_postgres::Error>(conn.client.query_one(&st, &[]).await?.get(0))
            }
            .await
            .map_err(|e| self.error("count", e))?;
            Ok(TableInfo {
                name: self.table(),
                item_count: Some(n as u64),
                ..TableInfo::default()
            })
        })
    }

    fn scan_page(&self, r: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        Box::pin(async move {
            let (after_pk, after_sk) = match r.start {
                None => (String::new(), String::new()),
                Some(Cursor::Keys { pk, sk, .. }) => (pk, sk),
                Some(_) => {
                    return Err(StoreError::Backend {
                        operation: "scan",
                        message: "the cursor was made by another backend".into(),
                        source: None,
                    })
                }
            };
            let limit = i64::try_from(r.page_size.max(1)).unwrap_or(i64::MAX);
            let (total, segment) = (i64::from(r.total_segments.max(1)), i64::from(r.segment));
            let mut conn = self.conn.lock().await;
            let rows = async {
                let st = conn.statement(&self.sql.scan).await?;
                conn.client
                    .query(&st, &[&total, &segment, &after_pk, &after_sk, &limit])
                    .await
            }
            .await
            .map_err(|e| self.error("scan", e))?;
            let items: Vec<RawItem> = rows
                .iter()
                .map(|row| RawItem {
                    pk: row.get(0),
                    sk: row.get(1),
                    body: RawBody::Json(
                        row.get::<_, Option<String>>(2)
                            .unwrap_or_else(|| "{}".into()),
                    ),
                })
                .collect();
            let next = match items.last() {
                Some(last) if items.len() as i64 >= limit => Some(Cursor::Keys {
                    index_sk: None,
                    pk: last.pk.clone(),
                    sk: last.sk.clone(),
                }),
                _ => None,
            };
            Ok(ScanPage { items, next })
        })
    }

    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            let row = async {
                let st = conn.statement(&self.sql.fetch).await?;
                conn.client.query_opt(&st, &[&pk, &sk]).await
            }
            .await
            .map_err(|e| self.error("select", e))?;
            Ok(row.map(|row| RawItem {
                pk,
                sk,
                body: RawBody::Json(
                    row.get::<_, Option<String>>(0)
                        .unwrap_or_else(|| "{}".into()),
                ),
            }))
        })
    }
}

impl Backend for PgStore {
    fn put(&self, item: WriteItem, must_not_exist: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let c = columns(&item)?;
            let sql = if must_not_exist {
                &self.sql.create
            } else {
                &self.sql.put
            };
            let mut conn = self.conn.lock().await;
            let written = async {
                let st = conn.statement(sql).await?;
                conn.client.execute(&st, &c.params()).await
            }
            .await
            .map_err(|e| self.error("insert", e))?;
            if written == 1 {
                Ok(())
            } else {
                Err(StoreError::AlreadyExists {
                    entity: item.key.entity,
                    pk: item.key.pk,
                    sk: item.key.sk,
                })
            }
        })
    }

    fn fetch(&self, key: ItemKey) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            let row = async {
                let st = conn.statement(&self.sql.fetch).await?;
                conn.client.query_opt(&st, &[&key.pk, &key.sk]).await
            }
            .await
            .map_err(|e| self.error("select", e))?;
            Ok(row.map(|r| RawItem {
                pk: key.pk,
                sk: key.sk,
                body: RawBody::Json(r.get::<_, Option<String>>(0).unwrap_or_else(|| "{}".into())),
            }))
        })
    }

    fn remove(&self, key: ItemKey) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.conn.lock().await;
            let row = async {
                let st = conn.statement(&self.sql.remove).await?;
                conn.client.query_opt(&st, &[&key.pk, &key.sk]).await
            }
            .await
            .map_err(|e| self.error("delete", e))?;
            Ok(row.is_some_and(|r| r.get::<_, bool>(0)))
        })
    }

    fn page(&self, r: PageRequest) -> BoxFuture<'_, Result<Page, StoreError>> {
        Box::pin(async move {
            let limit = i64::try_from(r.page_size).unwrap_or(i64::MAX);
            let order = usize::from(!r.forward);
            let mut conn = self.conn.lock().await;
            let rows = async {
                match r.index {
                    None => {
                        let after: Option<&str> = match &r.start {
                            Some(Cursor::Keys { sk, .. }) => Some(sk),
                            _ => None,
                        };
                        let st = conn.statement(&self.sql.page[order]).await?;
                        conn.client
                            .query(&st, &[&r.pk, &r.sk_prefix, &after, &limit])
                            .await
                    }
                    Some((_, ipk, isk)) => {
                        let (after_isk, after_pk, after_sk) = match &r.start {
                            Some(Cursor::Keys {
                                index_sk: Some(i),
                                pk,
                                sk,
                            }) => (Some(i.as_str()), Some(pk.as_str()), Some(sk.as_str())),
                            _ => (None, None, None),
                        };
                        let st = conn.statement(&self.sql.page_index[order]).await?;
                        conn.client
                            .query(
                                &st,
                                &[
                                    &r.pk,
                                    &r.sk_prefix,
                                    &after_isk,
                                    &limit,
                                    &isk,
                                    &ipk,
                                    &after_pk,
                                    &after_sk,
                                ],
                            )
                            .await
                    }
                }
            }
            .await
            .map_err(|e| self.error("query", e))?;
            let full = rows.len() as i64 == limit;
            let next = rows.last().filter(|_| full).map(|row| Cursor::Keys {
                pk: row.get(0),
                sk: row.get(1),
                index_sk: row.get(3),
            });
            let items = rows
                .into_iter()
                .map(|row| RawItem {
                    pk: row.get(0),
                    sk: row.get(1),
                    body: RawBody::Json(
                        row.get::<_, Option<String>>(2)
                            .unwrap_or_else(|| "{}".into()),
                    ),
                })
                .collect();
            Ok(Page { items, next })
        })
    }

    fn put_batch(&self, items: Vec<WriteItem>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let total = items.len();
            let cols: Vec<Columns> = items.iter().map(columns).collect::<Result<_, _>>()?;
            let pk: Vec<&str> = cols.iter().map(|c| c.pk.as_str()).collect();
            let sk: Vec<&str> = cols.iter().map(|c| c.sk.as_str()).collect();
            let entity: Vec<&str> = cols.iter().map(|c| c.entity).collect();
            let sv: Vec<Option<&str>> = cols.iter().map(|c| c.schema_version.as_deref()).collect();
            let data: Vec<&str> = cols.iter().map(|c| c.data.as_str()).collect();
            let mut conn = self.conn.lock().await;
            let result = async {
                let st = conn.statement(&self.sql.batch).await?;
                conn.client
                    .execute(&st, &[&pk, &sk, &entity, &sv, &data])
                    .await
            }
            .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) => {
                    let reason = self.error("batch insert", e).to_string();
                    Err(StoreError::BatchIncomplete {
                        total,
                        failed: cols
                            .iter()
                            .map(|c| BatchFailure {
                                pk: c.pk.clone(),
                                sk: c.sk.clone(),
                                reason: reason.clone(),
                            })
                            .collect(),
                    })
                }
            }
        })
    }

    fn write_transaction(&self, ops: Vec<TxOp>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            /// An operation with its row, ready to send.
            enum Step<'a> {
                Put { cols: Columns, create: bool },
                Delete(&'a ItemKey),
            }
            let steps: Vec<Step<'_>> = ops
                .iter()
                .map(|op| match op {
                    TxOp::Put {
                        item,
                        must_not_exist,
                    } => Ok(Step::Put {
                        cols: columns(item)?,
                        create: *must_not_exist,
                    }),
                    TxOp::Delete(k) => Ok(Step::Delete(k)),
                })
                .collect::<Result<_, StoreError>>()?;
            let mut conn = self.conn.lock().await;
            let prepare = async {
                Ok::<_, tokio_postgres::Error>([
                    conn.statement(&self.sql.put).await?,
                    conn.statement(&self.sql.create).await?,
                    conn.statement(&self.sql.delete).await?,
                ])
            };
            let [put, create, delete] = prepare.await.map_err(|e| self.error("prepare", e))?;
            let tx = conn
                .client
                .transaction()
                .await
                .map_err(|e| self.error("begin", e))?;
            for (index, (step, op)) in steps.iter().zip(&ops).enumerate() {
                match step {
                    Step::Put { cols, create: c } => {
                        let st = if *c { &create } else { &put };
                        let written = tx
                            .execute(st, &cols.params())
                            .await
                            .map_err(|e| self.error("insert", e))?;
                        if written != 1 {
                            // Dropping `tx` rolls back.
                            let k = op.key();
                            return Err(StoreError::TransactionConflict {
                                index,
                                entity: k.entity,
                                pk: k.pk.clone(),
                                sk: k.sk.clone(),
                            });
                        }
                    }
                    Step::Delete(k) => {
                        tx.execute(&delete, &[&k.pk, &k.sk])
                            .await
                            .map_err(|e| self.error("delete", e))?;
                    }
                }
            }
            tx.commit().await.map_err(|e| self.error("commit", e))
        })
    }
}
