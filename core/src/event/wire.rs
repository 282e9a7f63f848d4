//! The envelope as serde reads it: the record-by-record fallback of the scan, and the types
//! both fill.

use std::borrow::Cow;

use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    BatchText, BrokenRecord, ChangeKind, Entry, ImageHook, ImageStore, Keys, Predecoded, Record,
    RecordMeta, SequenceNumber, StreamViewType, Timestamp,
};
use crate::error::EventError;

#[derive(Deserialize)]
pub(super) struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow, default)]
    pub(super) principal_id: Option<Cow<'a, str>>,
}

/// An image's JSON text, as read from the event (serde_json checked it is JSON).
pub(super) struct Image<'a>(pub(super) &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Image<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| Image(raw.get()))
    }
}

#[derive(Deserialize)]
pub(super) struct StreamRecord<'a> {
    #[serde(rename = "ApproximateCreationDateTime", borrow, default)]
    pub(super) approximate_creation_date_time: Option<&'a RawValue>,
    #[serde(rename = "ApproximateCreationDateTimePrecision", borrow, default)]
    pub(super) approximate_creation_date_time_precision: Option<Cow<'a, str>>,
    #[serde(rename = "Keys", borrow, default)]
    pub(super) keys: Keys<'a>,
    #[serde(rename = "NewImage", borrow, default)]
    pub(super) new_image: Option<Image<'a>>,
    #[serde(rename = "OldImage", borrow, default)]
    pub(super) old_image: Option<Image<'a>>,
    #[serde(rename = "SequenceNumber", borrow)]
    pub(super) sequence_number: Cow<'a, str>,
    #[serde(rename = "SizeBytes", default)]
    pub(super) size_bytes: Option<u64>,
    #[serde(rename = "StreamViewType", borrow, default)]
    pub(super) stream_view_type: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(super) struct WireRecord<'a> {
    #[serde(rename = "eventID", borrow, default)]
    pub(super) event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, default)]
    pub(super) event_name: Option<Cow<'a, str>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    pub(super) event_source_arn: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow, default)]
    pub(super) aws_region: Option<Cow<'a, str>>,
    #[serde(rename = "userIdentity", borrow, default)]
    pub(super) user_identity: Option<UserIdentity<'a>>,
    #[serde(borrow)]
    pub(super) dynamodb: StreamRecord<'a>,
}

#[derive(Deserialize)]
pub(super) struct WireEvent<'a> {
    #[serde(rename = "Records", borrow)]
    pub(super) records: Vec<WireRecord<'a>>,
}

#[derive(Deserialize)]
pub(super) struct LooseEvent<'a> {
    #[serde(rename = "Records", borrow)]
    pub(super) records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct SequenceOnly {
    pub(super) dynamodb: SequenceOnlyInner,
    #[serde(rename = "eventName", default)]
    pub(super) event_name: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct SequenceOnlyInner {
    #[serde(rename = "SequenceNumber")]
    pub(super) sequence_number: String,
}

impl<'a> WireRecord<'a> {
    fn into_record(
        self,
        predecoded: Predecoded,
        texts: &mut BatchText,
    ) -> Result<Record<'a>, BrokenRecord> {
        let seq = self.dynamodb.sequence_number;
        let named = self.event_name.as_deref().and_then(ChangeKind::parse);
        let broken = |message: String| BrokenRecord {
            sequence_number: seq.to_string(),
            kind: named,
            message,
        };
        if seq.is_empty() {
            return Err(broken("empty dynamodb.SequenceNumber".into()));
        }
        let kind = match self.event_name.as_deref() {
            Some(n) => ChangeKind::parse(n).ok_or_else(|| {
                broken(format!(
                    "unknown eventName {n:?} (expected INSERT, MODIFY or REMOVE)"
                ))
            })?,
            None => return Err(broken("missing eventName".into())),
        };
        let approximate_creation_time = match self.dynamodb.approximate_creation_date_time {
            None => None,
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => Some(
                Timestamp::from_creation_date_time(
                    raw.get(),
                    self.dynamodb
                        .approximate_creation_date_time_precision
                        .as_deref(),
                )
                .map_err(broken)?,
            ),
        };
        let ttl_expired = kind == ChangeKind::Remove
            && self.user_identity.as_ref().is_some_and(|u| {
                u.kind.as_deref() == Some("Service")
                    && u.principal_id.as_deref() == Some("dynamodb.amazonaws.com")
            });
        let null = |v: Option<Image<'a>>| v.map(|i| i.0).filter(|json| *json != "null");
        Ok(Record {
            kind,
            keys: self.dynamodb.keys,
            new_image: null(self.dynamodb.new_image),
            old_image: null(self.dynamodb.old_image),
            meta: RecordMeta {
                event_id: self.event_id.map(|id| texts.add(&id)),
                sequence_number: SequenceNumber(texts.add(&seq)),
                approximate_creation_time,
                size_bytes: self.dynamodb.size_bytes,
                stream_view_type: self
                    .dynamodb
                    .stream_view_type
                    .as_deref()
                    .map(StreamViewType::parse),
                ttl_expired,
            },
            event_source_arn: self.event_source_arn,
            aws_region: self.aws_region,
            predecoded,
        })
    }
}

pub(super) fn entry<'a>(
    wire: WireRecord<'a>,
    predecoded: Predecoded,
    texts: &mut BatchText,
) -> Entry<'a> {
    match wire.into_record(predecoded, texts) {
        Ok(r) => Entry::Record(r),
        Err(b) => Entry::Broken(b),
    }
}

/// One rule for every path (docs/semantics.md, "Decoding"): a record whose `SequenceNumber` is
/// empty cannot have its failure reported (an empty `itemIdentifier` is no record of the
/// batch), so it makes the event unreadable, as a missing one does, whether or not the rest of
/// the record is well-formed.
fn reportable(entries: Vec<Entry<'_>>) -> Result<Vec<Entry<'_>>, EventError> {
    if let Some(index) = entries
        .iter()
        .position(|e| matches!(e, Entry::Broken(b) if b.sequence_number.is_empty()))
    {
        return Err(EventError::NoSequenceNumber {
            index,
            message: "dynamodb.SequenceNumber is empty".into(),
        });
    }
    Ok(entries)
}

/// [`parse_batch_with`] before the batch's shared text is made (`texts` collects it).
pub(super) fn read_batch<'a>(
    json: &'a [u8],
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
    texts: &mut BatchText,
) -> Result<Vec<Entry<'a>>, EventError> {
    read_batch_by(json, hook, store, texts, true)
}

/// [`read_batch`], with or without the fast scan (the fuzz target compares the two).
pub(crate) fn read_batch_by<'a>(
    json: &'a [u8],
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
    texts: &mut BatchText,
    fast: bool,
) -> Result<Vec<Entry<'a>>, EventError> {
    // UTF-8 is checked once for the whole event, with SIMD; parsing from a str then borrows
    // every raw image without checking it again. Only a failure is checked again, by the
    // standard library, for its message (where the bad byte is).
    let json = match simdutf8::basic::from_utf8(json) {
        Ok(json) => json,
        Err(_) => {
            let message = match std::str::from_utf8(json) {
                Err(e) => format!("not UTF-8: {e}"),
                Ok(_) => "not UTF-8".to_string(),
            };
            return Err(EventError::Unreadable { message });
        }
    };
    // Fast path: the whole batch in one hand-written pass, images decoded on the way.
    if fast {
        if let Some(entries) = super::scan::scan(json, hook, store, texts) {
            return reportable(entries);
        }
    }
    // The whole batch through serde.
    if let Ok(ev) = serde_json::from_str::<WireEvent<'_>>(json) {
        return reportable(
            ev.records
                .into_iter()
                .map(|w| entry(w, Predecoded::default(), texts))
                .collect(),
        );
    }
    // Slow path: isolate the bad records.
    let loose: LooseEvent<'_> = serde_json::from_str(json).map_err(|e| match other_kind(json) {
        Some(found) => EventError::OtherKind { found },
        None => EventError::Unreadable {
            message: e.to_string(),
        },
    })?;
    let mut out = Vec::with_capacity(loose.records.len());
    for (index, raw) in loose.records.into_iter().enumerate() {
        match serde_json::from_str::<WireRecord<'_>>(raw.get()) {
            Ok(w) => out.push(entry(w, Predecoded::default(), texts)),
            Err(e) => match serde_json::from_str::<SequenceOnly>(raw.get()) {
                Ok(s) if !s.dynamodb.sequence_number.is_empty() => {
                    out.push(Entry::Broken(BrokenRecord {
                        sequence_number: s.dynamodb.sequence_number,
                        kind: s
                            .event_name
                            .as_ref()
                            .and_then(|n| n.as_str())
                            .and_then(ChangeKind::parse),
                        message: record_error(json, raw.get(), &e),
                    }))
                }
                _ => {
                    return Err(match other_kind(json) {
                        Some(found) => EventError::OtherKind { found },
                        None => EventError::NoSequenceNumber {
                            index,
                            message: record_error(json, raw.get(), &e),
                        },
                    })
                }
            },
        }
    }
    reportable(out)
}

/// What an event that is not a DynamoDB Streams event is, when it is recognisably something
/// else (asked only once the event failed to read).
fn other_kind(json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let kinesis_ddb = |r: &serde_json::Value| {
        r.get("recordFormat").is_some()
            && r.get("tableName").is_some()
            && r.get("dynamodb").is_some()
    };
    let Some(records) = v.get("Records").and_then(|r| r.as_array()) else {
        if kinesis_ddb(&v) {
            return Some("a single record of Kinesis Data Streams for DynamoDB (recordFormat, tableName; no SequenceNumber), not an event; that delivery is not supported yet (docs/semantics.md, \"Not implemented yet\"): use the table's DynamoDB stream".into());
        }
        if v.get("dynamodb").is_some() || v.get("eventName").is_some() {
            return Some(
                "a single stream record, not an event: wrap it as {\"Records\": [record]}".into(),
            );
        }
        return None;
    };
    records.iter().enumerate().find_map(|(i, r)| {
        let source = r.get("eventSource").and_then(|s| s.as_str());
        if source == Some("aws:kinesis") || r.get("kinesis").is_some() {
            Some(format!("record {i} is a Kinesis Data Streams record (eventSource \"aws:kinesis\", data base64 in kinesis.data), as Kinesis Data Streams for DynamoDB delivers; that delivery is not supported yet (docs/semantics.md, \"Not implemented yet\"): use the table's DynamoDB stream"))
        } else if kinesis_ddb(r) {
            Some(format!("record {i} is a record of Kinesis Data Streams for DynamoDB (recordFormat, tableName; no SequenceNumber); that delivery is not supported yet (docs/semantics.md, \"Not implemented yet\"): use the table's DynamoDB stream"))
        } else {
            match source {
                Some(other) if other != "aws:dynamodb" && r.get("dynamodb").is_none() => {
                    Some(format!("record {i} comes from {other:?}, not \"aws:dynamodb\""))
                }
                _ => None,
            }
        }
    })
}

/// Why one record of `event` (its text `record`, a slice of `event`) does not read: the path of
/// the field at fault, the problem, and where it is in the event (not in the record), e.g.
/// `dynamodb.Keys.val.B: invalid type: null, expected a string (line 17, column 21 of the
/// event)`.
fn record_error(event: &str, record: &str, e: &serde_json::Error) -> String {
    let path = {
        let mut de = serde_json::Deserializer::from_str(record);
        match serde_path_to_error::deserialize::<_, WireRecord<'_>>(&mut de) {
            Err(p) => {
                let path = p.path().to_string();
                (path != ".").then_some(path)
            }
            Ok(_) => None,
        }
    };
    let text = e.to_string();
    let problem = match text.rsplit_once(" at line ") {
        Some((problem, _)) => problem,
        None => &text,
    };
    let mut out = match path {
        Some(p) => format!("{p}: {problem}"),
        None => problem.to_string(),
    };
    // `record` borrows from `event`: its offset gives the line and column in the event.
    let offset = (record.as_ptr() as usize).wrapping_sub(event.as_ptr() as usize);
    if e.line() > 0 && offset <= event.len() {
        let before = &event[..offset];
        let line0 = before.matches('\n').count();
        let col0 = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
        let (line, column) = if e.line() == 1 {
            (line0 + 1, col0 + e.column())
        } else {
            (line0 + e.line(), e.column())
        };
        out.push_str(&format!(" (line {line}, column {column} of the event)"));
    }
    out
}
