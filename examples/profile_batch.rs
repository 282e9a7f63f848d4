//! Runs the router over the benchmark batch in a loop, for profilers (perf, callgrind):
//! `cargo run --release --example profile_batch -- 200`. A second argument picks another
//! workload over the same batch, so the instruction counts of the parts can be compared
//! (`valgrind --tool=callgrind`, which is not disturbed by other load):
//!
//! - `scan`: the scan floor (`serde_json` into `IgnoredAny`);
//! - `route`: every model registered without handlers, so records are read, matched and
//!   acknowledged but no image is decoded (the envelope, lookup and routing alone).

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let bytes = support::batch();
    let mode = std::env::args().nth(2);
    let router = match mode.as_deref() {
        Some("route") => support::route_only(),
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
