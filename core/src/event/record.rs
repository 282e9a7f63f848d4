//! A record of a batch, readable or broken on its own.

use std::borrow::Cow;

use super::{
    ChangeKind, Keys, Predecoded, SequenceNumber, SharedStr, StreamViewType, TimePrecision,
    Timestamp,
};

/// The change-data transport a record came by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// DynamoDB Streams: the record's `dynamodb.SequenceNumber` orders an item's changes
    /// exactly, and each change is delivered once per shard position.
    #[default]
    DynamoDbStreams,
    /// Kinesis Data Streams for DynamoDB: the change is base64 JSON in `kinesis.data`, the
    /// batch response names Kinesis sequence numbers, and an item's changes may arrive out of
    /// order or twice (ordered by `ApproximateCreationDateTime`, docs/semantics.md, "Kinesis
    /// Data Streams for DynamoDB").
    Kinesis,
}

impl Transport {
    /// `dynamodb-streams` or `kinesis`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::DynamoDbStreams => "dynamodb-streams",
            Transport::Kinesis => "kinesis",
        }
    }
}

/// Everything about a record except its images, owned; handed to handlers with the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// `eventID`.
    pub event_id: Option<SharedStr>,
    /// The identifier Lambda's batch response uses: `dynamodb.SequenceNumber` on DynamoDB
    /// Streams, `kinesis.sequenceNumber` on Kinesis.
    pub sequence_number: SequenceNumber,
    /// `dynamodb.ApproximateCreationDateTime`, exact; `None` when absent.
    pub approximate_creation_time: Option<Timestamp>,
    /// The unit `ApproximateCreationDateTime` was sent in: seconds on DynamoDB Streams; on
    /// Kinesis `ApproximateCreationDateTimePrecision` (`MILLISECOND` when absent, as records
    /// written before AWS added the setting are).
    pub time_precision: TimePrecision,
    /// The transport the record came by.
    pub transport: Transport,
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
            time_precision: self.time_precision,
            transport: self.transport,
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
    /// What Kinesis Data Streams adds, for a record it delivered (boxed: a DynamoDB Streams
    /// record carries eight bytes for it, not the whole, through every move of a batch).
    pub kinesis: Option<Box<KinesisInfo<'a>>>,
    /// The model and images the envelope pass already decoded (the router's fast path).
    pub(crate) predecoded: Predecoded,
}

/// What a record delivered by Kinesis Data Streams for DynamoDB carries beyond the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisInfo<'a> {
    /// The change record's `tableName`: with the Kinesis stream ARN's region and account it
    /// names the table ([`KinesisInfo::table_arn`]).
    pub table_name: Option<Cow<'a, str>>,
    /// `kinesis.partitionKey` (DynamoDB sets it from the item's key).
    pub partition_key: Option<Cow<'a, str>>,
    /// `kinesis.approximateArrivalTimestamp`: when Kinesis took the record (epoch seconds with
    /// milliseconds, exact); `None` when absent or unreadable (it is informational).
    pub approximate_arrival: Option<Timestamp>,
    /// A digest of the change as sent (the decoded `kinesis.data`, XXH3-64): equal for
    /// every copy of one change, so exact duplicates are found, and the tie-break that orders
    /// two changes of one item sent with the same `ApproximateCreationDateTime` the same way
    /// on every delivery (docs/semantics.md, "Kinesis Data Streams for DynamoDB").
    pub digest: u64,
}

impl KinesisInfo<'_> {
    /// The DynamoDB table's ARN, `arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`, from
    /// the Kinesis stream's ARN (`arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`, the
    /// record's `eventSourceARN`) and the change's `tableName`: DynamoDB writes to a stream
    /// of its own account and region. `None` when either is missing or malformed.
    ///
    /// ```
    /// # extern crate dynastream_core as dynastream;
    /// use dynastream::event::KinesisInfo;
    /// let info = KinesisInfo { table_name: Some("app".into()), partition_key: None, approximate_arrival: None, digest: 0 };
    /// assert_eq!(
    ///     info.table_arn("arn:aws:kinesis:eu-west-1:123456789012:stream/app-changes").as_deref(),
    ///     Some("arn:aws:dynamodb:eu-west-1:123456789012:table/app")
    /// );
    /// assert_eq!(info.table_arn("arn:aws:dynamodb:eu-west-1:1:table/app"), None);
    /// ```
    pub fn table_arn(&self, stream_arn: &str) -> Option<String> {
        let table = self.table_name.as_deref().filter(|t| !t.is_empty())?;
        let arn = super::KinesisStreamArn::parse(stream_arn)?;
        Some(format!(
            "arn:{}:dynamodb:{}:{}:table/{table}",
            arn.partition, arn.region, arn.account
        ))
    }
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
