//! Model: what the derive knows once the input is checked, in the terms the generated code
//! needs. Built only by `check`, read only by `emit`.

use proc_macro2::TokenStream as TokenStream2;
use syn::{Ident, Type, Visibility};

/// One placeholder occurrence in a pattern, resolved against the struct's fields.
pub struct Slot {
    pub field: Ident,
    pub ty: Type,
    pub width: Option<usize>,
}

/// A key pattern: its text, its segments as `dynastream::key::Segment` expressions, and its
/// placeholders in order.
pub struct Pattern {
    pub text: String,
    pub segments: Vec<TokenStream2>,
    pub slots: Vec<Slot>,
}

/// A secondary index.
pub struct Index {
    pub name: String,
    pub pk_attr: String,
    pub sk_attr: String,
    pub pk: Pattern,
    pub sk: Pattern,
}

/// One entry of `Model::FIELDS`.
pub struct FieldSpec {
    /// The attribute name serde stores the field under.
    pub attr_name: String,
    /// The Rust type as written, without whitespace.
    pub rust_type: String,
    /// The `SqlType` expression.
    pub sql: TokenStream2,
}

/// A checked model.
pub struct Model<'a> {
    pub name: &'a Ident,
    pub vis: &'a Visibility,
    pub entity: String,
    pub pk_attr: String,
    pub sk_attr: String,
    /// The schema-version attribute's name.
    pub schema_version_attr: String,
    pub key_name: Ident,
    pub pk: Pattern,
    pub sk: Pattern,
    pub indexes: Vec<Index>,
    pub fields: Vec<FieldSpec>,
    /// Lowercase hex SHA-256 of the canonical text.
    pub schema_version: String,
}
