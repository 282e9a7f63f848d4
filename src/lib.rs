//! dynastream: typed DynamoDB Streams processing for AWS Lambda.

extern crate self as dynastream;

pub mod key;
pub mod model;

pub use dynastream_derive::Model;
pub use model::{Model, ModelKey};
pub mod decode;
