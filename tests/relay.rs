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

/// Makes a tidb-connect relay look like a server without the extension (TiDB Cloud's own
/// endpoint): the extension header is dropped both ways and the capability document is
/// missing. The relay behind it is real; the client must fall back to the standard subset.
struct StandardOnly {
    http: reqwest::Client,
    base: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl tidb_connect::relay::transport::Transport for StandardOnly {
    async fn send(
        &self,
        request: tidb_connect::relay::transport::HttpRequest,
    ) -> tidb_connect::Result<tidb_connect::relay::transport::HttpResponse> {
        use tidb_connect::relay::transport::HttpResponse;
        if request.path == tidb_connect::relay::protocol::CAPABILITIES_PATH {
            return Ok(HttpResponse {
                status: 404,
                headers: vec![],
                body: b"{\"code\":404,\"message\":\"not found\"}".to_vec(),
            });
        }
        self.seen
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&request.body).into_owned());
        let mut req = self
            .http
            .post(format!("{}{}", self.base, request.path))
            .body(request.body);
        for (k, v) in request.headers {
            if !k.eq_ignore_ascii_case(tidb_connect::relay::protocol::RELAY_HEADER) {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter(|(k, _)| !k.as_str().eq_ignore_ascii_case("tidb-connect-relay"))
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = resp.bytes().await.unwrap().to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

#[tokio::test]
async fn without_the_extension_the_standard_subset_is_used() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = common::main_server();
    let (creds, upstream, db) = common::relay::split_url(&server.url);
    let relay = common::relay::Relay::start(tidb_connect::relay_server::RelayConfig::new(upstream));
    let config = Config::parse(&format!("relay+http://{creds}@{}/{db}", relay.addr)).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let transport = StandardOnly {
        http: reqwest::Client::new(),
        base: relay.base(),
        seen: seen.clone(),
    };
    let client = RelayConnector::with_transport(&config, Box::new(transport))
        .await
        .unwrap();
    assert!(!client.has_extensions());

    client
        .execute("DROP TABLE IF EXISTS relay_standard", &[])
        .await
        .unwrap();
    client
        .execute(
            "CREATE TABLE relay_standard (id BIGINT UNSIGNED PRIMARY KEY, s VARCHAR(50), b VARBINARY(10))",
            &[],
        )
        .await
        .unwrap();
    // Parameters are bound on the client, with escaping for the default sql_mode.
    let hostile = "it's \\ \"x\"; DROP TABLE relay_standard; -- ";
    client
        .execute(
            "INSERT INTO relay_standard VALUES (?, ?, ?)",
            &params![u64::MAX, hostile, vec![0u8, 255]],
        )
        .await
        .unwrap();
    let rs = client
        .query(
            "SELECT id, s, b FROM relay_standard WHERE id = ? LIMIT ?",
            &params![u64::MAX, 1],
        )
        .await
        .unwrap();
    let row: (u64, String, Vec<u8>) = rs.rows[0].decode().unwrap();
    assert_eq!(row, (u64::MAX, hostile.to_owned(), vec![0, 255]));

    // Batches run as a transaction of single requests: still all or nothing.
    let e = client
        .batch(&[
            tidb_connect::Statement::new("INSERT INTO relay_standard (id) VALUES (?)", params![1]),
            tidb_connect::Statement::new("INSERT INTO relay_standard (id) VALUES (?)", params![1]),
        ])
        .await
        .unwrap_err();
    assert_eq!((e.batch_index(), e.code()), (Some(1), Some(1062)), "{e}");
    let n: (i64,) = client
        .query("SELECT COUNT(*) FROM relay_standard", &[])
        .await
        .unwrap()
        .rows[0]
        .decode()
        .unwrap();
    assert_eq!(n.0, 1);

    // Transactions through BEGIN / COMMIT / ROLLBACK text and the session token.
    let mut tx = client.begin(TxOptions::default()).await.unwrap();
    tx.execute("INSERT INTO relay_standard (id) VALUES (2)", &[])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = client.begin(TxOptions::default()).await.unwrap();
    tx.execute("INSERT INTO relay_standard (id) VALUES (3)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<(u64,)> = client
        .query("SELECT id FROM relay_standard ORDER BY id", &[])
        .await
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(ids, vec![(3,), (u64::MAX,)]);

    // Nothing but the standard fields went out.
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|b| b == r#"{"query":"BEGIN"}"#), "{seen:?}");
    assert!(
        seen.iter().any(|b| b == r#"{"query":"COMMIT"}"#),
        "{seen:?}"
    );
    for body in seen.iter() {
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, vec!["query"], "{body}");
    }
}

/// `relay+https://` behind a TLS front with the local CA's certificate for `localhost` and
/// `127.0.0.1`: each ssl-mode verifies what it promises.
#[tokio::test]
async fn relay_https_verifies_the_relays_certificate_by_mode() {
    let server = common::main_server();
    let (creds, upstream, db) = common::relay::split_url(&server.url);
    let relay = common::relay::Relay::start(tidb_connect::relay_server::RelayConfig::new(upstream));
    let port = common::tls_front::start(&server.ca, relay.addr).await;
    let ca = &server.ca;
    let try_url = |host: &str, params: String| {
        let url = format!("relay+https://{creds}@{host}:{port}/{db}?{params}");
        async move { tidb_connect::connect(&Config::parse(&url).unwrap()).await }
    };

    // verify_identity (the default) with the test CA: the name on the certificate matches.
    let ok = try_url("localhost", format!("ssl-ca={ca}")).await.unwrap();
    let rs = ok.query("SELECT ? + 1", &params![41]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 42);

    // Without the test CA the chain is not trusted.
    let e = try_url("localhost", String::new()).await.unwrap_err();
    assert!(e.is_connect() || e.is_tls(), "{e}");

    // Another name: verify_identity refuses it, verify_ca checks the chain only.
    let other = format!("ssl-ca={ca}&tls-server-name=relay.other.name");
    assert!(try_url("127.0.0.1", other.clone()).await.is_err());
    let chain_only = try_url("127.0.0.1", format!("{other}&ssl-mode=verify_ca"))
        .await
        .unwrap();
    chain_only.query("SELECT 1", &[]).await.unwrap();

    // disabled and preferred mean nothing on https.
    let e = try_url("localhost", "ssl-mode=disabled".to_owned())
        .await
        .unwrap_err();
    assert!(e.is_config(), "{e}");
}
