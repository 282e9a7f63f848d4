//! Kinesis Data Streams for DynamoDB through the router: each item's changes in a batch run in
//! creation-time order, an exact duplicate runs once, and the batch response names the first
//! record in delivery order that was not acknowledged (docs/semantics.md, "Kinesis Data
//! Streams for DynamoDB").

extern crate dynastream_core as dynastream;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use dynastream::{Change, Concurrency, Context, Model, Outcome, Router};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Deserialize, Model)]
#[dynastream(pk = "DOC#{id}", sk = "V")]
struct Doc {
    id: String,
    n: u32,
}

#[derive(Default)]
struct Seen {
    changes: Mutex<Vec<(String, u32)>>,
    fail_n: Option<u32>,
}

async fn on_doc(change: Change<Doc>, ctx: Context<Arc<Seen>>) -> Result<(), String> {
    let doc = change.new_image().ok_or("no image")?;
    ctx.state()
        .changes
        .lock()
        .map_err(|e| e.to_string())?
        .push((doc.id.clone(), doc.n));
    if ctx.state().fail_n == Some(doc.n) {
        return Err(format!("failing n = {}", doc.n));
    }
    Ok(())
}

/// A Kinesis record of the change of doc `id` to `n`, made at `micros`.
fn record(seq: &str, id: &str, n: u32, micros: u64) -> serde_json::Value {
    let change = json!({
        "awsRegion": "eu-west-1", "eventID": format!("{id}-{n}"), "eventName": "MODIFY",
        "recordFormat": "application/json", "tableName": "docs", "eventSource": "aws:dynamodb",
        "dynamodb": {
            "ApproximateCreationDateTime": micros,
            "ApproximateCreationDateTimePrecision": "MICROSECOND",
            "Keys": {"PK": {"S": format!("DOC#{id}")}, "SK": {"S": "V"}},
            "NewImage": {"PK": {"S": format!("DOC#{id}")}, "SK": {"S": "V"}, "id": {"S": id}, "n": {"N": n.to_string()}},
            "SizeBytes": 50
        }
    });
    let data = base64::engine::general_purpose::STANDARD.encode(change.to_string());
    json!({
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": id, "sequenceNumber": seq, "data": data},
        "eventSource": "aws:kinesis", "eventName": "aws:kinesis:record",
        "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/docs"
    })
}

/// Doc a changed 1, 2, 3 (times 10, 20, 30) and b once, delivered as a3, a1, b, a2, a2 again.
fn event() -> Vec<u8> {
    serde_json::to_vec(&json!({"Records": [
        record("100", "a", 3, 1_763_200_000_000_030),
        record("101", "a", 1, 1_763_200_000_000_010),
        record("102", "b", 5, 1_763_200_000_000_005),
        record("103", "a", 2, 1_763_200_000_000_020),
        record("104", "a", 2, 1_763_200_000_000_020),
    ]}))
    .unwrap()
}

fn router(seen: Arc<Seen>, concurrency: Concurrency) -> Router<Arc<Seen>> {
    Router::builder(seen)
        .on::<Doc, _>(on_doc)
        .concurrency(concurrency)
        .build()
        .unwrap()
}

fn outcomes(report: &dynastream::report::BatchReport) -> Vec<(String, String)> {
    report
        .records
        .iter()
        .map(|r| {
            let o = match &r.outcome {
                Outcome::Skipped(why) => format!("skipped: {why}"),
                o => o.label().to_string(),
            };
            (r.sequence_number.to_string(), o)
        })
        .collect()
}

#[tokio::test]
async fn an_items_changes_run_in_time_order_and_a_duplicate_once() {
    for concurrency in [Concurrency::Sequential, Concurrency::PerKey { max: 4 }] {
        let seen = Arc::new(Seen::default());
        let report = router(seen.clone(), concurrency)
            .handle_event(&event(), Default::default())
            .await
            .unwrap();
        let mut got = seen.changes.lock().unwrap().clone();
        let a: Vec<u32> = got
            .iter()
            .filter(|(id, _)| id == "a")
            .map(|c| c.1)
            .collect();
        assert_eq!(a, [1, 2, 3], "{concurrency:?}");
        if concurrency == Concurrency::Sequential {
            // a's changes take a's places (0, 1, 3); b keeps its own (2).
            assert_eq!(
                got,
                [
                    ("a".into(), 1),
                    ("a".into(), 2),
                    ("b".into(), 5),
                    ("a".into(), 3)
                ]
            );
        }
        got.sort();
        assert_eq!(got.len(), 4, "the copy of a2 does not run");
        assert_eq!(
            outcomes(&report),
            [
                ("100".into(), "ok".into()),
                ("101".into(), "ok".into()),
                ("102".into(), "ok".into()),
                ("103".into(), "ok".into()),
                (
                    "104".into(),
                    "skipped: duplicate of record 103: the same change, run once".into()
                ),
            ]
        );
        assert!(report.response().batch_item_failures.is_empty());
    }
}

#[tokio::test]
async fn a_failure_reports_the_first_record_delivered_that_did_not_run() {
    // a2 fails. In delivery order a3 (100) was delivered first but runs after a2: it did not
    // run, so Lambda must deliver again from 100, not from a2's own record (103).
    let seen = Arc::new(Seen {
        fail_n: Some(2),
        ..Seen::default()
    });
    let report = router(seen.clone(), Concurrency::Sequential)
        .handle_event(&event(), Default::default())
        .await
        .unwrap();
    let labels: Vec<String> = outcomes(&report).into_iter().map(|(_, o)| o).collect();
    assert_eq!(labels, ["deferred", "ok", "deferred", "failed", "deferred"]);
    let failures = report.response().batch_item_failures;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].item_identifier, "100");
    assert_eq!(
        report
            .first_failure()
            .map(|r| r.sequence_number.to_string())
            .as_deref(),
        Some("103")
    );
    assert_eq!(
        *seen.changes.lock().unwrap(),
        [("a".into(), 1), ("a".into(), 2)]
    );
}

/// A hook that fails as a whole (the mirror's database down).
struct Down;

impl dynastream::hook::BatchHook for Down {
    fn name(&self) -> &'static str {
        "down"
    }

    fn before_handlers<'a>(
        &'a self,
        _batch: dynastream::hook::Batch<'a>,
    ) -> dynastream::BoxFuture<'a, Result<Vec<dynastream::hook::Refusal>, dynastream::BoxError>>
    {
        Box::pin(async { Err("database down".into()) })
    }
}

#[tokio::test]
async fn a_hook_failing_on_a_reordered_batch_reports_the_first_record_delivered() {
    // The plan runs a1 (101) first; every record failed, so Lambda must start again from
    // the first record it delivered (100), not from the first one run.
    let seen = Arc::new(Seen::default());
    let router = Router::builder(seen.clone())
        .on::<Doc, _>(on_doc)
        .hook(Down)
        .build()
        .unwrap();
    let report = router
        .handle_event(&event(), Default::default())
        .await
        .unwrap();
    let seqs: Vec<String> = outcomes(&report).into_iter().map(|(s, _)| s).collect();
    assert_eq!(seqs, ["100", "101", "102", "103", "104"]);
    let failures = report.response().batch_item_failures;
    assert_eq!(failures[0].item_identifier, "100");
    assert!(seen.changes.lock().unwrap().is_empty());
}
