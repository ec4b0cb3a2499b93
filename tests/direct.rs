//! The direct backend on native targets: the conformance suite over verified TLS, and the
//! TLS and connection cases that belong to this transport.

mod common;
mod conformance;

use std::time::{Duration, Instant};

use tidb_connect::{Backend, Config, Connector, SslMode};

use common::proxy::{self, Proxy};
use common::stall;

fn direct_target() -> conformance::Target {
    conformance::Target {
        name: "direct",
        url_for: |url| url.to_owned(),
    }
}

conformance_tests!(direct_target());

async fn try_connect(url: &str) -> tidb_connect::Result<tidb_connect::Client> {
    tidb_connect::connect(&Config::parse(url)?).await
}

async fn ssl_cipher(db: &tidb_connect::Client) -> String {
    let rs = db
        .query("SHOW SESSION STATUS LIKE 'Ssl_cipher'", &[])
        .await
        .unwrap();
    rs.rows[0].try_get::<String, _>(1).unwrap()
}

#[tokio::test]
async fn connection_is_encrypted_and_verified() {
    let server = common::main_server();
    let db = try_connect(&server.url).await.unwrap();
    assert_eq!(db.backend(), Backend::Direct);
    assert!(
        !ssl_cipher(&db).await.is_empty(),
        "session is not encrypted"
    );
}

#[tokio::test]
async fn c01_default_url_never_sends_plaintext() {
    // No TLS parameter at all: TLS with verification is the default, and the first thing the
    // client sends after the greeting is an SSLRequest, never credentials in the clear.
    let server = common::main_server();
    let proxy = Proxy::start(server.port).await;
    let ca = &server.ca;
    let url = format!(
        "mysql://4zX9Tq1Local.root:p%40ss%3Aw%2Frd%3F%231@127.0.0.1:{}/test?ssl-ca={ca}",
        proxy.port
    );
    let config = Config::parse(&url).unwrap();
    assert_eq!(config.tls().mode(), SslMode::VerifyIdentity);
    let db = tidb_connect::connect(&config).await.unwrap();
    assert!(!ssl_cipher(&db).await.is_empty());
    let recorded = proxy.recorded();
    assert!(!recorded.is_empty());
    for first in &recorded {
        assert!(
            proxy::starts_with_ssl_request(first),
            "first client packet is not an SSLRequest: {:02x?}",
            &first[..first.len().min(16)]
        );
        assert!(
            !proxy::contains(first, b"4zX9Tq1Local.root"),
            "user name sent in clear"
        );
        assert!(!proxy::contains(first, b"p@ss"), "password sent in clear");
    }
}

#[tokio::test]
async fn c02_preferred_negotiates_tls_when_offered() {
    let server = common::main_server();
    let url = common::set_param(&server.url, "ssl-mode", "preferred");
    let url = url.replace(&format!("ssl-ca={}&", server.ca), "");
    let db = try_connect(&url).await.unwrap();
    assert!(!ssl_cipher(&db).await.is_empty());
}

#[tokio::test]
async fn c02_preferred_falls_back_only_when_the_server_has_no_tls() {
    // The machine's own MariaDB offers no TLS.
    let plain = common::plain_url();
    let db = try_connect(&common::set_param(&plain, "ssl-mode", "preferred"))
        .await
        .unwrap();
    assert_eq!(ssl_cipher(&db).await, "");
    for mode in ["required", "verify_ca", "verify_identity"] {
        let e = try_connect(&common::set_param(&plain, "ssl-mode", mode))
            .await
            .unwrap_err();
        assert!(e.is_tls() && e.is_connect(), "{mode}: {e}");
        assert!(e.to_string().contains("does not offer TLS"), "{e}");
    }
}

#[tokio::test]
async fn c02_disabled_is_refused_by_a_tls_only_server() {
    let server = common::main_server();
    let url = common::set_param(&server.url, "ssl-mode", "disabled");
    let url = url.replace(&format!("ssl-ca={}&", server.ca), "");
    let e = try_connect(&url).await.unwrap_err();
    assert!(e.is_connect(), "{e}");
}

#[tokio::test]
async fn c03_pasted_aliases_connect_with_the_same_security() {
    let server = common::main_server();
    let base = server.url.split('?').next().unwrap();
    let ca = &server.ca;
    for alias in [
        "sslaccept=strict",
        "sslrejectunauthorized=true",
        "tls=true",
        "ssl=true",
        "require_ssl=true",
    ] {
        let url = format!("{base}?{alias}&ssl-ca={ca}");
        let db = try_connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{alias}: {e}"));
        assert!(!ssl_cipher(&db).await.is_empty(), "{alias}");
    }
    // Loosened verification still encrypts; it is logged as a warning.
    let url = format!("{base}?sslrejectunauthorized=false");
    let db = try_connect(&url).await.unwrap();
    assert!(!ssl_cipher(&db).await.is_empty());
}

#[tokio::test]
async fn c04_wrong_or_empty_password_never_echoes_the_secret() {
    let server = common::main_server();
    let secret = "Wr0ng-S3cret-Pa55";
    let url = server.url.replace("p%40ss%3Aw%2Frd%3F%231", secret);
    let e = try_connect(&url).await.unwrap_err();
    assert_eq!(e.code(), Some(1045), "{e}");
    assert!(e.is_connect());
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let url = server.url.replace(":p%40ss%3Aw%2Frd%3F%231", "");
    let e = try_connect(&url).await.unwrap_err();
    assert_eq!(e.code(), Some(1045), "{e}");
    assert!(
        e.server_message().unwrap().contains("using password: NO"),
        "{e}"
    );
}

#[tokio::test]
async fn c05_server_stalling_after_greeting_times_out_and_frees_the_socket() {
    let server = common::main_server();
    let mut stall = stall::start(stall::Mode::Stall).await;
    let url = format!(
        "mysql://u.root:pw@127.0.0.1:{}/test?ssl-ca={}&connect-timeout=2",
        stall.port, server.ca
    );
    let started = Instant::now();
    let e = try_connect(&url).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(e.is_timeout() && e.is_connect() && e.is_retryable(), "{e}");
    assert!(
        e.to_string().contains("timed out after 2s during connect"),
        "{e}"
    );
    assert!(
        elapsed >= Duration::from_millis(1900),
        "gave up early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "did not give up: {elapsed:?}"
    );
    // The client's socket is closed, not leaked.
    let closed = tokio::time::timeout(Duration::from_secs(5), stall.closed.recv()).await;
    assert!(matches!(closed, Ok(Some(_))), "client socket left open");
}

#[tokio::test]
async fn c05_server_closing_after_greeting_fails_at_once() {
    let server = common::main_server();
    let st = stall::start(stall::Mode::Close).await;
    let url = format!(
        "mysql://u.root:pw@127.0.0.1:{}/test?ssl-ca={}&connect-timeout=5",
        st.port, server.ca
    );
    let started = Instant::now();
    let e = try_connect(&url).await.unwrap_err();
    assert!(e.is_connect() && !e.is_timeout(), "{e}");
    assert!(
        e.to_string().contains("connection closed during handshake"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn c06_certificate_names_are_checked() {
    // The alt server's certificate names only db.internal.
    let alt = common::alt_server();
    let e = try_connect(&alt.url).await.unwrap_err();
    assert!(e.is_tls(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("db.internal"),
        "{msg}"
    );
    assert!(msg.contains("tls-server-name"), "{msg}");

    let ok = common::with_params(&alt.url, "tls-server-name=db.internal");
    let db = try_connect(&ok).await.unwrap();
    assert!(!ssl_cipher(&db).await.is_empty());

    // verify_ca checks the chain but not the name.
    let url = common::set_param(&alt.url, "ssl-mode", "verify_ca");
    try_connect(&url).await.unwrap();
}

#[tokio::test]
async fn c06_sni_is_sent_for_names_and_never_for_ip_literals() {
    let server = common::main_server();
    let proxy = Proxy::start(server.port).await;

    let by_ip = common::with_address(&server.url, "127.0.0.1", proxy.port);
    try_connect(&by_ip).await.unwrap();
    let by_name = common::with_address(&server.url, "localhost", proxy.port);
    try_connect(&by_name).await.unwrap();

    let recorded = proxy.recorded();
    assert_eq!(recorded.len(), 2);
    assert!(
        !proxy::contains(&recorded[0], b"127.0.0.1"),
        "IP sent as SNI"
    );
    assert!(
        proxy::contains(&recorded[1], b"localhost"),
        "no SNI for a host name"
    );
}

#[tokio::test]
async fn unknown_ca_is_rejected_with_a_fix() {
    // Without ssl-ca the public roots are trusted, and the local CA is not among them.
    let server = common::main_server();
    let url = server.url.replace(&format!("&ssl-ca={}", server.ca), "");
    let e = try_connect(&url).await.unwrap_err();
    assert!(e.is_tls(), "{e}");
    assert!(e.to_string().contains("ssl-ca"), "{e}");
}

#[tokio::test]
async fn missing_ca_file_is_a_clear_error() {
    let server = common::main_server();
    let url = server.url.replace(&server.ca, "/nonexistent/ca.pem");
    let e = try_connect(&url).await.unwrap_err();
    assert!(e.is_config() && !e.is_retryable(), "{e}");
    assert!(
        e.to_string().contains("ssl-ca file /nonexistent/ca.pem"),
        "{e}"
    );
}

#[tokio::test]
async fn ca_files_in_der_are_accepted_and_junk_is_a_config_error() {
    let server = common::main_server();
    let dir = std::env::temp_dir().join(format!("tidb-connect-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let der = dir.join("ca.der");
    let status = std::process::Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in", &server.ca, "-out"])
        .arg(&der)
        .status()
        .unwrap();
    assert!(status.success());
    let url = server.url.replace(&server.ca, der.to_str().unwrap());
    let db = try_connect(&url).await.unwrap();
    assert!(!ssl_cipher(&db).await.is_empty());

    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let url = server.url.replace(&server.ca, junk.to_str().unwrap());
    let e = try_connect(&url).await.unwrap_err();
    assert!(
        e.is_config() && e.to_string().contains("holds no certificate"),
        "{e}"
    );
    let url = server.url.replace(&server.ca, dir.to_str().unwrap());
    let e = try_connect(&url).await.unwrap_err();
    assert!(e.is_config() && !e.is_retryable(), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn refused_port_is_a_retryable_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let e = try_connect(&format!("mysql://u:p@127.0.0.1:{port}/x?ssl-mode=disabled"))
        .await
        .unwrap_err();
    assert!(e.is_connect() && e.is_retryable(), "{e}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[tokio::test]
async fn closed_connector_refuses_work() {
    let db = try_connect(&common::main_server().url).await.unwrap();
    db.close().await.unwrap();
    db.close().await.unwrap();
    let e = db.query("SELECT 1", &[]).await.unwrap_err();
    assert!(e.to_string().contains("closed") && !e.is_retryable(), "{e}");
}

#[tokio::test]
async fn close_with_an_open_transaction_does_not_hang() {
    let url = common::with_params(&common::main_server().url, "connect-timeout=1");
    let db = try_connect(&url).await.unwrap();
    let tx = db.begin(tidb_connect::TxOptions::default()).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), db.close()).await;
    let e = closed.expect("close hung").unwrap_err();
    assert!(e.is_timeout(), "{e}");
    drop(tx);
}

#[tokio::test]
async fn schemes_without_a_backend_here_say_what_provides_them() {
    // Hyperdrive runs natively too, from the variable wrangler uses; without it the error
    // names the variable.
    let e = try_connect("hyperdrive://HYPERDRIVE").await.unwrap_err();
    assert!(e.is_config() && !e.is_unsupported(), "{e}");
    assert!(
        e.to_string()
            .contains("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE"),
        "{e}"
    );
    // relay+https:// and relay+http:// run natively (tests/relay.rs); relay+vpc:// does not.
    let url = "relay+vpc://u:p@TIDB_RELAY/test";
    let e = try_connect(url).await.unwrap_err();
    assert!(e.is_config() && e.is_unsupported(), "{url}: {e}");
    assert!(
        e.to_string().contains("inside a Cloudflare Worker"),
        "{url}: {e}"
    );
}
