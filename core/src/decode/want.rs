//! What a target asked a deserializer for, kept to replay once an attribute's type tag is
//! known: shared by the attribute deserializers (`attr`), the direct reader and the number
//! deserializer, none of which imports another for it.

use serde::de::{Deserializer, Visitor};

/// What the target asked for; replayed once the type tag is known.
#[derive(Clone, Copy)]
pub(crate) enum Want {
    Any,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    F32,
    F64,
    Char,
    Str,
    String,
    Bytes,
    ByteBuf,
    Option,
    Unit,
    UnitStruct(&'static str),
    NewtypeStruct(&'static str),
    Seq,
    Tuple(usize),
    TupleStruct(&'static str, usize),
    Map,
    Struct(&'static str, &'static [&'static str]),
    Enum(&'static str, &'static [&'static str]),
    Identifier,
    IgnoredAny,
}

impl Want {
    /// Calls the matching `deserialize_*` method of `d`.
    pub(crate) fn call<'de, D: Deserializer<'de>, V: Visitor<'de>>(
        self,
        d: D,
        v: V,
    ) -> Result<V::Value, D::Error> {
        match self {
            Want::Any => d.deserialize_any(v),
            Want::Bool => d.deserialize_bool(v),
            Want::I8 => d.deserialize_i8(v),
            Want::I16 => d.deserialize_i16(v),
            Want::I32 => d.deserialize_i32(v),
            Want::I64 => d.deserialize_i64(v),
            Want::I128 => d.deserialize_i128(v),
            Want::U8 => d.deserialize_u8(v),
            Want::U16 => d.deserialize_u16(v),
            Want::U32 => d.deserialize_u32(v),
            Want::U64 => d.deserialize_u64(v),
            Want::U128 => d.deserialize_u128(v),
            Want::F32 => d.deserialize_f32(v),
            Want::F64 => d.deserialize_f64(v),
            Want::Char => d.deserialize_char(v),
            Want::Str => d.deserialize_str(v),
            Want::String => d.deserialize_string(v),
            Want::Bytes => d.deserialize_bytes(v),
            Want::ByteBuf => d.deserialize_byte_buf(v),
            Want::Option => d.deserialize_option(v),
            Want::Unit => d.deserialize_unit(v),
            Want::UnitStruct(n) => d.deserialize_unit_struct(n, v),
            Want::NewtypeStruct(n) => d.deserialize_newtype_struct(n, v),
            Want::Seq => d.deserialize_seq(v),
            Want::Tuple(l) => d.deserialize_tuple(l, v),
            Want::TupleStruct(n, l) => d.deserialize_tuple_struct(n, l, v),
            Want::Map => d.deserialize_map(v),
            Want::Struct(n, f) => d.deserialize_struct(n, f, v),
            Want::Enum(n, vs) => d.deserialize_enum(n, vs, v),
            Want::Identifier => d.deserialize_identifier(v),
            Want::IgnoredAny => d.deserialize_ignored_any(v),
        }
    }
}
