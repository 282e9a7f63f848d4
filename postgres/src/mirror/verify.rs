//! Verify: the table scanned (in parallel) and compared with the mirror's live rows; with
//! repair, each drifted row rewritten by a compare-and-set on its position, so a concurrent
//! stream write always wins.
//!
//! Every page of the scan is one statement: its keys are noted (for the extra rows, found at
//! the end) and the rows that differ come back. An item that differs is read again with a
//! consistent read before it counts: it may have changed during the scan, and the stream
//! brought the change (mapbox's diff-tables does the same before it repairs).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dynastream_store::{ScanRequest, TableScan};
use tokio_postgres::Client;

use crate::{sql, MirrorError};

use super::backfill::{page_with_backoff, query, source_error, Claim, ScannedRow};
use super::Mirror;

/// How a verify reads the table and what it does about drift. Defaults: 4 segments,
/// eventually consistent scan, pages of 1,000, differing items read again consistently, no
/// repair, the first 1,000 drifted items kept in the report.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyOptions {
    pub(crate) segments: u32,
    pub(crate) consistent: bool,
    pub(crate) page_size: usize,
    pub(crate) repair: bool,
    pub(crate) keep: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            segments: 4,
            consistent: false,
            page_size: 1000,
            repair: false,
            keep: 1000,
        }
    }
}

impl VerifyOptions {
    /// Options with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Segments of the parallel scan, each on its own Postgres connection; at least 1.
    pub fn segments(mut self, n: u32) -> Self {
        self.segments = n.max(1);
        self
    }

    /// A strongly consistent scan (twice the read capacity).
    pub fn consistent(mut self, yes: bool) -> Self {
        self.consistent = yes;
        self
    }

    /// Items per scan page at most; at least 1.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Rewrite each drifted row (see [`Mirror::verify`]).
    pub fn repair(mut self, yes: bool) -> Self {
        self.repair = yes;
        self
    }

    /// How many drifted items the report lists (all are counted, and all go to the
    /// callback).
    pub fn keep(mut self, n: usize) -> Self {
        self.keep = n;
        self
    }
}

/// How the mirror differs from the table for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DriftKind {
    /// The table holds the item; the mirror has no row for it.
    Missing,
    /// The table holds the item; the mirror's row is a tombstone (a write the mirror missed
    /// after a delete).
    Tombstoned,
    /// Both hold the item, with different attributes (compared as JSON: jsonb equality, so
    /// attribute order and number spelling do not count).
    Stale,
    /// The mirror's row is live, but the table has no such item: a delete the mirror missed,
    /// or an item brought back after its delete (resurrected).
    Extra,
}

impl DriftKind {
    /// `missing`, `tombstoned`, `stale`, `extra`.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Missing => "missing",
            DriftKind::Tombstoned => "tombstoned",
            DriftKind::Stale => "stale",
            DriftKind::Extra => "extra",
        }
    }
}

/// One drifted item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// What differs.
    pub kind: DriftKind,
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// The item as the table holds it (the mirror's JSON), read consistently; `None` when the
    /// table has none.
    pub table: Option<String>,
    /// The mirror's `data`; `None` for no row or a tombstone.
    pub mirror: Option<String>,
    /// With repair: `Some(true)` when the row was rewritten and the item then read equal,
    /// `Some(false)` when a stream write came first (it wins; the item is checked again).
    pub repaired: Option<bool>,
}

/// Items and live rows of one entity (`None`: items no model matches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntityCounts {
    /// Items in the table.
    pub table: u64,
    /// Live rows in the mirror.
    pub mirror: u64,
}

/// What a verify found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The table.
    pub table: String,
    /// Items scanned.
    pub items: u64,
    /// Counts per entity.
    pub entities: BTreeMap<Option<String>, EntityCounts>,
    /// Drifted items found, per kind (after the consistent re-read).
    pub drift: BTreeMap<DriftKind, u64>,
    /// The first [`VerifyOptions::keep`] drifted items.
    pub listed: Vec<Drift>,
    /// Items that differed in the scan but read equal when read again: changed meanwhile.
    pub changed_during_scan: u64,
    /// Items the mirror cannot hold (U+0000 in a string, a number beyond `numeric`): never in
    /// the mirror, so not compared; a backfill or the stream refuses them the same way.
    pub cannot_hold: u64,
    /// Rows rewritten by repair and read equal after.
    pub repaired: u64,
    /// Repairs a stream write came before (the row was not touched).
    pub lost_to_stream: u64,
    /// How long it took.
    pub elapsed: Duration,
}

impl VerifyReport {
    /// Drifted items in all.
    pub fn drifted(&self) -> u64 {
        self.drift.values().sum()
    }

    /// Whether the mirror equals the table: no drift, or every drifted row repaired.
    pub fn equal(&self) -> bool {
        self.drifted() == self.repaired
    }
}

/// Where a verify stands, after every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyProgress {
    /// Items scanned.
    pub items: u64,
    /// About how many the table holds, when known.
    pub estimate: Option<u64>,
    /// Drifted items so far.
    pub drifted: u64,
}

/// A mirror row as verify compares it.
#[derive(Debug, Clone)]
struct MirrorRow {
    data: Option<String>,
    deleted: bool,
    stream: String,
    seq: String,
}

struct VerifySql {
    seen_table: String,
    page: String,
    row: String,
    same: String,
    note: String,
    extra: String,
    counts: String,
    fix_insert: String,
    fix_update: String,
    fix_delete: String,
    cleanup: String,
}

impl VerifySql {
    fn new(schema: &str, table: &str) -> Self {
        let t = sql::qualified(schema, table);
        let seen = sql::qualified(schema, "dynastream_verify_seen");
        VerifySql {
            seen_table: format!(
                "CREATE UNLOGGED TABLE IF NOT EXISTS {seen} (run text NOT NULL, pk text COLLATE \"C\" NOT NULL, sk text COLLATE \"C\" NOT NULL, PRIMARY KEY (run, pk, sk));
ALTER TABLE {seen} ADD COLUMN IF NOT EXISTS noted_at timestamptz NOT NULL DEFAULT now();
COMMENT ON TABLE {seen} IS 'dynastream: the keys a running verify has scanned (emptied when it ends; a run killed midway is emptied by a run a day later)';
DELETE FROM {seen} WHERE noted_at < now() - interval '1 day'"
            ),
            // The page's keys noted; the rows that differ returned.
            page: format!(
                "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u(pk, sk, data)),
noted AS (INSERT INTO {seen} (run, pk, sk) SELECT $4, pk, sk FROM u ON CONFLICT DO NOTHING)
SELECT u.pk, u.sk
FROM u LEFT JOIN {t} AS m ON m.pk = u.pk AND m.sk = u.sk
WHERE m.pk IS NULL OR m.deleted OR m.data IS DISTINCT FROM u.data::jsonb"
            ),
            row: format!(
                "SELECT data::text, deleted, stream, seq::text FROM {t} WHERE pk = $1 AND sk = $2"
            ),
            same: "SELECT $1::text::jsonb IS NOT DISTINCT FROM $2::text::jsonb".into(),
            note: format!(
                "INSERT INTO {seen} (run, pk, sk) SELECT $3, pk, sk FROM unnest($1::text[], $2::text[]) AS u(pk, sk) ON CONFLICT DO NOTHING"
            ),
            extra: format!(
                "SELECT m.pk, m.sk FROM {t} AS m
WHERE NOT m.deleted AND (m.pk, m.sk) > ($2::text COLLATE \"C\", $3::text COLLATE \"C\")
  AND NOT EXISTS (SELECT 1 FROM {seen} AS s WHERE s.run = $1 AND s.pk = m.pk AND s.sk = m.sk)
ORDER BY m.pk, m.sk LIMIT 1000"
            ),
            counts: format!("SELECT entity, count(*) FROM {t} WHERE NOT deleted GROUP BY entity"),
            // Repairs: an absent row at the backfill position, if nothing wrote one meanwhile;
            // a present row only while it is at the position verify saw (a compare-and-set:
            // any stream write since moved it, and wins).
            fix_insert: format!(
                "INSERT INTO {t} (pk, sk, entity, schema_version, data, seq, event_time, deleted, mirrored_at, stream)
VALUES ($1, $2, $3, $4, $5::text::jsonb, 0, NULL, false, now(), $6) ON CONFLICT (pk, sk) DO NOTHING"
            ),
            fix_update: format!(
                "UPDATE {t} SET entity = $3, schema_version = $4, data = $5::text::jsonb, deleted = false, mirrored_at = now()
WHERE pk = $1 AND sk = $2 AND stream = $6 AND seq = $7::text::numeric"
            ),
            fix_delete: format!(
                "UPDATE {t} SET data = NULL, schema_version = NULL, deleted = true, mirrored_at = now()
WHERE pk = $1 AND sk = $2 AND stream = $3 AND seq = $4::text::numeric AND NOT deleted"
            ),
            cleanup: format!("DELETE FROM {seen} WHERE run = $1"),
        }
    }
}

/// What every segment shares.
struct Run<'a> {
    mirror: &'a Mirror,
    source: &'a dyn TableScan,
    options: &'a VerifyOptions,
    keys: (&'a str, &'a str),
    label: &'a str,
    run_id: &'a str,
    sql: &'a VerifySql,
    items: AtomicU64,
    state: Mutex<Found<'a>>,
    on_drift: &'a (dyn Fn(&Drift) + Sync),
    progress: &'a (dyn Fn(VerifyProgress) + Sync),
    estimate: Option<u64>,
}

#[derive(Default)]
struct Found<'m> {
    /// Items per entity (the mirror's models' names: no allocation per item).
    entities: BTreeMap<Option<&'m str>, u64>,
    drift: BTreeMap<DriftKind, u64>,
    listed: Vec<Drift>,
    changed: u64,
    cannot_hold: u64,
    repaired: u64,
    lost: u64,
}

impl Mirror {
    /// Compares the mirror with `source`, the table it mirrors: a parallel scan of every item
    /// against the live rows (counts per entity; items missing, tombstoned, stale or extra,
    /// compared as jsonb). An item that differs is read again (consistent read) before it
    /// counts. `on_drift` gets every drifted item as it is found; the report lists the first
    /// [`VerifyOptions::keep`].
    ///
    /// With [`VerifyOptions::repair`], each drifted row is rewritten by a compare-and-set on
    /// its position (stream label and sequence number, kept as they were), so a stream write
    /// that came meanwhile — it moved the row — always wins; a missing row is written at the
    /// backfill position. Each repaired item is then read again and compared.
    ///
    /// Errors: the table's key attributes differ from the mirror's, the mirror table holds
    /// another table, the source or the database failed.
    pub async fn verify(
        &self,
        source: &dyn TableScan,
        options: &VerifyOptions,
        on_drift: &(dyn Fn(&Drift) + Sync),
        progress: &(dyn Fn(VerifyProgress) + Sync),
    ) -> Result<VerifyReport, MirrorError> {
        let started = Instant::now();
        let info = source
            .describe()
            .await
            .map_err(source_error("DescribeTable"))?;
        let keys = self.check_keys(&info)?;
        let label = self.source_position(&info, None, Claim::CheckOnly).await?;
        self.connect().await?;
        let control = self.dial_timed().await?;
        let sql = VerifySql::new(&self.config.schema, &self.config.table);
        control
            .batch_execute(&sql.seen_table)
            .await
            .map_err(query("creating the verify's key table"))?;
        let run_id = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let run = Run {
            mirror: self,
            source,
            options,
            keys: (&keys.0, &keys.1),
            label: &label,
            run_id: &run_id,
            sql: &sql,
            items: AtomicU64::new(0),
            state: Mutex::new(Found::default()),
            on_drift,
            progress,
            estimate: info.item_count,
        };
        let result = async {
            let workers = (0..options.segments).map(|s| run.segment(s));
            for r in futures_util::future::join_all(workers).await {
                r?;
            }
            run.extras(&control).await
        }
        .await;
        let cleanup = control.execute(&sql.cleanup, &[&run_id]).await;
        result?;
        cleanup.map_err(query("emptying the verify's key table"))?;
        let mut entities: BTreeMap<Option<String>, EntityCounts> = BTreeMap::new();
        for row in control
            .query(&sql.counts, &[])
            .await
            .map_err(query("counting the mirror's rows"))?
        {
            let n: i64 = row.get(1);
            entities.entry(row.get(0)).or_default().mirror = n as u64;
        }
        let found = run.state.into_inner().unwrap_or_else(|p| p.into_inner());
        for (entity, n) in found.entities {
            entities
                .entry(entity.map(str::to_string))
                .or_default()
                .table = n;
        }
        Ok(VerifyReport {
            table: info.name.clone(),
            items: run.items.load(Ordering::Relaxed),
            entities,
            drift: found.drift,
            listed: found.listed,
            changed_during_scan: found.changed,
            cannot_hold: found.cannot_hold,
            repaired: found.repaired,
            lost_to_stream: found.lost,
            elapsed: started.elapsed(),
        })
    }
}

impl<'a> Run<'a> {
    fn found(&self) -> std::sync::MutexGuard<'_, Found<'a>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self) {
        let drifted = self.found().drift.values().sum();
        (self.progress)(VerifyProgress {
            items: self.items.load(Ordering::Relaxed),
            estimate: self.estimate,
            drifted,
        });
    }

    async fn segment(&self, segment: u32) -> Result<(), MirrorError> {
        let client = self.mirror.dial_timed().await?;
        let page_sql = client
            .prepare(&self.sql.page)
            .await
            .map_err(query("preparing the verify's page statement"))?;
        let mut start = None;
        loop {
            let request = ScanRequest {
                segment,
                total_segments: self.options.segments,
                consistent: self.options.consistent,
                page_size: self.options.page_size,
                start: start.take(),
            };
            let page = page_with_backoff(self.source, request, THROTTLE_RETRIES).await?;
            let mut rows: Vec<ScannedRow<'_>> = Vec::with_capacity(page.items.len());
            let mut unheld: Vec<(&str, &str)> = Vec::new();
            {
                let mut found = self.found();
                for item in &page.items {
                    match self.mirror.scanned_row(item, self.keys) {
                        Ok(r) => {
                            *found.entities.entry(r.entity).or_default() += 1;
                            rows.push(r);
                        }
                        // An item the mirror cannot hold differs from whatever it holds.
                        Err(reason) => {
                            tracing::warn!(pk = %item.pk, sk = %item.sk, %reason, "verify: the mirror cannot hold this item");
                            *found.entities.entry(None).or_default() += 1;
                            found.cannot_hold += 1;
                            unheld.push((&item.pk, &item.sk));
                        }
                    }
                }
            }
            let pk: Vec<&str> = rows.iter().map(|r| r.pk.as_str()).collect();
            let sk: Vec<&str> = rows.iter().map(|r| r.sk.as_str()).collect();
            let data: Vec<&str> = rows.iter().map(|r| r.data.as_str()).collect();
            let differ = client
                .query(&page_sql, &[&pk, &sk, &data, &self.run_id])
                .await
                .map_err(query("comparing a page with the mirror"))?;
            // Keys the mirror cannot hold are noted too: their rows (an older state, from
            // before the item took what Postgres cannot hold) are not extra.
            if !unheld.is_empty() {
                let (upk, usk): (Vec<&str>, Vec<&str>) = unheld.iter().copied().unzip();
                client
                    .execute(&self.sql.note, &[&upk, &usk, &self.run_id])
                    .await
                    .map_err(query("noting the keys the mirror cannot hold"))?;
            }
            for d in differ {
                self.settle(&client, d.get(0), d.get(1)).await?;
            }
            self.items
                .fetch_add(page.items.len() as u64, Ordering::Relaxed);
            self.report();
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The mirror's live rows the scan did not see, read again and settled.
    async fn extras(&self, client: &Client) -> Result<(), MirrorError> {
        // (pk, sk) > ('', '') leaves out only the empty key, which DynamoDB does not allow.
        let (mut after_pk, mut after_sk) = (String::new(), String::new());
        loop {
            let rows = client
                .query(&self.sql.extra, &[&self.run_id, &after_pk, &after_sk])
                .await
                .map_err(query("finding the mirror's rows the table lacks"))?;
            if rows.is_empty() {
                return Ok(());
            }
            for r in &rows {
                let (pk, sk): (String, String) = (r.get(0), r.get(1));
                self.settle(client, &pk, &sk).await?;
                after_pk = pk;
                after_sk = sk;
            }
        }
    }

    /// The mirror's row for a key, as it is now.
    async fn row(
        &self,
        client: &Client,
        pk: &str,
        sk: &str,
    ) -> Result<Option<MirrorRow>, MirrorError> {
        let row = client
            .query_opt(&self.sql.row, &[&pk, &sk])
            .await
            .map_err(query("reading a mirror row"))?;
        row.map(|r| {
            Ok(MirrorRow {
                data: r.try_get(0)?,
                deleted: r.try_get(1)?,
                stream: r.try_get(2)?,
                seq: r.try_get(3)?,
            })
        })
        .transpose()
        .map_err(query("reading a mirror row"))
    }

    /// Whether `row` holds what `table` does (jsonb equality).
    async fn same(
        &self,
        client: &Client,
        table: &ScannedRow<'_>,
        row: &MirrorRow,
    ) -> Result<bool, MirrorError> {
        let Some(data) = row.data.as_ref().filter(|_| !row.deleted) else {
            return Ok(false);
        };
        client
            .query_one(&self.sql.same, &[&table.data, data])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(query("comparing an item with its row"))
    }

    /// How the row differs from the item, if it does.
    async fn drift(
        &self,
        client: &Client,
        table: &Reread<'_>,
        row: Option<&MirrorRow>,
    ) -> Result<Option<DriftKind>, MirrorError> {
        Ok(match (table, row) {
            (Reread::CannotHold, _) => None,
            (Reread::Absent, None) => None,
            (Reread::Absent, Some(m)) if m.deleted => None,
            (Reread::Absent, Some(_)) => Some(DriftKind::Extra),
            (Reread::Item(_), None) => Some(DriftKind::Missing),
            (Reread::Item(_), Some(m)) if m.deleted => Some(DriftKind::Tombstoned),
            (Reread::Item(t), Some(m)) => {
                (!self.same(client, t, m).await?).then_some(DriftKind::Stale)
            }
        })
    }

    /// One item that differed: read again, counted as drift if it still differs, repaired if
    /// asked. The mirror's row is read first, then the table; if the row moved meanwhile (a
    /// stream write), the item changed during the check and is not drift. A repair's
    /// compare-and-set is on the row as first read: a stream write after that moved it, so
    /// the repair changes nothing and the stream's write stands.
    async fn settle(&self, client: &Client, pk: &str, sk: &str) -> Result<(), MirrorError> {
        let before = self.row(client, pk, sk).await?;
        let now = self.reread(pk, sk).await?;
        let Some(kind) = self.drift(client, &now, before.as_ref()).await? else {
            if matches!(now, Reread::CannotHold) {
                return Ok(());
            }
            self.found().changed += 1;
            return Ok(());
        };
        let after = self.row(client, pk, sk).await?;
        let moved = |a: Option<&MirrorRow>, b: Option<&MirrorRow>| match (a, b) {
            (Some(a), Some(b)) => (&a.stream, &a.seq) != (&b.stream, &b.seq),
            (None, None) => false,
            _ => true,
        };
        if moved(before.as_ref(), after.as_ref()) {
            self.found().changed += 1;
            return Ok(());
        }
        let table = match &now {
            Reread::Item(t) => Some(t),
            _ => None,
        };
        let mut drift = Drift {
            kind,
            pk: pk.to_string(),
            sk: sk.to_string(),
            table: table.map(|t| t.data.clone()),
            mirror: before.as_ref().and_then(|m| m.data.clone()),
            repaired: None,
        };
        if self.options.repair {
            let fixed = self.repair(client, table, before.as_ref(), pk, sk).await?;
            drift.repaired = Some(fixed);
            let mut found = self.found();
            if fixed {
                found.repaired += 1;
            } else {
                found.lost += 1;
            }
        }
        (self.on_drift)(&drift);
        let mut found = self.found();
        *found.drift.entry(kind).or_default() += 1;
        if found.listed.len() < self.options.keep {
            found.listed.push(drift);
        }
        Ok(())
    }

    /// The item as the table holds it now, as a mirror row would hold it.
    async fn reread(&self, pk: &str, sk: &str) -> Result<Reread<'_>, MirrorError> {
        let item = self
            .source
            .read_item(pk.to_string(), sk.to_string())
            .await
            .map_err(source_error("GetItem"))?;
        Ok(match item {
            None => Reread::Absent,
            Some(item) => match self.mirror.scanned_row(&item, self.keys) {
                Ok(row) => Reread::Item(row),
                Err(_) => Reread::CannotHold,
            },
        })
    }

    /// Rewrites one row as the table holds it, only if the row is still where verify saw it;
    /// then reads the item again and compares. `true` when the row now equals the table.
    async fn repair(
        &self,
        client: &Client,
        table: Option<&ScannedRow<'_>>,
        at: Option<&MirrorRow>,
        pk: &str,
        sk: &str,
    ) -> Result<bool, MirrorError> {
        let failed = |what: &str| {
            let what = format!("{what} (pk {pk:?}, sk {sk:?})");
            move |source| MirrorError::Query { what, source }
        };
        let changed = match (table, at) {
            (Some(t), None) => client
                .execute(
                    &self.sql.fix_insert,
                    &[&pk, &sk, &t.entity, &t.schema_version, &t.data, &self.label],
                )
                .await
                .map_err(failed("repairing a missing row"))?,
            (Some(t), Some(m)) => client
                .execute(
                    &self.sql.fix_update,
                    &[
                        &pk,
                        &sk,
                        &t.entity,
                        &t.schema_version,
                        &t.data,
                        &m.stream,
                        &m.seq,
                    ],
                )
                .await
                .map_err(failed("repairing a row"))?,
            (None, Some(m)) => client
                .execute(&self.sql.fix_delete, &[&pk, &sk, &m.stream, &m.seq])
                .await
                .map_err(failed("repairing an extra row"))?,
            (None, None) => return Ok(true),
        };
        if changed == 0 {
            return Ok(false);
        }
        // Checked again: the table now against the row now.
        let now = self.reread(pk, sk).await?;
        let row = self.row(client, pk, sk).await?;
        Ok(self.drift(client, &now, row.as_ref()).await?.is_none())
    }
}

/// An item read again: absent, one the mirror cannot hold, or its row as the mirror would
/// hold it.
enum Reread<'m> {
    Absent,
    CannotHold,
    Item(ScannedRow<'m>),
}

/// Throttled scan pages are retried this often (backoff from 100 ms to 20 s).
const THROTTLE_RETRIES: u32 = 10;
