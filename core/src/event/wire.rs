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
        let broken = |message: String| BrokenRecord {
            sequence_number: seq.to_string(),
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

/// [`parse_batch_with`] before the batch's shared text is made (`texts` collects it).
pub(super) fn read_batch<'a>(
    json: &'a [u8],
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
    texts: &mut BatchText,
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
    if let Some(entries) = super::scan::scan(json, hook, store, texts) {
        return Ok(entries);
    }
    // The whole batch through serde.
    if let Ok(ev) = serde_json::from_str::<WireEvent<'_>>(json) {
        return Ok(ev
            .records
            .into_iter()
            .map(|w| entry(w, Predecoded::default(), texts))
            .collect());
    }
    // Slow path: isolate the bad records.
    let loose: LooseEvent<'_> = serde_json::from_str(json).map_err(|e| EventError::Unreadable {
        message: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(loose.records.len());
    for (index, raw) in loose.records.into_iter().enumerate() {
        match serde_json::from_str::<WireRecord<'_>>(raw.get()) {
            Ok(w) => out.push(entry(w, Predecoded::default(), texts)),
            Err(e) => match serde_json::from_str::<SequenceOnly>(raw.get()) {
                Ok(s) if !s.dynamodb.sequence_number.is_empty() => {
                    out.push(Entry::Broken(BrokenRecord {
                        sequence_number: s.dynamodb.sequence_number,
                        message: e.to_string(),
                    }))
                }
                _ => {
                    return Err(EventError::NoSequenceNumber {
                        index,
                        message: e.to_string(),
                    })
                }
            },
        }
    }
    Ok(out)
}
