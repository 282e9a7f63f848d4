//! The router's batch semantics: ordering, stop at first failure, per-key concurrency,
//! policies, panics, the fallback and per-kind handlers.

extern crate dynastream_core as dynastream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dynastream::{
    Action, Change, ChangeKind, Concurrency, Context, Model, Op, Outcome, Policies, RecordError,
    RecordErrorKind, RegistryError, Router, Unmatched,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[dynastream(pk = "ITEM#{id}", sk = "V")]
struct Item {
    id: String,
    n: i64,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    panic: bool,
    #[serde(default)]
    sleep_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[dynastream(
    pk = "user#{user}",
    sk = "ORDER#{order:06}",
    entity = "Order",
    pk_attr = "pk",
    sk_attr = "sk"
)]
struct Ord {
    user: String,
    order: u32,
}

#[derive(Default)]
struct Seen {
    log: Mutex<Vec<String>>,
}

impl Seen {
    fn push(&self, s: String) {
        self.log.lock().unwrap().push(s);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn rec(kind: &str, seq: u64, id: &str, new: Option<Value>, old: Option<Value>) -> Value {
    let keys = json!({"PK": {"S": format!("ITEM#{id}")}, "SK": {"S": "V"}});
    let mut d = json!({"Keys": keys, "SequenceNumber": seq.to_string(), "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    if let Some(n) = new {
        d["NewImage"] = n;
    }
    if let Some(o) = old {
        d["OldImage"] = o;
    }
    json!({"eventID": format!("e{seq}"), "eventName": kind, "dynamodb": d, "eventSourceARN": "arn:stream", "awsRegion": "eu-west-1"})
}

fn img(id: &str, n: i64, extra: Value) -> Value {
    let mut v = json!({"PK": {"S": format!("ITEM#{id}")}, "SK": {"S": "V"}, "id": {"S": id}, "n": {"N": n.to_string()}});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn insert(seq: u64, id: &str, n: i64, extra: Value) -> Value {
    rec("INSERT", seq, id, Some(img(id, n, extra)), None)
}

fn batch(records: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

async fn item_handler(change: Change<Item>, ctx: Context<Seen>) -> Result<(), String> {
    let item = change.new_image().or(change.old_image()).cloned();
    if let Some(i) = &item {
        if i.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(i.sleep_ms)).await;
        }
        if i.panic {
            panic!("boom on {}", i.id);
        }
        if i.fail {
            ctx.state()
                .push(format!("fail {}", change.meta.sequence_number));
            return Err(format!("refused {}", i.id));
        }
    }
    ctx.state().push(format!(
        "{} {} {}",
        change.kind(),
        change.key.id,
        change.meta.sequence_number
    ));
    Ok(())
}

fn router(concurrency: Concurrency, policies: Policies) -> Router<Seen> {
    Router::builder(Seen::default())
        .on::<Item, _>(item_handler)
        .concurrency(concurrency)
        .policies(policies)
        .build()
        .unwrap()
}

fn outcomes(report: &dynastream::BatchReport) -> Vec<&'static str> {
    report.records.iter().map(|r| r.outcome.label()).collect()
}

fn failed_ids(report: &dynastream::BatchReport) -> Vec<String> {
    report
        .response()
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

async fn run(router: &Router<Seen>, records: Vec<Value>) -> dynastream::BatchReport {
    router
        .handle_event(&batch(records), Default::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn sequential_stops_at_the_first_failure() {
    let r = router(Concurrency::Sequential, Policies::default());
    let report = run(
        &r,
        vec![
            insert(1, "a", 1, json!({})),
            insert(2, "b", 2, json!({"fail": {"BOOL": true}})),
            insert(3, "c", 3, json!({})),
        ],
    )
    .await;
    assert_eq!(outcomes(&report), ["ok", "failed", "deferred"]);
    assert_eq!(failed_ids(&report), ["2"]);
    assert_eq!(r.registry().specs().len(), 1);
    assert_eq!(
        r.state().take(),
        ["INSERT a 1", "fail 2"],
        "record 3 never ran"
    );
    match &report.records[1].outcome {
        Outcome::Failed(RecordError {
            kind:
                RecordErrorKind::Handler {
                    model,
                    kind,
                    source,
                },
            ..
        }) => {
            assert_eq!((*model, *kind), ("Item", ChangeKind::Insert));
            assert_eq!(source.to_string(), "refused b");
        }
        o => panic!("{o:?}"),
    }
}

#[tokio::test]
async fn a_panic_fails_its_record_not_the_batch() {
    let r = router(Concurrency::Sequential, Policies::default());
    let report = run(
        &r,
        vec![
            insert(1, "a", 1, json!({"panic": {"BOOL": true}})),
            insert(2, "b", 2, json!({})),
        ],
    )
    .await;
    assert_eq!(outcomes(&report), ["failed", "deferred"]);
    assert!(
        matches!(&report.records[0].outcome, Outcome::Failed(RecordError { kind: RecordErrorKind::Panic { message, .. }, .. }) if message == "boom on a")
    );
    // With the skip policy the batch goes on.
    let r = router(
        Concurrency::Sequential,
        Policies::default().panic(Action::Skip),
    );
    let report = run(
        &r,
        vec![
            insert(1, "a", 1, json!({"panic": {"BOOL": true}})),
            insert(2, "b", 2, json!({})),
        ],
    )
    .await;
    assert_eq!(outcomes(&report), ["skipped", "ok"]);
    assert!(failed_ids(&report).is_empty());
}

#[tokio::test]
async fn a_handler_that_panics_before_returning_its_future_fails_its_record() {
    fn eager(change: Change<Item>, _ctx: Context<Seen>) -> std::future::Ready<Result<(), String>> {
        if change.new_image().is_some_and(|i| i.panic) {
            panic!("eager boom");
        }
        std::future::ready(Ok(()))
    }
    let r = Router::builder(Seen::default())
        .on::<Item, _>(eager)
        .build()
        .unwrap();
    let report = run(
        &r,
        vec![
            insert(1, "a", 1, json!({})),
            insert(2, "b", 2, json!({"panic": {"BOOL": true}})),
            insert(3, "c", 3, json!({})),
        ],
    )
    .await;
    assert_eq!(outcomes(&report), ["ok", "failed", "deferred"]);
    match &report.records[1].outcome {
        Outcome::Failed(RecordError {
            sequence_number,
            kind: RecordErrorKind::Panic { model, message, .. },
            ..
        }) => {
            assert_eq!(
                (sequence_number.as_str(), *model, message.as_str()),
                ("2", "Item", "eager boom")
            );
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(failed_ids(&report), ["2"]);
}

#[tokio::test]
async fn policies_for_undecodable_and_handler_errors() {
    let bad = insert(1, "a", 1, json!({"n": {"N": "1.5"}}));
    let r = router(Concurrency::Sequential, Policies::default());
    let report = run(&r, vec![bad.clone(), insert(2, "b", 2, json!({}))]).await;
    assert_eq!(outcomes(&report), ["failed", "deferred"]);
    match &report.records[0].outcome {
        Outcome::Failed(
            e @ RecordError {
                kind: RecordErrorKind::Decode { model, field, .. },
                ..
            },
        ) => {
            assert_eq!((*model, field.as_deref()), ("Item", Some("n")));
            assert!(e.to_string().starts_with("record 1: NewImage does not fit model Item: field `n`: number 1.5 is not an integer"), "{e}");
        }
        o => panic!("{o:?}"),
    }
    let r = router(
        Concurrency::Sequential,
        Policies::default()
            .undecodable(Action::Skip)
            .handler_error(Action::Skip),
    );
    let report = run(
        &r,
        vec![
            bad,
            insert(2, "b", 2, json!({"fail": {"BOOL": true}})),
            insert(3, "c", 3, json!({})),
        ],
    )
    .await;
    assert_eq!(outcomes(&report), ["skipped", "skipped", "ok"]);
}

#[tokio::test]
async fn unmatched_records_skip_fail_or_reach_the_fallback() {
    let stranger = json!({"eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": "OTHER#1"}, "SK": {"S": "V"}}, "NewImage": {"x": {"S": "y"}}, "SequenceNumber": "9"}});
    let r = router(Concurrency::Sequential, Policies::default());
    let report = run(&r, vec![stranger.clone()]).await;
    assert_eq!(outcomes(&report), ["skipped"]);
    let r = router(
        Concurrency::Sequential,
        Policies::default().unmatched(Action::Fail),
    );
    assert_eq!(failed_ids(&run(&r, vec![stranger.clone()]).await), ["9"]);

    let r = Router::builder(Seen::default())
        .on::<Item, _>(item_handler)
        .fallback(|u: Unmatched, ctx: Context<Seen>| async move {
            #[derive(Deserialize)]
            struct Any {
                x: String,
            }
            let new: Any =
                dynastream::dynamodb_json::from_image(u.new_image.as_ref().unwrap().get())
                    .map_err(|e| e.to_string())?;
            ctx.state()
                .push(format!("fallback {} {} x={}", u.kind, u.keys, new.x));
            Ok::<(), String>(())
        })
        .build()
        .unwrap();
    assert_eq!(outcomes(&run(&r, vec![stranger]).await), ["ok"]);
    assert_eq!(
        r.state().take(),
        [r#"fallback INSERT PK="OTHER#1", SK="V" x=y"#]
    );
}

#[tokio::test]
async fn per_kind_handlers_and_missing_images() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s1 = Arc::clone(&seen);
    let r = Router::builder(())
        .on_kind::<Item, _>(
            ChangeKind::Remove,
            move |c: Change<Item>, _ctx: Context<()>| {
                let s1 = Arc::clone(&s1);
                async move {
                    s1.lock()
                        .unwrap()
                        .push((c.key.id.clone(), c.op.clone(), c.meta.ttl_expired));
                    Ok::<(), std::convert::Infallible>(())
                }
            },
        )
        .build()
        .unwrap();
    let mut ttl = rec("REMOVE", 2, "b", None, None);
    ttl["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    ttl["dynamodb"]["StreamViewType"] = json!("KEYS_ONLY");
    let records = vec![
        insert(1, "a", 1, json!({})),
        ttl,
        rec("REMOVE", 3, "c", None, Some(img("c", 5, json!({})))),
    ];
    let report = r
        .handle_event(&batch(records), Default::default())
        .await
        .unwrap();
    assert_eq!(outcomes(&report), ["skipped", "ok", "ok"]);
    assert!(
        matches!(&report.records[0].outcome, Outcome::Skipped(why) if why == "no INSERT handler for Item")
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0],
        ("b".to_string(), Op::Remove { old: None }, true),
        "KEYS_ONLY: key without image"
    );
    assert_eq!(
        seen[1].1,
        Op::Remove {
            old: Some(Item {
                id: "c".into(),
                n: 5,
                fail: false,
                panic: false,
                sleep_ms: 0
            })
        }
    );
    assert!(!seen[1].2);
}

#[tokio::test]
async fn per_key_concurrency_keeps_each_items_order_and_reports_the_lowest_failure() {
    let r = router(Concurrency::PerKey { max: 4 }, Policies::default());
    // Item a is slow, so b's records finish first; a's must still run in order.
    let records = vec![
        insert(1, "a", 1, json!({"sleep_ms": {"N": "30"}})),
        insert(2, "b", 1, json!({})),
        rec("MODIFY", 3, "a", Some(img("a", 2, json!({}))), None),
        rec(
            "MODIFY",
            4,
            "b",
            Some(img("b", 2, json!({"fail": {"BOOL": true}}))),
            None,
        ),
        rec("MODIFY", 5, "a", Some(img("a", 3, json!({}))), None),
        rec("MODIFY", 6, "b", Some(img("b", 3, json!({}))), None),
    ];
    let report = run(&r, records).await;
    let log = r.state().take();
    let a: Vec<&String> = log.iter().filter(|l| l.contains(" a ")).collect();
    assert_eq!(
        a,
        ["INSERT a 1", "MODIFY a 3"],
        "a in order; a's record 5 comes after the failure at 4: {log:?}"
    );
    assert!(
        log.iter().position(|l| l == "INSERT b 2") < log.iter().position(|l| l == "INSERT a 1"),
        "b ran beside slow a: {log:?}"
    );
    assert_eq!(
        outcomes(&report),
        ["ok", "ok", "ok", "failed", "deferred", "deferred"]
    );
    assert_eq!(failed_ids(&report), ["4"]);
}

#[tokio::test]
async fn per_key_concurrency_is_bounded() {
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (r2, p2) = (Arc::clone(&running), Arc::clone(&peak));
    let r = Router::builder(())
        .on::<Item, _>(move |_c: Change<Item>, _ctx: Context<()>| {
            let (running, peak) = (Arc::clone(&r2), Arc::clone(&p2));
            async move {
                let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .concurrency(Concurrency::PerKey { max: 3 })
        .build()
        .unwrap();
    let records: Vec<Value> = (0..20)
        .map(|i| insert(i, &format!("k{i}"), 1, json!({})))
        .collect();
    let report = r
        .handle_event(&batch(records), Default::default())
        .await
        .unwrap();
    assert!(report
        .records
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Ok)));
    assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn custom_key_attributes_and_padded_keys() {
    let got = Arc::new(Mutex::new(None));
    let g = Arc::clone(&got);
    let r = Router::builder(())
        .on::<Ord, _>(move |c: Change<Ord>, ctx: Context<()>| {
            let g = Arc::clone(&g);
            async move {
                *g.lock().unwrap() = Some((
                    c.key.clone(),
                    c.meta.approximate_creation_time.map(|t| t.to_string()),
                    ctx.event_source_arn().map(str::to_string),
                ));
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .build()
        .unwrap();
    let ev = json!({"Records": [
        {"eventName": "INSERT", "eventSourceARN": "arn:s", "dynamodb": {"ApproximateCreationDateTime": 1479499740.907, "Keys": {"pk": {"S": "user#u1"}, "sk": {"S": "ORDER#000042"}}, "SequenceNumber": "1"}},
        {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "user#u1"}, "sk": {"S": "ORDER#42"}}, "SequenceNumber": "2"}},
        {"eventName": "INSERT", "dynamodb": {"Keys": {"PK": {"S": "user#u1"}, "SK": {"S": "ORDER#000042"}}, "SequenceNumber": "3"}}
    ]});
    let report = r
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Default::default())
        .await
        .unwrap();
    assert_eq!(
        outcomes(&report),
        ["ok", "skipped", "skipped"],
        "unpadded and wrong attribute names do not match"
    );
    let (key, time, arn) = got.lock().unwrap().clone().unwrap();
    assert_eq!(
        key,
        OrdKey {
            user: "u1".into(),
            order: 42
        }
    );
    assert_eq!(
        time.as_deref(),
        Some("2016-11-18T20:09:00.907Z"),
        "sub-second time kept exactly"
    );
    assert_eq!(arn.as_deref(), Some("arn:s"));
}

#[test]
fn set_up_errors_are_found_at_build() {
    #[derive(Debug, Deserialize, Model)]
    #[dynastream(pk = "ITEM#{id}", sk = "{v}")]
    struct Shadow {
        id: String,
        v: String,
    }
    let err = Router::builder(())
        .on::<Item, _>(|_c: Change<Item>, _x: Context<()>| async { Ok::<(), String>(()) })
        .model::<Shadow>()
        .build()
        .err()
        .unwrap();
    match err {
        RegistryError::Overlap(o) => {
            let dynastream::error::Overlap {
                first,
                second,
                pk,
                sk,
                ..
            } = *o;
            assert_eq!((first.as_str(), second.as_str()), ("Item", "Shadow"));
            assert!(pk.starts_with("ITEM#") && sk == "V", "{pk} {sk}");
        }
        e => panic!("{e}"),
    }
    let h = |_c: Change<Item>, _x: Context<()>| async { Ok::<(), String>(()) };
    let err = Router::builder(())
        .on::<Item, _>(h)
        .on_kind::<Item, _>(ChangeKind::Modify, h)
        .build()
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            RegistryError::DuplicateHandler {
                model: "Item",
                kind: ChangeKind::Modify
            }
        ),
        "{err}"
    );
    assert!(matches!(
        Router::builder(())
            .model::<Item>()
            .concurrency(Concurrency::PerKey { max: 0 })
            .build()
            .err(),
        Some(RegistryError::ZeroConcurrency)
    ));
}

#[tokio::test]
async fn unreadable_events_are_invocation_errors() {
    let r = router(Concurrency::Sequential, Policies::default());
    for bad in [
        &b"{"[..],
        b"[]",
        b"{\"Records\": 5}",
        b"{\"Records\": [{\"eventName\": \"INSERT\"}]}",
    ] {
        assert!(
            r.handle_event(bad, Default::default()).await.is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[tokio::test]
async fn a_records_report_and_its_change_share_one_sequence_number() {
    let kept: Arc<Mutex<Vec<dynastream::SequenceNumber>>> = Arc::default();
    let keep = Arc::clone(&kept);
    let router = Router::builder(())
        .on::<Item, _>(move |change: Change<Item>, _ctx: Context<()>| {
            keep.lock()
                .unwrap()
                .push(change.meta.sequence_number.clone());
            std::future::ready(Ok::<(), String>(()))
        })
        .build()
        .unwrap();
    let report = router
        .handle_event(
            &batch(vec![
                insert(7, "a", 1, json!({})),
                insert(8, "b", 2, json!({})),
            ]),
            Default::default(),
        )
        .await
        .unwrap();
    let kept = kept.lock().unwrap();
    assert_eq!(kept.len(), 2);
    for (seen, line) in kept.iter().zip(&report.records) {
        assert_eq!(seen, &line.sequence_number);
        // The same text, not a copy of it.
        assert_eq!(seen.as_ptr(), line.sequence_number.as_ptr());
    }
    assert_eq!(report.records[0].sequence_number, "7");
}

/// A hook that refuses the records whose item id is `bad`, or fails the whole batch.
struct Refuser {
    down: bool,
}

impl dynastream::BatchHook for Refuser {
    fn name(&self) -> &'static str {
        "refuser"
    }

    fn before_handlers<'a>(
        &'a self,
        batch: dynastream::hook::Batch<'a>,
    ) -> dynastream::BoxFuture<'a, Result<Vec<dynastream::hook::Refusal>, dynastream::BoxError>>
    {
        Box::pin(async move {
            if self.down {
                return Err("the database is down".into());
            }
            Ok(batch
                .records()
                .filter(|r| r.record.keys.to_string().contains("ITEM#bad"))
                .map(|r| dynastream::hook::Refusal::new(r.index, "cannot hold it"))
                .collect())
        })
    }
}

fn hooked(concurrency: Concurrency, policies: Policies, down: bool) -> Router<Seen> {
    Router::builder(Seen::default())
        .on::<Item, _>(item_handler)
        .hook(Refuser { down })
        .concurrency(concurrency)
        .policies(policies)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_hook_refusal_follows_the_undecodable_policy_and_a_hook_failure_fails_the_batch() {
    let records = || {
        vec![
            insert(1, "a", 1, json!({})),
            insert(2, "bad", 2, json!({})),
            insert(3, "c", 3, json!({})),
        ]
    };
    // Fail (the default): the refused record fails without its handler; the rest wait.
    for c in [Concurrency::Sequential, Concurrency::PerKey { max: 4 }] {
        let r = hooked(c, Policies::default(), false);
        let report = run(&r, records()).await;
        assert_eq!(outcomes(&report), ["ok", "failed", "deferred"], "{c:?}");
        assert_eq!(failed_ids(&report), ["2"]);
        match &report.records[1].outcome {
            Outcome::Failed(e) => {
                assert_eq!(e.to_string(), "record 2: refuser: cannot hold it");
                assert!(matches!(
                    e.kind,
                    RecordErrorKind::Hook {
                        hook: "refuser",
                        ..
                    }
                ));
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(r.state().take(), ["INSERT a 1"], "{c:?}");
    }
    // Skip: the refused record is acknowledged without its handler; the others are handled.
    let skip = Policies::default().undecodable(Action::Skip);
    let r = hooked(Concurrency::Sequential, skip, false);
    let report = run(&r, records()).await;
    assert_eq!(outcomes(&report), ["ok", "skipped", "ok"]);
    assert!(failed_ids(&report).is_empty());
    assert_eq!(r.state().take(), ["INSERT a 1", "INSERT c 3"]);
    // The hook fails as a whole: every record fails, no handler runs.
    let r = hooked(Concurrency::Sequential, Policies::default(), true);
    let report = run(&r, records()).await;
    assert_eq!(outcomes(&report), ["failed", "failed", "failed"]);
    assert_eq!(failed_ids(&report)[0], "1");
    assert!(r.state().take().is_empty());
}

/// A table with a partition key only (`Keys` holds one attribute).
#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[dynastream(pk = "SESSION#{id}", pk_attr = "pk")]
struct Session {
    id: String,
    user: String,
}

/// The same partition key pattern on a table with a sort key.
#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[dynastream(pk = "SESSION#{id}", sk = "LOG#{at}", pk_attr = "pk", sk_attr = "sk")]
struct SessionLog {
    id: String,
    at: String,
}

#[tokio::test]
async fn models_with_a_partition_key_only() {
    assert_eq!(Session::SK_ATTR, "");
    let key = SessionKey { id: "s1".into() };
    assert_eq!(
        (
            dynastream::ModelKey::pk(&key).unwrap(),
            dynastream::ModelKey::sk(&key).unwrap()
        ),
        ("SESSION#s1".to_string(), String::new())
    );
    assert_eq!(
        <SessionKey as dynastream::ModelKey>::from_keys("SESSION#s1", ""),
        Some(key)
    );
    assert_eq!(
        <SessionKey as dynastream::ModelKey>::from_keys("SESSION#s1", "x"),
        None
    );

    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (Arc::clone(&seen), Arc::clone(&seen));
    let r = Router::builder(())
        .on::<Session, _>(move |c: Change<Session>, _: Context<()>| {
            let a = Arc::clone(&a);
            async move {
                let user = c.new_image().map(|s| s.user.clone());
                a.lock().unwrap().push(format!("session {} {user:?}", c.key.id));
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .on::<SessionLog, _>(move |c: Change<SessionLog>, _: Context<()>| {
            let b = Arc::clone(&b);
            async move {
                b.lock().unwrap().push(format!("log {} {}", c.key.id, c.key.at));
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .build()
        .expect("a partition-key-only model and a composite one with the same pk pattern do not overlap");
    let ev = json!({"Records": [
        {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "SESSION#s1"}}, "NewImage": {"pk": {"S": "SESSION#s1"}, "id": {"S": "s1"}, "user": {"S": "ann"}}, "SequenceNumber": "1", "StreamViewType": "NEW_IMAGE"}},
        {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "SESSION#s1"}, "sk": {"S": "LOG#1"}}, "SequenceNumber": "2", "StreamViewType": "KEYS_ONLY"}},
        {"eventName": "REMOVE", "dynamodb": {"Keys": {"pk": {"S": "SESSION#s2"}}, "SequenceNumber": "3", "StreamViewType": "KEYS_ONLY"}},
        {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": "SESSION#s3"}, "other": {"S": "x"}}, "SequenceNumber": "4", "StreamViewType": "KEYS_ONLY"}}
    ]});
    let report = r
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Default::default())
        .await
        .unwrap();
    assert_eq!(outcomes(&report), ["ok", "ok", "ok", "skipped"]);
    assert_eq!(
        *seen.lock().unwrap(),
        ["session s1 Some(\"ann\")", "log s1 1", "session s2 None"]
    );

    // Two partition-key-only models with overlapping patterns are refused like any others.
    #[derive(Debug, Deserialize, Model)]
    #[dynastream(pk = "SESSION#{name}", pk_attr = "pk")]
    struct Named {
        name: String,
    }
    let e = Router::builder(())
        .model::<Session>()
        .model::<Named>()
        .build()
        .err()
        .expect("overlap refused");
    assert!(matches!(e, RegistryError::Overlap(_)), "{e}");
}

#[tokio::test]
async fn the_schema_version_attribute_name_is_the_models() {
    // dynawrap (the Python key-pattern library) writes `schema_version` under its own scheme: a model sharing its
    // table keeps dynastream's version under another name.
    #[derive(Debug, Clone, Deserialize, Model)]
    #[dynastream(pk = "DOC#{id}", sk = "DOC", schema_version_attr = "ds_version")]
    struct Doc {
        id: String,
        schema_version: Option<String>,
    }
    assert_eq!(Doc::SCHEMA_VERSION_ATTR, "ds_version");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let r = Router::builder(())
        .on::<Doc, _>(move |c: Change<Doc>, _: Context<()>| {
            let s = Arc::clone(&s);
            async move {
                // The model's own version, borrowed from it.
                assert!(matches!(
                    c.stored_schema_version,
                    Some(std::borrow::Cow::Borrowed(_))
                ));
                s.lock().unwrap().push((
                    c.stored_schema_version.as_deref().map(str::to_string),
                    c.is_current_schema(),
                    c.new_image().and_then(|d| d.schema_version.clone()),
                ));
                Ok::<(), std::convert::Infallible>(())
            }
        })
        .build()
        .unwrap();
    let ev = json!({"Records": [{"eventName": "INSERT", "dynamodb": {
        "Keys": {"PK": {"S": "DOC#1"}, "SK": {"S": "DOC"}},
        "NewImage": {"PK": {"S": "DOC#1"}, "SK": {"S": "DOC"}, "id": {"S": "1"},
                     "schema_version": {"S": "python-v3"}, "ds_version": {"S": Doc::SCHEMA_VERSION}},
        "SequenceNumber": "1"}}]});
    let report = r
        .handle_event(&serde_json::to_vec(&ev).unwrap(), Default::default())
        .await
        .unwrap();
    assert_eq!(outcomes(&report), ["ok"]);
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            Some(Doc::SCHEMA_VERSION.to_string()),
            true,
            Some("python-v3".to_string())
        )]
    );
}
