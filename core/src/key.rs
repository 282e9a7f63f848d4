//! Key patterns: matching DynamoDB keys into typed field values and rendering them back.
//!
//! A [`Pattern`] is literals and placeholders (`USER#{owner}#STORY#{story_id}`, `LINE#{line:04}`).
//! Matching is exact and case-sensitive; a placeholder followed by a literal ends at the first
//! occurrence of that literal, a placeholder at the end takes the rest. Rendering refuses values
//! that would not match back, so `match(render(v)) == v` for every value `render` accepts.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::key::Pattern;
//! let p = Pattern::parse("USER#{owner}#STORY#{story_id}").unwrap();
//! let mut caps = [""; 2];
//! assert!(p.captures("USER#jane#STORY#42", &mut caps));
//! assert_eq!(caps, ["jane", "42"]);
//! assert!(!p.captures("user#jane#STORY#42", &mut caps)); // case-sensitive
//! assert_eq!(p.render(&["jane", "42"]).unwrap(), "USER#jane#STORY#42");
//! assert!(p.render(&["ja#STORY#ne", "42"]).is_err()); // would not split back
//! assert_eq!(p.render_prefix(&[Some("jane"), None]).unwrap(), "USER#jane#STORY#");
//! ```

use std::borrow::Cow;
use std::fmt;

pub use dynastream_pattern::{GrammarError, GrammarErrorKind};

/// What text a placeholder's field type can produce; used to decide whether two patterns can
/// ever match the same key (see [`crate::Registry`]). `Any` is always a safe answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyClass {
    /// Any non-empty text.
    Any,
    /// Decimal digits, optionally with a leading `-`.
    Integer,
}

/// One piece of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text that must appear verbatim.
    Literal(Cow<'static, str>),
    /// A placeholder.
    Field {
        /// The field's name.
        name: Cow<'static, str>,
        /// Zero-padding width for `{field:0N}`.
        width: Option<usize>,
        /// The kind of text the field's type renders to.
        class: KeyClass,
    },
}

/// A parsed key pattern. Models get theirs from `#[derive(Model)]`; [`Pattern::parse`] builds
/// one at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Cow<'static, str>,
    segments: Cow<'static, [Segment]>,
    fields: usize,
}

/// Why a value could not be rendered into a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The value renders to the empty string.
    #[error("field `{field}` of key pattern `{pattern}` is empty")]
    Empty {
        /// The pattern.
        pattern: String,
        /// The field.
        field: String,
    },
    /// The value contains the literal that follows its placeholder, so the key would split
    /// differently when read back.
    #[error("field `{field}` of key pattern `{pattern}` contains `{separator}`, which ends that field: {value:?} would not parse back")]
    ContainsSeparator {
        /// The pattern.
        pattern: String,
        /// The field.
        field: String,
        /// The rendered value.
        value: String,
        /// The literal that follows the placeholder.
        separator: String,
    },
    /// A zero-padded value has more digits than its width, which would break ordering.
    #[error("field `{field}` of key pattern `{pattern}` is {value}, wider than its width {width}")]
    TooWide {
        /// The pattern.
        pattern: String,
        /// The field.
        field: String,
        /// The value.
        value: String,
        /// The pattern's width for this field.
        width: usize,
    },
    /// The number of values does not match the number of placeholders.
    #[error("key pattern `{pattern}` has {expected} fields, {got} values given")]
    Arity {
        /// The pattern.
        pattern: String,
        /// Placeholders in the pattern.
        expected: usize,
        /// Values given.
        got: usize,
    },
}

/// Why a key or key prefix could not be built from a partly filled key (a query's
/// [`KeyPrefix`](crate::model::KeyPrefix)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A field the key needs was not given.
    #[error("missing key field `{field}` for key pattern `{pattern}`")]
    Missing {
        /// The pattern.
        pattern: String,
        /// The first field not given.
        field: String,
    },
    /// A prefix is built from a leading run of fields; a later field was given without an
    /// earlier one.
    #[error("key pattern `{pattern}`: field `{given}` is given but the earlier field `{missing}` is not (a prefix is built from a leading run of fields)")]
    Gap {
        /// The pattern.
        pattern: String,
        /// The field not given.
        missing: String,
        /// The later field that was given.
        given: String,
    },
    /// A given value cannot be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The model has no index at this position.
    #[error("model {entity} has no index #{index}")]
    UnknownIndex {
        /// The model.
        entity: &'static str,
        /// The position asked for.
        index: usize,
    },
}

impl Pattern {
    /// A pattern from pre-parsed segments; used by `#[derive(Model)]`, which validates the text
    /// at compile time.
    #[doc(hidden)]
    pub const fn from_static(
        text: &'static str,
        segments: &'static [Segment],
        fields: usize,
    ) -> Self {
        Pattern {
            text: Cow::Borrowed(text),
            segments: Cow::Borrowed(segments),
            fields,
        }
    }

    /// The sort-key "pattern" of a table with a partition key only: no segments, so it renders
    /// `""` and matches only `""` (DynamoDB key strings are never empty, so `""` stands for
    /// "no sort key").
    pub const fn none() -> Self {
        Pattern::from_static("", &[], 0)
    }

    /// Parses a pattern at run time. Every placeholder gets [`KeyClass::Any`], except padded
    /// ones, which are integers.
    pub fn parse(text: &str) -> Result<Self, GrammarError> {
        let parts = dynastream_pattern::parse(text)?;
        let segments: Vec<Segment> = parts
            .into_iter()
            .map(|p| match p {
                dynastream_pattern::Part::Literal(l) => Segment::Literal(Cow::Owned(l.to_string())),
                dynastream_pattern::Part::Field { name, width } => Segment::Field {
                    name: Cow::Owned(name.to_string()),
                    width,
                    class: if width.is_some() {
                        KeyClass::Integer
                    } else {
                        KeyClass::Any
                    },
                },
            })
            .collect();
        let fields = segments
            .iter()
            .filter(|s| matches!(s, Segment::Field { .. }))
            .count();
        Ok(Pattern {
            text: Cow::Owned(text.to_string()),
            segments: Cow::Owned(segments),
            fields,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Number of placeholders.
    pub fn field_count(&self) -> usize {
        self.fields
    }

    /// The field names in placeholder order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Field { name, .. } => Some(name.as_ref()),
            Segment::Literal(_) => None,
        })
    }

    /// The literal text before the first placeholder (the whole pattern if it has none).
    pub fn leading_literal(&self) -> &str {
        match self.segments.first() {
            Some(Segment::Literal(l)) => l,
            _ => "",
        }
    }

    /// Matches `key` and writes each placeholder's text into `out` (in placeholder order).
    /// Returns false when the key does not match. `out` must have `field_count()` slots.
    /// Zero-padded placeholders only match exactly `width` ASCII digits.
    pub fn captures<'k>(&self, key: &'k str, out: &mut [&'k str]) -> bool {
        if out.len() != self.fields {
            return false;
        }
        let mut rest = key;
        let mut slot = 0;
        let segs: &[Segment] = &self.segments;
        let mut i = 0;
        while i < segs.len() {
            match &segs[i] {
                Segment::Literal(l) => match crate::bytes::strip_prefix(rest, l.as_ref()) {
                    Some(r) => rest = r,
                    None => return false,
                },
                Segment::Field { width, .. } => {
                    let text = match segs.get(i + 1) {
                        Some(Segment::Literal(next)) => match find_literal(rest, next) {
                            Some(end) => {
                                let (t, r) = rest.split_at(end);
                                rest = r;
                                t
                            }
                            None => return false,
                        },
                        _ => std::mem::take(&mut rest),
                    };
                    if text.is_empty() {
                        return false;
                    }
                    if let Some(w) = width {
                        if text.len() != *w || !text.bytes().all(|b| b.is_ascii_digit()) {
                            return false;
                        }
                    }
                    out[slot] = text;
                    slot += 1;
                }
            }
            i += 1;
        }
        rest.is_empty()
    }

    /// Renders the key from each placeholder's text, in placeholder order. Refuses a value that
    /// would not match back: empty, or containing (even partly overlapping) the literal that
    /// follows its placeholder, or wider than its zero-padding.
    pub fn render(&self, values: &[&str]) -> Result<String, RenderError> {
        if values.len() != self.fields {
            return Err(self.arity(values.len()));
        }
        self.render_values(values.iter().map(|v| Some(*v)))
    }

    /// Renders a prefix for `begins_with` queries from a leading run of values: literals and
    /// values up to the first `None`, including the literal that follows the last value given.
    /// With every value given it is exactly [`Pattern::render`]. Padded values must be given
    /// already padded (see [`PaddedKeyField`]), so a prefix always agrees with the full key.
    pub fn render_prefix(&self, values: &[Option<&str>]) -> Result<String, RenderError> {
        if values.len() > self.fields {
            return Err(self.arity(values.len()));
        }
        self.render_values(values.iter().copied())
    }

    /// Renders a full key (`full`) or a `begins_with` prefix from values that may be missing,
    /// one per placeholder. A full key needs every value ([`KeyError::Missing`]); a prefix takes
    /// the leading run and refuses a value given after a missing one ([`KeyError::Gap`]).
    pub fn render_partial(&self, values: &[Option<&str>], full: bool) -> Result<String, KeyError> {
        if values.len() != self.fields {
            return Err(self.arity(values.len()).into());
        }
        let names: Vec<&str> = self.field_names().collect();
        if let Some(first_missing) = values.iter().position(Option::is_none) {
            if full {
                return Err(KeyError::Missing {
                    pattern: self.text.to_string(),
                    field: names[first_missing].to_string(),
                });
            }
            if let Some(later) = values[first_missing..].iter().position(Option::is_some) {
                return Err(KeyError::Gap {
                    pattern: self.text.to_string(),
                    missing: names[first_missing].to_string(),
                    given: names[first_missing + later].to_string(),
                });
            }
        }
        Ok(self.render_values(values.iter().copied())?)
    }

    fn arity(&self, got: usize) -> RenderError {
        RenderError::Arity {
            pattern: self.text.to_string(),
            expected: self.fields,
            got,
        }
    }

    fn render_values<'v>(
        &self,
        values: impl Iterator<Item = Option<&'v str>>,
    ) -> Result<String, RenderError> {
        let mut values = values;
        let mut out = String::with_capacity(self.text.len() + 16);
        // The field just written (name, start, length), until the literal after it is checked.
        let mut open: Option<(&str, usize, usize)> = None;
        for seg in self.segments.iter() {
            match seg {
                Segment::Literal(l) => {
                    out.push_str(l);
                    if let Some((field, start, len)) = open.take() {
                        // A reader ends the field at the first occurrence of this literal after
                        // `start`: it must be the one just written, not one inside the value
                        // (or straddling its end).
                        if out[start..].find(l.as_ref()) != Some(len) {
                            return Err(RenderError::ContainsSeparator {
                                pattern: self.text.to_string(),
                                field: field.to_string(),
                                value: out[start..start + len].to_string(),
                                separator: l.to_string(),
                            });
                        }
                    }
                }
                Segment::Field { name, width, .. } => {
                    let Some(Some(v)) = values.next() else { break };
                    self.check_value(name, *width, v)?;
                    open = Some((name, out.len(), v.len()));
                    out.push_str(v);
                }
            }
        }
        Ok(out)
    }

    fn check_value(&self, field: &str, width: Option<usize>, v: &str) -> Result<(), RenderError> {
        if v.is_empty() {
            return Err(RenderError::Empty {
                pattern: self.text.to_string(),
                field: field.to_string(),
            });
        }
        if let Some(w) = width {
            if v.len() != w || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(RenderError::TooWide {
                    pattern: self.text.to_string(),
                    field: field.to_string(),
                    value: v.to_string(),
                    width: w,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The first occurrence of `lit` in `hay` (as `str::find`). Key literals are short (`#`,
/// `#STORY#`), so a byte search for the first byte and a prefix check beat the general searcher,
/// whose set-up dominates on keys this size.
fn find_literal(hay: &str, lit: &str) -> Option<usize> {
    let (h, l) = (hay.as_bytes(), lit.as_bytes());
    let Some((&first, tail)) = l.split_first() else {
        return Some(0);
    };
    let mut from = 0;
    while let Some(off) = h.get(from..)?.iter().position(|&b| b == first) {
        let at = from + off;
        if crate::bytes::starts_with(h.get(at + 1..)?, tail) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A type that can be a placeholder's value: parsed from the captured text, rendered back.
///
/// Implementations must be canonical: `parse_key(t)` succeeds only for texts `key_text` could
/// produce, so two different keys never map to the same value. Implemented for `String` and the
/// integer types; for your own `FromStr + Display` types use [`key_field_from_str!`](crate::key_field_from_str).
pub trait KeyField: Sized {
    /// The text class this type renders to (for overlap detection).
    const CLASS: KeyClass = KeyClass::Any;
    /// Parses the captured text; `None` means the key does not match.
    fn parse_key(text: &str) -> Option<Self>;
    /// True when [`parse_key`](KeyField::parse_key) would succeed. Matching a record's keys to
    /// a model asks only this; override it when parsing allocates (as `String`'s does).
    fn accepts_key(text: &str) -> bool {
        Self::parse_key(text).is_some()
    }
    /// The text to put in the key.
    fn key_text(&self) -> Cow<'_, str>;
}

/// An unsigned integer usable in a zero-padded placeholder `{field:0N}`.
pub trait PaddedKeyField: KeyField {
    /// Parses exactly-`width` digits (the matcher already checked the width).
    fn parse_padded(text: &str) -> Option<Self>;
    /// True when [`parse_padded`](PaddedKeyField::parse_padded) would succeed.
    fn accepts_padded(text: &str) -> bool {
        Self::parse_padded(text).is_some()
    }
    /// The value zero-padded to `width`, or `None` if it has more digits than `width`.
    fn padded_text(&self, width: usize) -> Option<String>;
}

impl KeyField for String {
    fn parse_key(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn accepts_key(_: &str) -> bool {
        true
    }
    fn key_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

fn canonical_integer(text: &str, signed: bool) -> bool {
    let digits = match text.strip_prefix('-') {
        Some(d) if signed => d,
        Some(_) => return false,
        None => text,
    };
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    ok && text != "-0"
}

macro_rules! int_key_field {
    ($signed:expr => $($t:ty),*) => {$(
        impl KeyField for $t {
            const CLASS: KeyClass = KeyClass::Integer;
            fn parse_key(text: &str) -> Option<Self> {
                if canonical_integer(text, $signed) { text.parse().ok() } else { None }
            }
            fn key_text(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )*};
}
int_key_field!(true => i8, i16, i32, i64, i128, isize);
int_key_field!(false => u8, u16, u32, u64, u128, usize);

macro_rules! padded_key_field {
    ($($t:ty),*) => {$(
        impl PaddedKeyField for $t {
            fn parse_padded(text: &str) -> Option<Self> {
                if text.bytes().all(|b| b.is_ascii_digit()) { text.parse().ok() } else { None }
            }
            fn padded_text(&self, width: usize) -> Option<String> {
                let s = format!("{:0width$}", self, width = width);
                (s.len() == width).then_some(s)
            }
        }
    )*};
}
padded_key_field!(u8, u16, u32, u64, u128, usize);

/// Implements [`KeyField`] for a type through its `FromStr` and `Display`, accepting only texts
/// that render back identically (so the mapping stays canonical).
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use std::{fmt, str::FromStr};
/// #[derive(Debug, PartialEq)]
/// enum Tier { Free, Pro }
/// impl fmt::Display for Tier {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str(match self { Tier::Free => "free", Tier::Pro => "pro" })
///     }
/// }
/// impl FromStr for Tier {
///     type Err = ();
///     fn from_str(s: &str) -> Result<Self, ()> {
///         match s.to_ascii_lowercase().as_str() { "free" => Ok(Tier::Free), "pro" => Ok(Tier::Pro), _ => Err(()) }
///     }
/// }
/// dynastream::key_field_from_str!(Tier);
/// use dynastream::key::KeyField;
/// assert_eq!(Tier::parse_key("pro"), Some(Tier::Pro));
/// assert_eq!(Tier::parse_key("PRO"), None); // not canonical
/// ```
#[macro_export]
macro_rules! key_field_from_str {
    ($t:ty) => {
        impl $crate::key::KeyField for $t {
            fn parse_key(text: &str) -> ::core::option::Option<Self> {
                let v: $t = ::core::str::FromStr::from_str(text).ok()?;
                if ::std::string::ToString::to_string(&v) == text {
                    ::core::option::Option::Some(v)
                } else {
                    ::core::option::Option::None
                }
            }
            fn key_text(&self) -> ::std::borrow::Cow<'_, str> {
                ::std::borrow::Cow::Owned(::std::string::ToString::to_string(self))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn caps<'k>(p: &Pattern, key: &'k str) -> Option<Vec<&'k str>> {
        let mut out = vec![""; p.field_count()];
        p.captures(key, &mut out).then_some(out)
    }

    #[test]
    fn matching_is_exact_and_case_sensitive() {
        let p = Pattern::parse("USER#{owner}#STORY#{story_id}").unwrap();
        assert_eq!(caps(&p, "USER#jane#STORY#42"), Some(vec!["jane", "42"]));
        assert_eq!(
            caps(&p, "USER#jane#STORY#4#2"),
            Some(vec!["jane", "4#2"]),
            "final field takes the rest"
        );
        assert_eq!(caps(&p, "user#jane#STORY#42"), None);
        assert_eq!(caps(&p, "USER#jane#story#42"), None);
        assert_eq!(caps(&p, "USER##STORY#42"), None, "empty field");
        assert_eq!(caps(&p, "USER#jane#STORY#"), None, "empty final field");
        let fixed = Pattern::parse("PROFILE").unwrap();
        assert_eq!(caps(&fixed, "PROFILE"), Some(vec![]));
        assert_eq!(caps(&fixed, "PROFILEX"), None);
        let trailing = Pattern::parse("T#{t}#END").unwrap();
        assert_eq!(caps(&trailing, "T#a#END"), Some(vec!["a"]));
        assert_eq!(
            caps(&trailing, "T#a#END#END"),
            None,
            "field ends at the first separator"
        );
    }

    #[test]
    fn padded_fields_match_exact_width_digits() {
        let p = Pattern::parse("LINE#{line:04}").unwrap();
        assert_eq!(caps(&p, "LINE#0007"), Some(vec!["0007"]));
        assert_eq!(caps(&p, "LINE#007"), None);
        assert_eq!(caps(&p, "LINE#00007"), None);
        assert_eq!(caps(&p, "LINE#00a7"), None);
        assert_eq!(u32::padded_text(&7, 4).as_deref(), Some("0007"));
        assert_eq!(u32::padded_text(&12345, 4), None);
    }

    #[test]
    fn render_refuses_values_that_would_not_parse_back() {
        let p = Pattern::parse("USER#{owner}#STORY#{story_id}").unwrap();
        assert!(matches!(
            p.render(&["", "1"]),
            Err(RenderError::Empty { .. })
        ));
        assert!(matches!(
            p.render(&["a#STORY#b", "1"]),
            Err(RenderError::ContainsSeparator { .. })
        ));
        // Overlap: "x#STORY" + "#STORY#" contains the separator starting inside the value.
        let q = Pattern::parse("A{a}aa{b}").unwrap();
        assert!(
            q.render(&["a", "z"]).is_err(),
            "`a`+`aa` would split after the first `a`"
        );
        assert!(matches!(p.render(&["a"]), Err(RenderError::Arity { .. })));
        let padded = Pattern::parse("LINE#{line:04}").unwrap();
        assert!(matches!(
            padded.render(&["12345"]),
            Err(RenderError::TooWide { .. })
        ));
        assert_eq!(padded.render(&["0042"]).unwrap(), "LINE#0042");
    }

    #[test]
    fn prefix_agrees_with_padding_and_full_key() {
        let p = Pattern::parse("T#{t:05}#{u}").unwrap();
        let t = u32::padded_text(&7, 5).unwrap();
        assert_eq!(p.render_prefix(&[Some(&t), None]).unwrap(), "T#00007#");
        assert_eq!(p.render_prefix(&[None, None]).unwrap(), "T#");
        assert_eq!(p.render_prefix(&[]).unwrap(), "T#");
        assert_eq!(
            p.render_prefix(&[Some(&t), Some("x")]).unwrap(),
            p.render(&[&t, "x"]).unwrap()
        );
    }

    #[test]
    fn integer_fields_are_canonical() {
        assert_eq!(u32::parse_key("42"), Some(42));
        assert_eq!(u32::parse_key("042"), None);
        assert_eq!(u32::parse_key("+42"), None);
        assert_eq!(u32::parse_key("-1"), None);
        assert_eq!(i64::parse_key("-1"), Some(-1));
        assert_eq!(i64::parse_key("-0"), None);
        assert_eq!(i64::parse_key("0"), Some(0));
        assert_eq!(u8::parse_key("256"), None);
    }

    /// Patterns alternating literal / field, with literals over a tiny alphabet so that
    /// separators overlap and occur inside values often.
    fn pattern_strategy() -> impl Strategy<Value = String> {
        (
            proptest::bool::ANY,
            prop::collection::vec("[ab#]{1,3}", 1..4),
            proptest::bool::ANY,
        )
            .prop_map(|(lead, lits, trail)| {
                let mut s = String::new();
                let n = lits.len();
                for (i, l) in lits.iter().enumerate() {
                    if i > 0 || lead {
                        s.push_str(l);
                    }
                    s.push_str(&format!("{{f{i}}}"));
                    if i + 1 == n && trail {
                        s.push_str(l);
                    }
                }
                s
            })
    }

    proptest! {
        #[test]
        fn parse_render_round_trip(pat in pattern_strategy(), vals in prop::collection::vec("[ab#x]{0,6}", 4)) {
            let p = Pattern::parse(&pat).unwrap();
            let vals: Vec<&str> = vals.iter().take(p.field_count()).map(|s| s.as_str()).collect();
            if let Ok(key) = p.render(&vals) {
                prop_assert_eq!(caps(&p, &key), Some(vals.clone()));
                // Every prefix agrees with the full key.
                for k in 0..=vals.len() {
                    let given: Vec<Option<&str>> = vals[..k].iter().map(|v| Some(*v)).collect();
                    let prefix = p.render_prefix(&given).unwrap();
                    prop_assert!(key.starts_with(&prefix), "{} !^ {}", key, prefix);
                }
            }
        }

        #[test]
        fn matched_text_renders_back_to_the_same_key(pat in pattern_strategy(), key in "[ab#x]{0,12}") {
            let p = Pattern::parse(&pat).unwrap();
            if let Some(c) = caps(&p, &key) {
                prop_assert_eq!(p.render(&c).unwrap(), key);
            }
        }

        #[test]
        fn literal_search_is_str_find(hay in "[ab#é]{0,12}", lit in "[ab#é]{0,3}") {
            prop_assert_eq!(find_literal(&hay, &lit), hay.find(lit.as_str()));
        }

        #[test]
        fn padded_integers_round_trip(v in 0u32..100_000, w in 1usize..8) {
            let p = Pattern::parse(&format!("L#{{n:0{w}}}")).unwrap();
            match u32::padded_text(&v, w) {
                Some(t) => {
                    let key = p.render(&[&t]).unwrap();
                    let c = caps(&p, &key).unwrap();
                    prop_assert_eq!(u32::parse_padded(c[0]), Some(v));
                }
                None => prop_assert!(v.to_string().len() > w),
            }
        }
    }
}
