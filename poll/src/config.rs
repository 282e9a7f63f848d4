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
    /// The table or its stream cannot be used (or the Kinesis stream its changes go to).
    #[error("{}: {message}", if table.starts_with("Kinesis stream ") { table.clone() } else { format!("stream of table {table}") })]
    Stream {
        /// The table (`Kinesis stream NAME` for a Kinesis data stream).
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
#[non_exhaustive]
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
    /// is itself an event the app's `replay` command can deliver again). `None` drops them with an error
    /// log, as Lambda does without an on-failure destination.
    pub on_failure: Option<PathBuf>,
    /// Wait between reads of a caught-up stream. Default 500 ms.
    pub poll_interval: Duration,
    /// How often the shard list is read again to find new shards. Default 10 s.
    pub shard_refresh: Duration,
    /// Return once every shard is caught up (a round read no records) instead of waiting for
    /// more. Default off.
    pub stop_when_idle: bool,
    /// Records older than this (`ApproximateCreationDateTime`) when they would be invoked are
    /// given up on, unprocessed, with the condition `RecordAgeExceeded`
    /// (`MaximumRecordAgeInSeconds`; `None`, Lambda's `-1`: never). Default `None`.
    pub max_record_age: Option<Duration>,
    /// Batches of one shard invoked at once (`ParallelizationFactor`, 1 to 10): a shard's
    /// records go to one of this many batches by their item's keys, so each item's records
    /// stay in order, and the shard's checkpoint moves only past records every batch is
    /// through with. Default 1.
    pub parallelization_factor: usize,
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
            max_record_age: None,
            parallelization_factor: 1,
        }
    }
}

impl PollConfig {
    /// This configuration with [`batch_size`](PollConfig::batch_size) set: records per invocation (1 to 10,000).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// This configuration with [`batching_window`](PollConfig::batching_window) set: the longest wait to fill a batch.
    pub fn batching_window(mut self, batching_window: Duration) -> Self {
        self.batching_window = batching_window;
        self
    }

    /// This configuration with [`starting_position`](PollConfig::starting_position) set: where a shard without a checkpoint starts.
    pub fn starting_position(mut self, starting_position: Position) -> Self {
        self.starting_position = starting_position;
        self
    }

    /// This configuration with [`retry`](PollConfig::retry) set: retries, bisection and backoff.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// This configuration with [`on_failure`](PollConfig::on_failure) set: the on-failure file (`None`: records given up on are dropped with an error log).
    pub fn on_failure(mut self, on_failure: Option<PathBuf>) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// This configuration with [`poll_interval`](PollConfig::poll_interval) set: the wait between reads of a caught-up stream.
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// This configuration with [`shard_refresh`](PollConfig::shard_refresh) set: how often the shard list is read again.
    pub fn shard_refresh(mut self, shard_refresh: Duration) -> Self {
        self.shard_refresh = shard_refresh;
        self
    }

    /// This configuration with [`stop_when_idle`](PollConfig::stop_when_idle) set: stop once every shard is caught up.
    pub fn stop_when_idle(mut self, stop_when_idle: bool) -> Self {
        self.stop_when_idle = stop_when_idle;
        self
    }

    /// This configuration with [`max_record_age`](PollConfig::max_record_age) set: older records are given up on unprocessed (`None`: never).
    pub fn max_record_age(mut self, max_record_age: Option<Duration>) -> Self {
        self.max_record_age = max_record_age;
        self
    }

    /// This configuration with [`parallelization_factor`](PollConfig::parallelization_factor) set: batches of one shard at once (clamped to 1..=10).
    pub fn parallelization_factor(mut self, factor: usize) -> Self {
        self.parallelization_factor = factor.clamp(1, 10);
        self
    }
}
