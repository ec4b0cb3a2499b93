//! `tidb-connect-bench`: one workload through raw mysql_async, raw sqlx and every tidb-connect
//! path against the same server, reporting cold connect, warm latency, throughput, round trips
//! counted by a proxy, behaviour under emulated network delay and memory for a large result.
//!
//! Markdown tables go to stdout, progress to stderr, everything to a JSON file.

mod clients;
mod measure;
mod memory;
mod proxy;
mod relay;
mod report;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use tidb_connect::Connector;

use crate::clients::{PathKind, Workload};
use crate::measure::{Plan, Route};
use crate::proxy::Proxy;
use crate::relay::RelayProcess;
use crate::report::{Report, Skipped};
use crate::target::Target;

/// Measures tidb-connect's paths (direct, Hyperdrive code path, VPC relay) against raw
/// mysql_async and raw sqlx on one server: cold connect to first row, warm latency p50/p99,
/// throughput per concurrency, round trips per operation (counted by a TCP proxy), the effect
/// of an emulated network round-trip time, and peak memory for a large result.
///
/// Paths that this build cannot run (the relay before it lands) are skipped and listed with
/// the reason. Creates the tables bench_rows, bench_big and bench_log in the URL's database.
#[derive(Parser, Debug)]
#[command(name = "tidb-connect-bench", version)]
struct Args {
    /// The server: mysql://user:password@host:port/db?ssl-ca=… (tidb-connect's URL grammar).
    #[arg(long, env = "TIDB_URL", hide_env_values = true)]
    url: String,

    /// A short run (well under two minutes) for CI: few iterations, concurrency 1 and 4.
    #[arg(long)]
    quick: bool,

    /// Paths to run, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    paths: Vec<PathKind>,

    /// Workloads to run, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    workloads: Vec<Workload>,

    /// Concurrency levels of the throughput runs (default 1,16,64; quick: 1,4).
    #[arg(long, value_delimiter = ',')]
    concurrency: Vec<usize>,

    /// Emulated round-trip times in milliseconds (default 1,20).
    #[arg(long, value_delimiter = ',')]
    rtt_ms: Vec<f64>,

    /// Seconds per latency run and per throughput run (default 2; quick: 0.25).
    #[arg(long)]
    seconds: Option<f64>,

    /// Pool size of every client (default: the highest concurrency).
    #[arg(long)]
    pool: Option<usize>,

    /// Rows of the memory case (default 100000).
    #[arg(long)]
    big_rows: Option<u64>,

    /// Skip the memory case.
    #[arg(long)]
    no_memory: bool,

    /// Where to write the JSON results.
    #[arg(long, default_value = "target/tidb-connect-bench.json")]
    json: PathBuf,

    /// The relay server binary (default: target/release or target/debug tidb-connect-relay).
    #[arg(long, env = "TIDB_BENCH_RELAY_BIN")]
    relay_bin: Option<PathBuf>,

    /// Internal: run the memory case of one path and print its result.
    #[arg(long, value_enum, hide = true)]
    memory_child: Option<PathKind>,

    /// Internal: the port the memory child connects to.
    #[arg(long, hide = true)]
    memory_port: Option<u16>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tidb-connect-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The relay processes and the proxies in front of them.
struct RelaySide {
    /// Relay straight to the database: latency, throughput, delay.
    fast: RelayProcess,
    /// Relay whose database traffic passes the upstream counting proxy.
    _counted: RelayProcess,
    /// Counting proxy in front of `counted`.
    count: Proxy,
    /// Delaying proxies in front of `fast`.
    delayed: Vec<(Duration, Proxy)>,
    /// The binary, for the memory case's own relay.
    binary: PathBuf,
}

fn run(args: Args) -> Result<()> {
    let target = Target::parse(&args.url)?;
    if let Some(kind) = args.memory_child {
        let port = args.memory_port.context("--memory-port")?;
        return memory::child_main(kind, &target, port);
    }

    let concurrency = if !args.concurrency.is_empty() {
        args.concurrency.clone()
    } else if args.quick {
        vec![1, 4]
    } else {
        vec![1, 16, 64]
    };
    let rtt_ms = if args.rtt_ms.is_empty() {
        vec![1.0, 20.0]
    } else {
        args.rtt_ms.clone()
    };
    let seconds = args.seconds.unwrap_or(if args.quick { 0.25 } else { 2.0 });
    let plan = Plan {
        cold_runs: if args.quick { 3 } else { 10 },
        latency_time: Duration::from_secs_f64(seconds),
        throughput_time: Duration::from_secs_f64(seconds),
        pool: args
            .pool
            .unwrap_or_else(|| concurrency.iter().copied().max().unwrap_or(1)),
        concurrency,
        count_ops: if args.quick { 10 } else { 50 },
        rtts: rtt_ms
            .iter()
            .map(|ms| Duration::from_secs_f64(ms / 1e3))
            .collect(),
        delayed_ops: if args.quick { 3 } else { 15 },
    };
    let paths = if args.paths.is_empty() {
        PathKind::ALL.to_vec()
    } else {
        args.paths.clone()
    };
    let workloads = if args.workloads.is_empty() {
        Workload::ALL.to_vec()
    } else {
        args.workloads.clone()
    };
    let big_rows = args
        .big_rows
        .unwrap_or(if args.quick { 20_000 } else { 100_000 });

    // Everything with a port is bound now, while the process has one thread, so that the
    // Hyperdrive path's variables can be set safely before any thread starts.
    let server = target.addr()?;
    let mut db_count = Proxy::bind(server, Duration::ZERO)?;
    let mut db_delayed = plan
        .rtts
        .iter()
        .map(|&rtt| Ok((rtt, Proxy::bind(server, rtt)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut relay_db_count = Proxy::bind(server, Duration::ZERO)?;
    let db_ports = [target.port, db_count.port()]
        .into_iter()
        .chain(db_delayed.iter().map(|(_, p)| p.port()));
    for port in db_ports {
        let (name, value) = clients::hyperdrive_env(&target, port, plan.pool);
        // SAFETY: no other thread exists yet (nothing has been spawned), so nothing reads
        // the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }

    let mut skipped = Vec::new();
    let mut relay_side = None;
    if paths.contains(&PathKind::Relay) {
        match start_relay(&args, &target, &plan, &relay_db_count) {
            Ok(side) => relay_side = Some(side),
            Err(reason) => skipped.push(Skipped {
                path: PathKind::Relay,
                reason,
            }),
        }
    }

    db_count.run();
    relay_db_count.run();
    for (_, p) in &mut db_delayed {
        p.run();
    }
    if let Some(side) = &mut relay_side {
        side.count.run();
        for (_, p) in &mut side.delayed {
            p.run();
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = rt.block_on(async {
        let started = Instant::now();
        let setup = tidb_connect::connect(&tidb_connect::Config::parse(
            &target.mysql_url(target.port, ""),
        )?)
        .await
        .context("connect to the server for set-up")?;
        let server_version = setup.server_version().await?.to_string();
        eprintln!("tidb-connect-bench: preparing tables ({big_rows} rows for the memory case)");
        clients::prepare(&setup, big_rows).await?;
        setup.close().await?;

        let mut report = Report {
            mode: if args.quick { "quick" } else { "full" }.into(),
            server: server_version,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            plan: plan.clone(),
            big_rows,
            paths: Vec::new(),
            skipped: Vec::new(),
            checks: Vec::new(),
        };
        let runnable: Vec<PathKind> = paths
            .iter()
            .copied()
            .filter(|p| !skipped.iter().any(|s: &Skipped| s.path == *p))
            .collect();
        for (i, &kind) in runnable.iter().enumerate() {
            let route = match (kind.via_relay(), &relay_side) {
                (true, Some(side)) => Route {
                    direct: side.fast.port,
                    counted: &side.count,
                    upstream_counted: Some(&relay_db_count),
                    delayed: side.delayed.iter().map(|(r, p)| (*r, p.port())).collect(),
                },
                _ => Route {
                    direct: target.port,
                    counted: &db_count,
                    upstream_counted: None,
                    delayed: db_delayed.iter().map(|(r, p)| (*r, p.port())).collect(),
                },
            };
            let progress = |step: &str| {
                eprintln!(
                    "[{:>5.1}s] [{}/{}] {}: {step}",
                    started.elapsed().as_secs_f64(),
                    i + 1,
                    runnable.len(),
                    kind.name()
                );
            };
            match measure::path(kind, &target, &route, &workloads, &plan, &progress).await {
                Ok(mut path_report) => {
                    if !args.no_memory {
                        progress("memory case (child process)");
                        match memory_case(kind, &args.url, &target, relay_side.as_ref()).await {
                            Ok(m) => path_report.memory = Some(m),
                            Err(e) => eprintln!("  memory case failed: {e:#}"),
                        }
                    }
                    report.paths.push(path_report);
                }
                Err(e) => skipped.push(Skipped {
                    path: kind,
                    reason: format!("failed: {e:#}"),
                }),
            }
        }
        eprintln!(
            "tidb-connect-bench: done in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok::<_, anyhow::Error>(report)
    })?;
    report.skipped = skipped;
    report.check_targets();

    print!("{}", report.markdown());
    if let Some(dir) = args.json.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("write {}", args.json.display()))?;
    eprintln!(
        "tidb-connect-bench: JSON written to {}",
        args.json.display()
    );
    Ok(())
}

/// Starts the relay processes, or says why the relay path cannot run.
fn start_relay(
    args: &Args,
    target: &Target,
    plan: &Plan,
    upstream_count: &Proxy,
) -> std::result::Result<RelaySide, String> {
    if let Some(why) = relay::client_missing() {
        return Err(format!("relay backend not in this build ({why})"));
    }
    let binary = args
        .relay_bin
        .clone()
        .or_else(relay::default_binary)
        .ok_or_else(|| {
            "relay server binary not found: build it with `cargo build --release --features \
             relay-server --bin tidb-connect-relay` or pass --relay-bin"
                .to_owned()
        })?;
    let start = |port: u16| {
        RelayProcess::start(&binary, &target.relay_upstream(port)).map_err(|e| format!("{e:#}"))
    };
    let fast = start(target.port)?;
    let counted = start(upstream_count.port())?;
    let relay_addr = std::net::SocketAddr::from(([127, 0, 0, 1], fast.port));
    let count = Proxy::bind(([127, 0, 0, 1], counted.port).into(), Duration::ZERO)
        .map_err(|e| e.to_string())?;
    let delayed = plan
        .rtts
        .iter()
        .map(|&rtt| Proxy::bind(relay_addr, rtt).map(|p| (rtt, p)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    Ok(RelaySide {
        fast,
        _counted: counted,
        count,
        delayed,
        binary,
    })
}

/// The memory case of one path, in a child process (and, for the relay, a fresh relay).
async fn memory_case(
    kind: PathKind,
    url: &str,
    target: &Target,
    relay_side: Option<&RelaySide>,
) -> Result<memory::MemoryResult> {
    let hyperdrive = clients::hyperdrive_env(target, target.port, 1);
    let (url, target) = (url.to_owned(), target.clone());
    let binary = relay_side.map(|s| s.binary.clone());
    tokio::task::spawn_blocking(move || {
        if kind.via_relay() {
            let binary = binary.context("relay binary")?;
            let relay = RelayProcess::start(&binary, &target.relay_upstream(target.port))?;
            let before = relay.peak_rss_kib().unwrap_or(0);
            let mut m = memory::run_in_child(kind, &url, relay.port, &hyperdrive)?;
            m.relay_kib = Some((before, relay.peak_rss_kib().unwrap_or(0)));
            Ok(m)
        } else {
            memory::run_in_child(kind, &url, target.port, &hyperdrive)
        }
    })
    .await?
}
