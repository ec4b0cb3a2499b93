//! The relay backend: the conformance suite through native client → relay → TLS-only MariaDB,
//! and what belongs to the relay path (extension detection, sessions, typed errors).

mod common;
mod conformance;

use tidb_connect::{Backend, Config, Connector, RelayConnector, TxOptions, params};

fn relay_target() -> conformance::Target {
    conformance::Target {
        name: "relay",
        url_for: common::relay::url_for,
    }
}

conformance_tests!(relay_target());

async fn relay_client(params: &str) -> RelayConnector {
    let url = common::relay::url_for(&common::with_params(&common::main_server().url, params));
    RelayConnector::connect(&Config::parse(&url).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_client_detects_the_extension() {
    let db = relay_client("").await;
    assert!(db.has_extensions());
    assert_eq!(db.backend(), Backend::Relay);
    let rs = db.query("SELECT ? AS n", &params![u64::MAX]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<u64, _>("n").unwrap(), u64::MAX);
}

#[tokio::test]
async fn wrong_password_is_access_denied_at_connect() {
    let server = common::main_server();
    let (_, upstream, db) = common::relay::split_url(&server.url);
    let relay = common::relay::Relay::start(tidb_connect::relay_server::RelayConfig::new(upstream));
    let url = format!("relay+http://4zX9Tq1Local.root:wrong@{}/{db}", relay.addr);
    let e = tidb_connect::connect(&Config::parse(&url).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(1045), "{e}");
    assert!(e.is_connect(), "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong"), "{e:?}");
}

#[tokio::test]
async fn expired_session_is_a_typed_error() {
    let server = common::main_server();
    let (creds, upstream, db) = common::relay::split_url(&server.url);
    let mut config = tidb_connect::relay_server::RelayConfig::new(upstream);
    config.limits.session_idle_timeout = std::time::Duration::from_millis(300);
    let relay = common::relay::Relay::start(config);
    let url = format!("relay+http://{creds}@{}/{db}", relay.addr);
    let client = tidb_connect::connect(&Config::parse(&url).unwrap())
        .await
        .unwrap();
    let mut tx = client.begin(TxOptions::default()).await.unwrap();
    tx.query("SELECT 1", &[]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let e = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert!(e.is_session_expired(), "{e}");
    assert!(!e.is_retryable());
    let e = tx.commit().await.unwrap_err();
    assert!(e.is_session_expired(), "{e}");
}
