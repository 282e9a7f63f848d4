#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub use dynastream_core::*;

/// Postgres: the mirror ([`Mirror`](postgres::Mirror), a batch hook), the Postgres store
/// ([`PgStore`](postgres::PgStore)) and the poller's checkpoints. Feature `postgres`.
#[cfg(feature = "postgres")]
pub mod postgres {
    pub use dynastream_postgres::*;
}

/// DynamoDB through the AWS SDK: the store ([`DynamoStore`](dynamodb::DynamoStore)) and the
/// stream source ([`AwsStream`](dynamodb::AwsStream)). Feature `dynamodb`.
#[cfg(feature = "dynamodb")]
pub mod dynamodb {
    pub use dynastream_dynamodb::*;
}

#[cfg(feature = "app")]
pub mod app;
