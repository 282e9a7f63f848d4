//! DynamoDB JSON, the format of a stream record's `Keys`, `NewImage` and `OldImage` and of the
//! store's items, read one way by every part of dynastream: the router's decoder, the
//! Postgres mirror's writer and the stores.
//!
//! An image is a JSON object of attribute names to attribute values; each value is a
//! one-member object whose name is its type tag ([`Tag`]): `{"S": "text"}`, `{"N": "1.50"}`
//! (the number as decimal text), `{"B": "base64"}`, `{"BOOL": true}`, `{"NULL": true}`,
//! `{"M": {...}}`, `{"L": [...]}`, `{"SS": [...]}`, `{"NS": [...]}`, `{"BS": [...]}`
//! (Amazon DynamoDB Developer Guide, "Data type descriptors"). The rules every reader here
//! follows (docs/semantics.md, "Decoding"):
//!
//! - a name given twice in one object fails the image ([`Names`]): no reader takes the first
//!   or the last;
//! - number text is read by one function ([`split_number`]), the same for the decoder,
//!   [`Number`](crate::Number), timestamps and the mirror;
//! - a JSON error is worded in the input's terms ([`json_problem`]);
//! - the schema-version attribute ([`SCHEMA_VERSION_ATTR`] unless a model names another) is
//!   captured when it is an `S`, and is no version of the model otherwise.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::dynamodb_json::{decode_model, from_image, Binary};
//!
//! #[derive(serde::Deserialize, Debug, PartialEq)]
//! struct Item { name: String, qty: u32, tags: Vec<String>, price: Option<f64> }
//!
//! let json = r#"{"name":{"S":"pen"},"qty":{"N":"3"},"tags":{"SS":["a","b"]},"price":{"NULL":true}}"#;
//! let item: Item = from_image(json).unwrap();
//! assert_eq!(item, Item { name: "pen".into(), qty: 3, tags: vec!["a".into(), "b".into()], price: None });
//!
//! let err = from_image::<Item>(r#"{"name":{"S":"pen"},"qty":{"N":"3.5"},"tags":{"SS":[]}}"#).unwrap_err();
//! assert_eq!(err.field.as_deref(), Some("qty"));
//! assert!(err.message.contains("not an integer"), "{err}");
//!
//! let twice = from_image::<Item>(r#"{"name":{"S":"a"},"name":{"S":"b"},"qty":{"N":"1"},"tags":{"SS":[]}}"#);
//! assert!(twice.unwrap_err().message.contains("attribute \"name\" is given twice"));
//!
//! # #[derive(Debug, serde::Deserialize, dynastream::Model)]
//! # #[dynastream(pk = "NOTE#{id}", sk = "NOTE")]
//! # struct Note { id: String, text: String }
//! // A model's key attributes and schema-version attribute are not offered to it.
//! let (note, version) = decode_model::<Note>(
//!     r#"{"PK":{"S":"NOTE#1"},"SK":{"S":"NOTE"},"schema_version":{"N":"3"},"id":{"S":"1"},"text":{"S":"hi"}}"#,
//!     Binary::Tagged,
//! ).unwrap();
//! assert_eq!((note.text.as_str(), version), ("hi", None)); // a number is no version of this model
//! ```

pub use crate::decode::attr::{CowStr, Names, Tag};
pub use crate::decode::number::{split as split_number, Decimal};
pub use crate::decode::{from_image, json_problem, ImageError, SCHEMA_VERSION_ATTR};

use crate::model::Model;

/// Where a target that wants bytes finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// In `B` (and `BS`) values only: DynamoDB's own JSON, as streams and the AWS SDK write it.
    Tagged,
    /// Also in `S` values holding base64: a plain-JSON copy of an item, such as the Postgres
    /// store's `data` column, where a `B` became its base64 text.
    Base64Strings,
}

/// Decodes an item into model `M`: its key attributes ([`Model::PK_ATTR`],
/// [`Model::SK_ATTR`]) are left out and its schema-version attribute
/// ([`Model::SCHEMA_VERSION_ATTR`]) is captured, not offered to the model. Returns the value
/// and the stored version (`None` when absent or not an `S`).
///
/// # Errors
///
/// [`ImageError`] naming the attribute path and what is wrong: a value that does not fit its
/// field, bad base64, an unknown type tag or malformed number anywhere, a name given twice.
pub fn decode_model<M: Model>(
    image: &str,
    binary: Binary,
) -> Result<(M, Option<String>), ImageError> {
    crate::decode::decode_image_with::<M>(
        image,
        crate::decode::Hidden::of::<M>(),
        binary == Binary::Base64Strings,
    )
    .map(|(m, version)| (m, version.map(std::borrow::Cow::into_owned)))
}

/// The name under which [`Number`](crate::Number) serializes as a newtype around its exact
/// decimal text, so that a serializer writing DynamoDB JSON (the store's) writes it as an
/// `N` wherever it appears: a field, a list element, a map value. Every other serializer
/// sees a newtype around a string.
pub const NUMBER_NEWTYPE: &str = crate::number::NEWTYPE;
