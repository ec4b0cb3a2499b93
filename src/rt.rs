//! The little the crate needs from an async runtime, per target: timers.
//!
//! Natively that is tokio's timer; in a Worker it is the runtime's `setTimeout`, through
//! `worker::Delay`. Everything else (sockets, TLS) comes in from the caller.

use std::future::Future;
use std::time::Duration;

/// Runs `fut` for at most `limit`; `None` when the time ran out (the future is dropped).
#[cfg(feature = "native")]
pub(crate) async fn timeout<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    tokio::time::timeout(limit, fut).await.ok()
}

/// Runs `fut` for at most `limit`; `None` when the time ran out (the future is dropped).
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
pub(crate) async fn timeout<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    use futures_util::future::{Either, select};

    let fut = std::pin::pin!(fut);
    match select(fut, worker::Delay::from(limit)).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}

/// Without a timer (no tokio, and not in a Worker) nothing can time out; no backend that
/// needs one is built then.
#[cfg(not(any(feature = "native", all(target_arch = "wasm32", feature = "worker"))))]
pub(crate) async fn timeout<F: Future>(_limit: Duration, fut: F) -> Option<F::Output> {
    Some(fut.await)
}

/// Milliseconds on a monotonic-enough clock, for connection ages.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// Milliseconds on a monotonic-enough clock, for connection ages. (`std::time::Instant`
/// panics on wasm32-unknown-unknown; the Worker runtime's clock is `Date.now()`.)
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
pub(crate) fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// Without a clock (wasm32 outside a Worker) connections never age.
#[cfg(all(target_arch = "wasm32", not(feature = "worker")))]
pub(crate) fn now_ms() -> u64 {
    0
}
