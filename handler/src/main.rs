//! The example Lambda function: the example models' handlers on dynastream's app entry point.
//!
//! `handler --help` lists the commands: under the Lambda runtime it serves invocations;
//! `replay`, `poll`, `record` and `create-table` run the same router on your machine; `seed`
//! (this app's own command) writes example items.

#![forbid(unsafe_code)]

mod handlers;
mod seed;

/// mimalloc instead of glibc's malloc. A batch allocates every decoded string and key it hands
/// to the handlers (about 8,900 allocations for the benchmark's 1000 records), and glibc's
/// malloc spends part of each batch consolidating its fast bins; with mimalloc the same batch
/// runs about 9% fewer instructions (docs/performance.md), for about a millisecond more cold
/// start. The framework leaves the choice to the app, as this one makes it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dynastream::app::App::new(handlers::router)
        .version(env!("CARGO_PKG_VERSION"))
        .command(seed::run)
        .run()
}
