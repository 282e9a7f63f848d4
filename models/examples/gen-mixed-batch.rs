//! Writes a mixed stream batch over all five models to stdout:
//! `cargo run -p dynastream-example-models --features sample --example gen-mixed-batch -- 120 > events/mixed-batch.json`
fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(120);
    let event = dynastream_example_models::sample::mixed_batch(n, 7);
    println!(
        "{}",
        serde_json::to_string_pretty(&event).expect("a JSON value always serializes")
    );
}
