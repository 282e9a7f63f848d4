//! Convergence, as a property: random histories of writes over a few items produce a stream;
//! the stream is cut into batches at random and delivered the way Lambda may deliver it —
//! duplicated records, retries from the reported record after a handler failure, old batches
//! delivered again — and the mirror's live rows must equal the final table, with deleted items
//! staying deleted.

mod support;

use dynastream::postgres::Mirror;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use dynastream::postgres::MirrorConfig;
use dynastream::{Change, Context, Router};
use dynastream_example_models::UserProfile;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use support::pg::{self, event, record};

#[derive(Debug, Clone)]
enum Op {
    Put(usize, u32),
    Delete(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..ITEMS, 0u32..1000).prop_map(|(i, v)| Op::Put(i, v)),
        1 => (0..ITEMS).prop_map(Op::Delete),
    ];
    proptest::collection::vec(op, 1..40)
}

/// Items 0..3 are user profiles (matched); item 3 matches no model.
const ITEMS: usize = 4;

fn keys(item: usize) -> (String, String) {
    if item < 3 {
        (format!("USER#u{item}"), "PROFILE".into())
    } else {
        ("MISC#日本".into(), "x_%".into())
    }
}

/// The item's image (DynamoDB JSON, without keys) and the JSON the mirror should hold.
fn image(item: usize, v: u32) -> (Value, Value) {
    if item < 3 {
        (
            json!({"owner": {"S": format!("u{item}")}, "display_name": {"S": format!("n{v}")}, "email": {"S": "e@x"}, "age": {"N": v.to_string()}}),
            json!({"owner": format!("u{item}"), "display_name": format!("n{v}"), "email": "e@x", "age": v}),
        )
    } else {
        (json!({"v": {"N": v.to_string()}}), json!({"v": v}))
    }
}

/// The stream a history produces (DynamoDB emits nothing for a delete of a missing item or a
/// put that changes nothing), and the final table: item → expected mirror JSON.
fn stream(ops: &[Op]) -> (Vec<Value>, BTreeMap<usize, (u32, Value)>) {
    let mut table: BTreeMap<usize, (u32, Value)> = BTreeMap::new();
    let mut records = Vec::new();
    // Sequence numbers wider than u64, as real ones are.
    let seq = |n: usize| format!("4966804234949861659113000{:020}", n * 7 + 1);
    for op in ops {
        let n = records.len();
        match *op {
            Op::Put(item, v) => {
                let (img, want) = image(item, v);
                let k = keys(item);
                match table.get(&item) {
                    Some((old_v, _)) if *old_v == v => continue,
                    Some((old_v, _)) => {
                        let (old, _) = image(item, *old_v);
                        records.push(record(
                            "MODIFY",
                            &seq(n),
                            (&k.0, &k.1),
                            Some(img),
                            Some(old),
                        ));
                    }
                    None => records.push(record("INSERT", &seq(n), (&k.0, &k.1), Some(img), None)),
                }
                table.insert(item, (v, want));
            }
            Op::Delete(item) => {
                if let Some((old_v, _)) = table.remove(&item) {
                    let (old, _) = image(item, old_v);
                    let k = keys(item);
                    records.push(record("REMOVE", &seq(n), (&k.0, &k.1), None, Some(old)));
                }
            }
        }
    }
    (records, table)
}

/// Sequence numbers whose handler fails once.
#[derive(Default)]
struct State {
    fail_once: Mutex<HashSet<String>>,
}

async fn handler(change: Change<UserProfile>, ctx: Context<State>) -> Result<(), String> {
    let seq = &change.meta.sequence_number;
    if ctx
        .state()
        .fail_once
        .lock()
        .map_err(|e| e.to_string())?
        .remove(seq.as_str())
    {
        return Err(format!("injected failure at {seq}"));
    }
    Ok(())
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn seq_of(r: &Value) -> String {
    r["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn deliver(router: &Router<State>, records: &[Value], seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed | 1);
    let mut sent: Vec<Vec<Value>> = Vec::new();
    let mut pos = 0;
    let mut guard = 0;
    while pos < records.len() {
        guard += 1;
        if guard > 10_000 {
            return Err("delivery did not finish".into());
        }
        // An old batch delivered again, out of order.
        if !sent.is_empty() && rng.next(4) == 0 {
            let old = sent[rng.next(sent.len())].clone();
            router
                .handle_event(&event(&old), Default::default())
                .await
                .map_err(|e| e.to_string())?;
        }
        let end = (pos + 1 + rng.next(6)).min(records.len());
        let mut batch: Vec<Value> = records[pos..end].to_vec();
        // A record delivered twice in the batch.
        if rng.next(4) == 0 {
            let i = rng.next(batch.len());
            batch.insert(i + 1, batch[i].clone());
        }
        // A handler that fails once on some record of the batch.
        if rng.next(3) == 0 {
            let s = seq_of(&batch[rng.next(batch.len())]);
            router
                .state()
                .fail_once
                .lock()
                .map_err(|e| e.to_string())?
                .insert(s);
        }
        let report = router
            .handle_event(&event(&batch), Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let failures = report.response().batch_item_failures;
        sent.push(batch);
        pos = match failures.first() {
            // Lambda resumes from the reported record.
            Some(f) => records
                .iter()
                .position(|r| seq_of(r) == f.item_identifier)
                .ok_or("reported an unknown sequence number")?,
            None => end,
        };
    }
    // Late duplicates of anything already delivered.
    for _ in 0..2 {
        if !sent.is_empty() {
            let old = sent[rng.next(sent.len())].clone();
            router
                .handle_event(&event(&old), Default::default())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[test]
fn the_mirror_converges_to_the_table_however_batches_are_delivered() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (router, schema) = rt.block_on(async {
        let schema = pg::fresh_schema("convergence").await;
        let router = Router::builder(State::default())
            .on::<UserProfile, _>(handler)
            .hook(Mirror::new(
                MirrorConfig::new(&pg::database_url())
                    .unwrap()
                    .schema(&schema)
                    .unwrap()
                    .table("items")
                    .unwrap(),
            ))
            .build()
            .unwrap();
        router.start().await.unwrap();
        (router, schema)
    });
    let client = rt.block_on(pg::client());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let result = runner.run(&(ops(), any::<u64>()), |(ops, seed)| {
        rt.block_on(async {
            client
                .batch_execute(&format!("TRUNCATE {schema}.items"))
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (records, table) = stream(&ops);
            deliver(&router, &records, seed)
                .await
                .map_err(TestCaseError::fail)?;
            let rows = client
                .query(
                    &format!("SELECT pk, sk, data::text, deleted FROM {schema}.items"),
                    &[],
                )
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut live: BTreeMap<(String, String), Value> = BTreeMap::new();
            let mut dead: HashSet<(String, String)> = HashSet::new();
            for r in &rows {
                let key = (r.get::<_, String>(0), r.get::<_, String>(1));
                if r.get::<_, bool>(3) {
                    dead.insert(key);
                } else {
                    let data: Option<String> = r.get(2);
                    let v = serde_json::from_str(data.as_deref().unwrap_or("null"))
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    live.insert(key, v);
                }
            }
            let want: BTreeMap<(String, String), Value> = table
                .iter()
                .map(|(item, (_, j))| (keys(*item), j.clone()))
                .collect();
            prop_assert_eq!(&live, &want);
            // Every item that existed and is gone is a tombstone.
            for item in 0..ITEMS {
                let existed = records
                    .iter()
                    .any(|r| r["dynamodb"]["Keys"]["PK"]["S"] == keys(item).0);
                if existed && !table.contains_key(&item) {
                    prop_assert!(
                        dead.contains(&keys(item)),
                        "item {} should be a tombstone",
                        item
                    );
                }
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
