//! Kinesis Data Streams for DynamoDB read with `aws-sdk-kinesis`: the [`StreamSource`] the
//! poller uses when a table's changes go to a Kinesis data stream. Each record `GetRecords`
//! returns becomes the record Lambda would deliver (the change base64 in `kinesis.data`), so
//! the router reads it as on Lambda (docs/semantics.md, "Kinesis Data Streams for DynamoDB").

use crate::stream::{classify, error_text};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::ShardIteratorType;
use dynastream_poll::{
    Page, PollError, Position, ShardInfo, SourceError, StreamRecord, StreamSource,
};

/// A Kinesis data stream read with `aws-sdk-kinesis`.
#[derive(Debug, Clone)]
pub struct KinesisStream {
    client: aws_sdk_kinesis::Client,
    stream_arn: String,
    stream_name: String,
    region: Option<String>,
}

/// `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME` split into its region and name.
fn split_arn(arn: &str) -> Option<(&str, &str)> {
    dynastream_core::event::KinesisStreamArn::parse(arn).map(|a| (a.region, a.name))
}

impl KinesisStream {
    /// The stream `stream` names (its name or ARN), with the standard AWS configuration
    /// (environment, profile, region; an ARN's region) and, for a local server, `endpoint`.
    /// Fails when the stream does not exist (`DescribeStreamSummary`).
    pub async fn connect(stream: &str, endpoint: Option<&str>) -> Result<Self, PollError> {
        let config = crate::store::sdk_config(endpoint).await;
        let mut builder = aws_sdk_kinesis::config::Builder::from(&config);
        let name = match split_arn(stream) {
            Some((region, name)) => {
                if !region.is_empty() {
                    builder =
                        builder.region(aws_sdk_kinesis::config::Region::new(region.to_string()));
                }
                name
            }
            None if stream.starts_with("arn:") => {
                return Err(PollError::Stream {
                    table: format!("Kinesis stream {stream}"),
                    message:
                        "not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)"
                            .into(),
                    source: None,
                })
            }
            None if stream.is_empty() => {
                return Err(PollError::Stream {
                    table: "Kinesis stream \"\"".into(),
                    message: "no stream name given".into(),
                    source: None,
                })
            }
            None => stream,
        };
        let conf = builder.build();
        let region_used = conf
            .region()
            .map_or_else(|| "the configured region".to_string(), |r| r.to_string());
        let client = aws_sdk_kinesis::Client::from_conf(conf);
        let summary = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(|e| PollError::Stream {
                table: format!("Kinesis stream {name}"),
                message: match e.code() {
                    Some("ResourceNotFoundException") => {
                        format!("no such Kinesis stream in {region_used}")
                    }
                    _ => error_text(&e),
                },
                source: Some(e.into()),
            })?;
        let arn = summary
            .stream_description_summary()
            .map(|d| d.stream_arn().to_string())
            .unwrap_or_default();
        let region = split_arn(&arn).map(|(r, _)| r.to_string());
        Ok(KinesisStream {
            client,
            stream_arn: arn,
            stream_name: name.to_string(),
            region,
        })
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }
}

impl StreamSource for KinesisStream {
    fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, SourceError> {
        let mut shards = Vec::new();
        let mut next: Option<String> = None;
        loop {
            // ListShards takes either the stream's name or a token, never both.
            let req = match next.take() {
                Some(token) => self.client.list_shards().next_token(token),
                None => self.client.list_shards().stream_name(&self.stream_name),
            };
            let out = req.send().await.map_err(|e| classify("ListShards", e))?;
            for s in out.shards() {
                shards.push(ShardInfo {
                    id: s.shard_id().to_string(),
                    parent: s.parent_shard_id().map(str::to_string),
                });
            }
            match out.next_token() {
                Some(t) => next = Some(t.to_string()),
                None => break,
            }
        }
        Ok(shards)
    }

    async fn iterator(&self, shard: &str, at: &Position) -> Result<String, SourceError> {
        let req = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream_name)
            .shard_id(shard);
        let req = match at {
            Position::TrimHorizon => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Position::Latest => req.shard_iterator_type(ShardIteratorType::Latest),
            Position::After(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq),
            Position::At(seq) => req
                .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                .starting_sequence_number(seq),
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
            .limit(limit.clamp(1, 10_000) as i32)
            .send()
            .await
            .map_err(|e| classify("GetRecords", e))?;
        let records = out
            .records()
            .iter()
            .map(|r| {
                let arrival = r
                    .approximate_arrival_timestamp()
                    .and_then(|t| t.to_millis().ok());
                StreamRecord::from_kinesis(
                    r.sequence_number(),
                    r.data().as_ref(),
                    r.partition_key().unwrap_or_default(),
                    arrival,
                    (&self.stream_arn, self.region.as_deref()),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SourceError::Other {
                operation: "GetRecords",
                message: "a record cannot be turned into Lambda's JSON".into(),
                source: Some(std::sync::Arc::new(e)),
            })?;
        Ok(Page {
            records,
            // Kinesis gives a next iterator on an open shard even when it is caught up; a
            // closed shard, fully read, gives none.
            next: out.next_shard_iterator().map(str::to_string),
        })
    }
}
