//! The DynamoDB Streams event as Lambda delivers it, read lazily: the envelope and `Keys` of
//! every record, with `NewImage` / `OldImage` kept as unparsed JSON until a handler needs them.
//! (The router's own pass goes one step further: an image whose record's keys are already
//! known is decoded into its model as the pass reaches it, so it is read once; see `scan`.)
//!
//! Accepts what AWS sends, what `sam local generate-event dynamodb` writes, and moto's
//! `GetRecords` output with `eventSourceARN` added; and, through [`KinesisEvent`], the Kinesis
//! events Kinesis Data Streams for DynamoDB delivers.

mod arn;
mod error;
mod keys;
mod kind;
mod kinesis;
mod record;
mod scan;
mod text;
mod timestamp;
mod wire;

pub use arn::{KinesisStreamArn, StreamArn};
pub use error::{EventError, ImageSide};
pub use keys::{KeyAttribute, KeyValue, Keys};
pub use kind::{ChangeKind, StreamViewType};
pub use kinesis::KinesisEvent;
pub use record::{BrokenRecord, Entry, KinesisInfo, Record, RecordMeta, Transport};
pub(crate) use scan::{ImageHook, ImageStore, Predecoded};
pub(crate) use text::BatchText;
pub use text::{SequenceNumber, SharedStr};
pub use timestamp::{TimePrecision, Timestamp, TimestampError, LATEST_SECS};
#[cfg(any(test, feature = "fuzz"))]
pub(crate) use wire::read_batch_by;
#[cfg(test)]
use wire::WireEvent;
use wire::{entry, read_batch, Image, RawJson, SizeBytes, StreamRecord, UserIdentity, WireRecord};

/// Reads a batch: every record's envelope and keys, images left unparsed.
///
/// One malformed record becomes an [`Entry::Broken`]; only an event that is not a JSON object
/// with a `Records` array, or a record whose sequence number cannot be read (so Lambda could not
/// be told which record failed), is an [`EventError`].
pub fn parse_batch(json: &[u8]) -> Result<Vec<Entry<'_>>, EventError> {
    parse_batch_with(json, None, &mut ImageStore::default())
}

/// [`parse_batch`], decoding images in the same pass where `hook` (the router) can, into
/// `store`.
pub(crate) fn parse_batch_with<'a>(
    json: &'a [u8],
    hook: Option<&dyn ImageHook>,
    store: &mut ImageStore,
) -> Result<Vec<Entry<'a>>, EventError> {
    let mut texts = BatchText::new();
    let mut entries = read_batch(json, hook, store, &mut texts)?;
    texts.finish(&mut entries);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn timestamps_are_exact() {
        let t = |s: &str| {
            Timestamp::from_epoch_seconds_text(s).map(|t| (t.unix_seconds(), t.subsec_nanos()))
        };
        assert_eq!(t("1479499740"), Some((1479499740, 0)));
        assert_eq!(t("1700000000.907"), Some((1700000000, 907_000_000)));
        assert_eq!(t("1.700000000907E9"), Some((1700000000, 907_000_000)));
        assert_eq!(t("1.7E9"), Some((1700000000, 0)));
        assert_eq!(
            t("1700000000.123456789123"),
            Some((1700000000, 123_456_789))
        );
        assert_eq!(t("0.5"), Some((0, 500_000_000)));
        assert_eq!(t("-1"), None);
        assert_eq!(t("5E-10"), Some((0, 0)));
        assert_eq!(t("25E-10"), Some((0, 2)));
        assert_eq!(t("1e-999999"), Some((0, 0)));
        // Beyond ±1e6 the exponent is no number text (decode::number::MAX_EXPONENT_TEXT).
        assert_eq!(t("1e-9999999999999"), None);
        assert_eq!(t("1e19"), None);
        assert_eq!(t("999999999999999999"), Some((999_999_999_999_999_999, 0)));
        assert_eq!(t("\"x\""), None);
        let ts = Timestamp::from_epoch_seconds_text("1479499740.907").unwrap();
        assert_eq!(ts.to_string(), "2016-11-18T20:09:00.907Z");
        assert_eq!(
            Timestamp::new(0, 0).unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::new(951_782_400, 0).unwrap().to_string(),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn creation_times_honour_their_precision_or_fail_naming_the_field() {
        let t = |s: &str, p: Option<&str>| {
            Timestamp::from_creation_date_time(s, p)
                .map(|t| (t.unix_seconds(), t.subsec_nanos()))
                .map_err(|e| e.to_string())
        };
        assert_eq!(t("1763200000", None), Ok((1_763_200_000, 0)));
        assert_eq!(t("1763200000.5", None), Ok((1_763_200_000, 500_000_000)));
        assert_eq!(
            t("1763200000123", Some("MILLISECOND")),
            Ok((1_763_200_000, 123_000_000))
        );
        assert_eq!(
            t("1763200000123456", Some("MICROSECOND")),
            Ok((1_763_200_000, 123_456_000))
        );
        assert_eq!(
            t("1.763200000123E12", Some("MILLISECOND")),
            Ok((1_763_200_000, 123_000_000))
        );
        // The last second of the year 9999 is taken; the next one is not.
        assert_eq!(t("253402300799", None), Ok((LATEST_SECS, 0)));
        let e = t("253402300800", None).unwrap_err();
        assert!(e.contains("after the year 9999"), "{e}");
        // Milliseconds read as seconds (the year 57843): refused, with the way out.
        let e = t("1763200000123", None).unwrap_err();
        assert!(e.starts_with("ApproximateCreationDateTime 1763200000123 is after the year 9999 read as epoch seconds"), "{e}");
        assert!(e.contains("ApproximateCreationDateTimePrecision"), "{e}");
        // Microseconds read as milliseconds.
        let e = t("1763200000123456", Some("MILLISECOND")).unwrap_err();
        assert!(
            e.contains("epoch milliseconds") && !e.contains("needs"),
            "{e}"
        );
        let e = t("1763200000", Some("NANOSECOND")).unwrap_err();
        assert!(
            e.contains("\"NANOSECOND\" is not MILLISECOND or MICROSECOND"),
            "{e}"
        );
        let e = t("-5", None).unwrap_err();
        assert!(
            e.contains("not a non-negative epoch time in seconds"),
            "{e}"
        );
    }

    #[test]
    fn a_record_whose_creation_time_cannot_be_what_it_claims_fails_alone() {
        let record = |seq: &str, time: &str, precision: &str| {
            format!(
                r#"{{"eventName":"INSERT","dynamodb":{{"ApproximateCreationDateTime":{time},{precision}"Keys":{{"PK":{{"S":"a"}}}},"SequenceNumber":"{seq}"}}}}"#
            )
        };
        let ev = rec(&[
            record("1", "1763200000", ""),
            record("2", "1763200000123", ""),
            record(
                "3",
                "1763200000123",
                r#""ApproximateCreationDateTimePrecision":"MILLISECOND","#,
            ),
        ]
        .join(","));
        let entries = parse_batch(ev.as_bytes()).unwrap();
        let time = |e: &Entry<'_>| match e {
            Entry::Record(r) => r.meta.approximate_creation_time.map(|t| t.to_string()),
            Entry::Broken(b) => panic!("{}", b.message),
        };
        assert_eq!(time(&entries[0]).as_deref(), Some("2025-11-15T09:46:40Z"));
        assert!(
            matches!(&entries[1], Entry::Broken(b) if b.sequence_number == "2" && b.message.contains("ApproximateCreationDateTime 1763200000123 is after the year 9999")),
            "{:?}",
            entries[1]
        );
        assert_eq!(
            time(&entries[2]).as_deref(),
            Some("2025-11-15T09:46:40.123Z")
        );
    }

    proptest::proptest! {
        /// The plain form's shortcut agrees with the exponent arithmetic: the same number
        /// written with an exponent takes the general path.
        #[test]
        fn plain_timestamps_read_as_with_an_exponent(int in "[1-9][0-9]{0,19}|0", frac in proptest::option::of("[0-9]{1,12}")) {
            let plain = match &frac { Some(f) => format!("{int}.{f}"), None => int.clone() };
            let digits = format!("{int}{}0", frac.as_deref().unwrap_or(""));
            let shifted = format!("{digits}e-{}", frac.as_deref().map_or(0, str::len) + 1);
            proptest::prop_assert_eq!(
                Timestamp::from_epoch_seconds_text(&plain),
                Timestamp::from_epoch_seconds_text(&shifted),
                "{} vs {}", plain, shifted
            );
        }
    }

    fn rec(body: &str) -> String {
        format!(r#"{{"Records":[{body}]}}"#)
    }

    #[test]
    fn keys_keep_their_order_past_the_inline_two() {
        let attr = |n: &'static str, v: &'static str| (Cow::Borrowed(n), KeyValue::S(v.into()));
        let mut keys = Keys::default();
        assert!(keys.is_empty());
        keys.push("PK".into(), KeyValue::S("a".into()));
        keys.push("SK".into(), KeyValue::N("1".into()));
        keys.push("GSI1PK".into(), KeyValue::S("c".into()));
        assert!(!keys.is_empty());
        assert_eq!(keys.len(), 3);
        let names: Vec<&str> = keys.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["PK", "SK", "GSI1PK"]);
        assert_eq!(keys.s("GSI1PK"), Some("c"));
        assert_eq!(keys.s("SK"), None, "an N key has no string value");
        assert_eq!(keys.get("SK"), Some(&KeyValue::N("1".into())));
        assert_eq!(keys.to_string(), r#"PK="a", SK=N:1, GSI1PK="c""#);
        let owned = keys.clone().into_owned();
        assert_eq!(owned, keys);
        let collected: Keys<'_> = [attr("PK", "a"), attr("SK", "b"), attr("X", "c")]
            .into_iter()
            .collect();
        assert_eq!(collected.iter().count(), 3);
        assert_eq!(collected.s("X"), Some("c"));
    }

    #[test]
    fn reads_envelope_and_keys_lazily() {
        let ev = rec(
            r#"{"eventID":"1","eventName":"REMOVE","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},
               "dynamodb":{"ApproximateCreationDateTime":1700000000.5,"Keys":{"PK":{"S":"a\"b"},"SK":{"N":"1"}},
               "OldImage":{"x":{"S":"y"}},"SequenceNumber":"100","SizeBytes":12,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#,
        );
        let entries = parse_batch(ev.as_bytes()).unwrap();
        let Entry::Record(r) = &entries[0] else {
            panic!("broken")
        };
        assert_eq!(r.kind, ChangeKind::Remove);
        assert!(r.meta.ttl_expired);
        assert_eq!(r.keys.s("PK"), Some("a\"b"));
        assert_eq!(r.keys.get("SK"), Some(&KeyValue::N("1".into())));
        assert!(r.new_image.is_none());
        assert_eq!(r.old_image, Some(r#"{"x":{"S":"y"}}"#));
        assert_eq!(
            r.meta.approximate_creation_time.unwrap().subsec_nanos(),
            500_000_000
        );
        assert_eq!(
            r.meta.stream_view_type,
            Some(StreamViewType::NewAndOldImages)
        );
    }

    #[test]
    fn missing_time_is_none_and_client_remove_is_not_ttl() {
        let ev = rec(
            r#"{"eventName":"REMOVE","userIdentity":null,"dynamodb":{"Keys":{},"SequenceNumber":"1"}}"#,
        );
        let Entry::Record(r) = &parse_batch(ev.as_bytes()).unwrap()[0] else {
            panic!()
        };
        assert_eq!(r.meta.approximate_creation_time, None);
        assert!(!r.meta.ttl_expired);
    }

    #[test]
    fn one_bad_record_does_not_fail_the_batch() {
        let ev = rec(
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"1"}},
               {"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"BOOL":true}},"SequenceNumber":"2"}},
               {"eventName":"UPSERT","dynamodb":{"Keys":{},"SequenceNumber":"3"}}"#,
        );
        let entries = parse_batch(ev.as_bytes()).unwrap();
        assert!(matches!(entries[0], Entry::Record(_)));
        assert!(
            matches!(&entries[1], Entry::Broken(b) if b.sequence_number == "2" && b.message.contains("keys are S, N or B"))
        );
        assert!(matches!(&entries[2], Entry::Broken(b) if b.message.contains("UPSERT")));
    }

    #[test]
    fn unreadable_envelopes_are_event_errors() {
        assert!(matches!(
            parse_batch(b"not json"),
            Err(EventError::Unreadable { .. })
        ));
        assert!(matches!(
            parse_batch(b"{\"records\":[]}"),
            Err(EventError::Unreadable { .. })
        ));
        let no_seq = rec(r#"{"eventName":"INSERT","dynamodb":{"Keys":{}}}"#);
        assert!(matches!(
            parse_batch(no_seq.as_bytes()),
            Err(EventError::NoSequenceNumber { index: 0, .. })
        ));
        assert!(parse_batch(b"{\"Records\":[]}").unwrap().is_empty());
    }

    #[test]
    fn an_empty_sequence_number_is_one_rule_whatever_the_rest_of_the_record() {
        // Found by fuzzing `handle_event`: the fast scan (well-typed record), serde's whole-batch
        // pass and the per-record fallback (ill-typed record) must agree. An empty sequence
        // number cannot be reported, so the event is unreadable, as with a missing one.
        for (i, body) in [
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":""}}"#,
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"","SizeBytes":"x"}}"#,
            r#"{"eventName":"NOPE","dynamodb":{"Keys":{"PK":{"BOOL":true}},"SequenceNumber":""}}"#,
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"","ApproximateCreationDateTime":1e30}}"#,
        ]
        .into_iter()
        .enumerate()
        {
            let ev = format!(
                r#"{{"Records":[{{"eventName":"INSERT","dynamodb":{{"Keys":{{"PK":{{"S":"ok"}}}},"SequenceNumber":"1"}}}},{body}]}}"#
            );
            assert!(
                matches!(
                    parse_batch(ev.as_bytes()),
                    Err(EventError::NoSequenceNumber { index: 1, .. })
                ),
                "case {i}: {:?}",
                parse_batch(ev.as_bytes()).map(|e| e.len())
            );
        }
    }

    /// The entries of `body` (the records of an event), each as the outcome a reader reports.
    fn outcomes(body: &str) -> Result<Vec<String>, EventError> {
        let ev = rec(body);
        Ok(parse_batch(ev.as_bytes())?
            .iter()
            .map(|e| match e {
                Entry::Record(r) => format!(
                    "ok {} {} size={:?} keys={}",
                    r.meta.sequence_number, r.kind, r.meta.size_bytes, r.keys
                ),
                Entry::Broken(b) => {
                    format!("broken {} {:?}: {}", b.sequence_number, b.kind, b.message)
                }
            })
            .collect())
    }

    #[test]
    fn a_member_given_twice_fails_its_record_alone_naming_the_member() {
        let good =
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"1"}}"#;
        for (bad, member) in [
            // jsoncons#505, jiffy#162: duplicate members survive some re-serializers.
            (
                r#"{"eventName":"INSERT","eventName":"MODIFY","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"2"}}"#,
                "duplicate field `eventName`",
            ),
            (
                r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"},"SK":{"S":"1"},"SK":{"S":"9"}},"SequenceNumber":"2"}}"#,
                "dynamodb.Keys: key attribute \"SK\" is given twice",
            ),
            (
                r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"2","SequenceNumber":"2"}}"#,
                "duplicate field `SequenceNumber`",
            ),
            (
                r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"NewImage":{},"NewImage":{},"SequenceNumber":"2"}}"#,
                "duplicate field `NewImage`",
            ),
            (
                r#"{"eventName":"INSERT","userIdentity":{"type":"Service","type":"User"},"dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"2"}}"#,
                "duplicate field `type`",
            ),
        ] {
            let got = outcomes(&format!("{good},{bad},{good}")).unwrap();
            assert_eq!(got.len(), 3, "{bad}");
            assert!(got[0].starts_with("ok 1"), "{got:?}");
            assert!(
                got[1].starts_with("broken 2") && got[1].contains(member),
                "{bad}: {}",
                got[1]
            );
            assert!(got[2].starts_with("ok 1"), "{got:?}");
        }
        // The kind is named when every eventName agrees.
        let same = r#"{"eventName":"REMOVE","eventName":"REMOVE","dynamodb":{"Keys":{},"SequenceNumber":"3"}}"#;
        assert!(outcomes(same).unwrap()[0].starts_with("broken 3 Some(Remove)"));
        // Two different sequence numbers name no one record: the event cannot be answered.
        let two = r#"{"eventName":"INSERT","dynamodb":{"Keys":{},"SequenceNumber":"4","SequenceNumber":"5"}}"#;
        match outcomes(two) {
            Err(EventError::NoSequenceNumber { index: 0, message }) => {
                assert!(
                    message.contains("given twice with different values"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_new_image_the_stream_view_type_promises_must_be_there() {
        let body = |kind: &str, view: &str, images: &str| {
            format!(
                r#"{{"eventName":"{kind}","dynamodb":{{"Keys":{{"PK":{{"S":"a"}}}},{images}"SequenceNumber":"1","StreamViewType":"{view}"}}}}"#
            )
        };
        let new = r#""NewImage":{"a":{"S":"x"}},"#;
        let old = r#""OldImage":{"a":{"S":"x"}},"#;
        for (kind, view, images, fails) in [
            ("INSERT", "NEW_AND_OLD_IMAGES", old, Some("INSERT record has no NewImage, though its StreamViewType NEW_AND_OLD_IMAGES carries one")),
            ("INSERT", "NEW_AND_OLD_IMAGES", new, None),
            ("INSERT", "NEW_IMAGE", "", Some("INSERT record has no NewImage")),
            ("INSERT", "OLD_IMAGE", "", None),
            ("MODIFY", "NEW_AND_OLD_IMAGES", old, Some("MODIFY record has no NewImage")),
            // A missing OldImage reaches the handler as None, in every mode.
            ("MODIFY", "NEW_AND_OLD_IMAGES", new, None),
            ("MODIFY", "OLD_IMAGE", old, None),
            ("REMOVE", "NEW_AND_OLD_IMAGES", "", None),
            ("REMOVE", "NEW_IMAGE", "", None),
            ("REMOVE", "KEYS_ONLY", "", None),
            ("MODIFY", "SOMETHING_NEW", "", None),
        ] {
            let got = outcomes(&body(kind, view, images)).unwrap();
            match fails {
                Some(why) => assert!(got[0].starts_with("broken 1") && got[0].contains(why), "{kind} {view}: {}", got[0]),
                None => assert!(got[0].starts_with("ok 1"), "{kind} {view}: {}", got[0]),
            }
        }
    }

    #[test]
    fn size_bytes_is_informational_in_any_number_form() {
        for (size, read) in [
            ("77", Some(77)),
            ("77.0", Some(77)),
            ("7.7E1", Some(77)),
            ("770e-1", Some(77)),
            ("-0", Some(0)),
            ("77.5", None),
            ("-5", None),
            ("1e400", None),
            ("18446744073709551616", None),
            ("\"77\"", None),
            ("null", None),
            ("{}", None),
        ] {
            let body = format!(
                r#"{{"eventName":"INSERT","dynamodb":{{"Keys":{{"PK":{{"S":"a"}}}},"SequenceNumber":"1","SizeBytes":{size}}}}}"#
            );
            let got = outcomes(&body).unwrap();
            assert_eq!(
                got[0],
                format!("ok 1 INSERT size={read:?} keys=PK=\"a\""),
                "{size}"
            );
        }
    }

    #[test]
    fn a_lone_surrogate_is_named_in_the_inputs_terms() {
        for (field, value) in [
            ("eventID", r#""x\ud83dy""#),
            ("eventID", r#""\ud83d""#),
            ("eventID", r#""\udc00\u0041""#),
            ("eventSourceARN", r#""a\ud83d\n""#),
        ] {
            let body = format!(
                r#"{{"{field}":{value},"eventName":"INSERT","dynamodb":{{"Keys":{{"PK":{{"S":"a"}}}},"SequenceNumber":"1"}}}}"#
            );
            let got = outcomes(&body).unwrap();
            let escape = if value.contains("udc00") {
                "\\udc00"
            } else {
                "\\ud83d"
            };
            assert!(
                got[0].starts_with("broken 1")
                    && got[0].contains(&format!("{field}: lone surrogate {escape} in a string")),
                "{value}: {}",
                got[0]
            );
        }
        // In a member's name, of the record or of `dynamodb`: the record still fails alone
        // (the sequence number is read past the name).
        for body in [
            r#"{"x\ud83d":1,"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"5"}}"#,
            r#"{"eventName":"INSERT","dynamodb":{"\ud83d":1,"Keys":{"PK":{"S":"a"}},"SequenceNumber":"5"}}"#,
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"\ud83d":{"S":"a"}},"SequenceNumber":"5"}}"#,
        ] {
            let got = outcomes(body).unwrap();
            assert!(
                got[0].starts_with("broken 5") && got[0].contains("lone surrogate \\ud83d"),
                "{body}: {}",
                got[0]
            );
        }
        // A pair is one character.
        let body = r#"{"eventID":"\ud83d\ude00","eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"a"}},"SequenceNumber":"1"}}"#;
        assert!(outcomes(body).unwrap()[0].starts_with("ok 1"));
    }

    #[test]
    fn an_event_that_is_not_utf8_names_the_bad_byte() {
        // Multi-byte text reads (the scan's SIMD check accepts it); a lone continuation byte,
        // a truncated sequence or an overlong encoding is an invocation error saying where.
        let ok = rec(
            r#"{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"é→𝄞"}},"SequenceNumber":"1"}}"#,
        );
        let entries = parse_batch(ok.as_bytes()).unwrap();
        assert!(matches!(&entries[0], Entry::Record(r) if r.keys.s("PK") == Some("é→𝄞")));
        for bad in [&b"\x80"[..], b"\xe2\x86", b"\xc0\xaf"] {
            let mut ev = ok.clone().into_bytes();
            let at = ok.find('é').unwrap();
            ev.splice(at..at + 2, bad.iter().copied());
            match parse_batch(&ev) {
                Err(EventError::Unreadable { message }) => assert!(
                    message.starts_with("not UTF-8") && message.contains(&format!("index {at}")),
                    "{message}"
                ),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
