//! [`AppStore`]: the store the command line chose, as one type handlers can hold.

#[cfg(any(feature = "dynamodb", feature = "postgres"))]
use dynastream_store::{
    Backend, BoxFuture, ItemKey, Page, PageRequest, RawItem, StoreError, TxOp, WriteItem,
};

/// The store `--store` (or `TABLE_NAME` under Lambda) names: DynamoDB (feature `dynamodb`) or
/// Postgres on the mirror's table layout (feature `postgres`). It implements
/// [`Store`](dynastream_store::Store), so handlers use it like either backend.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppStore {
    /// A DynamoDB table.
    #[cfg(feature = "dynamodb")]
    Dynamo(crate::dynamodb::DynamoStore),
    /// A Postgres table in the mirror's layout.
    #[cfg(feature = "postgres")]
    Postgres(Box<crate::postgres::PgStore>),
}

impl AppStore {
    /// What it is, for messages: `DynamoDB table app`, `Postgres table public.items`.
    pub fn describe(&self) -> String {
        match *self {
            #[cfg(feature = "dynamodb")]
            AppStore::Dynamo(ref s) => format!("DynamoDB table {}", s.table()),
            #[cfg(feature = "postgres")]
            AppStore::Postgres(ref s) => format!("Postgres table {}", s.table()),
        }
    }
}

#[cfg(any(feature = "dynamodb", feature = "postgres"))]
impl AppStore {
    /// The backend itself.
    fn backend(&self) -> &dyn Backend {
        match *self {
            #[cfg(feature = "dynamodb")]
            AppStore::Dynamo(ref s) => s,
            #[cfg(feature = "postgres")]
            AppStore::Postgres(ref s) => &**s,
        }
    }
}

/// Each operation is the chosen backend's.
#[cfg(any(feature = "dynamodb", feature = "postgres"))]
impl Backend for AppStore {
    fn put(&self, item: WriteItem, must_not_exist: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        self.backend().put(item, must_not_exist)
    }

    fn fetch(&self, key: ItemKey) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        self.backend().fetch(key)
    }

    fn remove(&self, key: ItemKey) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.backend().remove(key)
    }

    fn page(&self, request: PageRequest) -> BoxFuture<'_, Result<Page, StoreError>> {
        self.backend().page(request)
    }

    fn put_batch(&self, items: Vec<WriteItem>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.backend().put_batch(items)
    }

    fn write_transaction(&self, ops: Vec<TxOp>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.backend().write_transaction(ops)
    }
}
