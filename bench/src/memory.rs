//! The memory case: one large result read whole, in a child process per path so that each
//! path's peak resident memory (`VmHWM`) is its own.

use std::process::Command;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::clients::{self, Endpoint, PathKind, Workload};
use crate::target::Target;

/// What one path did with the large result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryResult {
    /// Rows received, when the query succeeded.
    pub rows: Option<u64>,
    /// The error, when it failed (a configured limit on the relay, for instance).
    pub error: Option<String>,
    /// Peak resident memory of the client process after connecting and one point select, KiB.
    pub baseline_kib: u64,
    /// Peak resident memory of the client process after the large query, KiB.
    pub peak_kib: u64,
    /// Peak resident memory of the relay process (relay path), before and after, KiB.
    pub relay_kib: Option<(u64, u64)>,
}

/// `VmHWM` of a `/proc/…/status` file, in KiB.
pub fn peak_rss_kib(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the memory case for `kind` in a child process of this executable.
pub fn run_in_child(
    kind: PathKind,
    url: &str,
    port: u16,
    hyperdrive: &(String, String),
) -> Result<MemoryResult> {
    let exe = std::env::current_exe().context("own executable")?;
    let kind_name = clap::ValueEnum::to_possible_value(&kind)
        .context("path name")?
        .get_name()
        .to_owned();
    let out = Command::new(exe)
        .args(["--url", url, "--memory-child", &kind_name])
        .args(["--memory-port", &port.to_string()])
        .env(&hyperdrive.0, &hyperdrive.1)
        .output()
        .context("run the memory child")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| {
            format!(
                "the memory child printed no result: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    Ok(serde_json::from_str(line)?)
}

/// The child's side: connect, one warm operation, the large query; prints one JSON line.
pub fn child_main(kind: PathKind, target: &Target, port: u16) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async {
        let client = clients::connect(kind, target, Endpoint { port }, 1).await?;
        client.run(Workload::PointSelect, 1).await?;
        let baseline_kib = peak_rss_kib("/proc/self/status").unwrap_or(0);
        let (rows, error) = match client.read_big().await {
            Ok(n) => (Some(n as u64), None),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        let peak_kib = peak_rss_kib("/proc/self/status").unwrap_or(0);
        client.close().await;
        Ok::<_, anyhow::Error>(MemoryResult {
            rows,
            error,
            baseline_kib,
            peak_kib,
            relay_kib: None,
        })
    })?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}
