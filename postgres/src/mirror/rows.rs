//! Stream records → mirror rows: one per item key, the newest record winning.

use std::cmp::Ordering;
use std::collections::HashMap;

use dynastream_core::event::{ChangeKind, KeyValue, Record};

use crate::json::image_to_json;

/// One row of the mirror table, as the upsert sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) pk: String,
    pub(crate) sk: String,
    pub(crate) entity: Option<&'static str>,
    pub(crate) schema_version: Option<String>,
    /// The new image as JSON; `None` for a tombstone.
    pub(crate) data: Option<String>,
    pub(crate) seq: String,
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

/// The row for one record, or why it cannot be mirrored.
pub(crate) fn row(
    rec: &Record<'_>,
    entity: Option<&'static str>,
    pk_attr: &str,
    sk_attr: &str,
) -> Result<Row, String> {
    let seq = &rec.meta.sequence_number;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "sequence number {seq:?} is not a decimal number; the mirror orders writes by it"
        ));
    }
    let key = |attr: &str| {
        rec.keys
            .get(attr)
            .map(key_text)
            .ok_or_else(|| format!("Keys has no {attr} attribute (keys: {})", rec.keys))
    };
    let (pk, sk) = (key(pk_attr)?, key(sk_attr)?);
    let (data, schema_version, deleted) = match rec.kind {
        ChangeKind::Remove => (None, None, true),
        ChangeKind::Insert | ChangeKind::Modify => {
            let Some(image) = rec.new_image else {
                return Err(format!(
                    "{} record has no NewImage; the mirror needs a stream view type of NEW_IMAGE or NEW_AND_OLD_IMAGES",
                    rec.kind
                ));
            };
            let j =
                image_to_json(image, &[pk_attr, sk_attr]).map_err(|e| format!("NewImage: {e}"))?;
            (Some(j.json), j.schema_version, false)
        }
    };
    Ok(Row {
        pk,
        sk,
        entity,
        schema_version,
        data,
        seq: seq.to_string(),
        event_time: rec.meta.approximate_creation_time.map(|t| t.to_string()),
        deleted,
    })
}

/// Keeps the newest row per item key (the upsert may touch each key once per statement), in
/// first-seen order.
pub(crate) fn newest_per_key(rows: Vec<Row>) -> Vec<Row> {
    let mut at: HashMap<(String, String), usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for r in rows {
        match at.get(&(r.pk.clone(), r.sk.clone())) {
            Some(&i) => {
                if cmp_seq(&r.seq, &out[i].seq) == Ordering::Greater {
                    out[i] = r;
                }
            }
            None => {
                at.insert((r.pk.clone(), r.sk.clone()), out.len());
                out.push(r);
            }
        }
    }
    out
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
        Row {
            pk: pk.into(),
            sk: "s".into(),
            entity: None,
            schema_version: None,
            data: None,
            seq: seq.into(),
            event_time: None,
            deleted: false,
        }
    }

    #[test]
    fn newest_row_wins_whatever_the_order() {
        let out = newest_per_key(vec![r("a", "9"), r("b", "1"), r("a", "10"), r("a", "2")]);
        assert_eq!(out, vec![r("a", "10"), r("b", "1")]);
    }
}
