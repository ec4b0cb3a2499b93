//! The relay's safety rules, each tested from the outside with raw HTTP: authentication,
//! tokens, limits, read-only mode, malformed requests, deadlines, overload, shutdown, health,
//! metrics. Every refusal is a clear 4xx (or 503/504), never a 500.

mod common;

use std::time::Duration;

use serde_json::{Value as Json, json};
use tidb_connect::relay_server::{AuthMode, RelayConfig};
use tidb_connect::{Config, Connector, TxOptions, params};

use common::relay::{Relay, split_url};

const USER: &str = "4zX9Tq1Local.root";

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_gzip().build().unwrap()
}

/// The main server's credentials (decoded), upstream URL and database.
fn upstream() -> (String, String, String) {
    let (creds, upstream, db) = split_url(&common::main_server().url);
    let (_, password) = creds.split_once(':').unwrap();
    let password = percent_decode(password);
    (password, upstream, db)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn relay_with(adjust: impl FnOnce(&mut RelayConfig)) -> Relay {
    let (_, upstream, _) = upstream();
    let mut config = RelayConfig::new(upstream);
    adjust(&mut config);
    Relay::start(config)
}

fn basic(user: &str, password: &str) -> String {
    tidb_connect::relay::protocol::basic_auth(user, password)
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Json,
}

async fn post(relay: &Relay, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Answer {
    let (password, _, db) = upstream();
    let mut req = http()
        .post(format!("{}/v1beta/sql", relay.base()))
        .header("Authorization", basic(USER, &password))
        .header("TiDB-Database", db)
        .header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn post_json(relay: &Relay, headers: &[(&str, &str)], body: Json) -> Answer {
    post(relay, headers, body.to_string()).await
}

fn client_url(relay: &Relay) -> String {
    let (creds, _, db) = split_url(&common::main_server().url);
    format!("relay+http://{creds}@{}/{db}", relay.addr)
}

async fn client(relay: &Relay) -> tidb_connect::Client {
    tidb_connect::connect(&Config::parse(&client_url(relay)).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn authentication_is_always_on() {
    let relay = relay_with(|_| {});
    let url = format!("{}/v1beta/sql", relay.base());
    let body = json!({"query": "SELECT 1"}).to_string();

    // No credentials, malformed credentials, a wrong password, an empty user: 401, JSON body.
    let cases: Vec<Option<String>> = vec![
        None,
        Some("Basic !!!notbase64".into()),
        Some("Bearer whatever".into()),
        Some(basic(USER, "wrong-password")),
        Some(basic("", "x")),
    ];
    for auth in cases {
        let mut req = http().post(&url).body(body.clone());
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        let json: Json = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        assert_eq!(json["code"], 1045, "{json}");
        assert!(!json.to_string().contains("wrong-password"));
    }

    // Failed authentication leaves no pool behind.
    let metrics = http()
        .get(format!("{}/metrics", relay.base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tidb_relay_pools_open 0"), "{metrics}");
    assert!(
        metrics.contains("tidb_relay_auth_failures_total 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn token_mode_checks_tokens_and_holds_the_credentials() {
    let (password, upstream, _) = upstream();
    let token = "t0k3n-0123456789abcdef0123456789abcdef";
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let with_creds = upstream.replacen(
        "mysql://",
        &format!("mysql://{}:{}@", enc(USER), enc(&password)),
        1,
    );
    let mut config = RelayConfig::new(with_creds);
    config.auth = AuthMode::Tokens(vec![token.to_owned()]);
    assert!(!format!("{:?}", config.auth).contains(token));
    let relay = Relay::start(config);
    let url = format!("{}/v1beta/sql", relay.base());
    let body = json!({"query": "SELECT 1 AS one"}).to_string();

    for (auth, want) in [
        (format!("Bearer {token}"), 200),
        (basic("anyone", token), 200),
        (
            "Bearer t0k3n-0123456789abcdef0123456789abcdeX".to_owned(),
            401,
        ),
        (basic(USER, &password), 401),
        ("Bearer ".to_owned(), 401),
    ] {
        let resp = http()
            .post(&url)
            .header("Authorization", &auth)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "{auth}");
    }

    // A token opens sessions that another token cannot use.
    let relay_url = format!("relay+http://anyone:{token}@{}/test", relay.addr);
    let db = tidb_connect::connect(&Config::parse(&relay_url).unwrap())
        .await
        .unwrap();
    let rs = db.query("SELECT ? + 1", &params![41]).await.unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 42);
}

#[tokio::test]
async fn malformed_requests_are_clear_4xx_never_500() {
    let relay = relay_with(|_| {});
    let long_sql = "SELECT 1 ".repeat(10);
    let bodies: Vec<String> = vec![
        "".into(),
        "not json".into(),
        "{".into(),
        "[]".into(),
        "null".into(),
        json!({"query": 5}).to_string(),
        json!({"query": ""}).to_string(),
        json!({"query": "SELECT ?", "params": [{"t": "bytes", "v": "abc"}]}).to_string(),
        json!({"query": "SELECT ?", "params": [{"t": "bytes", "v": "zz"}]}).to_string(),
        json!({"query": "SELECT ?", "params": [{"t": "u64", "v": "-1"}]}).to_string(),
        json!({"query": "SELECT ?", "params": [{"t": "date", "v": "2024-13-45"}]}).to_string(),
        json!({"query": "SELECT ?", "params": [{"t": "nope", "v": "1"}]}).to_string(),
        json!({"query": "SELECT ?", "params": [{"t": "i64"}]}).to_string(),
        json!({"query": "SELECT ?", "params": [5]}).to_string(),
        json!({"query": "SELECT ?", "params": "x"}).to_string(),
        json!({"query": "SELECT ?", "params": []}).to_string(),
        json!({"batch": []}).to_string(),
        json!({"batch": [{"query": 1}]}).to_string(),
        json!({"batch": [{"query": "SELECT 1"}], "query": "SELECT 2"}).to_string(),
        json!({"action": "explode"}).to_string(),
        json!({"action": "commit", "query": "SELECT 1"}).to_string(),
        json!({"query": "SELECT 1; SELECT 2"}).to_string(),
        json!({"query": "SELEC 1"}).to_string(),
        json!({"query": long_sql, "deadlineMs": "soon"}).to_string(),
    ];
    for body in bodies {
        let a = post(&relay, &[], body.clone()).await;
        assert!(
            (400..500).contains(&a.status),
            "{body}: status {} {}",
            a.status,
            a.body
        );
        assert!(
            a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}: {}",
            a.body
        );
    }

    // Bad headers.
    for (k, v) in [
        ("TiDB-Isolation-Level", "CHAOS"),
        ("TiDB-Stateful-Action", "dance"),
        ("TiDB-Session", "p1.not-a-session"),
        ("TiDB-Session", "garbage"),
    ] {
        let a = post_json(&relay, &[(k, v)], json!({"query": "SELECT 1"})).await;
        assert!((400..500).contains(&a.status), "{k}: {v}: {}", a.status);
    }
    let a = post_json(
        &relay,
        &[("TiDB-Session", "p1.not-a-session")],
        json!({"query": "SELECT 1"}),
    )
    .await;
    assert_eq!(a.status, 404);

    // An unknown path.
    let resp = http()
        .get(format!("{}/nope", relay.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn multi_statement_text_is_rejected_before_running() {
    let relay = relay_with(|_| {});
    let db = client(&relay).await;
    db.execute("DROP TABLE IF EXISTS relay_abuse_multi", &[])
        .await
        .unwrap();
    db.execute("CREATE TABLE relay_abuse_multi (id INT)", &[])
        .await
        .unwrap();
    let a = post_json(
        &relay,
        &[],
        json!({"query": "INSERT INTO relay_abuse_multi VALUES (1); DROP TABLE relay_abuse_multi"}),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let rs = db
        .query("SELECT COUNT(*) FROM relay_abuse_multi", &[])
        .await
        .unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 0);
}

#[tokio::test]
async fn size_and_count_limits_are_typed() {
    let relay = relay_with(|c| {
        c.limits.max_body_bytes = 4096;
        c.limits.max_batch_statements = 3;
        c.limits.max_rows = 5;
        c.limits.max_response_bytes = 2000;
    });

    // Body.
    let big = json!({"query": format!("SELECT '{}'", "x".repeat(5000))});
    let a = post_json(&relay, &[], big).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .contains("max-body-bytes")
    );

    let db = client(&relay).await;
    // Batch length.
    let statements: Vec<tidb_connect::Statement> = (0..4).map(|_| "SELECT 1".into()).collect();
    let e = db.batch(&statements).await.unwrap_err();
    assert!(e.is_limit_exceeded(), "{e}");
    assert!(e.to_string().contains("max-batch-statements"), "{e}");

    // Rows: refused, never truncated.
    let e = db
        .query("SELECT seq FROM seq_1_to_6", &[])
        .await
        .unwrap_err();
    assert!(
        e.is_limit_exceeded() && e.to_string().contains("max-rows"),
        "{e}"
    );
    assert_eq!(
        db.query("SELECT seq FROM seq_1_to_5", &[])
            .await
            .unwrap()
            .len(),
        5
    );

    // Bytes.
    let e = db.query("SELECT REPEAT('a', 3000)", &[]).await.unwrap_err();
    assert!(
        e.is_limit_exceeded() && e.to_string().contains("max-response-bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn sessions_per_user_are_capped_and_tokens_are_random() {
    let relay = relay_with(|c| c.limits.max_sessions_per_user = 2);
    let db = client(&relay).await;
    let a = db.begin(TxOptions::default()).await.unwrap();
    let b = db.begin(TxOptions::default()).await.unwrap();
    let e = db.begin(TxOptions::default()).await.unwrap_err();
    assert!(e.is_limit_exceeded(), "{e}");
    assert!(e.to_string().contains("max-sessions-per-user"), "{e}");
    a.commit().await.unwrap();
    let c = db.begin(TxOptions::default()).await.unwrap();
    drop((b, c));

    // Tokens from the standard BEGIN: distinct, long, unguessable.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let a = post_json(&relay, &[], json!({"query": "BEGIN"})).await;
        // The two sessions above may still be rolling back in the background.
        if a.status == 429 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        assert_eq!(a.status, 200, "{}", a.body);
        let t = a.headers["TiDB-Session"].to_str().unwrap().to_owned();
        assert!(t.len() >= 40, "{t}");
        let end = post_json(
            &relay,
            &[("TiDB-Session", &t)],
            json!({"query": "ROLLBACK"}),
        )
        .await;
        assert_eq!(end.status, 200);
        // A released token is refused.
        let again = post_json(
            &relay,
            &[("TiDB-Session", &t)],
            json!({"query": "SELECT 1"}),
        )
        .await;
        assert_eq!(again.status, 404);
        tokens.push(t);
    }
    if tokens.len() == 2 {
        assert_ne!(tokens[0], tokens[1]);
    }
}

#[tokio::test]
async fn sessions_are_bound_to_their_user() {
    // Two users on the same relay: the second may not use the first's session.
    let admin = common::conformance_admin().await;
    let _ = admin
        .execute("DROP USER IF EXISTS 'relay_other'@'%'", &[])
        .await;
    admin
        .execute(
            "CREATE USER 'relay_other'@'%' IDENTIFIED BY 'other-pass-123'",
            &[],
        )
        .await
        .unwrap();
    admin
        .execute("GRANT SELECT ON test.* TO 'relay_other'@'%'", &[])
        .await
        .unwrap();
    let relay = relay_with(|_| {});
    let a = post_json(&relay, &[], json!({"query": "BEGIN"})).await;
    let token = a.headers["TiDB-Session"].to_str().unwrap().to_owned();
    let resp = http()
        .post(format!("{}/v1beta/sql", relay.base()))
        .header("Authorization", basic("relay_other", "other-pass-123"))
        .header("TiDB-Database", "test")
        .header("TiDB-Session", &token)
        .body(json!({"query": "SELECT 1"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let ok = post_json(
        &relay,
        &[("TiDB-Session", &token)],
        json!({"query": "ROLLBACK"}),
    )
    .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn read_only_mode_refuses_writes() {
    let relay = relay_with(|c| c.read_only = true);
    let db = client(&relay).await;
    assert_eq!(db.query("SELECT 1", &[]).await.unwrap().len(), 1);
    for sql in [
        "CREATE TABLE relay_ro (id INT)",
        "INSERT INTO relay_abuse_multi VALUES (1)",
        "SELECT 1 INTO @x",
        "SET @a = 1",
    ] {
        let e = db.execute(sql, &[]).await.unwrap_err();
        assert!(
            e.is_unsupported() && e.to_string().contains("read-only"),
            "{sql}: {e}"
        );
    }
    let e = db
        .batch(&["SELECT 1".into(), "DELETE FROM relay_abuse_multi".into()])
        .await
        .unwrap_err();
    assert_eq!(e.batch_index(), Some(1), "{e}");
    // Transactions are read-only ones.
    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.query("SELECT 1", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    let a = post_json(&relay, &[], json!({"query": "UPDATE t SET a = 1"})).await;
    assert_eq!(a.status, 403);
}

#[tokio::test]
async fn deadlines_end_long_statements() {
    let relay = relay_with(|c| {
        c.limits.default_deadline = Duration::from_millis(700);
        c.limits.max_deadline = Duration::from_millis(700);
    });
    let db = client(&relay).await;
    let started = std::time::Instant::now();
    let e = db.query("SELECT SLEEP(3)", &[]).await.unwrap_err();
    assert!(e.is_timeout() && !e.is_retryable(), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Inside a transaction: the session is ended and says so.
    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    let e = tx.query("SELECT SLEEP(3)", &[]).await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let e = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert!(e.is_session_expired(), "{e}");

    // A client may ask for less, never for more.
    let a = post_json(
        &relay,
        &[("TiDB-Connect-Relay", "1")],
        json!({"query": "SELECT SLEEP(0.4)", "params": [], "deadlineMs": 100}),
    )
    .await;
    assert_eq!(a.status, 504, "{}", a.body);
    let a = post_json(
        &relay,
        &[],
        json!({"query": "SELECT SLEEP(0.2)", "deadlineMs": 100000}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn overload_is_refused_with_503() {
    let relay = relay_with(|c| c.limits.max_concurrent_requests = 1);
    let slow = post_json(&relay, &[], json!({"query": "SELECT SLEEP(1)"}));
    let quick = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        post_json(&relay, &[], json!({"query": "SELECT 1"})).await
    };
    let (slow, quick) = tokio::join!(slow, quick);
    assert_eq!(slow.status, 200);
    assert_eq!(quick.status, 503, "{}", quick.body);
    let e = tidb_connect::relay::protocol::ErrorBody {
        code: 503,
        message: quick.body["message"].as_str().unwrap().to_owned(),
        sql_state: None,
        kind: quick.body["kind"].as_str().map(str::to_owned),
        batch_index: None,
    }
    .to_error(503, false);
    assert!(e.is_overloaded() && e.is_retryable(), "{e}");
}

#[tokio::test]
async fn standard_answers_carry_headers_and_gzip() {
    let relay = relay_with(|_| {});
    let a = post(
        &relay,
        &[
            ("Accept-Encoding", "gzip"),
            ("X-Debug-Trace-Id", "trace-123"),
        ],
        json!({"query": "SELECT REPEAT('z', 4000) AS z"}).to_string(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-encoding"], "gzip");
    // A small answer is not worth compressing.
    let small = post(
        &relay,
        &[("Accept-Encoding", "gzip")],
        json!({"query": "SELECT 1 AS one"}).to_string(),
    )
    .await;
    assert_eq!(small.status, 200);
    assert!(
        !small.headers.contains_key("content-encoding"),
        "{:?}",
        small.headers
    );
    assert_eq!(a.headers["x-debug-trace-id"], "trace-123");
    assert_eq!(a.headers["tidb-connect-relay"], "1");
    assert!(!a.headers["tidb-session"].is_empty());

    // Health, readiness, metrics.
    for (path, want) in [
        ("/healthz", "ok"),
        ("/readyz", "ready"),
        ("/metrics", "tidb_relay_responses_total"),
    ] {
        let resp = http()
            .get(format!("{}{path}", relay.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert!(resp.text().await.unwrap().contains(want), "{path}");
    }
}

#[tokio::test]
async fn shutdown_finishes_requests_and_rolls_back_sessions() {
    let relay = relay_with(|c| c.shutdown_grace = Duration::from_secs(5));
    let db = client(&relay).await;
    db.execute("DROP TABLE IF EXISTS relay_abuse_shutdown", &[])
        .await
        .unwrap();
    db.execute(
        "CREATE TABLE relay_abuse_shutdown (id INT PRIMARY KEY)",
        &[],
    )
    .await
    .unwrap();
    let mut tx = db.begin(TxOptions::default()).await.unwrap();
    tx.execute("INSERT INTO relay_abuse_shutdown VALUES (1)", &[])
        .await
        .unwrap();

    // A request in flight when the shutdown starts still gets its answer.
    let in_flight = {
        let db = db.clone();
        tokio::spawn(async move { db.query("SELECT SLEEP(1), 7", &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::task::spawn_blocking(move || relay.stop());
    let rs = in_flight.await.unwrap().unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(1).unwrap(), 7);
    stopping.await.unwrap();

    // The open transaction was rolled back.
    let admin = common::conformance_admin().await;
    let rs = admin
        .query("SELECT COUNT(*) FROM relay_abuse_shutdown", &[])
        .await
        .unwrap();
    assert_eq!(rs.rows[0].try_get::<i64, _>(0).unwrap(), 0);
}

#[test]
fn the_binary_listens_on_loopback_by_default_and_documents_its_options() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidb-connect-relay"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
    for option in [
        "--upstream",
        "TIDB_RELAY_UPSTREAM",
        "--auth",
        "--tokens-file",
        "--read-only",
        "--max-body-bytes",
        "--max-rows",
        "--max-sessions-per-user",
        "--session-idle-timeout",
        "--max-deadline-ms",
        "--shutdown-grace",
    ] {
        assert!(help.contains(option), "{option} missing from --help");
    }
}

#[tokio::test]
async fn bodies_held_at_once_are_bounded() {
    let relay = relay_with(|c| {
        c.limits.max_body_bytes = 4096;
        c.limits.max_inflight_body_bytes = 4096;
    });
    let padded = |sql: &str| json!({"query": format!("{sql} /* {} */", "p".repeat(3000))});
    let slow = post_json(&relay, &[], padded("SELECT SLEEP(1)"));
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        post_json(&relay, &[], padded("SELECT 1")).await
    };
    let (slow, second) = tokio::join!(slow, second);
    assert_eq!(slow.status, 200, "{}", slow.body);
    assert_eq!(second.status, 503, "{}", second.body);
    assert!(
        second.body["message"]
            .as_str()
            .unwrap()
            .contains("max-inflight-body-bytes")
    );
    // Once the first is answered, its bytes are free again.
    assert_eq!(post_json(&relay, &[], padded("SELECT 1")).await.status, 200);
}
