//! [`TableScan`] for DynamoDB: DescribeTable, a parallel Scan and a consistent GetItem.

use aws_sdk_dynamodb::types::KeyType;

use base64::Engine as _;
use dynastream_store::{
    key_text, BoxFuture, Cursor, Item, RawBody, RawItem, ScanPage, ScanRequest, StoreError,
    TableInfo, TableScan, Value,
};

use crate::store::DynamoStore;
use crate::value::{from_sdk_item, to_sdk_item};

impl DynamoStore {
    /// The key attribute names of the table (DescribeTable's `KeySchema`; `""` for no sort key).
    async fn key_schema(&self) -> Result<(String, String), StoreError> {
        if let Some(keys) = self.key_schema.get() {
            return Ok(keys.clone());
        }
        let info = self.describe().await?;
        let keys = info.key_attributes.ok_or_else(|| StoreError::Backend {
            operation: "DescribeTable",
            message: format!("table {} has no key schema", self.table()),
            source: None,
        })?;
        Ok(self.key_schema.get_or_init(|| keys).clone())
    }

    /// A key attribute's value from its text ([`key_text`]), typed as the table declares the
    /// attribute (S, N or B; B from base64).
    fn key_value(&self, attr: &str, text: String) -> Result<Value, StoreError> {
        let kind = self.key_types.get().and_then(|types| {
            types
                .iter()
                .find(|(a, _)| a == attr)
                .map(|(_, t)| t.clone())
        });
        Ok(match kind.as_deref() {
            Some("N") => Value::N(text),
            Some("B") => Value::B(
                base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| StoreError::Backend {
                        operation: "GetItem",
                        message: format!(
                            "key attribute {attr} is binary, and {text:?} is not base64: {e}"
                        ),
                        source: None,
                    })?,
            ),
            _ => Value::S(text),
        })
    }

    fn scanned(
        &self,
        operation: &'static str,
        (pk_attr, sk_attr): (&str, &str),
        attrs: Item,
    ) -> Result<RawItem, StoreError> {
        let text = |attr: &str| -> Result<String, StoreError> {
            if attr.is_empty() {
                return Ok(String::new());
            }
            attrs
                .get(attr)
                .and_then(key_text)
                .ok_or_else(|| StoreError::Backend {
                    operation,
                    message: format!(
                        "an item of table {} has no key attribute {attr}",
                        self.table()
                    ),
                    source: None,
                })
        };
        Ok(RawItem {
            pk: text(pk_attr)?,
            sk: text(sk_attr)?,
            body: RawBody::Attributes(attrs),
        })
    }
}

impl TableScan for DynamoStore {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        Box::pin(async move {
            let out = self
                .client()
                .describe_table()
                .table_name(self.table())
                .send()
                .await
                .map_err(|e| self.error("DescribeTable", e))?;
            let Some(t) = out.table else {
                return Err(StoreError::TableMissing {
                    table: self.table().to_string(),
                });
            };
            let types: Vec<(String, String)> = t
                .attribute_definitions()
                .iter()
                .map(|d| {
                    (
                        d.attribute_name.clone(),
                        d.attribute_type.as_str().to_string(),
                    )
                })
                .collect();
            let _ = self.key_types.set(types);
            let key = |kind: KeyType| {
                t.key_schema()
                    .iter()
                    .find(|k| k.key_type == kind)
                    .map(|k| k.attribute_name.clone())
            };
            Ok(TableInfo {
                name: self.table().to_string(),
                arn: t.table_arn.clone(),
                // A stream turned off keeps its ARN here; it is nobody's current stream.
                latest_stream_arn: t
                    .latest_stream_arn
                    .clone()
                    .filter(|_| t.stream_specification().is_some_and(|s| s.stream_enabled)),
                key_attributes: key(KeyType::Hash)
                    .map(|pk| (pk, key(KeyType::Range).unwrap_or_default())),
                item_count: t.item_count.and_then(|n| u64::try_from(n).ok()),
                export: None,
            })
        })
    }

    fn scan_page(&self, r: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        Box::pin(async move {
            let keys = self.key_schema().await?;
            let mut request = self
                .client()
                .scan()
                .table_name(self.table())
                .segment(i32::try_from(r.segment).unwrap_or(i32::MAX))
                .total_segments(i32::try_from(r.total_segments).unwrap_or(i32::MAX))
                .consistent_read(r.consistent)
                .limit(i32::try_from(r.page_size.max(1)).unwrap_or(i32::MAX));
            match r.start {
                Some(Cursor::Attributes(start)) => {
                    request = request.set_exclusive_start_key(Some(to_sdk_item(start)));
                }
                Some(_) => {
                    return Err(StoreError::Backend {
                        operation: "Scan",
                        message: "the cursor was made by another backend".into(),
                        source: None,
                    })
                }
                None => {}
            }
            let out = request.send().await.map_err(|e| self.error("Scan", e))?;
            let bad = |message: String| StoreError::Backend {
                operation: "Scan",
                message,
                source: None,
            };
            let next = match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(k) => Some(Cursor::Attributes(
                    from_sdk_item(k).map_err(|m| bad(format!("LastEvaluatedKey: {m}")))?,
                )),
                None => None,
            };
            let items = out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(|attrs| {
                    let attrs = from_sdk_item(attrs).map_err(bad)?;
                    self.scanned("Scan", (&keys.0, &keys.1), attrs)
                })
                .collect::<Result<_, _>>()?;
            Ok(ScanPage { items, next })
        })
    }

    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        Box::pin(async move {
            let keys = self.key_schema().await?;
            let mut key = Item::new();
            key.insert(keys.0.clone(), self.key_value(&keys.0, pk)?);
            if !keys.1.is_empty() {
                key.insert(keys.1.clone(), self.key_value(&keys.1, sk)?);
            }
            let out = self
                .client()
                .get_item()
                .table_name(self.table())
                .set_key(Some(to_sdk_item(key)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| self.error("GetItem", e))?;
            match out.item {
                None => Ok(None),
                Some(attrs) => {
                    let attrs = from_sdk_item(attrs).map_err(|message| StoreError::Backend {
                        operation: "GetItem",
                        message,
                        source: None,
                    })?;
                    Ok(Some(self.scanned("GetItem", (&keys.0, &keys.1), attrs)?))
                }
            }
        })
    }
}
