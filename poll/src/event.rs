//! What the poller reports while it runs: counts per shard and overall, and one event per
//! step (read, invoked, retried, given up, ...), logged and handed to the app's observer.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Position, SourceError, StreamRecord};
use dynastream_core::report::BatchReport;

/// Counts for one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Records acknowledged after their handlers ran (ok or skipped).
    pub records: u64,
    /// Records given up on (written to the on-failure file).
    pub given_up: u64,
    /// Invocations of the router.
    pub invocations: u64,
    /// Invocations that reported a failure (each one is followed by a retry, a split or a
    /// give-up).
    pub failed_invocations: u64,
    /// The last sequence number acknowledged.
    pub last_sequence_number: Option<String>,
    /// How old the last acknowledged record was when it was acknowledged (Lambda's
    /// `IteratorAge`); zero once a read finds the shard caught up.
    pub lag: Option<Duration>,
    /// Closed and fully acknowledged.
    pub finished: bool,
    /// Records read from the stream (the event source mapping's `PolledEventCount`).
    pub polled: u64,
    /// Records in invocations that failed (`FailedInvokeEventCount`).
    pub failed_invoke_events: u64,
    /// Records given up on with no on-failure file (`DroppedEventCount`).
    pub dropped: u64,
    /// Records given up on and written to the on-failure file
    /// (`OnFailureDestinationDeliveredEventCount`).
    pub on_failure_delivered: u64,
    /// Records given up on unprocessed because they were older than
    /// [`PollConfig::max_record_age`](crate::PollConfig::max_record_age) (counted in
    /// `given_up` too).
    pub expired: u64,
}

/// Counts for the whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollStats {
    /// Records acknowledged after their handlers ran.
    pub records: u64,
    /// Records given up on.
    pub given_up: u64,
    /// Invocations of the router.
    pub invocations: u64,
    /// Invocations that reported a failure.
    pub failed_invocations: u64,
    /// Records read (`PolledEventCount`).
    pub polled: u64,
    /// Records in failed invocations (`FailedInvokeEventCount`).
    pub failed_invoke_events: u64,
    /// Records given up on and dropped (`DroppedEventCount`).
    pub dropped: u64,
    /// Records given up on and written to the on-failure file
    /// (`OnFailureDestinationDeliveredEventCount`).
    pub on_failure_delivered: u64,
    /// Records given up on for their age.
    pub expired: u64,
    /// Per shard, by shard ID.
    pub shards: BTreeMap<String, ShardStats>,
}

/// What the poller is doing, for progress output ([`Poller::on_event`](super::Poller::on_event)).
#[derive(Debug)]
pub enum PollEvent<'a> {
    /// A shard starts being read.
    ShardStarted {
        /// The shard.
        shard_id: &'a str,
        /// From where.
        position: &'a Position,
    },
    /// The router ran over a batch.
    Invoked {
        /// The shard.
        shard_id: &'a str,
        /// The records delivered.
        records: &'a [StreamRecord],
        /// Every record's outcome.
        report: &'a BatchReport,
        /// 1 for the first invocation of these records, 2 for the first retry, …
        attempt: u32,
    },
    /// The event could not be read at all (an invocation error: the whole batch failed).
    InvocationError {
        /// The shard.
        shard_id: &'a str,
        /// Why.
        error: &'a str,
    },
    /// The failed records were split in two, to be delivered separately.
    Bisected {
        /// The shard.
        shard_id: &'a str,
        /// Records in the first half.
        left: usize,
        /// Records in the second half.
        right: usize,
    },
    /// The failed records are delivered again after `delay`.
    Retrying {
        /// The shard.
        shard_id: &'a str,
        /// How many records.
        records: usize,
        /// Retry number (1 = first retry).
        retry: u32,
        /// The wait before it.
        delay: Duration,
        /// Why the last attempt failed.
        reason: &'a str,
    },
    /// Records were given up on.
    GaveUp {
        /// The shard.
        shard_id: &'a str,
        /// The records.
        records: &'a [StreamRecord],
        /// Why the last attempt failed.
        reason: &'a str,
        /// The on-failure file they were written to (`None`: dropped).
        written_to: Option<&'a std::path::Path>,
    },
    /// A closed shard was fully acknowledged; its children can start.
    ShardFinished {
        /// The shard.
        shard_id: &'a str,
    },
    /// Reading failed; it is tried again.
    ReadError {
        /// The shard, or `None` for the shard list.
        shard_id: Option<&'a str>,
        /// Why.
        error: &'a SourceError,
    },
    /// The checkpointed position was trimmed from the stream (older than 24 hours): reading
    /// restarts at the oldest record, and records in between were never delivered.
    CheckpointTrimmed {
        /// The shard.
        shard_id: &'a str,
        /// The checkpoint.
        after: &'a str,
    },
    /// A round of reads delivered records.
    Progress {
        /// The totals so far.
        stats: &'a PollStats,
    },
    /// Every shard is caught up (emitted once each time it becomes so).
    Idle {
        /// The totals so far.
        stats: &'a PollStats,
    },
}

/// The default observer: one log line per event.
pub(super) fn log_event(event: &PollEvent<'_>) {
    match event {
        PollEvent::ShardStarted { shard_id, position } => {
            tracing::info!(shard_id, ?position, "reading shard")
        }
        PollEvent::Invoked {
            shard_id,
            records,
            report,
            attempt,
        } => tracing::debug!(
            shard_id,
            records = records.len(),
            failed = report.has_failures(),
            attempt,
            "batch delivered"
        ),
        PollEvent::InvocationError { shard_id, error } => {
            tracing::error!(shard_id, error, "invocation error")
        }
        PollEvent::Bisected {
            shard_id,
            left,
            right,
        } => tracing::warn!(shard_id, left, right, "failed batch split in two"),
        PollEvent::Retrying {
            shard_id,
            records,
            retry,
            delay,
            reason,
        } => tracing::warn!(shard_id, records, retry, ?delay, reason, "retrying"),
        PollEvent::GaveUp {
            shard_id,
            records,
            reason,
            written_to,
        } => tracing::error!(
            shard_id,
            records = records.len(),
            reason,
            written_to = ?written_to,
            "records given up on"
        ),
        PollEvent::ShardFinished { shard_id } => tracing::info!(shard_id, "shard finished"),
        PollEvent::ReadError { shard_id, error } => {
            tracing::warn!(shard_id = ?shard_id, %error, "read failed; retrying")
        }
        PollEvent::CheckpointTrimmed { shard_id, after } => tracing::error!(
            shard_id,
            after,
            "checkpoint trimmed from the stream; restarting at the oldest record (the records in between were never delivered: a mirror may have drifted; verify it)"
        ),
        PollEvent::Progress { stats } => tracing::info!(
            records = stats.records,
            given_up = stats.given_up,
            "progress"
        ),
        PollEvent::Idle { stats } => tracing::info!(
            records = stats.records,
            given_up = stats.given_up,
            "caught up"
        ),
    }
}
