//! The Postgres mirror against a real server (DATABASE_URL, else 127.0.0.1:5432): DDL,
//! type mapping, views, outages and round trips. Convergence is in tests/mirror_convergence.rs.

mod support;

use dynastream::postgres::Mirror;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use dynastream::postgres::MirrorConfig;
use dynastream::{Change, Context, Outcome, RecordError, RecordErrorKind, Router};
use dynastream_example_models::{Board, OrderLine, Story, Task, UserProfile};
use serde_json::{json, Value};
use support::pg::{self, event, record};

fn config(url: &str, schema: &str) -> MirrorConfig {
    MirrorConfig::new(url)
        .unwrap()
        .schema(schema)
        .unwrap()
        .table("items")
        .unwrap()
}

fn example_router(url: &str, schema: &str) -> Router<()> {
    Router::builder(())
        .model::<Task>()
        .model::<Board>()
        .model::<Story>()
        .model::<UserProfile>()
        .model::<OrderLine>()
        .hook(Mirror::new(config(url, schema)))
        .build()
        .unwrap()
}

async fn handle(
    router: &Router<impl Send + Sync + 'static>,
    records: &[Value],
) -> dynastream::BatchReport {
    router
        .handle_event(&event(records), Default::default())
        .await
        .expect("readable event")
}

fn labels(report: &dynastream::BatchReport) -> Vec<&'static str> {
    report.records.iter().map(|r| r.outcome.label()).collect()
}

#[tokio::test]
async fn creating_the_table_is_idempotent_and_safe_for_racing_cold_starts() {
    let schema = pg::fresh_schema("ddl_race").await;
    let url = pg::database_url();
    // Four cold starts at once, each with its own connection, then one more later.
    let routers: Vec<Router<()>> = (0..4).map(|_| example_router(&url, &schema)).collect();
    let results = futures_util::future::join_all(routers.iter().map(|r| r.start())).await;
    for r in results {
        r.expect("every racing creator succeeds");
    }
    example_router(&url, &schema).start().await.unwrap();
    let c = pg::client().await;
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0);
    // The table, the five views and dynastream_sources.
    assert_eq!(tables, 7);
    let collation: String = c
        .query_one(
            "SELECT collation_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'items' AND column_name = 'sk'",
            &[&schema],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(collation, "C");
}

#[tokio::test]
async fn every_attribute_type_maps_to_json_exactly() {
    let schema = pg::fresh_schema("types").await;
    let router = example_router(&pg::database_url(), &schema);
    let image = json!({
        "s": {"S": "héllo \"q\" 日本"},
        "big": {"N": "12345678901234567890123456789012345678"},
        "small": {"N": "-0.000000000000000000000000000000000001"},
        "exp": {"N": "1E+125"},
        "b": {"B": "3q2+7w=="},
        "t": {"BOOL": true},
        "z": {"NULL": true},
        "m": {"M": {"inner": {"L": [{"N": "1"}, {"S": "two"}, {"M": {}}]}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "99999999999999999999999999999999999999"]},
        "bs": {"BS": ["AA==", "AQ=="]},
        "schema_version": {"S": "v-test"}
    });
    let keys = ("USER#日本語#STORY#é", "STORY#é");
    let report = handle(&router, &[record("INSERT", "100", keys, Some(image), None)]).await;
    // Story has no handler here: acknowledged, and mirrored.
    assert_eq!(labels(&report), ["skipped"]);

    let c = pg::client().await;
    let row = c
        .query_one(
            &format!("SELECT pk, sk, entity, schema_version, data::text, seq::text, extract(epoch FROM event_time)::text, deleted, data->>'big', (data->>'small')::numeric::text, data->>'exp' FROM {schema}.items"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), keys.0);
    assert_eq!(row.get::<_, String>(1), keys.1);
    // The keys match Story structurally, and "é" parses as a story id.
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("Story"));
    assert_eq!(row.get::<_, Option<String>>(3).as_deref(), Some("v-test"));
    let data: Value = serde_json::from_str(&row.get::<_, String>(4)).unwrap();
    assert_eq!(data["s"], "héllo \"q\" 日本");
    assert_eq!(data["b"], "3q2+7w==");
    assert_eq!(data["t"], true);
    assert_eq!(data["z"], Value::Null);
    assert_eq!(data["m"], json!({"inner": [1, "two", {}]}));
    assert_eq!(data["ss"], json!(["a", "b"]));
    assert_eq!(data["bs"], json!(["AA==", "AQ=="]));
    assert!(
        data.get("PK").is_none() && data.get("SK").is_none(),
        "keys are columns, not data"
    );
    assert_eq!(row.get::<_, String>(5), "100");
    // Sub-second precision kept; independent of the server's TimeZone setting.
    assert_eq!(row.get::<_, String>(6), "1700000000.907000");
    assert!(!row.get::<_, bool>(7));
    // Exact digits, no float on the way.
    assert_eq!(
        row.get::<_, String>(8),
        "12345678901234567890123456789012345678"
    );
    assert_eq!(
        row.get::<_, String>(9),
        "-0.000000000000000000000000000000000001"
    );
    let exp: String = row.get(10);
    assert!(
        exp.starts_with('1') && exp.len() == 126 && exp[1..].bytes().all(|b| b == b'0'),
        "{exp}"
    );
    let ns: String = c
        .query_one(&format!("SELECT data->'ns'->>1 FROM {schema}.items"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ns, "99999999999999999999999999999999999999");
}

#[tokio::test]
async fn rows_sort_in_dynamodb_byte_order() {
    let schema = pg::fresh_schema("order").await;
    let router = example_router(&pg::database_url(), &schema);
    let sks = ["a", "B", "é", "Z", "_", "%", "ab"];
    let records: Vec<Value> = sks
        .iter()
        .enumerate()
        .map(|(i, sk)| {
            record(
                "INSERT",
                &(i + 1).to_string(),
                ("X#1", sk),
                Some(json!({"v": {"N": "1"}})),
                None,
            )
        })
        .collect();
    assert!(!handle(&router, &records).await.has_failures());
    let got: Vec<String> = pg::client()
        .await
        .query(&format!("SELECT sk FROM {schema}.items ORDER BY sk"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut want: Vec<String> = sks.iter().map(|s| s.to_string()).collect();
    want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(got, want);
}

#[tokio::test]
async fn tombstones_keep_deleted_items_deleted_and_unmatched_items_are_mirrored() {
    let schema = pg::fresh_schema("tombstone").await;
    let router = example_router(&pg::database_url(), &schema);
    let keys = ("USER#ann", "PROFILE");
    let img = json!({"owner": {"S": "ann"}, "display_name": {"S": "Ann"}, "email": {"S": "a@x"}});
    let insert = record("INSERT", "10", keys, Some(img.clone()), None);
    let remove = record("REMOVE", "20", keys, None, Some(img));
    let other = record(
        "INSERT",
        "30",
        ("NOT#A#MODEL", "X"),
        Some(json!({"a": {"S": "b"}})),
        None,
    );
    assert!(!handle(&router, &[insert.clone(), remove, other])
        .await
        .has_failures());
    // The older INSERT delivered again, alone and in another batch: it must not resurrect.
    assert!(!handle(&router, std::slice::from_ref(&insert))
        .await
        .has_failures());
    assert!(!handle(&router, &[insert.clone(), insert])
        .await
        .has_failures());
    let c = pg::client().await;
    let rows = c
        .query(&format!("SELECT pk, entity, deleted, seq::text, data IS NULL FROM {schema}.items ORDER BY pk"), &[])
        .await
        .unwrap();
    let got: Vec<(String, Option<String>, bool, String, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("NOT#A#MODEL".into(), None, false, "30".into(), false),
            (
                "USER#ann".into(),
                Some("UserProfile".into()),
                true,
                "20".into(),
                true
            ),
        ]
    );
    let live: i64 = c
        .query_one(&format!("SELECT count(*) FROM {schema}.user_profile"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 0);
}

#[tokio::test]
async fn views_return_typed_rows_for_every_example_model() {
    let schema = pg::fresh_schema("views").await;
    let router = example_router(&pg::database_url(), &schema);
    let records = vec![
        record(
            "INSERT",
            "1",
            ("#TASK#ann", "#TASK#t1"),
            Some(
                json!({"owner": {"S": "ann"}, "task_id": {"S": "t1"}, "title": {"S": "Write"}, "status": {"S": "OPEN"}}),
            ),
            None,
        ),
        record(
            "INSERT",
            "2",
            ("#BOARD#ann", "#BOARD#b1"),
            Some(
                json!({"owner": {"S": "ann"}, "board_id": {"S": "b1"}, "name": {"S": "Home"}, "task_count": {"N": "3"}}),
            ),
            None,
        ),
        record(
            "INSERT",
            "3",
            ("USER#ann#STORY#s1", "STORY#s1"),
            Some(
                json!({"owner": {"S": "ann"}, "story_id": {"S": "s1"}, "title": {"S": "Hi"}, "tags": {"SS": ["x", "y"]}, "word_count": {"N": "120"}}),
            ),
            None,
        ),
        record(
            "INSERT",
            "4",
            ("USER#ann", "PROFILE"),
            Some(
                json!({"owner": {"S": "ann"}, "display_name": {"S": "Ann"}, "email": {"S": "a@x"}, "age": {"N": "41"}}),
            ),
            None,
        ),
        record(
            "INSERT",
            "5",
            ("ORDER#o1", "LINE#0002"),
            Some(
                json!({"order_id": {"S": "o1"}, "line": {"N": "2"}, "sku": {"S": "pen"}, "qty": {"N": "3"}, "unit_price": {"N": "12345678901234567890.123456789"}}),
            ),
            None,
        ),
    ];
    let report = handle(&router, &records).await;
    assert_eq!(labels(&report), ["skipped"; 5]);
    let c = pg::client().await;
    let task = c
        .query_one(
            &format!(
                "SELECT owner, task_id, title, status, pg_typeof(status)::text FROM {schema}.task"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            task.get::<_, String>(0),
            task.get::<_, String>(3),
            task.get::<_, String>(4)
        ),
        ("ann".into(), "OPEN".into(), "text".into())
    );
    let board = c
        .query_one(&format!("SELECT task_count, name FROM {schema}.board"), &[])
        .await
        .unwrap();
    assert_eq!(
        (board.get::<_, i64>(0), board.get::<_, String>(1)),
        (3, "Home".into())
    );
    let story = c
        .query_one(
            &format!("SELECT tags, word_count, content, pk, sk FROM {schema}.story"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        story.get::<_, Vec<String>>(0),
        vec!["x".to_string(), "y".into()]
    );
    assert_eq!(story.get::<_, i64>(1), 120);
    assert_eq!(
        story.get::<_, Option<String>>(2),
        None,
        "absent attribute reads as NULL"
    );
    assert_eq!(story.get::<_, String>(3), "USER#ann#STORY#s1");
    let profile = c
        .query_one(
            &format!("SELECT age, email FROM {schema}.user_profile"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(profile.get::<_, Option<i64>>(0), Some(41));
    let line = c.query_one(&format!("SELECT line, qty, unit_price::text, pg_typeof(unit_price)::text FROM {schema}.order_line"), &[]).await.unwrap();
    assert_eq!((line.get::<_, i64>(0), line.get::<_, i64>(1)), (2, 3));
    assert_eq!(line.get::<_, String>(2), "12345678901234567890.123456789");
    assert_eq!(line.get::<_, String>(3), "numeric");
    // An analyst's aggregate, no JSONB syntax.
    let words: i64 = c
        .query_one(
            &format!("SELECT sum(word_count)::bigint FROM {schema}.story WHERE 'x' = ANY(tags)"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(words, 120);
}

#[allow(dead_code)]
mod note_v1 {
    #[derive(Debug, serde::Deserialize, dynastream::Model)]
    #[dynastream(pk = "NOTE#{id}", sk = "NOTE", entity = "Note")]
    pub struct Note {
        pub id: String,
        pub body: String,
    }
}

#[allow(dead_code)]
mod note_v2 {
    #[derive(Debug, serde::Deserialize, dynastream::Model)]
    #[dynastream(pk = "NOTE#{id}", sk = "NOTE", entity = "Note")]
    pub struct Note {
        pub id: String,
        pub body: String,
        pub stars: Option<u8>,
    }
}

async fn view_columns(schema: &str, view: &str) -> Vec<String> {
    pg::client()
        .await
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            &[&schema, &view],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn view_oid(schema: &str, view: &str) -> u32 {
    pg::client()
        .await
        .query_one(
            "SELECT to_regclass($1)::oid",
            &[&format!("{schema}.{view}")],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn views_are_regenerated_only_when_the_model_changes() {
    let schema = pg::fresh_schema("view_regen").await;
    let url = pg::database_url();
    let v1 = || {
        Router::builder(())
            .model::<note_v1::Note>()
            .hook(Mirror::new(config(&url, &schema)))
            .build()
            .unwrap()
    };
    v1().start().await.unwrap();
    assert_eq!(
        view_columns(&schema, "note").await,
        [
            "id",
            "body",
            "values_fit",
            "pk",
            "sk",
            "schema_version",
            "seq",
            "stream",
            "event_time"
        ]
    );
    let oid = view_oid(&schema, "note").await;
    v1().start().await.unwrap();
    assert_eq!(
        view_oid(&schema, "note").await,
        oid,
        "same model: view left alone"
    );

    let v2 = Router::builder(())
        .model::<note_v2::Note>()
        .hook(Mirror::new(config(&url, &schema)))
        .build()
        .unwrap();
    v2.start().await.unwrap();
    assert_eq!(
        view_columns(&schema, "note").await,
        [
            "id",
            "body",
            "stars",
            "values_fit",
            "pk",
            "sk",
            "schema_version",
            "seq",
            "stream",
            "event_time"
        ]
    );
    assert_ne!(view_oid(&schema, "note").await, oid);
}

#[tokio::test]
async fn records_the_mirror_cannot_take_fail_with_a_reason() {
    let schema = pg::fresh_schema("cannot_take").await;
    let router = example_router(&pg::database_url(), &schema);
    let ok = record(
        "INSERT",
        "1",
        ("X#1", "a"),
        Some(json!({"v": {"N": "1"}})),
        None,
    );
    let mut keys_only = record("INSERT", "2", ("X#2", "a"), None, None);
    keys_only["dynamodb"]["StreamViewType"] = json!("KEYS_ONLY");
    let later = record(
        "INSERT",
        "3",
        ("X#3", "a"),
        Some(json!({"v": {"N": "1"}})),
        None,
    );
    let report = handle(&router, &[ok, keys_only, later]).await;
    assert_eq!(labels(&report), ["skipped", "failed", "deferred"]);
    let Outcome::Failed(RecordError {
        kind: RecordErrorKind::Hook {
            source: message, ..
        },
        ..
    }) = &report.records[1].outcome
    else {
        panic!("{:?}", report.records[1].outcome)
    };
    assert!(
        message
            .to_string()
            .contains("NEW_IMAGE or NEW_AND_OLD_IMAGES"),
        "{message}"
    );
    assert_eq!(
        report.response().batch_item_failures[0].item_identifier,
        "2"
    );
    let n: i64 = pg::client()
        .await
        .query_one(&format!("SELECT count(*) FROM {schema}.items"), &[])
        .await
        .unwrap()
        .get(0);
    // The mirror writes every row it can take: the later record is deferred for its handler
    // (Lambda delivers it again, and writing its row again changes nothing), but its row is
    // already in the mirror.
    assert_eq!(n, 2, "every record but the refused one is mirrored");
}

/// A handler that counts what it saw.
async fn count(
    _c: Change<UserProfile>,
    ctx: Context<Arc<std::sync::atomic::AtomicUsize>>,
) -> Result<(), String> {
    ctx.state().fetch_add(1, Ordering::SeqCst);
    Ok(())
}

fn profile(seq: u64, owner: &str, name: &str) -> Value {
    record(
        "INSERT",
        &seq.to_string(),
        (&format!("USER#{owner}"), "PROFILE"),
        Some(json!({"owner": {"S": owner}, "display_name": {"S": name}, "email": {"S": "e@x"}})),
        None,
    )
}

async fn live_names(schema: &str) -> Vec<(String, String)> {
    pg::client()
        .await
        .query(
            &format!("SELECT owner, display_name FROM {schema}.user_profile ORDER BY owner"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn an_outage_fails_the_batch_and_a_retry_after_recovery_converges() {
    let schema = pg::fresh_schema("outage").await;
    let mut proxy = pg::Proxy::start().await;
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let router = Router::builder(Arc::clone(&seen))
        .on::<UserProfile, _>(count)
        .hook(Mirror::new(
            config(&pg::url_via(proxy.port), &schema)
                .connect_timeout(Duration::from_secs(2))
                .statement_timeout(Duration::from_secs(2)),
        ))
        .build()
        .unwrap();
    let first = [profile(1, "a", "A1"), profile(2, "b", "B1")];
    assert_eq!(labels(&handle(&router, &first).await), ["ok", "ok"]);

    // The server goes away mid-batch: the connection drops as the batch's rows are sent, and
    // it stays unreachable for the retry on a new connection.
    let second = [profile(3, "a", "A2"), profile(4, "c", "C1")];
    proxy.cut_next.store(true, Ordering::SeqCst);
    let report = handle(&router, &second).await;
    assert_eq!(labels(&report), ["failed", "failed"]);
    assert_eq!(
        report.response().batch_item_failures[0].item_identifier,
        "3"
    );
    assert!(matches!(
        report.records[0].outcome,
        Outcome::Failed(RecordError {
            kind: RecordErrorKind::Hook { .. },
            ..
        })
    ));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "no handler ran for the failed batch"
    );

    // Recovery: Lambda delivers the batch again.
    proxy.restart().await;
    assert_eq!(labels(&handle(&router, &second).await), ["ok", "ok"]);
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    assert_eq!(
        live_names(&schema).await,
        [
            ("a".into(), "A2".into()),
            ("b".into(), "B1".into()),
            ("c".into(), "C1".into())
        ]
    );
}

#[tokio::test]
async fn a_connection_killed_by_the_server_is_replaced_without_failing_the_batch() {
    let schema = pg::fresh_schema("killed").await;
    let url = pg::database_url();
    let app = format!("dynastream-killed-{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let router = Router::builder(())
        .model::<UserProfile>()
        .hook(Mirror::new(config(
            &format!("{url}{sep}application_name={app}"),
            &schema,
        )))
        .build()
        .unwrap();
    assert!(!handle(&router, &[profile(1, "a", "A1")])
        .await
        .has_failures());
    let killed: i64 = pg::client()
        .await
        .query_one("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) k", &[&app])
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    let report = handle(&router, &[profile(2, "a", "A2")]).await;
    assert_eq!(
        labels(&report),
        ["skipped"],
        "acknowledged: mirrored on a new connection"
    );
    assert_eq!(live_names(&schema).await, [("a".into(), "A2".into())]);
}

#[tokio::test]
async fn a_warm_batch_is_one_round_trip() {
    let schema = pg::fresh_schema("round_trips").await;
    let proxy = pg::Proxy::start().await;
    let router = Router::builder(())
        .model::<UserProfile>()
        .hook(Mirror::new(config(&pg::url_via(proxy.port), &schema)))
        .build()
        .unwrap();
    assert!(!handle(&router, &[profile(1, "warm", "W")])
        .await
        .has_failures());
    let records: Vec<Value> = (0..500)
        .map(|i| profile(10 + i, &format!("u{i}"), "N"))
        .collect();
    let before = proxy.turns.load(Ordering::SeqCst);
    assert!(!handle(&router, &records).await.has_failures());
    assert_eq!(proxy.turns.load(Ordering::SeqCst) - before, 1);
    assert_eq!(live_names(&schema).await.len(), 501);
}

#[tokio::test]
async fn connection_errors_never_show_the_password() {
    // Nothing listens on port 1.
    let router = Router::builder(())
        .model::<UserProfile>()
        .hook(Mirror::new(
            MirrorConfig::new("postgres://app:hunter2-secret@127.0.0.1:1/db")
                .unwrap()
                .connect_timeout(Duration::from_secs(2)),
        ))
        .build()
        .unwrap();
    let report = handle(&router, &[profile(1, "a", "A")]).await;
    let Outcome::Failed(e) = &report.records[0].outcome else {
        panic!()
    };
    let text = format!("{e} {e:?}");
    assert!(text.contains("127.0.0.1:1/db as app"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(MirrorConfig::new("postgres://app:hunter2@[bad")
        .err()
        .map(|e| e.to_string())
        .is_some_and(|m| !m.contains("hunter2")));
}

/// A table with a partition key only.
#[derive(Debug, serde::Deserialize, dynastream::Model)]
#[dynastream(pk = "SESSION#{id}")]
#[allow(dead_code)] // read through the view only
struct Session {
    id: String,
    user: String,
}

#[tokio::test]
async fn tables_with_a_partition_key_only_are_mirrored_with_the_sort_key_empty() {
    let schema = pg::fresh_schema("pk_only").await;
    let router = Router::builder(())
        .model::<Session>()
        .hook(Mirror::new(config(&pg::database_url(), &schema)))
        .build()
        .unwrap();
    let pk_only = |seq: &str, pk: &str, new: Option<Value>| {
        let mut r = record(
            if new.is_some() { "INSERT" } else { "REMOVE" },
            seq,
            (pk, "-"),
            None,
            None,
        );
        let d = &mut r["dynamodb"];
        d["Keys"] = json!({"PK": {"S": pk}});
        if let Some(mut n) = new {
            n["PK"] = json!({"S": pk});
            d["NewImage"] = n;
        }
        r
    };
    let records = [
        pk_only(
            "1",
            "SESSION#s1",
            Some(json!({"id": {"S": "s1"}, "user": {"S": "ann"}})),
        ),
        pk_only(
            "2",
            "SESSION#s2",
            Some(json!({"id": {"S": "s2"}, "user": {"S": "bo"}})),
        ),
        // Matches no model: mirrored too.
        pk_only("3", "OTHER#x", Some(json!({"v": {"N": "1"}}))),
        pk_only("4", "SESSION#s2", None),
        // A record with a sort key does not belong to this table's mirror.
        record("INSERT", "5", ("SESSION#s9", "x"), Some(json!({})), None),
    ];
    let report = handle(&router, &records).await;
    assert_eq!(
        labels(&report),
        ["skipped", "skipped", "skipped", "skipped", "failed"]
    );
    let Outcome::Failed(why) = &report.records[4].outcome else {
        panic!("{:?}", report.records[4].outcome)
    };
    assert!(why.to_string().contains("partition key only"), "{why}");
    let c = pg::client().await;
    let rows: Vec<(String, String, bool)> = c
        .query(
            &format!("SELECT pk, sk, deleted FROM {schema}.items ORDER BY pk"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            ("OTHER#x".to_string(), String::new(), false),
            ("SESSION#s1".to_string(), String::new(), false),
            ("SESSION#s2".to_string(), String::new(), true),
        ]
    );
    let view: Vec<(String, String, String)> = c
        .query(
            &format!("SELECT id, \"user\", sk FROM {schema}.session"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(view, [("s1".to_string(), "ann".to_string(), String::new())]);

    // A mirror set for PK/SK (the default) takes a record whose keys are one attribute as a
    // partition-key-only table's: Keys always holds exactly the table's key attributes.
    let schema = pg::fresh_schema("pk_only_default").await;
    let router = example_router(&pg::database_url(), &schema);
    let report = handle(&router, &records[..3]).await;
    assert_eq!(labels(&report), ["skipped", "skipped", "skipped"]);
    let n: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM {schema}.items WHERE sk = ''"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}

/// One field of every column type the views use.
#[derive(Debug, serde::Deserialize, dynastream::Model)]
#[dynastream(pk = "ALL#{id}", sk = "ALL")]
#[allow(dead_code)] // read through the view only
struct AllColumns {
    id: String,
    text: Option<String>,
    int: Option<i64>,
    exact: Option<rust_decimal::Decimal>,
    real: Option<f64>,
    flag: Option<bool>,
    #[dynastream(sql = "timestamptz")]
    at: Option<String>,
    any: Option<serde_json::Value>,
    texts: Option<Vec<String>>,
    ints: Option<Vec<i64>>,
    exacts: Option<Vec<rust_decimal::Decimal>>,
    reals: Option<Vec<f64>>,
    flags: Option<Vec<bool>>,
}

#[tokio::test]
async fn views_never_fail_and_never_round_and_say_which_rows_did_not_fit() {
    let schema = pg::fresh_schema("total_views").await;
    let router = Router::builder(())
        .model::<AllColumns>()
        .hook(Mirror::new(config(&pg::database_url(), &schema)))
        .build()
        .unwrap();
    let c = pg::client().await;
    c.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    // An expected view row: every column NULL but the given ones, and values_fit.
    let row = |fit: bool, given: Value| {
        let mut r = json!({"text": null, "int": null, "exact": null, "real": null, "flag": null, "at": null,
                           "any": null, "texts": null, "ints": null, "exacts": null, "reals": null, "flags": null});
        for (k, v) in given.as_object().into_iter().flatten() {
            r[k] = v.clone();
        }
        r["values_fit"] = json!(fit);
        r
    };
    // (id, attributes, expected view row as JSON with values_fit)
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "good",
            json!({"text": {"S": "a"}, "int": {"N": "-9223372036854775808"}, "exact": {"N": "12345678901234567890.123456789012345678"},
                   "real": {"N": "1.5"}, "flag": {"BOOL": true}, "at": {"S": "2024-02-29T12:00:00.123456Z"}, "any": {"M": {"k": {"N": "1"}}},
                   "texts": {"SS": ["x"]}, "ints": {"NS": ["1", "2"]}, "exacts": {"L": [{"N": "0.1"}]}, "reals": {"L": [{"N": "2"}]}, "flags": {"L": [{"BOOL": false}]}}),
            json!({"text": "a", "int": -9223372036854775808i64, "exact": "12345678901234567890.123456789012345678", "real": 1.5, "flag": true,
                   "at": "2024-02-29T12:00:00.123456+00:00", "any": {"k": 1}, "texts": ["x"], "ints": [1, 2], "exacts": ["0.1"], "reals": [2], "flags": [false], "values_fit": true}),
        ),
        ("missing", json!({}), row(true, json!({}))),
        (
            "nulls",
            json!({"text": {"NULL": true}, "int": {"NULL": true}, "at": {"NULL": true}, "ints": {"NULL": true}}),
            row(true, json!({})),
        ),
        (
            "too_big",
            json!({"int": {"N": "123456789012345678901234567890123456789"}, "real": {"N": "1e400"}, "ints": {"NS": ["1", "9223372036854775808"]}}),
            row(false, json!({})),
        ),
        (
            "fraction",
            json!({"int": {"N": "2.5"}}),
            row(false, json!({})),
        ),
        (
            "tiny",
            json!({"real": {"N": "1e-400"}, "int": {"N": "2.0"}}),
            row(false, json!({"int": 2})),
        ),
        (
            "wrong_types",
            json!({"text": {"N": "5"}, "exact": {"S": "5"}, "flag": {"S": "true"}, "at": {"N": "1700000000"}, "texts": {"S": "x"},
                   "reals": {"L": [{"N": "1"}, {"S": "x"}]}, "flags": {"L": [{"NULL": true}]}}),
            row(false, json!({})),
        ),
        (
            "bad_times",
            json!({"at": {"S": "2023-02-30T00:00:00Z"}, "any": {"S": "kept"}}),
            row(false, json!({"any": "kept"})),
        ),
        (
            "offset_too_far",
            json!({"at": {"S": "2024-01-01T10:00:00+16:00"}}),
            row(false, json!({})),
        ),
        (
            "year_zero",
            json!({"at": {"S": "0000-01-01T00:00:00Z"}}),
            row(false, json!({})),
        ),
        (
            "leap_second",
            json!({"at": {"S": "2016-12-31T23:59:60Z"}}),
            row(true, json!({"at": "2017-01-01T00:00:00+00:00"})),
        ),
        ("now", json!({"at": {"S": "now"}}), row(false, json!({}))),
    ];
    let records: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (id, attrs, _))| {
            let mut img = attrs.clone();
            img["id"] = json!({"S": id});
            record(
                "INSERT",
                &(i + 1).to_string(),
                (&format!("ALL#{id}"), "ALL"),
                Some(img),
                None,
            )
        })
        .collect();
    let report = handle(&router, &records).await;
    assert!(
        report.response().batch_item_failures.is_empty(),
        "{:?}",
        report.records
    );
    for (id, _, want) in &cases {
        let row = c
            .query_one(
                &format!(
                    "SELECT (to_jsonb(v) - 'id' - 'pk' - 'sk' - 'schema_version' - 'seq' - 'stream' - 'event_time')::text FROM {schema}.all_columns v WHERE id = $1"
                ),
                &[id],
            )
            .await
            .unwrap_or_else(|e| panic!("{id}: {}", dynastream::postgres::describe(&e)));
        let got_text: String = row.get(0);
        let got: Value = serde_json::from_str(&got_text).unwrap();
        let mut want = want.clone();
        for k in ["exact"] {
            if let Some(s) = want[k].as_str() {
                want[k] = serde_json::from_str(s).unwrap();
            }
        }
        if let Some(a) = want["exacts"].as_array_mut() {
            for v in a.iter_mut() {
                if let Some(s) = v.as_str() {
                    *v = serde_json::from_str(s).unwrap();
                }
            }
        }
        assert_eq!(got, want, "{id}: {got_text}");
    }
    // Aggregates over every row never fail, in parallel plans too (a plpgsql exception block
    // would: Postgres before 17 refuses its subtransaction in a parallel worker).
    c.batch_execute(
        "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; \
         SET min_parallel_table_scan_size = 0; SET enable_indexscan = off; SET enable_bitmapscan = off; \
         SET parallel_leader_participation = off",
    )
    .await
    .unwrap();
    for q in [
        "sum(int)",
        "sum(exact)",
        "sum(real)",
        "bool_and(flag)",
        "max(at)",
        "count(*) FILTER (WHERE NOT values_fit)",
    ] {
        c.query_one(&format!("SELECT {q}::text FROM {schema}.all_columns"), &[])
            .await
            .unwrap_or_else(|e| panic!("{q}: {}", dynastream::postgres::describe(&e)));
    }
    let unfit: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM {schema}.all_columns WHERE NOT values_fit"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unfit, 8);
    // The exact digits of a 38-digit number survive (numeric, not double).
    let exact: String = c
        .query_one(
            &format!("SELECT exact::text FROM {schema}.all_columns WHERE id = 'good'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(exact, "12345678901234567890.123456789012345678");
}

/// A model that keeps its schema version under its own attribute (dynawrap, the Python key-pattern library, writes
/// `schema_version` under another scheme).
#[derive(Debug, serde::Deserialize, dynastream::Model)]
#[dynastream(pk = "DOC#{id}", sk = "DOC", schema_version_attr = "ds_version")]
#[allow(dead_code)] // read through the mirror only
struct Doc {
    id: String,
}

#[tokio::test]
async fn the_schema_version_column_reads_the_models_attribute() {
    let schema = pg::fresh_schema("sv_attr").await;
    let router = Router::builder(())
        .model::<Doc>()
        .hook(Mirror::new(config(&pg::database_url(), &schema)))
        .build()
        .unwrap();
    let both = json!({"id": {"S": "1"}, "schema_version": {"S": "python-v3"}, "ds_version": {"S": "mine"}});
    let records = [
        record("INSERT", "1", ("DOC#1", "DOC"), Some(both.clone()), None),
        // Matches no model: the default attribute.
        record("INSERT", "2", ("OTHER#1", "X"), Some(both), None),
    ];
    handle(&router, &records).await;
    let rows: Vec<(String, Option<String>, bool)> = pg::client()
        .await
        .query(
            &format!("SELECT pk, schema_version, data ? 'schema_version' FROM {schema}.items ORDER BY pk"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [
            ("DOC#1".to_string(), Some("mine".to_string()), true),
            ("OTHER#1".to_string(), Some("python-v3".to_string()), true),
        ]
    );
}
