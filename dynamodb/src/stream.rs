//! The DynamoDB stream read with `aws-sdk-dynamodbstreams`: the [`StreamSource`] the poller
//! uses against DynamoDB or a local server.

use aws_sdk_dynamodbstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use dynastream_poll::{Page, PollError, Position, ShardInfo, SourceError, StreamSource};

use crate::record::from_sdk;

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
        let config = crate::store::sdk_config(endpoint).await;
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
                source: Some(e.into()),
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
                          with StreamViewType NEW_AND_OLD_IMAGES, as the app's `create-table` command makes)"
                    .into(),
                source: None,
            })?;
        Ok(AwsStream {
            client: aws_sdk_dynamodbstreams::Client::new(&config),
            stream_arn: arn.to_string(),
            table: table.to_string(),
        })
    }

    /// The stream `stream_arn` names (a failure record's `streamArn`), with the standard AWS
    /// configuration and, for a local server, `endpoint`. Nothing is checked until it is read.
    /// The client's region is the ARN's (`arn:aws:dynamodb:REGION:...`), else the
    /// configuration's.
    pub async fn from_arn(stream_arn: &str, endpoint: Option<&str>) -> Self {
        let config = crate::store::sdk_config(endpoint).await;
        let mut builder = aws_sdk_dynamodbstreams::config::Builder::from(&config);
        if let Some(region) = stream_arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            builder = builder.region(aws_sdk_dynamodbstreams::config::Region::new(
                region.to_string(),
            ));
        }
        Self::new(
            aws_sdk_dynamodbstreams::Client::from_conf(builder.build()),
            stream_arn,
        )
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

/// An SDK error's code and message, or its chain of sources (the SDK's Display says only
/// "dispatch failure" and the like). Shared by the DynamoDB Streams and Kinesis sources (one
/// `SdkError` type under both SDKs).
pub(crate) fn error_text<
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
>(
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

/// An SDK error as the poller's [`SourceError`]: the codes both DynamoDB Streams and Kinesis
/// use for an expired iterator and a missing stream or shard, and DynamoDB Streams' trimmed
/// data.
pub(crate) fn classify<E, R>(operation: &'static str, e: SdkError<E, R>) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e.code() {
        Some("ExpiredIteratorException") => SourceError::ExpiredIterator,
        Some("TrimmedDataAccessException") => SourceError::Trimmed,
        Some("ResourceNotFoundException") => SourceError::NotFound {
            operation,
            message: e.message().unwrap_or_default().to_string(),
            source: Some(std::sync::Arc::new(e)),
        },
        _ => SourceError::Other {
            operation,
            message: error_text(&e),
            source: Some(std::sync::Arc::new(e)),
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
            Position::At(seq) => req
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
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
                source: None,
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
            .map(|r| from_sdk(r, &self.stream_arn))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SourceError::Other {
                operation: "GetRecords",
                message: "a record cannot be turned into Lambda's JSON".into(),
                source: Some(std::sync::Arc::new(e)),
            })?;
        Ok(Page {
            records,
            next: out.next_shard_iterator().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
