//! The one panic wrapper: a panic in a model's `Deserialize`, a handler's set-up or its future
//! becomes that record's failure (the `panic` policy), never the batch's.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;

/// Runs `f`; a panic comes back as its message.
pub(super) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| message(&*p))
}

/// Awaits `fut`; a panic comes back as its message.
pub(super) async fn catch_async<F: Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|p| message(&*p))
}

/// The panic's payload when it is a string.
fn message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
