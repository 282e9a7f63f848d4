//! Stream records as Lambda delivers them: the record `GetRecords` returns, rewritten into the
//! JSON of one entry of a Lambda event (`eventSourceARN` included), and events built from them.

use std::collections::HashMap;
use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodbstreams::types as st;
use serde_json::value::RawValue;

use crate::event::Timestamp;
use crate::poll::PollError;
use crate::store::item::to_dynamodb_json;

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
        let created = e
            .dynamodb
            .created
            .and_then(|t| Timestamp::from_epoch_seconds_text(t.get()));
        Ok(StreamRecord {
            sequence_number: e.dynamodb.sequence_number.into_owned(),
            created,
            json,
        })
    }

    /// Rewrites a record `GetRecords` returned into Lambda's JSON, adding `eventSourceARN`.
    pub fn from_sdk(record: &st::Record, stream_arn: &str) -> Result<Self, PollError> {
        let d = record.dynamodb().ok_or_else(|| PollError::Record {
            sequence_number: None,
            message: "record without a dynamodb section".into(),
        })?;
        let seq = d.sequence_number().ok_or_else(|| PollError::Record {
            sequence_number: None,
            message: "record without a SequenceNumber".into(),
        })?;
        let fail = |message: String| PollError::Record {
            sequence_number: Some(seq.to_string()),
            message,
        };
        let created = d.approximate_creation_date_time().and_then(|t| {
            // The SDK reads the epoch-seconds number through f64 (about 240 ns of precision
            // today), so `.991` arrives as `.990999937`. Whole microseconds give back what the
            // service sent whenever it sent at most six fraction digits.
            let micros = (t.subsec_nanos() + 500) / 1000;
            if micros >= 1_000_000 {
                Timestamp::new(t.secs() + 1, 0)
            } else {
                Timestamp::new(t.secs(), micros * 1000)
            }
        });

        let mut out = String::with_capacity(512);
        out.push('{');
        let field = |out: &mut String, name: &str, value: Option<&str>| {
            if let Some(v) = value {
                if out.len() > 1 {
                    out.push(',');
                }
                let _ = write!(out, "\"{name}\":{}", json_string(v));
            }
        };
        field(&mut out, "eventID", record.event_id());
        field(
            &mut out,
            "eventName",
            record.event_name().map(|n| n.as_str()),
        );
        field(&mut out, "eventVersion", record.event_version());
        field(&mut out, "eventSource", record.event_source());
        field(&mut out, "awsRegion", record.aws_region());
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str("\"dynamodb\":{");
        let mut first = true;
        let mut sep = |out: &mut String| {
            if !first {
                out.push(',');
            }
            first = false;
        };
        if let Some(t) = created {
            sep(&mut out);
            let _ = write!(out, "\"ApproximateCreationDateTime\":{}", epoch_text(t));
        }
        for (name, image) in [
            ("Keys", d.keys()),
            ("NewImage", d.new_image()),
            ("OldImage", d.old_image()),
        ] {
            if let Some(image) = image {
                sep(&mut out);
                let _ = write!(out, "\"{name}\":{}", image_json(image).map_err(&fail)?);
            }
        }
        sep(&mut out);
        let _ = write!(out, "\"SequenceNumber\":{}", json_string(seq));
        if let Some(size) = d.size_bytes() {
            sep(&mut out);
            let _ = write!(out, "\"SizeBytes\":{size}");
        }
        if let Some(view) = d.stream_view_type() {
            sep(&mut out);
            let _ = write!(out, "\"StreamViewType\":{}", json_string(view.as_str()));
        }
        out.push('}');
        let _ = write!(out, ",\"eventSourceARN\":{}", json_string(stream_arn));
        if let Some(id) = record.user_identity() {
            out.push_str(",\"userIdentity\":{");
            let mut parts = Vec::new();
            if let Some(p) = id.principal_id() {
                parts.push(format!("\"principalId\":{}", json_string(p)));
            }
            if let Some(t) = id.r#type() {
                parts.push(format!("\"type\":{}", json_string(t)));
            }
            out.push_str(&parts.join(","));
            out.push('}');
        }
        out.push('}');
        let json = RawValue::from_string(out).map_err(|e| fail(e.to_string()))?;
        Ok(StreamRecord {
            sequence_number: seq.to_string(),
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

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Epoch seconds as a JSON number with only the significant fraction digits (exact).
fn epoch_text(t: Timestamp) -> String {
    if t.subsec_nanos() == 0 {
        return t.unix_seconds().to_string();
    }
    let frac = format!("{:09}", t.subsec_nanos());
    format!("{}.{}", t.unix_seconds(), frac.trim_end_matches('0'))
}

fn image_json(image: &HashMap<String, st::AttributeValue>) -> Result<String, String> {
    let attrs = image
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_av(v)?)))
        .collect::<Result<HashMap<_, _>, String>>()?;
    to_dynamodb_json(&attrs).map_err(|e| e.0)
}

/// The streams SDK's attribute value as the DynamoDB SDK's (the same shape, two crates).
fn to_av(v: &st::AttributeValue) -> Result<Av, String> {
    use st::AttributeValue as S;
    Ok(match v {
        S::S(s) => Av::S(s.clone()),
        S::N(n) => Av::N(n.clone()),
        S::B(b) => Av::B(b.clone()),
        S::Bool(b) => Av::Bool(*b),
        S::Null(b) => Av::Null(*b),
        S::Ss(s) => Av::Ss(s.clone()),
        S::Ns(n) => Av::Ns(n.clone()),
        S::Bs(b) => Av::Bs(b.clone()),
        S::L(l) => Av::L(l.iter().map(to_av).collect::<Result<_, _>>()?),
        S::M(m) => Av::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_av(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => {
            return Err(format!(
                "attribute type this version does not know: {other:?}"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};

    fn sdk_record() -> st::Record {
        let keys = HashMap::from([
            ("PK".to_string(), st::AttributeValue::S("#TASK#ann".into())),
            ("SK".to_string(), st::AttributeValue::S("#TASK#7".into())),
        ]);
        let mut image = keys.clone();
        image.insert("title".into(), st::AttributeValue::S("Say \"hi\"".into()));
        image.insert("n".into(), st::AttributeValue::N("12.50".into()));
        image.insert("b".into(), st::AttributeValue::B(Blob::new(b"\x00\xff")));
        image.insert(
            "l".into(),
            st::AttributeValue::L(vec![
                st::AttributeValue::Bool(true),
                st::AttributeValue::Null(true),
                st::AttributeValue::M(HashMap::from([(
                    "x".to_string(),
                    st::AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
                )])),
            ]),
        );
        st::Record::builder()
            .event_id("e1")
            .event_name(st::OperationType::Remove)
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("eu-west-1")
            .user_identity(
                st::Identity::builder()
                    .principal_id("dynamodb.amazonaws.com")
                    .r#type("Service")
                    .build(),
            )
            .dynamodb(
                st::StreamRecord::builder()
                    .approximate_creation_date_time(DateTime::from_secs_and_nanos(
                        1_700_000_000,
                        907_000_000,
                    ))
                    .set_keys(Some(keys))
                    .set_old_image(Some(image))
                    .sequence_number("4421584500000000017450439091")
                    .size_bytes(120)
                    .stream_view_type(st::StreamViewType::NewAndOldImages)
                    .build(),
            )
            .build()
    }

    #[test]
    fn sdk_records_become_what_lambda_delivers_and_the_router_reads() {
        let r = StreamRecord::from_sdk(
            &sdk_record(),
            "arn:aws:dynamodb:eu-west-1:1:table/t/stream/x",
        )
        .unwrap();
        assert_eq!(r.sequence_number, "4421584500000000017450439091");
        let created = r.created.unwrap();
        assert_eq!(
            (created.unix_seconds(), created.subsec_nanos()),
            (1_700_000_000, 907_000_000)
        );
        let v: serde_json::Value = serde_json::from_str(r.json.get()).unwrap();
        assert_eq!(
            v["eventSourceARN"],
            "arn:aws:dynamodb:eu-west-1:1:table/t/stream/x"
        );
        assert_eq!(v["eventName"], "REMOVE");
        assert_eq!(v["awsRegion"], "eu-west-1");
        assert_eq!(v["userIdentity"]["type"], "Service");
        assert_eq!(v["dynamodb"]["OldImage"]["b"]["B"], "AP8=");
        assert_eq!(
            v["dynamodb"]["OldImage"]["l"]["L"][2]["M"]["x"]["NS"][1],
            "2.5"
        );
        assert!(
            v["dynamodb"].get("NewImage").is_none(),
            "absent image stays absent"
        );
        // The exact digits survive: number text and fraction of the timestamp.
        assert!(r.json.get().contains(r#""N":"12.50""#));
        assert!(r
            .json
            .get()
            .contains(r#""ApproximateCreationDateTime":1700000000.907"#));

        // The event parses as Lambda's: the TTL flag, the timestamp, the image.
        let event = event_json(std::slice::from_ref(&r));
        let batch = crate::event::parse_batch(event.as_bytes()).unwrap();
        let rec = match &batch[0] {
            crate::event::Entry::Record(rec) => rec,
            other => panic!("unreadable: {other:?}"),
        };
        assert!(rec.meta.ttl_expired);
        assert_eq!(
            rec.event_source_arn.as_deref(),
            Some("arn:aws:dynamodb:eu-west-1:1:table/t/stream/x")
        );
        assert_eq!(rec.meta.approximate_creation_time, Some(created));
        assert!(rec.old_image.is_some() && rec.new_image.is_none());

        let again = StreamRecord::from_lambda_json(r.json.clone()).unwrap();
        assert_eq!(again.sequence_number, r.sequence_number);
        assert_eq!(again.created, r.created);
    }

    #[test]
    fn the_sdks_floating_point_timestamp_is_rounded_back_to_what_was_sent() {
        for (sent, secs, nanos) in [
            (1_795_274_479.991, 1_795_274_479, 991_000_000),
            (1_700_000_000.907, 1_700_000_000, 907_000_000),
            (1_700_000_000.123_456, 1_700_000_000, 123_456_000),
            (1_700_000_000.999_999_9, 1_700_000_001, 0),
        ] {
            let r = st::Record::builder()
                .dynamodb(
                    st::StreamRecord::builder()
                        .approximate_creation_date_time(DateTime::from_secs_f64(sent))
                        .sequence_number("1")
                        .build(),
                )
                .build();
            let t = StreamRecord::from_sdk(&r, "arn").unwrap().created.unwrap();
            assert_eq!(
                (t.unix_seconds(), t.subsec_nanos()),
                (secs, nanos),
                "{sent}"
            );
        }
    }

    #[test]
    fn whole_seconds_are_written_without_a_fraction() {
        assert_eq!(
            epoch_text(Timestamp::new(1_479_499_740, 0).unwrap()),
            "1479499740"
        );
        assert_eq!(epoch_text(Timestamp::new(5, 1).unwrap()), "5.000000001");
    }

    #[test]
    fn a_record_without_a_sequence_number_is_an_error() {
        let r = st::Record::builder()
            .dynamodb(st::StreamRecord::builder().build())
            .build();
        let e = StreamRecord::from_sdk(&r, "arn").unwrap_err();
        assert!(e.to_string().contains("SequenceNumber"), "{e}");
    }
}
