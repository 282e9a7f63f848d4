//! Fault isolation in the mirror, against a real server: no record can fail another record's
//! mirror write for what it holds. Values Postgres cannot store are found before sending (U+0000
//! in a value, a map key or a key; numbers beyond `numeric`); rows the server still refuses for
//! their data (keys too long for the primary key's index, a user's CHECK constraint) are
//! isolated by writing the rows in parts. Connection outages stay whole-batch failures
//! (tests/mirror.rs).

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynastream::postgres::{Mirror, MirrorConfig};
use dynastream::{Action, Change, Context, Outcome, Policies, RecordErrorKind, Router};
use dynastream_example_models::UserProfile;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use support::pg::{self, event, record};

async fn count(_c: Change<UserProfile>, ctx: Context<Arc<AtomicUsize>>) -> Result<(), String> {
    ctx.state().fetch_add(1, Ordering::SeqCst);
    Ok(())
}

async fn mirrored_router(
    schema: &str,
    undecodable: Action,
) -> (Router<Arc<AtomicUsize>>, Arc<Mirror>) {
    let mirror = Arc::new(Mirror::new(
        MirrorConfig::new(&pg::database_url())
            .unwrap()
            .schema(schema)
            .unwrap()
            .table("items")
            .unwrap(),
    ));
    let router = Router::builder(Arc::new(AtomicUsize::new(0)))
        .on::<UserProfile, _>(count)
        .policies(Policies::default().undecodable(undecodable))
        .hook(Arc::clone(&mirror))
        .build()
        .unwrap();
    router.start().await.unwrap();
    // A rule of the user's own, which the server enforces row by row (SQLSTATE 23514).
    pg::client()
        .await
        .batch_execute(&format!(
            "ALTER TABLE {schema}.items ADD CONSTRAINT no_poison CHECK (data->>'display_name' IS DISTINCT FROM 'POISON')"
        ))
        .await
        .unwrap();
    (router, mirror)
}

fn profile(seq: u64, owner: &str, name: &str) -> Value {
    record(
        "MODIFY",
        &format!("{seq:021}"),
        (&format!("USER#{owner}"), "PROFILE"),
        Some(json!({"owner": {"S": owner}, "display_name": {"S": name}, "email": {"S": "e@x"}})),
        None,
    )
}

/// Keys that together exceed what a btree index entry can hold (2704 bytes, incompressible):
/// DynamoDB takes them (partition key up to 2048 bytes, sort key up to 1024), Postgres refuses
/// the row with SQLSTATE 54000.
fn long_keys(seq: u64, salt: u64) -> Value {
    let mut x = salt | 1;
    let mut noise = |n: usize| {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(
                    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        [(x % 62) as usize],
                )
            })
            .collect::<String>()
    };
    let (pk, sk) = (format!("MISC#{}", noise(2000)), noise(1000));
    record(
        "INSERT",
        &format!("{seq:021}"),
        (&pk, &sk),
        Some(json!({"v": {"N": "1"}})),
        None,
    )
}

async fn mirrored(schema: &str) -> BTreeMap<(String, String), (String, Option<String>)> {
    pg::client()
        .await
        .query(
            &format!("SELECT pk, sk, seq::text, data->>'display_name' FROM {schema}.items"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
        .collect()
}

/// Handles `records` as one batch: the report and each record's outcome label.
async fn run(
    router: &Router<Arc<AtomicUsize>>,
    records: &[Value],
) -> (dynastream::BatchReport, Vec<&'static str>) {
    let report = router
        .handle_event(&event(records), Default::default())
        .await
        .unwrap();
    let labels = report.records.iter().map(|r| r.outcome.label()).collect();
    (report, labels)
}

fn hook_error(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(e) => match &e.kind {
            RecordErrorKind::Hook { .. } => e.to_string(),
            other => panic!("not a hook refusal: {other:?}"),
        },
        Outcome::Skipped(why) => why.clone(),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_nul_in_a_value_fails_its_record_alone_and_says_where() {
    // The shape of ../shared/field-cases/09-nul-in-value.json: three records, the middle one
    // with U+0000 in a string.
    let schema = pg::fresh_schema("iso_nul").await;
    let (router, mirror) = mirrored_router(&schema, Action::Fail).await;
    let records = [
        profile(1, "a", "Ann"),
        profile(2, "b", "B\u{0}b"),
        profile(3, "c", "Cy"),
    ];
    let (report, labels) = run(&router, &records).await;
    assert_eq!(labels, ["ok", "failed", "deferred"]);
    let message = hook_error(&report.records[1].outcome);
    assert!(
        message.contains("000000000000000000002")
            && message.contains("mirror")
            && message.contains("attribute display_name: string holds U+0000"),
        "{message}"
    );
    assert_eq!(mirror.writes(), 1, "found before sending: one statement");
    let rows = mirrored(&schema).await;
    assert_eq!(rows.len(), 2, "the others are mirrored: {rows:?}");

    // U+0000 in a key and in a map key, under the skip policy: everything else goes through.
    let schema = pg::fresh_schema("iso_nul_skip").await;
    let (router, _) = mirrored_router(&schema, Action::Skip).await;
    let mut in_map_key = profile(6, "f", "Fay");
    in_map_key["dynamodb"]["NewImage"]["prefs"] = json!({"M": {"k\u{0}": {"S": "v"}}});
    let records = [
        profile(4, "d", "Di"),
        profile(5, "e\u{0}", "Ed"),
        in_map_key,
        profile(7, "g", "Gus"),
    ];
    let (report, labels) = run(&router, &records).await;
    assert_eq!(labels, ["ok", "skipped", "skipped", "ok"]);
    assert!(report.response().batch_item_failures.is_empty());
    assert!(hook_error(&report.records[1].outcome).contains("Keys.PK holds U+0000"));
    assert!(hook_error(&report.records[2].outcome).contains("attribute prefs: attribute name"));
    assert_eq!(router.state().load(Ordering::SeqCst), 2);
    assert_eq!(mirrored(&schema).await.len(), 2);
}

#[tokio::test]
async fn rows_the_server_refuses_are_isolated_with_its_sqlstate() {
    let schema = pg::fresh_schema("iso_server").await;
    let (router, mirror) = mirrored_router(&schema, Action::Skip).await;
    let mut records: Vec<Value> = (1..=20)
        .map(|i| profile(i, &format!("u{i}"), "ok"))
        .collect();
    records[12] = long_keys(13, 7);
    // An item whose newest record the user's CHECK constraint refuses: the item keeps the
    // newest record of the batch that Postgres takes.
    records[3] = profile(4, "same", "first");
    records[15] = profile(16, "same", "POISON");
    let report = router
        .handle_event(&event(&records), Default::default())
        .await
        .unwrap();
    let skipped: Vec<usize> = (0..records.len())
        .filter(|&i| report.records[i].outcome.label() == "skipped")
        .collect();
    assert_eq!(skipped, [12, 15], "{:?}", report.records);
    let long = hook_error(&report.records[12].outcome);
    assert!(
        long.contains("54000") && long.contains("Postgres refused the row"),
        "{long}"
    );
    let check = hook_error(&report.records[15].outcome);
    assert!(
        check.contains("23514") && check.contains("no_poison"),
        "{check}"
    );
    let rows = mirrored(&schema).await;
    assert_eq!(rows.len(), 18, "every other item is mirrored");
    assert_eq!(
        rows[&("USER#same".to_string(), "PROFILE".to_string())],
        ("4".to_string(), Some("first".to_string()))
    );
    assert!(
        mirror.writes() < 20,
        "isolation writes in parts, not row by row: {}",
        mirror.writes()
    );

    // Under the default policy the refused record fails, what precedes it is acknowledged.
    let schema = pg::fresh_schema("iso_server_fail").await;
    let (router, _) = mirrored_router(&schema, Action::Fail).await;
    let records = [profile(1, "a", "A"), long_keys(2, 9), profile(3, "c", "C")];
    let (report, labels) = run(&router, &records).await;
    assert_eq!(labels, ["ok", "failed", "deferred"]);
    assert_eq!(
        report.response().batch_item_failures[0].item_identifier,
        format!("{:021}", 2)
    );
}

#[derive(Debug, Clone)]
enum Rec {
    Good { item: usize, name: u16 },
    NulValue { item: usize },
    NulKey,
    LateTime { item: usize },
    LongKeys,
    Refused { item: usize },
}

/// Which records must be refused. Values found before sending always are. A row the server
/// refuses is sent only when it is its item's newest in the batch, or when every newer row of
/// the item was refused too: a record a later one of the same item overwrites is never written,
/// so it is acknowledged like any other.
fn poisons(recs: &[Rec]) -> Vec<bool> {
    let mut out: Vec<bool> = recs
        .iter()
        .map(|r| !matches!(r, Rec::Good { .. } | Rec::Refused { .. }))
        .collect();
    for item in 0..5 {
        for i in (0..recs.len()).rev() {
            match recs[i] {
                Rec::Good { item: it, .. } if it == item => break,
                Rec::Refused { item: it } if it == item => out[i] = true,
                _ => {}
            }
        }
    }
    out
}

fn rec() -> impl Strategy<Value = Rec> {
    prop_oneof![
        8 => (0..5usize, any::<u16>()).prop_map(|(item, name)| Rec::Good { item, name }),
        1 => (0..5usize).prop_map(|item| Rec::NulValue { item }),
        1 => Just(Rec::NulKey),
        1 => (0..5usize).prop_map(|item| Rec::LateTime { item }),
        1 => Just(Rec::LongKeys),
        1 => (0..5usize).prop_map(|item| Rec::Refused { item }),
    ]
}

fn to_json(i: usize, r: &Rec) -> Value {
    let seq = i as u64 + 1;
    match *r {
        Rec::Good { item, name } => profile(seq, &format!("u{item}"), &format!("n{name}")),
        Rec::NulValue { item } => profile(seq, &format!("u{item}"), "x\u{0}y"),
        Rec::NulKey => profile(seq, "k\u{0}", "nul key"),
        Rec::LateTime { item } => {
            let mut v = profile(seq, &format!("u{item}"), "late");
            // Milliseconds without the precision field: beyond 9999-12-31 as seconds.
            v["dynamodb"]["ApproximateCreationDateTime"] = json!(1_700_000_000_907u64);
            v
        }
        Rec::LongKeys => long_keys(seq, seq * 31),
        Rec::Refused { item } => profile(seq, &format!("u{item}"), "POISON"),
    }
}

#[test]
fn poison_records_fail_alone_wherever_they_are() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (fail, skip) = rt.block_on(async {
        let a = pg::fresh_schema("iso_prop_fail").await;
        let b = pg::fresh_schema("iso_prop_skip").await;
        (
            (mirrored_router(&a, Action::Fail).await.0, a),
            (mirrored_router(&b, Action::Skip).await.0, b),
        )
    });
    let client = rt.block_on(pg::client());
    let mut runner = TestRunner::new(Config {
        cases: 32,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(rec(), 1..40), |recs| {
        rt.block_on(async {
            let records: Vec<Value> = recs
                .iter()
                .enumerate()
                .map(|(i, r)| to_json(i, r))
                .collect();
            // The table minus the poisons: each item's newest good record.
            let mut want: BTreeMap<(String, String), (String, Option<String>)> = BTreeMap::new();
            for (i, r) in recs.iter().enumerate() {
                if let Rec::Good { item, name } = r {
                    want.insert(
                        (format!("USER#u{item}"), "PROFILE".into()),
                        ((i + 1).to_string(), Some(format!("n{name}"))),
                    );
                }
            }
            let poison = poisons(&recs);
            let first_poison = poison.iter().position(|p| *p);
            for ((router, schema), action) in [(&fail, Action::Fail), (&skip, Action::Skip)] {
                client
                    .batch_execute(&format!("TRUNCATE {schema}.items"))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                router.state().store(0, Ordering::SeqCst);
                let report = router
                    .handle_event(&event(&records), Default::default())
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                for (i, r) in recs.iter().enumerate() {
                    let label = report.records[i].outcome.label();
                    let expected = match (action, first_poison) {
                        (Action::Skip, _) if poison[i] => "skipped",
                        (Action::Skip, _) => "ok",
                        (Action::Fail, Some(p)) if i == p => "failed",
                        (Action::Fail, Some(p)) if i > p => "deferred",
                        (Action::Fail, _) => "ok",
                    };
                    prop_assert_eq!(label, expected, "record {} {:?} under {:?}", i, r, action);
                }
                let handled = recs
                    .iter()
                    .enumerate()
                    .filter(|(i, r)| {
                        !poison[*i]
                            && !matches!(r, Rec::LongKeys)
                            && (action == Action::Skip || first_poison.is_none_or(|p| *i < p))
                    })
                    .count();
                prop_assert_eq!(router.state().load(Ordering::SeqCst), handled);
                // Every record before the first poison, and (the mirror writes all it can take)
                // every other good record too: the mirror is the table minus the poisons.
                prop_assert_eq!(mirrored(schema).await, want.clone(), "under {:?}", action);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
