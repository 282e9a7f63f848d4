//! Stream records as Lambda delivers them: the record `GetRecords` returns, rewritten into the
//! JSON of one entry of a Lambda event (`eventSourceARN` included), and events built from them.

use serde_json::value::RawValue;

use crate::PollError;
use dynastream_core::event::Timestamp;

/// One stream record, ready to be delivered: its Lambda JSON and what the poller needs to know
/// about it without parsing that JSON again.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// The record's sequence number (unique and increasing within its shard).
    pub sequence_number: String,
    /// When the change was made (`ApproximateCreationDateTime`), if the stream said.
    pub created: Option<Timestamp>,
    /// The record as one entry of a Lambda event's `Records`.
    pub json: Box<RawValue>,
}

impl StreamRecord {
    /// A Kinesis record of Kinesis Data Streams for DynamoDB, as Lambda delivers it: the
    /// Kinesis `sequence_number`, the change record's bytes (`data`, as the stream holds
    /// them), its partition key and arrival time (epoch milliseconds), for `stream_arn` in
    /// `region`. `created` is the arrival time, from which Lambda measures a Kinesis record's
    /// age; without one, the change's `ApproximateCreationDateTime` (milliseconds unless it
    /// names its precision); `None` when neither is known (then the record's age is unknown to
    /// the poller, and the router says what is wrong with it, if anything).
    pub fn from_kinesis(
        sequence_number: &str,
        data: &[u8],
        partition_key: &str,
        arrival_millis: Option<i64>,
        (stream_arn, region): (&str, Option<&str>),
    ) -> Result<Self, PollError> {
        use base64::Engine as _;
        // Lambda measures a Kinesis record's age (IteratorAge, MaximumRecordAgeInSeconds)
        // from its arrival in the stream; the change's own time when Kinesis gave none.
        let created = arrival_millis
            .and_then(|ms| {
                Timestamp::new(
                    ms.div_euclid(1000),
                    u32::try_from(ms.rem_euclid(1000) * 1_000_000).ok()?,
                )
            })
            .or_else(|| kinesis_created(data));
        let mut v = serde_json::json!({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": partition_key,
                "sequenceNumber": sequence_number,
                "data": base64::engine::general_purpose::STANDARD.encode(data),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventName": "aws:kinesis:record",
            "eventSourceARN": stream_arn,
        });
        if let Some(ms) = arrival_millis {
            // Seconds with milliseconds, as Lambda writes it: exact decimal text.
            let text = format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
            v["kinesis"]["approximateArrivalTimestamp"] =
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        }
        if let Some(r) = region {
            v["awsRegion"] = serde_json::Value::from(r);
        }
        let json = serde_json::value::to_raw_value(&v).map_err(|e| PollError::Record {
            sequence_number: Some(sequence_number.to_string()),
            message: format!("cannot write the Kinesis record: {e}"),
        })?;
        Ok(StreamRecord {
            sequence_number: sequence_number.to_string(),
            created,
            json,
        })
    }

    /// Wraps a record already in Lambda's JSON shape (a test source, a recorded file): a
    /// DynamoDB Streams record, or a Kinesis record (`kinesis.sequenceNumber`, the change in
    /// `kinesis.data`).
    pub fn from_lambda_json(json: Box<RawValue>) -> Result<Self, PollError> {
        #[derive(serde::Deserialize)]
        struct Kinesis<'a> {
            #[serde(rename = "sequenceNumber", borrow)]
            sequence_number: std::borrow::Cow<'a, str>,
            #[serde(default, borrow)]
            data: Option<std::borrow::Cow<'a, str>>,
            #[serde(rename = "approximateArrivalTimestamp", default, borrow)]
            arrival: Option<&'a RawValue>,
        }
        #[derive(serde::Deserialize)]
        struct KinesisEnvelope<'a> {
            #[serde(borrow)]
            kinesis: Kinesis<'a>,
        }
        if let Ok(k) = serde_json::from_str::<KinesisEnvelope<'_>>(json.get()) {
            use base64::Engine as _;
            let arrival = k
                .kinesis
                .arrival
                .and_then(|t| Timestamp::from_epoch_seconds_text(t.get()));
            let created = arrival.or_else(|| {
                k.kinesis
                    .data
                    .and_then(|d| {
                        base64::engine::general_purpose::STANDARD
                            .decode(d.as_bytes())
                            .ok()
                    })
                    .and_then(|d| kinesis_created(&d))
            });
            return Ok(StreamRecord {
                sequence_number: k.kinesis.sequence_number.into_owned(),
                created,
                json,
            });
        }
        #[derive(serde::Deserialize)]
        struct Dynamodb<'a> {
            #[serde(rename = "SequenceNumber", borrow)]
            sequence_number: std::borrow::Cow<'a, str>,
            #[serde(rename = "ApproximateCreationDateTime", default, borrow)]
            created: Option<&'a RawValue>,
            #[serde(rename = "ApproximateCreationDateTimePrecision", default, borrow)]
            precision: Option<std::borrow::Cow<'a, str>>,
        }
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            dynamodb: Dynamodb<'a>,
        }
        let e: Envelope<'_> = serde_json::from_str(json.get()).map_err(|e| PollError::Record {
            sequence_number: None,
            message: format!("not a stream record: {e}"),
        })?;
        let created = e.dynamodb.created.and_then(|t| {
            Timestamp::from_creation_date_time(t.get(), e.dynamodb.precision.as_deref()).ok()
        });
        Ok(StreamRecord {
            sequence_number: e.dynamodb.sequence_number.into_owned(),
            created,
            json,
        })
    }
}

/// A Kinesis change record's `ApproximateCreationDateTime`, in its precision (milliseconds
/// when it names none, docs/semantics.md).
fn kinesis_created(data: &[u8]) -> Option<Timestamp> {
    #[derive(serde::Deserialize)]
    struct Dynamodb<'a> {
        #[serde(rename = "ApproximateCreationDateTime", default, borrow)]
        created: Option<&'a RawValue>,
        #[serde(rename = "ApproximateCreationDateTimePrecision", default, borrow)]
        precision: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Change<'a> {
        #[serde(borrow)]
        dynamodb: Dynamodb<'a>,
    }
    let c: Change<'_> = serde_json::from_slice(data).ok()?;
    let precision = c.dynamodb.precision.as_deref().unwrap_or("MILLISECOND");
    Timestamp::from_creation_date_time(c.dynamodb.created?.get(), Some(precision)).ok()
}

/// A Lambda event holding `records`, in order: `{"Records":[...]}`.
pub fn event_json(records: &[StreamRecord]) -> String {
    let mut out = String::with_capacity(
        16 + records
            .iter()
            .map(|r| r.json.get().len() + 1)
            .sum::<usize>(),
    );
    out.push_str("{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r.json.get());
    }
    out.push_str("]}");
    out
}

/// The same event, one record per line (for files people read and diff).
pub fn event_json_pretty(records: &[StreamRecord]) -> String {
    let mut out = String::from("{\"Records\":[\n");
    for (i, r) in records.iter().enumerate() {
        out.push_str("  ");
        out.push_str(r.json.get());
        out.push_str(if i + 1 < records.len() { ",\n" } else { "\n" });
    }
    out.push_str("]}\n");
    out
}
