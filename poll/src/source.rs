//! Reading a stream: the three calls the poller makes, behind a trait so that shard splits,
//! expired iterators and trimmed data can be tested without AWS. `dynastream-dynamodb`
//! implements it on `aws-sdk-dynamodbstreams`.

use std::future::Future;

use crate::record::StreamRecord;

/// A shard as `DescribeStream` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard's ID.
    pub id: String,
    /// The shard it was split from, if any: its records come first.
    pub parent: Option<String>,
}

/// Where to start reading a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// The oldest record still in the stream (24 hours on AWS).
    TrimHorizon,
    /// Only records written from now on.
    Latest,
    /// Right after this sequence number (a checkpoint).
    After(String),
    /// At this sequence number, the record included (`AT_SEQUENCE_NUMBER`: a redrive's
    /// start).
    At(String),
}

/// One `GetRecords` answer.
#[derive(Debug)]
pub struct Page {
    /// The records, in order.
    pub records: Vec<StreamRecord>,
    /// Where to read next; `None` when the shard is closed and fully read.
    pub next: Option<String>,
}

/// Why a read failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The shard iterator is older than 15 minutes: get a new one.
    #[error("the shard iterator expired")]
    ExpiredIterator,
    /// The position asked for is older than the stream keeps.
    #[error("the records asked for were trimmed from the stream")]
    Trimmed,
    /// The stream or shard does not exist (the table was deleted or its stream disabled).
    #[error("{operation}: not found: {message}")]
    NotFound {
        /// The call.
        operation: &'static str,
        /// What the service said.
        message: String,
        /// The service's error, when there is one.
        #[source]
        source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// Anything else (after the SDK's own retries).
    #[error("{operation}: {message}")]
    Other {
        /// The call.
        operation: &'static str,
        /// What the service said.
        message: String,
        /// The service's error, when there is one.
        #[source]
        source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
    },
}

/// The calls a poller makes on a stream.
pub trait StreamSource: Send + Sync {
    /// The stream's ARN (every event carries it as `eventSourceARN`).
    fn stream_arn(&self) -> &str;
    /// Every shard the stream lists now.
    fn shards(&self) -> impl Future<Output = Result<Vec<ShardInfo>, SourceError>> + Send;
    /// An iterator for reading `shard` from `at`.
    fn iterator(
        &self,
        shard: &str,
        at: &Position,
    ) -> impl Future<Output = Result<String, SourceError>> + Send;
    /// Up to `limit` records from `iterator`.
    fn read(
        &self,
        iterator: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Page, SourceError>> + Send;
}

/// Orders shards so every parent comes before its children (a parent no longer listed, i.e.
/// trimmed, does not hold its children back). Keeps the listed order otherwise.
pub(crate) fn parents_first(shards: &[ShardInfo]) -> Vec<ShardInfo> {
    let mut out: Vec<ShardInfo> = Vec::with_capacity(shards.len());
    let mut placed = std::collections::HashSet::new();
    let listed: std::collections::HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    // Each pass places the shards whose parent is placed or absent; a cycle (never from AWS)
    // is broken by placing the rest in listed order.
    let mut rest: Vec<&ShardInfo> = shards.iter().collect();
    while !rest.is_empty() {
        let before = rest.len();
        rest.retain(|s| {
            let ready = s
                .parent
                .as_deref()
                .is_none_or(|p| placed.contains(p) || !listed.contains(p));
            if ready {
                placed.insert(s.id.clone());
                out.push((*s).clone());
            }
            !ready
        });
        if rest.len() == before {
            out.extend(rest.drain(..).cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parent: parent.map(Into::into),
        }
    }

    #[test]
    fn parents_come_before_children_whatever_the_listing_order() {
        let listed = [
            shard("c2", Some("b")),
            shard("c1", Some("b")),
            shard("b", Some("a")),
            shard("x", Some("trimmed")),
            shard("a", None),
        ];
        let ids: Vec<String> = parents_first(&listed).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["x", "a", "b", "c2", "c1"]);
    }
}
