//! Kinesis Data Streams for DynamoDB, as Lambda delivers it: a Kinesis event whose records
//! carry a DynamoDB change record base64-encoded in `kinesis.data`.
//!
//! The event is read in two steps. [`KinesisEvent::decode`] reads the Kinesis envelope of
//! every record (its sequence number, the stream's ARN, the partition key) and decodes each
//! record's `data` into one buffer; [`KinesisEvent::entries`] then reads each change from
//! that buffer exactly as a DynamoDB Streams record is read (the same scan, the same serde
//! fallback, images decoded in the same pass), with the Kinesis sequence number standing for
//! `dynamodb.SequenceNumber`, which these change records do not have
//! (docs/semantics.md, "Kinesis Data Streams for DynamoDB").

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;
use serde::Deserialize;

use super::wire::{entry_via, LooseEvent, RawJson, WireRecord};
use super::{BatchText, BrokenRecord, Entry, EventError, ImageHook, ImageStore, Timestamp};

/// One Kinesis record's envelope, owned by the [`KinesisEvent`] the change borrows from.
#[derive(Debug)]
pub(crate) struct Outer<'a> {
    /// `kinesis.sequenceNumber`: what the batch response names.
    pub(crate) sequence_number: Cow<'a, str>,
    /// `eventSourceARN`: the Kinesis stream's ARN.
    pub(crate) event_source_arn: Option<Cow<'a, str>>,
    /// `awsRegion`.
    pub(crate) aws_region: Option<Cow<'a, str>>,
    /// `kinesis.partitionKey`.
    pub(crate) partition_key: Option<Cow<'a, str>>,
    /// `kinesis.approximateArrivalTimestamp`.
    pub(crate) approximate_arrival: Option<Timestamp>,
    /// [`digest`] of the decoded `data`.
    pub(crate) digest: u64,
    /// Where the decoded `data` is in [`KinesisEvent::text`], or why it cannot be read.
    payload: Result<Range<usize>, String>,
}

/// One Kinesis record's envelope as read from the event (by the scan, or by serde).
#[derive(Debug, Default)]
pub(super) struct KinesisWire<'a> {
    pub(super) sequence_number: Option<Cow<'a, str>>,
    pub(super) data: Option<Cow<'a, str>>,
    pub(super) partition_key: Option<Cow<'a, str>>,
    pub(super) arrival: Option<RawJson<'a>>,
    pub(super) event_source_arn: Option<Cow<'a, str>>,
    pub(super) aws_region: Option<Cow<'a, str>>,
}

/// A Kinesis event of DynamoDB change records, its `data` decoded (see the module docs); it
/// borrows the envelopes' text from the event.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use base64::Engine as _;
/// use dynastream::event::{Entry, KinesisEvent, Transport};
///
/// let change = r#"{"eventID":"e1","eventName":"INSERT","tableName":"app","recordFormat":"application/json",
///     "dynamodb":{"ApproximateCreationDateTime":1763200000123456,"ApproximateCreationDateTimePrecision":"MICROSECOND",
///     "Keys":{"PK":{"S":"a"},"SK":{"S":"b"}},"NewImage":{"PK":{"S":"a"},"SK":{"S":"b"},"n":{"N":"1"}},"SizeBytes":30},
///     "eventSource":"aws:dynamodb"}"#;
/// let data = base64::engine::general_purpose::STANDARD.encode(change);
/// let event = format!(r#"{{"Records":[{{"kinesis":{{"sequenceNumber":"4965","partitionKey":"K","data":"{data}"}},
///     "eventSource":"aws:kinesis","eventSourceARN":"arn:aws:kinesis:eu-west-1:1:stream/s"}}]}}"#);
/// assert!(KinesisEvent::is_kinesis(event.as_bytes()));
/// let kinesis = KinesisEvent::decode(event.as_bytes()).unwrap();
/// let entries = kinesis.entries().unwrap();
/// let Entry::Record(r) = &entries[0] else { panic!() };
/// assert_eq!(&*r.meta.sequence_number, "4965");
/// assert_eq!(r.meta.transport, Transport::Kinesis);
/// assert_eq!(r.meta.approximate_creation_time.unwrap().to_string(), "2025-11-15T09:46:40.123456Z");
/// assert_eq!(r.keys.s("PK"), Some("a"));
/// ```
#[derive(Debug)]
pub struct KinesisEvent<'a> {
    /// Every record's decoded `data`, one after the other (each checked to be UTF-8 when it
    /// is read).
    text: Vec<u8>,
    records: Vec<Outer<'a>>,
}

#[derive(Deserialize)]
struct WireKinesis<'a> {
    #[serde(rename = "sequenceNumber", borrow)]
    sequence_number: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
    #[serde(rename = "partitionKey", borrow, default)]
    partition_key: Option<Cow<'a, str>>,
    #[serde(rename = "approximateArrivalTimestamp", borrow, default)]
    approximate_arrival_timestamp: Option<RawJson<'a>>,
}

#[derive(Deserialize)]
struct WireKinesisRecord<'a> {
    #[serde(borrow)]
    kinesis: WireKinesis<'a>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    event_source_arn: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow, default)]
    aws_region: Option<Cow<'a, str>>,
}

/// What is read of a Kinesis record that does not read whole: its sequence number alone.
#[derive(Deserialize)]
struct SequenceOnly<'a> {
    #[serde(borrow)]
    kinesis: SequenceOnlyInner<'a>,
}

#[derive(Deserialize)]
struct SequenceOnlyInner<'a> {
    #[serde(rename = "sequenceNumber", borrow)]
    sequence_number: Cow<'a, str>,
}

/// The digest of a change as sent: XXH3-64 with seed 0, a function fixed by its specification
/// (the same digest on every machine, build and version), so the order it breaks ties with is
/// the same on every delivery. (FNV-1a, a byte at a time, cost a third of the whole Kinesis
/// path on the benchmark batch.)
pub(crate) fn digest(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

impl<'a> KinesisEvent<'a> {
    /// Whether `json` is a Kinesis event: its first record has a `kinesis` member or
    /// `eventSource` `"aws:kinesis"`. Reads only up to that record, so it costs nothing on a
    /// DynamoDB Streams event; an event that is not JSON is not a Kinesis event.
    pub fn is_kinesis(json: &[u8]) -> bool {
        // The first record is read from the event's first few kilobytes; only when it is
        // longer is the rest looked at.
        const HEAD: usize = 4096;
        let head = &json[..json.len().min(HEAD)];
        let head = match std::str::from_utf8(head) {
            Ok(s) => s,
            // A cut through a multi-byte character: up to it.
            Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        };
        match super::scan::first_record_is_kinesis(head) {
            Some(answer) => answer,
            None if json.len() > head.len() => simdutf8::basic::from_utf8(json)
                .ok()
                .and_then(super::scan::first_record_is_kinesis)
                .unwrap_or(false),
            None => false,
        }
    }

    /// Reads the Kinesis envelope of every record and decodes its `data`.
    ///
    /// A record whose `data` is not base64, not UTF-8 text or missing fails alone later (its
    /// entry is [`Entry::Broken`] naming `kinesis.data`); an event that is not a JSON object
    /// with a `Records` array, or a record without a readable `kinesis.sequenceNumber` (its
    /// failure could not be reported), is an [`EventError`].
    pub fn decode(json: &'a [u8]) -> Result<Self, EventError> {
        Self::decode_by(json, true)
    }

    /// [`KinesisEvent::decode`], with or without the envelope scan (the fuzz target compares
    /// the two).
    pub(crate) fn decode_by(json: &'a [u8], fast: bool) -> Result<Self, EventError> {
        let json = simdutf8::basic::from_utf8(json).map_err(|_| EventError::Unreadable {
            message: match std::str::from_utf8(json) {
                Err(e) => format!("not UTF-8: {e}"),
                Ok(_) => "not UTF-8".to_string(),
            },
        })?;
        // The envelopes in one hand-written pass; anything it does not expect goes to serde,
        // record by record, which names what is wrong.
        let wires: Vec<Result<KinesisWire<'a>, (String, String)>> =
            match super::scan::scan_kinesis(json).filter(|_| fast) {
                Some(w) => w.into_iter().map(Ok).collect(),
                None => Self::read_by_serde(json)?,
            };
        let mut text: Vec<u8> = Vec::with_capacity(json.len() / 4 * 3);
        let mut records = Vec::with_capacity(wires.len());
        for (index, wire) in wires.into_iter().enumerate() {
            let w = match wire {
                Ok(w) => w,
                Err((seq, why)) => {
                    records.push(Outer {
                        sequence_number: Cow::Owned(seq),
                        event_source_arn: None,
                        aws_region: None,
                        partition_key: None,
                        approximate_arrival: None,
                        digest: 0,
                        payload: Err(why),
                    });
                    continue;
                }
            };
            let seq = w.sequence_number.unwrap_or_default();
            if seq.is_empty() {
                return Err(EventError::NoSequenceNumber {
                    index,
                    message: "kinesis.sequenceNumber is empty".into(),
                });
            }
            let start = text.len();
            let payload = match w.data.as_deref() {
                None => Err("kinesis.data is missing".to_string()),
                // Decoded straight into the event's buffer, with SIMD (base64-simd, which the
                // AWS SDK uses too: the base64 crate's decoder was half of the Kinesis path's
                // own cost); only a failure is decoded again, for the base64 crate's message.
                Some(data) => match base64_simd::STANDARD.decode_append(data.as_bytes(), &mut text)
                {
                    Err(_) => {
                        text.truncate(start);
                        // A control character is no JSON string: the event is unreadable, as
                        // serde would find (the scan takes the text between the quotes).
                        // (An escaped one, `\n`, is JSON: that record fails alone.)
                        if matches!(w.data, Some(Cow::Borrowed(_)))
                            && data.bytes().any(|b| b < 0x20)
                        {
                            return Err(EventError::Unreadable {
                                message: format!("record {index}: kinesis.data holds a control character, which JSON strings cannot"),
                            });
                        }
                        let why = base64::engine::general_purpose::STANDARD
                            .decode(data.as_bytes())
                            .err()
                            .map_or_else(|| "not canonical".to_string(), |e| e.to_string());
                        Err(format!("kinesis.data is not base64: {why}"))
                    }
                    Ok(()) => Ok(start..text.len()),
                },
            };
            records.push(Outer {
                sequence_number: seq,
                event_source_arn: w.event_source_arn,
                aws_region: w.aws_region,
                partition_key: w.partition_key,
                approximate_arrival: w
                    .arrival
                    .and_then(|t| Timestamp::from_epoch_seconds_text(t.get())),
                digest: payload.as_ref().map_or(0, |r| digest(&text[r.clone()])),
                payload,
            });
        }
        Ok(KinesisEvent { text, records })
    }

    /// Every record's envelope by serde, one record at a time: a record that does not read
    /// is `Err((its sequence number, why))`, or makes the event unreadable when even its
    /// sequence number does not read.
    #[allow(clippy::type_complexity)]
    fn read_by_serde(
        json: &'a str,
    ) -> Result<Vec<Result<KinesisWire<'a>, (String, String)>>, EventError> {
        let loose: LooseEvent<'_> =
            serde_json::from_str(json).map_err(|e| EventError::Unreadable {
                message: format!("Kinesis event: {e}"),
            })?;
        let mut out = Vec::with_capacity(loose.records.len());
        for (index, raw) in loose.records.into_iter().enumerate() {
            match serde_json::from_str::<WireKinesisRecord<'_>>(raw.get()) {
                Ok(w) => out.push(Ok(KinesisWire {
                    sequence_number: Some(w.kinesis.sequence_number),
                    data: w.kinesis.data,
                    partition_key: w.kinesis.partition_key,
                    arrival: w.kinesis.approximate_arrival_timestamp,
                    event_source_arn: w.event_source_arn,
                    aws_region: w.aws_region,
                })),
                Err(e) => {
                    let seq = serde_json::from_str::<SequenceOnly<'_>>(raw.get())
                        .ok()
                        .map(|s| s.kinesis.sequence_number)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            // A change record where a Kinesis record belongs says so.
                            let bare = serde_json::from_str::<serde_json::Value>(raw.get())
                                .is_ok_and(|v| v.get("dynamodb").is_some() && v.get("kinesis").is_none());
                            match bare {
                                true => EventError::OtherKind {
                                    found: format!("record {index} is a DynamoDB change record, not a Kinesis record: in a Kinesis event each change is base64 in a Kinesis record's kinesis.data"),
                                },
                                false => EventError::NoSequenceNumber {
                                    index,
                                    message: format!("kinesis.sequenceNumber: {e}"),
                                },
                            }
                        })?;
                    let mut de = serde_json::Deserializer::from_str(raw.get());
                    let why =
                        match serde_path_to_error::deserialize::<_, WireKinesisRecord<'_>>(&mut de)
                        {
                            Err(p) if p.path().to_string() != "." => {
                                format!("{}: {}", p.path(), p.inner())
                            }
                            _ => format!("Kinesis record: {e}"),
                        };
                    out.push(Err((seq.into_owned(), why)));
                }
            }
        }
        Ok(out)
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the event has no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record's change, in the event's order: readable, or broken on its own (a `data`
    /// that is no DynamoDB change record says so, naming the field).
    pub fn entries(&self) -> Result<Vec<Entry<'_>>, EventError> {
        Ok(self.entries_with(None, &mut ImageStore::default()))
    }

    /// [`KinesisEvent::entries`], decoding images in the same pass where `hook` can.
    pub(crate) fn entries_with(
        &self,
        hook: Option<&dyn ImageHook>,
        store: &mut ImageStore,
    ) -> Vec<Entry<'_>> {
        let mut texts = BatchText::new();
        let mut entries = self.read(hook, store, &mut texts, true);
        texts.finish(&mut entries);
        entries
    }

    /// [`KinesisEvent::entries_with`] before the shared text is made, with or without the fast
    /// scan (the fuzz target compares the two).
    pub(crate) fn read(
        &self,
        hook: Option<&dyn ImageHook>,
        store: &mut ImageStore,
        texts: &mut BatchText,
        fast: bool,
    ) -> Vec<Entry<'_>> {
        let mut out = Vec::with_capacity(self.records.len());
        for outer in &self.records {
            let broken = |message: String, kind| {
                Entry::Broken(BrokenRecord {
                    sequence_number: outer.sequence_number.to_string(),
                    kind,
                    message,
                })
            };
            let change = match &outer.payload {
                Err(why) => {
                    out.push(broken(why.clone(), None));
                    continue;
                }
                Ok(range) => match simdutf8::basic::from_utf8(&self.text[range.clone()]) {
                    Ok(change) => change,
                    Err(_) => {
                        let why = std::str::from_utf8(&self.text[range.clone()])
                            .err()
                            .map_or_else(String::new, |e| e.to_string());
                        out.push(broken(
                            format!("kinesis.data is not UTF-8 text ({why}), so not a DynamoDB change record"),
                            None,
                        ));
                        continue;
                    }
                },
            };
            if fast {
                if let Some((wire, pre)) = super::scan::scan_record(change, hook, store) {
                    out.push(entry_via(wire, pre, texts, Some(outer)));
                    continue;
                }
            }
            match serde_json::from_str::<WireRecord<'_>>(change) {
                Ok(wire) => out.push(entry_via(wire, Default::default(), texts, Some(outer))),
                Err(e) => {
                    #[derive(Deserialize)]
                    struct Name<'a> {
                        #[serde(rename = "eventName", borrow, default)]
                        event_name: Option<Cow<'a, str>>,
                    }
                    let kind = serde_json::from_str::<Name<'_>>(change)
                        .ok()
                        .and_then(|n| n.event_name)
                        .and_then(|n| super::ChangeKind::parse(&n));
                    let what = if serde_json::from_str::<serde::de::IgnoredAny>(change).is_ok() {
                        "kinesis.data is not a DynamoDB change record"
                    } else {
                        "kinesis.data is not JSON"
                    };
                    out.push(broken(
                        format!(
                            "{what}: {}",
                            super::wire::record_error(change, change, &e, "decoded data")
                        ),
                        kind,
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
