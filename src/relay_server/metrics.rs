//! Counters and gauges in Prometheus' text format, kept with atomics (no registry crate).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request duration histogram, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0];

/// What the relay counts.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Answers by status class: 2xx, 4xx, 5xx.
    responses: [AtomicU64; 3],
    duration_buckets: [AtomicU64; BUCKETS.len()],
    duration_count: AtomicU64,
    duration_micros: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) limit_rejections: AtomicU64,
    pub(crate) overload_rejections: AtomicU64,
    pub(crate) deadline_exceeded: AtomicU64,
    pub(crate) sessions_opened: AtomicU64,
    pub(crate) sessions_expired: AtomicU64,
    pub(crate) statements: AtomicU64,
}

impl Metrics {
    /// Records one answered request.
    pub(crate) fn observe(&self, status: u16, elapsed: Duration) {
        let class = match status {
            200..=299 => 0,
            400..=499 => 1,
            _ => 2,
        };
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in self.duration_buckets.iter().zip(BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_count.fetch_add(1, Ordering::Relaxed);
        self.duration_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// The exposition text; gauges are read by the caller.
    pub(crate) fn render(&self, sessions_open: usize, pools_open: usize, draining: bool) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };

        let _ = writeln!(
            out,
            "# HELP tidb_relay_responses_total Answered requests by status class.\n\
             # TYPE tidb_relay_responses_total counter"
        );
        for (class, counter) in ["2xx", "4xx", "5xx"].iter().zip(&self.responses) {
            let _ = writeln!(
                out,
                "tidb_relay_responses_total{{class=\"{class}\"}} {}",
                get(counter)
            );
        }

        let _ = writeln!(
            out,
            "# HELP tidb_relay_request_duration_seconds Time from request to answer.\n\
             # TYPE tidb_relay_request_duration_seconds histogram"
        );
        for (bucket, bound) in self.duration_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "tidb_relay_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                get(bucket)
            );
        }
        let count = get(&self.duration_count);
        let _ = writeln!(
            out,
            "tidb_relay_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             tidb_relay_request_duration_seconds_sum {}\n\
             tidb_relay_request_duration_seconds_count {count}",
            get(&self.duration_micros) as f64 / 1e6
        );

        counter(
            &mut out,
            "tidb_relay_statements_total",
            "Statements run for clients.",
            get(&self.statements),
        );
        counter(
            &mut out,
            "tidb_relay_auth_failures_total",
            "Requests refused for credentials.",
            get(&self.auth_failures),
        );
        counter(
            &mut out,
            "tidb_relay_limit_rejections_total",
            "Requests refused by a size or count limit.",
            get(&self.limit_rejections),
        );
        counter(
            &mut out,
            "tidb_relay_overload_rejections_total",
            "Requests refused while busy or draining.",
            get(&self.overload_rejections),
        );
        counter(
            &mut out,
            "tidb_relay_deadline_exceeded_total",
            "Requests that ran past their deadline.",
            get(&self.deadline_exceeded),
        );
        counter(
            &mut out,
            "tidb_relay_sessions_opened_total",
            "Pinned sessions opened.",
            get(&self.sessions_opened),
        );
        counter(
            &mut out,
            "tidb_relay_sessions_expired_total",
            "Pinned sessions rolled back after their idle timeout.",
            get(&self.sessions_expired),
        );
        gauge(
            &mut out,
            "tidb_relay_sessions_open",
            "Pinned sessions now open.",
            sessions_open as u64,
        );
        gauge(
            &mut out,
            "tidb_relay_pools_open",
            "Connection pools (one per user and database).",
            pools_open as u64,
        );
        gauge(
            &mut out,
            "tidb_relay_draining",
            "1 while shutting down.",
            u64::from(draining),
        );
        out
    }
}
