//! Runs the router over the benchmark batch in a loop, for profilers (perf, callgrind):
//! `cargo run --release --example profile_batch -- 200`
use dynastream::{Change, Context, Model, Router};
use dynastream_example_models::{sample, Board, OrderLine, Story, Task, UserProfile};

fn noop<M: Model>(
) -> impl Fn(Change<M>, Context<()>) -> std::future::Ready<Result<(), std::convert::Infallible>>
       + Send
       + Sync
       + 'static {
    |change, _ctx| {
        std::hint::black_box(&change);
        std::future::ready(Ok(()))
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let bytes = serde_json::to_vec(&sample::mixed_batch(1000, 42)).expect("serializable");
    let router = Router::builder(())
        .on::<Task, _>(noop::<Task>())
        .on::<Board, _>(noop::<Board>())
        .on::<Story, _>(noop::<Story>())
        .on::<UserProfile, _>(noop::<UserProfile>())
        .on::<OrderLine, _>(noop::<OrderLine>())
        .build()
        .expect("valid router");
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
