//! The typed change a handler receives, and the context beside it.

use std::sync::Arc;

use crate::event::{ChangeKind, RecordMeta};
use crate::model::Model;

/// What happened to the item, with the images the stream carried decoded into the model.
/// An image the stream did not carry (REMOVE, `KEYS_ONLY`, `NEW_IMAGE` / `OLD_IMAGE` views) is
/// `None`, never an empty or default value.
#[derive(Debug, Clone, PartialEq)]
pub enum Op<M> {
    /// `INSERT`: the new item.
    Insert {
        /// The item after the change, if the stream carries new images.
        new: Option<M>,
    },
    /// `MODIFY`: the item before and after.
    Modify {
        /// The item before the change, if the stream carries old images.
        old: Option<M>,
        /// The item after the change, if the stream carries new images.
        new: Option<M>,
    },
    /// `REMOVE`: the deleted item.
    Remove {
        /// The item before the delete, if the stream carries old images.
        old: Option<M>,
    },
}

/// One stream record routed to a model: the typed key (always present, read from `Keys`), the
/// operation with its images, and the record's metadata.
///
/// Delivery is at least once: the same change can reach a handler again after a retry.
#[derive(Debug, Clone)]
pub struct Change<M: Model> {
    /// The item's typed key.
    pub key: M::Key,
    /// What happened.
    pub op: Op<M>,
    /// Sequence number, event id, creation time, size, view type, TTL flag.
    pub meta: RecordMeta,
    /// The `schema_version` stored on the item (new image if any, else old image); `None`
    /// when absent or not an `S`. Borrowed from `M::SCHEMA_VERSION` when it is that text (an
    /// item the current model wrote: no allocation per change), owned otherwise.
    pub stored_schema_version: Option<std::borrow::Cow<'static, str>>,
}

impl<M: Model> Change<M> {
    /// INSERT, MODIFY or REMOVE.
    pub fn kind(&self) -> ChangeKind {
        match self.op {
            Op::Insert { .. } => ChangeKind::Insert,
            Op::Modify { .. } => ChangeKind::Modify,
            Op::Remove { .. } => ChangeKind::Remove,
        }
    }

    /// The item after the change, when the record carries it.
    pub fn new_image(&self) -> Option<&M> {
        match &self.op {
            Op::Insert { new } | Op::Modify { new, .. } => new.as_ref(),
            Op::Remove { .. } => None,
        }
    }

    /// The item before the change, when the record carries it.
    pub fn old_image(&self) -> Option<&M> {
        match &self.op {
            Op::Modify { old, .. } | Op::Remove { old } => old.as_ref(),
            Op::Insert { .. } => None,
        }
    }

    /// True when the item was written with this model's current `schema_version`.
    pub fn is_current_schema(&self) -> bool {
        self.stored_schema_version.as_deref() == Some(M::SCHEMA_VERSION)
    }

    /// True for a REMOVE made by DynamoDB's TTL process.
    pub fn is_ttl_expiry(&self) -> bool {
        self.meta.ttl_expired
    }
}

/// What a handler gets beside the change: the app's shared state, the Lambda context and the
/// batch's origin. Cheap to clone.
pub struct Context<S> {
    inner: Arc<Inner<S>>,
}

struct Inner<S> {
    state: Arc<S>,
    lambda: lambda_runtime::Context,
    event_source_arn: Option<String>,
    aws_region: Option<String>,
}

impl<S> Clone for Context<S> {
    fn clone(&self) -> Self {
        Context {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> Context<S> {
    pub(crate) fn new(
        state: Arc<S>,
        lambda: lambda_runtime::Context,
        event_source_arn: Option<String>,
        aws_region: Option<String>,
    ) -> Self {
        Context {
            inner: Arc::new(Inner {
                state,
                lambda,
                event_source_arn,
                aws_region,
            }),
        }
    }

    /// The app's shared state, as given to [`crate::Router::builder`].
    pub fn state(&self) -> &S {
        &self.inner.state
    }

    /// The shared state as an `Arc`, to move into spawned work.
    pub fn state_arc(&self) -> Arc<S> {
        Arc::clone(&self.inner.state)
    }

    /// The Lambda invocation's context (a default one under `replay`).
    pub fn lambda(&self) -> &lambda_runtime::Context {
        &self.inner.lambda
    }

    /// The batch's `eventSourceARN` (the stream), when the event names it.
    pub fn event_source_arn(&self) -> Option<&str> {
        self.inner.event_source_arn.as_deref()
    }

    /// The batch's `awsRegion`, when the event names it.
    pub fn aws_region(&self) -> Option<&str> {
        self.inner.aws_region.as_deref()
    }
}
