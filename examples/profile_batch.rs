//! Runs the router over the benchmark batch in a loop, for profilers (perf, callgrind):
//! `cargo run --release --example profile_batch -- 200`; with `scan` as the second argument it
//! runs the scan floor (`serde_json` into `IgnoredAny`) instead, so instruction counts of the
//! two can be compared (`valgrind --tool=callgrind`, which is not disturbed by other load).

#[path = "../benches/support/mod.rs"]
mod support;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let bytes = support::batch();
    let router = support::router();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let scan = std::env::args().nth(2).as_deref() == Some("scan");
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
