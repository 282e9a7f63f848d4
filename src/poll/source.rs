//! Reading a stream: the three calls the poller makes, behind a trait so that shard splits,
//! expired iterators and trimmed data can be tested without AWS, and their implementation on
//! `aws-sdk-dynamodbstreams`.

use std::future::Future;

use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;

use crate::poll::record::StreamRecord;
use crate::poll::PollError;

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    },
    /// Anything else (after the SDK's own retries).
    #[error("{operation}: {message}")]
    Other {
        /// The call.
        operation: &'static str,
        /// What the service said.
        message: String,
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

/// A DynamoDB stream read with `aws-sdk-dynamodbstreams`.
#[derive(Debug, Clone)]
pub struct AwsStream {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    table: String,
}

impl AwsStream {
    /// The stream of `table`, with the standard AWS configuration (environment, profile,
    /// region) and, for a local server, `endpoint`. Fails if the table does not exist or has
    /// no stream.
    pub async fn connect(table: &str, endpoint: Option<&str>) -> Result<Self, PollError> {
        let config = crate::store::dynamo::sdk_config(endpoint).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| PollError::Stream {
                table: table.to_string(),
                message: match e.code() {
                    Some("ResourceNotFoundException") => "no such table".to_string(),
                    _ => error_text(&e),
                },
            })?;
        let arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .filter(|_| {
                described
                    .table()
                    .and_then(|t| t.stream_specification())
                    .is_some_and(|s| s.stream_enabled())
            })
            .ok_or_else(|| PollError::Stream {
                table: table.to_string(),
                message: "the table has no stream enabled (StreamSpecification \
                          with StreamViewType NEW_AND_OLD_IMAGES, as `handler create-table` makes)"
                    .into(),
            })?;
        Ok(AwsStream {
            client: aws_sdk_dynamodbstreams::Client::new(&config),
            stream_arn: arn.to_string(),
            table: table.to_string(),
        })
    }

    /// A stream by ARN with a client you configured.
    pub fn new(client: aws_sdk_dynamodbstreams::Client, stream_arn: impl Into<String>) -> Self {
        let stream_arn = stream_arn.into();
        let table = stream_arn
            .split(":table/")
            .nth(1)
            .and_then(|t| t.split('/').next())
            .unwrap_or_default()
            .to_string();
        AwsStream {
            client,
            stream_arn,
            table,
        }
    }

    /// The table the stream belongs to.
    pub fn table(&self) -> &str {
        &self.table
    }
}

fn error_text<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => {
            // The SDK's Display says only "dispatch failure" and the like; the source says why.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    e: SdkError<E, R>,
) -> SourceError {
    match e.code() {
        Some("ExpiredIteratorException") => SourceError::ExpiredIterator,
        Some("TrimmedDataAccessException") => SourceError::Trimmed,
        Some("ResourceNotFoundException") => SourceError::NotFound {
            operation,
            message: e.message().unwrap_or_default().to_string(),
        },
        _ => SourceError::Other {
            operation,
            message: error_text(&e),
        },
    }
}

impl StreamSource for AwsStream {
    fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, SourceError> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| classify("DescribeStream", e))?;
            let Some(d) = out.stream_description() else {
                break;
            };
            for s in d.shards() {
                if let Some(id) = s.shard_id() {
                    shards.push(ShardInfo {
                        id: id.to_string(),
                        parent: s.parent_shard_id().map(str::to_string),
                    });
                }
            }
            match d.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_string()),
                None => break,
            }
        }
        Ok(shards)
    }

    async fn iterator(&self, shard: &str, at: &Position) -> Result<String, SourceError> {
        let req = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        let req = match at {
            Position::TrimHorizon => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Position::Latest => req.shard_iterator_type(ShardIteratorType::Latest),
            Position::After(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
        };
        let out = req
            .send()
            .await
            .map_err(|e| classify("GetShardIterator", e))?;
        out.shard_iterator()
            .map(str::to_string)
            .ok_or_else(|| SourceError::Other {
                operation: "GetShardIterator",
                message: format!("no iterator returned for shard {shard}"),
            })
    }

    async fn read(&self, iterator: &str, limit: usize) -> Result<Page, SourceError> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(|e| classify("GetRecords", e))?;
        let records = out
            .records()
            .iter()
            .map(|r| StreamRecord::from_sdk(r, &self.stream_arn))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SourceError::Other {
                operation: "GetRecords",
                message: e.to_string(),
            })?;
        Ok(Page {
            records,
            next: out.next_shard_iterator().map(str::to_string),
        })
    }
}

/// Orders shards so every parent comes before its children (a parent no longer listed, i.e.
/// trimmed, does not hold its children back). Keeps the listed order otherwise.
pub fn parents_first(shards: &[ShardInfo]) -> Vec<ShardInfo> {
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

    #[test]
    fn the_table_name_is_read_from_the_stream_arn() {
        let conf = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .build();
        let s = AwsStream::new(
            aws_sdk_dynamodbstreams::Client::from_conf(conf),
            "arn:aws:dynamodb:us-east-1:123456789012:table/app/stream/2026-01-01T00:00:00.000",
        );
        assert_eq!(s.table(), "app");
    }
}
