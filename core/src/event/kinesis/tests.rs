use base64::Engine as _;

use super::*;
use crate::event::{ChangeKind, TimePrecision, Transport};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn record(seq: &str, data: &str) -> String {
    format!(
        r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"P{seq}","sequenceNumber":"{seq}","data":"{data}","approximateArrivalTimestamp":1731924555.932}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:{seq}","eventName":"aws:kinesis:record","awsRegion":"eu-west-1","eventSourceARN":"arn:aws:kinesis:eu-west-1:123456789012:stream/changes"}}"#
    )
}

fn event(records: &[String]) -> String {
    format!(r#"{{"Records":[{}]}}"#, records.join(","))
}

const CHANGE: &str = r#"{"awsRegion":"eu-west-1","eventID":"e1","eventName":"MODIFY","userIdentity":null,"recordFormat":"application/json","tableName":"app","dynamodb":{"ApproximateCreationDateTime":1763200000123456,"ApproximateCreationDateTimePrecision":"MICROSECOND","Keys":{"PK":{"S":"a"},"SK":{"S":"b"}},"NewImage":{"PK":{"S":"a"},"SK":{"S":"b"},"n":{"N":"2"}},"OldImage":{"PK":{"S":"a"},"SK":{"S":"b"},"n":{"N":"1"}},"SizeBytes":60},"eventSource":"aws:dynamodb"}"#;

fn outcomes(ev: &str) -> Vec<String> {
    let k = KinesisEvent::decode(ev.as_bytes()).unwrap();
    k.entries()
        .unwrap()
        .iter()
        .map(|e| match e {
            Entry::Record(r) => format!("ok {} {} {}", r.meta.sequence_number, r.kind, r.keys),
            Entry::Broken(b) => format!("broken {} {:?}: {}", b.sequence_number, b.kind, b.message),
        })
        .collect()
}

#[test]
fn a_change_reads_as_on_dynamodb_streams_with_the_kinesis_sequence_number() {
    let ev = event(&[record("4965", &b64(CHANGE))]);
    assert!(KinesisEvent::is_kinesis(ev.as_bytes()));
    let k = KinesisEvent::decode(ev.as_bytes()).unwrap();
    let entries = k.entries().unwrap();
    let Entry::Record(r) = &entries[0] else {
        panic!("{:?}", entries[0])
    };
    assert_eq!(r.kind, ChangeKind::Modify);
    assert_eq!(&*r.meta.sequence_number, "4965");
    assert_eq!(r.meta.transport, Transport::Kinesis);
    assert_eq!(r.meta.time_precision, TimePrecision::Microsecond);
    assert_eq!(r.meta.event_id.as_deref(), Some("e1"));
    assert_eq!(
        r.meta.approximate_creation_time.unwrap().to_string(),
        "2025-11-15T09:46:40.123456Z"
    );
    assert_eq!(
        r.new_image,
        Some(r#"{"PK":{"S":"a"},"SK":{"S":"b"},"n":{"N":"2"}}"#)
    );
    assert_eq!(
        r.old_image,
        Some(r#"{"PK":{"S":"a"},"SK":{"S":"b"},"n":{"N":"1"}}"#)
    );
    assert_eq!(
        r.event_source_arn.as_deref(),
        Some("arn:aws:kinesis:eu-west-1:123456789012:stream/changes")
    );
    let info = r.kinesis.as_ref().unwrap();
    assert_eq!(info.table_name.as_deref(), Some("app"));
    assert_eq!(info.partition_key.as_deref(), Some("P4965"));
    assert_eq!(info.digest, digest(CHANGE.as_bytes()));
    assert_eq!(
        info.approximate_arrival.unwrap().to_string(),
        "2024-11-18T10:09:15.932Z"
    );
    assert_eq!(
        info.table_arn(r.event_source_arn.as_deref().unwrap())
            .as_deref(),
        Some("arn:aws:dynamodb:eu-west-1:123456789012:table/app")
    );
}

#[test]
fn the_fast_scan_and_serde_read_a_change_alike() {
    let ev = event(&[
        record("1", &b64(CHANGE)),
        record("2", &b64(&CHANGE.replace("\"b\"", "\"b\\u00e9\""))),
        record(
            "3",
            &b64(&CHANGE.replace(
                "\"n\":{\"N\":\"2\"}",
                "\"n\":{\"N\":\"2\"},\"n\":{\"N\":\"3\"}",
            )),
        ),
    ]);
    let k = KinesisEvent::decode(ev.as_bytes()).unwrap();
    let show = |fast| {
        let mut texts = BatchText::new();
        let mut e = k.read(None, &mut ImageStore::default(), &mut texts, fast);
        texts.finish(&mut e);
        format!("{e:?}")
    };
    assert_eq!(show(true), show(false));
}

#[test]
fn without_a_precision_a_kinesis_time_is_milliseconds() {
    // The Powertools sample (peer fixture) sends milliseconds and no precision.
    let change = CHANGE.replace("1763200000123456", "1763200000123").replace(
        r#""ApproximateCreationDateTimePrecision":"MICROSECOND","#,
        "",
    );
    let ev = event(&[record("1", &b64(&change))]);
    let k = KinesisEvent::decode(ev.as_bytes()).unwrap();
    let Entry::Record(r) = &k.entries().unwrap()[0] else {
        panic!()
    };
    assert_eq!(r.meta.time_precision, TimePrecision::Millisecond);
    assert_eq!(
        r.meta.approximate_creation_time.unwrap().to_string(),
        "2025-11-15T09:46:40.123Z"
    );
}

#[test]
fn a_record_that_is_no_dynamodb_change_fails_alone_saying_why() {
    let ev = event(&[
        record("1", &b64(CHANGE)),
        record("2", "not base64!"),
        record("3", &b64(r#"{"hello":"world"}"#)),
        record("4", &b64("plain text")),
        record(
            "5",
            &base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe]),
        ),
        record("6", &b64(&CHANGE.replace("MODIFY", "UPSERT"))),
        r#"{"kinesis":{"sequenceNumber":"7"},"eventSource":"aws:kinesis"}"#.to_string(),
        record("8", &b64(CHANGE)),
    ]);
    let got = outcomes(&ev);
    assert!(got[0].starts_with("ok 1 MODIFY"), "{}", got[0]);
    assert!(
        got[1].starts_with("broken 2") && got[1].contains("kinesis.data is not base64"),
        "{}",
        got[1]
    );
    assert!(
        got[2].starts_with("broken 3")
            && got[2].contains("kinesis.data is not a DynamoDB change record")
            && got[2].contains("dynamodb"),
        "{}",
        got[2]
    );
    assert!(
        got[3].starts_with("broken 4") && got[3].contains("kinesis.data is not JSON"),
        "{}",
        got[3]
    );
    assert!(
        got[4].starts_with("broken 5") && got[4].contains("not UTF-8"),
        "{}",
        got[4]
    );
    assert!(
        got[5].starts_with("broken 6 None") && got[5].contains("UPSERT"),
        "{}",
        got[5]
    );
    assert!(
        got[6].starts_with("broken 7") && got[6].contains("kinesis.data is missing"),
        "{}",
        got[6]
    );
    assert!(got[7].starts_with("ok 8"), "{}", got[7]);
}

#[test]
fn a_record_without_a_kinesis_sequence_number_makes_the_event_unreadable() {
    for bad in [
        r#"{"kinesis":{"data":"e30="},"eventSource":"aws:kinesis"}"#,
        r#"{"kinesis":{"sequenceNumber":"","data":"e30="},"eventSource":"aws:kinesis"}"#,
        r#"{"kinesis":{"sequenceNumber":5,"data":"e30="},"eventSource":"aws:kinesis"}"#,
    ] {
        let ev = event(&[record("1", &b64(CHANGE)), bad.to_string()]);
        match KinesisEvent::decode(ev.as_bytes()) {
            Err(EventError::NoSequenceNumber { index: 1, message }) => {
                assert!(message.contains("kinesis.sequenceNumber"), "{message}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        KinesisEvent::decode(b"[1]"),
        Err(EventError::Unreadable { .. })
    ));
}

#[test]
fn kinesis_events_are_told_from_dynamodb_streams_events_by_their_first_record() {
    let ddb = r#"{"Records":[{"eventName":"INSERT","eventSource":"aws:dynamodb","dynamodb":{"Keys":{"kinesis":{"S":"aws:kinesis"}},"SequenceNumber":"1"}}]}"#;
    assert!(!KinesisEvent::is_kinesis(ddb.as_bytes()));
    assert!(!KinesisEvent::is_kinesis(b"{\"Records\":[]}"));
    assert!(!KinesisEvent::is_kinesis(b"not json"));
    assert!(KinesisEvent::is_kinesis(
        br#"{"Records":[{"eventSource":"aws:kinesis","x":1}]}"#
    ));
    // A first record longer than the part read first.
    let long = CHANGE.replace(
        "\"n\":{\"N\":\"2\"}",
        &format!("\"n\":{{\"S\":\"{}\"}}", "é".repeat(5000)),
    );
    let ev = format!(
        r#"{{"Records":[{{"eventVersion":"{}","kinesis":{{"sequenceNumber":"1","data":"{}"}}}}]}}"#,
        "x".repeat(5000),
        b64(&long)
    );
    assert!(KinesisEvent::is_kinesis(ev.as_bytes()));
    assert!(outcomes(&ev)[0].starts_with("ok 1"));
}

#[test]
fn the_envelope_scan_reads_what_serde_reads() {
    let long_arrival = r#"{"kinesis":{"sequenceNumber":"9","data":"e30=","approximateArrivalTimestamp":1.7E9,"partitionKey":"a\"b"},"eventSource":"aws:kinesis","awsRegion":null}"#;
    for ev in [
        event(&[record("1", &b64(CHANGE)), record("2", "bm90IGpzb24=")]),
        event(&[long_arrival.to_string()]),
        r#"{"Records":[]}"#.to_string(),
    ] {
        let fast = super::super::scan::scan_kinesis(&ev).expect("the scan reads it");
        let slow: Vec<_> = KinesisEvent::read_by_serde(&ev)
            .unwrap()
            .into_iter()
            .map(|w| w.unwrap())
            .collect();
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{ev}");
    }
    // What the scan does not take, serde reads: a record broken past its sequence number
    // fails alone, naming the field; a sequence number given twice names no one record.
    let ev = event(&[r#"{"kinesis":{"sequenceNumber":"1","data":5}}"#.to_string()]);
    assert!(super::super::scan::scan_kinesis(&ev).is_none());
    let got = outcomes(&ev);
    assert!(
        got[0].starts_with("broken 1") && got[0].contains("data"),
        "{got:?}"
    );
    let ev = event(&[
        r#"{"kinesis":{"sequenceNumber":"1","sequenceNumber":"2","data":"e30="}}"#.to_string(),
    ]);
    assert!(super::super::scan::scan_kinesis(&ev).is_none());
    assert!(matches!(
        KinesisEvent::decode(ev.as_bytes()),
        Err(EventError::NoSequenceNumber { index: 0, .. })
    ));
}

#[test]
fn a_control_character_in_data_is_no_json_whichever_reader_reads_it() {
    // The scan takes the text between the quotes; serde refuses the string: both say the
    // event is unreadable.
    let ev = event(&[record("1", "e30\u{1}=")]);
    assert!(matches!(
        KinesisEvent::decode(ev.as_bytes()),
        Err(EventError::Unreadable { .. })
    ));
    // Escaped, it is JSON (what a JSON encoder writes for line-wrapped base64): that
    // record fails alone, as any bad base64.
    let ev = event(&[record("1", "e30=\\n"), record("2", &b64(CHANGE))]);
    let got = outcomes(&ev);
    assert!(
        got[0].starts_with("broken 1") && got[0].contains("not base64"),
        "{got:?}"
    );
    assert!(got[1].starts_with("ok 2"), "{got:?}");
    // An escape in data is read as JSON reads it (`\/` is `/`): `?>` in the change makes
    // a `/` in its base64.
    let change = CHANGE.replace(r#""n":{"N":"2"}"#, r#""n":{"N":"2"},"q":{"S":"??>"}"#);
    let data = b64(&change);
    assert!(data.contains('/'), "{data}");
    let ev = event(&[record("1", &data.replace('/', "\\/"))]);
    assert!(outcomes(&ev)[0].starts_with("ok 1"), "{:?}", outcomes(&ev));
}
