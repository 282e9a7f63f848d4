//! Records `GetRecords` returns, rewritten into the JSON of one entry of a Lambda event
//! (`eventSourceARN` included), so the poller delivers exactly what Lambda would.

use std::collections::HashMap;
use std::fmt::Write as _;

use aws_sdk_dynamodbstreams::types as st;
use dynastream_core::event::Timestamp;
use dynastream_poll::{PollError, StreamRecord};
use dynastream_store::{to_dynamodb_json, Value};
use serde_json::value::RawValue;

/// Rewrites a record `GetRecords` returned into Lambda's JSON, adding `eventSourceARN`.
pub fn from_sdk(record: &st::Record, stream_arn: &str) -> Result<StreamRecord, PollError> {
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
        let _ = write!(
            out,
            "\"ApproximateCreationDateTime\":{}",
            t.epoch_seconds_text()
        );
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

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn image_json(image: &HashMap<String, st::AttributeValue>) -> Result<String, String> {
    let attrs = image
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_value(v)?)))
        .collect::<Result<HashMap<_, _>, String>>()?;
    Ok(to_dynamodb_json(&attrs))
}

/// The streams SDK's attribute value as the core's [`Value`].
fn to_value(v: &st::AttributeValue) -> Result<Value, String> {
    use st::AttributeValue as S;
    Ok(match v {
        S::S(s) => Value::S(s.clone()),
        S::N(n) => Value::N(n.clone()),
        S::B(b) => Value::B(b.clone().into_inner()),
        S::Bool(b) => Value::Bool(*b),
        S::Null(_) => Value::Null,
        S::Ss(s) => Value::Ss(s.clone()),
        S::Ns(n) => Value::Ns(n.clone()),
        S::Bs(b) => Value::Bs(b.iter().map(|b| b.as_ref().to_vec()).collect()),
        S::L(l) => Value::L(l.iter().map(to_value).collect::<Result<_, _>>()?),
        S::M(m) => Value::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_value(v)?)))
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
        let r = from_sdk(
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
        let event = dynastream_poll::event_json(std::slice::from_ref(&r));
        let batch = dynastream_core::event::parse_batch(event.as_bytes()).unwrap();
        let rec = match &batch[0] {
            dynastream_core::event::Entry::Record(rec) => rec,
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
            let t = from_sdk(&r, "arn").unwrap().created.unwrap();
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
            Timestamp::new(1_479_499_740, 0)
                .unwrap()
                .epoch_seconds_text(),
            "1479499740"
        );
        assert_eq!(
            Timestamp::new(5, 1).unwrap().epoch_seconds_text(),
            "5.000000001"
        );
    }

    #[test]
    fn a_record_without_a_sequence_number_is_an_error() {
        let r = st::Record::builder()
            .dynamodb(st::StreamRecord::builder().build())
            .build();
        let e = from_sdk(&r, "arn").unwrap_err();
        assert!(e.to_string().contains("SequenceNumber"), "{e}");
    }
}
