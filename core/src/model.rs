//! Models: serde types whose DynamoDB keys follow patterns. Implemented by `#[derive(Model)]`.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::Model;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize, Model)]
//! #[dynastream(pk = "USER#{owner}#STORY#{story_id}", sk = "STORY#{story_id}")]
//! struct Story {
//!     owner: String,
//!     story_id: String,
//!     title: String,
//! }
//!
//! use dynastream::{Model as _, ModelKey as _};
//! let key = StoryKey { owner: "jane".into(), story_id: "42".into() };
//! assert_eq!(key.pk().unwrap(), "USER#jane#STORY#42");
//! assert_eq!(key.sk().unwrap(), "STORY#42");
//! assert_eq!(StoryKey::from_keys("USER#jane#STORY#42", "STORY#42"), Some(key));
//! // The same field in PK and SK must agree.
//! assert_eq!(StoryKey::from_keys("USER#jane#STORY#42", "STORY#43"), None);
//! assert_eq!(Story::ENTITY, "Story");
//! assert_eq!(Story::SCHEMA_VERSION.len(), 64);
//! ```

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;

use crate::key::{KeyError, Pattern, RenderError};

/// The attribute the framework stores the writer's schema version in, unless a model names
/// another ([`Model::SCHEMA_VERSION_ATTR`]). The model never sees it.
pub const SCHEMA_VERSION_ATTR: &str = "schema_version";

/// A type stored in the table under patterned keys.
pub trait Model: DeserializeOwned + Debug + Send + Sync + 'static {
    /// The typed key: the fields the PK and SK patterns use.
    type Key: ModelKey;
    /// The entity name (the type name unless `entity = "..."` is given).
    const ENTITY: &'static str;
    /// Name of the partition key attribute (`PK` unless `pk_attr = "..."`).
    const PK_ATTR: &'static str;
    /// Name of the sort key attribute (`SK` unless `sk_attr = "..."`); `""` for a model
    /// declared without `sk`, whose table has a partition key only (DynamoDB attribute names
    /// are never empty). Such a model's sort key is the empty string everywhere: in its
    /// [`ModelKey`], the store's keys and the mirror's `sk` column.
    const SK_ATTR: &'static str;
    /// The attribute the store writes [`SCHEMA_VERSION`](Model::SCHEMA_VERSION) into and a
    /// change reads the writer's version from: `schema_version` unless
    /// `#[dynastream(schema_version_attr = "...")]` names another (dynawrap, the Python key-pattern library, writes
    /// `schema_version` under its own scheme; a table it shares needs another name).
    const SCHEMA_VERSION_ATTR: &'static str = SCHEMA_VERSION_ATTR;
    /// Lowercase hex SHA-256 over the patterns and every field's name and type, in declaration
    /// order. Changes when a field is added, removed, renamed or retyped, or a pattern changes.
    const SCHEMA_VERSION: &'static str;
    /// The fields stored as attributes of their own, in declaration order (fields serde skips
    /// or flattens are left out).
    const FIELDS: &'static [FieldSpec];
    /// The partition key pattern.
    fn pk_pattern() -> &'static Pattern;
    /// The sort key pattern ([`Pattern::none`] when the table has no sort key).
    fn sk_pattern() -> &'static Pattern;
    /// This item's key.
    fn key(&self) -> Self::Key;
    /// A partly filled key for queries: every field any key pattern uses, each optional.
    /// Generated as `<Name>KeyPrefix` (`Default`, so unset fields can be left out).
    type Prefix: KeyPrefix;
    /// The model's secondary-index key patterns (`#[dynastream(gsi(...))]`), in declaration order.
    fn indexes() -> &'static [IndexSpec];
    /// Renders this item's partition and sort key on index `index` (a position in
    /// [`Model::indexes`]).
    /// `None` when the model has no such index.
    fn index_key(&self, index: usize) -> Option<Result<(String, String), RenderError>>;
}

/// A partly filled key: renders a partition key and a `begins_with` sort-key prefix for a query
/// on the table (`index = None`) or on one of the model's indexes.
pub trait KeyPrefix: Clone + Debug + Default + Send + Sync + 'static {
    /// The model whose keys this prefix builds.
    type Model: Model<Prefix = Self>;
    /// The partition key: every field of the partition-key pattern must be given.
    fn pk(&self, index: Option<usize>) -> Result<String, KeyError>;
    /// The sort-key prefix from the leading run of given sort-key fields (the pattern's leading
    /// literal when none is given).
    fn sk_prefix(&self, index: Option<usize>) -> Result<String, KeyError>;
}

/// A secondary index of a model: its name, its key attributes and their patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The index name (`GSI1`).
    pub name: &'static str,
    /// The index's partition key attribute (`GSI1PK` unless given).
    pub pk_attr: &'static str,
    /// The index's sort key attribute (`GSI1SK` unless given).
    pub sk_attr: &'static str,
    /// The partition key pattern.
    pub pk: Pattern,
    /// The sort key pattern.
    pub sk: Pattern,
}

/// The typed key of a model, usable on its own (a REMOVE without an image, a get, a delete).
pub trait ModelKey: Clone + Debug + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// Matches a PK and SK against the model's patterns; `None` when they do not match (a
    /// literal differs, a field does not parse into its type, or a field that appears in both
    /// patterns has different values).
    fn from_keys(pk: &str, sk: &str) -> Option<Self>;
    /// True when [`from_keys`](ModelKey::from_keys) would return a key, found without building
    /// it (the router asks this of every record to pick its model). `#[derive(Model)]`
    /// generates a version that allocates nothing for `String` fields.
    fn matches(pk: &str, sk: &str) -> bool {
        Self::from_keys(pk, sk).is_some()
    }
    /// Renders the partition key.
    fn pk(&self) -> Result<String, RenderError>;
    /// Renders the sort key (`""` for a model without a sort key).
    fn sk(&self) -> Result<String, RenderError>;
}

/// One stored field of a model: its attribute name and the SQL type of its column in the
/// Postgres mirror's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The attribute name (serde's name for the field, `rename` and `rename_all` applied).
    pub name: &'static str,
    /// The Rust type as written.
    pub rust_type: &'static str,
    /// The column type in the model's SQL view.
    pub sql_type: SqlType,
}

/// A column type in a model's SQL view. Chosen from the Rust type (`String` → text, integers →
/// bigint, `u64`/`Decimal` → numeric, floats → double precision, `bool` → boolean, `Option<T>` as
/// `T`, `Vec`/sets of those → arrays, anything else → jsonb) or set with
/// `#[dynastream(sql = "...")]` on the field.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::model::{FieldSpec, SqlType};
/// use dynastream::Model;
///
/// #[derive(Debug, serde::Deserialize, dynastream::Model)]
/// #[dynastream(pk = "T#{id}", sk = "T")]
/// #[serde(rename_all = "camelCase")]
/// struct Thing {
///     id: String,
///     word_count: Option<u32>,
///     #[dynastream(sql = "text")]
///     status: Status,
/// }
/// #[derive(Debug, serde::Deserialize)]
/// enum Status { Open }
///
/// assert_eq!(Thing::FIELDS[1], FieldSpec { name: "wordCount", rust_type: "Option<u32>", sql_type: SqlType::BigInt });
/// assert_eq!(Thing::FIELDS[2].sql_type.as_sql(), "text");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// `text`
    Text,
    /// `bigint`
    BigInt,
    /// `numeric` (exact)
    Numeric,
    /// `double precision`
    Double,
    /// `boolean`
    Boolean,
    /// `timestamptz` (from an RFC 3339 string attribute)
    Timestamptz,
    /// `jsonb` (the attribute as JSON)
    Jsonb,
    /// `text[]`
    TextArray,
    /// `bigint[]`
    BigIntArray,
    /// `numeric[]`
    NumericArray,
    /// `double precision[]`
    DoubleArray,
    /// `boolean[]`
    BooleanArray,
}

impl SqlType {
    /// The type's SQL name.
    pub fn as_sql(self) -> &'static str {
        match self {
            SqlType::Text => "text",
            SqlType::BigInt => "bigint",
            SqlType::Numeric => "numeric",
            SqlType::Double => "double precision",
            SqlType::Boolean => "boolean",
            SqlType::Timestamptz => "timestamptz",
            SqlType::Jsonb => "jsonb",
            SqlType::TextArray => "text[]",
            SqlType::BigIntArray => "bigint[]",
            SqlType::NumericArray => "numeric[]",
            SqlType::DoubleArray => "double precision[]",
            SqlType::BooleanArray => "boolean[]",
        }
    }

    /// The element type of an array type.
    pub fn element(self) -> Option<SqlType> {
        Some(match self {
            SqlType::TextArray => SqlType::Text,
            SqlType::BigIntArray => SqlType::BigInt,
            SqlType::NumericArray => SqlType::Numeric,
            SqlType::DoubleArray => SqlType::Double,
            SqlType::BooleanArray => SqlType::Boolean,
            _ => return None,
        })
    }
}
