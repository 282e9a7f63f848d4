#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

// What an app writes, at the root: models and keys, the router and its policies, changes,
// the batch report, errors. Everything else sits in a module named for its concept.
pub use dynastream_core::{
    key_field_from_str, Action, BatchReport, BatchResponse, BoxError, BoxFuture, Change,
    ChangeKind, Concurrency, Context, EventError, Model, ModelKey, Number, Op, Outcome, Policies,
    RecordError, RecordErrorKind, RecordMeta, RegistryError, Router, RouterBuilder, Unmatched,
};

pub use dynastream_core::{
    dynamodb_json, event, handler, hook, key, lambda, metrics, model, registry,
};

/// Errors of a whole event, of one record and of a router's set-up ([`EventError`],
/// [`RecordError`], [`RegistryError`]), and which image of a record ([`ImageSide`](error::ImageSide)).
pub mod error {
    pub use dynastream_core::error::*;
}

/// The store API: the same models saved, read and queried by their typed keys in DynamoDB
/// ([`dynamodb::DynamoStore`](crate::dynamodb)) or Postgres
/// ([`postgres::PgStore`](crate::postgres)). Feature `store` (implied by `dynamodb` and
/// `postgres`).
#[cfg(feature = "store")]
pub mod store {
    pub use dynastream_store::*;
}

/// The local stream runner: polls a table's stream with Lambda's delivery rules. Feature
/// `poll`.
#[cfg(feature = "poll")]
pub mod poll {
    pub use dynastream_poll::*;
}

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
    #[doc = include_str!("../docs/operate.md")]
    struct Operate;
    #[doc = include_str!("../docs/performance.md")]
    struct Performance;
}
