//! DynamoDB for dynastream, through the AWS SDK: the store backend ([`DynamoStore`]), which
//! also reads tables whole (`TableScan`: DescribeTable, parallel Scan, consistent GetItem);
//! with feature `streams`, the stream source the local runner polls (`AwsStream`); with feature
//! `kinesis`, Kinesis Data Streams for DynamoDB as that source (`KinesisStream`); with feature
//! `s3-export`, a DynamoDB export to S3 fetched into a folder (`fetch_export`); with feature
//! `redrive`, the on-failure destinations redrive reads (an SQS queue, S3 objects).
//!
//! Apps usually reach this crate through `dynastream` with the `dynamodb` feature. Both clients
//! take the SDK's standard configuration (environment, profiles, region, `AWS_ENDPOINT_URL`).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "kinesis")]
mod kinesis;
#[cfg(feature = "streams")]
mod record;
#[cfg(feature = "redrive")]
pub mod redrive;
#[cfg(feature = "s3-export")]
mod s3_export;
mod scan;
mod store;
#[cfg(feature = "streams")]
mod stream;
mod value;

#[cfg(feature = "kinesis")]
pub use kinesis::KinesisStream;
#[cfg(feature = "s3-export")]
pub use s3_export::{fetch_export, s3_client, S3ExportUrl};
pub use store::{index_attrs, sdk_config, BatchRetry, DynamoStore};
#[cfg(feature = "streams")]
pub use stream::AwsStream;
