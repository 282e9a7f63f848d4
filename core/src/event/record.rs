//! A record of a batch, readable or broken on its own.

use std::borrow::Cow;

use super::{ChangeKind, Keys, Predecoded, SequenceNumber, SharedStr, StreamViewType, Timestamp};

/// Everything about a record except its images, owned; handed to handlers with the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// `eventID`.
    pub event_id: Option<SharedStr>,
    /// `dynamodb.SequenceNumber`: the identifier Lambda's batch response uses.
    pub sequence_number: SequenceNumber,
    /// `dynamodb.ApproximateCreationDateTime`, exact; `None` when absent.
    pub approximate_creation_time: Option<Timestamp>,
    /// `dynamodb.SizeBytes`.
    pub size_bytes: Option<u64>,
    /// `dynamodb.StreamViewType`.
    pub stream_view_type: Option<StreamViewType>,
    /// True for a REMOVE made by DynamoDB's TTL process (`userIdentity` is the
    /// `dynamodb.amazonaws.com` service).
    pub ttl_expired: bool,
}

impl RecordMeta {
    /// Moves the metadata out, leaving empty values, except the sequence number, which is
    /// shared (no allocation either way).
    pub(crate) fn take(&mut self) -> RecordMeta {
        RecordMeta {
            event_id: self.event_id.take(),
            sequence_number: self.sequence_number.clone(),
            approximate_creation_time: self.approximate_creation_time.take(),
            size_bytes: self.size_bytes.take(),
            stream_view_type: self.stream_view_type.take(),
            ttl_expired: std::mem::take(&mut self.ttl_expired),
        }
    }
}

/// One record of a batch, envelope read, images still raw JSON.
#[derive(Debug)]
pub struct Record<'a> {
    /// The change kind.
    pub kind: ChangeKind,
    /// The key attributes.
    pub keys: Keys<'a>,
    /// `NewImage` as DynamoDB JSON text, if the record carries one.
    pub new_image: Option<&'a str>,
    /// `OldImage` as DynamoDB JSON text, if the record carries one.
    pub old_image: Option<&'a str>,
    /// The rest of the envelope.
    pub meta: RecordMeta,
    /// `eventSourceARN`.
    pub event_source_arn: Option<Cow<'a, str>>,
    /// `awsRegion`.
    pub aws_region: Option<Cow<'a, str>>,
    /// The model and images the envelope pass already decoded (the router's fast path).
    pub(crate) predecoded: Predecoded,
}

/// A record whose envelope could not be read, but whose sequence number could: it fails on
/// its own without failing the batch.
#[derive(Debug, Clone)]
pub struct BrokenRecord {
    /// The sequence number.
    pub sequence_number: String,
    /// The change kind, when `eventName` was readable.
    pub kind: Option<ChangeKind>,
    /// What is wrong with the envelope: the path of the field (`dynamodb.Keys.val.B`), the
    /// problem and, when the JSON itself is at fault, the line and column in the event.
    pub message: String,
}

/// A record of a batch: readable, or broken on its own.
///
/// A batch's entries live in one `Vec`, so a record is held inline rather than boxed: the
/// larger variant costs some bytes per broken record, boxing would cost an allocation per
/// readable one.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Entry<'a> {
    /// A readable record.
    Record(Record<'a>),
    /// A record with an unreadable envelope.
    Broken(BrokenRecord),
}

impl Entry<'_> {
    /// The record's sequence number.
    pub fn sequence_number(&self) -> &str {
        match self {
            Entry::Record(r) => &r.meta.sequence_number,
            Entry::Broken(b) => &b.sequence_number,
        }
    }
}
