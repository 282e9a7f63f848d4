//! DynamoDB for dynastream, through the AWS SDK: the store backend ([`DynamoStore`]) and, with
//! feature `streams`, the stream source the local runner polls (`AwsStream`).
//!
//! Apps usually reach this crate through `dynastream` with the `dynamodb` feature. Both clients
//! take the SDK's standard configuration (environment, profiles, region, `AWS_ENDPOINT_URL`).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "streams")]
mod record;
mod scan;
mod store;
#[cfg(feature = "streams")]
mod stream;
mod value;

pub use store::{index_attrs, sdk_config, BatchRetry, DynamoStore};
#[cfg(feature = "streams")]
pub use stream::AwsStream;
