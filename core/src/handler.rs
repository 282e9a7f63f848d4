//! Handlers: what the app registers per model (async closures or trait impls), and the fallback
//! for records no model matches.

use std::future::Future;

use serde_json::value::RawValue;

use crate::change::{Change, Context};
use crate::error::BoxError;
use crate::event::{ChangeKind, Keys, RecordMeta};
use crate::model::Model;

/// Handles changes of model `M`. Implemented for async closures and functions
/// `Fn(Change<M>, Context<S>) -> impl Future<Output = Result<(), E>>`; implement it yourself for
/// a handler with its own state:
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::{BoxError, Change, Context, Handler, Model};
/// # #[derive(Debug, serde::Deserialize, Model)]
/// # #[dynastream(pk = "T#{id}", sk = "T")]
/// # struct Task { id: String }
/// struct Counter(std::sync::atomic::AtomicUsize);
/// impl Handler<Task, ()> for Counter {
///     async fn handle(&self, _change: Change<Task>, _ctx: Context<()>) -> Result<(), BoxError> {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         Ok(())
///     }
/// }
/// ```
pub trait Handler<M: Model, S>: Send + Sync + 'static {
    /// Handles one change. An error fails the record (see [`crate::Policies`]).
    fn handle(
        &self,
        change: Change<M>,
        ctx: Context<S>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

impl<M, S, F, Fut, E> Handler<M, S> for F
where
    M: Model,
    S: Send + Sync + 'static,
    F: Fn(Change<M>, Context<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    fn handle(
        &self,
        change: Change<M>,
        ctx: Context<S>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let fut = self(change, ctx);
        async move { fut.await.map_err(Into::into) }
    }
}

/// A record no registered model matches, handed to the fallback handler.
#[derive(Debug, Clone)]
pub struct Unmatched {
    /// INSERT, MODIFY or REMOVE.
    pub kind: ChangeKind,
    /// The key attributes.
    pub keys: Keys<'static>,
    /// `NewImage` as DynamoDB JSON (decode with [`crate::decode::from_image`]).
    pub new_image: Option<Box<RawValue>>,
    /// `OldImage` as DynamoDB JSON.
    pub old_image: Option<Box<RawValue>>,
    /// The record's metadata.
    pub meta: RecordMeta,
}

/// Handles records no model matches. Implemented for async closures
/// `Fn(Unmatched, Context<S>) -> impl Future<Output = Result<(), E>>`.
pub trait Fallback<S>: Send + Sync + 'static {
    /// Handles one unmatched record. An error fails the record.
    fn handle(
        &self,
        record: Unmatched,
        ctx: Context<S>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

impl<S, F, Fut, E> Fallback<S> for F
where
    S: Send + Sync + 'static,
    F: Fn(Unmatched, Context<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    fn handle(
        &self,
        record: Unmatched,
        ctx: Context<S>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let fut = self(record, ctx);
        async move { fut.await.map_err(Into::into) }
    }
}
