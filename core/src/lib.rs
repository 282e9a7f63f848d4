//! The core of dynastream: key patterns, models, the registry, stream decoding (and its public
//! face, [`dynamodb_json`]), routing, batch reports, batch hooks and the Lambda glue. No store,
//! poller, AWS SDK, Postgres driver or TLS stack: the store API is `dynastream-store`, the
//! local stream runner `dynastream-poll`, the backends `dynastream-dynamodb` and
//! `dynastream-postgres`.
//!
//! Apps depend on the `dynastream` crate, which re-exports this one and adds the backends by
//! feature; see its documentation for the guide.

#![warn(missing_docs)]

extern crate self as dynastream;

mod bytes;
pub mod change;
mod decode;
pub mod dynamodb_json;
pub mod error;
pub mod event;
pub mod filter;
#[cfg(feature = "fuzz")]
mod fuzz;
pub mod handler;
pub mod hook;
pub mod key;
pub mod lambda;
pub mod metrics;
pub mod model;
pub mod number;

pub mod registry;
pub mod report;
pub mod router;

/// A boxed future that is `Send`: what the object-safe traits return (a [`hook::BatchHook`], a
/// store backend, a checkpoint store). The one alias of the project.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The properties the fuzz targets check (feature `fuzz`, for the fuzz crate and the fuzz
/// smoke test only). Not a public API.
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::fuzz::{envelope, image, pattern};
}

pub use change::{Change, Context, Op};
pub use dynastream_derive::Model;
pub use error::{BoxError, EventError, ImageSide, RecordError, RecordErrorKind, RegistryError};
pub use event::{ChangeKind, RecordMeta, SequenceNumber, SharedStr, StreamViewType, Timestamp};
pub use handler::{Fallback, Handler, Unmatched};
pub use hook::BatchHook;
pub use model::{Model, ModelKey};
pub use number::Number;
pub use registry::Registry;
pub use report::{BatchReport, BatchResponse, Outcome};
pub use router::{Action, Concurrency, Policies, Router, RouterBuilder};
