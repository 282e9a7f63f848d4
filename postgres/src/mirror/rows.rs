//! Stream records → mirror rows: one per item key, the newest record winning.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use dynastream_core::event::{ChangeKind, KeyValue, Record, StreamViewType};

use crate::json::{image_to_json, NUL_REFUSAL};

/// One row of the mirror table, as the upsert sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// The record's position in its batch.
    pub(crate) index: usize,
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) entity: Option<&'static str>,
    pub(crate) schema_version: Option<String>,
    /// The new image as JSON; `None` for a tombstone.
    pub(crate) data: Option<String>,
    pub(crate) seq: String,
    /// The label of the record's stream (from `eventSourceARN`; `""` when it names none).
    pub(crate) stream: Arc<str>,
    pub(crate) event_time: Option<String>,
    pub(crate) deleted: bool,
}

fn key_text(v: &KeyValue<'_>) -> String {
    match v {
        KeyValue::S(s) | KeyValue::N(s) | KeyValue::B(s) => s.to_string(),
    }
}

/// Compares two sequence numbers (decimal digit strings of any length) numerically.
pub(crate) fn cmp_seq(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Orders two rows of one item as the mirror does: by stream label, then sequence number.
pub(crate) fn cmp_position(a: &Row, b: &Row) -> Ordering {
    a.stream
        .cmp(&b.stream)
        .then_with(|| cmp_seq(&a.seq, &b.seq))
}

/// The label of the rows written from Kinesis Data Streams for DynamoDB: after every
/// DynamoDB stream's label (those are creation times, `2026-...`, or `""`), so a Kinesis
/// record outranks a backfilled row and a row from the table's DynamoDB stream
/// (docs/semantics.md, "Kinesis Data Streams for DynamoDB").
pub(crate) const KINESIS_LABEL: &str = "kinesis";

/// A Kinesis record's place among its item's changes, as the `seq` column holds it: the
/// creation time in microseconds, then the change's digest (below 10^20), so
/// `micros * 10^20 + digest`. A time with more digits than microseconds is cut to them (AWS
/// sends milliseconds or microseconds); no time ranks as 0. The digest is the same for every
/// copy of a change, so the row an item converges to is the greatest of its changes whatever
/// the order, count or grouping of deliveries: a total order, fixed per change.
pub(crate) fn kinesis_position(time: Option<dynastream_core::Timestamp>, digest: u64) -> String {
    let micros = time.map_or(0u128, |t| {
        // The reader refuses times after the year 9999; a record built by hand is held to it
        // here, so the product below cannot overflow.
        let secs = u128::try_from(
            t.unix_seconds()
                .clamp(0, dynastream_core::event::LATEST_SECS),
        )
        .unwrap_or(0);
        secs * 1_000_000 + u128::from(t.subsec_nanos() / 1000)
    });
    // u128 holds micros up to the year 9999 (about 2.5e17) times 10^20: 2.5e37 < 3.4e38.
    (micros * 100_000_000_000_000_000_000 + u128::from(digest)).to_string()
}

/// The row for one record of the stream labelled `stream`, or why it cannot be mirrored.
pub(crate) fn row(
    index: usize,
    rec: &Record<'_>,
    entity: Option<&'static str>,
    (pk_attr, sk_attr): (&str, &str),
    version_attr: &str,
    stream: Arc<str>,
) -> Result<Row, String> {
    let position;
    let seq: &str = match &rec.kinesis {
        Some(k) => {
            position = kinesis_position(rec.meta.approximate_creation_time, k.digest);
            &position
        }
        None => &rec.meta.sequence_number,
    };
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "sequence number {seq:?} is not a decimal number; the mirror orders writes by it"
        ));
    }
    let nul_free = |attr: &str, text: String| {
        if text.as_bytes().contains(&0) {
            return Err(format!("Keys.{attr} {NUL_REFUSAL}"));
        }
        Ok(text)
    };
    let pk = match rec.keys.get(pk_attr) {
        Some(v) => nul_free(pk_attr, key_text(v))?,
        None => {
            return Err(format!(
                "Keys has no {pk_attr} attribute (keys: {}); set the mirror's key attributes",
                rec.keys
            ))
        }
    };
    // A stream record's Keys holds exactly the table's key attributes: one attribute means a
    // table with a partition key only, whose rows get the sort key "" (never a real sort key:
    // DynamoDB key strings are never empty).
    let pk_only = rec.keys.len() == 1;
    let sk = match rec.keys.get(sk_attr) {
        Some(v) if !sk_attr.is_empty() => nul_free(sk_attr, key_text(v))?,
        _ if pk_only => String::new(),
        _ if sk_attr.is_empty() => {
            return Err(format!(
                "Keys has more than the partition key {pk_attr} (keys: {}), but the mirror is set for a table with a partition key only",
                rec.keys
            ))
        }
        _ => {
            return Err(format!(
                "Keys has no {sk_attr} attribute (keys: {}); set the mirror's key attributes",
                rec.keys
            ))
        }
    };
    let (data, schema_version, deleted) = match rec.kind {
        ChangeKind::Remove => (None, None, true),
        ChangeKind::Insert | ChangeKind::Modify => {
            let Some(image) = rec.new_image else {
                return Err(no_new_image(rec.kind, rec.meta.stream_view_type.as_ref()));
            };
            // A partition-key-only table's items may hold an ordinary attribute named like
            // the configured sort key attribute: only real key attributes are left out.
            let keys: &[&str] = if pk_only {
                &[pk_attr]
            } else {
                &[pk_attr, sk_attr]
            };
            let j =
                image_to_json(image, keys, version_attr).map_err(|e| format!("NewImage: {e}"))?;
            (Some(j.json), j.schema_version, false)
        }
    };
    Ok(Row {
        index,
        pk,
        sk,
        entity,
        schema_version,
        data,
        seq: seq.to_string(),
        stream,
        event_time: rec.meta.approximate_creation_time.map(|t| t.to_string()),
        deleted,
    })
}

/// The newest row per item key (the upsert may touch each key once per statement), in key
/// order.
pub(crate) fn newest_per_key(rows: &[Row]) -> Vec<&Row> {
    let mut at: HashMap<(&str, &str), usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<&Row> = Vec::with_capacity(rows.len());
    for r in rows {
        match at.get(&(r.pk.as_str(), r.sk.as_str())) {
            Some(&i) => {
                if cmp_position(r, out[i]) == Ordering::Greater {
                    out[i] = r;
                }
            }
            None => {
                at.insert((&r.pk, &r.sk), out.len());
                out.push(r);
            }
        }
    }
    // In key order: two batches written at once (concurrent invocations, one connection
    // each) lock their common rows in the same order, so they cannot deadlock.
    out.sort_unstable_by(|a, b| {
        (a.pk.as_str(), a.sk.as_str()).cmp(&(b.pk.as_str(), b.sk.as_str()))
    });
    out
}

/// The rows of `row`'s item other than `row`, newest first: what the mirror falls back to when
/// the server refuses `row`, so the item still gets its newest state that Postgres can hold.
pub(crate) fn older_rows<'r>(rows: &'r [Row], row: &Row) -> Vec<&'r Row> {
    let mut out: Vec<&Row> = rows
        .iter()
        .filter(|r| r.index != row.index && r.pk == row.pk && r.sk == row.sk)
        .collect();
    out.sort_by(|a, b| cmp_position(b, a));
    out
}

/// Why an INSERT or MODIFY without `NewImage` cannot be mirrored, in the record's terms. (On a
/// stream whose view type carries new images such a record is already broken: the envelope
/// reader refuses it, so it never reaches the mirror.)
fn no_new_image(kind: ChangeKind, view: Option<&StreamViewType>) -> String {
    match view {
        Some(v) => format!(
            "{kind} record has no NewImage: its stream view type is {v}, and the mirror needs NEW_IMAGE or NEW_AND_OLD_IMAGES"
        ),
        None => format!(
            "{kind} record has no NewImage (and names no StreamViewType); the mirror needs a stream view type of NEW_IMAGE or NEW_AND_OLD_IMAGES"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert_eq!(cmp_seq("9", "10"), Ordering::Less);
        assert_eq!(cmp_seq("0010", "10"), Ordering::Equal);
        assert_eq!(
            cmp_seq(
                "49668042349498616591130006826706640584812735489530036226",
                "49668042349498616591130006826706640584812735489530036225"
            ),
            Ordering::Greater
        );
    }

    fn r(pk: &str, seq: &str) -> Row {
        in_stream(pk, "2026-01-01T00:00:00.000", seq)
    }

    fn in_stream(pk: &str, stream: &str, seq: &str) -> Row {
        Row {
            index: seq.parse().unwrap(),
            pk: pk.into(),
            sk: "s".into(),
            entity: None,
            schema_version: None,
            data: None,
            seq: seq.into(),
            stream: stream.into(),
            event_time: None,
            deleted: false,
        }
    }

    #[test]
    fn newest_row_wins_whatever_the_order() {
        let rows = vec![r("a", "9"), r("b", "1"), r("a", "10"), r("a", "2")];
        assert_eq!(newest_per_key(&rows), vec![&r("a", "10"), &r("b", "1")]);
        assert_eq!(
            older_rows(&rows, &rows[2]),
            vec![&r("a", "9"), &r("a", "2")]
        );
    }

    #[test]
    fn a_newer_streams_rows_win_whatever_their_sequence_numbers() {
        let old = in_stream("a", "2025-01-01T00:00:00.000", "900");
        let new = in_stream("a", "2026-01-01T00:00:00.000", "100");
        let unlabelled = in_stream("a", "", "999");
        let rows = vec![new.clone(), old.clone(), unlabelled.clone()];
        assert_eq!(newest_per_key(&rows), vec![&new]);
        assert_eq!(older_rows(&rows, &new), vec![&old, &unlabelled]);
    }
}
