//! Runs the router over the benchmark batch in a loop, for profilers (perf, callgrind):
//! `cargo run --release --example profile_batch -- 200`. A second argument picks another
//! workload over the same batch, so the instruction counts of the parts can be compared
//! (`valgrind --tool=callgrind`, which is not disturbed by other load):
//!
//! - `scan`: the scan floor (`serde_json` into `IgnoredAny`);
//! - `route`: every model registered without handlers, so records are read, matched and
//!   acknowledged but no image is decoded (the envelope, lookup and routing, each image skipped
//!   by the image reader, and one "no handler" reason formatted per record);
//! - `nested`: the decoding router over the benchmark's second batch (`nested_1000`,
//!   `benches/support/nested.rs`: nested maps, lists of maps, floats);
//! - `kinesis`: the decoding router over the first batch's changes as a Kinesis event
//!   (Kinesis Data Streams for DynamoDB, `support::kinesis_event`);
//! - `sequential` or `per-key` with a third argument, the records per batch or a file holding
//!   an event: the decoding router over that batch, records one at a time or
//!   `Concurrency::PerKey { max: 64 }`. For peak memory, write the batch in one process and
//!   route it in another (generating it takes more memory than routing it):
//!   `profile_batch write 10000 > batch.json`, then
//!   `/usr/bin/time -v target/release/examples/profile_batch 1 per-key batch.json`.

#[path = "../benches/support/mod.rs"]
mod support;

#[path = "../benches/support/nested.rs"]
mod nested;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("write") {
        let records = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1000);
        use std::io::Write as _;
        std::io::stdout()
            .write_all(&support::batch_of(records))
            .expect("stdout");
        return;
    }
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let mode = std::env::args().nth(2);
    let bytes = match (mode.as_deref(), std::env::args().nth(3)) {
        (Some("nested"), _) => nested::batch(1000, 7),
        (Some("kinesis"), _) => support::kinesis_event(&support::batch()),
        (_, Some(a)) => match a.parse() {
            Ok(records) => support::batch_of(records),
            Err(_) => std::fs::read(&a).expect("the event file"),
        },
        (_, None) => support::batch(),
    };
    let router = match mode.as_deref() {
        Some("nested") => nested::router(),
        Some("route") => support::route_only(),
        Some("per-key") => support::router_with(dynastream::Concurrency::PerKey { max: 64 }),
        _ => support::router(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let scan = mode.as_deref() == Some("scan");
    let start = std::time::Instant::now();
    for _ in 0..n {
        if scan {
            let v: serde::de::IgnoredAny = serde_json::from_slice(&bytes).expect("json");
            std::hint::black_box(v);
            continue;
        }
        let report = rt
            .block_on(router.handle_event(&bytes, Default::default()))
            .expect("event");
        std::hint::black_box(report);
    }
    println!(
        "{:.3} ms per batch",
        start.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
}
