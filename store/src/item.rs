//! Models to attribute values: a serde `Serializer` producing [`Value`](crate::Value)s.
//!
//! Numbers are written as `N` with their exact text. Top-level fields declared as sets
//! (`BTreeSet`/`HashSet` of strings, numbers or bytes) are written as `SS`/`NS`/`BS`, and left
//! out when empty (DynamoDB has no empty set). A top-level field whose view type is numeric but
//! which serializes as a string (`rust_decimal::Decimal`) is written as `N`. `None` is `NULL`,
//! unit variants are strings (as serde_json writes them), bytes (`serde_bytes`) are `B`.

use std::collections::HashMap;

use serde::ser::{self, Impossible, Serialize};

use crate::value::Value as Av;

use dynastream_core::dynamodb_json::{split_number, NUMBER_NEWTYPE};
use dynastream_core::model::{FieldSpec, SqlType};

/// Why a value could not be turned into attributes.
#[derive(Debug)]
pub(crate) struct SerError(pub(crate) String);

impl std::fmt::Display for SerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SerError {}
impl ser::Error for SerError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

/// How a top-level field is written, from its declaration.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hint {
    Plain,
    Set,
    Number,
}

fn hint(spec: Option<&FieldSpec>) -> Hint {
    let Some(spec) = spec else { return Hint::Plain };
    let ty = spec.rust_type;
    let ty = ty
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(ty);
    let last = ty.split('<').next().unwrap_or(ty);
    let last = last.rsplit("::").next().unwrap_or(last);
    if matches!(last, "BTreeSet" | "HashSet" | "IndexSet") {
        Hint::Set
    } else if spec.sql_type == SqlType::Numeric {
        Hint::Number
    } else {
        Hint::Plain
    }
}

/// Serializes a model into its attributes (the key attributes are added by the caller).
pub(crate) fn to_attrs<T: Serialize + ?Sized>(
    value: &T,
    fields: &[FieldSpec],
) -> Result<HashMap<String, Av>, SerError> {
    value.serialize(TopSer { fields })
}

/// The top level: a struct or map, each field serialized with its hint.
struct TopSer<'f> {
    fields: &'f [FieldSpec],
}

fn top_only<T>() -> Result<T, SerError> {
    Err(SerError(
        "a model must serialize as a struct or map of attributes".into(),
    ))
}

macro_rules! top_reject {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $arg),*) -> Result<Self::Ok, SerError> { top_only() })*
    };
}

impl<'f> ser::Serializer for TopSer<'f> {
    type Ok = HashMap<String, Av>;
    type Error = SerError;
    type SerializeSeq = Impossible<Self::Ok, SerError>;
    type SerializeTuple = Impossible<Self::Ok, SerError>;
    type SerializeTupleStruct = Impossible<Self::Ok, SerError>;
    type SerializeTupleVariant = Impossible<Self::Ok, SerError>;
    type SerializeMap = TopMap<'f>;
    type SerializeStruct = TopMap<'f>;
    type SerializeStructVariant = Impossible<Self::Ok, SerError>;

    top_reject!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Self::Ok, SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Self::Ok, SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Self::Ok, SerError> {
        top_only()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        top_only()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerError> {
        top_only()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        top_only()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        top_only()
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        Ok(TopMap {
            fields: self.fields,
            out: HashMap::with_capacity(len.unwrap_or(8)),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        top_only()
    }
}

struct TopMap<'f> {
    fields: &'f [FieldSpec],
    out: HashMap<String, Av>,
    key: Option<String>,
}

impl TopMap<'_> {
    fn put<T: Serialize + ?Sized>(&mut self, name: String, v: &T) -> Result<(), SerError> {
        let h = hint(self.fields.iter().find(|f| f.name == name));
        let value = v
            .serialize(ValueSer { hint: h })
            .map_err(|e| SerError(format!("field `{name}`: {e}")))?;
        // DynamoDB has no empty set: an empty set field is left out.
        if h == Hint::Set && matches!(&value, Av::L(l) if l.is_empty()) {
            return Ok(());
        }
        if self.out.insert(name.clone(), value).is_some() {
            return Err(SerError(format!("attribute `{name}` is written twice")));
        }
        Ok(())
    }
}

impl ser::SerializeStruct for TopMap<'_> {
    type Ok = HashMap<String, Av>;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.put(key.to_string(), v)
    }
    fn end(self) -> Result<Self::Ok, SerError> {
        Ok(self.out)
    }
}

impl ser::SerializeMap for TopMap<'_> {
    type Ok = HashMap<String, Av>;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerError> {
        self.key = Some(k.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| SerError("map value without a key".into()))?;
        self.put(k, v)
    }
    fn end(self) -> Result<Self::Ok, SerError> {
        Ok(self.out)
    }
}

/// Map keys: strings, or integers and chars written as text (as serde_json does).
struct KeySer;

fn key_only<T>() -> Result<T, SerError> {
    Err(SerError("map keys must be strings or integers".into()))
}

macro_rules! key_int {
    ($($name:ident($t:ty)),*) => {
        $(fn $name(self, v: $t) -> Result<String, SerError> { Ok(v.to_string()) })*
    };
}
macro_rules! key_reject {
    ($($name:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $name(self, $(_: $arg),*) -> Result<String, SerError> { key_only() })*
    };
}

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = SerError;
    type SerializeSeq = Impossible<String, SerError>;
    type SerializeTuple = Impossible<String, SerError>;
    type SerializeTupleStruct = Impossible<String, SerError>;
    type SerializeTupleVariant = Impossible<String, SerError>;
    type SerializeMap = Impossible<String, SerError>;
    type SerializeStruct = Impossible<String, SerError>;
    type SerializeStructVariant = Impossible<String, SerError>;
    key_int!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_char(char)
    );
    key_reject!(
        serialize_bool(bool),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );
    fn serialize_str(self, v: &str) -> Result<String, SerError> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, SerError> {
        Ok(variant.to_string())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<String, SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<String, SerError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, SerError> {
        key_only()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerError> {
        key_only()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerError> {
        key_only()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        key_only()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        key_only()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerError> {
        key_only()
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, SerError> {
        key_only()
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        key_only()
    }
}

/// Any value.
struct ValueSer {
    hint: Hint,
}

const PLAIN: ValueSer = ValueSer { hint: Hint::Plain };

/// A finite float as the shortest text that reads back to it; exponent form only at the
/// extremes.
fn float_text<F>(v: F) -> Result<String, SerError>
where
    F: Copy + std::fmt::Display + std::fmt::LowerExp + Into<f64>,
{
    let wide: f64 = v.into();
    if !wide.is_finite() {
        return Err(SerError(format!(
            "{v} cannot be stored (DynamoDB numbers are finite)"
        )));
    }
    let a = wide.abs();
    Ok(if a == 0.0 || (1e-7..1e21).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    })
}

macro_rules! int_n {
    ($($name:ident($t:ty)),*) => {
        $(fn $name(self, v: $t) -> Result<Av, SerError> { Ok(Av::N(v.to_string())) })*
    };
}

impl ser::Serializer for ValueSer {
    type Ok = Av;
    type Error = SerError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = Variant<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = Variant<MapSer>;

    int_n!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128)
    );
    fn serialize_bool(self, v: bool) -> Result<Av, SerError> {
        Ok(Av::Bool(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Av, SerError> {
        // The f32's own shortest text, not that of the widened f64.
        float_text(v).map(Av::N)
    }
    fn serialize_f64(self, v: f64) -> Result<Av, SerError> {
        float_text(v).map(Av::N)
    }
    fn serialize_char(self, v: char) -> Result<Av, SerError> {
        Ok(Av::S(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Av, SerError> {
        if self.hint == Hint::Number {
            if split_number(v).is_none() {
                return Err(SerError(format!("{v:?} is not a number")));
            }
            return Ok(Av::N(v.to_string()));
        }
        Ok(Av::S(v.to_string()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Av, SerError> {
        Ok(Av::B(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Av, SerError> {
        Ok(Av::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Av, SerError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Av, SerError> {
        Ok(Av::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Av, SerError> {
        Ok(Av::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Av, SerError> {
        Ok(Av::S(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Av, SerError> {
        if name == NUMBER_NEWTYPE {
            // A dynastream::Number: its exact text as an N.
            return v.serialize(KeySer).map(Av::N);
        }
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Av, SerError> {
        let inner = v.serialize(PLAIN)?;
        Ok(Av::M(HashMap::from([(variant.to_string(), inner)])))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, SerError> {
        Ok(SeqSer {
            set: self.hint == Hint::Set,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, SerError> {
        PLAIN.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, SerError> {
        PLAIN.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<SeqSer>, SerError> {
        Ok(Variant {
            variant,
            inner: PLAIN.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer, SerError> {
        Ok(MapSer {
            out: HashMap::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapSer, SerError> {
        PLAIN.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<MapSer>, SerError> {
        Ok(Variant {
            variant,
            inner: PLAIN.serialize_map(Some(len))?,
        })
    }
}

/// A list, or a set when the field is declared as one.
struct SeqSer {
    set: bool,
    items: Vec<Av>,
}

impl SeqSer {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let i = self.items.len();
        let item = v
            .serialize(PLAIN)
            .map_err(|e| SerError(format!("[{i}]: {e}")))?;
        self.items.push(item);
        Ok(())
    }
    fn finish(self) -> Result<Av, SerError> {
        if !self.set || self.items.is_empty() {
            return Ok(Av::L(self.items));
        }
        let set_of = |want: fn(&Av) -> Option<String>| -> Option<Vec<String>> {
            self.items.iter().map(want).collect()
        };
        if let Some(ss) = set_of(|a| a.as_s().map(str::to_string)) {
            return Ok(Av::Ss(ss));
        }
        if let Some(ns) = set_of(|a| a.as_n().map(str::to_string)) {
            return Ok(Av::Ns(ns));
        }
        let bs: Option<Vec<Vec<u8>>> = self.items.iter().map(|a| a.as_b().cloned()).collect();
        match bs {
            Some(bs) => Ok(Av::Bs(bs)),
            None => Err(SerError(
                "a set must hold only strings, only numbers or only bytes".into(),
            )),
        }
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Av;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.push(v)
    }
    fn end(self) -> Result<Av, SerError> {
        self.finish()
    }
}
impl ser::SerializeTuple for SeqSer {
    type Ok = Av;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.push(v)
    }
    fn end(self) -> Result<Av, SerError> {
        self.finish()
    }
}
impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Av;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.push(v)
    }
    fn end(self) -> Result<Av, SerError> {
        self.finish()
    }
}

/// A map or struct.
struct MapSer {
    out: HashMap<String, Av>,
    key: Option<String>,
}

impl MapSer {
    fn put<T: Serialize + ?Sized>(&mut self, k: String, v: &T) -> Result<(), SerError> {
        let value = v
            .serialize(PLAIN)
            .map_err(|e| SerError(format!("{k}: {e}")))?;
        self.out.insert(k, value);
        Ok(())
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Av;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerError> {
        self.key = Some(k.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| SerError("map value without a key".into()))?;
        self.put(k, v)
    }
    fn end(self) -> Result<Av, SerError> {
        Ok(Av::M(self.out))
    }
}
impl ser::SerializeStruct for MapSer {
    type Ok = Av;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.put(key.to_string(), v)
    }
    fn end(self) -> Result<Av, SerError> {
        Ok(Av::M(self.out))
    }
}

/// An enum variant with content: `{"Variant": content}` (serde's external tagging).
struct Variant<S> {
    variant: &'static str,
    inner: S,
}

impl ser::SerializeTupleVariant for Variant<SeqSer> {
    type Ok = Av;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.inner.push(v)
    }
    fn end(self) -> Result<Av, SerError> {
        let inner = self.inner.finish()?;
        Ok(Av::M(HashMap::from([(self.variant.to_string(), inner)])))
    }
}
impl ser::SerializeStructVariant for Variant<MapSer> {
    type Ok = Av;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        self.inner.put(key.to_string(), v)
    }
    fn end(self) -> Result<Av, SerError> {
        Ok(Av::M(HashMap::from([(
            self.variant.to_string(),
            Av::M(self.inner.out),
        )])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeSet;

    #[derive(Serialize)]
    struct Item {
        s: String,
        n: i64,
        f: f64,
        tags: BTreeSet<String>,
        empty: BTreeSet<String>,
        list: Vec<String>,
        opt: Option<u8>,
        #[serde(with = "bytes")]
        blob: Vec<u8>,
        price: String,
    }

    mod bytes {
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }

    const FIELDS: &[FieldSpec] = &[
        FieldSpec {
            name: "tags",
            rust_type: "BTreeSet<String>",
            sql_type: SqlType::TextArray,
        },
        FieldSpec {
            name: "empty",
            rust_type: "std::collections::BTreeSet<String>",
            sql_type: SqlType::TextArray,
        },
        FieldSpec {
            name: "price",
            rust_type: "Decimal",
            sql_type: SqlType::Numeric,
        },
    ];

    #[test]
    fn types_follow_declarations() {
        let item = Item {
            s: "x".into(),
            n: -3,
            f: 0.5,
            tags: ["b".to_string(), "a".to_string()].into(),
            empty: BTreeSet::new(),
            list: vec!["a".into()],
            opt: None,
            blob: vec![0, 255],
            price: "19.990".into(),
        };
        let attrs = to_attrs(&item, FIELDS).unwrap();
        assert_eq!(attrs["s"], Av::S("x".into()));
        assert_eq!(attrs["n"], Av::N("-3".into()));
        assert_eq!(attrs["f"], Av::N("0.5".into()));
        assert_eq!(attrs["tags"], Av::Ss(vec!["a".into(), "b".into()]));
        assert!(!attrs.contains_key("empty"), "empty sets are left out");
        assert_eq!(attrs["list"], Av::L(vec![Av::S("a".into())]));
        assert_eq!(attrs["opt"], Av::Null);
        assert_eq!(attrs["blob"], Av::B(vec![0, 255]));
        assert_eq!(
            attrs["price"],
            Av::N("19.990".into()),
            "digits kept exactly"
        );
    }

    #[test]
    fn refuses_what_dynamodb_cannot_hold() {
        #[derive(Serialize)]
        struct F {
            f: f64,
        }
        let e = to_attrs(&F { f: f64::NAN }, &[]).unwrap_err();
        assert!(e.0.contains("field `f`"), "{e}");
        let e = to_attrs(&3u8, &[]).unwrap_err();
        assert!(e.0.contains("struct or map"), "{e}");
        #[derive(Serialize)]
        struct P {
            price: String,
        }
        let e = to_attrs(
            &P {
                price: "abc".into(),
            },
            &FIELDS[2..],
        )
        .unwrap_err();
        assert!(e.0.contains("not a number"), "{e}");
    }

    #[test]
    fn floats_use_exponents_only_at_the_extremes() {
        assert_eq!(float_text(1e300).unwrap(), "1e300");
        assert_eq!(float_text(-2.5e-10).unwrap(), "-2.5e-10");
        assert_eq!(float_text(123.25).unwrap(), "123.25");
    }

    #[test]
    fn dynamodb_json_round_trips_through_the_decoder() {
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        enum Shape {
            Dot,
            Circle { r: u32 },
        }
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        struct T {
            a: Vec<Shape>,
            m: std::collections::BTreeMap<String, Option<i32>>,
        }
        let t = T {
            a: vec![Shape::Dot, Shape::Circle { r: 2 }],
            m: [("k\"".to_string(), None), ("z".to_string(), Some(-1))].into(),
        };
        let json = crate::value::to_dynamodb_json(&to_attrs(&t, &[]).unwrap());
        let back: T = dynastream_core::dynamodb_json::from_image(&json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn size_counts_names_and_values() {
        let attrs = HashMap::from([
            ("ab".to_string(), Av::S("xyz".into())),
            ("n".to_string(), Av::N("12345".into())),
        ]);
        assert_eq!(crate::value::item_size(&attrs), 2 + 3 + 1 + 4);
    }
}
