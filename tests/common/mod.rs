//! Shared test fixtures: the local TLS-only servers, a TCP proxy and a stalling server.
//!
//! The servers come from `scripts/local-tidb.sh`. `scripts/test.sh` starts them once, exports
//! their URLs and stops them at the end. When a test binary runs without those variables
//! (plain `cargo test`), it starts them itself under `target/local-tidb/` (the script is
//! idempotent and serialises concurrent starts) and leaves them running for the next run;
//! `scripts/local-tidb.sh stop --dir target/local-tidb/<name>` stops one.

#![allow(dead_code)]

pub mod capture;
pub mod proxy;
#[cfg(feature = "relay-server")]
pub mod relay;
pub mod stall;
#[cfg(feature = "relay-server")]
pub mod tls_front;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// One running local server.
#[derive(Debug, Clone)]
pub struct Server {
    /// `mysql://…` with verify_identity and the instance's CA.
    pub url: String,
    /// The CA file.
    pub ca: String,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
}

/// The main instance: cert for localhost and 127.0.0.1, max_allowed_packet 64M, general log.
pub fn main_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| server("TIDB_TEST_MAIN", "main", &["--general-log"]))
}

/// The second instance: cert for `db.internal` only, max_allowed_packet 4M, wait_timeout 3 s.
pub fn alt_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        server(
            "TIDB_TEST_ALT",
            "alt",
            &[
                "--san",
                "DNS:db.internal",
                "--max-allowed-packet",
                "4M",
                "--wait-timeout",
                "3",
            ],
        )
    })
}

/// A plaintext server that does not offer TLS (for the `preferred` fallback).
pub fn plain_server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| server("TIDB_TEST_PLAIN", "plain", &["--no-tls"]))
}

/// The plaintext server's URL (`ssl-mode=disabled`).
pub fn plain_url() -> String {
    plain_server().url.clone()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn server(prefix: &str, name: &str, args: &[&str]) -> Server {
    if let Ok(url) = std::env::var(format!("{prefix}_URL")) {
        let get = |k: &str| std::env::var(format!("{prefix}_{k}")).unwrap_or_default();
        return Server {
            url,
            ca: get("CA"),
            port: get("PORT").parse().expect("port"),
        };
    }
    let dir = repo_root().join("target").join("local-tidb").join(name);
    let out = Command::new(repo_root().join("scripts/local-tidb.sh"))
        .arg("start")
        .arg("--dir")
        .arg(&dir)
        .args(args)
        .output()
        .expect("run scripts/local-tidb.sh");
    assert!(
        out.status.success(),
        "scripts/local-tidb.sh start failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 env");
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("TIDB_{k}=")))
            .map(|v| v.trim_matches('\'').to_owned())
            .unwrap_or_else(|| panic!("TIDB_{k} missing in:\n{text}"))
    };
    Server {
        url: get("URL"),
        ca: get("CA"),
        port: get("PORT").parse().expect("port"),
    }
}

/// Replaces `host:port` in a URL (the part after the last `@`).
pub fn with_address(url: &str, host: &str, port: u16) -> String {
    let at = url.rfind('@').expect("url has credentials") + 1;
    let end = url[at..].find('/').map_or(url.len(), |i| at + i);
    format!("{}{host}:{port}{}", &url[..at], &url[end..])
}

/// Appends query parameters to a URL.
pub fn with_params(url: &str, params: &str) -> String {
    if params.is_empty() {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&{params}")
    } else {
        format!("{url}?{params}")
    }
}

/// Replaces one query parameter's value (or adds it).
pub fn set_param(url: &str, key: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with(&format!("{key}=")))
        .map(str::to_owned)
        .collect();
    parts.push(format!("{key}={value}"));
    format!("{base}?{}", parts.join("&"))
}

/// A direct client to the main server, for setup and inspection.
pub async fn conformance_admin() -> tidb_connect::Client {
    let config = tidb_connect::Config::parse(&main_server().url).unwrap();
    tidb_connect::connect(&config).await.unwrap()
}
