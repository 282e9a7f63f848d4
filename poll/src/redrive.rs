//! Redrive: the records Lambda (or the poller) gave up on, delivered again through the same
//! router, with the same batch rules.
//!
//! When an event source mapping gives up on a DynamoDB stream batch it sends its on-failure
//! destination an *invocation record*
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html>):
//!
//! ```json
//! {"requestContext": {"requestId": "…", "functionArn": "…", "condition": "RetryAttemptsExhausted",
//!                     "approximateInvokeCount": 3},
//!  "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
//!  "version": "1.0", "timestamp": "2026-11-14T00:13:49.717Z",
//!  "DDBStreamBatchInfo": {"shardId": "shardId-…", "startSequenceNumber": "…", "endSequenceNumber": "…",
//!                         "approximateArrivalOfFirstRecord": "…", "approximateArrivalOfLastRecord": "…",
//!                         "batchSize": 2, "streamArn": "arn:aws:dynamodb:…:table/T/stream/…"}}
//! ```
//!
//! An SQS or SNS destination gets only that: the records stay in the stream (24 hours at
//! most) and [`fetch`] reads them back by shard iterator (`AT_SEQUENCE_NUMBER` the start, up to
//! the end). An S3 destination gets the batch too, as `payload` (the event, as JSON text or
//! as an object): no stream is needed. The poller's on-failure file writes the same record
//! with the batch as `Records`, so each line is also an event `replay`
//! delivers. [`FailureRecord::parse`] reads all three, and an SNS notification wrapping one
//! (an SQS queue subscribed to the topic).
//!
//! [`deliver`] then runs the records through a router with Lambda's rules (the lowest failed
//! record and everything after it retried, bisected, given up on after the retries), in events
//! cut before Lambda's 6 MB payload limit. A failure record is done only when every one of its
//! records was acknowledged.

use std::cmp::Ordering;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

use dynastream_core::Router;

use crate::delivery::Delivery;
use crate::record::StreamRecord;
use crate::source::{Position, SourceError, StreamSource};
use crate::{invoke, payload_cut, verdict_of, RetryPolicy, MAX_PAYLOAD_BYTES};

/// `DDBStreamBatchInfo`: which records of which shard of which stream a failure record names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[non_exhaustive]
pub struct BatchInfo {
    /// The shard.
    #[serde(rename = "shardId")]
    pub shard_id: String,
    /// The first record's sequence number.
    #[serde(rename = "startSequenceNumber")]
    pub start_sequence_number: String,
    /// The last record's sequence number.
    #[serde(rename = "endSequenceNumber")]
    pub end_sequence_number: String,
    /// When the first record reached the stream (ISO 8601), if said.
    #[serde(
        rename = "approximateArrivalOfFirstRecord",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub approximate_arrival_of_first_record: Option<String>,
    /// When the last record reached the stream (ISO 8601), if said.
    #[serde(
        rename = "approximateArrivalOfLastRecord",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub approximate_arrival_of_last_record: Option<String>,
    /// How many records the batch held.
    #[serde(rename = "batchSize")]
    pub batch_size: u64,
    /// The stream (`arn:aws:dynamodb:REGION:ACCOUNT:table/T/stream/LABEL`).
    #[serde(rename = "streamArn")]
    pub stream_arn: String,
}

impl std::fmt::Display for BatchInfo {
    /// `shard S, records START..END (N) of STREAM`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shard {}, records {}..{} ({}) of {}",
            self.shard_id,
            self.start_sequence_number,
            self.end_sequence_number,
            self.batch_size,
            self.stream_arn
        )
    }
}

/// A failure record: what Lambda sends an on-failure destination for a DynamoDB stream batch
/// (see the [module docs](self)), with the batch when it carries one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FailureRecord {
    /// Which records.
    pub batch: BatchInfo,
    /// Why Lambda gave up: `RetryAttemptsExhausted`, `RecordAgeExceeded`, `FunctionTimeout`…
    pub condition: Option<String>,
    /// How many times the batch was invoked.
    pub approximate_invoke_count: Option<u64>,
    /// When the record was written (ISO 8601).
    pub timestamp: Option<String>,
    /// The batch itself, when the record carries it (an S3 destination's `payload`, the
    /// poller's `Records`): redriven without reading the stream.
    pub records: Option<Vec<StreamRecord>>,
}

/// A failure record that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedriveError {
    /// Not JSON, or not an object.
    #[error("not a failure record: not JSON ({0})")]
    NotJson(#[source] serde_json::Error),
    /// A Kinesis stream's failure record (`KinesisBatchInfo`).
    #[error("a Kinesis failure record (KinesisBatchInfo): redrive fetches DynamoDB stream records only (DDBStreamBatchInfo), not Kinesis records yet; read the range with `record --kinesis-stream` and replay it")]
    Kinesis,
    /// No `DDBStreamBatchInfo`, or one missing a member.
    #[error("not a DynamoDB stream failure record: {0}")]
    NotDynamoDb(String),
    /// The batch it carries (`payload`, `Records`) is not a DynamoDB stream event.
    #[error("its batch ({member}) cannot be read: {message}")]
    Payload {
        /// `payload` or `Records`.
        member: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl FailureRecord {
    /// Reads a failure record: Lambda's (an SQS message body, an S3 object), an SNS
    /// notification wrapping one, or a line of the poller's on-failure file.
    ///
    /// ```
    /// # extern crate dynastream_poll;
    /// use dynastream_poll::redrive::FailureRecord;
    /// let r = FailureRecord::parse(r#"{"requestContext":{"condition":"RetryAttemptsExhausted","approximateInvokeCount":3},
    ///   "version":"1.0","timestamp":"2026-11-14T00:13:49.717Z",
    ///   "DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"100","endSequenceNumber":"300",
    ///     "batchSize":3,"streamArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/app/stream/2026-11-01T00:00:00.000"}}"#).unwrap();
    /// assert_eq!(r.batch.batch_size, 3);
    /// assert!(r.records.is_none()); // read from the stream
    /// ```
    pub fn parse(text: &str) -> Result<Self, RedriveError> {
        #[derive(Deserialize)]
        struct RequestContext {
            #[serde(default)]
            condition: Option<String>,
            #[serde(rename = "approximateInvokeCount", default)]
            approximate_invoke_count: Option<u64>,
        }
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(rename = "DDBStreamBatchInfo", borrow, default)]
            batch: Option<&'a RawValue>,
            #[serde(rename = "KinesisBatchInfo", borrow, default)]
            kinesis: Option<&'a RawValue>,
            #[serde(rename = "requestContext", default)]
            request_context: Option<RequestContext>,
            #[serde(default)]
            timestamp: Option<String>,
            #[serde(borrow, default)]
            payload: Option<&'a RawValue>,
            #[serde(rename = "Records", borrow, default)]
            records: Option<&'a RawValue>,
            // An SNS notification: the failure record is its `Message`.
            #[serde(rename = "Type", default)]
            sns_type: Option<String>,
            #[serde(rename = "Message", default)]
            message: Option<String>,
        }
        let raw: Raw<'_> = serde_json::from_str(text).map_err(RedriveError::NotJson)?;
        if raw.batch.is_none() && raw.sns_type.as_deref() == Some("Notification") {
            if let Some(inner) = &raw.message {
                return Self::parse(inner);
            }
        }
        let Some(batch) = raw.batch else {
            if raw.kinesis.is_some() {
                return Err(RedriveError::Kinesis);
            }
            return Err(RedriveError::NotDynamoDb(
                "it has no DDBStreamBatchInfo".into(),
            ));
        };
        let batch: BatchInfo = serde_json::from_str(batch.get())
            .map_err(|e| RedriveError::NotDynamoDb(format!("DDBStreamBatchInfo: {e}")))?;
        let records = match (raw.payload, raw.records) {
            (Some(p), _) => Some(payload_records(p, "payload")?),
            (None, Some(r)) => Some(records_of(r, "Records")?),
            (None, None) => None,
        };
        let (condition, approximate_invoke_count) = match raw.request_context {
            Some(c) => (c.condition, c.approximate_invoke_count),
            None => (None, None),
        };
        Ok(FailureRecord {
            batch,
            condition,
            approximate_invoke_count,
            timestamp: raw.timestamp,
            records,
        })
    }
}

/// `payload`: the event as JSON text (what Lambda writes) or as an object.
fn payload_records(p: &RawValue, member: &'static str) -> Result<Vec<StreamRecord>, RedriveError> {
    let bad = |message: String| RedriveError::Payload { member, message };
    let text: std::borrow::Cow<'_, str> = if p.get().starts_with('"') {
        let s: String = serde_json::from_str(p.get()).map_err(|e| bad(e.to_string()))?;
        s.into()
    } else {
        p.get().into()
    };
    #[derive(Deserialize)]
    struct Event<'a> {
        #[serde(rename = "Records", borrow)]
        records: &'a RawValue,
    }
    let event: Event<'_> =
        serde_json::from_str(&text).map_err(|e| bad(format!("not an event: {e}")))?;
    records_of(event.records, member)
}

fn records_of(r: &RawValue, member: &'static str) -> Result<Vec<StreamRecord>, RedriveError> {
    let bad = |message: String| RedriveError::Payload { member, message };
    let list: Vec<Box<RawValue>> =
        serde_json::from_str(r.get()).map_err(|e| bad(format!("not a list of records: {e}")))?;
    list.into_iter()
        .map(|json| StreamRecord::from_lambda_json(json).map_err(|e| bad(e.to_string())))
        .collect()
}

/// Orders sequence numbers as DynamoDB does: as the integers they spell (they are decimal
/// digits, of any length).
pub fn compare_sequence_numbers(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The records [`fetch`] found, and what it did not.
#[derive(Debug)]
#[non_exhaustive]
pub struct Fetched {
    /// The records of the range still in the stream, in order.
    pub records: Vec<StreamRecord>,
    /// How many fewer records than `batchSize` were found: at least that many are not in the
    /// stream any more (trimmed after 24 hours) or could not be reached.
    pub missing: u64,
    /// The start of the range was trimmed: the records found begin later, and records before
    /// them (how many is unknown when the range held more than the batch) are lost.
    pub start_trimmed: bool,
    /// The last record of the range was not reached: the shard is open and gave no record up
    /// to it within the read's time limit.
    pub end_not_reached: bool,
}

impl Fetched {
    /// Some record of the range is not among [`records`](Self::records).
    pub fn lost_some(&self) -> bool {
        self.missing > 0 || self.start_trimmed || self.end_not_reached
    }

    /// More records than the batch held were found in the range: a batch of a filtered
    /// event source mapping, or one of several parallel batches of a shard
    /// (`ParallelizationFactor`), spans records Lambda did not put in it. They are delivered
    /// too (handlers see them again, as on a retry).
    pub fn extra(&self, batch_size: u64) -> u64 {
        (self.records.len() as u64).saturating_sub(batch_size)
    }
}

/// How long [`fetch`] keeps reading an open shard that returns no records before the range's
/// end: DynamoDB Streams may need several `GetRecords` calls to reach records.
pub const EMPTY_READ_LIMIT: Duration = Duration::from_secs(10);

/// Reads the records `info` names back from the stream: an iterator at the start sequence
/// number (`TRIM_HORIZON` when that was trimmed: the records found then begin later), then
/// `GetRecords` until the range's last record, a record past it, the shard's end, or
/// [`EMPTY_READ_LIMIT`] of empty reads in a row (pausing 200 ms between them). A stream or
/// shard that no longer exists is [`SourceError::NotFound`]: every record is lost.
pub async fn fetch<Src: StreamSource>(
    source: &Src,
    info: &BatchInfo,
) -> Result<Fetched, SourceError> {
    let start = &info.start_sequence_number;
    let end = &info.end_sequence_number;
    let (mut iterator, start_trimmed) = match source
        .iterator(&info.shard_id, &Position::At(start.clone()))
        .await
    {
        Ok(it) => (it, false),
        Err(SourceError::Trimmed) => (
            source
                .iterator(&info.shard_id, &Position::TrimHorizon)
                .await?,
            true,
        ),
        Err(e) => return Err(e),
    };
    let mut records: Vec<StreamRecord> = Vec::new();
    let mut empty_since: Option<std::time::Instant> = None;
    let mut expired = 0;
    let mut reached_end = false;
    'read: loop {
        let page = match source.read(&iterator, 1000).await {
            Ok(p) => p,
            Err(SourceError::ExpiredIterator) if expired < 3 => {
                expired += 1;
                let from = match records.last() {
                    Some(r) => Position::After(r.sequence_number.clone()),
                    None if start_trimmed => Position::TrimHorizon,
                    None => Position::At(start.clone()),
                };
                iterator = source.iterator(&info.shard_id, &from).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let empty = page.records.is_empty();
        for r in page.records {
            match compare_sequence_numbers(&r.sequence_number, end) {
                Ordering::Greater => {
                    reached_end = true;
                    break 'read;
                }
                Ordering::Equal => {
                    records.push(r);
                    reached_end = true;
                    break 'read;
                }
                Ordering::Less => {
                    if compare_sequence_numbers(&r.sequence_number, start) != Ordering::Less {
                        records.push(r);
                    }
                }
            }
        }
        let Some(next) = page.next else {
            // The shard is closed and read to its end.
            reached_end = true;
            break;
        };
        iterator = next;
        if empty {
            let since = *empty_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= EMPTY_READ_LIMIT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        } else {
            empty_since = None;
        }
    }
    let missing = info.batch_size.saturating_sub(records.len() as u64);
    Ok(Fetched {
        records,
        missing,
        start_trimmed,
        end_not_reached: !reached_end,
    })
}

/// What [`deliver`] did with a batch.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Delivered {
    /// Records acknowledged.
    pub acknowledged: usize,
    /// Records not acknowledged after the retries (or not attempted after them), in order,
    /// with the last failure's reason.
    pub not_acknowledged: Vec<StreamRecord>,
    /// Why the first record not acknowledged failed.
    pub reason: Option<String>,
    /// Invocations of the router.
    pub invocations: u32,
}

impl Delivered {
    /// Every record acknowledged.
    pub fn all_acknowledged(&self) -> bool {
        self.not_acknowledged.is_empty()
    }
}

/// Delivers `records` through `router` as Lambda would: events cut before the 6 MB payload
/// limit, each retried and bisected by `retry` (its delays slept). Stops at the first event
/// whose records are given up on: what follows is not attempted (it stays to be redriven, in
/// order).
pub async fn deliver<S: Send + Sync + 'static>(
    router: &Router<S>,
    mut records: Vec<StreamRecord>,
    retry: &RetryPolicy,
) -> Delivered {
    let mut out = Delivered::default();
    while !records.is_empty() {
        let rest = records.split_off(payload_cut(&records, MAX_PAYLOAD_BYTES));
        let mut delivery = Delivery::new(std::mem::replace(&mut records, rest));
        while let Some((unit, _)) = delivery.current() {
            out.invocations += 1;
            let v = verdict_of(unit, &invoke(router, unit).await);
            let step = delivery.apply(v, retry);
            out.acknowledged += step.acked.len();
            if let Some(gave_up) = step.gave_up {
                out.reason = Some(gave_up.reason);
                out.not_acknowledged = gave_up.records;
                // The rest of this event, and every later one, is not attempted.
                out.not_acknowledged.extend(delivery.into_remaining());
                out.not_acknowledged.append(&mut records);
                return out;
            }
            if let Some(delay) = step.retry_after.filter(|d| !d.is_zero()) {
                tokio::time::sleep(delay).await;
            }
        }
    }
    out
}

/// The failure record the poller writes for records it gave up on: Lambda's shape (see the
/// [module docs](self)) with `functionArn` `local:poll`, the batch as `Records` (so the line is
/// also an event `replay` delivers) and the last failure's `reason`.
pub(crate) fn failure_record(
    stream_arn: &str,
    shard_id: &str,
    records: &[StreamRecord],
    condition: &str,
    invocations: u32,
    reason: &str,
) -> serde_json::Value {
    let arrival = |r: Option<&StreamRecord>| {
        r.and_then(|r| r.created).map(|t| {
            // Lambda writes whole seconds.
            dynastream_core::event::Timestamp::new(
                t.to_system_time()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64),
                0,
            )
            .map(|t| t.to_string())
        })
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let timestamp = dynastream_core::event::Timestamp::new(
        now.as_secs() as i64,
        now.subsec_millis() * 1_000_000,
    )
    .map(|t| t.to_string());
    serde_json::json!({
        "requestContext": {
            "requestId": format!("local-{}-{}", shard_id, records.first().map_or("", |r| r.sequence_number.as_str())),
            "functionArn": "local:poll",
            "condition": condition,
            "approximateInvokeCount": invocations,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": timestamp,
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records.first().map(|r| &r.sequence_number),
            "endSequenceNumber": records.last().map(|r| &r.sequence_number),
            "approximateArrivalOfFirstRecord": arrival(records.first()).flatten(),
            "approximateArrivalOfLastRecord": arrival(records.last()).flatten(),
            "batchSize": records.len(),
            "streamArn": stream_arn,
        },
        "reason": reason,
        "Records": records.iter().map(|r| &r.json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_integers() {
        assert_eq!(compare_sequence_numbers("99", "100"), Ordering::Less);
        assert_eq!(compare_sequence_numbers("100", "100"), Ordering::Equal);
        assert_eq!(compare_sequence_numbers("0100", "100"), Ordering::Equal);
        assert_eq!(
            compare_sequence_numbers("400000000000000000001", "40000000000000000000"),
            Ordering::Greater
        );
    }

    const INFO: &str = r#""DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"100","endSequenceNumber":"200","approximateArrivalOfFirstRecord":"2026-11-14T00:13:19Z","approximateArrivalOfLastRecord":"2026-11-14T00:13:19Z","batchSize":2,"streamArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/app/stream/2026-11-01T00:00:00.000"}"#;
    const RECORDS: &str = r#"[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"100","Keys":{"PK":{"S":"a"}}}},{"eventName":"MODIFY","dynamodb":{"SequenceNumber":"200","Keys":{"PK":{"S":"a"}}}}]"#;

    #[test]
    fn lambdas_sqs_record_names_the_range_only() {
        let text = format!(
            r#"{{"requestContext":{{"requestId":"r","functionArn":"f","condition":"RecordAgeExceeded","approximateInvokeCount":1}},"responseContext":{{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"}},"version":"1.0","timestamp":"2026-11-14T00:13:49.717Z",{INFO}}}"#
        );
        let r = FailureRecord::parse(&text).unwrap();
        assert_eq!(r.batch.shard_id, "shardId-1");
        assert_eq!(r.condition.as_deref(), Some("RecordAgeExceeded"));
        assert!(r.records.is_none());
        // Through SNS, the same record is the notification's Message.
        let sns = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": text});
        let r = FailureRecord::parse(&sns.to_string()).unwrap();
        assert_eq!(r.batch.batch_size, 2);
    }

    #[test]
    fn an_s3_record_carries_the_batch_as_text_or_as_an_object() {
        let event = format!(r#"{{"Records":{RECORDS}}}"#);
        for payload in [
            serde_json::Value::String(event.clone()),
            serde_json::from_str(&event).unwrap(),
        ] {
            let text = format!(r#"{{"version":"1.0",{INFO},"payload":{payload}}}"#);
            let r = FailureRecord::parse(&text).unwrap();
            let seqs: Vec<&str> = r
                .records
                .as_ref()
                .unwrap()
                .iter()
                .map(|r| r.sequence_number.as_str())
                .collect();
            assert_eq!(seqs, ["100", "200"]);
        }
    }

    #[test]
    fn what_is_not_a_dynamodb_failure_record_says_what_it_is() {
        let e = FailureRecord::parse(r#"{"KinesisBatchInfo":{"shardId":"s"}}"#).unwrap_err();
        assert!(e.to_string().contains("Kinesis"), "{e}");
        let e = FailureRecord::parse(r#"{"Records":[]}"#).unwrap_err();
        assert!(e.to_string().contains("no DDBStreamBatchInfo"), "{e}");
        let e = FailureRecord::parse("not json").unwrap_err();
        assert!(matches!(e, RedriveError::NotJson(_)));
        let e = FailureRecord::parse(r#"{"DDBStreamBatchInfo":{"shardId":"s"}}"#).unwrap_err();
        assert!(e.to_string().contains("startSequenceNumber"), "{e}");
        let text = format!(r#"{{{INFO},"payload":"{{\"Records\":7}}"}}"#);
        let e = FailureRecord::parse(&text).unwrap_err();
        assert!(e.to_string().contains("payload"), "{e}");
    }

    #[test]
    fn the_pollers_record_is_lambdas_with_the_batch() {
        let records: Vec<StreamRecord> = serde_json::from_str::<Vec<Box<RawValue>>>(RECORDS)
            .unwrap()
            .into_iter()
            .map(|j| StreamRecord::from_lambda_json(j).unwrap())
            .collect();
        let v = failure_record(
            "arn:s",
            "shardId-1",
            &records,
            "RetryAttemptsExhausted",
            3,
            "boom",
        );
        let r = FailureRecord::parse(&v.to_string()).unwrap();
        assert_eq!(r.batch.start_sequence_number, "100");
        assert_eq!(r.batch.end_sequence_number, "200");
        assert_eq!(r.batch.batch_size, 2);
        assert_eq!(r.approximate_invoke_count, Some(3));
        assert_eq!(r.records.unwrap().len(), 2);
        assert_eq!(v["requestContext"]["condition"], "RetryAttemptsExhausted");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
