//! Postgres for dynastream: the mirror (every stream record written into a table that converges
//! to the DynamoDB table, plus a typed view per model), the Postgres store backend on the same
//! table layout, and the local stream runner's checkpoints.
//!
//! Apps usually reach this crate through `dynastream` with the `postgres` feature.
//!
//! - [`Mirror`]: a [`BatchHook`](dynastream_core::BatchHook) that writes each batch before
//!   its handlers run.
//! - [`PgStore`]: the [`Store`](dynastream_store::Store) API on Postgres.
//! - [`PgCheckpoints`]: where `poll` remembers its place.
//! - [`MirrorConfig`]: where all three connect (one connection module, [`conn`](MirrorConfig)).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "poll")]
mod checkpoint;
mod conn;
mod error;
#[cfg(any(test, feature = "fuzz"))]
mod fuzz;
mod json;
pub mod mirror;
mod sql;
mod store;

#[cfg(feature = "poll")]
pub use checkpoint::PgCheckpoints;
pub use conn::MirrorConfig;
pub use error::{describe, MirrorError};
pub use mirror::{
    view_name, BackfillOptions, BackfillProgress, BackfillSummary, Drift, DriftKind, EntityCounts,
    Mirror, RefusedItem, VerifyOptions, VerifyProgress, VerifyReport,
};
pub use store::PgStore;

/// The property the mirror's fuzz target checks (feature `fuzz`, for the fuzz crate only). Not
/// a public API.
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::fuzz::mirror_json;
}
