//! Backfill: every item of a table copied into the mirror by a parallel scan, resumable, never
//! over a row the stream wrote.
//!
//! A backfilled row is written at position (the table's current stream label, sequence number
//! 0): earlier than every record of that stream, later than any older stream's. So a stream
//! row — a change, or a tombstone — is never overwritten by a backfill, however the two
//! interleave; a row of an older stream (the table before it was re-created) is. Each page of
//! each segment is one statement: its rows and the segment's cursor together, so a backfill
//! stopped anywhere resumes after the last page it wrote and writes nothing twice that matters
//! (a page written again is a no-op against itself).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dynastream_core::event::StreamArn;
use dynastream_store::{
    to_dynamodb_json, Cursor, RawBody, RawItem, ScanRequest, StoreError, TableInfo, TableScan,
};
use tokio_postgres::Client;

use crate::error::refused_for_data;
use crate::json::image_to_json;
use crate::{sql, MirrorError};

use super::Mirror;

/// How a backfill reads the table. Defaults: 4 segments, eventually consistent reads, pages
/// of 1,000 items, no rate cap, throttling retried 10 times with backoff.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackfillOptions {
    pub(crate) segments: u32,
    pub(crate) consistent: bool,
    pub(crate) page_size: usize,
    pub(crate) max_items_per_second: Option<f64>,
    pub(crate) restart: bool,
    pub(crate) throttle_retries: u32,
    pub(crate) stream_arn: Option<String>,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        BackfillOptions {
            segments: 4,
            consistent: false,
            page_size: 1000,
            max_items_per_second: None,
            restart: false,
            throttle_retries: 10,
            stream_arn: None,
        }
    }
}

impl BackfillOptions {
    /// Options with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Segments read at once (DynamoDB's parallel Scan `TotalSegments`), each on its own
    /// Postgres connection; at least 1. A resumed backfill must use the count it began with.
    pub fn segments(mut self, n: u32) -> Self {
        self.segments = n.max(1);
        self
    }

    /// Strongly consistent reads (twice the read capacity).
    pub fn consistent(mut self, yes: bool) -> Self {
        self.consistent = yes;
        self
    }

    /// Items per Scan page at most (DynamoDB also ends a page at 1 MB); at least 1.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// At most this many items per second over all segments (`None`: as fast as the table
    /// and the database allow; a rate below 0.001 or not finite counts as `None`). A cap on read capacity: an eventually consistent read of an
    /// item up to 4 KB costs half a read capacity unit.
    pub fn max_items_per_second(mut self, rate: Option<f64>) -> Self {
        self.max_items_per_second = rate.filter(|r| r.is_finite() && *r >= 0.001);
        self
    }

    /// Forgets the saved cursors and starts over (the rows already written stay; writing them
    /// again is harmless).
    pub fn restart(mut self, yes: bool) -> Self {
        self.restart = yes;
        self
    }

    /// The table's current stream, for a source that does not name it (an export: it is a
    /// snapshot of the table, not of its stream). Rows are written at that stream's label;
    /// without one, at `""`, earlier than every stream's records.
    pub fn stream_arn(mut self, arn: Option<String>) -> Self {
        self.stream_arn = arn;
        self
    }

    /// How often a throttled page is retried, with exponential backoff from 100 ms up to 20 s,
    /// before the backfill stops (resumable).
    pub fn throttle_retries(mut self, n: u32) -> Self {
        self.throttle_retries = n;
        self
    }
}

/// Where a backfill stands, handed to the progress callback after every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillProgress {
    /// Items read so far, those of earlier runs included.
    pub items: u64,
    /// About how many the table holds (its `ItemCount`), when known.
    pub estimate: Option<u64>,
    /// Segments finished.
    pub segments_done: u32,
    /// Segments in all.
    pub segments: u32,
}

/// An item the mirror could not take (U+0000 in a string, a number beyond `numeric`, a value
/// the server refused): it is not in the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedItem {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// Why.
    pub reason: String,
}

/// What a backfill did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BackfillSummary {
    /// The table read.
    pub table: String,
    /// Items read, those of earlier runs of a resumed backfill included.
    pub items: u64,
    /// Items read by this run.
    pub items_this_run: u64,
    /// Rows this run wrote; the others it read were already held by a stream row (or by
    /// this backfill's own earlier run of the page).
    pub rows_written: u64,
    /// Segments.
    pub segments: u32,
    /// Whether this run continued a stopped one.
    pub resumed: bool,
    /// Whether there was nothing to do: a finished backfill of this table (use
    /// [`BackfillOptions::restart`] to run it again).
    pub already_done: bool,
    /// The stream label the rows were written under (`""`: the table has no stream).
    pub stream_label: String,
    /// How long this run took.
    pub elapsed: Duration,
    /// The items the mirror could not take.
    pub refused: Vec<RefusedItem>,
}

/// One segment's saved state.
struct SegmentState {
    segment: u32,
    cursor: Option<String>,
    done: bool,
}

impl Mirror {
    /// Copies every item of `source` into the mirror: a parallel scan of
    /// [`BackfillOptions::segments`] segments, each page one statement with its segment's
    /// cursor (saved in `dynastream_backfill`, in the mirror's schema), so a stopped backfill
    /// resumes where it stopped. Rows get their entity, schema version and views as stream
    /// rows do, at a position before every record of the table's current stream: a row the
    /// stream wrote is never overwritten, a tombstone stays a tombstone.
    ///
    /// For the handoff, start the stream's consumer (reading from the oldest record,
    /// `TRIM_HORIZON`) before the backfill: every change after the scan read an item is then
    /// in the stream, and its row wins.
    ///
    /// `progress` is called after every page. Errors: the table's key attributes differ from
    /// the mirror's ([`MirrorError::Config`]), the mirror table holds another table, an
    /// unfinished backfill has another segment count, the source or the database failed
    /// ([`MirrorError::Source`], ...) — all resumable.
    pub async fn backfill(
        &self,
        source: &dyn TableScan,
        options: &BackfillOptions,
        progress: &(dyn Fn(BackfillProgress) + Sync),
    ) -> Result<BackfillSummary, MirrorError> {
        let started = Instant::now();
        let info = source
            .describe()
            .await
            .map_err(source_error("DescribeTable"))?;
        let keys = self.check_keys(&info)?;
        let current_label = self
            .source_position(&info, options.stream_arn.as_deref(), Claim::Record)
            .await?;
        // What the saved cursors belong to: the table, and for an export the export itself.
        let identity = source_identity(&info);
        self.connect().await?;
        let control = self.dial_timed().await?;
        let state_sql = BackfillSql::new(&self.config.schema, &self.config.table);
        control
            .batch_execute(&state_sql.create)
            .await
            .map_err(query("creating the backfill state table"))?;
        let mirror_table = self.config.qualified_table();
        if options.restart {
            control
                .execute(&state_sql.forget, &[&mirror_table])
                .await
                .map_err(query("forgetting the saved backfill"))?;
        }
        // Every segment's row in one statement (a stop in between leaves none or all); a
        // backfill already saved keeps its own.
        control
            .execute(
                &state_sql.begin,
                &[
                    &mirror_table,
                    &(options.segments as i32),
                    &identity,
                    &current_label,
                ],
            )
            .await
            .map_err(query("saving the backfill's segments"))?;
        let saved = control
            .query(&state_sql.load, &[&mirror_table])
            .await
            .map_err(query("reading the saved backfill"))?;
        let mut states = Vec::with_capacity(saved.len());
        let (mut items_before, mut resumed) = (0u64, false);
        // A finished backfill is finished whatever segment count is asked for now.
        let finished = saved
            .iter()
            .all(|r| r.try_get::<_, bool>("done").unwrap_or(false));
        for r in &saved {
            let field = |e: tokio_postgres::Error| {
                MirrorError::Config(format!(
                "the saved backfill in dynastream_backfill is not this version's ({e}); start over with --restart"
            ))
            };
            let total: i32 = r.try_get("total_segments").map_err(field)?;
            let saved_source: String = r.try_get("source_table").map_err(field)?;
            let saved_label: String = r.try_get("stream").map_err(field)?;
            if total as u32 != options.segments && !finished {
                return Err(MirrorError::Config(format!(
                    "an unfinished backfill of {mirror_table} (from {saved_source}) was begun with {total} segments: resume it with --segments {total}, or start over with --restart"
                )));
            }
            if saved_source != identity || saved_label != current_label {
                return Err(MirrorError::Config(format!(
                    "the saved backfill of {mirror_table} is of {saved_source} (stream label {saved_label:?}), not of {identity} (stream label {current_label:?}): its cursors do not apply; start over with --restart"
                )));
            }
            let segment: i32 = r.try_get("segment").map_err(field)?;
            let items: i64 = r.try_get("items").map_err(field)?;
            let cursor: Option<String> = r.try_get("cursor").map_err(field)?;
            let done: bool = r.try_get("done").map_err(field)?;
            resumed |= done || cursor.is_some() || items > 0;
            items_before += items as u64;
            states.push(SegmentState {
                segment: segment as u32,
                cursor,
                done,
            });
        }
        if !states.is_empty() && states.iter().all(|s| s.done) {
            return Ok(BackfillSummary {
                table: info.name.clone(),
                items: items_before,
                items_this_run: 0,
                rows_written: 0,
                segments: states.len() as u32,
                resumed: true,
                already_done: true,
                stream_label: current_label,
                elapsed: started.elapsed(),
                refused: Vec::new(),
            });
        }
        if states.len() != options.segments as usize {
            return Err(MirrorError::Config(format!(
                "the saved backfill of {mirror_table} has {} of its {} segments: start over with --restart",
                states.len(),
                options.segments
            )));
        }
        let segments = options.segments;
        let items = AtomicU64::new(items_before);
        let done = AtomicU64::new(states.iter().filter(|s| s.done).count() as u64);
        let written = AtomicU64::new(0);
        let refused = std::sync::Mutex::new(Vec::new());
        let report = || {
            progress(BackfillProgress {
                items: items.load(Ordering::Relaxed),
                estimate: info.item_count,
                segments_done: done.load(Ordering::Relaxed) as u32,
                segments,
            })
        };
        report();
        let run = Segments {
            mirror: self,
            source,
            options,
            keys: (&keys.0, &keys.1),
            label: &current_label,
            sql: &state_sql,
            mirror_table: &mirror_table,
            items: &items,
            done: &done,
            written: &written,
            refused: &refused,
            report: &report,
            started,
        };
        let workers = states
            .into_iter()
            .filter(|s| !s.done)
            .map(|s| run.segment(s));
        for result in futures_util::future::join_all(workers).await {
            result?;
        }
        let total = items.load(Ordering::Relaxed);
        Ok(BackfillSummary {
            table: info.name.clone(),
            items: total,
            items_this_run: total - items_before,
            rows_written: written.load(Ordering::Relaxed),
            segments,
            resumed,
            already_done: false,
            stream_label: current_label,
            elapsed: started.elapsed(),
            refused: refused.into_inner().unwrap_or_else(|p| p.into_inner()),
        })
    }

    /// The position label the rows read from `info`'s table get (its current stream's label, or
    /// `stream_arn`'s when the source names none; `""` without either), after checking that the
    /// mirror table holds this table — recording it when it holds none yet and `claim` says so.
    pub(crate) async fn source_position(
        &self,
        info: &TableInfo,
        stream_arn: Option<&str>,
        claim: Claim,
    ) -> Result<String, MirrorError> {
        if let Some(arn) = &info.arn {
            let table = StreamArn::parse(arn).map_or(arn.as_str(), |a| a.table);
            let held = match claim {
                Claim::Record => Some(self.claim_source(table).await?.to_string()),
                Claim::CheckOnly => self.held_source().await?,
            };
            if let Some(held) = held.filter(|h| h != table) {
                return Err(MirrorError::Config(format!(
                    "mirror table {} holds {held}, not {table}: give that table a mirror table of its own (--mirror-table), or read the table this one holds (to point this mirror table at another table, delete its row from dynastream_sources, and usually its rows)",
                    self.config.qualified_table()
                )));
            }
        }
        Ok(info
            .latest_stream_arn
            .as_deref()
            .or(stream_arn)
            .and_then(StreamArn::parse)
            .and_then(|a| a.label)
            .unwrap_or("")
            .to_string())
    }

    /// The table's key attribute names, checked against the mirror's: `(pk, sk)`, `sk` empty
    /// for a table with a partition key only.
    pub(crate) fn check_keys(&self, info: &TableInfo) -> Result<(String, String), MirrorError> {
        let (pk, sk) = self.key_attributes();
        let Some((tpk, tsk)) = info.key_attributes.clone() else {
            return Ok((pk.to_string(), sk.to_string()));
        };
        if tpk != pk || (!tsk.is_empty() && tsk != sk) {
            return Err(MirrorError::Config(format!(
                "table {} has the key attributes {tpk:?} / {tsk:?}, but the mirror is set for {pk:?} / {sk:?}: set the mirror's key attributes (--pk-attr, --sk-attr)",
                info.name
            )));
        }
        Ok((tpk, tsk))
    }

    /// A scanned item as a row: (pk, sk, entity, schema_version, data), or why the mirror
    /// cannot take it.
    pub(crate) fn scanned_row(
        &self,
        item: &RawItem,
        (pk_attr, sk_attr): (&str, &str),
    ) -> Result<ScannedRow<'_>, String> {
        let nul = |what: &str, text: &str| {
            if text.as_bytes().contains(&0) {
                Err(format!("{what} {}", crate::json::NUL_REFUSAL))
            } else {
                Ok(())
            }
        };
        nul(pk_attr, &item.pk)?;
        nul(sk_attr, &item.sk)?;
        let entity = self.entity_of(pk_attr, sk_attr, &item.pk, &item.sk);
        let version_attr = self.version_attr(entity);
        // DynamoDB JSON, the keys left out (the sort key too unless there is none); or the
        // Postgres store's data as it is.
        let dynamodb_json = match &item.body {
            RawBody::Attributes(attrs) => std::borrow::Cow::Owned(to_dynamodb_json(attrs)),
            RawBody::DynamoDbJson(text) => std::borrow::Cow::Borrowed(text.as_str()),
            RawBody::Json(text) => {
                let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                let sv = v
                    .get(version_attr)
                    .and_then(|s| s.as_str())
                    .map(str::to_string);
                return Ok(ScannedRow {
                    pk: item.pk.clone(),
                    sk: item.sk.clone(),
                    entity,
                    schema_version: sv,
                    data: text.clone(),
                });
            }
        };
        let both = [pk_attr, sk_attr];
        let skip = if sk_attr.is_empty() {
            &both[..1]
        } else {
            &both[..]
        };
        let j = image_to_json(&dynamodb_json, skip, version_attr)?;
        let (data, schema_version) = (j.json, j.schema_version);
        Ok(ScannedRow {
            pk: item.pk.clone(),
            sk: item.sk.clone(),
            entity,
            schema_version,
            data,
        })
    }
}

/// A scanned item ready to write.
pub(crate) struct ScannedRow<'m> {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) entity: Option<&'m str>,
    pub(crate) schema_version: Option<String>,
    pub(crate) data: String,
}

pub(crate) fn source_error(operation: &'static str) -> impl Fn(StoreError) -> MirrorError {
    move |source| MirrorError::Source {
        operation,
        source: Box::new(source),
    }
}

pub(crate) fn query(what: &'static str) -> impl Fn(tokio_postgres::Error) -> MirrorError {
    move |source| MirrorError::Query {
        what: what.to_string(),
        source,
    }
}

/// What a backfill's saved cursors belong to: the table's ARN (else name) and, for an export,
/// the export.
fn source_identity(info: &TableInfo) -> String {
    let table = info.arn.as_deref().unwrap_or(&info.name);
    match &info.export {
        Some(export) => format!("{table} (export {export})"),
        None => table.to_string(),
    }
}

/// Whether a reader of the table may record it as the mirror table's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// A backfill: the table it copies is the one the mirror holds from now on.
    Record,
    /// A verify: checks only, records nothing.
    CheckOnly,
}

/// One page of a scan, throttling retried `retries` times with exponential backoff from
/// 100 ms up to 20 s (after the SDK's own retries).
pub(crate) async fn page_with_backoff(
    source: &dyn TableScan,
    request: ScanRequest,
    retries: u32,
) -> Result<dynastream_store::ScanPage, MirrorError> {
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match source.scan_page(request.clone()).await {
            Ok(p) => return Ok(p),
            Err(StoreError::Throttled { .. }) if attempt < retries => {
                attempt += 1;
                tracing::warn!(
                    segment = request.segment,
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    "scan throttled; backing off"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(20));
            }
            Err(e) => {
                return Err(MirrorError::Source {
                    operation: "Scan",
                    source: Box::new(e),
                })
            }
        }
    }
}

/// The statements of a backfill.
pub(crate) struct BackfillSql {
    create: String,
    forget: String,
    load: String,
    begin: String,
    page: String,
}

impl BackfillSql {
    fn new(schema: &str, table: &str) -> Self {
        let state = sql::qualified(schema, "dynastream_backfill");
        let t = sql::qualified(schema, table);
        BackfillSql {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {state} (
    mirror_table text NOT NULL,
    segment integer NOT NULL,
    total_segments integer NOT NULL,
    source_table text NOT NULL,
    stream text COLLATE \"C\" NOT NULL,
    cursor text,
    items bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mirror_table, segment)
);
COMMENT ON TABLE {state} IS 'dynastream: each backfill segment''s cursor, saved with the rows of every page, so a stopped backfill resumes'"
            ),
            forget: format!("DELETE FROM {state} WHERE mirror_table = $1"),
            load: format!(
                "SELECT segment, total_segments, source_table, stream, cursor, items, done FROM {state} WHERE mirror_table = $1 ORDER BY segment"
            ),
            begin: format!(
                "INSERT INTO {state} (mirror_table, segment, total_segments, source_table, stream)
SELECT $1, s, $2, $3, $4 FROM generate_series(0, $2 - 1) AS s
WHERE NOT EXISTS (SELECT 1 FROM {state} WHERE mirror_table = $1)"
            ),
            // The rows and the cursor in one statement: both or neither.
            page: format!(
                "WITH written AS (
    INSERT INTO {t} AS cur (pk, sk, entity, schema_version, data, seq, event_time, deleted, mirrored_at, stream)
    SELECT u.pk, u.sk, u.entity, u.sv, u.data::jsonb, 0, NULL, false, now(), $6
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(pk, sk, entity, sv, data)
    ON CONFLICT (pk, sk) DO UPDATE SET
        entity = EXCLUDED.entity, schema_version = EXCLUDED.schema_version, data = EXCLUDED.data,
        seq = EXCLUDED.seq, event_time = EXCLUDED.event_time, deleted = false,
        mirrored_at = EXCLUDED.mirrored_at, stream = EXCLUDED.stream
    WHERE (cur.stream, cur.seq) <= (EXCLUDED.stream, EXCLUDED.seq)
    RETURNING 1
)
UPDATE {state} SET cursor = $9, items = items + $10, done = $11, updated_at = now()
WHERE mirror_table = $7 AND segment = $8
RETURNING (SELECT count(*) FROM written)"
            ),
        }
    }
}

/// What every segment's worker shares.
struct Segments<'a, R: Fn()> {
    mirror: &'a Mirror,
    source: &'a dyn TableScan,
    options: &'a BackfillOptions,
    keys: (&'a str, &'a str),
    label: &'a str,
    sql: &'a BackfillSql,
    mirror_table: &'a str,
    items: &'a AtomicU64,
    done: &'a AtomicU64,
    written: &'a AtomicU64,
    refused: &'a std::sync::Mutex<Vec<RefusedItem>>,
    report: &'a R,
    started: Instant,
}

impl<R: Fn()> Segments<'_, R> {
    async fn segment(&self, state: SegmentState) -> Result<(), MirrorError> {
        let client = self.mirror.dial_timed().await?;
        let page_sql = client
            .prepare(&self.sql.page)
            .await
            .map_err(query("preparing the backfill's page statement"))?;
        let mut start = match &state.cursor {
            Some(text) => Some(Cursor::from_text(text).map_err(|e| {
                MirrorError::Config(format!(
                    "segment {} of the saved backfill has a cursor this version cannot read ({e}); start over with --restart",
                    state.segment
                ))
            })?),
            None => None,
        };
        let mut read_here = 0u64;
        let mut at = state.cursor.clone();
        loop {
            let page = self.page(state.segment, start.take()).await?;
            let next_text = page.next.as_ref().map(Cursor::to_text);
            let finished = page.next.is_none();
            let mut rows = Vec::with_capacity(page.items.len());
            for item in &page.items {
                match self.mirror.scanned_row(item, self.keys) {
                    Ok(r) => rows.push(r),
                    Err(reason) => self.refuse(&item.pk, &item.sk, reason),
                }
            }
            let n = page.items.len() as u64;
            let written = self
                .write_page(
                    &client,
                    &page_sql,
                    &rows,
                    (at.as_deref(), next_text.as_deref()),
                    n,
                    finished,
                    state.segment,
                )
                .await?;
            at = next_text;
            self.written.fetch_add(written, Ordering::Relaxed);
            self.items.fetch_add(n, Ordering::Relaxed);
            read_here += n;
            if finished {
                self.done.fetch_add(1, Ordering::Relaxed);
            }
            (self.report)();
            if finished {
                return Ok(());
            }
            start = page.next;
            self.pace(read_here).await;
        }
    }

    /// Sleeps as long as needed to keep this segment at its share of the rate cap.
    async fn pace(&self, read_here: u64) {
        let Some(rate) = self.options.max_items_per_second else {
            return;
        };
        let share = rate / f64::from(self.options.segments);
        let Ok(due) = Duration::try_from_secs_f64(read_here as f64 / share) else {
            return;
        };
        let elapsed = self.started.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }

    /// One page of the scan, throttling retried with backoff.
    async fn page(
        &self,
        segment: u32,
        start: Option<Cursor>,
    ) -> Result<dynastream_store::ScanPage, MirrorError> {
        let request = ScanRequest {
            segment,
            total_segments: self.options.segments,
            consistent: self.options.consistent,
            page_size: self.options.page_size,
            start,
        };
        page_with_backoff(self.source, request, self.options.throttle_retries).await
    }

    fn refuse(&self, pk: &str, sk: &str, reason: String) {
        tracing::warn!(pk, sk, %reason, "backfill: the mirror cannot take this item");
        if let Ok(mut r) = self.refused.lock() {
            r.push(RefusedItem {
                pk: pk.to_string(),
                sk: sk.to_string(),
                reason,
            });
        }
    }

    /// Writes a page's rows with the segment's new cursor; rows the server refuses for their
    /// data are found by writing them one at a time, and refused alone.
    #[allow(clippy::too_many_arguments)]
    async fn write_page(
        &self,
        client: &Client,
        statement: &tokio_postgres::Statement,
        rows: &[ScannedRow<'_>],
        (before, after): (Option<&str>, Option<&str>),
        items: u64,
        finished: bool,
        segment: u32,
    ) -> Result<u64, MirrorError> {
        // `whole`: the page is written with this statement, so the cursor moves past it (and
        // the segment may be done); otherwise the cursor stays where the page began.
        let at = Position {
            before,
            after,
            items: items as i64,
            segment: segment as i32,
            finished,
        };
        let (label, table) = (self.label, self.mirror_table);
        let all: Vec<&ScannedRow<'_>> = rows.iter().collect();
        match at
            .write(&all, true)
            .send(client, statement, label, table)
            .await
        {
            Ok(row) => return Ok(row.get::<_, i64>(0) as u64),
            Err(e) if !refused_for_data(&e) => {
                return Err(MirrorError::Query {
                    what: format!(
                        "writing {} backfilled rows of segment {segment} (its cursor stays at {}) to {}",
                        rows.len(),
                        before.unwrap_or("the segment's start"),
                        crate::conn::target(&self.mirror.config.pg)
                    ),
                    source: e,
                })
            }
            Err(_) => {}
        }
        // One at a time; the cursor moves with the last one.
        let mut written = 0;
        for (i, row) in all.iter().enumerate() {
            let last = i + 1 == all.len();
            match at
                .write(&[*row], last)
                .send(client, statement, label, table)
                .await
            {
                Ok(r) => written += r.get::<_, i64>(0) as u64,
                Err(e) if refused_for_data(&e) => {
                    self.refuse(
                        &row.pk,
                        &row.sk,
                        format!("Postgres refused its row: {}", crate::describe(&e)),
                    );
                    if last {
                        at.write(&[], true)
                            .send(client, statement, label, table)
                            .await
                            .map_err(query("saving the backfill's cursor"))?;
                    }
                }
                Err(e) => {
                    return Err(MirrorError::Query {
                        what: format!(
                            "writing the backfilled row of item (pk {:?}, sk {:?}) of segment {segment}",
                            row.pk, row.sk
                        ),
                        source: e,
                    })
                }
            }
        }
        Ok(written)
    }
}

/// Where a page leaves its segment.
#[derive(Clone, Copy)]
struct Position<'r> {
    before: Option<&'r str>,
    after: Option<&'r str>,
    items: i64,
    segment: i32,
    finished: bool,
}

impl<'r> Position<'r> {
    /// The statement's parameters for `rows`. `whole`: the page is written with this
    /// statement, so the cursor moves past it (and the segment may be done); otherwise the
    /// cursor stays where the page began.
    fn write(self, rows: &[&'r ScannedRow<'r>], whole: bool) -> PageWrite<'r> {
        PageWrite {
            pk: rows.iter().map(|r| r.pk.as_str()).collect(),
            sk: rows.iter().map(|r| r.sk.as_str()).collect(),
            entity: rows.iter().map(|r| r.entity).collect(),
            sv: rows.iter().map(|r| r.schema_version.as_deref()).collect(),
            data: rows.iter().map(|r| r.data.as_str()).collect(),
            items: if whole { self.items } else { 0 },
            segment: self.segment,
            cursor: if whole { self.after } else { self.before },
            finished: whole && self.finished,
        }
    }
}

/// One page statement's parameters.
struct PageWrite<'r> {
    pk: Vec<&'r str>,
    sk: Vec<&'r str>,
    entity: Vec<Option<&'r str>>,
    sv: Vec<Option<&'r str>>,
    data: Vec<&'r str>,
    items: i64,
    segment: i32,
    cursor: Option<&'r str>,
    finished: bool,
}

impl PageWrite<'_> {
    async fn send(
        self,
        client: &Client,
        statement: &tokio_postgres::Statement,
        label: &str,
        mirror_table: &str,
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
            &self.pk,
            &self.sk,
            &self.entity,
            &self.sv,
            &self.data,
            &label,
            &mirror_table,
            &self.segment,
            &self.cursor,
            &self.items,
            &self.finished,
        ];
        client.query_one(statement, &params).await
    }
}
