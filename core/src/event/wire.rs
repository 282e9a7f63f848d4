//! The envelope as serde reads it: the record-by-record fallback of the scan, and the types
//! both fill.

use std::borrow::Cow;

use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::EventError;
use super::{
    BatchText, BrokenRecord, ChangeKind, Entry, ImageHook, ImageStore, Keys, KinesisInfo,
    Predecoded, Record, RecordMeta, SequenceNumber, StreamViewType, TimePrecision, Timestamp,
    Transport,
};

#[derive(Deserialize)]
pub(super) struct UserIdentity<'a> {
    #[serde(rename = "type", borrow, default)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow, default)]
    pub(super) principal_id: Option<Cow<'a, str>>,
}

/// An image's JSON text, as read from the event: checked to be JSON by serde_json, or by the
/// image reader (an image decoded by the envelope scan, or skipped by it:
/// `crate::decode::object_len`).
pub(super) struct Image<'a>(pub(super) &'a str);

/// A JSON value's text as read from the event: checked to be JSON by serde_json, or by the
/// envelope scan's reading of a plain number (`scan::json_number_end`). Times are kept as
/// their text until the record is made, where their unit is known.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawJson<'a>(pub(super) &'a str);

impl<'a> RawJson<'a> {
    /// The value's JSON text.
    pub(super) fn get(&self) -> &'a str {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| RawJson(raw.get()))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Image<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(d).map(|raw| Image(raw.get()))
    }
}

#[derive(Deserialize)]
pub(super) struct StreamRecord<'a> {
    #[serde(rename = "ApproximateCreationDateTime", borrow, default)]
    pub(super) approximate_creation_date_time: Option<RawJson<'a>>,
    #[serde(rename = "ApproximateCreationDateTimePrecision", borrow, default)]
    pub(super) approximate_creation_date_time_precision: Option<Cow<'a, str>>,
    #[serde(rename = "Keys", borrow, default)]
    pub(super) keys: Keys<'a>,
    #[serde(rename = "NewImage", borrow, default)]
    pub(super) new_image: Option<Image<'a>>,
    #[serde(rename = "OldImage", borrow, default)]
    pub(super) old_image: Option<Image<'a>>,
    /// Absent on Kinesis, where the Kinesis record's sequence number stands for it; on
    /// DynamoDB Streams a record without one makes the event unreadable ([`reportable`]).
    #[serde(rename = "SequenceNumber", borrow, default)]
    pub(super) sequence_number: Option<Cow<'a, str>>,
    #[serde(rename = "SizeBytes", default)]
    pub(super) size_bytes: SizeBytes,
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
    /// Kinesis Data Streams for DynamoDB's change records name their table.
    #[serde(rename = "tableName", borrow, default)]
    pub(super) table_name: Option<Cow<'a, str>>,
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
    /// Each record's text.
    #[serde(rename = "Records", borrow)]
    pub(super) records: Vec<&'a RawValue>,
}

/// `dynamodb.SizeBytes`, which the project does not use: an integral, non-negative number in
/// any JSON form (`77`, `77.0`, `7.7E1`, `-0`) reads as that integer; anything else (a
/// fraction, a negative number, a string, `null`, a number beyond `u64`) reads as `None` and
/// never fails the record (docs/semantics.md, "Decoding"). Both readers use this one type.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct SizeBytes(pub(super) Option<u64>);

impl SizeBytes {
    /// The value of `SizeBytes`' JSON text: plain digits (what AWS sends) directly, any other
    /// number form through [`Number`](crate::Number).
    pub(super) fn read(text: &str) -> Self {
        if let Ok(n) = text.parse::<u64>() {
            return SizeBytes(Some(n));
        }
        SizeBytes(
            text.parse::<crate::Number>()
                .ok()
                .and_then(|n| u64::try_from(&n).ok()),
        )
    }
}

impl<'de> Deserialize<'de> for SizeBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        Ok(SizeBytes::read(raw.get()))
    }
}

/// What the per-record fallback needs of a record that does not read as a whole: every
/// `dynamodb.SequenceNumber` and `eventName` it holds. Nothing else is looked at, so a record
/// broken anywhere else (a member given twice, a value of the wrong type) still names itself
/// and fails alone.
#[derive(Default)]
pub(super) struct SequenceOnly {
    /// Each `dynamodb.SequenceNumber` found: `None` for one that is not a string.
    sequence_numbers: Vec<Option<String>>,
    /// Each `eventName` found: `None` for one that is not a string.
    event_names: Vec<Option<String>>,
}

impl SequenceOnly {
    /// The record's one sequence number, or why there is none: missing, empty, not a string,
    /// or given twice with different values (then no single record could be reported).
    fn sequence_number(&self) -> Result<&str, &'static str> {
        let mut found: Option<&str> = None;
        for s in &self.sequence_numbers {
            let Some(s) = s.as_deref() else {
                return Err("dynamodb.SequenceNumber is not a string");
            };
            match found {
                Some(f) if f != s => {
                    return Err("dynamodb.SequenceNumber is given twice with different values")
                }
                _ => found = Some(s),
            }
        }
        match found {
            None => Err("dynamodb.SequenceNumber is missing"),
            Some("") => Err("dynamodb.SequenceNumber is empty"),
            Some(s) => Ok(s),
        }
    }

    /// The change kind `eventName` names, when it names one unambiguously.
    fn kind(&self) -> Option<ChangeKind> {
        let mut names = self.event_names.iter();
        let first = names.next()?.as_deref()?;
        names
            .all(|n| n.as_deref() == Some(first))
            .then(|| ChangeKind::parse(first))
            .flatten()
    }
}

/// A member name as its raw bytes: serde_json hands a name with an unpaired surrogate escape
/// over as bytes, where reading it as text would fail (and lose the record's sequence number).
struct Name(Vec<u8>);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Name;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Name, E> {
                Ok(Name(v.as_bytes().to_vec()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Name, E> {
                Ok(Name(v.to_vec()))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A string, or `None` for any other JSON value.
struct MaybeString(Option<String>);

impl<'de> Deserialize<'de> for MaybeString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MaybeString(<&'de RawValue>::deserialize(d).ok().and_then(
            |raw| serde_json::from_str::<String>(raw.get()).ok(),
        )))
    }
}

impl<'de> Deserialize<'de> for SequenceOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};
        struct Outer;
        impl<'de> Visitor<'de> for Outer {
            type Value = SequenceOnly;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a stream record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SequenceOnly, A::Error> {
                let mut out = SequenceOnly::default();
                while let Some(name) = map.next_key::<Name>()? {
                    match &name.0[..] {
                        b"dynamodb" => {
                            let inner: Inner = map.next_value()?;
                            out.sequence_numbers.extend(inner.0);
                        }
                        b"eventName" => out.event_names.push(map.next_value::<MaybeString>()?.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        /// The sequence numbers of one `dynamodb` object (none when it is not an object).
        struct Inner(Vec<Option<String>>);
        impl<'de> Deserialize<'de> for Inner {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Inner;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("the dynamodb object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Inner, A::Error> {
                        let mut out = Vec::new();
                        while let Some(name) = map.next_key::<Name>()? {
                            if name.0 == b"SequenceNumber" {
                                out.push(map.next_value::<MaybeString>()?.0);
                            } else {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                        Ok(Inner(out))
                    }
                }
                let raw = <&'de RawValue>::deserialize(d)?;
                let mut de = serde_json::Deserializer::from_str(raw.get());
                Ok(serde::Deserializer::deserialize_any(&mut de, V).unwrap_or(Inner(Vec::new())))
            }
        }
        d.deserialize_map(Outer)
    }
}

impl<'a> WireRecord<'a> {
    #[inline(always)]
    fn into_record(
        self,
        predecoded: Predecoded,
        texts: &mut BatchText,
        via: Option<&'a super::kinesis::Outer<'_>>,
    ) -> Result<Record<'a>, BrokenRecord> {
        let named = self.event_name.as_deref().and_then(ChangeKind::parse);
        // On Kinesis the Kinesis record's sequence number is the one Lambda's response names;
        // a `dynamodb.SequenceNumber` in the change (there is none from AWS) is not read.
        let (seq, missing) = match (via, self.dynamodb.sequence_number) {
            (Some(outer), _) => (Cow::Borrowed(outer.sequence_number.as_ref()), ""),
            (None, Some(seq)) => (seq, "dynamodb.SequenceNumber is empty"),
            (None, None) => (Cow::Borrowed(""), "dynamodb.SequenceNumber is missing"),
        };
        let broken = |message: String| BrokenRecord {
            sequence_number: seq.to_string(),
            kind: named,
            message,
        };
        if seq.is_empty() {
            return Err(broken(missing.into()));
        }
        let kind = match self.event_name.as_deref() {
            Some(n) => ChangeKind::parse(n).ok_or_else(|| {
                broken(format!(
                    "unknown eventName {n:?} (expected INSERT, MODIFY or REMOVE)"
                ))
            })?,
            None => return Err(broken("missing eventName".into())),
        };
        // Kinesis records name their unit; those written before AWS added the setting carry
        // milliseconds and no name (the Powertools sample), which is what absent means there.
        let precision_name = match (
            self.dynamodb
                .approximate_creation_date_time_precision
                .as_deref(),
            via,
        ) {
            (None, Some(_)) => Some("MILLISECOND"),
            (given, _) => given,
        };
        let time_precision = match precision_name {
            Some("MILLISECOND") => TimePrecision::Millisecond,
            Some("MICROSECOND") => TimePrecision::Microsecond,
            _ => TimePrecision::Second,
        };
        let approximate_creation_time = match self.dynamodb.approximate_creation_date_time {
            None => None,
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => Some(
                Timestamp::from_creation_date_time(raw.get(), precision_name)
                    .map_err(|e| broken(e.to_string()))?,
            ),
        };
        let stream_view_type = self
            .dynamodb
            .stream_view_type
            .as_deref()
            .map(StreamViewType::parse);
        let null = |v: &Option<Image<'a>>| v.as_ref().map(|i| i.0).filter(|json| *json != "null");
        let (new_image, old_image) = (
            null(&self.dynamodb.new_image),
            null(&self.dynamodb.old_image),
        );
        if let Some(missing) = promised_image(kind, stream_view_type.as_ref(), new_image) {
            return Err(broken(missing));
        }
        let ttl_expired = kind == ChangeKind::Remove
            && self.user_identity.as_ref().is_some_and(|u| {
                u.kind.as_deref() == Some("Service")
                    && u.principal_id.as_deref() == Some("dynamodb.amazonaws.com")
            });
        Ok(Record {
            kind,
            keys: self.dynamodb.keys,
            new_image,
            old_image,
            meta: RecordMeta {
                event_id: self.event_id.map(|id| texts.add(&id)),
                sequence_number: SequenceNumber(texts.add(&seq)),
                approximate_creation_time,
                time_precision,
                transport: if via.is_some() {
                    Transport::Kinesis
                } else {
                    Transport::DynamoDbStreams
                },
                size_bytes: self.dynamodb.size_bytes.0,
                stream_view_type,
                ttl_expired,
            },
            // A Kinesis change names no stream of its own: the Kinesis record's ARN and
            // region are the record's.
            event_source_arn: match via {
                Some(outer) => outer.event_source_arn.as_deref().map(Cow::Borrowed),
                None => self.event_source_arn,
            },
            aws_region: match via {
                Some(outer) => self
                    .aws_region
                    .or_else(|| outer.aws_region.as_deref().map(Cow::Borrowed)),
                None => self.aws_region,
            },
            kinesis: via.map(|outer| {
                Box::new(KinesisInfo {
                    table_name: self.table_name,
                    partition_key: outer.partition_key.as_deref().map(Cow::Borrowed),
                    approximate_arrival: outer.approximate_arrival,
                    digest: outer.digest,
                })
            }),
            predecoded,
        })
    }
}

/// The `NewImage` a record's stream view type promises and the record lacks, as the reason it
/// is broken: DynamoDB writes `NewImage` for INSERT and MODIFY under `NEW_IMAGE` and
/// `NEW_AND_OLD_IMAGES` (DynamoDB Developer Guide, "Change data capture for DynamoDB
/// Streams"). Without it the mirror could not write the item and a handler would get a change
/// without it, so the record fails alone in every mode (docs/semantics.md, "Decoding"). A
/// missing `OldImage` is not refused: it reaches the handler as `None`, the same in every
/// mode.
fn promised_image(
    kind: ChangeKind,
    view: Option<&StreamViewType>,
    new_image: Option<&str>,
) -> Option<String> {
    let view = view?;
    let promised = matches!(
        view,
        StreamViewType::NewImage | StreamViewType::NewAndOldImages
    );
    (promised && kind != ChangeKind::Remove && new_image.is_none()).then(|| {
        format!("{kind} record has no NewImage, though its StreamViewType {view} carries one")
    })
}

#[inline]
pub(super) fn entry<'a>(
    wire: WireRecord<'a>,
    predecoded: Predecoded,
    texts: &mut BatchText,
) -> Entry<'a> {
    entry_via(wire, predecoded, texts, None)
}

/// [`entry`] for a record that came by Kinesis (`via`, the Kinesis record around it) or not.
/// Inlined: each record's entry is then built where the batch's vector holds it, not moved
/// there (a few hundred bytes a record).
#[inline(always)]
pub(super) fn entry_via<'a>(
    wire: WireRecord<'a>,
    predecoded: Predecoded,
    texts: &mut BatchText,
    via: Option<&'a super::kinesis::Outer<'_>>,
) -> Entry<'a> {
    match wire.into_record(predecoded, texts, via) {
        Ok(r) => Entry::Record(r),
        Err(b) => Entry::Broken(b),
    }
}

/// One rule for every path (docs/semantics.md, "Decoding"): a record whose `SequenceNumber` is
/// empty cannot have its failure reported (an empty `itemIdentifier` is no record of the
/// batch), so it makes the event unreadable, as a missing one does, whether or not the rest of
/// the record is well-formed.
fn reportable(entries: Vec<Entry<'_>>) -> Result<Vec<Entry<'_>>, EventError> {
    if let Some((index, message)) = entries.iter().enumerate().find_map(|(i, e)| match e {
        Entry::Broken(b) if b.sequence_number.is_empty() => Some((i, b.message.clone())),
        _ => None,
    }) {
        return Err(EventError::NoSequenceNumber { index, message });
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
    // An event with a record that has no sequence number may be another kind of event,
    // which says more than the missing number.
    let reportable = |entries| {
        reportable(entries).map_err(|e| match (&e, other_kind(json)) {
            (EventError::NoSequenceNumber { .. }, Some(found)) => EventError::OtherKind { found },
            _ => e,
        })
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
            message: match e.line() {
                0 => crate::decode::json_problem(json, &e),
                line => format!(
                    "{} at line {line} column {}",
                    crate::decode::json_problem(json, &e),
                    e.column()
                ),
            },
        },
    })?;
    let mut out = Vec::with_capacity(loose.records.len());
    for (index, raw) in loose.records.into_iter().enumerate() {
        match serde_json::from_str::<WireRecord<'_>>(raw.get()) {
            Ok(w) => out.push(entry(w, Predecoded::default(), texts)),
            Err(e) => {
                let found = serde_json::from_str::<SequenceOnly>(raw.get()).unwrap_or_default();
                match found.sequence_number() {
                    Ok(seq) => out.push(Entry::Broken(BrokenRecord {
                        sequence_number: seq.to_string(),
                        kind: found.kind(),
                        message: record_error(json, raw.get(), &e, "event"),
                    })),
                    Err(why) => {
                        return Err(match other_kind(json) {
                            Some(found) => EventError::OtherKind { found },
                            None => EventError::NoSequenceNumber {
                                index,
                                message: format!(
                                    "{why}; {}",
                                    record_error(json, raw.get(), &e, "event")
                                ),
                            },
                        })
                    }
                }
            }
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
    const AS_KINESIS: &str = "it is what Kinesis Data Streams for DynamoDB puts base64-encoded in a Kinesis record's kinesis.data; deliver the Kinesis event around it (eventSource \"aws:kinesis\"), as Lambda does, or replay one (`record` on the Kinesis stream writes them; docs/semantics.md, \"Kinesis Data Streams for DynamoDB\")";
    let Some(records) = v.get("Records").and_then(|r| r.as_array()) else {
        if kinesis_ddb(&v) {
            return Some(format!("a single change record of Kinesis Data Streams for DynamoDB (recordFormat, tableName; no SequenceNumber), not an event: {AS_KINESIS}"));
        }
        if v.get("dynamodb").is_some() || v.get("eventName").is_some() {
            return Some(
                "a single stream record, not an event: wrap it as {\"Records\": [record]}".into(),
            );
        }
        return None;
    };
    let kinesis = |r: &serde_json::Value| {
        r.get("eventSource").and_then(|s| s.as_str()) == Some("aws:kinesis")
            || r.get("kinesis").is_some()
    };
    if !records.is_empty() && records.iter().all(kinesis) {
        return Some("a Kinesis event (eventSource \"aws:kinesis\"): read it with `KinesisEvent` (the router, `replay` and the poller tell the two apart by themselves)".into());
    }
    records.iter().enumerate().find_map(|(i, r)| {
        let source = r.get("eventSource").and_then(|s| s.as_str());
        if source == Some("aws:kinesis") || r.get("kinesis").is_some() {
            Some(format!("record {i} is a Kinesis record (eventSource \"aws:kinesis\") among DynamoDB Streams records: an event holds records of one source"))
        } else if kinesis_ddb(r) {
            Some(format!("record {i} is a change record of Kinesis Data Streams for DynamoDB (recordFormat, tableName; no SequenceNumber): {AS_KINESIS}"))
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
pub(super) fn record_error(event: &str, record: &str, e: &serde_json::Error, of: &str) -> String {
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
    let problem = crate::decode::json_problem(record, e);
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
        out.push_str(&format!(" (line {line}, column {column} of the {of})"));
    }
    out
}
