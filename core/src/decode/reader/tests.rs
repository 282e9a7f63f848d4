//! The direct reader's law: whenever it decodes an image, the reference path decodes the same
//! image to the same value and `schema_version` (and, in a longer text, to the same length).
//! Checked on generated images, clean and damaged, into targets that reach every deserializer;
//! the clean ones must actually be decoded by the direct reader, so the law is not vacuous.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::super::tests::{rand_item, Everything, Inner, Rand, Shape, Status, Tagged, EVERYTHING};
use super::super::{decode_image, decode_reference};
use super::*;

const SKIP: [&str; 2] = ["PK", "SK"];

/// Checks the law for `T` on `text`; true when the direct reader decoded it.
fn law<T: DeserializeOwned + PartialEq + Debug>(text: &str) -> Result<bool, TestCaseError> {
    let Some((value, version)) = decode::<T>(text, SKIP) else {
        return Ok(false);
    };
    let reference = decode_reference::<T>(text, SKIP, false);
    prop_assert!(
        reference.is_ok(),
        "direct reader decoded what the reference refuses: {text}\n{:?}\n{reference:?}",
        value
    );
    let (ref_value, ref_version) = reference.map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&value, &ref_value, "{}", text);
    prop_assert_eq!(&version, &ref_version, "{}", text);

    // The same image inside a longer text: same value, and the length of the image.
    let image = text.trim_end();
    let longer = format!("{image}, \"next\": {{\"S\": \"x\"}}}}");
    let prefix = decode_prefix::<T>(&longer, SKIP);
    prop_assert!(prefix.is_some(), "prefix not decoded: {}", longer);
    let ((p_value, p_version), len) = prefix.ok_or_else(|| TestCaseError::fail("prefix"))?;
    prop_assert_eq!(&p_value, &value);
    prop_assert_eq!(&p_version, &version);
    prop_assert_eq!(len, image.len());
    Ok(true)
}

// --- Targets. -----------------------------------------------------------------------------------

/// Every field a generated image may carry, each optional, of a type that reaches a different
/// path of the reader.
#[derive(Debug, PartialEq, Deserialize)]
struct Wide {
    name: Option<String>,
    count: Option<i64>,
    small: Option<u8>,
    price: Option<Decimal>,
    ratio: Option<f64>,
    tags: Option<BTreeSet<String>>,
    status: Option<Status>,
    shape: Option<Shape>,
    flag: Option<bool>,
    letter: Option<char>,
    #[serde(with = "serde_bytes", default)]
    blob: Option<Vec<u8>>,
    inner: Option<Inner>,
    list: Option<Vec<serde_json::Value>>,
    pair: Option<(String, i32)>,
    map: Option<HashMap<String, serde_json::Value>>,
    unit: Option<()>,
}

/// A struct that refuses what it does not know.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    name: String,
    #[serde(default)]
    count: i64,
}

/// serde's buffered paths (`deserialize_any` and its content replay).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Loose {
    Int(i64),
    Text(String),
    Flag(bool),
    List(Vec<Loose>),
    Map(BTreeMap<String, Loose>),
    Nothing(()),
}

#[derive(Debug, PartialEq, Deserialize)]
struct Flat {
    name: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

/// Borrowed strings where the text allows.
#[derive(Debug, PartialEq, Deserialize)]
struct Borrowing<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// Each target on one text; the number of targets the direct reader decoded it into.
fn law_all(text: &str) -> Result<usize, TestCaseError> {
    let mut decoded = 0;
    decoded += usize::from(law::<Wide>(text)?);
    decoded += usize::from(law::<Strict>(text)?);
    decoded += usize::from(law::<serde_json::Value>(text)?);
    decoded += usize::from(law::<BTreeMap<String, Loose>>(text)?);
    decoded += usize::from(law::<Flat>(text)?);
    decoded += usize::from(law::<Option<Tagged>>(text)?);
    decoded += usize::from(law::<serde::de::IgnoredAny>(text)?);
    // A borrowing target, checked by hand (it is not DeserializeOwned).
    if let Some((value, version)) = decode::<Borrowing<'_>>(text, SKIP) {
        let reference = decode_reference::<Borrowing<'_>>(text, SKIP, false);
        prop_assert_eq!(reference, Ok((value, version)));
        decoded += 1;
    }
    Ok(decoded)
}

// --- Generated images. -----------------------------------------------------------------------

/// String contents as they appear in JSON text: plain, escaped, non-ASCII, long enough for
/// the eight-byte scan, and a few the reader must give up on.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9 #._-]{0,24}",
        1 => Just("1".to_string()),
        1 => Just("-3".to_string()),
        1 => Just("2.50".to_string()),
        1 => Just("1E+2".to_string()),
        1 => Just("OPEN".to_string()),
        1 => Just("CLOSED".to_string()),
        1 => Just("Dot".to_string()),
        1 => Just("AQ==".to_string()),
        1 => Just("aGVsbG8gd29ybGQ=".to_string()),
        1 => Just(r#"a\"b\\c"#.to_string()),
        1 => Just(r"line\nnext\ttab\/\b\f\r".to_string()),
        1 => Just(r"caf\u00e9 \uD83D\uDE00 \u0041".to_string()),
        1 => Just("caf\u{e9} \u{2603} \u{1F600} long enough to span words".to_string()),
        1 => Just(r"lone \ud83d here".to_string()),
        1 => Just(r"lone \udc00".to_string()),
        1 => Just(r"bad \x escape".to_string()),
        1 => Just(r"short \u00".to_string()),
        1 => Just("raw\u{1}control".to_string()),
        1 => Just("raw\ttab".to_string()),
    ]
}

fn quoted(b: &str) -> String {
    format!("\"{b}\"")
}

/// Attribute names: the targets' fields, the hidden ones, escaped and odd ones.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "name", "count", "small", "price", "ratio", "tags", "status", "shape", "flag",
            "letter", "blob", "inner", "list", "pair", "map", "unit", "label", "n", "kind", "x",
            "y", "PK", "SK", "schema_version",
        ])
        .prop_map(str::to_string),
        1 => "[a-z]{1,3}",
        1 => Just(r"n\u0061me".to_string()),
        1 => Just(String::new()),
    ]
}

/// One attribute value; some are damaged.
fn attr() -> BoxedStrategy<String> {
    let strings = || prop::collection::vec(body().prop_map(|b| quoted(&b)), 0..4);
    let leaf = prop_oneof![
        4 => body().prop_map(|b| format!(r#"{{"S":{}}}"#, quoted(&b))),
        3 => body().prop_map(|b| format!(r#"{{"N":{}}}"#, quoted(&b))),
        1 => body().prop_map(|b| format!(r#"{{"B":{}}}"#, quoted(&b))),
        1 => any::<bool>().prop_map(|b| format!(r#"{{"BOOL":{b}}}"#)),
        1 => any::<bool>().prop_map(|b| format!(r#"{{"NULL":{b}}}"#)),
        1 => strings().prop_map(|v| format!(r#"{{"SS":[{}]}}"#, v.join(","))),
        1 => strings().prop_map(|v| format!(r#"{{"NS":[{}]}}"#, v.join(","))),
        1 => strings().prop_map(|v| format!(r#"{{"BS":[{}]}}"#, v.join(","))),
        1 => prop::sample::select(vec![
            r#"{"S":5}"#, r#"{"N":1}"#, r#"{"S":true}"#, r#"{"S":null}"#, r#"{}"#,
            r#"{"S":"a","N":"1"}"#, r#"{"X":"a"}"#, "null", r#""plain""#, "7",
            r#"{"NULL":null}"#, r#"{"BOOL":"true"}"#, r#"{"BOOL":tru}"#, r#"{"SS":["a",1]}"#,
            r#"{"SS":"a"}"#, r#"{"L":[],}"#, r#"{"M":{},}"#, r#"{"L":[{"S":"a"},]}"#,
            r#"{"M":{"a":{"S":"b"},}}"#, r#"{"\u0053":"esc"}"#, r#"{"S":"a"}}"#, r#"{"S":"a""#,
            r#"{"M":{"Dot":null}}"#, r#"{"M":{"Dot":{"S":"x"}}}"#, r#"{"M":{"Named":{"S":"n"}}}"#,
            r#"{"M":{"Circle":{"M":{"r":{"N":"3"}}}}}"#, r#"{"M":{"Pair":{"L":[{"N":"1"},{"N":"2"}]}}}"#,
            r#"{"M":{"Pair":{"L":[{"N":"1"}]}}}"#, r#"{"M":{"kind":{"S":"A"},"x":{"N":"4"}}}"#,
            r#"{"M":{"Dot":{"NULL":true},"Named":{"S":"n"}}}"#, r#"{"M":{}}"#,
            r#"{"L":[{"S":"t"},{"N":"9"}]}"#, r#"{"L":[{"S":"t"},{"N":"9"},{"N":"1"}]}"#,
        ])
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!(r#"{{"L":[{}]}}"#, v.join(","))),
            prop::collection::vec((name(), inner), 0..4).prop_map(|v| {
                let entries: Vec<String> = v
                    .iter()
                    .map(|(k, a)| format!("{}:{a}", quoted(k)))
                    .collect();
                format!(r#"{{"M":{{{}}}}}"#, entries.join(","))
            }),
        ]
    })
    .boxed()
}

/// Inserts whitespace after the structural characters `{ [ : ,` outside strings, where
/// `spaces` says so (cycled).
fn spaced(text: &str, spaces: &[u8]) -> String {
    const WS: [&str; 5] = ["", " ", "\n  ", "\t", "\r\n"];
    let mut out = String::with_capacity(text.len() * 2);
    let (mut in_str, mut escape, mut n) = (false, false, 0usize);
    for c in text.chars() {
        out.push(c);
        if in_str {
            match (escape, c) {
                (true, _) => escape = false,
                (false, '\\') => escape = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' | ':' | ',' => {
                if let Some(&s) = spaces.get(n % spaces.len().max(1)) {
                    out.push_str(WS[usize::from(s) % WS.len()]);
                }
                n += 1;
            }
            _ => {}
        }
    }
    out
}

fn image() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((name(), attr()), 0..8),
        prop::collection::vec(any::<u8>(), 0..6),
        prop_oneof![8 => Just(""), 1 => Just("  \n"), 1 => Just(" x"), 1 => Just("}")],
        0usize..400,
        any::<bool>(),
    )
        .prop_map(|(entries, spaces, tail, cut, truncate)| {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, a)| format!("{}:{a}", quoted(k)))
                .collect();
            let mut text = spaced(&format!("{{{}}}{tail}", entries.join(",")), &spaces);
            if truncate && cut < text.len() && text.is_char_boundary(cut) {
                text.truncate(cut);
            }
            text
        })
}

/// Images that fit `Wide` exactly, with whitespace and escapes: the direct reader must decode
/// every one of them. Without `binary`, they fit `serde_json::Value` too (which has no bytes).
fn clean_wide(binary: bool) -> impl Strategy<Value = String> {
    // JSON string contents: plain, non-ASCII, escaped.
    let plain = prop_oneof![
        4 => "[a-zA-Z0-9 ]{0,20}".boxed(),
        1 => Just("caf\u{e9} \u{1F600}".to_string()).boxed(),
        1 => Just(r#"a\\b\"q\" \u00e9\n\uD83D\uDE00"#.to_string()).boxed(),
    ];
    (
        (plain, -1000i64..1000, any::<u8>(), "-?[0-9]{1,6}\\.[0-9]{1,4}"),
        prop::collection::btree_set("[a-z]{1,6}", 0..4),
        prop::sample::select(vec!["OPEN", "CLOSED"]),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..6),
        prop::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(move |((name, count, small, price), tags, status, flag, blob, spaces)| {
            let tags: Vec<String> = tags.iter().map(|t| quoted(t)).collect();
            let blob = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, blob);
            let binary_attrs = if binary {
                format!(r#""blob":{{"B":"{blob}"}},"blob2":{{"B":"AQ=="}},"hashes":{{"BS":["AQ=="]}},"#)
            } else {
                String::new()
            };
            let text = format!(
                concat!(
                    r#"{{"PK":{{"S":"P#1"}},"name":{{"S":"{}"}},"count":{{"N":"{}"}},"#,
                    r#""small":{{"N":"{}"}},"price":{{"N":"{}"}},"tags":{{"SS":[{}]}},"#,
                    r#""status":{{"S":"{}"}},"flag":{{"BOOL":{}}},{}"#,
                    r#""schema_version":{{"S":"v1"}},"unit":{{"NULL":true}},"#,
                    r#""extra":{{"M":{{"l":{{"L":[{{"NS":["1","2.5"]}},{{"SS":["a"]}}]}}}}}},"#,
                    r#""SK":{{"S":"S#1"}}}}"#
                ),
                name,
                count,
                small,
                price,
                tags.join(","),
                status,
                flag,
                binary_attrs,
            );
            spaced(&text, &spaces)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The law on generated images, clean and damaged, into every target.
    #[test]
    fn decodes_only_as_the_reference_does(text in image()) {
        law_all(&text)?;
    }
}

proptest! {
    /// Clean images are decoded by the direct reader (not left to the reference), to the
    /// reference's value.
    #[test]
    fn clean_images_are_decoded_directly(text in clean_wide(true), plain in clean_wide(false)) {
        prop_assert!(law::<Wide>(&text)?, "the direct reader gave up on {}", text);
        prop_assert!(law::<Wide>(&plain)?, "gave up on {}", plain);
        prop_assert!(law::<serde_json::Value>(&plain)?, "gave up (Value) on {}", plain);
        prop_assert!(law::<BTreeMap<String, Loose>>(&plain)?, "gave up (Loose) on {}", plain);
    }

    /// Items serde_dynamo writes are decoded by the direct reader, to the original.
    #[test]
    fn serde_dynamo_items_are_decoded_directly(item in rand_item()) {
        let av: serde_dynamo::Item = serde_dynamo::to_item(&item).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let json = serde_json::to_string(&av).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(law::<Rand>(&json)?, "the direct reader gave up on {}", json);
        let decoded = decode::<Rand>(&json, SKIP).map(|(v, _)| v);
        prop_assert_eq!(decoded, Some(item));
    }
}

/// Over the generated images, the direct reader decodes a good share into some target: the
/// generator reaches its paths, not only its refusals.
#[test]
fn generated_images_are_often_decoded() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = image();
    let (mut images, mut decoded) = (0, 0);
    for _ in 0..500 {
        let text = strategy
            .new_tree(&mut runner)
            .map(|t| t.current())
            .unwrap_or_default();
        images += 1;
        if law_all(&text).unwrap_or(0) > 0 {
            decoded += 1;
        }
    }
    assert!(
        decoded * 4 >= images,
        "only {decoded} of {images} generated images decoded"
    );
}

#[test]
fn the_everything_image_is_decoded_directly() {
    let (direct, version) = decode::<Everything>(EVERYTHING, SKIP).expect("decoded directly");
    let reference = decode_reference::<Everything>(EVERYTHING, SKIP, false).expect("reference");
    assert_eq!((direct, version), reference);
}

#[test]
fn gives_up_where_the_reference_decides() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct T {
        name: Option<String>,
        n: Option<u32>,
    }
    for text in [
        // A raw JSON value handed to the target: the reference decides.
        r#"{"n":{"S":5}}"#,
        // An error of any kind: the reference names the field.
        r#"{"n":{"N":"1.5"}}"#,
        r#"{"name":{"S":"a","N":"1"}}"#,
        r#"{"name":{"S":"lone \ud83d"}}"#,
        r#"{"name":{"S":"ok"}} trailing"#,
    ] {
        assert!(decode::<T>(text, SKIP).is_none(), "{text}");
    }
    // The first one the reference decodes; the error ones it explains.
    assert_eq!(
        decode_image::<T>(r#"{"n":{"S":5}}"#, SKIP).map(|(v, _)| v),
        Ok(T {
            name: None,
            n: Some(5)
        })
    );
    let e = decode_image::<T>(r#"{"n":{"N":"1.5"}}"#, SKIP).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("n"));
}

#[test]
fn deep_nesting_is_left_to_the_reference() {
    // 60 levels of M are 120 JSON objects: past the reader's limit, within serde_json's.
    let mut value = r#"{"S":"deep"}"#.to_string();
    for _ in 0..60 {
        value = format!(r#"{{"M":{{"a":{value}}}}}"#);
    }
    let text = format!(r#"{{"x":{value}}}"#);
    assert!(decode::<serde_json::Value>(&text, SKIP).is_none());
    assert!(decode_reference::<serde_json::Value>(&text, SKIP, false).is_ok());
    // 40 levels the reader decodes itself.
    let mut value = r#"{"S":"deep"}"#.to_string();
    for _ in 0..40 {
        value = format!(r#"{{"M":{{"a":{value}}}}}"#);
    }
    let text = format!(r#"{{"x":{value}}}"#);
    assert!(law::<serde_json::Value>(&text).unwrap_or(false));
}

#[test]
fn strings_end_where_the_chunked_scan_says() {
    // Quotes, backslashes and control characters at every offset within and across words
    // and sixteen-byte chunks.
    for len in 0..40 {
        let plain = "x".repeat(len);
        for (text, want) in [
            (
                format!(r#"{{"name":{{"S":"{plain}"}}}}"#),
                Some(plain.clone()),
            ),
            (
                format!(r#"{{"name":{{"S":"{plain}\"q"}}}}"#),
                Some(format!("{plain}\"q")),
            ),
            (format!("{{\"name\":{{\"S\":\"{plain}\u{1}\"}}}}"), None),
            (
                format!("{{\"name\":{{\"S\":\"{plain}\u{e9}\u{7f}\"}}}}"),
                Some(format!("{plain}\u{e9}\u{7f}")),
            ),
        ] {
            #[derive(Debug, PartialEq, Deserialize)]
            struct T {
                name: String,
            }
            let got = decode::<T>(&text, SKIP).map(|(t, _)| t.name);
            assert_eq!(got, want, "{text}");
        }
    }
}

/// Reads the first entry of a map and stops, as a hand-written visitor may.
#[derive(Debug, PartialEq)]
struct FirstEntry(String);

impl<'de> Deserialize<'de> for FirstEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FirstEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FirstEntry, A::Error> {
                let entry = map.next_entry::<String, String>()?;
                Ok(FirstEntry(
                    entry.map(|(k, v)| k + "=" + &v).unwrap_or_default(),
                ))
            }
        }
        d.deserialize_map(V)
    }
}

#[test]
fn targets_that_stop_early_decode_only_when_nothing_is_left() {
    #[derive(Debug, PartialEq, Deserialize)]
    struct T {
        pair: (String, i32),
    }
    // A tuple of two from a list of three: serde_json refuses the leftover element.
    let three = r#"{"pair":{"L":[{"S":"t"},{"N":"9"},{"N":"1"}]}}"#;
    assert!(decode::<T>(three, SKIP).is_none());
    assert!(decode_prefix::<T>(three, SKIP).is_none());
    assert!(decode_reference::<T>(three, SKIP, false).is_err());
    let two = r#"{"pair":{"L":[{"S":"t"},{"N":"9"}]}}"#;
    assert!(law::<T>(two).unwrap_or(false));

    // A map visitor that stops after one entry: only the end of the map may follow.
    let two_entries = r#"{"a":{"S":"1"},"b":{"S":"2"}}"#;
    assert!(decode::<FirstEntry>(two_entries, SKIP).is_none());
    assert!(decode_prefix::<FirstEntry>(two_entries, SKIP).is_none());
    assert!(decode_reference::<FirstEntry>(two_entries, SKIP, false).is_err());
    let one_entry = r#"{"a":{"S":"1"}}"#;
    assert!(law::<FirstEntry>(one_entry).unwrap_or(false));
    assert_eq!(
        decode::<FirstEntry>(one_entry, SKIP).map(|(v, _)| v),
        Some(FirstEntry("a=1".into()))
    );
}

/// Every image in the sample events (AWS, moto and `sam local` shapes, the damaged ones
/// included): the law holds, and the images the reference decodes into `Value` the direct
/// reader decodes too.
#[test]
fn sample_event_images_obey_the_law() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("events/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut images, mut direct) = (0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable");
        #[derive(Deserialize)]
        struct Event<'a> {
            #[serde(rename = "Records", borrow)]
            records: Vec<Record<'a>>,
        }
        #[derive(Deserialize)]
        struct Record<'a> {
            #[serde(borrow)]
            dynamodb: BTreeMap<String, &'a serde_json::value::RawValue>,
        }
        // The malformed-envelope sample has no records to look at.
        let Ok(event) = serde_json::from_str::<Event<'_>>(&text) else {
            continue;
        };
        for record in &event.records {
            for side in ["NewImage", "OldImage"] {
                let Some(image) = record.dynamodb.get(side) else {
                    continue;
                };
                // The image as the file has it, and re-indented.
                let value: serde_json::Value = serde_json::from_str(image.get()).expect("JSON");
                let pretty = serde_json::to_string_pretty(&value).expect("serializes");
                for json in [image.get(), pretty.as_str()] {
                    images += 1;
                    let ok = law_all(json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    if decode_reference::<serde_json::Value>(json, SKIP, false).is_ok() {
                        assert!(
                            decode::<serde_json::Value>(json, SKIP).is_some(),
                            "{}: the direct reader gave up on {json}",
                            path.display()
                        );
                    }
                    direct += usize::from(ok > 0);
                }
            }
        }
    }
    assert!(images > 300, "only {images} images in {}", dir.display());
    assert!(
        direct * 10 >= images * 9,
        "{direct} of {images} decoded directly"
    );
}

/// Bytes mostly plain, with every kind of byte that ends a run or sits next to one in value.
fn run_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => Just(b'x'),
        1 => prop::sample::select(vec![b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0x9f, 0xa2, 0xdc, 0xff]),
        1 => any::<u8>(),
    ];
    proptest::collection::vec(byte, 0..70)
}

proptest! {
    // Every chunk width (16 with SSE2, 8 in a word, then bytes) and every alignment of the
    // stopping byte against them.
    #[test]
    fn plain_run_stops_at_the_first_quote_backslash_or_control(bytes in run_bytes(), start in 0usize..72) {
        let start = start.min(bytes.len());
        let want = bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .map_or(bytes.len(), |k| start + k);
        prop_assert_eq!(crate::decode::plain_run(&bytes, start), want);
    }
}

/// [`object_len`]'s law: when it reads an object, serde_json reads the same text as one JSON
/// value of the same length (so the envelope scan may keep what it skipped as checked JSON).
fn object_len_law(text: &str) -> Result<bool, TestCaseError> {
    let Some(len) = object_len(text) else {
        return Ok(false);
    };
    let mut values =
        serde_json::Deserializer::from_str(text).into_iter::<&serde_json::value::RawValue>();
    let first = values.next();
    prop_assert!(
        matches!(first, Some(Ok(_))),
        "object_len read {len} bytes of what serde_json refuses: {text:?}\n{first:?}"
    );
    prop_assert_eq!(values.byte_offset(), len, "{:?}", text);
    Ok(true)
}

/// Text over JSON's structural characters, literals' letters, escapes and control bytes.
fn json_ish() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            "\"",
            ",",
            ":",
            " ",
            "\n",
            "\t",
            "\r",
            "\u{b}",
            "\u{c}",
            "\u{7f}",
            "\u{feff}",
            "\\",
            "\\u",
            "\\\"",
            "\\/",
            "\\b",
            "\\x",
            "\u{1}",
            "a",
            "\u{e9}",
            "true",
            "false",
            "null",
            "nul",
            "0",
            "12",
            "\"S\"",
            "\"x\":",
            "\"a\":\"",
            "\"a\":{",
            "\\ud83d",
            "\\udc00",
            "\\ud83d\\ude00",
            "0041",
        ]),
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// On generated images, clean and damaged, and on JSON-like text.
    #[test]
    fn object_len_reads_only_what_serde_json_reads(text in image(), ish in json_ish()) {
        object_len_law(&text)?;
        object_len_law(&ish)?;
        object_len_law(&format!("{{{ish}"))?;
        object_len_law(&format!("{{\"a\":{ish}}}"))?;
    }

    /// One small fault in an otherwise valid object: a byte of JSON-like text in place of a
    /// string's contents, a value, or what follows a name.
    #[test]
    fn object_len_reads_only_what_serde_json_reads_one_fault(ish in json_ish()) {
        object_len_law(&format!("{{\"a\":\"{ish}\",\"b\":{{\"S\":\"x\"}}}}"))?;
        object_len_law(&format!("{{\"a\":{{\"L\":[{ish}]}}}}"))?;
        object_len_law(&format!("{{\"a\"{ish}}}"))?;
    }

    /// Clean images are read to their end (the law above is not vacuous).
    #[test]
    fn object_len_reads_clean_images_whole(text in clean_wide(true)) {
        prop_assert!(object_len_law(&text)?, "{}", text);
        prop_assert_eq!(object_len(&format!("{text} ,\"next\"")), Some(text.len()));
    }
}

#[test]
fn object_len_leaves_raw_numbers_deep_nesting_and_faults_to_serde_json() {
    let nested = |depth: usize| {
        format!(
            "{}{}",
            "{\"a\":".repeat(depth),
            "null".to_owned() + &"}".repeat(depth)
        )
    };
    // Depth 100 (the reader's limit) is read; 101 is left to serde_json, which reads it.
    assert_eq!(object_len(&nested(100)), Some(nested(100).len()));
    assert_eq!(object_len(&nested(101)), None);
    assert!(serde_json::from_str::<&serde_json::value::RawValue>(&nested(101)).is_ok());
    for text in [
        r#"{"a":{"N":5}}"#,
        "{\"a\":\"\u{1}\"}",
        r#"{"a":"\ud83d"}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":nulll}"#,
        r#"{"a":tru}"#,
        r#"{"a":"b",}"#,
        r#"{"a" "b"}"#,
        "{\"a\":\"b\"\u{c}}",
        r#"{"a":"b""#,
        r#" {"a":"b"}"#,
        "null",
    ] {
        assert_eq!(object_len(text), None, "{text:?}");
    }
    // What follows the object is not read.
    let object = r#"{"a":[true,false,null,"\u00e9\/"]}"#;
    assert_eq!(object_len(&format!("{object}  ,")), Some(object.len()));
}
