//! What the direct backend logs: never a password or a parameter value, and one warning per
//! insecure setting.

mod common;

use common::capture::Captured;

use tidb_connect::{Config, Connector};

async fn try_connect(url: &str) -> tidb_connect::Result<tidb_connect::Client> {
    tidb_connect::connect(&Config::parse(url)?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_secrets_and_warn_once_about_insecure_settings() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The only test in this binary, with a global subscriber: a thread-local one races with
    // tests on other threads that register the same log call sites first.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let server = common::main_server();
    let db = try_connect(&server.url).await.unwrap();
    let secret_param = "parameter-value-7f3a";
    db.query("SELECT ? AS v", &tidb_connect::params![secret_param])
        .await
        .unwrap();
    let wrong = server.url.replace("p%40ss%3Aw%2Frd%3F%231", "Wr0ng-S3cret");
    let _ = try_connect(&wrong).await.unwrap_err();

    let plain = common::set_param(&common::plain_url(), "ssl-mode", "preferred");
    let _plain = try_connect(&plain).await.unwrap();
    let loose = common::set_param(&server.url, "ssl-mode", "required");
    let loose = loose.replace(&format!("ssl-ca={}&", server.ca), "");
    let _loose = try_connect(&loose).await.unwrap();

    let logs = captured.text();
    assert!(logs.contains("statement"), "debug logs missing:\n{logs}");
    for secret in ["p@ss:w/rd?#1", "p%40ss", "Wr0ng-S3cret", secret_param] {
        assert!(
            !logs.contains(secret),
            "`{secret}` reached the logs:\n{logs}"
        );
    }
    assert_eq!(logs.matches("falls back to plaintext").count(), 1, "{logs}");
    // One warning per insecure connector: the preferred one and the required one.
    assert_eq!(logs.matches("is not verified").count(), 2, "{logs}");
}
