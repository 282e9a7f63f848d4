//! Decoding DynamoDB images straight into model types: the direct reader and the serde_json
//! reference beside it. The public face is [`crate::dynamodb_json`].

/// Implements every `Deserializer` method as `self.dispatch(Want::X, visitor)`.
macro_rules! dispatch_methods {
    () => {
        fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Any, v)
        }
        fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Bool, v)
        }
        fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::I8, v)
        }
        fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::I16, v)
        }
        fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::I32, v)
        }
        fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::I64, v)
        }
        fn deserialize_i128<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::I128, v)
        }
        fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::U8, v)
        }
        fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::U16, v)
        }
        fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::U32, v)
        }
        fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::U64, v)
        }
        fn deserialize_u128<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::U128, v)
        }
        fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::F32, v)
        }
        fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::F64, v)
        }
        fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Char, v)
        }
        fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Str, v)
        }
        fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::String, v)
        }
        fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Bytes, v)
        }
        fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::ByteBuf, v)
        }
        fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Option, v)
        }
        fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Unit, v)
        }
        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            n: &'static str,
            v: V,
        ) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::UnitStruct(n), v)
        }
        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            n: &'static str,
            v: V,
        ) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::NewtypeStruct(n), v)
        }
        fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Seq, v)
        }
        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            l: usize,
            v: V,
        ) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Tuple(l), v)
        }
        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            n: &'static str,
            l: usize,
            v: V,
        ) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::TupleStruct(n, l), v)
        }
        fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Map, v)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            n: &'static str,
            f: &'static [&'static str],
            v: V,
        ) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Struct(n, f), v)
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            n: &'static str,
            vs: &'static [&'static str],
            v: V,
        ) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Enum(n, vs), v)
        }
        fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::Identifier, v)
        }
        fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
            self.dispatch(Want::IgnoredAny, v)
        }
    };
}

pub(crate) mod attr;
pub(crate) mod number;
mod reader;
mod want;

pub(crate) use reader::{first_special16, object_len, plain_run};

use std::borrow::Cow;

use serde::de::{Deserialize, DeserializeOwned};

/// An image that does not fit the target type: where (`field`, an attribute path such as
/// `meta.items[2].qty`, when known) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
#[non_exhaustive]
pub struct ImageError {
    /// The attribute path of the offending value, outermost first.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ImageError {
    /// The error `message` about the value at attribute path `field` (`None`: the image as a
    /// whole).
    pub fn new(field: Option<String>, message: impl Into<String>) -> Self {
        ImageError {
            field,
            message: message.into(),
        }
    }
}

pub use crate::model::SCHEMA_VERSION_ATTR;

/// The attributes of an image a model does not see: its key attributes (left out) and its
/// schema-version attribute (captured).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hidden<'s> {
    pub(crate) keys: [&'s str; 2],
    pub(crate) version: &'s str,
    /// The model's own `SCHEMA_VERSION` (empty when decoding for no model): a stored
    /// version with this text is borrowed from it ([`StoredVersion`]).
    pub(crate) current: &'static str,
}

impl Hidden<'static> {
    /// `M`'s.
    pub(crate) fn of<M: crate::model::Model>() -> Self {
        Hidden {
            keys: [M::PK_ATTR, M::SK_ATTR],
            version: M::SCHEMA_VERSION_ATTR,
            current: M::SCHEMA_VERSION,
        }
    }
}

impl<'s> From<[&'s str; 2]> for Hidden<'s> {
    /// These key attributes, and the default schema-version attribute.
    fn from(keys: [&'s str; 2]) -> Self {
        Hidden {
            keys,
            version: SCHEMA_VERSION_ATTR,
            current: "",
        }
    }
}

impl Hidden<'_> {
    /// The stored version `text` as kept: borrowed from the model's `SCHEMA_VERSION` when it
    /// is that text, as items written by the current model are, so the usual image allocates
    /// nothing for it; owned otherwise.
    pub(crate) fn stored(&self, text: Cow<'_, str>) -> Cow<'static, str> {
        if text == self.current {
            Cow::Borrowed(self.current)
        } else {
            Cow::Owned(text.into_owned())
        }
    }
}

/// An image's stored `schema_version` (`None` when absent or not an `S`), as decoding returns
/// it: [`Hidden::stored`].
pub(crate) type StoredVersion = Option<Cow<'static, str>>;

/// Decodes an image into `T`, leaving out the `skip` attributes (the key attributes) and
/// capturing `schema_version`.
pub(crate) fn decode_image<'de, 's, T: Deserialize<'de>>(
    json: &'de str,
    skip: impl Into<Hidden<'s>>,
) -> Result<(T, StoredVersion), ImageError> {
    decode_image_with(json, skip.into(), false)
}

/// [`decode_image`], optionally reading base64 strings as bytes where the target wants bytes.
///
/// The direct reader ([`reader`]) decodes the image when it can; otherwise (and for base64
/// strings) the reference path does, and names the field of any error.
pub(crate) fn decode_image_with<'de, T: Deserialize<'de>>(
    json: &'de str,
    skip: Hidden<'_>,
    base64_strings: bool,
) -> Result<(T, StoredVersion), ImageError> {
    if !base64_strings {
        if let Some(done) = reader::decode(json, skip) {
            return Ok(done);
        }
    }
    decode_reference(json, skip, base64_strings)
}

/// [`decode_image_with`] by the reference path alone: serde_json's reader under the
/// attribute deserializers, with the attribute path and message of any error.
fn decode_reference<'de, 's, T: Deserialize<'de>>(
    json: &'de str,
    skip: impl Into<Hidden<'s>>,
    base64_strings: bool,
) -> Result<(T, StoredVersion), ImageError> {
    let mut ctx = attr::Ctx::new(skip.into());
    ctx.base64_strings = base64_strings;
    let mut de = serde_json::Deserializer::from_str(json);
    let result = T::deserialize(attr::ImageDe {
        de: &mut de,
        ctx: &ctx,
    })
    .and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok((v, ctx.schema_version.into_inner())),
        Err(e) => Err(ImageError {
            field: ctx.path_text(),
            message: json_problem(json, &e),
        }),
    }
}

/// The fast reader alone (the fuzz target compares it with the reference path).
#[cfg(feature = "fuzz")]
pub(crate) fn fuzz_reader<'de, T: Deserialize<'de>>(
    json: &'de str,
    skip: [&str; 2],
) -> Option<(T, StoredVersion)> {
    reader::decode(json, skip)
}

/// The reference path alone.
#[cfg(feature = "fuzz")]
pub(crate) fn fuzz_reference<'de, T: Deserialize<'de>>(
    json: &'de str,
    skip: [&str; 2],
) -> Result<(T, StoredVersion), ImageError> {
    decode_reference(json, skip, false)
}

/// Decodes the image at the start of `json` (more text may follow) into model `M`: the value,
/// its `schema_version`, and the length of the image's JSON. `None` when the direct reader
/// gives up on it; [`decode_image`] on the image alone then decodes it the reference way, or
/// says why it does not decode.
pub(crate) fn decode_model_prefix<M: crate::model::Model>(
    json: &str,
) -> Option<((M, StoredVersion), usize)> {
    reader::decode_prefix(json, Hidden::of::<M>())
}

/// Decodes one DynamoDB image (an attribute map in DynamoDB JSON) into `T`. The
/// `schema_version` attribute is left out; every other attribute is offered to `T` (serde
/// ignores the ones it does not declare, unless `deny_unknown_fields`).
pub fn from_image<T: DeserializeOwned>(json: &str) -> Result<T, ImageError> {
    decode_image(json, ["", ""]).map(|(v, _)| v)
}

/// What serde_json found wrong with `text`, in the input's terms and without its position
/// (" at line L column C": positions inside an image excerpt mean nothing to the reader; the
/// attribute path says where): an unpaired UTF-16 surrogate escape, which serde_json reports as
/// "unexpected end of hex escape" or "lone leading surrogate in hex escape", reads
/// `lone surrogate \ud83d in a string`. Both envelope readers and every image reader word
/// their JSON errors with it.
pub fn json_problem(text: &str, e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let problem = msg.strip_suffix(&suffix).unwrap_or(&msg);
    // The phrase may stand inside a message that wraps it ("attribute a: ..."), with the
    // position of its own error after it.
    for phrase in [
        "unexpected end of hex escape",
        "lone leading surrogate in hex escape",
    ] {
        let Some(at) = problem.find(phrase) else {
            continue;
        };
        let Some(escape) = lone_surrogate_before(text, error_offset(text, e)) else {
            break;
        };
        let rest = &problem[at + phrase.len()..];
        let rest = strip_position_prefix(rest);
        return format!(
            "{}lone surrogate {escape} in a string (a \\u escape of U+D800..U+DFFF must pair a high surrogate with a low one){rest}",
            &problem[..at]
        );
    }
    problem.to_string()
}

/// `rest` without a leading " at line L column C".
fn strip_position_prefix(rest: &str) -> &str {
    let digits = |t: &str| t.trim_start_matches(|c: char| c.is_ascii_digit()).len() < t.len();
    let strip = || {
        let t = rest.strip_prefix(" at line ")?;
        digits(t).then_some(())?;
        let t = t.trim_start_matches(|c: char| c.is_ascii_digit());
        let t = t.strip_prefix(" column ")?;
        digits(t).then_some(())?;
        Some(t.trim_start_matches(|c: char| c.is_ascii_digit()))
    };
    strip().unwrap_or(rest)
}

/// The byte offset in `text` of serde_json's error position (its line and byte column).
fn error_offset(text: &str, e: &serde_json::Error) -> usize {
    let line_start = match e.line() {
        0 | 1 => 0,
        n => text
            .match_indices('\n')
            .nth(n - 2)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    (line_start + e.column()).min(text.len())
}

/// The last unpaired surrogate escape (`\ud83d`) that starts before `end` in JSON text.
fn lone_surrogate_before(text: &str, end: usize) -> Option<&str> {
    let b = text.as_bytes();
    let hex = |at: usize| -> Option<u16> {
        let digits = text.get(at..at + 4)?;
        u16::from_str_radix(digits, 16).ok()
    };
    let mut found = None;
    let mut i = 0;
    while i < end.min(b.len()) {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        match hex(i + 2) {
            Some(0xD800..=0xDBFF) => {
                let paired = b.get(i + 6) == Some(&b'\\')
                    && b.get(i + 7) == Some(&b'u')
                    && matches!(hex(i + 8), Some(0xDC00..=0xDFFF));
                if paired {
                    i += 12;
                } else {
                    found = text.get(i..i + 6);
                    i += 6;
                }
            }
            Some(0xDC00..=0xDFFF) => {
                found = text.get(i..i + 6);
                i += 6;
            }
            _ => i += 2,
        }
    }
    found
}

#[cfg(test)]
mod tests;
