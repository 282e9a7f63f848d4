#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub use dynastream_core::*;

/// Postgres: the mirror ([`Mirror`](postgres::Mirror), a batch hook), the Postgres store
/// ([`PgStore`](postgres::PgStore)) and the poller's checkpoints. Feature `postgres`.
#[cfg(feature = "postgres")]
pub mod postgres {
    pub use dynastream_postgres::*;
}

/// DynamoDB through the AWS SDK: the store ([`DynamoStore`](dynamodb::DynamoStore)), feature
/// `dynamodb`, and the stream source `AwsStream`, feature `poll`.
#[cfg(feature = "dynamodb")]
pub mod dynamodb {
    pub use dynastream_dynamodb::*;
}

#[cfg(feature = "app")]
pub mod app;

/// The pages under `docs/`, compiled and run as doc tests like the README.
#[cfg(doctest)]
mod docs {
    #[doc = include_str!("../docs/semantics.md")]
    struct Semantics;
    #[doc = include_str!("../docs/mirror.md")]
    struct Mirror;
    #[doc = include_str!("../docs/store.md")]
    struct Store;
    #[doc = include_str!("../docs/poll.md")]
    struct Poll;
    #[doc = include_str!("../docs/deploy.md")]
    struct Deploy;
    #[doc = include_str!("../docs/performance.md")]
    struct Performance;
}
