//! Runs the router over the benchmark batch in a loop, for profilers (perf, callgrind):
//! `cargo run --release --example profile_batch -- 200`

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
    let start = std::time::Instant::now();
    for _ in 0..n {
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
