//! Decoding images during the envelope pass (the fast path) changes nothing a handler or Lambda
//! can see. The same events are run with their fields in orders that take the fast path
//! (`Keys` before the images) and orders that cannot (`Keys` after them, `eventName` before or
//! after `dynamodb`), and with images damaged so decoding fails; every handler call and every
//! outcome must be the same.

use std::sync::{Arc, Mutex};

use dynastream::{Action, Change, Concurrency, Context, Model, Policies, Router};
use dynastream_example_models::{sample, Board, OrderLine, Story, Task, UserProfile};
use proptest::prelude::*;
use serde_json::Value;

type Log = Arc<Mutex<Vec<String>>>;

fn logger<M: Model>(
) -> impl Fn(Change<M>, Context<Log>) -> std::future::Ready<Result<(), String>> + Send + Sync + 'static
{
    |change, ctx| {
        let line = format!("{change:?}");
        // Some changes fail in the handler, by content, to exercise stop-at-first-failure.
        let fail = line.contains("fail-me");
        ctx.state().lock().expect("log").push(line);
        std::future::ready(if fail { Err("refused".into()) } else { Ok(()) })
    }
}

fn router(policies: Policies, concurrency: Concurrency) -> Router<Log> {
    Router::builder(Log::default())
        .on::<Task, _>(logger::<Task>())
        .on::<Board, _>(logger::<Board>())
        .on::<Story, _>(logger::<Story>())
        .on::<UserProfile, _>(logger::<UserProfile>())
        .on::<OrderLine, _>(logger::<OrderLine>())
        .policies(policies)
        .concurrency(concurrency)
        .build()
        .expect("disjoint models")
}

/// Writes `v` as JSON with each object's fields in the order `rank` gives (then by name).
fn write(v: &Value, rank: &dyn Fn(&str) -> u8, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by_key(|(k, _)| (rank(k), k.as_str()));
            out.push('{');
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::to_string(k).expect("a string"));
                out.push_str(": ");
                write(v, rank, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, rank, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The event in three field orders: images before `Keys` (no image can be decoded early),
/// `eventName` and `Keys` first (AWS's order), and sorted by name (`eventName` after
/// `dynamodb`).
fn orders(event: &Value) -> [String; 3] {
    let late_keys: fn(&str) -> u8 = |k| match k {
        "NewImage" | "OldImage" => 0,
        "Keys" => 2,
        _ => 1,
    };
    let aws: fn(&str) -> u8 = |k| match k {
        "eventID" | "eventName" => 0,
        "Keys" => 1,
        _ => 2,
    };
    let sorted: fn(&str) -> u8 = |_| 0;
    [late_keys, aws, sorted].map(|rank| {
        let mut out = String::new();
        write(event, &rank, &mut out);
        out
    })
}

/// Handler calls and outcomes (with their messages) of one run.
async fn run(router: &Router<Log>, json: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let outcome = match router
        .handle_event(json.as_bytes(), Default::default())
        .await
    {
        Ok(report) => report
            .records
            .iter()
            .map(|r| {
                format!(
                    "{} {:?} {:?} {:?}",
                    r.sequence_number, r.model, r.kind, r.outcome
                )
            })
            .collect(),
        Err(e) => vec![format!("invocation error: {e}")],
    };
    let calls = std::mem::take(&mut *router.state().lock().expect("log"));
    let response = router
        .handle_event(json.as_bytes(), Default::default())
        .await
        .map(|r| serde_json::to_string(&r.response()).expect("json"))
        .into_iter()
        .collect();
    router.state().lock().expect("log").clear();
    (calls, outcome, response)
}

async fn same_in_every_order(event: &Value) {
    for (policies, concurrency) in [
        (Policies::default(), Concurrency::Sequential),
        (
            Policies::default()
                .undecodable(Action::Skip)
                .handler_error(Action::Skip),
            Concurrency::Sequential,
        ),
        (Policies::default(), Concurrency::PerKey { max: 4 }),
    ] {
        let router = router(policies, concurrency);
        let [late, aws, sorted] = orders(event);
        let want = run(&router, &late).await;
        assert_eq!(run(&router, &aws).await, want, "AWS order vs keys last");
        assert_eq!(run(&router, &sorted).await, want, "sorted vs keys last");
    }
}

#[tokio::test]
async fn every_sample_event_is_handled_the_same_in_every_field_order() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("events/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        // The malformed envelope is not JSON at all; it fails the same way in any order.
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        same_in_every_order(&event).await;
        seen += 1;
    }
    assert!(seen >= 12, "read {seen} events");
}

/// Damage that makes an image fail to decode, or a handler fail, in a generated batch.
fn damage(event: &mut Value, picks: &[(usize, u8)]) {
    let records = event["Records"].as_array_mut().expect("records");
    for &(at, how) in picks {
        let n = records.len();
        let d = &mut records[at % n]["dynamodb"];
        let side = if d.get("NewImage").is_some() {
            "NewImage"
        } else {
            "OldImage"
        };
        let Some(image) = d.get_mut(side).and_then(Value::as_object_mut) else {
            continue;
        };
        match how {
            0 => {
                image.insert("status".into(), serde_json::json!({"S": "SOMETIMES"}));
            }
            1 => {
                image.insert("task_count".into(), serde_json::json!({"N": "1.5"}));
            }
            2 => {
                image.insert("blob".into(), serde_json::json!({"B": "not*base64"}));
            }
            3 => {
                image.insert("owner".into(), serde_json::json!({"N": "7"}));
            }
            4 => {
                image.insert("title".into(), serde_json::json!({"S": "fail-me"}));
            }
            _ => {
                image.remove("owner");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn damaged_batches_are_handled_the_same_in_every_field_order(
        seed in any::<u64>(),
        picks in proptest::collection::vec((any::<usize>(), 0..6u8), 0..6),
    ) {
        let mut event = sample::mixed_batch(40, seed);
        damage(&mut event, &picks);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(same_in_every_order(&event));
    }
}

/// Deserializations of [`Counted`]'s `n` field: one per image decoded.
static DECODED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn counted<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    DECODED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    <i64 as serde::Deserialize>::deserialize(d)
}

#[derive(Debug, serde::Serialize, serde::Deserialize, Model)]
#[dynastream(pk = "COUNTED#{id}", sk = "COUNTED")]
struct Counted {
    id: String,
    #[serde(deserialize_with = "counted")]
    n: i64,
}

#[tokio::test]
async fn each_image_is_decoded_once_whatever_the_field_order() {
    let image = |n: u32| {
        format!(
            r#"{{"PK": {{"S": "COUNTED#c{n}"}}, "SK": {{"S": "COUNTED"}}, "id": {{"S": "c{n}"}}, "n": {{"N": "{n}"}}}}"#
        )
    };
    let keys = |n: u32| format!(r#"{{"PK": {{"S": "COUNTED#c{n}"}}, "SK": {{"S": "COUNTED"}}}}"#);
    // INSERT (new), MODIFY (new and old), REMOVE (old): four images.
    let records = [
        ("INSERT", 1, Some(image(1)), None),
        ("MODIFY", 2, Some(image(2)), Some(image(20))),
        ("REMOVE", 3, None, Some(image(3))),
    ];
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let router = Router::builder(())
        .on::<Counted, _>(move |change: Change<Counted>, _ctx: Context<()>| {
            log.lock().expect("log").push(format!("{:?}", change.op));
            std::future::ready(Ok::<(), String>(()))
        })
        .build()
        .expect("one model");
    // Keys before the images (AWS's order: decoded during the envelope pass) and after them
    // (decoded when routed): either way each image is deserialized exactly once.
    for keys_first in [true, false] {
        let body = records
            .iter()
            .map(|(name, seq, new, old)| {
                let images = [("NewImage", new), ("OldImage", old)]
                    .into_iter()
                    .filter_map(|(side, image)| Some(format!(r#""{side}": {}"#, image.as_ref()?)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let keys = format!(r#""Keys": {}"#, keys(*seq));
                let (first, second) = if keys_first {
                    (keys, images)
                } else {
                    (images, keys)
                };
                format!(
                    r#"{{"eventName": "{name}", "dynamodb": {{{first}, {second}, "SequenceNumber": "{seq}"}}}}"#
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let json = format!(r#"{{"Records": [{body}]}}"#);
        DECODED.store(0, std::sync::atomic::Ordering::SeqCst);
        let report = router
            .handle_event(json.as_bytes(), Default::default())
            .await
            .expect("readable");
        assert!(report.records.iter().all(|r| r.outcome.label() == "ok"));
        assert_eq!(
            DECODED.load(std::sync::atomic::Ordering::SeqCst),
            4,
            "keys first: {keys_first}"
        );
        let calls = std::mem::take(&mut *seen.lock().expect("log"));
        assert_eq!(calls.len(), 3);
        assert!(
            calls[1].contains("n: 20") && calls[1].contains("n: 2 "),
            "{}",
            calls[1]
        );
    }
}
