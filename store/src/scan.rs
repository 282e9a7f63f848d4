//! Reading every item of a table, in parallel segments: what a backfill copies and a verify
//! compares. DynamoDB's parallel Scan (`Segment` / `TotalSegments`) is the model; the Postgres
//! store and [`MemoryTable`] split their rows the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;

use crate::{BoxFuture, Cursor, Item, RawBody, RawItem, StoreError, Value};

/// One page of one segment of a parallel scan.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// The segment, `0..total_segments`.
    pub segment: u32,
    /// How many segments the scan is split into (DynamoDB allows 1 to 1,000,000).
    pub total_segments: u32,
    /// Strongly consistent reads (DynamoDB's `ConsistentRead`; twice the read capacity).
    pub consistent: bool,
    /// Items per page at most (DynamoDB's `Limit`; it also stops a page at 1 MB).
    pub page_size: usize,
    /// Where the segment continues: the previous page's [`ScanPage::next`].
    pub start: Option<Cursor>,
}

/// One page of a scan.
#[derive(Debug, Clone)]
pub struct ScanPage {
    /// The items: for DynamoDB every attribute, the key attributes included.
    pub items: Vec<RawItem>,
    /// Where the segment continues; `None` when it is done.
    pub next: Option<Cursor>,
}

/// What a scan source knows about its table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableInfo {
    /// The table's name.
    pub name: String,
    /// The table's ARN (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`), when it has one.
    pub arn: Option<String>,
    /// The ARN of the table's current stream, when one is enabled (DynamoDB's
    /// `LatestStreamArn`).
    pub latest_stream_arn: Option<String>,
    /// The partition key and sort key attribute names (`""` for no sort key), when known.
    pub key_attributes: Option<(String, String)>,
    /// About how many items the table holds (DynamoDB updates `ItemCount` about every six
    /// hours), for progress estimates only.
    pub item_count: Option<u64>,
    /// For a snapshot of the table (an export): which one (its ARN, else its time).
    pub export: Option<String>,
}

/// A table that can be read whole, in parallel segments, and item by item. Object-safe: a
/// command holds an `Arc<dyn TableScan>` of whichever source it was given.
pub trait TableScan: Send + Sync {
    /// What the source knows about its table.
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>>;

    /// One page of one segment. The segments of one `total_segments` together hold every
    /// item once (of a table nobody writes to meanwhile).
    fn scan_page(&self, request: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>>;

    /// The item under partition key `pk` and sort key `sk` (as [`key_text`] writes them; `sk`
    /// `""` for a table with a partition key only), read strongly consistent where the source
    /// has a choice; `None` when there is none.
    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>>;
}

macro_rules! forward_scan {
    ($($t:ty),*) => {$(
        impl<T: TableScan + ?Sized> TableScan for $t {
            fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
                (**self).describe()
            }
            fn scan_page(&self, request: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
                (**self).scan_page(request)
            }
            fn read_item(&self, pk: String, sk: String) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
                (**self).read_item(pk, sk)
            }
        }
    )*};
}

forward_scan!(Arc<T>, Box<T>, &T);

/// A key attribute's value as the mirror's `pk` / `sk` text: an S as it is, an N as its
/// digits, a B as base64 (as a stream record's `Keys` carries it). `None` for other types,
/// which DynamoDB does not allow in keys.
pub fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::S(s) | Value::N(s) => Some(s.clone()),
        Value::B(b) => Some(base64::engine::general_purpose::STANDARD.encode(b)),
        _ => None,
    }
}

/// The segment (`0..total`) a key belongs to in a source that splits its rows itself: the
/// 64-bit FNV-1a hash of the partition key, a 0xFF byte (never in UTF-8) and the sort key, so
/// segments get about equal shares whatever the keys look like, and a key's segment is the same
/// in every build.
pub fn segment_of(pk: &str, sk: &str, total: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in pk.bytes().chain(std::iter::once(0xFF)).chain(sk.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(total.max(1))) as u32
}

impl Cursor {
    /// The cursor as text, to save between runs (a backfill keeps each segment's in its
    /// database): JSON, `{"attributes": <DynamoDB JSON>}` or `{"keys": {"pk": ..., "sk": ...}}`.
    pub fn to_text(&self) -> String {
        match self {
            Cursor::Attributes(item) => {
                format!("{{\"attributes\":{}}}", crate::to_dynamodb_json(item))
            }
            Cursor::Keys { index_sk, pk, sk } => serde_json::json!({
                "keys": {"index_sk": index_sk, "pk": pk, "sk": sk}
            })
            .to_string(),
            Cursor::Offset { part, offset } => {
                serde_json::json!({"offset": {"part": part, "offset": offset}}).to_string()
            }
        }
    }

    /// Reads a cursor [`to_text`](Self::to_text) wrote.
    pub fn from_text(text: &str) -> Result<Cursor, StoreError> {
        let bad = |why: String| StoreError::Backend {
            operation: "reading a saved cursor",
            message: format!("{why}: {text:?}"),
            source: None,
        };
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e})")))?;
        if let Some(attrs) = v.get("attributes").and_then(serde_json::Value::as_object) {
            let mut item = Item::with_capacity(attrs.len());
            for (name, value) in attrs {
                item.insert(name.clone(), from_dynamodb_json(value).map_err(bad)?);
            }
            return Ok(Cursor::Attributes(item));
        }
        if let Some(o) = v.get("offset") {
            let n = |name: &str| o.get(name).and_then(serde_json::Value::as_u64);
            return match (n("part"), n("offset")) {
                (Some(part), Some(offset)) => Ok(Cursor::Offset {
                    part: part as usize,
                    offset,
                }),
                _ => Err(bad("offset without part and offset".into())),
            };
        }
        let keys = v
            .get("keys")
            .ok_or_else(|| bad("neither attributes, keys nor offset".into()))?;
        let text_of = |name: &str| keys.get(name).and_then(serde_json::Value::as_str);
        match (text_of("pk"), text_of("sk")) {
            (Some(pk), Some(sk)) => Ok(Cursor::Keys {
                index_sk: text_of("index_sk").map(str::to_string),
                pk: pk.to_string(),
                sk: sk.to_string(),
            }),
            _ => Err(bad("keys without pk and sk".into())),
        }
    }
}

/// One DynamoDB JSON attribute value (`{"S": "x"}`, `{"M": {...}}`) as a [`Value`].
pub fn from_dynamodb_json(v: &serde_json::Value) -> Result<Value, String> {
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| format!("not an attribute value: {v}"))?;
    let (tag, inner) = obj.iter().next().ok_or("empty attribute value")?;
    let text = |x: &serde_json::Value| {
        x.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{tag} is not a string: {x}"))
    };
    let texts = |x: &serde_json::Value| -> Result<Vec<String>, String> {
        x.as_array()
            .ok_or_else(|| format!("{tag} is not an array: {x}"))?
            .iter()
            .map(text)
            .collect()
    };
    let bytes = |s: String| {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| format!("{tag} is not base64: {e}"))
    };
    Ok(match tag.as_str() {
        "S" => Value::S(text(inner)?),
        "N" => Value::N(text(inner)?),
        "B" => Value::B(bytes(text(inner)?)?),
        "BOOL" => Value::Bool(inner.as_bool().ok_or("BOOL is not a boolean")?),
        "NULL" => Value::Null,
        "SS" => Value::Ss(texts(inner)?),
        "NS" => Value::Ns(texts(inner)?),
        "BS" => Value::Bs(
            texts(inner)?
                .into_iter()
                .map(bytes)
                .collect::<Result<_, _>>()?,
        ),
        "L" => Value::L(
            inner
                .as_array()
                .ok_or("L is not an array")?
                .iter()
                .map(from_dynamodb_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => Value::M(
            inner
                .as_object()
                .ok_or("M is not an object")?
                .iter()
                .map(|(k, x)| Ok((k.clone(), from_dynamodb_json(x)?)))
                .collect::<Result<HashMap<_, _>, String>>()?,
        ),
        other => return Err(format!("unknown attribute type {other:?}")),
    })
}

/// A table in memory: for tests and benchmarks of what reads tables (a backfill measured
/// without a server). Items are split into segments by [`segment_of`] and each segment read in
/// key order; a page's cursor is its last key.
#[derive(Debug, Clone, Default)]
pub struct MemoryTable {
    info: TableInfo,
    pk_attr: String,
    sk_attr: String,
    items: BTreeMap<(String, String), Item>,
}

impl MemoryTable {
    /// An empty table with key attributes `pk_attr` and `sk_attr` (`""`: no sort key), whose
    /// [`describe`](TableScan::describe) answers `info` (its key attributes and item count
    /// filled in).
    pub fn new(pk_attr: &str, sk_attr: &str, info: TableInfo) -> Self {
        MemoryTable {
            info,
            pk_attr: pk_attr.to_string(),
            sk_attr: sk_attr.to_string(),
            items: BTreeMap::new(),
        }
    }

    /// The key of `item`, or why it has none.
    fn key_of(&self, item: &Item) -> Result<(String, String), StoreError> {
        let text = |attr: &str| {
            if attr.is_empty() {
                return Ok(String::new());
            }
            item.get(attr)
                .and_then(key_text)
                .ok_or_else(|| StoreError::Backend {
                    operation: "MemoryTable::put",
                    message: format!("the item has no key attribute {attr} of type S, N or B"),
                    source: None,
                })
        };
        Ok((text(&self.pk_attr)?, text(&self.sk_attr)?))
    }

    /// The key attribute names.
    pub fn key_attributes(&self) -> (&str, &str) {
        (&self.pk_attr, &self.sk_attr)
    }

    /// Writes `item` (every attribute, keys included), replacing any under its key.
    pub fn put(&mut self, item: Item) -> Result<(), StoreError> {
        let key = self.key_of(&item)?;
        self.items.insert(key, item);
        Ok(())
    }

    /// Deletes the item under `pk` / `sk`; `true` if there was one.
    pub fn delete(&mut self, pk: &str, sk: &str) -> bool {
        self.items
            .remove(&(pk.to_string(), sk.to_string()))
            .is_some()
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl TableScan for MemoryTable {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        let mut info = self.info.clone();
        info.key_attributes = Some((self.pk_attr.clone(), self.sk_attr.clone()));
        info.item_count = Some(self.items.len() as u64);
        Box::pin(async move { Ok(info) })
    }

    fn scan_page(&self, r: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        Box::pin(async move {
            use std::ops::Bound;
            let from = match &r.start {
                None => Bound::Unbounded,
                Some(Cursor::Keys { pk, sk, .. }) => Bound::Excluded((pk.clone(), sk.clone())),
                Some(_) => {
                    return Err(StoreError::Backend {
                        operation: "MemoryTable::scan_page",
                        message: "a cursor of another backend".into(),
                        source: None,
                    })
                }
            };
            let mut items = Vec::new();
            let mut last = None;
            for ((pk, sk), item) in self.items.range((from, Bound::Unbounded)) {
                if segment_of(pk, sk, r.total_segments) != r.segment {
                    continue;
                }
                items.push(RawItem {
                    pk: pk.clone(),
                    sk: sk.clone(),
                    body: RawBody::Attributes(item.clone()),
                });
                last = Some((pk, sk));
                if items.len() >= r.page_size.max(1) {
                    break;
                }
            }
            // Like DynamoDB, a full page names a cursor even when nothing follows it.
            let next = match last {
                Some((pk, sk)) if items.len() >= r.page_size.max(1) => Some(Cursor::Keys {
                    index_sk: None,
                    pk: pk.clone(),
                    sk: sk.clone(),
                }),
                _ => None,
            };
            Ok(ScanPage { items, next })
        })
    }

    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .items
                .get(&(pk.clone(), sk.clone()))
                .map(|item| RawItem {
                    pk,
                    sk,
                    body: RawBody::Attributes(item.clone()),
                }))
        })
    }
}

/// Every key `source` holds, read segment by segment in pages of `page_size`, each cursor
/// passed through its text as a resumed backfill's is; sorted.
#[cfg(test)]
pub(crate) async fn scan_all(
    source: &dyn TableScan,
    total: u32,
    page_size: usize,
) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for segment in 0..total {
        let mut start = None;
        loop {
            let page = source
                .scan_page(ScanRequest {
                    segment,
                    total_segments: total,
                    consistent: false,
                    page_size,
                    start: start.take(),
                })
                .await
                .unwrap();
            seen.extend(page.items.into_iter().map(|i| (i.pk, i.sk)));
            match page.next {
                Some(c) => start = Some(Cursor::from_text(&c.to_text()).unwrap()),
                None => break,
            }
        }
    }
    seen.sort();
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pk: &str, sk: &str, n: u32) -> Item {
        Item::from([
            ("PK".to_string(), Value::S(pk.into())),
            ("SK".to_string(), Value::S(sk.into())),
            ("n".to_string(), Value::N(n.to_string())),
        ])
    }

    #[tokio::test]
    async fn the_segments_of_a_scan_hold_every_item_once() {
        let mut t = MemoryTable::new("PK", "SK", TableInfo::default());
        for i in 0..500 {
            t.put(item(&format!("P#{}", i % 37), &format!("S#{i}"), i))
                .unwrap();
        }
        let mut all: Vec<_> = t.items.keys().cloned().collect();
        all.sort();
        for total in [1, 3, 8] {
            assert_eq!(scan_all(&t, total, 7).await, all, "{total} segments");
        }
    }

    #[test]
    fn cursors_and_values_round_trip_through_text() {
        let c = Cursor::Attributes(Item::from([
            ("PK".to_string(), Value::S("a\"b".into())),
            ("n".to_string(), Value::N("-1.5E3".into())),
            ("b".to_string(), Value::B(vec![0, 255])),
            (
                "m".to_string(),
                Value::M(HashMap::from([(
                    "l".to_string(),
                    Value::L(vec![
                        Value::Null,
                        Value::Bool(true),
                        Value::Ss(vec!["x".into()]),
                    ]),
                )])),
            ),
        ]));
        let back = Cursor::from_text(&c.to_text()).unwrap();
        assert_eq!(back.to_text(), c.to_text());
        let k = Cursor::Keys {
            index_sk: None,
            pk: "p".into(),
            sk: "".into(),
        };
        assert_eq!(
            Cursor::from_text(&k.to_text()).unwrap().to_text(),
            k.to_text()
        );
        for bad in [
            "",
            "{}",
            "{\"keys\":{}}",
            "{\"attributes\":{\"a\":{\"X\":1}}}",
        ] {
            assert!(Cursor::from_text(bad).is_err(), "{bad}");
        }
    }
}
