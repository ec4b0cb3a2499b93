//! The measurements: cold connect, warm latency, throughput, round trips and emulated delay.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::clients::{self, Client, Endpoint, PathKind, Workload};
use crate::proxy::{Counts, Proxy};
use crate::target::Target;

/// How long and how often to measure.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Cold connects per path (the median is reported).
    pub cold_runs: usize,
    /// Time spent on warm latency at concurrency 1, per workload.
    pub latency_time: Duration,
    /// Time spent on throughput, per workload and concurrency (after a fifth of it warming up).
    pub throughput_time: Duration,
    /// Concurrency levels of the throughput runs.
    pub concurrency: Vec<usize>,
    /// Operations counted through the proxy, per workload.
    pub count_ops: usize,
    /// Emulated round-trip times.
    pub rtts: Vec<Duration>,
    /// Operations timed per workload under each emulated round-trip time.
    pub delayed_ops: usize,
    /// Pool size of every client.
    pub pool: usize,
}

/// The ports one path reaches its server through.
pub struct Route<'a> {
    /// Straight to the server (the database, or the relay).
    pub direct: u16,
    /// Through the counting proxy.
    pub counted: &'a Proxy,
    /// For the relay: the counting proxy between the relay and the database.
    pub upstream_counted: Option<&'a Proxy>,
    /// Through a delaying proxy, per emulated round-trip time.
    pub delayed: Vec<(Duration, u16)>,
}

/// Throughput at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Tasks issuing operations at once.
    pub concurrency: usize,
    /// Completed operations per second.
    pub ops_per_s: f64,
    /// Failed operations.
    pub errors: u64,
}

/// Latency under one emulated round-trip time.
#[derive(Debug, Clone, Serialize)]
pub struct Delayed {
    /// The emulated round-trip time, ms.
    pub rtt_ms: f64,
    /// Median time, ms.
    pub p50_ms: f64,
}

/// Everything measured for one path and workload.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadReport {
    /// The workload.
    pub workload: Workload,
    /// Warm median latency at concurrency 1, µs.
    pub p50_us: f64,
    /// Warm 99th percentile, µs.
    pub p99_us: f64,
    /// Operations timed for the percentiles.
    pub samples: usize,
    /// Throughput per concurrency.
    pub throughput: Vec<Throughput>,
    /// Client flights per operation, counted by the proxy (background work included).
    pub round_trips: f64,
    /// Relay path: relay→database flights per operation.
    pub upstream_round_trips: Option<f64>,
    /// New connections per operation during the count (should be 0 when warm).
    pub new_connections: f64,
    /// Bytes client→server and server→client per operation.
    pub bytes: (f64, f64),
    /// Latency under emulated delay.
    pub delayed: Vec<Delayed>,
    /// Failed operations over all runs.
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

/// Cold connect to first row.
#[derive(Debug, Clone, Serialize)]
pub struct Cold {
    /// Median over the runs, ms.
    pub median_ms: f64,
    /// Runs.
    pub runs: usize,
    /// Client flights from nothing to the first row.
    pub round_trips: u64,
    /// Relay path: relay→database flights meanwhile (0 when the relay's pool is warm).
    pub upstream_round_trips: Option<u64>,
    /// Under emulated delay (median of the runs).
    pub delayed: Vec<Delayed>,
}

/// Everything measured for one path.
#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    /// The path.
    pub path: PathKind,
    /// Cold connect to first row.
    pub cold: Cold,
    /// Per workload.
    pub workloads: Vec<WorkloadReport>,
    /// The large result.
    pub memory: Option<crate::memory::MemoryResult>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The `q` quantile of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    sorted[i]
}

/// A small fast generator of operation keys, one per task.
struct Keys(u64);

impl Keys {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Errors seen during a run.
#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<String>,
}

impl Failures {
    fn note(&mut self, e: anyhow::Error) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(format!("{e:#}"));
        }
    }
}

/// Measures one path. `progress` prints a line for each step.
pub async fn path(
    kind: PathKind,
    target: &Target,
    route: &Route<'_>,
    workloads: &[Workload],
    plan: &Plan,
    progress: &dyn Fn(&str),
) -> Result<PathReport> {
    let at = |port| Endpoint { port };

    // Cold: from nothing to the first row, straight to the server.
    progress("cold connect");
    let mut colds = Vec::new();
    for _ in 0..plan.cold_runs {
        colds.push(cold(kind, target, at(route.direct), plan.pool).await?);
    }
    colds.sort();
    let before = (
        route.counted.counts(),
        route.upstream_counted.map(Proxy::counts),
    );
    cold(kind, target, at(route.counted.port()), plan.pool).await?;
    settle().await;
    let (cold_rt, cold_up) = flights_since(route, before);

    let mut reports = Vec::new();
    for &w in workloads {
        reports.push(WorkloadReport {
            workload: w,
            p50_us: 0.0,
            p99_us: 0.0,
            samples: 0,
            throughput: Vec::new(),
            round_trips: 0.0,
            upstream_round_trips: None,
            new_connections: 0.0,
            bytes: (0.0, 0.0),
            delayed: Vec::new(),
            errors: 0,
            first_error: None,
        });
    }

    // Warm latency and throughput, straight to the server.
    let client = clients::connect(kind, target, at(route.direct), plan.pool).await?;
    for r in &mut reports {
        let mut fails = Failures::default();
        progress(&format!("{}: warm latency", r.workload.name()));
        let mut samples = latency(&client, r.workload, plan.latency_time, &mut fails).await;
        samples.sort();
        r.samples = samples.len();
        r.p50_us = us(quantile(&samples, 0.5));
        r.p99_us = us(quantile(&samples, 0.99));
        for &c in &plan.concurrency {
            progress(&format!(
                "{}: throughput at concurrency {c}",
                r.workload.name()
            ));
            let (t, f) = throughput(&client, r.workload, c, plan.throughput_time).await;
            r.throughput.push(t);
            fails.count += f.count;
            fails.first = fails.first.or(f.first);
        }
        r.errors += fails.count;
        r.first_error = r.first_error.take().or(fails.first);
    }
    client.close().await;

    // Round trips: operations one at a time through the counting proxy, with pauses so that
    // work a client does in the background after an operation is counted with it.
    let client = clients::connect(kind, target, at(route.counted.port()), plan.pool).await?;
    for r in &mut reports {
        progress(&format!("{}: round trips", r.workload.name()));
        let mut keys = Keys(7);
        for _ in 0..3 {
            let _ = client.run(r.workload, keys.next()).await;
        }
        settle().await;
        let before = (
            route.counted.counts(),
            route.upstream_counted.map(Proxy::counts),
        );
        let mut fails = Failures::default();
        for _ in 0..plan.count_ops {
            if let Err(e) = client.run(r.workload, keys.next()).await {
                fails.note(e);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        settle().await;
        let n = plan.count_ops as f64;
        let after = route.counted.counts();
        let delta: Counts = after - before.0;
        r.round_trips = delta.flights as f64 / n;
        r.new_connections = delta.connections as f64 / n;
        r.bytes = (delta.bytes_up as f64 / n, delta.bytes_down as f64 / n);
        r.upstream_round_trips = route
            .upstream_counted
            .zip(before.1)
            .map(|(p, b)| (p.counts() - b).flights as f64 / n);
        r.errors += fails.count;
        r.first_error = r.first_error.take().or(fails.first);
    }
    client.close().await;

    // Emulated delay: cold connect, then each workload one operation at a time.
    let mut cold_delayed = Vec::new();
    for &(rtt, port) in &route.delayed {
        progress(&format!("{:.0} ms round trip", ms(rtt)));
        let mut times = Vec::new();
        for _ in 0..plan.cold_runs.min(3) {
            times.push(cold(kind, target, at(port), plan.pool).await?);
        }
        times.sort();
        cold_delayed.push(Delayed {
            rtt_ms: ms(rtt),
            p50_ms: ms(quantile(&times, 0.5)),
        });
        let client = clients::connect(kind, target, at(port), plan.pool).await?;
        for r in &mut reports {
            let mut keys = Keys(11);
            let _ = client.run(r.workload, keys.next()).await;
            let mut times = Vec::new();
            let mut fails = Failures::default();
            for _ in 0..plan.delayed_ops {
                let started = Instant::now();
                match client.run(r.workload, keys.next()).await {
                    Ok(_) => times.push(started.elapsed()),
                    Err(e) => fails.note(e),
                }
            }
            times.sort();
            r.delayed.push(Delayed {
                rtt_ms: ms(rtt),
                p50_ms: ms(quantile(&times, 0.5)),
            });
            r.errors += fails.count;
            r.first_error = r.first_error.take().or(fails.first);
        }
        client.close().await;
    }

    Ok(PathReport {
        path: kind,
        cold: Cold {
            median_ms: ms(quantile(&colds, 0.5)),
            runs: colds.len(),
            round_trips: cold_rt,
            upstream_round_trips: cold_up,
            delayed: cold_delayed,
        },
        workloads: reports,
        memory: None,
    })
}

/// Lets background work (pool resets, closes) finish before counters are read.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn flights_since(route: &Route<'_>, before: (Counts, Option<Counts>)) -> (u64, Option<u64>) {
    let own = (route.counted.counts() - before.0).flights;
    let up = route
        .upstream_counted
        .zip(before.1)
        .map(|(p, b)| (p.counts() - b).flights);
    (own, up)
}

/// A new client, one point select, closed again; returns the time to the first row.
async fn cold(kind: PathKind, target: &Target, at: Endpoint, pool: usize) -> Result<Duration> {
    let started = Instant::now();
    let client = clients::connect(kind, target, at, pool).await?;
    client.run(Workload::PointSelect, 1).await?;
    let took = started.elapsed();
    client.close().await;
    Ok(took)
}

/// Operations one at a time for `time` (at least 20); returns each one's latency.
async fn latency(
    client: &Client,
    w: Workload,
    time: Duration,
    fails: &mut Failures,
) -> Vec<Duration> {
    let mut keys = Keys(1);
    for _ in 0..5 {
        let _ = client.run(w, keys.next()).await;
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while started.elapsed() < time || samples.len() < 20 {
        let t = Instant::now();
        match client.run(w, keys.next()).await {
            Ok(_) => samples.push(t.elapsed()),
            Err(e) => {
                fails.note(e);
                if fails.count > 1000 {
                    break;
                }
            }
        }
    }
    samples
}

/// `concurrency` tasks issuing operations back to back for `time`, after a warm-up of a fifth
/// of it.
async fn throughput(
    client: &Client,
    w: Workload,
    concurrency: usize,
    time: Duration,
) -> (Throughput, Failures) {
    let run = |time: Duration, seed: u64| {
        let tasks: Vec<_> = (0..concurrency)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut keys = Keys(seed * 1000 + i as u64);
                    let (mut ok, mut fails) = (0u64, Failures::default());
                    let started = Instant::now();
                    while started.elapsed() < time {
                        match client.run(w, keys.next()).await {
                            Ok(_) => ok += 1,
                            Err(e) => fails.note(e),
                        }
                    }
                    (ok, fails, started.elapsed())
                })
            })
            .collect::<Vec<_>>();
        async move {
            let (mut ok, mut fails, mut elapsed) = (0u64, Failures::default(), Duration::ZERO);
            for t in tasks {
                if let Ok((n, f, e)) = t.await {
                    ok += n;
                    fails.count += f.count;
                    fails.first = fails.first.or(f.first);
                    elapsed = elapsed.max(e);
                }
            }
            (ok, fails, elapsed)
        }
    };
    let _ = run(time / 5, 1).await;
    let (ok, fails, elapsed) = run(time, 2).await;
    (
        Throughput {
            concurrency,
            ops_per_s: ok as f64 / elapsed.as_secs_f64().max(1e-9),
            errors: fails.count,
        },
        fails,
    )
}
