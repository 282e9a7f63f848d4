//! DynamoDB JSON → plain JSON for the `data` column the mirror and the Postgres store share, in
//! one streaming pass.
//!
//! N becomes a JSON number with its exact digits (jsonb keeps them), S a string, BOOL and NULL
//! themselves, M an object, L an array, SS/NS/BS arrays, B its base64 text. The key attributes
//! are left out; the item's `schema_version` attribute is picked up on the way.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use dynastream_core::dynamodb_json::{json_problem, split_number, CowStr, Names, Tag};

use crate::error::abbrev;

/// An image as plain JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageJson {
    /// The attributes other than the keys, as a JSON object.
    pub json: String,
    /// The item's `schema_version` attribute, when it is a string.
    pub schema_version: Option<String>,
}

/// Converts one image (a DynamoDB JSON map) to plain JSON, leaving out the attributes named in
/// `skip` (the key attributes): `{"PK":{"S":"A#1"},"n":{"N":"1.50"}}` becomes `{"n":1.50}`.
/// The error says what is wrong and where.
pub(crate) fn image_to_json(
    image: &str,
    skip: &[&str],
    version_attr: &str,
) -> Result<ImageJson, String> {
    let mut out = Vec::with_capacity(image.len());
    let mut schema_version = None;
    let mut de = serde_json::Deserializer::from_str(image);
    ImageSeed {
        out: &mut out,
        skip,
        version_attr,
        schema_version: &mut schema_version,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| json_problem(image, &e))?;
    let json = String::from_utf8(out).map_err(|e| e.to_string())?;
    Ok(ImageJson {
        json,
        schema_version,
    })
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// What Postgres says of U+0000 in text and jsonb, for refusals made before sending.
pub(crate) const NUL_REFUSAL: &str =
    "holds U+0000 (NUL), which Postgres text and jsonb cannot store";

/// Writes a string value or map key that Postgres can store: `Err` when it holds U+0000.
fn write_text<E: de::Error>(out: &mut Vec<u8>, s: &str) -> Result<(), E> {
    if s.as_bytes().contains(&0) {
        return Err(E::custom(format_args!("string {NUL_REFUSAL}")));
    }
    write_str(out, s);
    Ok(())
}

/// Postgres' `numeric` (what a jsonb number is) holds at most 131072 digits before the point
/// and 16383 after (PostgreSQL documentation, "Arbitrary Precision Numbers"); every number
/// DynamoDB accepts fits, a hand-made event's may not.
fn numeric_holds(d: &dynastream_core::dynamodb_json::Decimal<'_>) -> bool {
    let scale = (d.frac.len() as i64).saturating_sub(d.exp);
    if scale > 16383 {
        return false;
    }
    let int = d.int.trim_start_matches('0');
    let before = if int.is_empty() {
        match d.frac.bytes().position(|c| c != b'0') {
            Some(k) => d.exp.saturating_sub(k as i64),
            None => return true,
        }
    } else {
        (int.len() as i64).saturating_add(d.exp)
    };
    before <= 131072
}

/// A JSON number with the same value and digits as DynamoDB number text: already valid JSON
/// (the usual case) is kept as is; `+5`, `.5`, `5.` and `007` are rewritten.
pub(crate) fn json_number(text: &str) -> Option<Cow<'_, str>> {
    if is_json_number(text) {
        return Some(Cow::Borrowed(text));
    }
    let d = split_number(text)?;
    let int = d.int.trim_start_matches('0');
    let mut s = String::with_capacity(text.len() + 2);
    if d.negative {
        s.push('-');
    }
    s.push_str(if int.is_empty() { "0" } else { int });
    if !d.frac.is_empty() {
        s.push('.');
        s.push_str(d.frac);
    }
    if d.exp != 0 {
        s.push('e');
        s.push_str(&d.exp.to_string());
    }
    Some(Cow::Owned(s))
}

fn is_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[start] == b'0') {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

struct ImageSeed<'o> {
    out: &'o mut Vec<u8>,
    skip: &'o [&'o str],
    /// The top level's schema-version attribute ("" inside maps).
    version_attr: &'o str,
    schema_version: &'o mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for ImageSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ImageSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an image: a map of attribute names to DynamoDB values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut first = true;
        let mut names = Names::new();
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            // One value per attribute, as the decoder reads it (jsonb would keep the last).
            if !names.insert(&name) {
                return Err(de::Error::custom(format_args!(
                    "attribute {name:?} is given twice"
                )));
            }
            if self.skip.contains(&&*name) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            if name.as_bytes().contains(&0) {
                return Err(de::Error::custom(format_args!(
                    "attribute name {name:?} {NUL_REFUSAL}"
                )));
            }
            write_str(self.out, &name);
            self.out.push(b':');
            let at = self.out.len();
            let tag = map
                .next_value_seed(AttrSeed { out: self.out })
                .map_err(|e| de::Error::custom(format_args!("attribute {name}: {e}")))?;
            // The version is an S's text; any other type (a B, whose base64 is written as a
            // string too) is no version of the model, as the decoder reads it.
            if !self.version_attr.is_empty() && name == self.version_attr && tag == Tag::S {
                *self.schema_version = serde_json::from_slice::<String>(&self.out[at..]).ok();
            }
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// One attribute value (`{"S": ...}`, `{"M": {...}}`, ...).
struct AttrSeed<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for AttrSeed<'_> {
    /// The value's type tag.
    type Value = Tag;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Tag, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AttrSeed<'_> {
    type Value = Tag;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB attribute value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag, A::Error> {
        let Some(tag) = map.next_key::<Tag>()? else {
            return Err(de::Error::custom("attribute value has no type tag"));
        };
        let out = self.out;
        match tag {
            Tag::S => write_text::<A::Error>(out, &map.next_value::<CowStr<'de>>()?.0)?,
            Tag::N => write_number::<A::Error>(out, &map.next_value::<CowStr<'de>>()?.0)?,
            Tag::B => write_binary::<A::Error>(out, &map.next_value::<CowStr<'de>>()?.0)?,
            Tag::Bool => {
                let b = map.next_value::<bool>()?;
                out.extend_from_slice(if b { b"true" } else { b"false" });
            }
            Tag::Null => {
                map.next_value::<bool>()?;
                out.extend_from_slice(b"null");
            }
            Tag::M => map.next_value_seed(ImageSeed {
                out,
                skip: &[],
                version_attr: "",
                schema_version: &mut None,
            })?,
            Tag::L | Tag::Ss | Tag::Ns | Tag::Bs => map.next_value_seed(SeqSeed { out, tag })?,
        }
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(
                "attribute value has more than one type tag",
            ));
        }
        Ok(tag)
    }
}

fn write_number<E: de::Error>(out: &mut Vec<u8>, text: &str) -> Result<(), E> {
    // One reading of number text for the whole project: what the decoder's `split` refuses
    // (an exponent beyond i64, found by fuzzing, is valid JSON yet no number Postgres holds)
    // is refused here too.
    let Some(d) = split_number(text) else {
        return Err(E::custom(format_args!("{} is not a number", abbrev(text))));
    };
    if !numeric_holds(&d) {
        return Err(E::custom(format_args!(
            "number {} is beyond what Postgres numeric holds (131072 digits before the point, 16383 after)",
            abbrev(text)
        )));
    }
    match json_number(text) {
        Some(n) => {
            out.extend_from_slice(n.as_bytes());
            Ok(())
        }
        None => Err(E::custom(format_args!("{} is not a number", abbrev(text)))),
    }
}

fn write_binary<E: de::Error>(out: &mut Vec<u8>, text: &str) -> Result<(), E> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| E::custom(format_args!("invalid base64 in binary attribute: {e}")))?;
    write_str(out, text);
    Ok(())
}

/// The elements of an L, SS, NS or BS.
struct SeqSeed<'o> {
    out: &'o mut Vec<u8>,
    tag: Tag,
}

impl<'de> DeserializeSeed<'de> for SeqSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SeqSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let out = self.out;
        out.push(b'[');
        let mut i = 0usize;
        loop {
            let at = out.len();
            if i > 0 {
                out.push(b',');
            }
            let more = match self.tag {
                Tag::L => seq
                    .next_element_seed(AttrSeed { out: &mut *out })
                    .map_err(|e| de::Error::custom(format_args!("[{i}]: {e}")))?
                    .is_some(),
                _ => match seq.next_element::<CowStr<'de>>()? {
                    None => false,
                    Some(CowStr(s)) => {
                        match self.tag {
                            Tag::Ns => write_number::<A::Error>(out, &s),
                            Tag::Bs => write_binary::<A::Error>(out, &s),
                            _ => write_text::<A::Error>(out, &s),
                        }
                        .map_err(|e| de::Error::custom(format_args!("[{i}]: {e}")))?;
                        true
                    }
                },
            };
            if !more {
                out.truncate(at);
                break;
            }
            i += 1;
        }
        out.push(b']');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_becomes_plain_json_with_exact_numbers() {
        let img = r#"{"PK":{"S":"A#1"},"n":{"N":"12345678901234567890123456789012345678"},"t":{"SS":["x","y"]},"m":{"M":{"b":{"BOOL":true},"z":{"NULL":true}}}}"#;
        let j = image_to_json(img, &["PK", "SK"], "schema_version").unwrap();
        assert_eq!(
            j.json,
            r#"{"n":12345678901234567890123456789012345678,"t":["x","y"],"m":{"b":true,"z":null}}"#
        );
    }

    #[test]
    fn every_type() {
        let img = r#"{"PK":{"S":"p"},"SK":{"S":"s"},"s":{"S":"é\"\n"},"n":{"N":"-1.50E+3"},"b":{"B":"AAE="},
            "t":{"BOOL":false},"z":{"NULL":true},"m":{"M":{"PK":{"S":"nested keys stay"}}},
            "l":{"L":[{"N":"1"},{"S":"x"},{"L":[]}]},"ss":{"SS":["a"]},"ns":{"NS":["1","2.5"]},"bs":{"BS":["AA=="]},
            "schema_version":{"S":"abc"}}"#;
        let j = image_to_json(img, &["PK", "SK"], "schema_version").unwrap();
        assert_eq!(
            j.json,
            r#"{"s":"é\"\n","n":-1.50E+3,"b":"AAE=","t":false,"z":null,"m":{"PK":"nested keys stay"},"l":[1,"x",[]],"ss":["a"],"ns":[1,2.5],"bs":["AA=="],"schema_version":"abc"}"#
        );
        assert_eq!(j.schema_version.as_deref(), Some("abc"));
        let v: serde_json::Value = serde_json::from_str(&j.json).unwrap();
        assert!(v.is_object());
    }

    #[test]
    fn numbers_become_valid_json() {
        for (dyn_text, json) in [
            ("5", "5"),
            ("+5", "5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("007", "7"),
            ("-0.0", "-0.0"),
            ("1e5", "1e5"),
            ("1.0e+05", "1.0e+05"),
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
        ] {
            let n = json_number(dyn_text).unwrap();
            assert_eq!(n, json, "{dyn_text}");
            assert!(serde_json::from_str::<serde_json::Value>(&n).is_ok(), "{n}");
        }
        assert!(json_number("1e").is_none());
        assert!(json_number("abc").is_none());
        assert!(json_number("").is_none());
    }

    #[test]
    fn bad_values_name_the_attribute() {
        let e = image_to_json(
            r#"{"a":{"M":{"b":{"B":"not*base64"}}}}"#,
            &[],
            "schema_version",
        )
        .unwrap_err();
        assert!(
            e.contains("attribute a: attribute b: invalid base64"),
            "{e}"
        );
        let e = image_to_json(r#"{"a":{"NS":["1","x"]}}"#, &[], "schema_version").unwrap_err();
        assert!(e.contains("[1]"), "{e}");
        let e = image_to_json(r#"{"a":{"Q":"1"}}"#, &[], "schema_version").unwrap_err();
        assert!(e.contains("unknown DynamoDB type tag"), "{e}");
        let e = image_to_json(r#"{"a":{"S":"1","N":"2"}}"#, &[], "schema_version").unwrap_err();
        assert!(e.contains("more than one type tag"), "{e}");
    }

    #[test]
    fn one_reading_of_an_image_the_decoder_shares() {
        // A name given twice anywhere fails, as the decoder fails it (jsonb would keep the
        // last value, the handler never saw either).
        for (img, says) in [
            (
                r#"{"a":{"S":"x"},"a":{"S":"y"}}"#,
                "attribute \"a\" is given twice",
            ),
            (
                r#"{"m":{"M":{"k":{"N":"1"},"k":{"N":"2"}}}}"#,
                "attribute m: attribute \"k\" is given twice",
            ),
            (
                r#"{"PK":{"S":"1"},"PK":{"S":"2"}}"#,
                "attribute \"PK\" is given twice",
            ),
            (
                r#"{"a":{"S":"x\ud83d"}}"#,
                "attribute a: lone surrogate \\ud83d in a string",
            ),
        ] {
            let e = image_to_json(img, &["PK", "SK"], "schema_version").unwrap_err();
            assert!(e.contains(says), "{img}: {e}");
        }
        // A version of another writer's scheme is no version: NULL in the column, whatever
        // its type (a B's base64 is written as a string, yet it is no version either).
        for version in [
            r#"{"N":"3"}"#,
            r#"{"B":"AAE="}"#,
            r#"{"SS":["v"]}"#,
            r#"{"NULL":true}"#,
        ] {
            let img = format!(r#"{{"schema_version":{version},"a":{{"S":"x"}}}}"#);
            let j = image_to_json(&img, &[], "schema_version").unwrap();
            assert_eq!(j.schema_version, None, "{version}");
        }
        let j = image_to_json(r#"{"schema_version":{"S":"v1"}}"#, &[], "schema_version").unwrap();
        assert_eq!(j.schema_version.as_deref(), Some("v1"));
    }

    #[test]
    fn what_postgres_cannot_store_is_refused_with_its_path() {
        for (img, path) in [
            (
                r#"{"a":{"S":"x\u0000y"}}"#,
                "attribute a: string holds U+0000",
            ),
            (
                r#"{"a":{"M":{"b":{"L":[{"S":"ok"},{"S":"\u0000"}]}}}}"#,
                "attribute a: attribute b: [1]: string holds U+0000",
            ),
            (
                r#"{"a":{"SS":["ok","\u0000"]}}"#,
                "attribute a: [1]: string holds U+0000",
            ),
            (
                r#"{"a":{"M":{"k\u0000":{"N":"1"}}}}"#,
                "attribute a: attribute name \"k\\0\" holds U+0000",
            ),
            (
                r#"{"a":{"N":"1e131072"}}"#,
                "attribute a: number \"1e131072\" is beyond",
            ),
            (
                r#"{"a":{"NS":["1","1e-16384"]}}"#,
                "attribute a: [1]: number",
            ),
        ] {
            let e = image_to_json(img, &[], "schema_version").unwrap_err();
            assert!(e.contains(path), "{img}: {e}");
        }
    }

    #[test]
    fn numeric_limits_are_postgres_own() {
        // Each checked against PostgreSQL 15: `SELECT 'text'::jsonb`.
        for (text, fits) in [
            ("1e131071", true),
            ("10e131070", true),
            ("1.0e131071", true),
            ("0.1e131073", false),
            ("1e131072", false),
            ("1.5e-16382", true),
            ("1.5e-16383", false),
            ("1e-16383", true),
            ("0e200000", true),
            ("0e-20000", false),
            ("0.0e-16383", false),
            ("-99999999999999999999999999999999999999e125", true),
            ("1e-130", true),
        ] {
            let d = split_number(text).unwrap();
            assert_eq!(numeric_holds(&d), fits, "{text}");
        }
    }
}
