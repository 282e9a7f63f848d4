//! Errors: of a whole event (an invocation error), of one record (reported to Lambda as that
//! record's failure), and of a router's set-up.

use crate::event::ChangeKind;

/// A boxed error from a handler.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub use crate::event::{EventError, ImageSide};

/// Why one record failed (or was skipped under a skip policy): the record's sequence number
/// and what went wrong. Displays as `record <sequence number>: <what>`; its source is the
/// handler's or hook's own error, when there is one.
#[derive(Debug)]
#[non_exhaustive]
pub struct RecordError {
    /// The record's sequence number: its `itemIdentifier` in the batch response.
    pub sequence_number: String,
    /// What went wrong.
    pub kind: RecordErrorKind,
}

impl RecordError {
    /// The error `kind` of the record with `sequence_number`.
    pub fn new(sequence_number: impl Into<String>, kind: RecordErrorKind) -> Self {
        RecordError {
            sequence_number: sequence_number.into(),
            kind,
        }
    }

    /// The sequence number of the record.
    pub fn sequence_number(&self) -> &str {
        &self.sequence_number
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}: {}", self.sequence_number, self.kind)
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// What went wrong with a record (the record itself is named by [`RecordError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The record's envelope could not be read.
    #[error("unreadable record: {message}")]
    Envelope {
        /// What is wrong.
        message: String,
    },
    /// No registered model matches the record's keys.
    #[error("no registered model matches keys {keys}")]
    Unmatched {
        /// The record's keys, as text.
        keys: String,
    },
    /// An image does not fit the model its keys matched.
    #[error("{side} does not fit model {model}: {}{message}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Decode {
        /// The model's entity name.
        model: &'static str,
        /// Which image.
        side: ImageSide,
        /// The attribute path, when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The handler returned an error.
    #[error("{model} {kind} handler failed: {source}")]
    Handler {
        /// The model's entity name (or `fallback`).
        model: &'static str,
        /// The change kind.
        kind: ChangeKind,
        /// The handler's error.
        source: BoxError,
    },
    /// The handler (or the model's Deserialize) panicked.
    #[error("{model} {kind} handler panicked: {message}")]
    Panic {
        /// The model's entity name (or `fallback`).
        model: &'static str,
        /// The change kind.
        kind: ChangeKind,
        /// The panic payload, when it is a string.
        message: String,
    },
    /// A batch hook (the Postgres mirror, say) refused the record, or failed the whole batch.
    #[error("{hook}: {source}")]
    Hook {
        /// The hook's name ([`BatchHook::name`](crate::hook::BatchHook::name)).
        hook: &'static str,
        /// Why.
        source: BoxError,
    },
}

/// The router's models or handlers are inconsistent; found once, at start-up.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two models can match the same (PK, SK): routing would depend on registration order.
    #[error("{0}")]
    Overlap(Box<Overlap>),
    /// Two models share an entity name.
    #[error("two models are named {0}; entity names must be unique")]
    DuplicateEntity(String),
    /// Two handlers for the same model and change kind.
    #[error("model {model} has two handlers for {kind}")]
    DuplicateHandler {
        /// The model.
        model: &'static str,
        /// The change kind.
        kind: ChangeKind,
    },
    /// A concurrency bound of zero.
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
    /// The models use different key attribute names (`PK/SK, pk/sk`), where one table's are
    /// needed (the mirror, `create-table`); name them explicitly.
    #[error("the models use different key attributes ({0}); name the table's explicitly")]
    MixedKeyAttributes(String),
    /// A batch hook refused the set-up (a mirror whose views would share a name) or could not
    /// start.
    #[error("{hook}: {source}")]
    Hook {
        /// The hook's name.
        hook: &'static str,
        /// The hook's own error.
        #[source]
        source: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The EMF metrics recorder ([`RouterBuilder::metrics`](crate::RouterBuilder::metrics))
    /// could not be installed.
    #[error("metrics: {0}")]
    Metrics(#[source] std::sync::Arc<crate::metrics::MetricsError>),
}

/// Two models that can match the same key, with an example key both match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("models {first} and {second} overlap: both can match {pk_attr}={pk:?}, {sk_attr}={sk:?}; make their key patterns disjoint")]
#[non_exhaustive]
pub struct Overlap {
    /// One model.
    pub first: String,
    /// The other.
    pub second: String,
    /// The partition key attribute.
    pub pk_attr: String,
    /// The sort key attribute.
    pub sk_attr: String,
    /// An example partition key both match.
    pub pk: String,
    /// An example sort key both match.
    pub sk: String,
}
