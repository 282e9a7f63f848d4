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
    /// Wraps a record already in Lambda's JSON shape (a test source, a recorded file).
    pub fn from_lambda_json(json: Box<RawValue>) -> Result<Self, PollError> {
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
