//! The handoff from backfill to stream, as a property: a table with a history older than the
//! stream's window, then changes the stream records — before the scan starts, while it runs
//! (between its pages) and after it ends. Stream batches are delivered before, during and after
//! the backfill, with duplicates and old batches delivered again. However that interleaves, the
//! mirror's live rows equal the final table.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use dynastream::postgres::{BackfillOptions, Mirror, MirrorConfig};
use dynastream::store::{
    from_dynamodb_json, BoxFuture, Item, MemoryTable, RawItem, ScanPage, ScanRequest, StoreError,
    TableInfo, TableScan,
};
use dynastream::Router;
use dynastream_example_models::UserProfile;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use support::pg::{self, event, record};

const ITEMS: usize = 6;
const STREAM: &str =
    "arn:aws:dynamodb:us-east-1:123456789012:table/app/stream/2024-01-01T00:00:00.000";

#[derive(Debug, Clone)]
enum Op {
    Put(usize, u32),
    Delete(usize),
}

fn ops(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..ITEMS, 0u32..50).prop_map(|(i, v)| Op::Put(i, v)),
        1 => (0..ITEMS).prop_map(Op::Delete),
    ];
    proptest::collection::vec(op, n)
}

fn keys(item: usize) -> (String, String) {
    if item < ITEMS - 1 {
        (format!("USER#u{item}"), "PROFILE".into())
    } else {
        ("MISC#x".into(), "y".into())
    }
}

/// The item's image without keys (DynamoDB JSON) and the JSON the mirror should hold.
fn image(item: usize, v: u32) -> (Value, Value) {
    if item < ITEMS - 1 {
        (
            json!({"owner": {"S": format!("u{item}")}, "display_name": {"S": format!("n{v}")}, "email": {"S": "e@x"}}),
            json!({"owner": format!("u{item}"), "display_name": format!("n{v}"), "email": "e@x"}),
        )
    } else {
        (json!({"v": {"N": v.to_string()}}), json!({"v": v}))
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// The table and its stream, as the history unfolds.
struct World {
    table: MemoryTable,
    /// item → value, the table's state.
    values: BTreeMap<usize, u32>,
    /// Records the stream holds (those of changes made inside its window).
    records: Vec<Value>,
    /// Changes still to come, applied between scan pages and after the scan.
    pending: std::collections::VecDeque<Op>,
    /// How far the consumer has delivered, and the batches it sent (to send again).
    delivered: usize,
    sent: Vec<Vec<Value>>,
    rng: Rng,
}

impl World {
    /// Applies `op`; inside the stream's window it also records the change.
    fn apply(&mut self, op: &Op, recorded: bool) {
        let seq = format!(
            "4966804234949861659113000{:020}",
            self.records.len() * 3 + 1
        );
        let item = match *op {
            Op::Put(i, _) | Op::Delete(i) => i,
        };
        let k = keys(item);
        let old = self.values.get(&item).map(|v| image(item, *v).0);
        let rec = match *op {
            Op::Put(_, v) => {
                if self.values.get(&item) == Some(&v) {
                    return;
                }
                let (img, _) = image(item, v);
                let mut attrs: Item = img
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(n, a)| (n.clone(), from_dynamodb_json(a).unwrap()))
                    .collect();
                attrs.insert("PK".into(), dynastream::store::Value::S(k.0.clone()));
                attrs.insert("SK".into(), dynastream::store::Value::S(k.1.clone()));
                self.table.put(attrs).unwrap();
                self.values.insert(item, v);
                let kind = if old.is_some() { "MODIFY" } else { "INSERT" };
                record(kind, &seq, (&k.0, &k.1), Some(img), old)
            }
            Op::Delete(_) => {
                if !self.table.delete(&k.0, &k.1) {
                    return;
                }
                self.values.remove(&item);
                record("REMOVE", &seq, (&k.0, &k.1), None, old)
            }
        };
        if recorded {
            self.records.push(rec);
        }
    }

    /// What the consumer delivers next, if anything: a batch of new records (one maybe twice),
    /// or an old batch again.
    fn next_batch(&mut self) -> Option<Vec<Value>> {
        if !self.sent.is_empty() && self.rng.next(4) == 0 {
            let i = self.rng.next(self.sent.len());
            return Some(self.sent[i].clone());
        }
        if self.delivered >= self.records.len() {
            return None;
        }
        let end = (self.delivered + 1 + self.rng.next(4)).min(self.records.len());
        let mut batch = self.records[self.delivered..end].to_vec();
        if self.rng.next(4) == 0 {
            let i = self.rng.next(batch.len());
            batch.insert(i + 1, batch[i].clone());
        }
        self.delivered = end;
        self.sent.push(batch.clone());
        Some(batch)
    }
}

/// The table as the backfill sees it: before each page, the test's driver (on the test's own
/// task) lets the history go on and the stream's consumer deliver a batch, then answers.
struct Live {
    world: Arc<Mutex<World>>,
    between_pages: tokio::sync::mpsc::UnboundedSender<tokio::sync::oneshot::Sender<()>>,
}

/// Delivers `batch` through the router: the stream's consumer.
async fn deliver(router: &Router<()>, batch: Option<Vec<Value>>) -> Result<(), String> {
    let Some(batch) = batch else { return Ok(()) };
    let report = router
        .handle_event(&event(&batch), Default::default())
        .await
        .map_err(|e| e.to_string())?;
    if report.has_failures() {
        return Err(format!("{:?}", report.records));
    }
    Ok(())
}

/// What happens between two scan pages: some changes, maybe a delivered batch.
async fn between_pages(world: &Mutex<World>, router: &Router<()>) -> Result<(), String> {
    let batch = {
        let mut w = world.lock().unwrap();
        for _ in 0..w.rng.next(3) {
            if let Some(op) = w.pending.pop_front() {
                w.apply(&op, true);
            }
        }
        if w.rng.next(2) == 0 {
            w.next_batch()
        } else {
            None
        }
    };
    deliver(router, batch).await
}

impl TableScan for Live {
    fn describe(&self) -> BoxFuture<'_, Result<TableInfo, StoreError>> {
        let table = self.world.lock().unwrap().table.clone();
        Box::pin(async move { table.describe().await })
    }

    fn scan_page(&self, request: ScanRequest) -> BoxFuture<'_, Result<ScanPage, StoreError>> {
        Box::pin(async move {
            let (done, wait) = tokio::sync::oneshot::channel();
            let gone = |_| StoreError::Backend {
                operation: "Scan",
                message: "the test's driver stopped".into(),
                source: None,
            };
            self.between_pages.send(done).map_err(|_| gone(()))?;
            wait.await.map_err(|_| gone(()))?;
            let table = self.world.lock().unwrap().table.clone();
            table.scan_page(request).await
        })
    }

    fn read_item(
        &self,
        pk: String,
        sk: String,
    ) -> BoxFuture<'_, Result<Option<RawItem>, StoreError>> {
        let table = self.world.lock().unwrap().table.clone();
        Box::pin(async move { table.read_item(pk, sk).await })
    }
}

#[test]
fn after_a_backfill_and_the_stream_the_mirror_equals_the_table() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (router, mirror, schema) = rt.block_on(async {
        let schema = pg::fresh_schema("handoff").await;
        let mirror = Arc::new(Mirror::new(
            MirrorConfig::new(&pg::database_url())
                .unwrap()
                .schema(&schema)
                .unwrap()
                .table("items")
                .unwrap(),
        ));
        let router = Router::builder(())
            .model::<UserProfile>()
            .hook(Arc::clone(&mirror))
            .build()
            .unwrap();
        router.start().await.unwrap();
        (Arc::new(router), mirror, schema)
    });
    let client = rt.block_on(pg::client());
    let mut runner = TestRunner::new(Config {
        cases: 40,
        ..Config::default()
    });
    let cases = (
        ops(0..12),
        ops(0..12),
        ops(0..12),
        1u32..4,
        1usize..4,
        any::<u64>(),
    );
    let result = runner.run(&cases, |(old, window, during, segments, page, seed)| {
        rt.block_on(async {
            let fail = |e: String| TestCaseError::fail(e);
            client
                .batch_execute(&format!(
                    "TRUNCATE {schema}.items; DROP TABLE IF EXISTS {schema}.dynastream_backfill"
                ))
                .await
                .map_err(|e| fail(e.to_string()))?;
            let info = TableInfo {
                name: "app".into(),
                arn: Some("arn:aws:dynamodb:us-east-1:123456789012:table/app".into()),
                latest_stream_arn: Some(STREAM.into()),
                ..TableInfo::default()
            };
            let mut world = World {
                table: MemoryTable::new("PK", "SK", info),
                values: BTreeMap::new(),
                records: Vec::new(),
                pending: during.into_iter().collect(),
                delivered: 0,
                sent: Vec::new(),
                rng: Rng(seed | 1),
            };
            // Older than the stream's 24 hours: in the table, not in the stream.
            for op in &old {
                world.apply(op, false);
            }
            // Inside the window, before the backfill starts; the consumer may deliver some.
            for op in &window {
                world.apply(op, true);
            }
            let world = Arc::new(Mutex::new(world));
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let live = Live {
                world: Arc::clone(&world),
                between_pages: tx,
            };
            let early = world.lock().unwrap().next_batch();
            deliver(&router, early).await.map_err(fail)?;
            let options = BackfillOptions::new().segments(segments).page_size(page);
            // The backfill and the driver on this one task: the driver runs between pages.
            let backfill = mirror.backfill(&live, &options, &|_| {});
            tokio::pin!(backfill);
            let summary = loop {
                tokio::select! {
                    result = &mut backfill => break result.map_err(|e| fail(format!("backfill: {e}")))?,
                    Some(done) = rx.recv() => {
                        between_pages(&world, &router).await.map_err(fail)?;
                        let _ = done.send(());
                    }
                }
            };
            prop_assert!(summary.refused.is_empty());
            // The rest of the history, and the consumer catching up, with late duplicates.
            loop {
                let (batch, more) = {
                    let mut w = world.lock().unwrap();
                    if let Some(op) = w.pending.pop_front() {
                        w.apply(&op, true);
                    }
                    let more = !w.pending.is_empty() || w.delivered < w.records.len();
                    (w.next_batch(), more)
                };
                deliver(&router, batch).await.map_err(fail)?;
                if !more {
                    break;
                }
            }
            let want: BTreeMap<(String, String), Value> = world
                .lock()
                .unwrap()
                .values
                .iter()
                .map(|(item, v)| (keys(*item), image(*item, *v).1))
                .collect();
            let rows = client
                .query(
                    &format!("SELECT pk, sk, data::text FROM {schema}.items WHERE NOT deleted"),
                    &[],
                )
                .await
                .map_err(|e| fail(e.to_string()))?;
            let live_rows: BTreeMap<(String, String), Value> = rows
                .iter()
                .map(|r| {
                    let data: String = r.get(2);
                    ((r.get(0), r.get(1)), serde_json::from_str(&data).unwrap())
                })
                .collect();
            prop_assert_eq!(live_rows, want);
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
