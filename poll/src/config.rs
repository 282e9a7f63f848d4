//! How the poller reads and retries, and why it stops.

use std::path::PathBuf;
use std::time::Duration;

use dynastream_core::BoxError;

use super::{Position, RetryPolicy, SourceError};

/// Why the poller stopped with an error. Each variant names what failed; where a library or the
/// operating system gave an error, it is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The table or its stream cannot be used.
    #[error("stream of table {table}: {message}")]
    Stream {
        /// The table.
        table: String,
        /// Why.
        message: String,
        /// The service's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Reading the stream failed in a way retrying cannot fix.
    #[error("reading the stream: {0}")]
    Source(#[from] SourceError),
    /// A record the stream returned cannot be turned into Lambda's JSON.
    #[error("record {}: {message}", sequence_number.as_deref().unwrap_or("(no sequence number)"))]
    Record {
        /// The record's sequence number, when it has one.
        sequence_number: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Checkpoints cannot be read or written (the poller stops rather than lose its place).
    #[error("checkpoints in {target}: {message}")]
    Checkpoint {
        /// The file or table.
        target: String,
        /// What failed.
        message: String,
        /// The file system's or database's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Records given up on cannot be written to the on-failure file (the poller stops rather
    /// than drop them; they are not checkpointed and are read again on restart).
    #[error("on-failure file {path}: cannot be written")]
    OnFailure {
        /// The file.
        path: PathBuf,
        /// The file system's error.
        #[source]
        source: std::io::Error,
    },
}

/// How the poller reads and retries. The defaults are those of `infra/template.yaml`'s event
/// source mapping.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Most records per invocation (1 to 10,000; `GetRecords` returns at most 1,000 a call).
    /// Default 100.
    pub batch_size: usize,
    /// Longest wait to fill a batch. Default 1 s.
    pub batching_window: Duration,
    /// Where a shard without a checkpoint starts. Default [`Position::TrimHorizon`].
    pub starting_position: Position,
    /// Retries, bisection and backoff for failing batches.
    pub retry: RetryPolicy,
    /// Where records given up on are appended (JSON Lines, one object per group of records:
    /// the reason, the shard, the sequence numbers, and the records as `Records`, so each line
    /// is itself an event `handler replay` can deliver again). `None` drops them with an error
    /// log, as Lambda does without an on-failure destination.
    pub on_failure: Option<PathBuf>,
    /// Wait between reads of a caught-up stream. Default 500 ms.
    pub poll_interval: Duration,
    /// How often the shard list is read again to find new shards. Default 10 s.
    pub shard_refresh: Duration,
    /// Return once every shard is caught up (a round read no records) instead of waiting for
    /// more. Default off.
    pub stop_when_idle: bool,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            batch_size: 100,
            batching_window: Duration::from_secs(1),
            starting_position: Position::TrimHorizon,
            retry: RetryPolicy::default(),
            on_failure: None,
            poll_interval: Duration::from_millis(500),
            shard_refresh: Duration::from_secs(10),
            stop_when_idle: false,
        }
    }
}
