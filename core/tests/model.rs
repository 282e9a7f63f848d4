//! `#[derive(Model)]`: typed keys, schema versions, and the serde shapes models may take.

extern crate dynastream_core as dynastream;

use std::collections::{BTreeMap, HashMap};

use dynastream::{Model, ModelKey};
use serde::Deserialize;
use sha2::Digest;

#[allow(dead_code)]
mod v1 {
    #[derive(Debug, serde::Deserialize, dynastream::Model)]
    #[dynastream(pk = "USER#{owner}#STORY#{story_id}", sk = "STORY#{story_id}")]
    pub struct Story {
        pub owner: String,
        pub story_id: String,
        pub title: String,
        pub word_count: Option<i64>,
    }
}

#[allow(dead_code)]
mod v1_again {
    // Identical declaration (different whitespace) in another module: same version.
    #[derive(Debug, serde::Deserialize, dynastream::Model)]
    #[dynastream(pk = "USER#{owner}#STORY#{story_id}", sk = "STORY#{story_id}")]
    pub struct Story {
        pub owner: String,
        pub story_id: String,
        pub title: String,
        pub word_count: Option<i64>,
    }
}

macro_rules! variant {
    ($m:ident, $pk:literal, $sk:literal, { $($f:ident : $t:ty),* }) => {
        mod $m {
            #[allow(dead_code)]
            #[derive(Debug, serde::Deserialize, dynastream::Model)]
            #[dynastream(pk = $pk, sk = $sk)]
            pub struct Story { $(pub $f: $t),* }
        }
    };
}
variant!(added, "USER#{owner}#STORY#{story_id}", "STORY#{story_id}", { owner: String, story_id: String, title: String, word_count: Option<i64>, tags: Vec<String> });
variant!(removed, "USER#{owner}#STORY#{story_id}", "STORY#{story_id}", { owner: String, story_id: String, title: String });
variant!(renamed, "USER#{owner}#STORY#{story_id}", "STORY#{story_id}", { owner: String, story_id: String, headline: String, word_count: Option<i64> });
variant!(retyped, "USER#{owner}#STORY#{story_id}", "STORY#{story_id}", { owner: String, story_id: String, title: String, word_count: Option<u64> });
variant!(reordered, "USER#{owner}#STORY#{story_id}", "STORY#{story_id}", { owner: String, story_id: String, word_count: Option<i64>, title: String });
variant!(new_pk, "U#{owner}#STORY#{story_id}", "STORY#{story_id}", { owner: String, story_id: String, title: String, word_count: Option<i64> });
variant!(new_sk, "USER#{owner}#STORY#{story_id}", "S#{story_id}", { owner: String, story_id: String, title: String, word_count: Option<i64> });

#[test]
fn schema_version_is_stable_and_documented() {
    // The canonical text the version hashes (docs/semantics.md, "Models and schema versions").
    let canonical = "dynastream-schema-v1\npk=USER#{owner}#STORY#{story_id}\nsk=STORY#{story_id}\nfield=owner:String\nfield=story_id:String\nfield=title:String\nfield=word_count:Option<i64>\n";
    let expected: String = sha2::Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1::Story::SCHEMA_VERSION, expected);
    // Pinned: a change here means every stored item looks outdated. Only change it on purpose.
    assert_eq!(
        v1::Story::SCHEMA_VERSION,
        "7a9f6fcf5c86a8917621930c3378558966a34765d66911e3b486ad1d5de657bc"
    );
    assert_eq!(v1::Story::SCHEMA_VERSION, v1_again::Story::SCHEMA_VERSION);
}

#[allow(dead_code)]
mod with_gsi {
    #[derive(Debug, serde::Deserialize, dynastream::Model)]
    #[dynastream(
        pk = "USER#{owner}#STORY#{story_id}",
        sk = "STORY#{story_id}",
        gsi(name = "GSI1", pk = "TITLE#{title}", sk = "STORY#{story_id}")
    )]
    pub struct Story {
        pub owner: String,
        pub story_id: String,
        pub title: String,
        pub word_count: Option<i64>,
    }
}

#[allow(dead_code)]
mod with_other_gsi {
    #[derive(Debug, serde::Deserialize, dynastream::Model)]
    #[dynastream(
        pk = "USER#{owner}#STORY#{story_id}",
        sk = "STORY#{story_id}",
        gsi(
            name = "GSI1",
            pk = "TITLE#{title}",
            sk = "S#{story_id}",
            pk_attr = "gpk",
            sk_attr = "gsk"
        )
    )]
    pub struct Story {
        pub owner: String,
        pub story_id: String,
        pub title: String,
        pub word_count: Option<i64>,
    }
}

#[test]
fn indexes_render_from_the_item_and_from_a_prefix() {
    use dynastream::model::KeyPrefix as _;
    let spec = &with_gsi::Story::indexes()[0];
    assert_eq!(
        (spec.name, spec.pk_attr, spec.sk_attr),
        ("GSI1", "GSI1PK", "GSI1SK")
    );
    let other = &with_other_gsi::Story::indexes()[0];
    assert_eq!((other.pk_attr, other.sk_attr), ("gpk", "gsk"));
    let story = with_gsi::Story {
        owner: "jane".into(),
        story_id: "42".into(),
        title: "Dune".into(),
        word_count: None,
    };
    assert_eq!(
        story.index_key(0).unwrap().unwrap(),
        ("TITLE#Dune".to_string(), "STORY#42".to_string())
    );
    assert!(story.index_key(1).is_none());
    let prefix = with_gsi::StoryKeyPrefix {
        title: Some("Dune".into()),
        ..Default::default()
    };
    assert_eq!(prefix.pk(Some(0)).unwrap(), "TITLE#Dune");
    assert_eq!(prefix.sk_prefix(Some(0)).unwrap(), "STORY#");
    let err = prefix.pk(None).unwrap_err().to_string();
    assert_eq!(
        err,
        "missing key field `owner` for key pattern `USER#{owner}#STORY#{story_id}`"
    );
    assert!(v1::Story::indexes().is_empty());
}

#[test]
fn schema_version_changes_with_fields_and_patterns() {
    assert_ne!(
        with_gsi::Story::SCHEMA_VERSION,
        with_other_gsi::Story::SCHEMA_VERSION,
        "a changed index changes the version"
    );
    let base = v1::Story::SCHEMA_VERSION;
    for (what, v) in [
        ("added", added::Story::SCHEMA_VERSION),
        ("removed", removed::Story::SCHEMA_VERSION),
        ("renamed", renamed::Story::SCHEMA_VERSION),
        ("retyped", retyped::Story::SCHEMA_VERSION),
        ("reordered", reordered::Story::SCHEMA_VERSION),
        ("pk", new_pk::Story::SCHEMA_VERSION),
        ("sk", new_sk::Story::SCHEMA_VERSION),
        ("gsi added", with_gsi::Story::SCHEMA_VERSION),
    ] {
        assert_ne!(v, base, "{what} must change the version");
        assert_eq!(v.len(), 64);
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payment {
    Card { last4: String },
    Invoice { days: u32 },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Address {
    city: String,
    zip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[dynastream(
    pk = "CUST#{id}",
    sk = "ORDER#{year:04}#{seq}",
    entity = "CustomerOrder",
    key = "OrderId"
)]
struct RichOrder {
    id: String,
    year: u16,
    seq: u64,
    #[serde(rename = "addr")]
    address: Address,
    lines: Vec<(String, u32)>,
    attrs: HashMap<String, String>,
    scores: BTreeMap<String, f64>,
    payment: Payment,
    #[serde(default)]
    note: Option<String>,
    #[serde(skip)]
    cached: u8,
}

#[test]
fn models_take_ordinary_serde_shapes() {
    let json = r#"{"PK":{"S":"CUST#c1"},"SK":{"S":"ORDER#2026#17"},"id":{"S":"c1"},"year":{"N":"2026"},"seq":{"N":"17"},
        "addr":{"M":{"city":{"S":"Oslo"},"zip":{"NULL":true}}},
        "lines":{"L":[{"L":[{"S":"pen"},{"N":"2"}]}]},
        "attrs":{"M":{"gift":{"S":"yes"}}},"scores":{"M":{"a":{"N":"0.5"}}},
        "payment":{"M":{"type":{"S":"invoice"},"days":{"N":"30"}}}}"#;
    let o: RichOrder = dynastream::dynamodb_json::from_image(json).unwrap();
    let key: OrderId = o.key();
    assert_eq!(
        o.address,
        Address {
            city: "Oslo".into(),
            zip: None
        }
    );
    assert_eq!(o.lines, vec![("pen".to_string(), 2)]);
    assert_eq!(o.payment, Payment::Invoice { days: 30 });
    assert_eq!((o.note, o.cached), (None, 0));
    assert_eq!(RichOrder::ENTITY, "CustomerOrder");

    assert_eq!(
        (key.pk().unwrap(), key.sk().unwrap()),
        ("CUST#c1".to_string(), "ORDER#2026#17".to_string())
    );
    assert_eq!(
        OrderId::from_keys("CUST#c1", "ORDER#2026#17"),
        Some(key.clone())
    );
    assert_eq!(
        OrderId::from_keys("CUST#c1", "ORDER#26#17"),
        None,
        "padded width is exact"
    );
    assert_eq!(
        OrderId::from_keys("CUST#c1", "ORDER#2026#017"),
        None,
        "integers are canonical"
    );
    assert_eq!(
        OrderId::from_keys("cust#c1", "ORDER#2026#17"),
        None,
        "case-sensitive"
    );
    assert_eq!(
        OrderId::from_keys("CUST#c1", "ORDER#2026#x"),
        None,
        "must parse into u64"
    );
    assert!(
        OrderId {
            id: "a#b".into(),
            year: 12345,
            seq: 1
        }
        .sk()
        .is_err(),
        "wider than 4"
    );
    assert!(
        OrderId {
            id: "".into(),
            year: 1,
            seq: 1
        }
        .pk()
        .is_err(),
        "empty"
    );
}

#[test]
fn invalid_models_are_compile_errors_with_spans() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

#[derive(Debug, Deserialize, Model)]
#[dynastream(pk = "A#{n:04}#{tag}", sk = "B#{n}#{tag}")]
#[allow(dead_code)]
struct Twice {
    n: u32,
    tag: String,
}

#[test]
fn a_field_in_both_patterns_must_agree() {
    // `tag` has the same form in both patterns (compared as text); `n` is padded in the PK and
    // plain in the SK (compared as values).
    assert_eq!(
        TwiceKey::from_keys("A#0042#x", "B#42#x"),
        Some(TwiceKey {
            n: 42,
            tag: "x".into()
        })
    );
    assert_eq!(
        TwiceKey::from_keys("A#0042#x", "B#42#y"),
        None,
        "tag differs"
    );
    assert_eq!(TwiceKey::from_keys("A#0042#x", "B#43#x"), None, "n differs");
    assert_eq!(
        TwiceKey::from_keys("A#0042#x", "B#042#x"),
        None,
        "non-canonical n"
    );
    let key = TwiceKey {
        n: 7,
        tag: "t".into(),
    };
    assert_eq!(
        (key.pk().unwrap(), key.sk().unwrap()),
        ("A#0007#t".to_string(), "B#7#t".to_string())
    );
}

/// `matches` is `from_keys(..).is_some()` without building the key: checked on keys that mostly
/// have the right shape, so both answers come up (the non-vacuity check counts them).
fn agree<K: ModelKey>(pk: &str, sk: &str) -> bool {
    let built = K::from_keys(pk, sk).is_some();
    assert_eq!(K::matches(pk, sk), built, "{pk:?} / {sk:?}");
    built
}

#[test]
fn matching_agrees_with_building_the_key() {
    let cases = [
        ("A#0042#x", "B#42#x", true),
        ("A#0042#x", "B#42#y", false),
        ("A#0042#x", "B#43#x", false),
        ("A#0042#x", "B#042#x", false),
        ("A#042#x", "B#42#x", false),
        ("A#00a2#x", "B#a2#x", false),
    ];
    for (pk, sk, expect) in cases {
        assert_eq!(agree::<TwiceKey>(pk, sk), expect, "{pk} {sk}");
    }
    assert!(agree::<OrderId>("CUST#c1", "ORDER#2026#17"));
    assert!(!agree::<OrderId>("CUST#c1", "ORDER#2026#017"));
    assert!(!agree::<OrderId>(
        "CUST#c1",
        "ORDER#2026#99999999999999999999999"
    ));

    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let piece = "(0|00|0042|42|042|4|-1|99999999999|x|y|x#y|)";
    let regex = |re: String| proptest::string::string_regex(&re).expect("a valid regex");
    let twice = (
        regex(format!("(A|a|B)#{piece}#{piece}")),
        regex(format!("(B|A)#{piece}#{piece}")),
    );
    let order = (
        regex(format!("CUST#{piece}")),
        regex(format!("ORDER#{piece}#{piece}")),
    );
    let mut runner = TestRunner::deterministic();
    let mut gen = |keys: &(_, _)| {
        let mut one = |s: &proptest::string::RegexGeneratorStrategy<String>| {
            s.new_tree(&mut runner).expect("a value").current()
        };
        (one(&keys.0), one(&keys.1))
    };
    let mut counts = [0usize; 2];
    for _ in 0..4000 {
        let (p, s) = gen(&twice);
        counts[usize::from(agree::<TwiceKey>(&p, &s))] += 1;
        let (p, s) = gen(&order);
        counts[usize::from(agree::<OrderId>(&p, &s))] += 1;
    }
    assert!(
        counts[0] > 100 && counts[1] > 100,
        "both answers must come up often: {counts:?}"
    );
}
