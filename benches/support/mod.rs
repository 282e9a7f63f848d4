//! The batch and router the decoding benchmark and the profiling example share.

use dynastream::postgres::Mirror;
use dynastream::{Change, Context, Model, Router};
use dynastream_example_models::{sample, Board, OrderLine, Story, Task, UserProfile};

/// The generated 1000-record mixed batch, as the bytes Lambda would deliver.
#[allow(dead_code)] // not used by every bench or example that includes this module
pub fn batch() -> Vec<u8> {
    batch_of(1000)
}

/// A generated mixed batch of `records` records (the benchmark's is 1000).
pub fn batch_of(records: usize) -> Vec<u8> {
    serde_json::to_vec(&sample::mixed_batch(records, 42)).expect("a JSON value serializes")
}

/// A handler that does nothing with its change (the benchmarks measure decoding and routing).
pub fn noop<M: Model>(
) -> impl Fn(Change<M>, Context<()>) -> std::future::Ready<Result<(), std::convert::Infallible>>
       + Send
       + Sync
       + 'static {
    |change, _ctx| {
        std::hint::black_box(&change);
        std::future::ready(Ok(()))
    }
}

/// A router with a no-op handler for every example model: decoding and routing, nothing else.
#[allow(dead_code)] // not used by every bench or example that includes this module
pub fn router() -> Router<()> {
    router_with(dynastream::Concurrency::Sequential)
}

/// [`router`], running records as `concurrency` says.
pub fn router_with(concurrency: dynastream::Concurrency) -> Router<()> {
    Router::builder(())
        .concurrency(concurrency)
        .on::<Task, _>(noop::<Task>())
        .on::<Board, _>(noop::<Board>())
        .on::<Story, _>(noop::<Story>())
        .on::<UserProfile, _>(noop::<UserProfile>())
        .on::<OrderLine, _>(noop::<OrderLine>())
        .build()
        .expect("the example models do not overlap")
}

/// Every example model registered, without handlers.
fn models() -> dynastream::RouterBuilder<()> {
    Router::builder(())
        .model::<Task>()
        .model::<Board>()
        .model::<Story>()
        .model::<UserProfile>()
        .model::<OrderLine>()
}

/// Every example model registered without handlers: records are matched and acknowledged, not
/// decoded. With a mirror, this measures the mirror alone.
#[allow(dead_code)] // not used by every bench or example that includes this module
pub fn models_only(mirror: std::sync::Arc<Mirror>) -> Router<()> {
    models()
        .hook(mirror)
        .build()
        .expect("example models are disjoint")
}

/// Every example model registered, no handlers, no mirror: the envelope, lookup and routing
/// alone.
#[allow(dead_code)] // not used by every bench or example that includes this module
pub fn route_only() -> Router<()> {
    models().build().expect("example models are disjoint")
}

/// Where criterion writes its results (`target/criterion`).
#[allow(dead_code)] // not used by every bench or example that includes this module
pub fn out_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// The mean of a criterion benchmark's last run, in nanoseconds.
#[allow(dead_code)] // not used by every bench or example that includes this module
pub fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let path = out_dir()
        .join(group)
        .join(id)
        .join("new")
        .join("estimates.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

#[allow(dead_code)] // not used by every bench or example that includes this module
/// The same changes as `batch` (a DynamoDB Streams event) as Kinesis Data Streams for
/// DynamoDB delivers them: each change record (no `SequenceNumber`, its time in
/// microseconds, `tableName`) base64 in a Kinesis record with its own sequence number.
pub fn kinesis_event(batch: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let event: serde_json::Value = serde_json::from_slice(batch).expect("batch");
    let records: Vec<serde_json::Value> = event["Records"]
        .as_array()
        .expect("Records")
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let mut c = r.clone();
            let o = c.as_object_mut().expect("record");
            o.remove("eventSourceARN");
            o.insert("tableName".into(), "bench".into());
            o.insert("recordFormat".into(), "application/json".into());
            let d = o["dynamodb"].as_object_mut().expect("dynamodb");
            d.remove("SequenceNumber");
            d.remove("StreamViewType");
            let secs = d
                .get("ApproximateCreationDateTime")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(1_763_200_000.0);
            d.insert(
                "ApproximateCreationDateTime".into(),
                ((secs * 1e6).round() as u64 + n as u64).into(),
            );
            d.insert(
                "ApproximateCreationDateTimePrecision".into(),
                "MICROSECOND".into(),
            );
            let data = base64::engine::general_purpose::STANDARD.encode(c.to_string());
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": format!("{n:032X}"),
                    "sequenceNumber": format!("496578284091877015200199952425083901199533583251{n:08}"),
                    "data": data, "approximateArrivalTimestamp": 1763200000.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{n}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/bench", "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/bench"
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("event")
}
