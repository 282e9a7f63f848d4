//! The store: the same models saved, read and queried by their typed keys, in DynamoDB
//! (`dynastream-dynamodb`'s `DynamoStore`) or in Postgres (`dynastream-postgres`'s `PgStore`,
//! on the mirror's table layout).
//!
//! Two traits. [`Backend`] is what a backend implements: a few operations on prepared items
//! ([`WriteItem`]: attributes as [`Value`]s), each returning one [`BoxFuture`], so it is
//! object-safe (`Arc<dyn Backend>` holds whichever backend a command line chose). [`Store`] is
//! the typed API on top, implemented for every backend: [`save`](Store::save),
//! [`create`](Store::create), [`get`](Store::get), [`delete`](Store::delete),
//! [`query`](Store::query) (a stream that pages transparently),
//! [`batch_save`](Store::batch_save) and [`transact`](Store::transact); both backends render
//! keys, encode and decode items the same way because this code does it for them.
//!
//! ```no_run
//! # extern crate dynastream_core as dynastream;
//! # async fn demo(store: &dyn dynastream_store::Backend) -> Result<(), dynastream_store::StoreError> {
//! use dynastream_store::{Query, Store};
//! use futures_util::TryStreamExt as _;
//! # #[derive(Debug, serde::Serialize, serde::Deserialize, dynastream::Model)]
//! # #[dynastream(pk = "ORDER#{order_id}", sk = "LINE#{line:04}")]
//! # struct OrderLine { order_id: String, line: u32, sku: String }
//!
//! store.save(&OrderLine { order_id: "o-1".into(), line: 1, sku: "pen".into() }).await?;
//! let line = store.get::<OrderLine>(&OrderLineKey { order_id: "o-1".into(), line: 1 }).await?;
//! let lines: Vec<OrderLine> = store
//!     .query(Query::new(OrderLineKeyPrefix { order_id: Some("o-1".into()), ..Default::default() }).reverse())
//!     .try_collect()
//!     .await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

// The derive's generated code names `::dynastream`; the tests' models need it.
#[cfg(test)]
extern crate dynastream_core as dynastream;

mod export;
mod item;
mod json;
mod scan;
mod value;

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::stream::{self, BoxStream, StreamExt as _};
use serde::Serialize;

pub use dynastream_core::BoxFuture;
pub use export::ExportFolder;
pub use scan::{
    from_dynamodb_json, key_text, segment_of, MemoryTable, ScanPage, ScanRequest, TableInfo,
    TableScan,
};
pub use value::{item_size, to_dynamodb_json, Item, Value};

use dynastream_core::dynamodb_json::{decode_model, Binary, ImageError};
use dynastream_core::key::{KeyError, RenderError};
use dynastream_core::model::{KeyPrefix, Model, ModelKey};

/// DynamoDB's item size limit, which both backends enforce.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// DynamoDB's limit on operations in one transaction, which both backends enforce.
pub const MAX_TRANSACTION_OPS: usize = 100;

/// What went wrong in a store operation. Every variant names the model and key involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A key or prefix cannot be built: a missing key field, a value containing a separator,
    /// an empty or too-wide value.
    #[error("{entity}: {source}")]
    Key {
        /// The model.
        entity: &'static str,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The item cannot be turned into attributes.
    #[error("{entity} at {pk} / {sk} cannot be stored: {message}")]
    Serialize {
        /// The model.
        entity: &'static str,
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// Why.
        message: String,
    },
    /// A stored item under the model's key does not decode into the model.
    #[error("{entity} at {pk} / {sk} does not decode: {source}")]
    Decode {
        /// The model.
        entity: &'static str,
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// Where and why.
        #[source]
        source: ImageError,
    },
    /// `create` found an item under the key.
    #[error("{entity} at {pk} / {sk} already exists")]
    AlreadyExists {
        /// The model.
        entity: &'static str,
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
    /// A transaction was cancelled because one of its creates found an existing item; nothing
    /// in it was written.
    #[error("transaction cancelled, nothing written: operation {index} creates {entity} at {pk} / {sk}, which already exists")]
    TransactionConflict {
        /// The position of the failing operation.
        index: usize,
        /// Its model.
        entity: &'static str,
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
    /// A transaction was cancelled for another reason; nothing in it was written.
    #[error("transaction cancelled, nothing written: {reasons}")]
    TransactionCanceled {
        /// The reason per operation, as the backend gave them.
        reasons: String,
    },
    /// A transaction is not valid as built (too many operations, one key twice).
    #[error("invalid transaction: {0}")]
    InvalidTransaction(String),
    /// The item is over DynamoDB's 400 KB limit.
    #[error("{entity} at {pk} / {sk} is {size} bytes, over the 400 KB item limit")]
    ItemTooLarge {
        /// The model.
        entity: &'static str,
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
        /// The item's size as DynamoDB counts it.
        size: usize,
    },
    /// The table does not exist.
    #[error("table {table} does not exist")]
    TableMissing {
        /// The table.
        table: String,
    },
    /// DynamoDB kept throttling after the retries with backoff.
    #[error("throttled on {operation} after retrying with backoff: {message}")]
    Throttled {
        /// The operation.
        operation: &'static str,
        /// DynamoDB's message.
        message: String,
        /// The service's error.
        #[source]
        source: dynastream_core::BoxError,
    },
    /// A batch save could not write some items, after retrying them with backoff. The others
    /// are written.
    #[error("batch save: {} of {total} items not written: {}", failed.len(), failed.iter().map(|f| format!("{} / {}: {}", f.pk, f.sk, f.reason)).collect::<Vec<_>>().join("; "))]
    BatchIncomplete {
        /// Items in the batch.
        total: usize,
        /// The items not written and why.
        failed: Vec<BatchFailure>,
    },
    /// The model has no index by that name.
    #[error("{entity} has no index named {name:?}")]
    UnknownIndex {
        /// The model.
        entity: &'static str,
        /// The name asked for.
        name: String,
    },
    /// Any other backend failure.
    #[error("{operation} failed: {message}")]
    Backend {
        /// The operation (`PutItem`, `query`, ...).
        operation: &'static str,
        /// The backend's error as text, with its context (Postgres: SQLSTATE, message, detail;
        /// DynamoDB: the error code and message).
        message: String,
        /// The backend's error itself, when there is one.
        #[source]
        source: Option<dynastream_core::BoxError>,
    },
}

/// One item a batch save could not write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// Why.
    pub reason: String,
}

/// A table or index key: attribute names and values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    /// The model.
    pub entity: &'static str,
    /// Partition key attribute.
    pub pk_attr: &'static str,
    /// Sort key attribute; `""` when the table has a partition key only.
    pub sk_attr: &'static str,
    /// Partition key.
    pub pk: String,
    /// Sort key; `""` when the table has a partition key only.
    pub sk: String,
    /// The model's schema-version attribute ([`Model::SCHEMA_VERSION_ATTR`]).
    pub schema_version_attr: &'static str,
}

impl ItemKey {
    /// The key's attributes as the table holds them: the partition key, then the sort key
    /// unless the table has none.
    pub fn attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        std::iter::once((self.pk_attr, self.pk.as_str()))
            .chain((!self.sk_attr.is_empty()).then_some((self.sk_attr, self.sk.as_str())))
    }
}

/// An item ready to write: its key and every attribute (keys, index keys and `schema_version`
/// included).
#[derive(Debug, Clone, PartialEq)]
pub struct WriteItem {
    /// The key.
    pub key: ItemKey,
    /// All attributes.
    pub attrs: Item,
}

impl WriteItem {
    /// Prepares `item` for writing: renders its keys and index keys, serializes it and checks
    /// its size.
    pub fn of<M: Model + Serialize>(item: &M) -> Result<Self, StoreError> {
        let key = item_key::<M>(&item.key())?;
        let ser = |message: String| StoreError::Serialize {
            entity: M::ENTITY,
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            message,
        };
        let mut attrs = item::to_attrs(item, M::FIELDS).map_err(|e| ser(e.0))?;
        let mut reserved: Vec<(&str, String)> = key
            .attributes()
            .map(|(name, value)| (name, value.to_string()))
            .collect();
        reserved.push((M::SCHEMA_VERSION_ATTR, M::SCHEMA_VERSION.to_string()));
        for (i, index) in M::indexes().iter().enumerate() {
            let (ipk, isk) = match item.index_key(i) {
                Some(Ok(k)) => k,
                Some(Err(e)) => {
                    return Err(StoreError::Key {
                        entity: M::ENTITY,
                        source: e.into(),
                    })
                }
                None => continue,
            };
            reserved.push((index.pk_attr, ipk));
            reserved.push((index.sk_attr, isk));
        }
        for (name, value) in reserved {
            if attrs.insert(name.to_string(), Value::S(value)).is_some() {
                return Err(ser(format!(
                    "a field is named `{name}`, which the store writes itself (a key, index key or schema_version attribute)"
                )));
            }
        }
        let size = item_size(&attrs);
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::ItemTooLarge {
                entity: M::ENTITY,
                pk: key.pk,
                sk: key.sk,
                size,
            });
        }
        Ok(WriteItem { key, attrs })
    }
}

fn item_key<M: Model>(key: &M::Key) -> Result<ItemKey, StoreError> {
    let err = |e: RenderError| StoreError::Key {
        entity: M::ENTITY,
        source: e.into(),
    };
    Ok(ItemKey {
        entity: M::ENTITY,
        pk_attr: M::PK_ATTR,
        sk_attr: M::SK_ATTR,
        pk: key.pk().map_err(err)?,
        sk: key.sk().map_err(err)?,
        schema_version_attr: M::SCHEMA_VERSION_ATTR,
    })
}

/// A stored item as a backend returns it.
#[derive(Debug, Clone)]
pub struct RawItem {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// The attributes.
    pub body: RawBody,
}

/// The attributes of a [`RawItem`].
#[derive(Debug, Clone)]
pub enum RawBody {
    /// Attribute values, as DynamoDB returns them (key attributes included).
    Attributes(Item),
    /// The Postgres store's `data` JSON (key attributes not included).
    Json(String),
    /// The item as DynamoDB JSON text (`{"PK":{"S":"..."},...}`, key attributes included), as
    /// an export to S3 holds it.
    DynamoDbJson(String),
}

impl RawItem {
    /// Decodes the item into `M`.
    pub fn decode<M: Model>(&self) -> Result<M, StoreError> {
        let err = |source: ImageError| StoreError::Decode {
            entity: M::ENTITY,
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            source,
        };
        let decoded = match &self.body {
            RawBody::Attributes(attrs) => {
                decode_model::<M>(&to_dynamodb_json(attrs), Binary::Tagged)
            }
            RawBody::DynamoDbJson(text) => decode_model::<M>(text, Binary::Tagged),
            RawBody::Json(text) => {
                let json = json::plain_to_dynamodb(text).map_err(|e| {
                    err(ImageError::new(
                        None,
                        format!("stored data is not a JSON object: {e}"),
                    ))
                })?;
                decode_model::<M>(&json, Binary::Base64Strings)
            }
        };
        decoded.map(|(m, _)| m).map_err(err)
    }
}

/// Where a query continues: the last key of the previous page, in the form its backend made
/// it (a backend reads only cursors it made).
#[derive(Debug, Clone)]
pub enum Cursor {
    /// Key attributes (DynamoDB's `LastEvaluatedKey`).
    Attributes(Item),
    /// The last row's keys (Postgres): index sort key (on an index), partition and sort key.
    Keys {
        /// The index's sort key, when querying an index.
        index_sk: Option<String>,
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
    /// A position in a source of files (an export): the file's index and the lines read.
    Offset {
        /// The file.
        part: usize,
        /// Lines of it already read.
        offset: u64,
    },
}

/// One page of a query, as a backend runs it.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// The index (`None`: the table) and its key attributes.
    pub index: Option<(&'static str, &'static str, &'static str)>,
    /// The table's key attributes.
    pub table_keys: (&'static str, &'static str),
    /// Partition key value.
    pub pk: String,
    /// Sort key prefix (may be empty).
    pub sk_prefix: String,
    /// Ascending sort-key order.
    pub forward: bool,
    /// Items per page.
    pub page_size: usize,
    /// Where to continue.
    pub start: Option<Cursor>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    /// Items in order.
    pub items: Vec<RawItem>,
    /// Where the next page starts; `None` when this is the last.
    pub next: Option<Cursor>,
}

/// A query over one partition of a model: the partition key and an optional sort-key prefix
/// from [`Model::Prefix`], on the table or one of the model's indexes. Results that share the
/// prefix but belong to another model are skipped.
#[derive(Debug, Clone)]
pub struct Query<M: Model> {
    prefix: M::Prefix,
    index: Option<String>,
    forward: bool,
    limit: Option<usize>,
    page_size: usize,
    _m: PhantomData<fn() -> M>,
}

impl<M: Model> Query<M> {
    /// A query for the partition the prefix names, in ascending sort-key order. The model is
    /// the prefix's.
    pub fn new<P>(prefix: P) -> Self
    where
        P: KeyPrefix<Model = M>,
        M: Model<Prefix = P>,
    {
        Query {
            prefix,
            index: None,
            forward: true,
            limit: None,
            page_size: 100,
            _m: PhantomData,
        }
    }

    /// Queries the named index (`#[dynastream(gsi(name = ...))]`) instead of the table.
    pub fn index(mut self, name: &str) -> Self {
        self.index = Some(name.to_string());
        self
    }

    /// Descending sort-key order.
    pub fn reverse(mut self) -> Self {
        self.forward = false;
        self
    }

    /// At most `n` items of this model.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Items fetched per request (default 100).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    fn request(&self) -> Result<PageRequest, StoreError> {
        let key = |source| StoreError::Key {
            entity: M::ENTITY,
            source,
        };
        let (index, position) = match &self.index {
            None => (None, None),
            Some(name) => {
                let i = M::indexes()
                    .iter()
                    .position(|s| s.name == name)
                    .ok_or_else(|| StoreError::UnknownIndex {
                        entity: M::ENTITY,
                        name: name.clone(),
                    })?;
                let s = &M::indexes()[i];
                (Some((s.name, s.pk_attr, s.sk_attr)), Some(i))
            }
        };
        Ok(PageRequest {
            index,
            table_keys: (M::PK_ATTR, M::SK_ATTR),
            pk: self.prefix.pk(position).map_err(key)?,
            sk_prefix: self.prefix.sk_prefix(position).map_err(key)?,
            forward: self.forward,
            page_size: self
                .limit
                .map_or(self.page_size, |l| l.clamp(1, self.page_size)),
            start: None,
        })
    }
}

/// A write of several items, all or nothing.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// # #[derive(Debug, serde::Serialize, serde::Deserialize, dynastream::Model)]
/// # #[dynastream(pk = "A#{id}", sk = "A")]
/// # struct A { id: String }
/// let mut tx = dynastream_store::Transaction::new();
/// tx.create(&A { id: "1".into() })?.delete::<A>(&AKey { id: "2".into() })?;
/// assert_eq!(tx.len(), 2);
/// assert!(tx.save(&A { id: "1".into() }).is_err()); // the same key twice
/// # Ok::<(), dynastream_store::StoreError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    ops: Vec<TxOp>,
    keys: HashSet<(String, String)>,
}

/// One operation of a [`Transaction`].
#[derive(Debug, Clone)]
pub enum TxOp {
    /// Write the item; with `must_not_exist`, fail the transaction if the key is taken.
    Put {
        /// The item.
        item: WriteItem,
        /// Create semantics.
        must_not_exist: bool,
    },
    /// Delete the item under the key (nothing if there is none).
    Delete(ItemKey),
}

impl TxOp {
    /// The key the operation writes.
    pub fn key(&self) -> &ItemKey {
        match self {
            TxOp::Put { item, .. } => &item.key,
            TxOp::Delete(k) => k,
        }
    }
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Operations so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// No operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations.
    pub fn ops(&self) -> &[TxOp] {
        &self.ops
    }

    fn push(&mut self, op: TxOp) -> Result<&mut Self, StoreError> {
        if self.ops.len() >= MAX_TRANSACTION_OPS {
            return Err(StoreError::InvalidTransaction(format!(
                "a transaction holds at most {MAX_TRANSACTION_OPS} operations"
            )));
        }
        let k = op.key();
        if !self.keys.insert((k.pk.clone(), k.sk.clone())) {
            return Err(StoreError::InvalidTransaction(format!(
                "{} / {} appears twice (DynamoDB allows one operation per item)",
                k.pk, k.sk
            )));
        }
        self.ops.push(op);
        Ok(self)
    }

    /// Saves `item` (replacing any item under its key).
    pub fn save<M: Model + Serialize>(&mut self, item: &M) -> Result<&mut Self, StoreError> {
        let item = WriteItem::of(item)?;
        self.push(TxOp::Put {
            item,
            must_not_exist: false,
        })
    }

    /// Creates `item`; the transaction fails if its key is taken.
    pub fn create<M: Model + Serialize>(&mut self, item: &M) -> Result<&mut Self, StoreError> {
        let item = WriteItem::of(item)?;
        self.push(TxOp::Put {
            item,
            must_not_exist: true,
        })
    }

    /// Deletes the item under `key`.
    pub fn delete<M: Model>(&mut self, key: &M::Key) -> Result<&mut Self, StoreError> {
        let key = item_key::<M>(key)?;
        self.push(TxOp::Delete(key))
    }
}

/// What a backend implements: the operations on prepared items, each one boxed future, so
/// the trait is object-safe. The typed API ([`Store`]) is built on these for every backend.
///
/// Implemented by `dynastream-dynamodb`'s `DynamoStore` and `dynastream-postgres`'s
/// `PgStore`; `Arc<B>`, `Box<B>` and `&B` forward to `B`.
pub trait Backend: Send + Sync {
    /// Writes an item; with `must_not_exist`, fails with [`StoreError::AlreadyExists`] if the
    /// key is taken.
    fn put(&self, item: WriteItem, must_not_exist: bool) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Reads the item under a key.
    fn fetch(&self, key: ItemKey) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>>;

    /// Deletes the item under a key; `true` if there was one.
    fn remove(&self, key: ItemKey) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// Runs one page of a query.
    fn page(&self, request: PageRequest) -> BoxFuture<'_, Result<Page, StoreError>>;

    /// Writes items (distinct keys), retrying what the backend leaves unwritten; reports the
    /// items it could not write in [`StoreError::BatchIncomplete`].
    fn put_batch(&self, items: Vec<WriteItem>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Applies operations all or nothing.
    fn write_transaction(&self, ops: Vec<TxOp>) -> BoxFuture<'_, Result<(), StoreError>>;
}

macro_rules! forward_backend {
    ($($t:ty),*) => {$(
        impl<B: Backend + ?Sized> Backend for $t {
            fn put(&self, item: WriteItem, must_not_exist: bool) -> BoxFuture<'_, Result<(), StoreError>> {
                (**self).put(item, must_not_exist)
            }
            fn fetch(&self, key: ItemKey) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
                (**self).fetch(key)
            }
            fn remove(&self, key: ItemKey) -> BoxFuture<'_, Result<bool, StoreError>> {
                (**self).remove(key)
            }
            fn page(&self, request: PageRequest) -> BoxFuture<'_, Result<Page, StoreError>> {
                (**self).page(request)
            }
            fn put_batch(&self, items: Vec<WriteItem>) -> BoxFuture<'_, Result<(), StoreError>> {
                (**self).put_batch(items)
            }
            fn write_transaction(&self, ops: Vec<TxOp>) -> BoxFuture<'_, Result<(), StoreError>> {
                (**self).write_transaction(ops)
            }
        }
    )*};
}

forward_backend!(Arc<B>, Box<B>, &B);

/// The typed API of every [`Backend`]: models saved, read, deleted and queried by their typed
/// keys. Implemented for every backend (`dyn Backend` too); nothing to implement.
pub trait Store: Backend {
    /// Saves `item` under its key, with its key attributes, index keys and `schema_version`,
    /// replacing any item there.
    fn save<M: Model + Serialize>(
        &self,
        item: &M,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let prepared = WriteItem::of(item);
        async move { self.put(prepared?, false).await }
    }

    /// Saves `item` only if nothing is stored under its key; otherwise
    /// [`StoreError::AlreadyExists`].
    fn create<M: Model + Serialize>(
        &self,
        item: &M,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let prepared = WriteItem::of(item);
        async move { self.put(prepared?, true).await }
    }

    /// The item under `key`; `None` when there is none.
    fn get<M: Model>(
        &self,
        key: &M::Key,
    ) -> impl Future<Output = Result<Option<M>, StoreError>> + Send {
        let key = item_key::<M>(key);
        async move {
            match self.fetch(key?).await? {
                Some(raw) => raw.decode::<M>().map(Some),
                None => Ok(None),
            }
        }
    }

    /// Deletes the item under `key`; `true` if there was one.
    fn delete<M: Model>(
        &self,
        key: &M::Key,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let key = item_key::<M>(key);
        async move { self.remove(key?).await }
    }

    /// The items of `M` in a partition, in sort-key byte order (or reversed), paging
    /// transparently. Items under the prefix whose keys belong to another model are skipped;
    /// an item whose keys match `M` but whose attributes do not decode is an error.
    fn query<M: Model>(&self, query: Query<M>) -> BoxStream<'_, Result<M, StoreError>> {
        struct State {
            request: PageRequest,
            buffer: VecDeque<RawItem>,
            more: bool,
            yielded: usize,
            limit: Option<usize>,
        }
        let request = match query.request() {
            Ok(r) => r,
            Err(e) => return stream::once(async move { Err(e) }).boxed(),
        };
        let state = State {
            request,
            buffer: VecDeque::new(),
            more: true,
            yielded: 0,
            limit: query.limit,
        };
        stream::unfold(Some(state), move |state| async move {
            let mut st = state?;
            loop {
                if st.limit.is_some_and(|l| st.yielded >= l) {
                    return None;
                }
                if let Some(raw) = st.buffer.pop_front() {
                    if <M::Key as ModelKey>::from_keys(&raw.pk, &raw.sk).is_none() {
                        continue; // another model under the same prefix
                    }
                    st.yielded += 1;
                    let item = raw.decode::<M>();
                    return Some((item, Some(st)));
                }
                if !st.more {
                    return None;
                }
                match self.page(st.request.clone()).await {
                    Ok(page) => {
                        st.more = page.next.is_some();
                        st.request.start = page.next;
                        st.buffer.extend(page.items);
                    }
                    Err(e) => return Some((Err(e), None)),
                }
            }
        })
        .boxed()
    }

    /// Saves many items of one model. Of items with the same key the last one is written.
    /// Items the backend leaves unwritten are retried with backoff; those that still fail are
    /// reported in [`StoreError::BatchIncomplete`] (the rest are written).
    fn batch_save<M: Model + Serialize>(
        &self,
        items: &[M],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let prepared: Result<Vec<WriteItem>, StoreError> =
            items.iter().map(WriteItem::of).collect();
        async move {
            let mut prepared = prepared?;
            // Keep the last item per key, in first-seen order.
            let mut last: HashMap<(String, String), usize> = HashMap::new();
            for (i, w) in prepared.iter().enumerate() {
                last.insert((w.key.pk.clone(), w.key.sk.clone()), i);
            }
            let mut i = 0;
            prepared.retain(|w| {
                let keep = last.get(&(w.key.pk.clone(), w.key.sk.clone())) == Some(&i);
                i += 1;
                keep
            });
            if prepared.is_empty() {
                return Ok(());
            }
            self.put_batch(prepared).await
        }
    }

    /// Applies a [`Transaction`]: every operation or none.
    fn transact(&self, tx: Transaction) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            if tx.ops.is_empty() {
                return Ok(());
            }
            self.write_transaction(tx.ops).await
        }
    }
}

impl<B: Backend + ?Sized> Store for B {}
