//! The properties the fuzz targets (`fuzz/`) check, as plain functions: the targets call them
//! on libFuzzer's inputs, and the test command calls them on the kept regression inputs and on
//! random ones (`core/tests/fuzz_smoke.rs`). Each returns `Err` with what broke; none may panic.
//! Not part of the API.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::decode;
use crate::event::{read_batch_by, BatchText, EventError, ImageStore, KinesisEvent};
use crate::key::Pattern;
use crate::Number;

/// Pattern grammar: `text` parses or is refused; when it parses and `key` matches, rendering
/// the captured text gives `key` back, and rendering any values gives a key that matches with
/// the same captures.
pub fn pattern(text: &str, key: &str) -> Result<(), String> {
    let Ok(p) = Pattern::parse(text) else {
        return Ok(());
    };
    let n = p.field_count();
    let mut out = vec![""; n];
    if p.captures(key, &mut out) {
        let again = p.render(&out).map_err(|e| {
            format!("{text:?}: captured {out:?} from {key:?} but cannot render: {e}")
        })?;
        if again != key {
            return Err(format!(
                "{text:?}: {key:?} captures {out:?}, which render {again:?}"
            ));
        }
    }
    // Values taken from the key's pieces: a rendered key matches back to them.
    let values: Vec<&str> = key.split('#').take(n).collect();
    if values.len() == n {
        if let Ok(k) = p.render(&values) {
            let mut back = vec![""; n];
            if !p.captures(&k, &mut back) || back != values {
                return Err(format!(
                    "{text:?}: {values:?} render {k:?}, which captures {back:?}"
                ));
            }
        }
    }
    Ok(())
}

/// The envelope: the fast scan and the serde paths read every event the same (the same
/// records, the same broken records and messages, the same invocation error).
pub fn envelope(json: &[u8]) -> Result<(), String> {
    if KinesisEvent::is_kinesis(json) {
        return kinesis_envelope(json);
    }
    let read = |fast: bool| {
        let mut store = ImageStore::default();
        let mut texts = BatchText::new();
        let mut r = read_batch_by(json, None, &mut store, &mut texts, fast);
        if let Ok(entries) = &mut r {
            texts.finish(entries);
        }
        format!("{r:?}")
    };
    let (fast, slow) = (read(true), read(false));
    if fast != slow {
        return Err(format!(
            "scan and serde disagree on {:?}:\n scan:  {fast}\n serde: {slow}",
            String::from_utf8_lossy(json)
        ));
    }
    Ok(())
}

/// A Kinesis event: the envelope scan and serde read it the same (the same records, the same
/// broken records and messages; an unreadable event unreadable either way, the messages being
/// each reader's), and so do the change readers.
fn kinesis_envelope(json: &[u8]) -> Result<(), String> {
    let read = |fast: bool| match KinesisEvent::decode_by(json, fast) {
        Err(EventError::Unreadable { .. }) => "unreadable".to_string(),
        Err(EventError::NoSequenceNumber { index, .. }) => format!("no sequence number {index}"),
        Err(e) => format!("{e:?}"),
        Ok(k) => {
            let mut texts = BatchText::new();
            let mut entries = k.read(None, &mut ImageStore::default(), &mut texts, fast);
            texts.finish(&mut entries);
            format!("{entries:?}")
        }
    };
    let (fast, slow) = (read(true), read(false));
    if fast != slow {
        return Err(format!(
            "scan and serde disagree on the Kinesis event {:?}:\n scan:  {fast}\n serde: {slow}",
            String::from_utf8_lossy(json)
        ));
    }
    Ok(())
}

/// A model-shaped target with a field of every kind the decoders handle.
#[derive(Debug, PartialEq, Deserialize)]
#[allow(dead_code)]
struct Target {
    s: Option<String>,
    i: Option<i64>,
    u: Option<u8>,
    f: Option<f64>,
    b: Option<bool>,
    n: Option<Number>,
    l: Option<Vec<Inner>>,
    m: Option<BTreeMap<String, i32>>,
    ss: Option<BTreeSet<String>>,
    t: Option<(u16, String)>,
    e: Option<Shape>,
    #[serde(default)]
    any: Option<serde_json::Value>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[allow(dead_code)]
struct Inner {
    label: String,
    #[serde(default)]
    n: Option<u16>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[allow(dead_code)]
enum Shape {
    Dot,
    Circle(u32),
    Rect { w: i64, h: i64 },
}

/// The image decoders: where the fast reader decodes an image, the reference path decodes it
/// to the same value and schema version (the reader gives up on anything it is unsure of).
pub fn image(json: &str) -> Result<(), String> {
    let skip = ["PK", "SK"];
    let reference = decode::fuzz_reference::<Target>(json, skip);
    if let Some(fast) = decode::fuzz_reader::<Target>(json, skip) {
        match reference {
            Ok(r) if r == fast => {}
            other => {
                return Err(format!(
                    "reader and reference disagree on {json:?}:\n reader:    {fast:?}\n reference: {other:?}"
                ))
            }
        }
    }
    Ok(())
}
