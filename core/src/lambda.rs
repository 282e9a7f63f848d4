//! Running a router under AWS Lambda, and logging set-up.

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;

use crate::error::EventError;
use crate::report::BatchResponse;
use crate::router::Router;

impl From<EventError> for Diagnostic {
    fn from(e: EventError) -> Self {
        Diagnostic {
            error_type: "dynastream::EventError".into(),
            error_message: e.to_string(),
        }
    }
}

/// Runs `router` on the Lambda runtime: each invocation's event goes through
/// [`Router::handle_event`] and its partial batch response is returned. Only an unreadable event
/// fails the invocation.
///
/// Lambda Managed Instances run several invocations at once in one environment: when
/// `AWS_LAMBDA_MAX_CONCURRENCY` is above 1, that many invocations are served at the same time
/// (the runtime's `run_concurrent`), each with its own batch state; the router, its handlers'
/// shared state and its hooks (the mirror's connections, [`crate::hook::BatchHook`] is `Sync`)
/// are shared. Unset or 1: one invocation at a time, as on classic Lambda. A current-thread
/// Tokio runtime interleaves the invocations on one thread; a multi-thread one spreads them
/// over its workers (the app entry point starts one when the variable is above 1).
pub async fn run<S: Send + Sync + 'static>(router: Router<S>) -> Result<(), lambda_runtime::Error> {
    let router = Arc::new(router);
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let router = Arc::clone(&router);
        async move {
            let report = router
                .handle_event(event.payload.get().as_bytes(), event.context)
                .await?;
            Ok::<BatchResponse, EventError>(report.response())
        }
    }))
    .await
}

/// `AWS_LAMBDA_MAX_CONCURRENCY`: how many invocations Lambda Managed Instances may run at once
/// in this environment; `None` when unset, not a number or 0 (classic Lambda: one). Read as
/// the runtime reads it.
pub fn max_concurrency() -> Option<u32> {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&n| n > 0)
}

/// Installs a tracing subscriber the way Lambda expects: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise; the level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else `info`. Logs go to stderr. Does nothing if a subscriber is already set.
pub fn init_logging() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    init_logging_with(json, None);
}

/// [`init_logging`] with the format and level given: `json` for JSON lines; `level` a level or
/// an `EnvFilter` directive (`debug`, `dynastream=trace`), else `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else `info`. An invalid filter falls back to `info`.
pub fn init_logging_with(json: bool, level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = level
        .map(str::to_ascii_lowercase)
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .map(|l| l.to_ascii_lowercase())
        })
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.try_init()
    };
}
