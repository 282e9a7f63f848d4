use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, PartialEq, Deserialize, Serialize, Clone)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(super) enum Status {
    Open,
    Closed,
}

#[derive(Debug, PartialEq, Deserialize, Serialize, Clone)]
pub(super) enum Shape {
    Dot,
    Circle { r: u32 },
    Pair(i8, i8),
    Named(String),
}

#[derive(Debug, PartialEq, Deserialize, Serialize, Clone)]
#[serde(tag = "kind")]
pub(super) enum Tagged {
    A { x: i64 },
    B { y: String },
}

#[derive(Debug, PartialEq, Deserialize, Serialize, Clone)]
pub(super) struct Inner {
    label: String,
    n: Option<u16>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct Everything {
    s: String,
    n_i: i64,
    n_u: u64,
    n_f: f64,
    n_big: i128,
    b: Vec<u8>,
    flag: bool,
    nothing: Option<String>,
    absent: Option<String>,
    #[serde(default)]
    defaulted: String,
    m: Inner,
    l: Vec<Inner>,
    ss: BTreeSet<String>,
    ns: Vec<u32>,
    bs: Vec<Vec<u8>>,
    map: HashMap<String, i32>,
    status: Status,
    shape: Shape,
    shape2: Shape,
    shape3: Shape,
    tagged: Tagged,
    any: serde_json::Value,
    tuple: (String, u8),
}

pub(super) const EVERYTHING: &str = r#"{
  "PK": {"S": "X#1"}, "SK": {"S": "Y"}, "schema_version": {"S": "abc"},
  "s": {"S": "h\u00e9llo \"q\""},
  "n_i": {"N": "-42"}, "n_u": {"N": "18446744073709551615"}, "n_f": {"N": "1.5E2"},
  "n_big": {"N": "-99999999999999999999999999999999999999"},
  "b": {"B": "AAEC/w=="}, "flag": {"BOOL": true}, "nothing": {"NULL": true},
  "m": {"M": {"label": {"S": "in"}, "n": {"N": "7"}}},
  "l": {"L": [{"M": {"label": {"S": "a"}, "n": {"NULL": true}}}, {"M": {"label": {"S": "b"}}}]},
  "ss": {"SS": ["z", "a"]}, "ns": {"NS": ["1", "2", "3"]}, "bs": {"BS": ["AQ==", "AgM="]},
  "map": {"M": {"x": {"N": "1"}, "y": {"N": "-2"}}},
  "status": {"S": "CLOSED"},
  "shape": {"S": "Dot"},
  "shape2": {"M": {"Circle": {"M": {"r": {"N": "3"}}}}},
  "shape3": {"M": {"Pair": {"L": [{"N": "1"}, {"N": "-1"}]}}},
  "tagged": {"M": {"kind": {"S": "B"}, "y": {"S": "why"}}},
  "any": {"M": {"k": {"L": [{"N": "1"}, {"N": "2.50"}, {"S": "s"}, {"BOOL": false}, {"NULL": true}]}}},
  "tuple": {"L": [{"S": "t"}, {"N": "9"}]},
  "extra": {"M": {"ignored": {"L": [{"BS": ["AA=="]}]}}}
}"#;

#[test]
fn every_attribute_type_decodes() {
    let (v, sv): (Everything, _) = decode_image(EVERYTHING, ["PK", "SK"]).unwrap();
    assert_eq!(sv.as_deref(), Some("abc"));
    assert_eq!(v.s, "h\u{e9}llo \"q\"");
    assert_eq!((v.n_i, v.n_u, v.n_f), (-42, u64::MAX, 150.0));
    assert_eq!(
        v.n_big.to_string(),
        "-99999999999999999999999999999999999999"
    );
    assert_eq!(v.b, vec![0, 1, 2, 255]);
    assert!(v.flag);
    assert_eq!(
        (v.nothing, v.absent, v.defaulted),
        (None, None, String::new())
    );
    assert_eq!(
        v.m,
        Inner {
            label: "in".into(),
            n: Some(7)
        }
    );
    assert_eq!(
        v.l,
        vec![
            Inner {
                label: "a".into(),
                n: None
            },
            Inner {
                label: "b".into(),
                n: None
            }
        ]
    );
    assert_eq!(v.ss.into_iter().collect::<Vec<_>>(), vec!["a", "z"]);
    assert_eq!(v.ns, vec![1, 2, 3]);
    assert_eq!(v.bs, vec![vec![1], vec![2, 3]]);
    assert_eq!(v.map, HashMap::from([("x".into(), 1), ("y".into(), -2)]));
    assert_eq!(v.status, Status::Closed);
    assert_eq!(
        (v.shape, v.shape2, v.shape3),
        (Shape::Dot, Shape::Circle { r: 3 }, Shape::Pair(1, -1))
    );
    assert_eq!(v.tagged, Tagged::B { y: "why".into() });
    assert_eq!(
        v.any,
        serde_json::json!({"k": [1, "2.50", "s", false, null]})
    );
    assert_eq!(v.tuple, ("t".into(), 9));
}

#[test]
fn key_attributes_and_schema_version_are_hidden_from_the_model() {
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        a: String,
    }
    let json = r#"{"PK":{"S":"p"},"SK":{"S":"s"},"schema_version":{"S":"v1"},"a":{"S":"x"}}"#;
    let (v, sv): (Strict, _) = decode_image(json, ["PK", "SK"]).unwrap();
    assert_eq!((v.a.as_str(), sv.as_deref()), ("x", Some("v1")));
}

#[test]
fn a_version_attribute_of_another_type_never_fails_the_image() {
    // Other code writes `schema_version` as a number (or a map of its own): the model never
    // sees the attribute, the version reads as not stored, and the value is checked as any
    // undeclared attribute is.
    #[derive(Deserialize, Debug)]
    struct A {
        a: String,
    }
    for (version, read) in [
        (r#"{"S":"v1"}"#, Some("v1")),
        (r#"{"N":"3"}"#, None),
        (r#"{"N":"3.5"}"#, None),
        (r#"{"NULL":true}"#, None),
        // NULL's value is not read, by either reader (as before the rule).
        (r#"{"NULL":"x"}"#, None),
        (r#"{"M":{"major":{"N":"2"}}}"#, None),
        (r#"{"SS":["v1"]}"#, None),
        (r#"{"B":"AAE="}"#, None),
    ] {
        let json = format!(r#"{{"PK":{{"S":"p"}},"schema_version":{version},"a":{{"S":"x"}}}}"#);
        let by_reader = reader::decode::<A>(&json, ["PK", "SK"])
            .map(|(v, sv)| (v.a, sv.map(std::borrow::Cow::into_owned)));
        assert_eq!(
            by_reader,
            Some(("x".to_string(), read.map(str::to_string))),
            "{version}"
        );
        let (v, sv): (A, _) = decode_reference(&json, ["PK", "SK"], false).unwrap();
        assert_eq!((v.a.as_str(), sv.as_deref()), ("x", read), "{version}");
    }
    // Still checked: a damaged value fails, as it would under any other name.
    for bad in [r#"{"N":"x"}"#, r#"{"B":"not*base64"}"#, r#"{"Q":"1"}"#] {
        let json = format!(r#"{{"schema_version":{bad},"a":{{"S":"x"}}}}"#);
        let e = decode_image::<A>(&json, ["PK", "SK"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("schema_version"), "{bad}: {e}");
    }
}

/// A stored version that is the model's own is borrowed from it (no allocation per image), by
/// both readers; any other is owned, with the same text.
#[test]
fn the_current_schema_version_is_borrowed_from_the_model() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct A {
        a: String,
    }
    let hidden = Hidden {
        keys: ["PK", "SK"],
        version: "schema_version",
        current: "v7",
    };
    for (stored, borrowed) in [("v7", true), ("v8", false), ("v", false), ("v77", false)] {
        let json = format!(r#"{{"schema_version":{{"S":"{stored}"}},"a":{{"S":"x"}}}}"#);
        let (_, by_reader) = reader::decode::<A>(&json, hidden).expect("the reader reads it");
        let (_, by_reference) = decode_reference::<A>(&json, hidden, false).expect("it decodes");
        for version in [by_reader, by_reference] {
            assert_eq!(version.as_deref(), Some(stored));
            assert_eq!(
                matches!(version, Some(std::borrow::Cow::Borrowed(_))),
                borrowed,
                "{stored}"
            );
        }
    }
}

#[test]
fn an_attribute_given_twice_fails_the_image_naming_it() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct A {
        a: String,
        #[serde(default)]
        m: Option<HashMap<String, String>>,
    }
    for (json, name) in [
        (r#"{"a":{"S":"x"},"a":{"S":"y"}}"#, "\"a\""),
        (
            r#"{"a":{"S":"x"},"other":{"N":"1"},"other":{"N":"2"}}"#,
            "\"other\"",
        ),
        (
            r#"{"a":{"S":"x"},"m":{"M":{"k":{"S":"1"},"k":{"S":"2"}}}}"#,
            "\"k\"",
        ),
        (
            r#"{"a":{"S":"x"},"u":{"M":{"k":{"S":"1"},"\u006b":{"S":"2"}}}}"#,
            "\"k\"",
        ),
        (r#"{"a":{"S":"x"},"PK":{"S":"1"},"PK":{"S":"2"}}"#, "\"PK\""),
    ] {
        assert!(reader::decode::<A>(json, ["PK", "SK"]).is_none(), "{json}");
        let e = decode_image::<A>(json, ["PK", "SK"]).unwrap_err();
        assert!(
            e.message
                .contains(&format!("attribute {name} is given twice"))
                || e.message.contains("duplicate field `a`"),
            "{json}: {e}"
        );
    }
    // Many distinct names, past the inline ones, are fine; a late repeat is still found.
    let many: Vec<String> = (0..40)
        .map(|i| format!(r#""x{i}":{{"N":"{i}"}}"#))
        .collect();
    let json = format!(r#"{{"a":{{"S":"x"}},{}}}"#, many.join(","));
    assert!(decode_image::<A>(&json, ["PK", "SK"]).is_ok());
    let json = format!(r#"{{"a":{{"S":"x"}},{},"x3":{{"N":"0"}}}}"#, many.join(","));
    let e = decode_image::<A>(&json, ["PK", "SK"]).unwrap_err();
    assert!(e.message.contains("attribute \"x3\" is given twice"), "{e}");
}

#[test]
fn a_lone_surrogate_in_an_image_is_named_as_such() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct A {
        a: String,
    }
    for json in [
        r#"{"a":{"S":"x\ud83d"}}"#,
        r#"{"a":{"S":"x\ud83d\u0041"}}"#,
        r#"{"a":{"S":"ok"},"b":{"SS":["\udc00"]}}"#,
    ] {
        let e = decode_image::<A>(json, ["PK", "SK"]).unwrap_err();
        assert!(e.message.starts_with("lone surrogate \\u"), "{json}: {e}");
    }
}

#[test]
fn decimal_numbers_stay_exact() {
    #[derive(Deserialize)]
    struct P {
        price: rust_decimal::Decimal,
        big: rust_decimal::Decimal,
    }
    let (p, _): (P, _) = decode_image(
        r#"{"price":{"N":"19.99"},"big":{"N":"7922816251426433759354395033"}}"#,
        ["", ""],
    )
    .unwrap();
    assert_eq!(p.price.to_string(), "19.99");
    assert_eq!(p.big.to_string(), "7922816251426433759354395033");
}

#[test]
fn a_decode_that_would_round_is_an_error_naming_the_field() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct P {
        price: Option<rust_decimal::Decimal>,
        exact: Option<crate::Number>,
    }
    // 38 significant digits, as dynawrap (the Python key-pattern library) writes them: rust_decimal would round the
    // fraction and refuse the integer; Number holds both.
    for n in [
        "12345678901234567890.123456789012345678",
        "12345678901234567890123456789012345678",
    ] {
        let e = err::<P>(&format!(r#"{{"price":{{"N":"{n}"}}}}"#));
        assert_eq!(e.field.as_deref(), Some("price"), "{n}");
        assert!(e.message.contains("would be rounded"), "{e}");
        let (p, _): (P, _) =
            decode_image(&format!(r#"{{"exact":{{"N":"{n}"}}}}"#), ["PK", "SK"]).unwrap();
        assert_eq!(p.exact.unwrap().to_string(), n);
    }
}

fn err<T: for<'de> Deserialize<'de> + std::fmt::Debug>(json: &str) -> ImageError {
    decode_image::<T>(json, ["PK", "SK"]).unwrap_err()
}

#[test]
fn errors_name_the_field_path() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
    }
    let e = err::<Outer>(
        r#"{"items":{"L":[{"M":{"label":{"S":"a"}}},{"M":{"label":{"S":"b"},"n":{"N":"70000"}}}]}}"#,
    );
    assert_eq!(e.field.as_deref(), Some("items[1].n"));
    assert!(e.message.contains("out of range for u16"), "{e}");
    assert!(!e.message.contains("line"), "positions are stripped: {e}");

    let e = err::<Inner>(r#"{"label":{"S":"a"},"n":{"N":"1.5"}}"#);
    assert_eq!(e.field.as_deref(), Some("n"));
    assert!(e.message.contains("not an integer"));

    let e = err::<Inner>(r#"{"n":{"N":"1"}}"#);
    assert!(e.message.contains("missing field `label`"), "{e}");

    let e = err::<Inner>(r#"{"label":{"N":"1"}}"#);
    assert_eq!(e.field.as_deref(), Some("label"));

    let e = err::<Everything>(&EVERYTHING.replace("AAEC/w==", "***"));
    assert_eq!(e.field.as_deref(), Some("b"));
    assert!(e.message.contains("invalid base64"), "{e}");

    let e = err::<Inner>(r#"{"label":{"X":"a"}}"#);
    assert!(e.message.contains("unknown DynamoDB type tag"), "{e}");

    let e = err::<Inner>(r#"{"label":{"S":"a","N":"1"}}"#);
    assert!(e.message.contains("more than one type tag"), "{e}");

    let e = err::<Inner>(r#"{"label":{}}"#);
    assert!(e.message.contains("no type tag"), "{e}");

    let e = err::<Inner>(r#"{"label":{"S":"a"}} x"#);
    assert!(e.message.contains("trailing"), "{e}");
}

#[test]
fn ignored_attributes_are_still_validated() {
    let ok = r#"{"label":{"S":"a"},"x":{"M":{"a":{"L":[{"N":"1.5"},{"SS":["s"]},{"NS":["1"]},{"BS":["AQ=="]},{"B":"AQ=="},{"NULL":true},{"BOOL":false}]}}}}"#;
    assert!(decode_image::<Inner>(ok, ["", ""]).is_ok());
    for (bad, path, msg) in [
        (
            r#"{"label":{"S":"a"},"avatar":{"B":"not*base64"}}"#,
            "avatar",
            "invalid base64",
        ),
        (
            r#"{"label":{"S":"a"},"x":{"M":{"y":{"L":[{"N":"1"},{"N":"x1"}]}}}}"#,
            "x.y[1]",
            "not a number",
        ),
        (
            r#"{"label":{"S":"a"},"x":{"NS":["1","two"]}}"#,
            "x[1]",
            "not a number",
        ),
        (
            r#"{"label":{"S":"a"},"x":{"BS":["AQ==","%"]}}"#,
            "x[1]",
            "invalid base64",
        ),
        (
            r#"{"label":{"S":"a"},"x":{"SS":["a",1]}}"#,
            "x[1]",
            "invalid type",
        ),
        (
            r#"{"label":{"S":"a"},"x":{"Q":"a"}}"#,
            "x",
            "unknown DynamoDB type tag",
        ),
        (r#"{"label":{"S":"a"},"x":{"S":1}}"#, "x", "invalid type"),
    ] {
        let e = decode_image::<Inner>(bad, ["", ""]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(path), "{bad}: {e}");
        assert!(e.message.contains(msg), "{bad}: {e}");
    }
}

#[test]
fn status_enum_rejects_unknown_variant() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        status: Status,
    }
    let e = err::<T>(r#"{"status":{"S":"open"}}"#);
    assert_eq!(e.field.as_deref(), Some("status"));
    assert!(e.message.contains("unknown variant"), "{e}");
}

// --- Cross-check against serde_dynamo on random items. -----------------------------------------

#[derive(Debug, PartialEq, Deserialize, Serialize, Clone)]
pub(super) struct Rand {
    s: String,
    i: i64,
    f: f64,
    b: bool,
    o: Option<String>,
    v: Vec<Inner>,
    m: BTreeMap<String, u32>,
    bytes: serde_bytes_like::Bytes,
    shape: Shape,
}

pub(super) mod serde_bytes_like {
    /// Binary through serde's bytes methods (what serde_dynamo writes as B).
    #[derive(Debug, PartialEq, Clone)]
    pub struct Bytes(pub Vec<u8>);
    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Dot),
        any::<u32>().prop_map(|r| Shape::Circle { r }),
        (any::<i8>(), any::<i8>()).prop_map(|(a, b)| Shape::Pair(a, b)),
        ".{0,8}".prop_map(Shape::Named),
    ]
}

pub(super) fn rand_item() -> impl Strategy<Value = Rand> {
    (
        ".{0,12}",
        any::<i64>(),
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        any::<bool>(),
        proptest::option::of(".{0,6}"),
        prop::collection::vec(
            (".{0,6}", proptest::option::of(any::<u16>()))
                .prop_map(|(label, n)| Inner { label, n }),
            0..3,
        ),
        prop::collection::btree_map(".{0,4}", any::<u32>(), 0..3),
        prop::collection::vec(any::<u8>(), 0..10),
        shape(),
    )
        .prop_map(|(s, i, f, b, o, v, m, bytes, shape)| Rand {
            s,
            i,
            f,
            b,
            o,
            v,
            m,
            bytes: serde_bytes_like::Bytes(bytes),
            shape,
        })
}

proptest! {
    #[test]
    fn agrees_with_serde_dynamo(item in rand_item()) {
        // serde_dynamo writes the item as DynamoDB JSON (the same shape Streams deliver) ...
        let av: serde_dynamo::Item = serde_dynamo::to_item(&item).unwrap();
        let json = serde_json::to_string(&av).unwrap();
        // ... and both decoders must read back the original.
        let ours: Rand = from_image(&json).unwrap();
        prop_assert_eq!(&ours, &item);
        let theirs: Rand = serde_dynamo::from_item(av).unwrap();
        prop_assert_eq!(theirs, item);
    }
}

proptest! {
    /// Checking a binary value without decoding it accepts and rejects exactly what decoding
    /// does, with the same message, for short values (checked on the stack) and long ones.
    #[test]
    fn base64_check_agrees_with_decoding(
        text in prop_oneof![
            "[A-Za-z0-9+/]{0,12}={0,3}",
            "[A-Za-z0-9+/=*\\- ]{0,16}",
            "[A-Za-z0-9+/]{1000,1100}={0,2}",
        ]
    ) {
        type E = serde::de::value::Error;
        let check = attr::BytesDe::<E>::check(&text).map_err(|e| e.to_string());
        let decode = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &text)
            .map(drop)
            .map_err(|e| format!("invalid base64 in binary attribute: {e}"));
        prop_assert_eq!(check, decode);
    }

    /// The check's fast step (base64-simd's) never accepts what decoding refuses, and takes
    /// what DynamoDB sends: the canonical encoding of any bytes.
    #[test]
    fn base64_fast_check_accepts_only_what_decoding_does(
        text in prop_oneof![
            "[A-Za-z0-9+/]{0,12}={0,3}",
            "[A-Za-z0-9+/=]{0,9}",
            "[A-Za-z0-9+/=*\\- \n]{0,16}",
            // Long enough for base64-simd's SIMD blocks, one byte anywhere outside the
            // alphabet (non-ASCII included).
            "[A-Za-z0-9+/]{40,60}[^A-Za-z0-9+/][A-Za-z0-9+/]{0,8}={0,2}",
            "[A-Za-z0-9+/]{0,30}[^A-Za-z0-9+/][A-Za-z0-9+/]{40,60}",
        ],
        bytes in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let standard = base64::engine::general_purpose::STANDARD;
        if base64_simd::STANDARD.check(text.as_bytes()).is_ok() {
            prop_assert!(base64::Engine::decode(&standard, &text).is_ok(), "{:?}", text);
        }
        let canonical = base64::Engine::encode(&standard, &bytes);
        prop_assert!(base64_simd::STANDARD.check(canonical.as_bytes()).is_ok(), "{:?}", canonical);
    }
}
