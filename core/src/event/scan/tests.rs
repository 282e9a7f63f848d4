//! The scan reads exactly what the serde path reads, or gives up: checked on generated events
//! with fields in any order, odd whitespace, escapes, unknown fields, nulls, duplicates and
//! wrong types, and on random damage to them.

use proptest::prelude::*;

use super::*;
use crate::event::{entry, Entry, WireEvent};

/// What the serde path makes of `json` (`None`: it rejects the batch as a whole).
fn serde_path(json: &str) -> Option<String> {
    let ev: WireEvent<'_> = serde_json::from_str(json).ok()?;
    // A record without a sequence number: the reader's slow path makes the event unreadable,
    // which the scan leaves to it.
    if ev
        .records
        .iter()
        .any(|r| r.dynamodb.sequence_number.is_none())
    {
        return None;
    }
    let mut texts = BatchText::new();
    let mut entries: Vec<Entry<'_>> = ev
        .records
        .into_iter()
        .map(|w| entry(w, Predecoded::default(), &mut texts))
        .collect();
    texts.finish(&mut entries);
    Some(format!("{entries:?}"))
}

/// A hook that "decodes" an image by reading it as JSON, and declines every third one.
struct CountingHook {
    calls: std::cell::Cell<usize>,
    lookups: std::cell::Cell<usize>,
}

impl ImageHook for CountingHook {
    fn model(&self, keys: &Keys<'_>) -> Option<usize> {
        self.lookups.set(self.lookups.get() + 1);
        keys.get("PK").map(|_| 7)
    }
    fn decode(
        &self,
        model: usize,
        _kind: Option<ChangeKind>,
        _side: ImageSide,
        json: &str,
        store: &mut ImageStore,
    ) -> Option<(usize, usize)> {
        assert_eq!(model, 7);
        let n = self.calls.get() + 1;
        self.calls.set(n);
        if n.is_multiple_of(3) {
            return None;
        }
        let mut values = serde_json::Deserializer::from_str(json).into_iter::<IgnoredAny>();
        values.next()?.ok()?;
        let len = values.byte_offset();
        Some((store.put(model, json[..len].to_string())?, len))
    }
}

/// What the scan makes of `json`, images checked against what the hook decoded.
fn scan_path(json: &str, hook: bool) -> Option<String> {
    let counting = CountingHook {
        calls: std::cell::Cell::new(0),
        lookups: std::cell::Cell::new(0),
    };
    let mut store = ImageStore::default();
    let records = scan_with(
        json,
        hook.then_some(&counting as &dyn ImageHook),
        &mut store,
        |w, p| (w, p),
    )?;
    let mut entries = Vec::new();
    let mut texts = BatchText::new();
    for (wire, mut pre) in records {
        // A decoded image is the image the record carries.
        let (new, old) = (
            wire.dynamodb.new_image.as_ref().map(|i| i.0),
            wire.dynamodb.old_image.as_ref().map(|i| i.0),
        );
        for (decoded, text) in [(pre.new.take(), new), (pre.old.take(), old)] {
            if let Some(slot) = decoded {
                let d = store.take::<String>(7, slot).expect("the hook's value");
                assert_eq!(Some(d.as_str()), text);
            }
        }
        if hook {
            // Looked up, found or not.
            let found = wire.dynamodb.keys.get("PK").map(|_| 7);
            assert_eq!(pre.model, Some(found));
        }
        entries.push(entry(wire, Predecoded::default(), &mut texts));
    }
    texts.finish(&mut entries);
    // Each record's model is looked up once at most, matched or not.
    assert!(
        counting.lookups.get() <= entries.len(),
        "{} lookups for {} records",
        counting.lookups.get(),
        entries.len()
    );
    Some(format!("{entries:?}"))
}

/// A JSON value as text, sometimes of the wrong type.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 #:-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        1 => Just(r#""esc\"aped\\ \u0041\n""#.to_string()),
        1 => lone_surrogate(),
        1 => Just("null".to_string()),
        1 => Just("12".to_string()),
        1 => Just("1700000000.125".to_string()),
        1 => Just("true".to_string()),
        1 => Just(r#"{"x": [1, {"y": null}]}"#.to_string()),
        1 => Just("[]".to_string()),
    ]
}

/// Mostly what the field should hold, sometimes anything.
fn mostly(good: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    prop_oneof![10 => good, 1 => scalar()].boxed()
}

/// A string or null, as optional string fields hold.
fn opt_str() -> BoxedStrategy<String> {
    mostly(prop_oneof![
        14 => "[a-zA-Z0-9 :/-]{0,24}".prop_map(|s| format!("\"{s}\"")),
        1 => Just(r#""esc\"aped \u00e9\t""#.to_string()),
        1 => lone_surrogate(),
        1 => Just("null".to_string()),
    ])
}

/// A value usually the same in every record of a batch (an ARN, a region): one of a few
/// texts, so records of one event often repeat the last one's, among them a text that is a
/// prefix of another, the same text escaped, with whitespace before it, and any other value.
fn repeating() -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just("\"arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00.000\"".to_string()),
        2 => Just("\"arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00\"".to_string()),
        2 => Just("\"eu-west-1\"".to_string()),
        1 => Just("\"eu-west-\\u0031\"".to_string()),
        1 => Just(" \"eu-west-1\"".to_string()),
        1 => Just("\"eu-west-1\u{e9}\"".to_string()),
        2 => opt_str(),
    ]
    .boxed()
}

/// A JSON string with an unpaired surrogate escape somewhere (or, now and then, a proper
/// pair, which is one character): what re-encoders that split UTF-16 write.
fn lone_surrogate() -> BoxedStrategy<String> {
    (
        "[a-z]{0,3}",
        prop::sample::select(vec![
            r"\ud83d",
            r"\uD83D",
            r"\udc00",
            r"\ud83d\u0041",
            r"\ud83d\n",
            r"\ud83d\ud83d",
            r"\ud83d\ude00",
        ]),
        "[a-z]{0,3}",
    )
        .prop_map(|(a, esc, b)| format!("\"{a}{esc}{b}\""))
        .boxed()
}

/// Number forms re-serializers write for an integer (`77.0`, `7.7E1`, `-0`), and some that
/// are no integer at all.
fn number_form() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        "26", "77.0", "7.7E1", "770e-1", "-0", "0.0", "77.5", "-5", "1e400", "1E2", "\"26\"",
    ])
    .prop_map(str::to_string)
    .boxed()
}

fn ws() -> impl Strategy<Value = String> {
    prop_oneof![6 => Just(String::new()), 1 => Just(" ".to_string()), 1 => Just("\n\t ".to_string())]
}

fn keys() -> impl Strategy<Value = String> {
    prop_oneof![
        48 => ("[a-z]{1,6}", "[0-9]{1,3}").prop_map(|(a, b)| format!(r#"{{"PK": {{"S": "ITEM#{a}"}}, "SK": {{"N": "{b}"}}}}"#)),
        1 => Just(r#"{"PK": {"S": "A\"B"}}"#.to_string()),
        1 => Just(r#"{"PK": {"B": "AAE="}, "SK": {"N": "-1.5e3"}}"#.to_string()),
        1 => Just(r#"{ "PK" : { "\u0053" : "x" } , "S\u004b": {"S": "y\u00e9"} }"#.to_string()),
        1 => Just(r#"{"PK": {"S": "a", "N": "1"}}"#.to_string()),
        1 => Just(r#"{"PK": {"X": "a"}}"#.to_string()),
        1 => Just(r#"{"PK": {"S": 5}}"#.to_string()),
        1 => Just(r#"{"PK": {"S": null}}"#.to_string()),
        1 => Just(r#"{"PK": {}}"#.to_string()),
        1 => Just(r#"{"PK": {"S": "a"}, "PK": {"S": "b"}}"#.to_string()),
        1 => Just(r#"{"PK": {"S": "a"}, "SK": {"S": "1"}, "SK": {"S": "9"}}"#.to_string()),
        1 => lone_surrogate().prop_map(|s| format!(r#"{{"PK": {{"S": {s}}}}}"#)),
        1 => lone_surrogate().prop_map(|s| format!(r#"{{{s}: {{"S": "a"}}}}"#)),
        1 => Just(r#"{"PK": "a"}"#.to_string()),
        1 => Just(r#"{"PK": {"BOOL": true}}"#.to_string()),
        1 => Just("{}".to_string()),
        1 => Just("null".to_string()),
    ]
}

fn image() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z]{0,8}".prop_map(|s| format!(r#"{{"PK": {{"S": "x"}}, "name": {{"S": "{s}"}}, "n": {{"N": "1"}}, "l": {{"L": [{{"NULL": true}}]}}}}"#)),
        1 => Just("{}".to_string()),
        1 => Just("null".to_string()),
        1 => Just("\"not an image\"".to_string()),
        1 => Just(r#"{"a": {"S": "x"}, "a": {"S": "y"}}"#.to_string()),
        1 => lone_surrogate().prop_map(|s| format!(r#"{{"a": {{"S": {s}}}}}"#)),
    ]
}

/// Fields of an object, shuffled, each sometimes left out or written twice.
fn object(fields: Vec<BoxedStrategy<(String, String)>>) -> impl Strategy<Value = String> {
    let n = fields.len();
    (
        fields,
        proptest::collection::vec(0..60u8, n),
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        ws(),
    )
        .prop_map(|(fields, presence, order, ws)| {
            let mut parts = Vec::new();
            for i in order {
                let (name, value) = &fields[i];
                match presence[i] {
                    0 => {} // absent
                    1 => {
                        parts.push(format!("\"{name}\":{value}"));
                        parts.push(format!("\"{name}\": {value}")); // duplicate
                    }
                    _ => parts.push(format!("{ws}\"{name}\"{ws}:{ws}{value}{ws}")),
                }
            }
            format!("{{{}}}", parts.join(","))
        })
}

/// A member nobody reads, whose name now and then holds an unpaired surrogate escape.
fn surrogate_named() -> BoxedStrategy<(String, String)> {
    let name = prop_oneof![
        12 => Just("Extra".to_string()),
        1 => lone_surrogate().prop_map(|n| n.trim_matches('"').to_string()),
    ];
    (name, scalar()).boxed()
}

fn field(
    name: &'static str,
    value: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<(String, String)> {
    value.prop_map(move |v| (name.to_string(), v)).boxed()
}

fn dynamodb() -> impl Strategy<Value = String> {
    object(vec![
        field(
            "ApproximateCreationDateTime",
            mostly(prop_oneof![
                Just("1700000000.907".to_string()),
                Just("1.7e9".to_string()),
                Just("1763200000123".to_string()),
                Just("null".to_string())
            ]),
        ),
        field(
            "ApproximateCreationDateTimePrecision",
            mostly(prop_oneof![
                Just("\"MILLISECOND\"".to_string()),
                Just("\"MICROSECOND\"".to_string()),
                Just("\"SECOND\"".to_string()),
                Just("null".to_string()),
                Just("3".to_string())
            ]),
        ),
        field("Keys", keys()),
        field("NewImage", image()),
        field("OldImage", image()),
        field(
            "SequenceNumber",
            mostly("[0-9]{1,20}".prop_map(|s| format!("\"{s}\""))),
        ),
        field(
            "SizeBytes",
            mostly(prop_oneof![
                Just("26".to_string()),
                number_form(),
                Just("null".to_string())
            ]),
        ),
        field(
            "StreamViewType",
            mostly(prop_oneof![
                Just("\"NEW_AND_OLD_IMAGES\"".to_string()),
                Just("\"KEYS_ONLY\"".to_string()),
                repeating()
            ]),
        ),
        field("Unknown", scalar()),
        surrogate_named(),
    ])
}

fn record() -> impl Strategy<Value = String> {
    object(vec![
        field("eventID", opt_str()),
        field(
            "eventName",
            mostly(prop_oneof![
                Just("\"INSERT\"".to_string()),
                Just("\"MODIFY\"".to_string()),
                Just("\"REM\\u004fVE\"".to_string()),
                opt_str()
            ]),
        ),
        field("eventSourceARN", repeating()),
        field("awsRegion", repeating()),
        field("eventVersion", scalar()),
        field(
            "userIdentity",
            mostly(prop_oneof![
                Just(r#"{"type": "Service", "principalId": "dynamodb.amazonaws.com"}"#.to_string()),
                Just("null".to_string())
            ]),
        ),
        field("dynamodb", dynamodb().boxed()),
        surrogate_named(),
    ])
}

fn event() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(record(), 0..5),
        ws(),
        prop_oneof![6 => Just(""), 1 => Just(r#""Other": [1, 2], "#)],
    )
        .prop_map(|(records, ws, other)| {
            format!("{ws}{{{other}\"Records\":{ws}[{}]}}{ws}", records.join(","))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn scan_reads_what_serde_reads(json in event()) {
        let want = serde_path(&json);
        prop_assert_eq!(scan_path(&json, false), want.clone(), "{}", json);
        prop_assert_eq!(scan_path(&json, true), want, "{}", json);
    }

    #[test]
    fn damaged_events_are_read_the_same_or_left_to_serde(
        json in event(),
        at in any::<prop::sample::Index>(),
        damage in prop_oneof![Just(None), prop::sample::select(vec!['{', '}', '[', ']', '"', ',', ':', '\\', ' ', 'a', '1', '\u{1}', 'é']).prop_map(Some)],
    ) {
        let mut chars: Vec<char> = json.chars().collect();
        if chars.is_empty() { return Ok(()); }
        let i = at.index(chars.len());
        match damage {
            None => { chars.remove(i); }
            Some(c) => chars.insert(i, c),
        }
        let json: String = chars.into_iter().collect();
        let want = serde_path(&json);
        for hook in [false, true] {
            if let Some(got) = scan_path(&json, hook) {
                prop_assert_eq!(Some(got), want.clone(), "{}", json);
            }
        }
    }
}

/// Each record's outcome as the whole reader (`fast`: scan first) reports it, positions in the
/// event left out (they differ with the neighbours): `Err` when the event is unreadable.
fn outcomes(json: &str, fast: bool) -> Result<Vec<String>, String> {
    let mut texts = BatchText::new();
    let mut store = ImageStore::default();
    let mut entries =
        crate::event::read_batch_by(json.as_bytes(), None, &mut store, &mut texts, fast).map_err(
            |e| match e {
                crate::event::EventError::Unreadable { .. } => "unreadable".to_string(),
                crate::event::EventError::NoSequenceNumber { .. } => {
                    "no sequence number".to_string()
                }
                crate::event::EventError::OtherKind { .. } => "other kind".to_string(),
            },
        )?;
    texts.finish(&mut entries);
    Ok(entries
        .iter()
        .map(|e| match e {
            Entry::Record(r) => format!("{r:?}"),
            Entry::Broken(b) => {
                let message = match b.message.find(" (line ") {
                    Some(at) if b.message.ends_with(" of the event)") => &b.message[..at],
                    _ => &b.message,
                };
                format!("broken {} {:?}: {message}", b.sequence_number, b.kind)
            }
        })
        .collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// One reading of every record, whichever reader reads it: a record reads the same alone
    /// as among any neighbours (which decide whether the scan, serde's whole-batch pass or the
    /// per-record fallback reads it), with and without the scan; and the event is unreadable
    /// exactly when one of its records alone would make it so.
    #[test]
    fn a_record_reads_the_same_whichever_reader_reads_it(records in proptest::collection::vec(record(), 1..5)) {
        let event = |rs: &[String]| format!(r#"{{"Records":[{}]}}"#, rs.join(","));
        let whole = event(&records);
        let fast = outcomes(&whole, true);
        prop_assert_eq!(&fast, &outcomes(&whole, false), "{}", whole);
        let alone: Vec<Result<Vec<String>, String>> = records
            .iter()
            .map(|r| outcomes(&event(std::slice::from_ref(r)), true))
            .collect();
        match &fast {
            Ok(entries) => {
                for (i, one) in alone.iter().enumerate() {
                    prop_assert_eq!(Ok(vec![entries[i].clone()]), one.clone(), "record {} of {}", i, whole);
                }
            }
            Err(_) => prop_assert!(alone.iter().any(Result::is_err), "{:?}: {}", fast, whole),
        }
    }
}

#[test]
fn typical_events_take_the_fast_path() {
    let aws = r#"{"Records":[{"eventID":"1","eventName":"INSERT","eventVersion":"1.0","eventSource":"aws:dynamodb","awsRegion":"us-east-1",
        "dynamodb":{"Keys":{"Id":{"N":"101"}},"NewImage":{"Message":{"S":"New item!"},"Id":{"N":"101"}},"SequenceNumber":"111","SizeBytes":26,"StreamViewType":"NEW_AND_OLD_IMAGES"},
        "eventSourceARN":"arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2015-06-27T00:48:05.899"}]}"#;
    assert!(scan(aws, None, &mut ImageStore::default(), &mut BatchText::new()).is_some());
    assert_eq!(scan_path(aws, false), serde_path(aws));
    // Each thing the scan leaves to serde.
    for odd in [
        r#"{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":"1"},"dynamodb":{"SequenceNumber":"2"}}]}"#,
        r#"{"Records":[{"eventName":"INSERT","dynamodb":{"SequenceNumber":1}}]}"#,
        r#"{"Records":[{"eventName":"INSERT","dynamodb":{}}]}"#,
        r#"{"Records":[{"eventName":"INSERT"}]}"#,
        r#"{"Records":[]} x"#,
        r#"{"Records":null}"#,
        r#"{}"#,
    ] {
        assert!(
            scan(odd, None, &mut ImageStore::default(), &mut BatchText::new()).is_none(),
            "{odd}"
        );
    }
    assert!(scan(
        r#" {"Records" : [ ] } "#,
        None,
        &mut ImageStore::default(),
        &mut BatchText::new()
    )
    .is_some());
}

/// A value alike in every record is compared with the last record's, not searched: each
/// record still gets its own text, and a value that differs (longer, shorter, escaped, with
/// whitespace, `null`) is read as any string.
#[test]
fn values_alike_in_every_record_read_as_their_own_text() {
    let record = |arn: &str, region: &str, view: &str| {
        format!(
            r#"{{"eventID":"1","eventName":"INSERT","awsRegion":{region},"eventSourceARN":{arn},
            "dynamodb":{{"Keys":{{"Id":{{"N":"1"}}}},"SequenceNumber":"1","StreamViewType":{view}}}}}"#
        )
    };
    let arn = r#""arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00.000""#;
    let event = format!(
        r#"{{"Records":[{}]}}"#,
        [
            record(arn, r#""eu-west-1""#, r#""KEYS_ONLY""#),
            record(arn, r#""eu-west-1""#, r#""KEYS_ONLY""#),
            record(
                r#""arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00.0001""#,
                r#""eu-west-1x""#,
                r#""KEYS_ONLYX""#
            ),
            record(
                r#""arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00.00""#,
                r#""eu-west-""#,
                r#""KEYS_""#
            ),
            record(arn, r#""eu-west-\u0031""#, "null"),
            record(arn, r#" "eu-west-1""#, r#""KEYS_ONLY""#),
            record(arn, r#""eu-west-1""#, r#""KEYS_ONLY""#),
        ]
        .join(",")
    );
    assert!(scan(
        &event,
        None,
        &mut ImageStore::default(),
        &mut BatchText::new()
    )
    .is_some());
    assert_eq!(scan_path(&event, false), serde_path(&event));
    let mut texts = BatchText::new();
    let records = scan(&event, None, &mut ImageStore::default(), &mut texts).expect("scanned");
    let read: Vec<(Option<String>, Option<String>, Option<String>)> = records
        .iter()
        .map(|e| match e {
            Entry::Record(r) => (
                r.event_source_arn.as_deref().map(str::to_string),
                r.aws_region.as_deref().map(str::to_string),
                r.meta.stream_view_type.as_ref().map(|v| v.to_string()),
            ),
            Entry::Broken(b) => panic!("{}", b.message),
        })
        .collect();
    let arn = &arn[1..arn.len() - 1];
    let s = |t: &str| Some(t.to_string());
    assert_eq!(
        read,
        [
            (s(arn), s("eu-west-1"), s("KEYS_ONLY")),
            (s(arn), s("eu-west-1"), s("KEYS_ONLY")),
            (
                s("arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00.0001"),
                s("eu-west-1x"),
                s("KEYS_ONLYX")
            ),
            (
                s("arn:aws:dynamodb:eu-west-1:1:table/T/stream/2026-11-01T00:00:00.00"),
                s("eu-west-"),
                s("KEYS_")
            ),
            (s(arn), s("eu-west-1"), None),
            (s(arn), s("eu-west-1"), s("KEYS_ONLY")),
            (s(arn), s("eu-west-1"), s("KEYS_ONLY")),
        ]
    );
}

/// The generator is not vacuous: many of its events are whole batches serde reads (so the
/// comparison above compares records, not two refusals), and the fast path takes them.
#[test]
fn generated_events_are_often_readable() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut readable, mut records) = (0, 0);
    for _ in 0..400 {
        let json = event().new_tree(&mut runner).expect("tree").current();
        if let Some(entries) = scan(
            &json,
            None,
            &mut ImageStore::default(),
            &mut BatchText::new(),
        ) {
            readable += 1;
            records += entries.len();
        }
    }
    assert!(
        readable >= 40 && records >= 25,
        "{readable} readable events, {records} records"
    );
    // The isolation law compares records, not two refusals: many records read alone, and
    // many fail alone.
    let (mut read, mut broken) = (0, 0);
    for _ in 0..400 {
        let one = record().new_tree(&mut runner).expect("tree").current();
        if let Ok(entries) = outcomes(&format!(r#"{{"Records":[{one}]}}"#), true) {
            if entries[0].starts_with("broken") {
                broken += 1;
            } else {
                read += 1;
            }
        }
    }
    assert!(
        read >= 40 && broken >= 40,
        "{read} read, {broken} broken alone"
    );
}

#[test]
fn the_store_gives_back_each_image_once_across_chunks() {
    let mut store = ImageStore::default();
    // Two models interleaved, each past several chunk boundaries.
    let slots: Vec<(usize, usize, String)> = (0..3 * CHUNK + 5)
        .flat_map(|i| [(0, format!("a{i}")), (2, format!("b{i}"))])
        .map(|(model, v)| (model, store.put(model, v.clone()).expect("slot"), v))
        .collect();
    assert_eq!(store.take::<u32>(0, 0), None, "another type is not there");
    for (model, slot, v) in &slots {
        assert_eq!(store.take::<String>(*model, *slot).as_ref(), Some(v));
        assert_eq!(store.take::<String>(*model, *slot), None, "taken once");
    }
    assert_eq!(store.take::<String>(1, 0), None, "no column for model 1");
    assert_eq!(store.take::<String>(0, 3 * CHUNK + 5), None, "past the end");
}

/// The scan's number token is serde_json's: the same text accepted, the same refused.
#[test]
fn number_tokens_end_where_serde_json_ends_them() {
    for t in [
        "0",
        "-0",
        "7",
        "-7",
        "1700000000",
        "1700000000.907",
        "1.5e3",
        "1.5E-3",
        "1e+9",
        "0.0",
        "01",
        "-01",
        "1.",
        "1.e5",
        ".5",
        "-",
        "--1",
        "1e",
        "1e+",
        "+1",
        "1ee5",
        "0x10",
        "1_0",
        "Infinity",
        "NaN",
        "",
    ] {
        let json = format!("{t},");
        let ours = json_number_end(json.as_bytes(), 0)
            .filter(|&end| json.as_bytes().get(end) == Some(&b','))
            .map(|end| &json[..end]);
        let theirs = serde_json::from_str::<&serde_json::value::RawValue>(t)
            .ok()
            .map(|r| r.get());
        assert_eq!(ours, theirs, "{t:?}");
        // And in a record: the scan reads the event as the serde path does, or leaves it.
        let event = format!(
            r#"{{"Records":[{{"eventID":"1","eventName":"INSERT","dynamodb":{{"ApproximateCreationDateTime":{t},"Keys":{{"PK":{{"S":"a"}}}},"SequenceNumber":"1","SizeBytes":5}}}}]}}"#
        );
        let scanned = scan_path(&event, false);
        if scanned.is_some() {
            assert_eq!(scanned, serde_path(&event), "{t:?}");
        }
        assert_eq!(
            scanned.is_some(),
            theirs.is_some(),
            "{t:?}: a number token takes the scan's path, anything else serde_json's"
        );
    }
}
