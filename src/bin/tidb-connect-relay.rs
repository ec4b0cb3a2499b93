//! `tidb-connect-relay`: TiDB Cloud's serverless HTTP SQL API in front of a TiDB (or any
//! MySQL-protocol) database, for Workers VPC service bindings and other HTTP-only clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use tidb_connect::relay_server::{AuthMode, Limits, RelayConfig, log_filter, serve};

/// SQL over HTTP for TiDB: the relay that runs next to the database (e.g. in the VPC, behind
/// cloudflared) and speaks TiDB Cloud's serverless HTTP SQL API plus the tidb-connect
/// extensions. Every option can also be set through the environment variable shown.
#[derive(Parser, Debug)]
#[command(name = "tidb-connect-relay", version)]
struct Args {
    /// The database: mysql://host:4000/default_db?ssl-ca=/path/ca.pem (TLS with identity
    /// verification unless told otherwise). With --auth tokens it also holds user:password.
    #[arg(long, env = "TIDB_RELAY_UPSTREAM", hide_env_values = true)]
    upstream: String,

    /// Address to listen on. Keep it on loopback (cloudflared on the same host) unless a
    /// firewall guards the port.
    #[arg(long, env = "TIDB_RELAY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// basic: clients send the database user and password (checked by the database);
    /// tokens: the relay holds the database credentials and checks client tokens.
    #[arg(long, env = "TIDB_RELAY_AUTH", default_value = "basic", value_parser = ["basic", "tokens"])]
    auth: String,

    /// With --auth tokens: a file with one client token per line (at least 32 characters each).
    #[arg(long, env = "TIDB_RELAY_TOKENS_FILE")]
    tokens_file: Option<PathBuf>,

    /// Refuse statements that write (a database user with read-only grants is the real guard).
    #[arg(long, env = "TIDB_RELAY_READ_ONLY")]
    read_only: bool,

    /// Largest request body in bytes (bytes parameters travel as hex: twice their size).
    #[arg(long, env = "TIDB_RELAY_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,

    /// Most statements in one batch.
    #[arg(long, env = "TIDB_RELAY_MAX_BATCH_STATEMENTS", default_value_t = Limits::default().max_batch_statements)]
    max_batch_statements: usize,

    /// Most rows in one response; larger results are refused with 413, never truncated.
    #[arg(long, env = "TIDB_RELAY_MAX_ROWS", default_value_t = Limits::default().max_rows)]
    max_rows: usize,

    /// Largest response body in bytes before compression.
    #[arg(long, env = "TIDB_RELAY_MAX_RESPONSE_BYTES", default_value_t = Limits::default().max_response_bytes)]
    max_response_bytes: usize,

    /// Most open sessions (transactions, stateful connections) per user.
    #[arg(long, env = "TIDB_RELAY_MAX_SESSIONS_PER_USER", default_value_t = Limits::default().max_sessions_per_user)]
    max_sessions_per_user: usize,

    /// Seconds a session may stay idle before it is rolled back and released.
    #[arg(long, env = "TIDB_RELAY_SESSION_IDLE_TIMEOUT", default_value_t = Limits::default().session_idle_timeout.as_secs())]
    session_idle_timeout: u64,

    /// Deadline in milliseconds of a request that names none.
    #[arg(long, env = "TIDB_RELAY_DEFAULT_DEADLINE_MS", default_value_t = Limits::default().default_deadline.as_millis() as u64)]
    default_deadline_ms: u64,

    /// Longest deadline in milliseconds a request may ask for.
    #[arg(long, env = "TIDB_RELAY_MAX_DEADLINE_MS", default_value_t = Limits::default().max_deadline.as_millis() as u64)]
    max_deadline_ms: u64,

    /// Requests handled at once; more are answered 503.
    #[arg(long, env = "TIDB_RELAY_MAX_CONCURRENT_REQUESTS", default_value_t = Limits::default().max_concurrent_requests)]
    max_concurrent_requests: usize,

    /// Request body bytes held at once across all requests; more are answered 503.
    #[arg(long, env = "TIDB_RELAY_MAX_INFLIGHT_BODY_BYTES", default_value_t = Limits::default().max_inflight_body_bytes)]
    max_inflight_body_bytes: usize,

    /// Connection pools kept (one per user and database).
    #[arg(long, env = "TIDB_RELAY_MAX_POOLS", default_value_t = Limits::default().max_pools)]
    max_pools: usize,

    /// Seconds shutdown waits for requests in flight before rolling back what is left.
    #[arg(long, env = "TIDB_RELAY_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,

    /// A short name of this relay (letters, digits, `-`, `_`) put into session tokens as
    /// `p1.<instance>.…`, so a balancer in front of several relays can route a session to the
    /// relay that holds it.
    #[arg(long, env = "TIDB_RELAY_INSTANCE")]
    instance: Option<String>,

    /// Log level: error, warn, info or debug. Logs never hold SQL text, parameter values,
    /// passwords or tokens.
    #[arg(long, env = "TIDB_RELAY_LOG", default_value = "info", value_parser = ["error", "warn", "info", "debug"])]
    log: String,
}

fn read_tokens(path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the tokens file {}", path.display()))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        anyhow::bail!("the tokens file {} holds no token", path.display());
    }
    if let Some(i) = tokens.iter().position(|t| t.len() < 32) {
        anyhow::bail!(
            "token {} of {} is shorter than 32 characters; use random tokens (e.g. openssl rand -hex 32)",
            i + 1,
            path.display()
        );
    }
    Ok(tokens)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(log_filter(&args.log)))
        .init();

    let auth = match args.auth.as_str() {
        "tokens" => {
            let path = args
                .tokens_file
                .as_ref()
                .context("--auth tokens needs --tokens-file")?;
            AuthMode::Tokens(read_tokens(path)?)
        }
        _ => AuthMode::Basic,
    };
    let config = RelayConfig {
        upstream: args.upstream,
        auth,
        read_only: args.read_only,
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            max_batch_statements: args.max_batch_statements,
            max_rows: args.max_rows,
            max_response_bytes: args.max_response_bytes,
            max_sessions_per_user: args.max_sessions_per_user,
            session_idle_timeout: Duration::from_secs(args.session_idle_timeout),
            default_deadline: Duration::from_millis(args.default_deadline_ms),
            max_deadline: Duration::from_millis(args.max_deadline_ms),
            max_concurrent_requests: args.max_concurrent_requests,
            max_inflight_body_bytes: args.max_inflight_body_bytes,
            max_pools: args.max_pools,
        },
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        instance: args.instance,
    };

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // The resolved address, for scripts that pass port 0.
    println!("listening on {}", listener.local_addr()?);
    serve(config, listener, shutdown_signal()).await?;
    Ok(())
}

/// SIGTERM (systemd, docker) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
