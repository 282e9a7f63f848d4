//! The core of dynastream: key patterns, models, the registry, stream decoding, routing,
//! batch reports, batch hooks, the Lambda glue, the typed store API and the local stream
//! runner's delivery rules. No AWS SDK, Postgres driver or TLS stack: those live in
//! `dynastream-dynamodb` and `dynastream-postgres`.
//!
//! Apps depend on the `dynastream` crate, which re-exports this one and adds the backends by
//! feature; see its documentation for the guide.

#![warn(missing_docs)]

extern crate self as dynastream;

mod bytes;
pub mod change;
pub mod decode;
pub mod error;
pub mod event;
mod fuzz;
pub mod handler;
pub mod hook;
pub mod key;
pub mod lambda;
pub mod model;
pub mod number;
pub mod poll;
pub mod registry;
pub mod report;
pub mod router;
pub mod store;

/// Internals shared with the sibling crates (`dynastream-postgres` reads images with the
/// decoder's type tags and number splitting). Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    /// The properties the fuzz targets check.
    pub mod fuzz {
        pub use crate::fuzz::{envelope, image, pattern};
    }
    pub use crate::decode::attr::{CowStr, Names, Tag};
    pub use crate::decode::json_problem;
    pub use crate::decode::number::{split as split_number, Decimal};
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
