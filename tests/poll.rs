//! The poller end to end on moto's server (DynamoDB Streams) and Postgres: writes go through the
//! Store, the poller reads the table's stream and runs the router (with the mirror), and we
//! check what the handlers saw, what the mirror holds, the on-failure file and checkpoints.

mod support;

use dynastream::postgres::Mirror;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use dynastream::dynamodb::{AwsStream, DynamoStore};
use dynastream::poll::{Checkpoints, PollConfig, PollStats, Poller, RetryPolicy};
use dynastream::postgres::MirrorConfig;
use dynastream::store::Store;
use dynastream::{BoxError, Change, ChangeKind, Concurrency, Context, Router};
use dynastream_example_models::{Task, TaskKey, TaskStatus, UserProfile, UserProfileKey};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use support::{dynamo, pg};

/// Per item key, in order: (kind, the new image's marker).
type Changes = BTreeMap<String, Vec<(ChangeKind, Option<String>)>>;

/// What the handlers saw.
#[derive(Default)]
struct Seen(Mutex<Changes>);

impl Seen {
    fn push(&self, key: String, kind: ChangeKind, marker: Option<String>) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(key).or_default().push((kind, marker));
        }
    }
    fn take(&self) -> Changes {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn on_task(change: Change<Task>, ctx: Context<Seen>) -> Result<(), BoxError> {
    if change
        .new_image()
        .is_some_and(|t| t.title.starts_with("poison"))
    {
        return Err(format!("cannot handle task {}", change.key.task_id).into());
    }
    let key = format!("task/{}/{}", change.key.owner, change.key.task_id);
    ctx.state().push(
        key,
        change.kind(),
        change.new_image().map(|t| t.title.clone()),
    );
    Ok(())
}

async fn on_profile(change: Change<UserProfile>, ctx: Context<Seen>) -> Result<(), BoxError> {
    let key = format!("profile/{}", change.key.owner);
    ctx.state().push(
        key,
        change.kind(),
        change.new_image().map(|p| p.display_name.clone()),
    );
    Ok(())
}

fn router(mirror: Option<MirrorConfig>) -> Router<Seen> {
    let b = Router::builder(Seen::default());
    let b = match mirror {
        Some(m) => b.hook(Mirror::new(m)),
        None => b,
    };
    b.on::<Task, _>(on_task)
        .on::<UserProfile, _>(on_profile)
        .concurrency(Concurrency::PerKey { max: 4 })
        .build()
        .unwrap()
}

/// The table's stream, read with dummy credentials.
async fn stream_of(store: &DynamoStore) -> AwsStream {
    let described = store
        .client()
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let arn = described
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_string();
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .endpoint_url(dynamo::endpoint())
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    AwsStream::new(aws_sdk_dynamodbstreams::Client::from_conf(config), arn)
}

fn config() -> PollConfig {
    PollConfig::default()
        .batch_size(7)
        .batching_window(Duration::ZERO)
        .poll_interval(Duration::from_millis(10))
        .stop_when_idle(true)
        .retry(
            RetryPolicy::default()
                .max_retry_attempts(Some(2))
                .bisect_on_error(true)
                .retry_delay(Duration::ZERO)
                .max_retry_delay(Duration::ZERO),
        )
}

async fn drain(
    router: Router<Seen>,
    stream: AwsStream,
    checkpoints: Checkpoints,
    config: PollConfig,
) -> (PollStats, Router<Seen>) {
    let poller = Poller::new(router, stream, checkpoints).config(config);
    let stats = poller.run(std::future::pending()).await.unwrap();
    (stats, poller.into_router())
}

#[derive(Debug, Clone)]
enum Op {
    Save(usize),
    Delete(usize),
}

/// Items 0..4 are tasks of two owners, 4..6 profiles.
const ITEMS: usize = 6;

fn item_key(i: usize) -> String {
    if i < 4 {
        format!(
            "task/{}/t{i}",
            if i.is_multiple_of(2) { "ann" } else { "bob" }
        )
    } else {
        format!("profile/u{i}")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A random history of saves and deletes through the Store reaches the handlers — every
/// change, in order per item — and leaves the mirror equal to a scan of the table.
#[test]
fn a_random_history_reaches_the_handlers_in_order_and_the_mirror_equals_the_table() {
    let rt = runtime();
    let ops = proptest::collection::vec(
        prop_oneof![3 => (0..ITEMS).prop_map(Op::Save), 1 => (0..ITEMS).prop_map(Op::Delete)],
        1..50,
    );
    let mut runner = TestRunner::new(Config {
        cases: 4,
        failure_persistence: None,
        ..Config::default()
    });
    let case = Mutex::new(0);
    runner
        .run(&ops, |ops| {
            let n = {
                let mut c = case.lock().unwrap();
                *c += 1;
                *c
            };
            rt.block_on(check_history(n, ops))
        })
        .unwrap();
}

async fn check_history(case: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let name = format!("poll_history_{case}");
    let store = dynamo::fresh_store(&name, &[]).await;
    let schema = pg::fresh_schema(&name).await;
    let mirror = MirrorConfig::new(&pg::database_url())
        .unwrap()
        .schema(&schema)
        .unwrap();

    // Write the history; every save changes the item (a marker that is the op's number), and
    // only existing items are deleted, so each op is exactly one stream record.
    let mut live: HashMap<usize, String> = HashMap::new();
    let mut expected: Changes = BTreeMap::new();
    for (n, op) in ops.iter().enumerate() {
        match *op {
            Op::Save(i) => {
                let marker = format!("v{n}");
                if i < 4 {
                    let owner = if i.is_multiple_of(2) { "ann" } else { "bob" };
                    store
                        .save(&Task {
                            owner: owner.into(),
                            task_id: format!("t{i}"),
                            title: marker.clone(),
                            status: TaskStatus::Open,
                        })
                        .await
                        .unwrap();
                } else {
                    store
                        .save(&UserProfile {
                            owner: format!("u{i}"),
                            display_name: marker.clone(),
                            email: format!("u{i}@example.com"),
                            age: Some(n as i64),
                        })
                        .await
                        .unwrap();
                }
                let kind = if live.contains_key(&i) {
                    ChangeKind::Modify
                } else {
                    ChangeKind::Insert
                };
                live.insert(i, marker.clone());
                expected
                    .entry(item_key(i))
                    .or_default()
                    .push((kind, Some(marker)));
            }
            Op::Delete(i) => {
                if live.remove(&i).is_none() {
                    continue;
                }
                if i < 4 {
                    let owner = if i.is_multiple_of(2) { "ann" } else { "bob" };
                    store
                        .delete::<Task>(&TaskKey {
                            owner: owner.into(),
                            task_id: format!("t{i}"),
                        })
                        .await
                        .unwrap();
                } else {
                    store
                        .delete::<UserProfile>(&UserProfileKey {
                            owner: format!("u{i}"),
                        })
                        .await
                        .unwrap();
                }
                expected
                    .entry(item_key(i))
                    .or_default()
                    .push((ChangeKind::Remove, None));
            }
        }
    }

    let (stats, router) = drain(
        router(Some(mirror.clone())),
        stream_of(&store).await,
        Checkpoints::memory(),
        config(),
    )
    .await;
    let seen = router.state().take();
    prop_assert_eq!(
        &seen,
        &expected,
        "handlers saw every change, in order per item"
    );
    let records: usize = expected.values().map(Vec::len).sum();
    prop_assert_eq!(stats.records, records as u64);
    prop_assert_eq!(stats.given_up, 0);

    // The mirror's live rows equal a scan of the table.
    let mut table: BTreeMap<(String, String), Value> = BTreeMap::new();
    let scan = store
        .client()
        .scan()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    for item in scan.items() {
        let s = |k: &str| match item.get(k) {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(s)) => s.clone(),
            other => panic!("{k}: {other:?}"),
        };
        let data: serde_json::Map<String, Value> = item
            .iter()
            .filter(|(k, _)| *k != "PK" && *k != "SK")
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect();
        table.insert((s("PK"), s("SK")), Value::Object(data));
    }
    let rows = pg::client()
        .await
        .query(
            &format!("SELECT pk, sk, data::text FROM {schema}.dynastream_items WHERE NOT deleted"),
            &[],
        )
        .await
        .unwrap();
    let mirrored: BTreeMap<(String, String), Value> = rows
        .iter()
        .map(|r| {
            let data: String = r.get(2);
            ((r.get(0), r.get(1)), serde_json::from_str(&data).unwrap())
        })
        .collect();
    prop_assert_eq!(mirrored, table, "mirror == scan");
    Ok(())
}

/// DynamoDB JSON to plain JSON, as the mirror writes it (numbers compared as JSON numbers).
fn plain(v: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    match v {
        Av::S(s) => Value::String(s.clone()),
        Av::N(n) => serde_json::from_str(n).unwrap(),
        Av::Bool(b) => Value::Bool(*b),
        Av::Null(_) => Value::Null,
        Av::L(l) => Value::Array(l.iter().map(plain).collect()),
        Av::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
        Av::Ss(s) => Value::Array(s.iter().cloned().map(Value::String).collect()),
        other => panic!("not in these models: {other:?}"),
    }
}

async fn save_tasks(store: &DynamoStore, owner: &str, ids: std::ops::Range<usize>, poison: usize) {
    for i in ids {
        store
            .save(&Task {
                owner: owner.into(),
                task_id: format!("t{i:02}"),
                title: if i == poison {
                    format!("poison {i}")
                } else {
                    format!("task {i}")
                },
                status: TaskStatus::Open,
            })
            .await
            .unwrap();
    }
}

fn on_failure_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn task_ids(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| l["Records"].as_array().unwrap().clone())
        .map(|r| {
            r["dynamodb"]["Keys"]["SK"]["S"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dynastream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("failed.jsonl")
}

/// One task always fails: with bisection, it alone goes to the on-failure file (with the
/// handler's reason) after the retries, and every other record is handled, in order.
#[test]
fn a_failing_record_is_bisected_out_retried_and_written_to_the_on_failure_file() {
    runtime().block_on(async {
        let store = dynamo::fresh_store("poll_bisect", &[]).await;
        save_tasks(&store, "ann", 0..12, 5).await;
        let path = temp_path("bisect");
        let (stats, router) = drain(
            router(None),
            stream_of(&store).await,
            Checkpoints::memory(),
            config().batch_size(12).on_failure(Some(path.clone())),
        )
        .await;
        let seen = router.state().take();
        let handled: Vec<&String> = seen.keys().collect();
        assert_eq!(handled.len(), 11, "{handled:?}");
        assert!(!seen.contains_key("task/ann/t05"));
        assert_eq!((stats.records, stats.given_up), (11, 1));
        let lines = on_failure_lines(&path);
        assert_eq!(lines.len(), 1);
        assert_eq!(task_ids(&lines), ["#TASK#t05"]);
        let reason = lines[0]["reason"].as_str().unwrap();
        assert!(reason.contains("cannot handle task t05"), "{reason}");
        // Bisected 12 -> [5..12) -> [5..8) -> [5] ... then 1 + 2 retries of [5] alone.
        assert!(
            lines[0]["requestContext"]["approximateInvokeCount"]
                .as_u64()
                .unwrap()
                >= 3
        );
        assert!(lines[0]["DDBStreamBatchInfo"]["streamArn"]
            .as_str()
            .unwrap()
            .contains("t_poll_bisect"));
    });
}

/// Without bisection, Lambda gives up on the failed record and the rest of its batch: they go
/// to the on-failure file together. No record is lost: each one is handled or in the file.
#[test]
fn without_bisection_the_rest_of_the_batch_goes_to_the_on_failure_file_and_nothing_is_lost() {
    runtime().block_on(async {
        let store = dynamo::fresh_store("poll_no_bisect", &[]).await;
        save_tasks(&store, "bob", 0..10, 3).await;
        let path = temp_path("no_bisect");
        let (stats, router) = drain(
            router(None),
            stream_of(&store).await,
            Checkpoints::memory(),
            config()
                .batch_size(5)
                .on_failure(Some(path.clone()))
                .retry(config().retry.bisect_on_error(false)),
        )
        .await;
        let seen = router.state().take();
        let lines = on_failure_lines(&path);
        assert_eq!(task_ids(&lines), ["#TASK#t03", "#TASK#t04"]);
        assert_eq!(
            lines[0]["requestContext"]["approximateInvokeCount"], 3,
            "1 + 2 retries"
        );
        let mut all: Vec<String> = seen
            .keys()
            .map(|k| k.replace("task/bob/", "#TASK#"))
            .collect();
        all.extend(task_ids(&lines));
        all.sort();
        let every: Vec<String> = (0..10).map(|i| format!("#TASK#t{i:02}")).collect();
        assert_eq!(all, every);
        assert_eq!((stats.records, stats.given_up), (8, 2));
    });
}

/// A restart with checkpoints in the mirror's database resumes after the last acknowledged
/// record: nothing acknowledged is delivered again.
#[test]
fn a_restart_resumes_from_the_checkpoint_in_postgres() {
    runtime().block_on(async {
        let store = dynamo::fresh_store("poll_restart", &[]).await;
        let schema = pg::fresh_schema("poll_restart").await;
        let mirror = MirrorConfig::new(&pg::database_url())
            .unwrap()
            .schema(&schema)
            .unwrap();
        save_tasks(&store, "cy", 0..9, usize::MAX).await;
        let (first, router1) = drain(
            router(Some(mirror.clone())),
            stream_of(&store).await,
            Checkpoints::custom(
                dynastream::postgres::PgCheckpoints::connect(&mirror)
                    .await
                    .unwrap(),
            ),
            config(),
        )
        .await;
        assert_eq!(first.records, 9);
        assert_eq!(router1.state().take().len(), 9);

        save_tasks(&store, "cy", 9..13, usize::MAX).await;
        let (second, router2) = drain(
            router(Some(mirror.clone())),
            stream_of(&store).await,
            Checkpoints::custom(
                dynastream::postgres::PgCheckpoints::connect(&mirror)
                    .await
                    .unwrap(),
            ),
            config(),
        )
        .await;
        let seen: Vec<String> = router2.state().take().into_keys().collect();
        assert_eq!(
            seen,
            (9..13)
                .map(|i| format!("task/cy/t{i:02}"))
                .collect::<Vec<_>>()
        );
        assert_eq!(second.records, 4);
        let saved = pg::client()
            .await
            .query_one(
                &format!("SELECT sequence_number FROM {schema}.dynastream_items_checkpoints"),
                &[],
            )
            .await
            .unwrap();
        let shard = second.shards.values().next().unwrap();
        assert_eq!(
            saved.get::<_, Option<String>>(0),
            shard.last_sequence_number
        );
    });
}
