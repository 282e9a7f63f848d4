//! dynastream: typed DynamoDB Streams processing for AWS Lambda.

extern crate self as dynastream;

pub mod decode;
pub mod error;
pub mod event;
pub mod key;
pub mod model;
pub mod registry;

pub use dynastream_derive::Model;
pub use error::{BoxError, EventError, ImageSide, RecordError, RegistryError};
pub use event::{ChangeKind, RecordMeta, StreamViewType, Timestamp};
pub use model::{Model, ModelKey};
pub use registry::Registry;
