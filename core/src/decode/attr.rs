//! A serde `Deserializer` over DynamoDB JSON (`{"S": "..."}`, `{"N": "1"}`, `{"M": {...}}`, ...)
//! that drives the target type's `Deserialize` directly from the JSON text: no intermediate
//! attribute-value tree, borrowed strings where the target borrows, exact numbers.
//!
//! Every deserializer here is generic over the underlying JSON deserializer and shares its
//! error type, so positions and messages stay serde_json's. A [`Ctx`] collects the attribute
//! path on the way out of an error (only on the error path).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Error as _, IgnoredAny, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Deserialize as _;

use super::number;
use super::want::Want;

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathSeg {
    Key(String),
    Index(usize),
}

/// Per-image decoding state: the attribute path of an error, the attributes the model does not
/// see (the key attributes) and the captured `schema_version`.
pub(crate) struct Ctx<'s> {
    pub(crate) path: RefCell<Vec<PathSeg>>,
    pub(crate) skip: super::Hidden<'s>,
    pub(crate) schema_version: RefCell<super::StoredVersion>,
    /// Strings may stand for binary values (base64), as in the Postgres store's JSON: an `S`
    /// read where the target wants bytes is decoded from base64.
    pub(crate) base64_strings: bool,
}

impl<'s> Ctx<'s> {
    pub(crate) fn new(skip: super::Hidden<'s>) -> Self {
        Ctx {
            path: RefCell::new(Vec::new()),
            skip,
            schema_version: RefCell::new(None),
            base64_strings: false,
        }
    }

    /// The attribute path of the error, outermost first (`meta.items[2].qty`).
    pub(crate) fn path_text(&self) -> Option<String> {
        let path = self.path.borrow();
        if path.is_empty() {
            return None;
        }
        let mut s = String::new();
        for seg in path.iter().rev() {
            match seg {
                PathSeg::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                PathSeg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        Some(s)
    }
}

/// The DynamoDB type tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Tag {
    S,
    N,
    B,
    Bool,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl Tag {
    /// The tag a type name such as `"SS"` stands for.
    pub fn from_name(name: &str) -> Option<Tag> {
        Some(match name {
            "S" => Tag::S,
            "N" => Tag::N,
            "B" => Tag::B,
            "BOOL" => Tag::Bool,
            "NULL" => Tag::Null,
            "M" => Tag::M,
            "L" => Tag::L,
            "SS" => Tag::Ss,
            "NS" => Tag::Ns,
            "BS" => Tag::Bs,
            _ => return None,
        })
    }
}

impl<'de> de::Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB type tag (S, N, B, BOOL, NULL, M, L, SS, NS, BS)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
                Tag::from_name(v)
                    .ok_or_else(|| E::custom(format_args!("unknown DynamoDB type tag {v:?}")))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A string that borrows from the input when it has no escapes.
pub struct CowStr<'de>(pub Cow<'de, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CowStr<'de>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------------
// The image (top level): an attribute map without a type tag.

/// Deserializes a whole image (`{"attr": {"S": ...}, ...}`) from a JSON deserializer.
pub(crate) struct ImageDe<'c, 's, D> {
    pub(crate) de: D,
    pub(crate) ctx: &'c Ctx<'s>,
}

impl<'de, D: Deserializer<'de>> ImageDe<'_, '_, D> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, D::Error> {
        match want {
            Want::Option => v.visit_some(self),
            Want::NewtypeStruct(_) => v.visit_newtype_struct(self),
            Want::IgnoredAny => self.de.deserialize_ignored_any(v),
            _ => self.de.deserialize_map(MapVisitor {
                v,
                ctx: self.ctx,
                top: true,
            }),
        }
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ImageDe<'_, '_, D> {
    type Error = D::Error;
    dispatch_methods!();
}

// ---------------------------------------------------------------------------------------------
// One attribute value `{"T": value}`.

/// Deserializes one attribute value (`{"T": v}`) read from `de`.
pub(crate) struct AttrDe<'c, 's, D> {
    de: D,
    ctx: &'c Ctx<'s>,
}

impl<'de, D: Deserializer<'de>> AttrDe<'_, '_, D> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(Tagged {
            v,
            want,
            ctx: self.ctx,
        })
    }
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for AttrDe<'_, '_, D> {
    type Error = D::Error;
    dispatch_methods!();
}

/// Visits the one-entry map `{"T": v}`.
struct Tagged<'c, 's, V> {
    v: V,
    want: Want,
    ctx: &'c Ctx<'s>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Tagged<'_, '_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB attribute value such as {\"S\": \"...\"}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        let Some(tag) = map.next_key::<Tag>()? else {
            return Err(A::Error::custom("attribute value has no type tag"));
        };
        let value = Pending {
            map: &mut map,
            tag,
            ctx: self.ctx,
        }
        .dispatch(self.want, self.v)?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom(
                "attribute value has more than one type tag",
            ));
        }
        Ok(value)
    }
}

/// The value of a tagged map whose tag has been read.
struct Pending<'m, 'c, 's, A> {
    map: &'m mut A,
    tag: Tag,
    ctx: &'c Ctx<'s>,
}

impl<'de, A: MapAccess<'de>> Pending<'_, '_, '_, A> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, A::Error> {
        match want {
            Want::Option if self.tag == Tag::Null => {
                self.map.next_value::<IgnoredAny>()?;
                return v.visit_none();
            }
            Want::Option => return v.visit_some(self),
            Want::NewtypeStruct(_) => return v.visit_newtype_struct(self),
            Want::IgnoredAny => return self.validate(v),
            _ => {}
        }
        let ctx = self.ctx;
        match self.tag {
            Tag::S if ctx.base64_strings && matches!(want, Want::Bytes | Want::ByteBuf) => {
                let text = self.map.next_value::<CowStr<'de>>()?;
                want.call(BytesDe::<A::Error>::new(&text.0), v)
            }
            // JSON strings and booleans are what the target expects for S and BOOL.
            Tag::S | Tag::Bool | Tag::Ss => self.map.next_value_seed(Raw { want, v }),
            Tag::Null => {
                self.map.next_value::<IgnoredAny>()?;
                v.visit_unit()
            }
            Tag::N => {
                let text = self.map.next_value::<CowStr<'de>>()?;
                want.call(number::NumberDe::<A::Error>::new(&text.0), v)
            }
            Tag::B => {
                let text = self.map.next_value::<CowStr<'de>>()?;
                want.call(BytesDe::<A::Error>::new(&text.0), v)
            }
            Tag::M => match want {
                Want::Enum(..) => self.map.next_value_seed(EnumSeed { v, ctx }),
                _ => self.map.next_value_seed(MapSeed { v, ctx }),
            },
            Tag::L => self.map.next_value_seed(SeqSeed {
                v,
                ctx,
                elem: Elem::Attr,
            }),
            Tag::Ns => self.map.next_value_seed(SeqSeed {
                v,
                ctx,
                elem: Elem::Number,
            }),
            Tag::Bs => self.map.next_value_seed(SeqSeed {
                v,
                ctx,
                elem: Elem::Binary,
            }),
        }
    }
}

impl<'de, A: MapAccess<'de>> Pending<'_, '_, '_, A> {
    /// An attribute the target ignores is still checked: a bad record (bad base64, an unknown
    /// tag, a malformed number) fails wherever the damage is.
    fn validate<V: Visitor<'de>>(self, v: V) -> Result<V::Value, A::Error> {
        let ctx = self.ctx;
        match self.tag {
            Tag::S => {
                self.map.next_value::<CowStr<'de>>()?;
            }
            Tag::N => {
                let text = self.map.next_value::<CowStr<'de>>()?;
                number::validate::<A::Error>(&text.0)?;
            }
            Tag::B => {
                let text = self.map.next_value::<CowStr<'de>>()?;
                BytesDe::<A::Error>::check(&text.0)?;
            }
            Tag::Bool | Tag::Null => {
                self.map.next_value::<bool>()?;
            }
            Tag::M => return self.map.next_value_seed(MapSeed { v, ctx }),
            Tag::L => {
                return self.map.next_value_seed(SeqSeed {
                    v,
                    ctx,
                    elem: Elem::Attr,
                })
            }
            Tag::Ss => {
                return self.map.next_value_seed(SeqSeed {
                    v,
                    ctx,
                    elem: Elem::Str,
                })
            }
            Tag::Ns => {
                return self.map.next_value_seed(SeqSeed {
                    v,
                    ctx,
                    elem: Elem::Number,
                })
            }
            Tag::Bs => {
                return self.map.next_value_seed(SeqSeed {
                    v,
                    ctx,
                    elem: Elem::Binary,
                })
            }
        }
        v.visit_unit()
    }
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Pending<'_, '_, '_, A> {
    type Error = A::Error;
    dispatch_methods!();
}

/// Hands the raw JSON value to the target unchanged.
struct Raw<V> {
    want: Want,
    v: V,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Raw<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.want.call(d, self.v)
    }
}

/// Binary values: base64 in the JSON, bytes (or a sequence of `u8`) for the target. The text
/// is decoded when the target asks for it; a target that ignores the value only has it checked,
/// without allocating.
pub(crate) struct BytesDe<'t, E> {
    text: &'t str,
    _e: PhantomData<E>,
}

fn base64_error<E: de::Error>(e: impl fmt::Display) -> E {
    E::custom(format_args!("invalid base64 in binary attribute: {e}"))
}

impl<'t, E: de::Error> BytesDe<'t, E> {
    pub(crate) fn new(text: &'t str) -> Self {
        BytesDe {
            text,
            _e: PhantomData,
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, E> {
        base64::engine::general_purpose::STANDARD
            .decode(self.text)
            .map_err(base64_error)
    }

    /// Checks the text is base64, as [`BytesDe::bytes`] would, without writing the bytes:
    /// base64-simd's check accepts exactly what `bytes` accepts (canonical base64, RFC 4648
    /// section 4 with its padding and no bits past the data; property tests hold it to accept
    /// nothing `bytes` refuses, and every canonical encoding). Text it refuses is decoded by
    /// `bytes`, for the error `bytes` gives.
    pub(crate) fn check(text: &str) -> Result<(), E> {
        if base64_simd::STANDARD.check(text.as_bytes()).is_ok() {
            return Ok(());
        }
        BytesDe::<E>::new(text).bytes().map(drop)
    }
}

impl<'de, E: de::Error> BytesDe<'_, E> {
    fn dispatch<V: Visitor<'de>>(self, want: Want, v: V) -> Result<V::Value, E> {
        match want {
            Want::Option => v.visit_some(self),
            Want::NewtypeStruct(_) => v.visit_newtype_struct(self),
            Want::Seq | Want::Tuple(_) | Want::TupleStruct(..) => {
                let mut seq = de::value::SeqDeserializer::new(self.bytes()?.into_iter());
                let out = v.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Want::IgnoredAny => {
                Self::check(self.text)?;
                v.visit_unit()
            }
            _ => v.visit_byte_buf(self.bytes()?),
        }
    }
}

impl<'de, E: de::Error> Deserializer<'de> for BytesDe<'_, E> {
    type Error = E;
    dispatch_methods!();
}

// ---------------------------------------------------------------------------------------------
// Maps (M and the image itself).

struct MapSeed<'c, 's, V> {
    v: V,
    ctx: &'c Ctx<'s>,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for MapSeed<'_, '_, V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_map(MapVisitor {
            v: self.v,
            ctx: self.ctx,
            top: false,
        })
    }
}

struct MapVisitor<'c, 's, V> {
    v: V,
    ctx: &'c Ctx<'s>,
    top: bool,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for MapVisitor<'_, '_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of DynamoDB attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.v.visit_map(AttrMap {
            map,
            names: Names::new(),
            ctx: self.ctx,
            top: self.top,
            key: Cow::Borrowed(""),
        })
    }
}

/// The member names of one JSON object read so far, to refuse a name given twice (a first-wins
/// or last-wins reading would let the handler, the mirror and the report disagree:
/// docs/semantics.md, "Decoding"). Up to [`Names::INLINE`] borrowed names are held inline,
/// behind a 128-bit filter of their lengths and a few of their bytes, so a name that differs
/// from all before it (nearly every name) costs a few instructions; more names, or names with
/// escapes, go to a hash set.
pub struct Names<'de> {
    /// One bit per inline name, by [`Names::bit`]: a name whose bit is clear is new.
    filter: u128,
    inline: [&'de str; Names::INLINE],
    len: usize,
    more: Option<std::collections::HashSet<Cow<'de, str>>>,
}

impl Default for Names<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de> Names<'de> {
    /// Names held inline: an item's top level rarely has more attributes.
    pub const INLINE: usize = 16;

    /// No names yet.
    #[inline]
    pub fn new() -> Self {
        Names {
            filter: 0,
            inline: [""; Names::INLINE],
            len: 0,
            more: None,
        }
    }

    /// The filter bit of a name: from its length and its last byte (names of one object
    /// mostly differ in one or the other).
    #[inline]
    fn bit(name: &str) -> u128 {
        let b = name.as_bytes();
        let last = u32::from(b.last().copied().unwrap_or(0));
        1u128 << (((b.len() as u32).wrapping_mul(13) ^ last.wrapping_mul(7)) & 127)
    }

    /// Adds `name`; false when it was already there.
    #[inline]
    // A `Cow`, not a `&str`: a borrowed name lives as long as the text, so it is held inline.
    #[allow(clippy::ptr_arg)]
    pub fn insert(&mut self, name: &Cow<'de, str>) -> bool {
        if let (Cow::Borrowed(b), true) = (name, self.len < Names::INLINE) {
            let bit = Self::bit(b);
            if self.filter & bit == 0 && self.more.is_none() {
                self.filter |= bit;
                self.inline[self.len] = b;
                self.len += 1;
                return true;
            }
        }
        self.insert_slow(name)
    }

    #[cold]
    #[inline(never)]
    #[allow(clippy::ptr_arg)] // as `insert`
    fn insert_slow(&mut self, name: &Cow<'de, str>) -> bool {
        let text: &str = name;
        if self.inline[..self.len]
            .iter()
            .any(|n| crate::bytes::same(n.as_bytes(), text.as_bytes()))
        {
            return false;
        }
        if let Some(more) = &mut self.more {
            return more.insert(name.clone());
        }
        match name {
            Cow::Borrowed(b) if self.len < Names::INLINE => {
                self.filter |= Self::bit(b);
                self.inline[self.len] = b;
                self.len += 1;
                true
            }
            _ => self
                .more
                .get_or_insert_with(Default::default)
                .insert(name.clone()),
        }
    }
}

/// Attribute names map to the target's keys; values are attribute values.
struct AttrMap<'c, 's, 'de, A> {
    map: A,
    names: Names<'de>,
    ctx: &'c Ctx<'s>,
    top: bool,
    key: Cow<'de, str>,
}

impl<'de, A: MapAccess<'de>> AttrMap<'_, '_, 'de, A> {
    fn note_key<E>(&self, e: E) -> E {
        self.ctx
            .path
            .borrow_mut()
            .push(PathSeg::Key(self.key.clone().into_owned()));
        e
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for AttrMap<'_, '_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(CowStr(key)) = self.map.next_key::<CowStr<'de>>()? else {
                return Ok(None);
            };
            if !self.names.insert(&key) {
                return Err(A::Error::custom(format_args!(
                    "attribute {key:?} is given twice"
                )));
            }
            if self.top {
                if self.ctx.skip.keys.contains(&key.as_ref()) {
                    self.map.next_value::<IgnoredAny>()?;
                    continue;
                }
                if key == self.ctx.skip.version {
                    self.key = key;
                    let v = self
                        .map
                        .next_value_seed(VersionSeed { ctx: self.ctx })
                        .map_err(|e| self.note_key(e))?;
                    *self.ctx.schema_version.borrow_mut() = v;
                    continue;
                }
            }
            self.key = key;
            let out = match &self.key {
                Cow::Borrowed(k) => seed.deserialize(de::value::BorrowedStrDeserializer::new(k)),
                Cow::Owned(k) => seed.deserialize(de::value::StrDeserializer::new(k)),
            };
            return out.map(Some);
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map
            .next_value_seed(AttrSeed {
                seed,
                ctx: self.ctx,
            })
            .map_err(|e| self.note_key(e))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// The schema-version attribute's value: its text when it is an `S`; `None` for `NULL` and for
/// any other type, which is checked as an undeclared attribute is and never fails the image
/// (the direct reader's `stored_version` follows the same rule).
struct VersionSeed<'c, 's> {
    ctx: &'c Ctx<'s>,
}

impl<'de> DeserializeSeed<'de> for VersionSeed<'_, '_> {
    type Value = super::StoredVersion;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<super::StoredVersion, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for VersionSeed<'_, '_> {
    type Value = super::StoredVersion;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB attribute value such as {\"S\": \"...\"}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<super::StoredVersion, A::Error> {
        let Some(tag) = map.next_key::<Tag>()? else {
            return Err(A::Error::custom("attribute value has no type tag"));
        };
        let value = match tag {
            Tag::S => Some(self.ctx.skip.stored(map.next_value::<CowStr<'de>>()?.0)),
            // As the direct reader and the old `Option<String>` reading: NULL's value unread.
            Tag::Null => {
                map.next_value::<IgnoredAny>()?;
                None
            }
            _ => {
                Pending {
                    map: &mut map,
                    tag,
                    ctx: self.ctx,
                }
                .validate(IgnoredAny)?;
                None
            }
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom(
                "attribute value has more than one type tag",
            ));
        }
        Ok(value)
    }
}

/// Deserializes the target seed from an attribute value.
struct AttrSeed<'c, 's, S> {
    seed: S,
    ctx: &'c Ctx<'s>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for AttrSeed<'_, '_, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(AttrDe {
            de: d,
            ctx: self.ctx,
        })
    }
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
}

struct SeqSeed<'c, 's, V> {
    v: V,
    ctx: &'c Ctx<'s>,
    elem: Elem,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for SeqSeed<'_, '_, V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for SeqSeed<'_, '_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list or set of DynamoDB values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.v.visit_seq(AttrSeq {
            seq,
            ctx: self.ctx,
            elem: self.elem,
            index: 0,
        })
    }
}

struct AttrSeq<'c, 's, A> {
    seq: A,
    ctx: &'c Ctx<'s>,
    elem: Elem,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for AttrSeq<'_, '_, A> {
    type Error = A::Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let out = self.seq.next_element_seed(ElemSeed {
            seed,
            ctx: self.ctx,
            elem: self.elem,
        });
        if out.is_err() {
            self.ctx.path.borrow_mut().push(PathSeg::Index(self.index));
        }
        self.index += 1;
        out
    }
    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct ElemSeed<'c, 's, T> {
    seed: T,
    ctx: &'c Ctx<'s>,
    elem: Elem,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for ElemSeed<'_, '_, T> {
    type Value = T::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T::Value, D::Error> {
        match self.elem {
            Elem::Attr => self.seed.deserialize(AttrDe {
                de: d,
                ctx: self.ctx,
            }),
            Elem::Number => {
                let text = CowStr::deserialize(d)?;
                self.seed
                    .deserialize(number::NumberDe::<D::Error>::new(&text.0))
            }
            Elem::Binary => {
                let text = CowStr::deserialize(d)?;
                self.seed.deserialize(BytesDe::<D::Error>::new(&text.0))
            }
            Elem::Str => {
                CowStr::deserialize(d)?;
                self.seed
                    .deserialize(de::value::UnitDeserializer::<D::Error>::new())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Enums with data: `{"M": {"Variant": <attribute value>}}`.

struct EnumSeed<'c, 's, V> {
    v: V,
    ctx: &'c Ctx<'s>,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for EnumSeed<'_, '_, V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for EnumSeed<'_, '_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an enum variant as a one-entry map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V::Value, A::Error> {
        let out = self.v.visit_enum(AttrEnum {
            map: &mut map,
            ctx: self.ctx,
        })?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("enum variant map has more than one entry"));
        }
        Ok(out)
    }
}

struct AttrEnum<'m, 'c, 's, A> {
    map: &'m mut A,
    ctx: &'c Ctx<'s>,
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for AttrEnum<'_, '_, '_, A> {
    type Error = A::Error;
    type Variant = Self;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), A::Error> {
        match self.map.next_key_seed(seed)? {
            Some(v) => Ok((v, self)),
            None => Err(A::Error::invalid_length(
                0,
                &"a one-entry map naming the variant",
            )),
        }
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for AttrEnum<'_, '_, '_, A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.map.next_value::<IgnoredAny>().map(|_| ())
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(AttrSeed {
            seed,
            ctx: self.ctx,
        })
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(AttrVisit {
            want: Want::Tuple(len),
            v,
            ctx: self.ctx,
        })
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(AttrVisit {
            want: Want::Struct("", fields),
            v,
            ctx: self.ctx,
        })
    }
}

/// Deserializes an attribute value with a given visitor.
struct AttrVisit<'c, 's, V> {
    want: Want,
    v: V,
    ctx: &'c Ctx<'s>,
}

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for AttrVisit<'_, '_, V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.want.call(
            AttrDe {
                de: d,
                ctx: self.ctx,
            },
            self.v,
        )
    }
}
