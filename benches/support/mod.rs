//! The batch and router the decoding benchmark and the profiling example share.

use dynastream::{Change, Context, Model, Router};
use dynastream_example_models::{sample, Board, OrderLine, Story, Task, UserProfile};

/// The generated 1000-record mixed batch, as the bytes Lambda would deliver.
pub fn batch() -> Vec<u8> {
    serde_json::to_vec(&sample::mixed_batch(1000, 42)).expect("a JSON value serializes")
}

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

/// A router with a no-op handler for every example model: decoding and routing, nothing else.
pub fn router() -> Router<()> {
    Router::builder(())
        .on::<Task, _>(noop::<Task>())
        .on::<Board, _>(noop::<Board>())
        .on::<Story, _>(noop::<Story>())
        .on::<UserProfile, _>(noop::<UserProfile>())
        .on::<OrderLine, _>(noop::<OrderLine>())
        .build()
        .expect("the example models do not overlap")
}
