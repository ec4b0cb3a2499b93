//! Finding out whether this build has the relay, and running the relay server next to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tidb_connect::Config;

/// Whether the tidb-connect in this build has a native relay client. Decided from what
/// `connect` answers for a relay URL (a "not built" error), not from a list.
pub fn client_missing() -> Option<String> {
    let config = match Config::parse("relay+http://bench:probe@127.0.0.1:9/test") {
        Ok(c) => c,
        Err(e) => return Some(format!("relay URLs are refused by this build ({e})")),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answer = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), tidb_connect::connect(&config)).await
    });
    match answer {
        Ok(Err(e)) if e.is_config() && e.is_unsupported() => Some(e.to_string()),
        _ => None,
    }
}

/// Where to look for the relay binary when none is given.
pub fn default_binary() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["release", "debug"]
        .iter()
        .map(|p| root.join("target").join(p).join("tidb-connect-relay"))
        .find(|p| p.is_file())
}

/// A relay process started by the harness; killed when dropped.
pub struct RelayProcess {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl RelayProcess {
    /// Starts `binary` in front of `upstream` on a free loopback port.
    pub fn start(binary: &Path, upstream: &str) -> Result<RelayProcess> {
        let mut child = Command::new(binary)
            .args([
                "--upstream",
                upstream,
                "--listen",
                "127.0.0.1:0",
                "--log",
                "warn",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let stdout = child.stdout.take().context("relay stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the relay exited before listening");
            };
            let line = line?;
            if let Some(addr) = line.strip_prefix("listening on ") {
                let addr: std::net::SocketAddr = addr.trim().parse().context("relay address")?;
                break addr.port();
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(RelayProcess { child, port })
    }

    /// The relay process's peak resident memory so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        crate::memory::peak_rss_kib(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
