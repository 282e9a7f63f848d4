//! The property the mirror's fuzz target checks (`__fuzz::mirror_json`, feature `fuzz`; the
//! core's targets' properties are `dynastream_core::__fuzz`).

use serde_json::{Map, Value};

use crate::json::image_to_json;

/// The reference compares through `f64`: a number beyond it is checked for validity only.
const BEYOND_F64: &str = "beyond f64";

/// The mirror's JSON writer: for any image, it writes JSON that Postgres' jsonb accepts (valid,
/// no U+0000) and that equals a slow reference conversion, or refuses exactly the images the
/// reference refuses.
pub fn mirror_json(image: &str) -> Result<(), String> {
    let fast = image_to_json(image, &["PK", "SK"], "schema_version");
    let reference = serde_json::from_str::<J>(image)
        .map_err(|e| e.to_string())
        .and_then(|v| convert_image(&v));
    match (fast, reference) {
        (Ok(out), Ok(want)) => {
            if has_nul(&out.json) {
                return Err(format!("{image:?}: wrote U+0000: {}", out.json));
            }
            let got: Value = serde_json::from_str(&out.json)
                .map_err(|e| format!("{image:?}: wrote invalid JSON {}: {e}", out.json))?;
            if !close(&got, &want) {
                return Err(format!(
                    "{image:?}: wrote {got}, the reference gives {want}"
                ));
            }
            Ok(())
        }
        (Err(_), Err(_)) => Ok(()),
        // The reference reads JSON through doubles: a JSON number beyond them (in a skipped key
        // attribute, say, which the writer never reads) leaves only validity to check.
        (Ok(out), Err(why)) if why == BEYOND_F64 || why.starts_with("number out of range") => {
            if has_nul(&out.json) {
                return Err(format!("{image:?}: wrote U+0000: {}", out.json));
            }
            serde_json::from_str::<serde::de::IgnoredAny>(&out.json)
                .map(|_| ())
                .map_err(|e| format!("{image:?}: wrote invalid JSON {}: {e}", out.json))
        }
        (Ok(out), Err(why)) => Err(format!(
            "{image:?}: wrote {} but the reference refuses it: {why}",
            out.json
        )),
        (Err(e), Ok(want)) => Err(format!(
            "{image:?}: refused ({e}) but the reference gives {want}"
        )),
    }
}

/// Whether JSON text holds U+0000, raw or as the escape `\u0000` (an escaped backslash
/// followed by `u0000` is not one: found by fuzzing the check itself).
fn has_nul(json: &str) -> bool {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0 => return true,
            b'\\' => {
                if b.get(i + 1) == Some(&b'u') && b.get(i + 2..i + 6) == Some(b"0000") {
                    return true;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    false
}

/// Equal, numbers as doubles within a relative 1e-12 (`1` equals `1.0`; serde_json's number
/// reader does not round its last bit as `str::parse` does).
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

/// JSON that keeps every member of an object, duplicates too (DynamoDB never sends them; a
/// fuzzer does, and the writer checks each one).
enum J {
    Null,
    Bool(bool),
    Num,
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> serde::Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_i64<E>(self, _: i64) -> Result<J, E> {
                Ok(J::Num)
            }
            fn visit_u64<E>(self, _: u64) -> Result<J, E> {
                Ok(J::Num)
            }
            fn visit_f64<E>(self, _: f64) -> Result<J, E> {
                Ok(J::Num)
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    v.push(kv);
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

fn convert_image(v: &J) -> Result<Value, String> {
    let J::Obj(m) = v else {
        return Err("not an object".into());
    };
    let mut out = Map::new();
    let mut seen = std::collections::HashSet::new();
    for (k, a) in m {
        // A name given twice, key attributes too, is refused (docs/semantics.md, "Decoding").
        if !seen.insert(k.as_str()) {
            return Err("a name given twice".into());
        }
        if k == "PK" || k == "SK" {
            continue;
        }
        if k.contains('\0') {
            return Err("NUL in a name".into());
        }
        out.insert(k.clone(), convert(a)?);
    }
    Ok(Value::Object(out))
}

fn text(v: &J) -> Result<&str, String> {
    let J::Str(s) = v else {
        return Err("not a string".into());
    };
    if s.contains('\0') {
        return Err("NUL".into());
    }
    Ok(s)
}

fn number(v: &J) -> Result<Value, String> {
    let J::Str(t) = v else {
        return Err("number not a string".into());
    };
    let d = dynastream_core::dynamodb_json::split_number(t).ok_or("not a number")?;
    // Postgres numeric's limits (the writer's documented rule).
    let scale = (d.frac.len() as i64).saturating_sub(d.exp);
    let int = d.int.trim_start_matches('0');
    let before = if int.is_empty() {
        d.frac
            .bytes()
            .position(|c| c != b'0')
            .map(|k| d.exp.saturating_sub(k as i64))
    } else {
        Some((int.len() as i64).saturating_add(d.exp))
    };
    if scale > 16383 || before.is_some_and(|b| b > 131072) {
        return Err("beyond numeric".into());
    }
    let f: f64 = t
        .trim_start_matches('+')
        .parse()
        .map_err(|_| "unparsable")?;
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| BEYOND_F64.into())
}

fn binary(v: &J) -> Result<Value, String> {
    use base64::Engine as _;
    let J::Str(t) = v else {
        return Err("binary not a string".into());
    };
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|e| e.to_string())?;
    Ok(Value::String(t.clone()))
}

fn convert(a: &J) -> Result<Value, String> {
    let J::Obj(m) = a else {
        return Err("attribute not an object".into());
    };
    let [(tag, v)] = m.as_slice() else {
        return Err("not one tag".into());
    };
    let list = |f: fn(&J) -> Result<Value, String>| -> Result<Value, String> {
        let J::Arr(items) = v else {
            return Err("not a list".to_string());
        };
        items
            .iter()
            .map(f)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    };
    match (tag.as_str(), v) {
        ("S", _) => Ok(Value::String(text(v)?.to_string())),
        ("N", _) => number(v),
        ("B", _) => binary(v),
        ("BOOL", J::Bool(b)) => Ok(Value::Bool(*b)),
        ("NULL", J::Bool(_)) => Ok(Value::Null),
        ("M", J::Obj(inner)) => {
            let mut out = Map::new();
            for (k, x) in inner {
                if out.contains_key(k) {
                    return Err("a name given twice".into());
                }
                if k.contains('\0') {
                    return Err("NUL in a name".into());
                }
                out.insert(k.clone(), convert(x)?);
            }
            Ok(Value::Object(out))
        }
        ("L", _) => list(convert),
        ("SS", _) => list(|x| text(x).map(|s| Value::String(s.to_string()))),
        ("NS", _) => list(number),
        ("BS", _) => list(binary),
        _ => Err("unknown tag or wrong value type".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The kept regression inputs and seeds of the `mirror_json` fuzz target (fuzz/README.md).
    #[test]
    fn kept_inputs_and_seeds_hold_the_property() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut n = 0;
        for dir in ["regressions/mirror_json", "seeds/mirror_json"] {
            // Each directory on its own: a missing or empty one fails, never skipped.
            let entries = match std::fs::read_dir(root.join(dir)) {
                Ok(entries) => entries,
                Err(e) => panic!("input directory fuzz/{dir}: {e}"),
            };
            let before = n;
            for e in entries.filter_map(Result::ok) {
                let data = std::fs::read(e.path()).unwrap_or_default();
                if let Ok(text) = std::str::from_utf8(&data) {
                    n += 1;
                    if let Err(why) = mirror_json(text) {
                        panic!("{}: {why}", e.path().display());
                    }
                }
            }
            assert!(n > before, "input directory fuzz/{dir} holds no input");
        }
    }

    fn attr() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just(r#"{"S":"a\u0000b"}"#.to_string()),
            Just(r#"{"S":"é\"\n"}"#.to_string()),
            "[-+.0-9eE]{0,8}".prop_map(|n| format!(r#"{{"N":"{n}"}}"#)),
            Just(r#"{"N":"1e200000"}"#.to_string()),
            Just(r#"{"N":"1e400"}"#.to_string()),
            Just(r#"{"B":"AA=="}"#.to_string()),
            Just(r#"{"B":"*"}"#.to_string()),
            Just(r#"{"BOOL":false}"#.to_string()),
            Just(r#"{"NULL":true}"#.to_string()),
            Just(r#"{"SS":["x","\u0000"]}"#.to_string()),
            Just(r#"{"NS":["1","x"]}"#.to_string()),
            Just(r#"{"Q":1}"#.to_string()),
            Just(r#"{"S":"a","N":"1"}"#.to_string()),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!(r#"{{"L":[{}]}}"#, v.join(","))),
                proptest::collection::vec(("[a-c\u{0}]{1,2}", inner), 0..3).prop_map(|v| {
                    let body: Vec<String> = v
                        .iter()
                        .map(|(k, a)| {
                            format!("{}:{a}", serde_json::to_string(k).unwrap_or_default())
                        })
                        .collect();
                    format!(r#"{{"M":{{{}}}}}"#, body.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_writer_agrees_with_the_reference(attrs in proptest::collection::vec(("[a-dPKS]{1,2}", attr()), 0..4)) {
            let body: Vec<String> = attrs.iter().map(|(k, a)| format!("\"{k}\":{a}")).collect();
            let image = format!("{{{}}}", body.join(","));
            let r = mirror_json(&image);
            prop_assert!(r.is_ok(), "{:?}", r);
        }
    }
}
