//! Warm point-select latency: direct vs through an in-process relay (plain HTTP on loopback).
//!
//! ```sh
//! eval "$(scripts/local-tidb.sh start)"      # prints TIDB_URL=mysql://…
//! cargo run --release --features relay-server --example relay_latency
//! ```

use std::time::{Duration, Instant};

use tidb_connect::relay_server::{RelayConfig, serve};
use tidb_connect::{Config, Connector, params};

const ROUNDS: usize = 2000;

async fn measure(db: &tidb_connect::Client, label: &str) -> anyhow::Result<()> {
    // Warm up: pools, prepared statements, HTTP keep-alive.
    for i in 0..100 {
        db.query(
            "SELECT id, v FROM relay_latency WHERE id = ?",
            &params![i % 100],
        )
        .await?;
    }
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        let rs = db
            .query(
                "SELECT id, v FROM relay_latency WHERE id = ?",
                &params![(i % 100) as i64],
            )
            .await?;
        samples.push(started.elapsed());
        anyhow::ensure!(rs.len() == 1);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{label:<28} mean {:>7.1} µs   p50 {:>7.1} µs   p99 {:>7.1} µs",
        mean.as_secs_f64() * 1e6,
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("TIDB_URL")?;
    let direct = tidb_connect::connect(&Config::parse(&url)?).await?;
    direct
        .execute(
            "CREATE TABLE IF NOT EXISTS relay_latency (id BIGINT PRIMARY KEY, v VARCHAR(20))",
            &[],
        )
        .await?;
    direct.execute("DELETE FROM relay_latency", &[]).await?;
    let rows: Vec<tidb_connect::Statement> = (0..100i64)
        .map(|i| {
            tidb_connect::Statement::new(
                "INSERT INTO relay_latency VALUES (?, ?)",
                params![i, format!("v{i}")],
            )
        })
        .collect();
    direct.batch(&rows).await?;

    // The relay in front of the same server, with the client's credentials passed through.
    let rest = url.strip_prefix("mysql://").expect("a mysql:// url");
    let at = rest.rfind('@').expect("credentials in the url");
    let (creds, upstream) = (&rest[..at], &rest[at + 1..]);
    let db = upstream.split(['/', '?']).nth(1).unwrap_or("");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(
        RelayConfig::new(format!("mysql://{upstream}")),
        listener,
        std::future::pending(),
    ));
    let relay = tidb_connect::connect(&Config::parse(&format!(
        "relay+http://{creds}@{addr}/{db}"
    ))?)
    .await?;

    println!("{ROUNDS} warm point selects by primary key, one at a time:");
    measure(&direct, "direct (mysql_async, TLS)").await?;
    measure(&relay, "relay (http, loopback)").await?;
    direct.execute("DROP TABLE relay_latency", &[]).await?;
    Ok(())
}
