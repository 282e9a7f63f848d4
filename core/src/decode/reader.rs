//! The direct reader: DynamoDB JSON read straight from the text into the target type.
//!
//! The serde_json path in [`super::attr`] is the reference. Its errors name the attribute path
//! and carry serde_json's messages, and it accepts every shape serde_json accepts. This reader
//! does the same work for the shape images have in practice, without serde_json's generic
//! layers: it reads `{"S": "..."}` as one unit, matches type tags as bytes, finds string ends
//! sixteen bytes at a time with SSE2 on x86_64 (eight elsewhere) and allocates only for strings
//! with escapes.
//!
//! It gives up ([`Bail`]) on anything outside that shape: a raw JSON number, a control
//! character or an unpaired surrogate escape in a string, a value of a JSON type the reference
//! would hand to the target unchanged (`{"S": 5}`), nesting deeper than [`MAX_DEPTH`], and
//! every error of the target's own. The caller then decodes the same text the reference way.
//! So an image decodes either exactly as the reference decodes it, or not here at all: when
//! this reader returns a value, the reference returns the same value (the tests beside this
//! module check that law on generated images).
//!
//! Each deserializer below mirrors the one of the same role in [`super::attr`], and the
//! number and binary deserializers are shared with it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::Deserialize;

use super::attr::{BytesDe, Names, Tag};
use super::number::{self, NumberDe};
use super::want::Want;
use super::Hidden;

/// Objects and arrays nested deeper than this make the reader give up. serde_json refuses
/// nesting past 128, so the reader never accepts what the reference refuses for depth.
pub(crate) const MAX_DEPTH: u32 = 100;

/// The reader gave up; decode with the reference path to find out why, or to decode what this
/// reader does not.
#[derive(Debug)]
pub(crate) struct Bail;

impl fmt::Display for Bail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not decoded by the direct reader")
    }
}

impl std::error::Error for Bail {}

impl de::Error for Bail {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Bail
    }
}

/// Decodes the whole of `json` (only whitespace may follow the image) into `T`, as
/// [`super::decode_image`] would; `None` when the reader gives up.
pub(crate) fn decode<'de, 's, T: Deserialize<'de>>(
    json: &'de str,
    skip: impl Into<Hidden<'s>>,
) -> Option<(T, super::StoredVersion)> {
    let mut r = Reader::new(json, skip.into());
    let value = T::deserialize(Image { r: &mut r }).ok()?;
    match r.peek() {
        Err(Bail) => Some((value, r.version)),
        Ok(_) => None,
    }
}

/// Decodes the image at the start of `json` (more text may follow) into `T`: the value, its
/// `schema_version` and the length of the image's JSON; `None` when the reader gives up.
pub(crate) fn decode_prefix<'de, 's, T: Deserialize<'de>>(
    json: &'de str,
    skip: impl Into<Hidden<'s>>,
) -> Option<((T, super::StoredVersion), usize)> {
    let mut r = Reader::new(json, skip.into());
    let value = T::deserialize(Image { r: &mut r }).ok()?;
    Some(((value, r.version), r.pos))
}

/// The length of the JSON object at the start of `json` (an image; more text may follow),
/// read as the reader skips what a target ignores: its values strings, `true`, `false`,
/// `null`, objects and arrays of those; `None` when `json` does not start with `{` or the
/// reader gives up (a raw number, nesting deeper than [`MAX_DEPTH`], an unpaired surrogate
/// escape, anything that is not JSON). An object it reads to its end is one JSON value as
/// serde_json reads it (no duplicate-name check: that is a decoder's rule, not JSON's), so the
/// caller may keep the text as a checked JSON value.
pub(crate) fn object_len(json: &str) -> Option<usize> {
    if !json.starts_with('{') {
        return None;
    }
    let mut r = Reader::new(json, Hidden::from(["", ""]));
    r.skip().ok()?;
    Some(r.pos)
}

// ---------------------------------------------------------------------------------------------
// The text.

/// A position in the image's JSON text, with the per-image state.
struct Reader<'de, 's> {
    text: &'de str,
    pos: usize,
    depth: u32,
    /// The attributes the model does not see (its key attributes).
    hidden: Hidden<'s>,
    /// The captured `schema_version`.
    version: super::StoredVersion,
    /// Set by the value just read when the target ignored it (its entry's name is then
    /// tracked for duplicates; a struct refuses a declared field given twice itself).
    ignored: bool,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero is set (and, above the first such byte, maybe
/// others: only the lowest is exact).
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The index of the first byte of `bytes` from `i` on that ends a plain run of JSON string
/// text: a quote, a backslash or a control character (or the end of `bytes`). Sixteen bytes
/// at a time with SSE2 on x86_64, then eight at a time in a word. The envelope scan uses it
/// too.
#[inline]
pub(crate) fn plain_run(bytes: &[u8], mut i: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = bytes.get(i..i + 16) {
        // SAFETY: `special` needs SSE2, which this build targets (the cfg above): every
        // x86_64 CPU has it.
        let special = unsafe { sse2::special(chunk) };
        if special != 0 {
            return i + special.trailing_zeros() as usize;
        }
        i += 16;
    }
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let special = zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// The index of the first quote, backslash or control byte among the 16 bytes of `chunk`.
#[inline]
pub(crate) fn first_special16(chunk: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: `special` needs SSE2, which this build targets (the cfg above).
        let special = unsafe { sse2::special(chunk) };
        (special != 0).then(|| special.trailing_zeros() as usize)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        let k = plain_run(chunk.get(..16)?, 0);
        (k < 16).then_some(k)
    }
}

/// Sixteen bytes at once, with SSE2 (part of every x86_64 CPU). The bytes are loaded as two
/// words, with bounds checks and no pointer; the only unsafe step is calling a function that
/// needs a target feature, which the build has.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x,
    };

    /// Bit `k` is set when byte `k` of `chunk` (16 bytes) is a quote, a backslash or below
    /// 0x20.
    #[target_feature(enable = "sse2")]
    pub(super) fn special(chunk: &[u8]) -> u32 {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            if let Some(b) = chunk.get(at..at + 8) {
                w.copy_from_slice(b);
            }
            i64::from_le_bytes(w)
        };
        let v = _mm_set_epi64x(word(8), word(0));
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
        let low = _mm_set1_epi8(0x1f);
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

impl<'de, 's> Reader<'de, 's> {
    fn new(text: &'de str, skip: Hidden<'s>) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
            hidden: skip,
            version: None,
            ignored: false,
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Result<u8, Bail> {
        match self.text.as_bytes().get(self.pos) {
            Some(&b) if b > b' ' => Ok(b),
            _ => self.peek_past_whitespace(),
        }
    }

    fn peek_past_whitespace(&mut self) -> Result<u8, Bail> {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(Bail)
    }

    /// Consumes `want` after whitespace.
    #[inline]
    fn eat(&mut self, want: u8) -> Result<(), Bail> {
        if self.peek()? == want {
            self.pos += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    fn enter(&mut self) -> Result<(), Bail> {
        if self.depth >= MAX_DEPTH {
            return Err(Bail);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// A JSON string, borrowed from the text when it has no escapes.
    ///
    /// It is called for every name and string value, and most are short and plain: a string
    /// that starts right here and ends within sixteen bytes is read by a few inlined
    /// instructions; any other goes to [`Reader::long_string`].
    #[inline]
    fn string(&mut self) -> Result<Cow<'de, str>, Bail> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        if bytes.get(self.pos) == Some(&b'"') {
            if let Some(end) = bytes.get(start..start + 16).and_then(first_special16) {
                let end = start + end;
                if bytes.get(end) == Some(&b'"') {
                    self.pos = end + 1;
                    return crate::bytes::between(self.text, start, end)
                        .map(Cow::Borrowed)
                        .ok_or(Bail);
                }
            }
        }
        self.long_string()
    }

    /// [`Reader::string`] for any string: after whitespace, of any length, with escapes.
    #[inline(never)]
    fn long_string(&mut self) -> Result<Cow<'de, str>, Bail> {
        self.eat(b'"')?;
        let start = self.pos;
        let end = plain_run(self.text.as_bytes(), start);
        match self.text.as_bytes().get(end) {
            Some(b'"') => {
                self.pos = end + 1;
                crate::bytes::between(self.text, start, end)
                    .map(Cow::Borrowed)
                    .ok_or(Bail)
            }
            Some(b'\\') => self.escaped(start, end).map(Cow::Owned),
            _ => Err(Bail),
        }
    }

    /// The rest of a string from its first escape at `at`; `start` is where its text began.
    #[cold]
    #[inline(never)]
    fn escaped(&mut self, start: usize, mut at: usize) -> Result<String, Bail> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(at - start + 16);
        out.push_str(text.get(start..at).ok_or(Bail)?);
        loop {
            // `at` is a backslash.
            let code = *bytes.get(at + 1).ok_or(Bail)?;
            at += 2;
            let c = match code {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = self.hex4(at)?;
                    at += 4;
                    let scalar = match unit {
                        0xD800..=0xDBFF => {
                            // A leading surrogate must be followed by an escaped trailing one.
                            if bytes.get(at..at + 2) != Some(b"\\u") {
                                return Err(Bail);
                            }
                            let low = self.hex4(at + 2)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return Err(Bail);
                            }
                            at += 6;
                            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        }
                        0xDC00..=0xDFFF => return Err(Bail),
                        _ => unit,
                    };
                    char::from_u32(scalar).ok_or(Bail)?
                }
                _ => return Err(Bail),
            };
            out.push(c);
            let end = plain_run(bytes, at);
            out.push_str(text.get(at..end).ok_or(Bail)?);
            match bytes.get(end) {
                Some(b'"') => {
                    self.pos = end + 1;
                    return Ok(out);
                }
                Some(b'\\') => at = end,
                _ => return Err(Bail),
            }
        }
    }

    /// Four hex digits at `at`.
    fn hex4(&self, at: usize) -> Result<u32, Bail> {
        let digits = self.text.as_bytes().get(at..at + 4).ok_or(Bail)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + char::from(d).to_digit(16).ok_or(Bail)?;
        }
        Ok(n)
    }

    /// `true` or `false`.
    fn boolean(&mut self) -> Result<bool, Bail> {
        let value = match self.peek()? {
            b't' => true,
            b'f' => false,
            _ => return Err(Bail),
        };
        self.literal(if value { "true" } else { "false" })?;
        Ok(value)
    }

    fn literal(&mut self, word: &str) -> Result<(), Bail> {
        let rest = self.text.as_bytes().get(self.pos..).ok_or(Bail)?;
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Skips one JSON value of any type but a number (a raw number makes the reader give up).
    fn skip(&mut self) -> Result<(), Bail> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'{' => {
                self.pos += 1;
                self.enter()?;
                let mut state = State::First;
                while self.more(&mut state, b'}')? {
                    self.string()?;
                    self.eat(b':')?;
                    self.skip()?;
                }
                self.leave();
                Ok(())
            }
            b'[' => {
                self.pos += 1;
                self.enter()?;
                let mut state = State::First;
                while self.more(&mut state, b']')? {
                    self.skip()?;
                }
                self.leave();
                Ok(())
            }
            _ => Err(Bail),
        }
    }

    /// After an entry of an object or array: `,` (false: another entry follows) or `close`
    /// (true: the end).
    #[inline]
    fn next_entry(&mut self, close: u8) -> Result<bool, Bail> {
        match self.peek()? {
            b',' => {
                self.pos += 1;
                Ok(false)
            }
            b if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(Bail),
        }
    }

    /// Whether another entry of an object or array follows (true) or its `close` (false,
    /// consumed), given where the access stands; moves `state` on.
    #[inline]
    fn more(&mut self, state: &mut State, close: u8) -> Result<bool, Bail> {
        let end = match *state {
            State::First => {
                let end = self.peek()? == close;
                if end {
                    self.pos += 1;
                }
                end
            }
            State::After => self.next_entry(close)?,
            State::Done => return Err(Bail),
        };
        *state = if end { State::Done } else { State::After };
        Ok(!end)
    }

    /// A DynamoDB type tag, as a JSON string: matched as bytes, or (with escapes) as text.
    #[inline]
    fn tag(&mut self) -> Result<Tag, Bail> {
        self.eat(b'"')?;
        let rest = self.text.as_bytes().get(self.pos..).ok_or(Bail)?;
        let found = match rest {
            [b'S', b'"', ..] => Some((Tag::S, 1)),
            [b'N', b'"', ..] => Some((Tag::N, 1)),
            [b'M', b'"', ..] => Some((Tag::M, 1)),
            [b'L', b'"', ..] => Some((Tag::L, 1)),
            [b'B', b'"', ..] => Some((Tag::B, 1)),
            [b'S', b'S', b'"', ..] => Some((Tag::Ss, 2)),
            [b'N', b'S', b'"', ..] => Some((Tag::Ns, 2)),
            [b'B', b'S', b'"', ..] => Some((Tag::Bs, 2)),
            [b'B', b'O', b'O', b'L', b'"', ..] => Some((Tag::Bool, 4)),
            [b'N', b'U', b'L', b'L', b'"', ..] => Some((Tag::Null, 4)),
            _ => None,
        };
        if let Some((tag, len)) = found {
            self.pos += len + 1;
            return Ok(tag);
        }
        // Escaped, or not a tag: read it as a string from its quote.
        self.pos -= 1;
        Tag::from_name(&self.string()?).ok_or(Bail)
    }

    /// `{"T":`, the opening of an attribute value up to its value: its type tag. The compact
    /// form of a one-letter tag (nearly every attribute) is matched as one five-byte pattern;
    /// any other form (whitespace, a longer tag, escapes) part by part.
    #[inline]
    fn open_attribute(&mut self) -> Result<Tag, Bail> {
        if let Some(&[b'{', b'"', t, b'"', b':']) = self.text.as_bytes().get(self.pos..self.pos + 5)
        {
            let tag = match t {
                b'S' => Some(Tag::S),
                b'N' => Some(Tag::N),
                b'M' => Some(Tag::M),
                b'L' => Some(Tag::L),
                b'B' => Some(Tag::B),
                _ => None,
            };
            if let Some(tag) = tag {
                self.pos += 5;
                return Ok(tag);
            }
        }
        self.open_long_tag()
    }

    /// [`Reader::open_attribute`] past the one-letter tags: `{"SS":`, `{"NS":`, `{"BS":`,
    /// `{"BOOL":` and `{"NULL":` as patterns, anything else part by part.
    #[inline(never)]
    fn open_long_tag(&mut self) -> Result<Tag, Bail> {
        let bytes = self.text.as_bytes();
        let found = match bytes.get(self.pos..) {
            Some([b'{', b'"', b'S', b'S', b'"', b':', ..]) => Some((Tag::Ss, 6)),
            Some([b'{', b'"', b'N', b'S', b'"', b':', ..]) => Some((Tag::Ns, 6)),
            Some([b'{', b'"', b'B', b'S', b'"', b':', ..]) => Some((Tag::Bs, 6)),
            Some([b'{', b'"', b'B', b'O', b'O', b'L', b'"', b':', ..]) => Some((Tag::Bool, 8)),
            Some([b'{', b'"', b'N', b'U', b'L', b'L', b'"', b':', ..]) => Some((Tag::Null, 8)),
            _ => None,
        };
        if let Some((tag, len)) = found {
            self.pos += len;
            return Ok(tag);
        }
        self.eat(b'{')?;
        let tag = self.tag()?;
        self.eat(b':')?;
        Ok(tag)
    }

    /// An object of attributes, visited as a map. `want` is what the target asked for: a
    /// struct (a model, say) refuses a declared field given twice itself, so only the names
    /// whose values it ignores are tracked; any other target's names all are.
    fn map<V: Visitor<'de>>(&mut self, top: bool, want: Want, v: V) -> Result<V::Value, Bail> {
        self.eat(b'{')?;
        self.enter()?;
        let mut entries = Entries {
            r: self,
            names: None,
            track_all: !matches!(want, Want::Struct(..)),
            key: None,
            hidden_seen: 0,
            top,
            state: State::First,
        };
        let out = v.visit_map(&mut entries)?;
        if entries.state != State::Done {
            // The target stopped early: only the end may follow, as serde_json requires.
            self.eat(b'}')?;
        }
        self.leave();
        Ok(out)
    }

    /// An array whose elements are `elem`, visited as a sequence.
    fn seq<V: Visitor<'de>>(&mut self, elem: Elem, v: V) -> Result<V::Value, Bail> {
        self.eat(b'[')?;
        self.enter()?;
        let mut items = Items {
            r: self,
            elem,
            state: State::First,
        };
        let out = v.visit_seq(&mut items)?;
        if items.state != State::Done {
            self.eat(b']')?;
        }
        self.leave();
        Ok(out)
    }

    /// `{"Variant": <attribute value>}`, visited as an enum.
    fn variant<V: Visitor<'de>>(&mut self, v: V) -> Result<V::Value, Bail> {
        self.eat(b'{')?;
        self.enter()?;
        let out = v.visit_enum(Variant { r: self })?;
        // Exactly one entry.
        self.eat(b'}')?;
        self.leave();
        Ok(out)
    }
}

/// Where a map or sequence access stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing read yet.
    First,
    /// An entry read; `,` or the end follows.
    After,
    /// The end read.
    Done,
}

// ---------------------------------------------------------------------------------------------
// The image (top level).

struct Image<'r, 'de, 's> {
    r: &'r mut Reader<'de, 's>,
}

impl<'de> Image<'_, 'de, '_> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, Bail> {
        match want {
            Want::Option => v.visit_some(self),
            Want::NewtypeStruct(_) => v.visit_newtype_struct(self),
            Want::IgnoredAny => {
                self.r.skip()?;
                v.visit_unit()
            }
            _ => self.r.map(true, want, v),
        }
    }
}

impl<'de> Deserializer<'de> for Image<'_, 'de, '_> {
    type Error = Bail;
    dispatch_methods!();
}

/// The entries of an attribute map: names to the target as keys, attribute values as values.
struct Entries<'r, 'de, 's> {
    r: &'r mut Reader<'de, 's>,
    /// The names tracked so far (made at the first): one given twice makes the reader give up
    /// (the reference names it).
    names: Option<Names<'de>>,
    /// Whether every name is tracked (the target is not a struct), or only those whose values
    /// the target ignores.
    track_all: bool,
    /// The name whose value comes next, when it is tracked only if the value is ignored.
    key: Option<&'de str>,
    /// The hidden attributes seen (bit 0, 1: the key attributes; bit 2: the schema version).
    hidden_seen: u8,
    top: bool,
    state: State,
}

impl<'de> Entries<'_, 'de, '_> {
    /// Tracks the name of a value the target ignored; `Bail` when it was there already.
    #[inline(never)]
    fn track_ignored(&mut self, key: &'de str) -> Result<(), Bail> {
        if self.track(&Cow::Borrowed(key)) {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// The next attribute name in its compact form (`,"name":`, or `"name":` first, the name
    /// plain and shorter than sixteen bytes), read in one step; `None` for any other form (and
    /// the end), which [`Entries::any_name`] reads.
    ///
    /// A `&str` on its own, not a `Cow`: returned and kept in registers. Merged with the
    /// general form's `Cow` it went through the stack as two 8-byte stores read back as one
    /// 16-byte load, which the CPU cannot forward from its store buffer (a stall per name,
    /// seen in perf samples on the instruction after the load).
    #[inline]
    fn compact_name(&mut self) -> Option<&'de str> {
        let r = &*self.r;
        let bytes = r.text.as_bytes();
        let quote = match self.state {
            State::After if bytes.get(r.pos) == Some(&b',') => r.pos + 1,
            State::First => r.pos,
            _ => return None,
        };
        if bytes.get(quote) != Some(&b'"') {
            return None;
        }
        let start = quote + 1;
        let k = bytes.get(start..start + 16).and_then(first_special16)?;
        let end = start + k;
        if bytes.get(end) != Some(&b'"') || bytes.get(end + 1) != Some(&b':') {
            return None;
        }
        let name = crate::bytes::between(r.text, start, end)?;
        self.r.pos = end + 2;
        self.state = State::After;
        Some(name)
    }

    /// At the top level, reads the value of a hidden attribute (a key attribute, the schema
    /// version) named `name` and returns true; false for any other name. A hidden attribute
    /// given twice makes the reader give up (the reference names it).
    #[inline]
    fn hidden(&mut self, name: &str) -> Result<bool, Bail> {
        if !self.top {
            return Ok(false);
        }
        let hidden = &self.r.hidden;
        let bit = if name == hidden.keys[0] {
            1
        } else if name == hidden.keys[1] {
            2
        } else if name == hidden.version {
            4
        } else {
            return Ok(false);
        };
        if self.hidden_seen & bit != 0 {
            return Err(Bail);
        }
        self.hidden_seen |= bit;
        if bit == 4 {
            self.r.version = stored_version(self.r)?;
        } else {
            self.r.skip()?;
        }
        Ok(true)
    }

    /// An attribute name in any form ([`Entries::compact_name`] reads the usual one):
    /// whitespace, escapes, long names; `None` at the end.
    #[inline(never)]
    fn any_name(&mut self) -> Result<Option<Cow<'de, str>>, Bail> {
        let r = &mut *self.r;
        if !r.more(&mut self.state, b'}')? {
            return Ok(None);
        }
        let name = r.string()?;
        r.eat(b':')?;
        Ok(Some(name))
    }
}

impl<'de> MapAccess<'de> for Entries<'_, 'de, '_> {
    type Error = Bail;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Bail> {
        loop {
            // The compact form, borrowed, on its own path (see `compact_name`).
            if let Some(name) = self.compact_name() {
                if self.hidden(name)? {
                    continue;
                }
                if self.track_all {
                    if !self.track(&Cow::Borrowed(name)) {
                        return Err(Bail);
                    }
                } else {
                    // A struct's declared field it checks itself; the rest when it is ignored.
                    self.key = Some(name);
                }
                return seed
                    .deserialize(de::value::BorrowedStrDeserializer::new(name))
                    .map(Some);
            }
            let Some(name) = self.any_name()? else {
                return Ok(None);
            };
            if self.hidden(&name)? {
                continue;
            }
            match name {
                Cow::Borrowed(b) if !self.track_all => self.key = Some(b),
                _ => {
                    if !self.track(&name) {
                        return Err(Bail);
                    }
                }
            }
            return named(name, seed).map(Some);
        }
    }

    #[inline]
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Bail> {
        let key = self.key.take();
        self.r.ignored = false;
        let value = seed.deserialize(Attr { r: self.r })?;
        if self.r.ignored {
            if let Some(key) = key {
                return self.track_ignored(key).map(|()| value);
            }
        }
        Ok(value)
    }
}

impl<'de> Entries<'_, 'de, '_> {
    /// Tracks `name`; false when it was there already.
    #[inline]
    #[allow(clippy::ptr_arg)] // a borrowed name is held inline (`Names::insert`)
    fn track(&mut self, name: &Cow<'de, str>) -> bool {
        self.names.get_or_insert_with(Names::new).insert(name)
    }
}

/// The schema-version attribute's value: its text when it is an `S`; `None` for `NULL` and for
/// any other type (another writer's scheme, a number say), which is checked as any attribute
/// the model does not declare and never fails the image (docs/semantics.md, "Models and
/// schema versions"). [`super::attr`] reads it by the same rule.
fn stored_version(r: &mut Reader<'_, '_>) -> Result<super::StoredVersion, Bail> {
    let start = r.pos;
    r.eat(b'{')?;
    let tag = r.tag()?;
    r.pos = start;
    match tag {
        Tag::S | Tag::Null => {
            let text = Option::<super::attr::CowStr<'_>>::deserialize(Attr { r: &mut *r })?;
            Ok(text.map(|t| r.hidden.stored(t.0)))
        }
        _ => {
            de::IgnoredAny::deserialize(Attr { r })?;
            Ok(None)
        }
    }
}

/// Hands a map key or variant name to `seed` as serde_json hands it: borrowed when it had no
/// escapes.
fn named<'de, S: DeserializeSeed<'de>>(name: Cow<'de, str>, seed: S) -> Result<S::Value, Bail> {
    match name {
        Cow::Borrowed(k) => seed.deserialize(de::value::BorrowedStrDeserializer::new(k)),
        Cow::Owned(k) => seed.deserialize(de::value::StrDeserializer::new(&k)),
    }
}

// ---------------------------------------------------------------------------------------------
// One attribute value `{"T": value}`.

struct Attr<'r, 'de, 's> {
    r: &'r mut Reader<'de, 's>,
}

impl<'de> Attr<'_, 'de, '_> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, Bail> {
        let r = self.r;
        let tag = r.open_attribute()?;
        r.enter()?;
        // A string into a string target, the commonest pair, read here: `want` is known where
        // this is inlined, so the test costs nothing for other targets. It is what
        // `Pending::dispatch` and `JsonStr::dispatch` do for the pair.
        let out = match (tag, want) {
            (Tag::S, Want::String | Want::Str) => match r.string()? {
                Cow::Borrowed(s) => v.visit_borrowed_str(s),
                Cow::Owned(s) => v.visit_str(&s),
            }?,
            // Numbers into the usual number targets and booleans, likewise (what `NumberDe`'s
            // and `Pending`'s dispatch do for these).
            (Tag::N, Want::I64) => v.visit_i64(number::int(&r.string()?, "i64")?)?,
            (Tag::N, Want::I32) => v.visit_i32(number::int(&r.string()?, "i32")?)?,
            (Tag::N, Want::U64) => v.visit_u64(number::int(&r.string()?, "u64")?)?,
            (Tag::N, Want::U32) => v.visit_u32(number::int(&r.string()?, "u32")?)?,
            (Tag::N, Want::F64) => v.visit_f64(number::float(&r.string()?)?)?,
            (Tag::Bool, Want::Bool) => v.visit_bool(r.boolean()?)?,
            _ => Pending { r: &mut *r, tag }.dispatch(want, v)?,
        };
        // Exactly one type tag.
        r.eat(b'}')?;
        r.leave();
        // Last, after any entries of the value itself: its own entry reads the flag.
        r.ignored = matches!(want, Want::IgnoredAny);
        Ok(out)
    }
}

impl<'de> Deserializer<'de> for Attr<'_, 'de, '_> {
    type Error = Bail;
    dispatch_methods!();
}

/// The value of an attribute whose tag has been read.
struct Pending<'r, 'de, 's> {
    r: &'r mut Reader<'de, 's>,
    tag: Tag,
}

impl<'de> Pending<'_, 'de, '_> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, Bail> {
        match want {
            Want::Option if self.tag == Tag::Null => {
                self.r.skip()?;
                return v.visit_none();
            }
            Want::Option => return v.visit_some(self),
            Want::NewtypeStruct(_) => return v.visit_newtype_struct(self),
            Want::IgnoredAny => return self.validate(v),
            _ => {}
        }
        let r = self.r;
        match self.tag {
            Tag::S => JsonStr(r.string()?).dispatch(want, v),
            Tag::Bool => {
                let b = r.boolean()?;
                match want {
                    Want::Bool | Want::Any => v.visit_bool(b),
                    _ => Err(Bail),
                }
            }
            Tag::Ss => match want {
                Want::Seq | Want::Any | Want::Tuple(_) | Want::TupleStruct(..) => {
                    r.seq(Elem::JsonStr, v)
                }
                _ => Err(Bail),
            },
            Tag::Null => {
                r.skip()?;
                v.visit_unit()
            }
            Tag::N => {
                let text = r.string()?;
                want.call(NumberDe::<Bail>::new(&text), v)
            }
            Tag::B => {
                let text = r.string()?;
                want.call(BytesDe::<Bail>::new(&text), v)
            }
            Tag::M => match want {
                Want::Enum(..) => r.variant(v),
                _ => r.map(false, want, v),
            },
            Tag::L => r.seq(Elem::Attr, v),
            Tag::Ns => r.seq(Elem::Number, v),
            Tag::Bs => r.seq(Elem::Binary, v),
        }
    }

    /// An attribute the target ignores is still checked, as the reference checks it.
    fn validate<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Bail> {
        let r = self.r;
        match self.tag {
            Tag::S => {
                r.string()?;
            }
            Tag::N => number::validate::<Bail>(&r.string()?)?,
            Tag::B => BytesDe::<Bail>::check(&r.string()?)?,
            Tag::Bool | Tag::Null => {
                r.boolean()?;
            }
            Tag::M => return r.map(false, Want::IgnoredAny, v),
            Tag::L => return r.seq(Elem::Attr, v),
            Tag::Ss => return r.seq(Elem::Str, v),
            Tag::Ns => return r.seq(Elem::Number, v),
            Tag::Bs => return r.seq(Elem::Binary, v),
        }
        v.visit_unit()
    }
}

impl<'de> Deserializer<'de> for Pending<'_, 'de, '_> {
    type Error = Bail;
    dispatch_methods!();
}

/// A JSON string handed to the target as serde_json would hand it (the value of `S`, the
/// elements of `SS`).
struct JsonStr<'de>(Cow<'de, str>);

impl<'de> JsonStr<'de> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, Bail> {
        match want {
            Want::Str | Want::String | Want::Any | Want::Identifier | Want::Char => match self.0 {
                Cow::Borrowed(s) => v.visit_borrowed_str(s),
                Cow::Owned(s) => v.visit_str(&s),
            },
            Want::Option => v.visit_some(self),
            Want::NewtypeStruct(_) => v.visit_newtype_struct(self),
            Want::Enum(..) => match self.0 {
                Cow::Borrowed(s) => v.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
                Cow::Owned(s) => v.visit_enum(de::value::StrDeserializer::new(&s)),
            },
            Want::IgnoredAny => v.visit_unit(),
            _ => Err(Bail),
        }
    }
}

impl<'de> Deserializer<'de> for JsonStr<'de> {
    type Error = Bail;
    dispatch_methods!();
}

// ---------------------------------------------------------------------------------------------
// Lists and sets.

#[derive(Clone, Copy)]
enum Elem {
    /// L: each element is an attribute value.
    Attr,
    /// NS: each element is a number string.
    Number,
    /// BS: each element is a base64 string.
    Binary,
    /// SS when ignored: each element must be a string.
    Str,
    /// SS: each element is a string handed to the target as it is.
    JsonStr,
}

struct Items<'r, 'de, 's> {
    r: &'r mut Reader<'de, 's>,
    elem: Elem,
    state: State,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de, '_> {
    type Error = Bail;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Bail> {
        let r = &mut *self.r;
        if !r.more(&mut self.state, b']')? {
            return Ok(None);
        }
        match self.elem {
            Elem::Attr => seed.deserialize(Attr { r }),
            Elem::Number => seed.deserialize(NumberDe::<Bail>::new(&r.string()?)),
            Elem::Binary => seed.deserialize(BytesDe::<Bail>::new(&r.string()?)),
            Elem::Str => {
                r.string()?;
                seed.deserialize(de::value::UnitDeserializer::<Bail>::new())
            }
            Elem::JsonStr => seed.deserialize(JsonStr(r.string()?)),
        }
        .map(Some)
    }
}

// ---------------------------------------------------------------------------------------------
// Enums with data: `{"M": {"Variant": <attribute value>}}`.

struct Variant<'r, 'de, 's> {
    r: &'r mut Reader<'de, 's>,
}

impl<'de> EnumAccess<'de> for Variant<'_, 'de, '_> {
    type Error = Bail;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Bail> {
        let name = self.r.string()?;
        self.r.eat(b':')?;
        Ok((named(name, seed)?, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de, '_> {
    type Error = Bail;

    fn unit_variant(self) -> Result<(), Bail> {
        self.r.skip()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Bail> {
        seed.deserialize(Attr { r: self.r })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Bail> {
        Want::Tuple(len).call(Attr { r: self.r }, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Bail> {
        Want::Struct("", fields).call(Attr { r: self.r }, v)
    }
}

#[cfg(test)]
mod tests;
