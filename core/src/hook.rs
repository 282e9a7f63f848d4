//! Batch hooks: work that runs once per batch, before any handler, and may refuse records.
//!
//! The Postgres mirror (`dynastream-postgres`) is one: it writes the batch's rows, refuses a
//! record it cannot hold, and fails the whole batch when the database cannot be reached. A
//! hook is registered with [`RouterBuilder::hook`](crate::RouterBuilder::hook); hooks run in
//! registration order.
//!
//! What the router does with a hook's answer (Lambda's stream rules; docs/semantics.md,
//! "Batch semantics" and "Batch hooks and the mirror"):
//! - `Ok(refusals)`: each refused record gets [`RecordErrorKind::Hook`](crate::RecordErrorKind::Hook)
//!   and the `undecodable` policy decides: [`Action::Fail`](crate::Action::Fail) fails it (and
//!   defers what follows, as any failure does), [`Action::Skip`](crate::Action::Skip)
//!   acknowledges it with an error log. Every other record goes on to its handler.
//! - `Err(e)`: nothing of the batch may be acknowledged; every record is reported failed with
//!   `e`, and Lambda delivers the batch again.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::hook::{Batch, BatchHook, Refusal};
//! use dynastream::BoxFuture;
//! use dynastream::{BoxError, Router};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! /// Counts records and refuses REMOVEs.
//! #[derive(Default)]
//! struct NoRemovals(AtomicUsize);
//!
//! impl BatchHook for NoRemovals {
//!     fn name(&self) -> &'static str {
//!         "no-removals"
//!     }
//!     fn before_handlers<'a>(&'a self, batch: Batch<'a>) -> BoxFuture<'a, Result<Vec<Refusal>, BoxError>> {
//!         Box::pin(async move {
//!             self.0.fetch_add(batch.len(), Ordering::Relaxed);
//!             Ok(batch
//!                 .records()
//!                 .filter(|r| r.record.kind == dynastream::ChangeKind::Remove)
//!                 .map(|r| Refusal::new(r.index, "removals are not allowed"))
//!                 .collect())
//!         })
//!     }
//! }
//!
//! let router = Router::builder(()).hook(NoRemovals::default()).build().unwrap();
//! # let _ = router;
//! ```

use std::sync::Arc;

use crate::error::BoxError;
use crate::event::{Entry, Record};
use crate::registry::Registry;

use crate::BoxFuture;

/// The batch as a hook sees it: every readable record with its position and matched model.
/// Records whose envelope could not be read are not shown (they fail under the `undecodable`
/// policy on their own).
#[derive(Clone, Copy)]
pub struct Batch<'a> {
    entries: &'a [Entry<'a>],
    entities: &'a [Option<&'static str>],
}

/// One record of a [`Batch`].
#[derive(Clone, Copy)]
pub struct BatchRecord<'a> {
    /// Its position in the batch (what a [`Refusal`] names).
    pub index: usize,
    /// The record: keys, images as DynamoDB JSON text, metadata.
    pub record: &'a Record<'a>,
    /// The entity name of the model its keys matched; `None` when no registered model matches.
    pub entity: Option<&'static str>,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(entries: &'a [Entry<'a>], entities: &'a [Option<&'static str>]) -> Self {
        Batch { entries, entities }
    }

    /// How many records the batch holds, readable or not.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The readable records, in batch order.
    pub fn records(&self) -> impl Iterator<Item = BatchRecord<'a>> + 'a {
        let entities = self.entities;
        self.entries
            .iter()
            .enumerate()
            .filter_map(move |(index, e)| match e {
                Entry::Record(record) => Some(BatchRecord {
                    index,
                    record,
                    entity: entities.get(index).copied().flatten(),
                }),
                Entry::Broken(_) => None,
            })
    }
}

/// A record a hook will not let through: it fails alone (or is skipped, by policy).
#[derive(Debug)]
pub struct Refusal {
    /// The record's position in the batch ([`BatchRecord::index`]).
    pub index: usize,
    /// Why: becomes the source of [`RecordErrorKind::Hook`](crate::RecordErrorKind::Hook).
    pub error: BoxError,
}

impl Refusal {
    /// Refuses the record at `index`.
    pub fn new(index: usize, error: impl Into<BoxError>) -> Self {
        Refusal {
            index,
            error: error.into(),
        }
    }
}

/// Work run once per batch before the handlers. See the [module docs](self) for what the
/// router does with the answer.
pub trait BatchHook: Send + Sync + 'static {
    /// A short name for logs and errors (`mirror`): a refused record reads
    /// `record <sequence number>: <name>: <why>`.
    fn name(&self) -> &'static str;

    /// Called once by [`RouterBuilder::build`](crate::RouterBuilder::build) with the
    /// registered models; an error fails the build with
    /// [`RegistryError::Hook`](crate::RegistryError::Hook).
    fn prepare(&self, registry: &Registry) -> Result<(), BoxError> {
        let _ = registry;
        Ok(())
    }

    /// Called by [`Router::start`](crate::Router::start) (an app's start-up) to fail fast:
    /// connect, create tables. The default does nothing.
    fn start(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs before the batch's handlers: the records it refuses, or `Err` when nothing of the
    /// batch may be acknowledged.
    fn before_handlers<'a>(
        &'a self,
        batch: Batch<'a>,
    ) -> BoxFuture<'a, Result<Vec<Refusal>, BoxError>>;
}

/// A shared hook: register an `Arc` and keep a clone to reach the hook later (a mirror's
/// write count, its connection).
impl<H: BatchHook + ?Sized> BatchHook for Arc<H> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn prepare(&self, registry: &Registry) -> Result<(), BoxError> {
        (**self).prepare(registry)
    }

    fn start(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        (**self).start()
    }

    fn before_handlers<'a>(
        &'a self,
        batch: Batch<'a>,
    ) -> BoxFuture<'a, Result<Vec<Refusal>, BoxError>> {
        (**self).before_handlers(batch)
    }
}
