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

/// The record's sequence number: the Kinesis record's on Kinesis, else the stream record's.
fn seq_of(r: &Value) -> String {
    r["kinesis"]["sequenceNumber"]
        .as_str()
        .or_else(|| r["dynamodb"]["SequenceNumber"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The history's changes as Kinesis Data Streams for DynamoDB sends them: each change's
/// record base64 in a Kinesis record, its time in microseconds (`tie` changes share one
/// millisecond when `ms`), and the stream as AWS may write it: some changes swapped with
/// their neighbour (out of order) and some sent twice (a new Kinesis record each time).
fn kinesis_stream(records: &[Value], seed: u64, ms: bool) -> Vec<Value> {
    use base64::Engine as _;
    let mut rng = Rng(seed | 1);
    let mut changes: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let mut c = r.clone();
            let d = c["dynamodb"].as_object_mut().expect("dynamodb");
            d.remove("SequenceNumber");
            d.remove("StreamViewType");
            // Microseconds, one change per millisecond; with `ms`, milliseconds where every
            // three changes share one.
            let time = if ms {
                1_763_200_000_000u64 + n as u64 / 3
            } else {
                1_763_200_000_000_000 + n as u64 * 1000
            };
            d.insert("ApproximateCreationDateTime".into(), json!(time));
            d.insert(
                "ApproximateCreationDateTimePrecision".into(),
                json!(if ms { "MILLISECOND" } else { "MICROSECOND" }),
            );
            c["eventID"] = json!(format!("change-{n}"));
            c["tableName"] = json!("app");
            c["recordFormat"] = json!("application/json");
            c["eventSource"] = json!("aws:dynamodb");
            c.as_object_mut().expect("record").remove("eventSourceARN");
            c
        })
        .collect();
    for i in 1..changes.len() {
        if rng.next(4) == 0 {
            changes.swap(i - 1, i);
        }
    }
    let mut sent = Vec::new();
    for c in &changes {
        sent.push(c.clone());
        if rng.next(5) == 0 {
            sent.push(c.clone());
        }
    }
    sent.iter()
        .enumerate()
        .map(|(n, c)| {
            let data = base64::engine::general_purpose::STANDARD.encode(c.to_string());
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": format!("4965782840918770152001999524{:028}", n * 3 + 1), "data": data, "approximateArrivalTimestamp": 1763200000.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventName": "aws:kinesis:record",
                "eventID": format!("shardId-000000000000:{n}"), "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/app-changes"
            })
        })
        .collect()
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

/// A router with the mirror into a fresh schema, for one property.
fn mirror_router(rt: &tokio::runtime::Runtime, name: &str) -> (Router<State>, String) {
    rt.block_on(async {
        let schema = pg::fresh_schema(name).await;
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
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The mirror's rows: live items' JSON, and the keys of tombstones.
async fn rows_of(
    client: &tokio_postgres::Client,
    schema: &str,
) -> Result<(BTreeMap<(String, String), Value>, HashSet<(String, String)>), TestCaseError> {
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
    Ok((live, dead))
}

/// Delivers `sent` (the stream as the transport holds it) and checks the mirror holds the
/// final table, every deleted item a tombstone.
async fn converges(
    router: &Router<State>,
    client: &tokio_postgres::Client,
    schema: &str,
    (records, table): (&[Value], &BTreeMap<usize, (u32, Value)>),
    sent: &[Value],
    seed: u64,
) -> Result<(), TestCaseError> {
    client
        .batch_execute(&format!("TRUNCATE {schema}.items"))
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    deliver(router, sent, seed)
        .await
        .map_err(TestCaseError::fail)?;
    let (live, dead) = rows_of(client, schema).await?;
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
}

#[test]
fn the_mirror_converges_to_the_table_however_batches_are_delivered() {
    let rt = runtime();
    let (router, schema) = mirror_router(&rt, "convergence");
    let client = rt.block_on(pg::client());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let result = runner.run(&(ops(), any::<u64>()), |(ops, seed)| {
        rt.block_on(async {
            let (records, table) = stream(&ops);
            converges(
                &router,
                &client,
                &schema,
                (&records, &table),
                &records,
                seed,
            )
            .await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Kinesis Data Streams for DynamoDB: changes out of order and sent twice in the stream, on
/// top of Lambda's own duplicates, retries and re-deliveries; the mirror orders each item's
/// changes by their time and still holds the final table.
#[test]
fn the_mirror_converges_on_kinesis_under_duplicates_reordering_and_redelivery() {
    let rt = runtime();
    let (router, schema) = mirror_router(&rt, "convergence_kinesis");
    let client = rt.block_on(pg::client());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let result = runner.run(&(ops(), any::<u64>()), |(ops, seed)| {
        rt.block_on(async {
            let (records, table) = stream(&ops);
            let sent = kinesis_stream(&records, seed, false);
            converges(&router, &client, &schema, (&records, &table), &sent, seed).await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Millisecond precision: changes of one item may share a time, and then which one the
/// mirror keeps is the tie-break's (the change's digest), not the table's (the caveat in
/// docs/semantics.md). What holds is convergence itself: however the stream is written and
/// delivered, the mirror ends with the same rows.
#[test]
fn the_mirror_converges_on_kinesis_when_changes_share_a_millisecond() {
    let rt = runtime();
    let (router, schema) = mirror_router(&rt, "convergence_kinesis_ms");
    let client = rt.block_on(pg::client());
    let mut runner = TestRunner::new(Config {
        cases: 32,
        ..Config::default()
    });
    let result = runner.run(&(ops(), any::<u64>(), any::<u64>()), |(ops, a, b)| {
        rt.block_on(async {
            let (records, _) = stream(&ops);
            let mut ends = Vec::new();
            for seed in [a, b] {
                client
                    .batch_execute(&format!("TRUNCATE {schema}.items"))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let sent = kinesis_stream(&records, seed, true);
                deliver(&router, &sent, seed)
                    .await
                    .map_err(TestCaseError::fail)?;
                ends.push(rows_of(&client, &schema).await?);
            }
            prop_assert_eq!(&ends[0], &ends[1]);
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
