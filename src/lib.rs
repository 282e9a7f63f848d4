#![doc = include_str!("../README.md")]

extern crate self as dynastream;

mod bytes;
pub mod change;
pub mod decode;
pub mod error;
pub mod event;
pub mod handler;
pub mod key;
pub mod lambda;
pub mod mirror;
pub mod model;
pub mod poll;
pub mod registry;
pub mod report;
pub mod router;
pub mod store;

pub use change::{Change, Context, Op};
pub use dynastream_derive::Model;
pub use error::{BoxError, EventError, ImageSide, RecordError, RegistryError};
pub use event::{ChangeKind, RecordMeta, SequenceNumber, SharedStr, StreamViewType, Timestamp};
pub use handler::{Fallback, Handler, Unmatched};
pub use model::{Model, ModelKey};
pub use registry::Registry;
pub use report::{BatchReport, BatchResponse, Outcome};
pub use router::{Action, Concurrency, Policies, Router, RouterBuilder};
