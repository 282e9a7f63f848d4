//! The DynamoDB backend, through aws-sdk-dynamodb.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, PutRequest, ScalarAttributeType,
    StreamSpecification, StreamViewType, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use dynastream_core::model::IndexSpec;
use dynastream_store::{
    Backend, BatchFailure, BoxFuture, Cursor, ItemKey, Page, PageRequest, RawBody, RawItem,
    StoreError, TxOp, WriteItem,
};

use crate::value::{from_sdk_item, to_sdk_item};

/// A model's indexes as [`DynamoStore::create_table`] takes them.
pub fn index_attrs(indexes: &[IndexSpec]) -> Vec<(&'static str, &'static str, &'static str)> {
    indexes
        .iter()
        .map(|i| (i.name, i.pk_attr, i.sk_attr))
        .collect()
}

/// DynamoDB's limit on items per BatchWriteItem request.
const BATCH_WRITE_MAX: usize = 25;

/// How a batch save retries the items DynamoDB returns as unprocessed: up to `attempts`
/// requests per chunk, waiting `base_delay`, doubling each time, up to `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchRetry {
    /// Requests per chunk, the first included.
    pub attempts: u32,
    /// Wait before the first retry.
    pub base_delay: Duration,
    /// Longest wait.
    pub max_delay: Duration,
}

impl Default for BatchRetry {
    fn default() -> Self {
        BatchRetry {
            attempts: 8,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl BatchRetry {
    fn delay(&self, retry: u32) -> Duration {
        self.base_delay
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_delay)
    }
}

/// Models in one DynamoDB table.
///
/// Throttling is retried by the SDK with backoff (its standard retry mode, 5 attempts, when
/// built with [`DynamoStore::from_env`]); what is still throttled after that is
/// [`StoreError::Throttled`].
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    batch_retry: BatchRetry,
    /// The table's key attribute names, once a scan asked DescribeTable.
    pub(crate) key_schema: std::sync::Arc<std::sync::OnceLock<(String, String)>>,
    /// The table's attribute types (name, `S`/`N`/`B`), once DescribeTable answered.
    pub(crate) key_types: std::sync::Arc<std::sync::OnceLock<Vec<(String, String)>>>,
}

/// The standard AWS configuration (environment, profile, region) with the SDK's standard retry
/// at 5 attempts and, for a local server, `endpoint`.
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5));
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

impl DynamoStore {
    /// A store over `table` with a client you built.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            batch_retry: BatchRetry::default(),
            key_schema: Default::default(),
            key_types: Default::default(),
        }
    }

    /// A store over `table` with the standard AWS configuration (environment, profile,
    /// instance role; `AWS_ENDPOINT_URL_DYNAMODB` is honoured), and `endpoint` when given (a
    /// local DynamoDB-compatible server).
    pub async fn from_env(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        Self::new(Client::new(&sdk_config(endpoint).await), table)
    }

    /// Sets how batch saves retry unprocessed items.
    pub fn batch_retry(mut self, retry: BatchRetry) -> Self {
        self.batch_retry = retry;
        self
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table (on-demand, string keys `pk_attr`/`sk_attr`, stream with new and old
    /// images; an empty `sk_attr` makes a table with a partition key only) with a global secondary index (all attributes projected) for each of `indexes`,
    /// given as (name, partition key attribute, sort key attribute) — for a model's indexes,
    /// [`index_attrs`]`(M::indexes())`. Indexes with the same name are created once.
    pub async fn create_table(
        &self,
        pk_attr: &str,
        sk_attr: &str,
        indexes: &[(&str, &str, &str)],
    ) -> Result<(), StoreError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend {
            operation: "CreateTable",
            message: e.to_string(),
            source: Some(e.into()),
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build)
        };
        let mut attrs: Vec<&str> = vec![pk_attr];
        if !sk_attr.is_empty() {
            attrs.push(sk_attr);
        }
        let mut gsis = Vec::new();
        let mut seen = Vec::new();
        for &(name, ipk, isk) in indexes {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            for a in [ipk, isk] {
                if !attrs.contains(&a) {
                    attrs.push(a);
                }
            }
            gsis.push(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(ipk, KeyType::Hash)?)
                    .key_schema(key(isk, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build)?,
            );
        }
        let defs = attrs
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(*a)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut key_schema = vec![key(pk_attr, KeyType::Hash)?];
        if !sk_attr.is_empty() {
            key_schema.push(key(sk_attr, KeyType::Range)?);
        }
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema))
            .set_attribute_definitions(Some(defs))
            .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| self.error("CreateTable", e))?;
        Ok(())
    }

    pub(crate) fn error<E, R>(&self, operation: &'static str, e: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = e.code().unwrap_or_default().to_string();
        let message = e.message().unwrap_or_default().to_string();
        match code.as_str() {
            "ResourceNotFoundException" => StoreError::TableMissing {
                table: self.table.clone(),
            },
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded" => StoreError::Throttled {
                operation,
                message,
                source: e.into(),
            },
            "" => StoreError::Backend {
                operation,
                message: format!("{}", DisplayErrorContext(&e)),
                source: Some(e.into()),
            },
            _ => StoreError::Backend {
                operation,
                message: format!("{code}: {message}"),
                source: Some(e.into()),
            },
        }
    }

    fn key_map(key: &ItemKey) -> HashMap<String, AttributeValue> {
        key.attributes()
            .map(|(name, value)| (name.to_string(), AttributeValue::S(value.to_string())))
            .collect()
    }

    fn raw(
        &self,
        operation: &'static str,
        pk_attr: &str,
        sk_attr: &str,
        attrs: HashMap<String, AttributeValue>,
    ) -> Result<RawItem, StoreError> {
        let text = |a: &str| match attrs.get(a) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        let (pk, sk) = (text(pk_attr), text(sk_attr));
        let attrs = from_sdk_item(attrs).map_err(|message| StoreError::Backend {
            operation,
            message: format!("item {pk} / {sk}: {message}"),
            source: None,
        })?;
        Ok(RawItem {
            pk,
            sk,
            body: RawBody::Attributes(attrs),
        })
    }

    /// One BatchWriteItem request per chunk of 25, retrying unprocessed items.
    async fn write_chunk(&self, chunk: Vec<WriteItem>) -> Vec<BatchFailure> {
        let keys: Vec<ItemKey> = chunk.iter().map(|w| w.key.clone()).collect();
        let requests: Result<Vec<WriteRequest>, _> = chunk
            .into_iter()
            .map(|w| {
                PutRequest::builder()
                    .set_item(Some(to_sdk_item(w.attrs)))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
            })
            .collect();
        let requests = match requests {
            Ok(r) => r,
            Err(e) => return failures(&keys, &e.to_string()),
        };
        let table = self.table.clone();
        let retry = self.batch_retry;
        let outcome = retry_unprocessed(requests, retry, |batch| {
            let request = self
                .client
                .batch_write_item()
                .request_items(table.clone(), batch);
            let table = table.clone();
            async move {
                match request.send().await {
                    Ok(out) => Ok(out
                        .unprocessed_items
                        .and_then(|mut m| m.remove(&table))
                        .unwrap_or_default()),
                    Err(e) => Err(self.error("BatchWriteItem", e)),
                }
            }
        })
        .await;
        match outcome {
            Ok(()) => Vec::new(),
            Err((left, reason)) => {
                let left_keys: Vec<ItemKey> = left
                    .iter()
                    .filter_map(|w| w.put_request.as_ref())
                    .filter_map(|p| {
                        keys.iter()
                            .find(|k| {
                                k.attributes().all(|(name, value)| {
                                    matches!(p.item.get(name), Some(AttributeValue::S(s)) if s == value)
                                })
                            })
                            .cloned()
                    })
                    .collect();
                failures(&left_keys, &reason)
            }
        }
    }
}

fn failures(keys: &[ItemKey], reason: &str) -> Vec<BatchFailure> {
    keys.iter()
        .map(|k| BatchFailure {
            pk: k.pk.clone(),
            sk: k.sk.clone(),
            reason: reason.to_string(),
        })
        .collect()
}

/// Sends `pending`, then whatever comes back unprocessed, with exponential backoff between
/// attempts. On giving up, returns what is left and why.
pub(crate) async fn retry_unprocessed<T, F, Fut>(
    mut pending: Vec<T>,
    retry: BatchRetry,
    mut send: F,
) -> Result<(), (Vec<T>, String)>
where
    T: Clone,
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match send(pending.clone()).await {
            Ok(left) if left.is_empty() => return Ok(()),
            Ok(left) => pending = left,
            // A failed request wrote nothing of this batch: retry all of it. Errors that no
            // retry can fix end at once.
            Err(e @ (StoreError::Throttled { .. } | StoreError::Backend { .. })) => {
                if attempt >= retry.attempts {
                    return Err((pending, e.to_string()));
                }
            }
            Err(e) => return Err((pending, e.to_string())),
        }
        if attempt >= retry.attempts {
            let n = pending.len();
            return Err((
                pending,
                format!("still unprocessed after {attempt} attempts ({n} items left)"),
            ));
        }
        tokio::time::sleep(retry.delay(attempt - 1)).await;
    }
}

impl Backend for DynamoStore {
    fn put(&self, item: WriteItem, must_not_exist: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_sdk_item(item.attrs)));
            if must_not_exist {
                request = request
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", item.key.pk_attr);
            }
            match request.send().await {
                Ok(_) => Ok(()),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                    Err(StoreError::AlreadyExists {
                        entity: item.key.entity,
                        pk: item.key.pk,
                        sk: item.key.sk,
                    })
                }
                Err(e) => Err(self.error("PutItem", e)),
            }
        })
    }

    fn fetch(&self, key: ItemKey) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_map(&key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.error("GetItem", e))?;
            out.item
                .map(|attrs| self.raw("GetItem", key.pk_attr, key.sk_attr, attrs))
                .transpose()
        })
    }

    fn remove(&self, key: ItemKey) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let out = self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_map(&key)))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| self.error("DeleteItem", e))?;
            Ok(out.attributes.is_some_and(|a| !a.is_empty()))
        })
    }

    fn page(&self, r: PageRequest) -> BoxFuture<'_, Result<Page, StoreError>> {
        Box::pin(async move {
            let (pk_attr, sk_attr) = match r.index {
                Some((_, p, s)) => (p, s),
                None => r.table_keys,
            };
            let mut condition = "#pk = :pk".to_string();
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(r.index.map(|(name, _, _)| name.to_string()))
                .expression_attribute_names("#pk", pk_attr)
                .expression_attribute_values(":pk", AttributeValue::S(r.pk))
                .scan_index_forward(r.forward)
                .limit(i32::try_from(r.page_size).unwrap_or(i32::MAX));
            if !r.sk_prefix.is_empty() {
                condition.push_str(" AND begins_with(#sk, :sk)");
                request = request
                    .expression_attribute_names("#sk", sk_attr)
                    .expression_attribute_values(":sk", AttributeValue::S(r.sk_prefix));
            }
            if let Some(Cursor::Attributes(start)) = r.start {
                request = request.set_exclusive_start_key(Some(to_sdk_item(start)));
            }
            let out = request
                .key_condition_expression(condition)
                .send()
                .await
                .map_err(|e| self.error("Query", e))?;
            let (tpk, tsk) = r.table_keys;
            let next = match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(k) => Some(Cursor::Attributes(from_sdk_item(k).map_err(|message| {
                    StoreError::Backend {
                        operation: "Query",
                        message: format!("LastEvaluatedKey: {message}"),
                        source: None,
                    }
                })?)),
                None => None,
            };
            Ok(Page {
                items: out
                    .items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|attrs| self.raw("Query", tpk, tsk, attrs))
                    .collect::<Result<_, _>>()?,
                next,
            })
        })
    }

    fn put_batch(&self, items: Vec<WriteItem>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let total = items.len();
            let mut failed = Vec::new();
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let chunk: Vec<WriteItem> = items.by_ref().take(BATCH_WRITE_MAX).collect();
                failed.extend(self.write_chunk(chunk).await);
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(StoreError::BatchIncomplete { total, failed })
            }
        })
    }

    fn write_transaction(&self, ops: Vec<TxOp>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend {
                operation: "TransactWriteItems",
                message: e.to_string(),
                source: Some(e.into()),
            };
            let keys: Vec<(ItemKey, bool)> = ops
                .iter()
                .map(|op| {
                    (
                        op.key().clone(),
                        matches!(
                            op,
                            TxOp::Put {
                                must_not_exist: true,
                                ..
                            }
                        ),
                    )
                })
                .collect();
            let mut items = Vec::with_capacity(ops.len());
            for op in ops {
                items.push(match op {
                    TxOp::Put {
                        item,
                        must_not_exist,
                    } => {
                        let mut put = Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(to_sdk_item(item.attrs)));
                        if must_not_exist {
                            put = put
                                .condition_expression("attribute_not_exists(#pk)")
                                .expression_attribute_names("#pk", item.key.pk_attr);
                        }
                        TransactWriteItem::builder()
                            .put(put.build().map_err(build)?)
                            .build()
                    }
                    TxOp::Delete(key) => TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(Self::key_map(&key)))
                                .build()
                                .map_err(build)?,
                        )
                        .build(),
                });
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) => {
                    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                    if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                        e.as_service_error()
                    {
                        let reasons = c.cancellation_reasons();
                        let conflict = reasons.iter().enumerate().find(|(i, r)| {
                            r.code() == Some("ConditionalCheckFailed")
                                && keys.get(*i).is_some_and(|(_, create)| *create)
                        });
                        if let Some((i, _)) = conflict {
                            let (k, _) = &keys[i];
                            return Err(StoreError::TransactionConflict {
                                index: i,
                                entity: k.entity,
                                pk: k.pk.clone(),
                                sk: k.sk.clone(),
                            });
                        }
                        let text: Vec<String> = reasons
                            .iter()
                            .enumerate()
                            .map(|(i, r)| {
                                format!(
                                    "#{i}: {}{}",
                                    r.code().unwrap_or("None"),
                                    r.message().map(|m| format!(" ({m})")).unwrap_or_default()
                                )
                            })
                            .collect();
                        return Err(StoreError::TransactionCanceled {
                            reasons: if text.is_empty() {
                                c.message().unwrap_or_default().to_string()
                            } else {
                                text.join(", ")
                            },
                        });
                    }
                    Err(self.error("TransactWriteItems", e))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> BatchRetry {
        BatchRetry {
            attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[tokio::test]
    async fn unprocessed_items_are_resent_until_done() {
        let calls = AtomicU32::new(0);
        let sent = std::sync::Mutex::new(Vec::new());
        // The "server" processes one item per request.
        let result = retry_unprocessed(vec![1, 2, 3], fast(), |batch: Vec<i32>| {
            calls.fetch_add(1, Ordering::SeqCst);
            sent.lock().unwrap().push(batch.clone());
            async move { Ok(batch[1..].to_vec()) }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            *sent.lock().unwrap(),
            vec![vec![1, 2, 3], vec![2, 3], vec![3]]
        );
    }

    #[tokio::test]
    async fn what_stays_unprocessed_is_reported_not_dropped() {
        let result = retry_unprocessed(vec![1, 2, 3], fast(), |batch: Vec<i32>| async move {
            Ok(batch.into_iter().filter(|x| *x == 2).collect())
        })
        .await;
        let (left, why) = result.unwrap_err();
        assert_eq!(left, vec![2]);
        assert!(why.contains("after 4 attempts"), "{why}");
    }

    #[tokio::test]
    async fn a_failed_request_is_retried_whole_and_reported_with_its_error() {
        let calls = AtomicU32::new(0);
        let result = retry_unprocessed(vec![7], fast(), |_batch: Vec<i32>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(StoreError::Throttled {
                    operation: "BatchWriteItem",
                    message: "slow down".into(),
                    source: "slow down".into(),
                })
            }
        })
        .await;
        let (left, why) = result.unwrap_err();
        assert_eq!((left, calls.load(Ordering::SeqCst)), (vec![7], 4));
        assert!(why.contains("slow down"), "{why}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = BatchRetry {
            attempts: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(300),
        };
        let d: Vec<u128> = (0..5).map(|i| r.delay(i).as_millis()).collect();
        assert_eq!(d, vec![50, 100, 200, 300, 300]);
    }
}
