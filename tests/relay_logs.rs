//! What the relay and the relay client log: request ids, never SQL text, parameter values,
//! passwords or session tokens; and neither `Debug` nor errors show them.

mod common;

use common::capture::Captured;

use serde_json::json;
use tidb_connect::relay_server::{RelayConfig, log_filter};
use tidb_connect::{Config, Connector, TxOptions, params};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_logs_and_debug_output_carry_no_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The relay binary's filter at its most verbose level.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(log_filter("debug")))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let server = common::main_server();
    let (creds, upstream, db) = common::relay::split_url(&server.url);
    let relay = common::relay::Relay::start(RelayConfig::new(upstream));
    let url = format!("relay+http://{creds}@{}/{db}", relay.addr);
    let config = Config::parse(&url).unwrap();
    let client = tidb_connect::connect(&config).await.unwrap();

    let secret_param = "parameter-value-9c1e";
    let literal = "literal-value-4d2b";
    client
        .query("SELECT ? AS v", &params![secret_param])
        .await
        .unwrap();
    client
        .query(&format!("SELECT '{literal}' AS w"), &[])
        .await
        .unwrap();
    let e = client
        .query(&format!("SELECT nope_{literal}"), &[])
        .await
        .unwrap_err();
    let mut tx = client.begin(TxOptions::default()).await.unwrap();
    tx.query("SELECT ?", &params![secret_param]).await.unwrap();
    let tx_debug = format!("{tx:?}");
    tx.rollback().await.unwrap();

    // The standard protocol too, with a session token we can look for.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1beta/sql", relay.base()))
        .header(
            "Authorization",
            tidb_connect::relay::protocol::basic_auth("4zX9Tq1Local.root", "p@ss:w/rd?#1"),
        )
        .header("TiDB-Database", "test")
        .body(json!({"query": "BEGIN"}).to_string())
        .send()
        .await
        .unwrap();
    let token = resp.headers()["TiDB-Session"].to_str().unwrap().to_owned();
    let wrong = url.replace("p%40ss%3Aw%2Frd%3F%231", "Wr0ng-S3cret");
    let wrong_error = tidb_connect::connect(&Config::parse(&wrong).unwrap())
        .await
        .unwrap_err();

    let logs = captured.text();
    assert!(logs.contains("request_id"), "no request ids:\n{logs}");
    assert!(logs.contains("answered"), "no request log:\n{logs}");
    let shown = format!(
        "{logs}\n{config:?}\n{config}\n{client:?}\n{tx_debug}\n{e}\n{e:?}\n{wrong_error}\n{wrong_error:?}"
    );
    for secret in [
        "p@ss:w/rd?#1",
        "p%40ss",
        "Wr0ng-S3cret",
        secret_param,
        token.as_str(),
    ] {
        assert!(!shown.contains(secret), "`{secret}` was shown:\n{shown}");
    }
    assert!(
        !logs.contains(literal),
        "sql text reached the logs:\n{logs}"
    );
}
