//! A short fuzz smoke for the test command (the long runs are `cargo fuzz run`, see
//! fuzz/README.md): the properties the fuzz targets check, on every kept regression input and
//! seed, and on random and mutated inputs.

extern crate dynastream_core as dynastream;

use std::path::{Path, PathBuf};

use dynastream::__fuzz as fuzz;
use proptest::prelude::*;

fn dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The files of one input directory: a directory that is missing or holds no file fails the
/// test, so no input set is skipped silently.
fn files(rel: &str) -> Vec<(String, Vec<u8>)> {
    let entries = match std::fs::read_dir(dir(rel)) {
        Ok(entries) => entries,
        Err(e) => panic!("input directory {rel}: {e}"),
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "input directory {rel} holds no file");
    out
}

fn pattern_input(data: &[u8]) -> Result<(), String> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let (p, k) = text.split_once('\n').unwrap_or((text, ""));
    fuzz::pattern(p, k)
}

fn image_input(data: &[u8]) -> Result<(), String> {
    match std::str::from_utf8(data) {
        Ok(json) => fuzz::image(json),
        Err(_) => Ok(()),
    }
}

#[test]
fn kept_inputs_and_seeds_hold_the_properties() {
    for (rel, check) in [
        ("events", fuzz::envelope as fn(&[u8]) -> Result<(), String>),
        ("handler/tests/fixtures/field-cases", fuzz::envelope),
        ("handler/tests/fixtures/one-reading", fuzz::envelope),
        ("handler/tests/fixtures/peer-fixtures", fuzz::envelope),
        (
            "handler/tests/fixtures/peer-fixtures/derived",
            fuzz::envelope,
        ),
        ("fuzz/regressions/image", image_input),
        ("fuzz/seeds/image", image_input),
        ("fuzz/seeds/pattern", pattern_input),
    ] {
        // Each directory on its own: `files` fails one that is missing or empty.
        for (name, data) in files(rel) {
            if let Err(e) = check(&data) {
                panic!("{name}: {e}");
            }
        }
    }
}

#[test]
fn a_missing_or_empty_input_directory_fails() {
    assert!(std::panic::catch_unwind(|| files("fuzz/regressions/no-such-target")).is_err());
    let empty = std::env::temp_dir().join(format!("dynastream-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    // An absolute path joined to the crate's directory stays itself.
    let rel = empty.display().to_string();
    let r = std::panic::catch_unwind(|| files(&rel));
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(r.is_err(), "an empty directory must fail");
}

fn event_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(r#"{"S":"a"}"#.to_string()),
        Just(r#"{"N":"1.50"}"#.to_string()),
        Just(r#"{"S":null}"#.to_string()),
        Just(r#"{"B":"AA=="}"#.to_string()),
        Just(r#"{"S":"x","N":"1"}"#.to_string()),
        Just(r#"{"BOOL":true}"#.to_string()),
        Just("null".to_string()),
    ];
    let seq = prop_oneof![
        Just(r#""SequenceNumber":"1""#.to_string()),
        Just(r#""SequenceNumber":"""#.to_string()),
        Just(r#""SequenceNumber":7"#.to_string()),
        Just(String::new()),
    ];
    let time = prop_oneof![
        Just(String::new()),
        Just(r#""ApproximateCreationDateTime":1700000000.5,"#.to_string()),
        Just(r#""ApproximateCreationDateTime":1700000000123,"#.to_string()),
        Just(r#""ApproximateCreationDateTime":1700000000123,"ApproximateCreationDateTimePrecision":"MILLISECOND","#.to_string()),
        Just(r#""ApproximateCreationDateTime":"x","#.to_string()),
    ];
    let name = prop_oneof![
        Just(r#""eventName":"INSERT","#),
        Just(r#""eventName":"UPSERT","#),
        Just(""),
    ];
    let record = (name, time, value.clone(), value, seq).prop_map(|(n, t, k, img, s)| {
        format!(r#"{{{n}"dynamodb":{{{t}"Keys":{{"PK":{k}}},"NewImage":{{"a":{img}}},{s}}}}}"#)
    });
    proptest::collection::vec(record, 0..4)
        .prop_map(|r| format!(r#"{{"Records":[{}]}}"#, r.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn generated_and_damaged_events_read_the_same_by_scan_and_serde(
        ev in event_text(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        prop_assert!(fuzz::envelope(ev.as_bytes()).is_ok(), "{:?}", fuzz::envelope(ev.as_bytes()));
        let mut damaged = ev.into_bytes();
        let i = cut.index(damaged.len().max(1)).min(damaged.len().saturating_sub(1));
        if !damaged.is_empty() {
            damaged[i] = byte;
        }
        let r = fuzz::envelope(&damaged);
        prop_assert!(r.is_ok(), "{:?}", r);
    }

    #[test]
    fn random_patterns_and_keys(p in "[A-Z#{}:0-9a-z_]{0,16}", k in "[A-Z#0-9a-z_]{0,16}") {
        let r = fuzz::pattern(&p, &k);
        prop_assert!(r.is_ok(), "{:?}", r);
    }
}
