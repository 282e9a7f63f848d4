//! The on-failure destinations `redrive` reads: an SQS queue (each message deleted once its
//! records are redriven) and S3 objects (an S3 destination's invocation records, which carry
//! the batch). Feature `redrive`: what a deployed Lambda never runs.

use aws_sdk_sqs::error::ProvideErrorMetadata;

/// A destination could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct DestinationError {
    /// What was being done (`receiving from QUEUE`, `reading s3://B/K`).
    pub what: String,
    /// The service's code and message, or the transport's error.
    pub message: String,
    /// The SDK's error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn sdk_error<E>(what: impl Into<String>) -> impl FnOnce(E) -> DestinationError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let what = what.into();
    move |e| {
        let message = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            _ => {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(": ");
                    text.push_str(&s.to_string());
                    source = s.source();
                }
                text
            }
        };
        DestinationError {
            what,
            message,
            source: Some(Box::new(e)),
        }
    }
}

/// An SQS queue an event source mapping sends its failure records to.
#[derive(Debug, Clone)]
pub struct FailureQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// A message received from a [`FailureQueue`].
#[derive(Debug, Clone)]
pub struct QueuedFailure {
    /// The message's id.
    pub message_id: String,
    /// The handle to delete or release it with.
    pub receipt_handle: String,
    /// The body: a failure record (or an SNS notification holding one).
    pub body: String,
}

impl FailureQueue {
    /// The queue at `url` (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or a local server's),
    /// with the standard AWS configuration and, for a local server, `endpoint`.
    /// The region is the one the URL names (`sqs.REGION.amazonaws.com`,
    /// `REGION.queue.amazonaws.com`), else the configuration's. A URL on a host that is not
    /// AWS's (a local server, `http://127.0.0.1:5005/ACCOUNT/QUEUE`) is its own endpoint;
    /// otherwise `endpoint`, if given, is.
    pub async fn connect(url: impl Into<String>, endpoint: Option<&str>) -> Self {
        let url = url.into();
        let own = queue_origin(&url);
        let config = crate::sdk_config(own.as_deref().or(endpoint)).await;
        let mut builder = aws_sdk_sqs::config::Builder::from(&config);
        if let Some(region) = queue_region(&url) {
            builder = builder.region(aws_sdk_sqs::config::Region::new(region));
        }
        FailureQueue {
            client: aws_sdk_sqs::Client::from_conf(builder.build()),
            url,
        }
    }

    /// A queue with a client you built.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        FailureQueue {
            client,
            url: url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Up to `max` messages (1 to 10), hidden from other readers for `visibility_timeout`
    /// seconds; waits up to `wait` seconds for one (long polling).
    pub async fn receive(
        &self,
        max: i32,
        visibility_timeout: i32,
        wait: i32,
    ) -> Result<Vec<QueuedFailure>, DestinationError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(visibility_timeout)
            .wait_time_seconds(wait.clamp(0, 20))
            .send()
            .await
            .map_err(sdk_error(format!("receiving from {}", self.url)))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(QueuedFailure {
                    message_id: m.message_id()?.to_string(),
                    receipt_handle: m.receipt_handle()?.to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    /// Deletes a message (its records were all redriven).
    pub async fn delete(&self, m: &QueuedFailure) -> Result<(), DestinationError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&m.receipt_handle)
            .send()
            .await
            .map_err(sdk_error(format!(
                "deleting message {} from {}",
                m.message_id, self.url
            )))?;
        Ok(())
    }

    /// Makes a kept message visible again at once (its visibility timeout set to 0).
    pub async fn release(&self, m: &QueuedFailure) -> Result<(), DestinationError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&m.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(sdk_error(format!(
                "returning message {} to {}",
                m.message_id, self.url
            )))?;
        Ok(())
    }
}

/// The keys of the objects under `s3://bucket/prefix`, in S3's order: an S3 on-failure
/// destination's invocation records.
pub async fn failure_object_keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, DestinationError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(sdk_error(format!("listing s3://{bucket}/{prefix}")))?;
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .filter(|k| !k.ends_with('/')),
        );
        match out.next_continuation_token() {
            Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(keys)
}

/// One object's body.
pub async fn failure_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, DestinationError> {
    let what = format!("reading s3://{bucket}/{key}");
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(sdk_error(what.clone()))?;
    let body = out.body.collect().await.map_err(|e| DestinationError {
        what,
        message: e.to_string(),
        source: Some(Box::new(e)),
    })?;
    Ok(body.into_bytes().to_vec())
}

/// `scheme://host[:port]` of a queue URL whose host is not AWS's.
fn queue_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    let name = host.split(':').next()?;
    if name.ends_with(".amazonaws.com") || name.ends_with(".amazonaws.com.cn") || host.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

/// The region in an SQS queue URL's host: `sqs.REGION.amazonaws.com[.cn]`,
/// `REGION.queue.amazonaws.com`.
fn queue_region(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        ["sqs", region, "amazonaws", ..] => Some((*region).to_string()),
        [region, "queue", "amazonaws", ..] => Some((*region).to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::queue_region;

    #[test]
    fn the_region_is_read_from_a_queue_url() {
        assert_eq!(
            queue_region("https://sqs.eu-west-1.amazonaws.com/123456789012/q").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            queue_region("https://us-east-2.queue.amazonaws.com/123456789012/q").as_deref(),
            Some("us-east-2")
        );
        assert_eq!(queue_region("http://127.0.0.1:5005/123456789012/q"), None);
    }

    #[test]
    fn a_local_queue_url_is_its_own_endpoint() {
        use super::queue_origin;
        assert_eq!(
            queue_origin("http://127.0.0.1:5005/123456789012/q").as_deref(),
            Some("http://127.0.0.1:5005")
        );
        assert_eq!(
            queue_origin("https://sqs.eu-west-1.amazonaws.com/1/q"),
            None
        );
    }
}
