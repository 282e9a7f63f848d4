//! What can be wrong with an event as a whole, and which image of a record: the event's own
//! terms, re-exported by [`crate::error`] beside the record and set-up errors.

/// The event as a whole cannot be read. Only this becomes an invocation error: Lambda retries
/// the whole batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Not JSON, or not an object with a `Records` array.
    #[error("unreadable DynamoDB Streams event (expected a JSON object with a \"Records\" array): {message}")]
    Unreadable {
        /// serde_json's description.
        message: String,
    },
    /// A record whose sequence number cannot be read, so its failure could not be reported.
    #[error("record {index} of the event has no readable sequence number, so its failure cannot be reported to Lambda: {message}")]
    NoSequenceNumber {
        /// Position of the record in `Records`.
        index: usize,
        /// serde_json's description.
        message: String,
    },
    /// A readable event of another kind: a Kinesis Data Streams event (what Kinesis Data
    /// Streams for DynamoDB delivers), a single stream record instead of an event, records
    /// from another event source.
    #[error("not a DynamoDB Streams event: {found}")]
    OtherKind {
        /// What the event is, and what to do.
        found: String,
    },
}

/// Which image of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSide {
    /// `NewImage`.
    New,
    /// `OldImage`.
    Old,
}

impl std::fmt::Display for ImageSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ImageSide::New => "NewImage",
            ImageSide::Old => "OldImage",
        })
    }
}
