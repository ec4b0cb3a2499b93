//! The markdown tables on stdout, the JSON file, and the check of the targets of issue #5.

use std::fmt::Write;

use serde::Serialize;

use crate::clients::{PathKind, Workload};
use crate::measure::{PathReport, Plan, WorkloadReport};

/// A path that did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The path.
    pub path: PathKind,
    /// Why.
    pub reason: String,
}

/// One target and what the run showed.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The target.
    pub target: String,
    /// `Some(true)` met, `Some(false)` missed, `None` not measured in this run.
    pub met: Option<bool>,
    /// The figures behind it.
    pub detail: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `quick` or `full`.
    pub mode: String,
    /// The server's version string.
    pub server: String,
    /// Logical CPUs of the machine.
    pub cpus: usize,
    /// What was measured how often.
    pub plan: Plan,
    /// Rows of the memory case.
    pub big_rows: u64,
    /// Paths that ran.
    pub paths: Vec<PathReport>,
    /// Paths that did not.
    pub skipped: Vec<Skipped>,
    /// Targets of issue #5.
    pub checks: Vec<Check>,
}

impl Report {
    fn path(&self, kind: PathKind) -> Option<&PathReport> {
        self.paths.iter().find(|p| p.path == kind)
    }

    fn workload(&self, kind: PathKind, w: Workload) -> Option<&WorkloadReport> {
        self.path(kind)?.workloads.iter().find(|r| r.workload == w)
    }

    /// Fills `checks` from the measured figures.
    pub fn check_targets(&mut self) {
        let mut checks = Vec::new();
        let ps = Workload::PointSelect;

        // Direct within 5 % of raw mysql_async.
        let (d, m) = (
            self.workload(PathKind::Direct, ps),
            self.workload(PathKind::MysqlAsync, ps),
        );
        checks.push(match (d, m) {
            (Some(d), Some(m)) => {
                let p50 = d.p50_us / m.p50_us;
                let mut worst = p50 <= 1.05;
                let mut detail = format!("p50 {:.2}× of mysql_async", p50);
                for (dt, mt) in d.throughput.iter().zip(&m.throughput) {
                    let r = dt.ops_per_s / mt.ops_per_s;
                    worst &= r >= 0.95;
                    let _ = write!(detail, "; throughput c{} {:.2}×", dt.concurrency, r);
                }
                Check {
                    target: "direct within 5% of raw mysql_async (point select p50 and throughput)"
                        .into(),
                    met: Some(worst),
                    detail,
                }
            }
            _ => not_measured("direct within 5% of raw mysql_async"),
        });

        // One round trip per statement when warm.
        for kind in [PathKind::Direct, PathKind::Hyperdrive, PathKind::Relay] {
            let target = format!("{}: 1 round trip per warm point select", kind.name());
            checks.push(match self.workload(kind, ps) {
                Some(r) => Check {
                    target,
                    met: Some(r.round_trips <= 1.0 + 1e-9),
                    detail: format!(
                        "{:.2} round trips per point select (background work included){}",
                        r.round_trips,
                        critical(r)
                    ),
                },
                None => not_measured(&target),
            });
        }

        // A batch of ten in one round trip on the relay.
        let target = "relay: a batch of 10 inserts is 1 round trip";
        checks.push(match self.workload(PathKind::Relay, Workload::Batch10) {
            Some(r) => Check {
                target: target.into(),
                met: Some(r.round_trips <= 1.0 + 1e-9),
                detail: format!("{:.2} client round trips per batch", r.round_trips),
            },
            None => not_measured(target),
        });

        // Relay overhead on loopback.
        let target = "relay adds at most 150 µs to warm point-select p50 over direct";
        checks.push(
            match (
                self.workload(PathKind::Relay, ps),
                self.workload(PathKind::Direct, ps),
            ) {
                (Some(r), Some(d)) => Check {
                    target: target.into(),
                    met: Some(r.p50_us - d.p50_us <= 150.0),
                    detail: format!(
                        "relay {:.0} µs, direct {:.0} µs: +{:.0} µs",
                        r.p50_us,
                        d.p50_us,
                        r.p50_us - d.p50_us
                    ),
                },
                _ => not_measured(target),
            },
        );
        let target = "relay sustains at least 70% of direct's throughput at concurrency 16";
        checks.push(
            match (
                self.workload(PathKind::Relay, ps),
                self.workload(PathKind::Direct, ps),
            ) {
                (Some(r), Some(d)) => {
                    let at16 = |w: &WorkloadReport| {
                        w.throughput
                            .iter()
                            .find(|t| t.concurrency == 16)
                            .map(|t| t.ops_per_s)
                    };
                    match (at16(r), at16(d)) {
                        (Some(r), Some(d)) => Check {
                            target: target.into(),
                            met: Some(r / d >= 0.7),
                            detail: format!("{:.0} vs {:.0} ops/s: {:.2}×", r, d, r / d),
                        },
                        _ => not_measured(target),
                    }
                }
                _ => not_measured(target),
            },
        );

        // Bounded memory through the relay.
        let target = format!(
            "relay: {} rows with bounded memory (streamed, or refused by a limit)",
            self.big_rows
        );
        checks.push(
            match self.path(PathKind::Relay).and_then(|p| p.memory.as_ref()) {
                Some(m) => {
                    let refused = m.error.is_some();
                    Check {
                        target,
                        met: Some(refused || m.peak_kib.saturating_sub(m.baseline_kib) < 64 * 1024),
                        detail: format!(
                            "{}; client peak RSS {} MiB (baseline {} MiB){}",
                            match (&m.rows, &m.error) {
                                (Some(n), _) => format!("{n} rows received"),
                                (_, Some(e)) => format!("refused: {e}"),
                                _ => "no answer".into(),
                            },
                            m.peak_kib / 1024,
                            m.baseline_kib / 1024,
                            m.relay_kib
                                .map(|(b, p)| format!(
                                    "; relay peak RSS {} MiB (baseline {} MiB)",
                                    p / 1024,
                                    b / 1024
                                ))
                                .unwrap_or_default()
                        ),
                    }
                }
                None => not_measured(&target),
            },
        );
        self.checks = checks;
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let base = self.path(PathKind::MysqlAsync);
        let _ = writeln!(
            out,
            "Server: {} · {} CPUs · mode: {} · pool {} · latency {:.1} s and throughput {:.1} s \
             per workload · round trips over {} operations · emulated RTT: {}\n",
            self.server,
            self.cpus,
            self.mode,
            self.plan.pool,
            self.plan.latency_time.as_secs_f64(),
            self.plan.throughput_time.as_secs_f64(),
            self.plan.count_ops,
            self.plan
                .rtts
                .iter()
                .map(|r| format!("{:.0} ms", r.as_secs_f64() * 1e3))
                .collect::<Vec<_>>()
                .join(", ")
        );

        // Connect.
        let _ = writeln!(out, "### Cold connect to first row\n");
        let mut head = "| path | loopback | × mysql_async | round trips |".to_owned();
        let mut rule = "|---|---:|---:|---:|".to_owned();
        for r in &self.plan.rtts {
            let _ = write!(head, " at {:.0} ms RTT |", r.as_secs_f64() * 1e3);
            rule.push_str("---:|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for p in &self.paths {
            let ratio = base.map(|b| p.cold.median_ms / b.cold.median_ms);
            let rt = match p.cold.upstream_round_trips {
                Some(up) => format!("{} (+{} relay→db)", p.cold.round_trips, up),
                None => p.cold.round_trips.to_string(),
            };
            let _ = write!(
                out,
                "| {} | {:.2} ms | {} | {} |",
                p.path.name(),
                p.cold.median_ms,
                times(ratio),
                rt
            );
            for d in &p.cold.delayed {
                let _ = write!(out, " {:.1} ms |", d.p50_ms);
            }
            out.push('\n');
        }

        // Warm latency and throughput.
        let _ = writeln!(out, "\n### Warm latency and throughput\n");
        let mut head = "| workload | path | p50 | × | p99 |".to_owned();
        let mut rule = "|---|---|---:|---:|---:|".to_owned();
        for c in &self.plan.concurrency {
            let _ = write!(head, " ops/s c={c} | × |");
            rule.push_str("---:|---:|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for &w in &Workload::ALL {
            let b = self.workload(PathKind::MysqlAsync, w);
            for p in &self.paths {
                let Some(r) = p.workloads.iter().find(|r| r.workload == w) else {
                    continue;
                };
                let _ = write!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    w.name(),
                    p.path.name(),
                    micros(r.p50_us),
                    times(b.map(|b| r.p50_us / b.p50_us)),
                    micros(r.p99_us)
                );
                for t in &r.throughput {
                    let bt = b
                        .and_then(|b| b.throughput.iter().find(|x| x.concurrency == t.concurrency));
                    let _ = write!(
                        out,
                        " {:.0} | {} |",
                        t.ops_per_s,
                        times(bt.map(|bt| t.ops_per_s / bt.ops_per_s))
                    );
                }
                out.push('\n');
            }
        }

        // Round trips and delay.
        let _ = writeln!(
            out,
            "\n### Round trips per operation and emulated network delay\n"
        );
        let mut head = "| workload | path | statements | round trips | relay→db |".to_owned();
        let mut rule = "|---|---|---:|---:|---:|".to_owned();
        for r in &self.plan.rtts {
            let _ = write!(head, " p50 at {:.0} ms RTT |", r.as_secs_f64() * 1e3);
            rule.push_str("---:|");
        }
        head.push_str(" waited round trips |");
        rule.push_str("---:|");
        let _ = writeln!(out, "{head}\n{rule}");
        for &w in &Workload::ALL {
            for p in &self.paths {
                let Some(r) = p.workloads.iter().find(|r| r.workload == w) else {
                    continue;
                };
                let _ = write!(
                    out,
                    "| {} | {} | {} | {:.2} | {} |",
                    w.name(),
                    p.path.name(),
                    w.statements(),
                    r.round_trips,
                    r.upstream_round_trips
                        .map(|u| format!("{u:.2}"))
                        .unwrap_or_else(|| "–".into())
                );
                for d in &r.delayed {
                    let _ = write!(out, " {:.2} ms |", d.p50_ms);
                }
                let _ = writeln!(out, " {} |", waited(r));
            }
        }

        // Memory.
        let _ = writeln!(out, "\n### {} rows in one result\n", self.big_rows);
        let _ = writeln!(out, "| path | outcome | client peak RSS | relay peak RSS |");
        let _ = writeln!(out, "|---|---|---:|---:|");
        for p in &self.paths {
            let Some(m) = &p.memory else { continue };
            let outcome = match (&m.rows, &m.error) {
                (Some(n), _) => format!("{n} rows"),
                (_, Some(e)) => format!("refused: {}", e.replace('|', "/")),
                _ => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} MiB (+{} MiB) | {} |",
                p.path.name(),
                outcome,
                m.peak_kib / 1024,
                m.peak_kib.saturating_sub(m.baseline_kib) / 1024,
                m.relay_kib
                    .map(|(b, p)| format!("{} MiB (+{} MiB)", p / 1024, p.saturating_sub(b) / 1024))
                    .unwrap_or_else(|| "–".into())
            );
        }

        // Errors.
        let errors: Vec<_> = self
            .paths
            .iter()
            .flat_map(|p| p.workloads.iter().map(move |w| (p, w)))
            .filter(|(_, w)| w.errors > 0)
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(out, "\n### Failed operations\n");
            for (p, w) in errors {
                let _ = writeln!(
                    out,
                    "* {} / {}: {} failed; first: {}",
                    p.path.name(),
                    w.workload.name(),
                    w.errors,
                    w.first_error.as_deref().unwrap_or("?")
                );
            }
        }

        if !self.skipped.is_empty() {
            let _ = writeln!(out, "\n### Skipped\n");
            for s in &self.skipped {
                let _ = writeln!(out, "* {}: skipped: {}", s.path.name(), s.reason);
            }
        }

        let _ = writeln!(out, "\n### Targets (issue #5)\n");
        let _ = writeln!(out, "| target | result | figures |");
        let _ = writeln!(out, "|---|---|---|");
        for c in &self.checks {
            let verdict = match c.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            let _ = writeln!(out, "| {} | {} | {} |", c.target, verdict, c.detail);
        }
        out
    }
}

fn not_measured(target: &str) -> Check {
    Check {
        target: target.into(),
        met: None,
        detail: "the path did not run".into(),
    }
}

/// Round trips the caller waited on, from the slowest emulated delay: the added median time
/// divided by the added round-trip time.
fn waited_value(r: &WorkloadReport, base_ms: f64) -> Option<f64> {
    let d = r
        .delayed
        .iter()
        .max_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms))?;
    (d.rtt_ms > 0.0).then(|| (d.p50_ms - base_ms) / d.rtt_ms)
}

fn waited(r: &WorkloadReport) -> String {
    waited_value(r, r.p50_us / 1e3)
        .map(|v| format!("{v:.1}"))
        .unwrap_or_else(|| "–".into())
}

fn critical(r: &WorkloadReport) -> String {
    waited_value(r, r.p50_us / 1e3)
        .map(|v| format!("; {v:.1} waited on (from the delayed runs)"))
        .unwrap_or_default()
}

fn times(ratio: Option<f64>) -> String {
    ratio
        .filter(|r| r.is_finite())
        .map(|r| format!("{r:.2}×"))
        .unwrap_or_else(|| "–".into())
}

fn micros(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}
