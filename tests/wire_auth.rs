//! Authentication exchanges of the wire client that MariaDB cannot show: TiDB's and MySQL's
//! `caching_sha2_password` (fast path, and full authentication, which must never send the
//! password without TLS) and an auth switch. A scripted server plays TiDB's side of each
//! exchange with `mysql_common`'s packets and checks what the client proves.

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::packets::{AuthSwitchRequest, HandshakePacket};
use mysql_common::proto::MySerialize;
use mysql_common::scramble::{scramble_native, scramble_sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use tidb_connect::{Config, Connector, ServerFlavor};

const PASSWORD: &str = "s3cret-pässword";
const NONCE: [u8; 20] = *b"abcdefghij0123456789";
const SWITCH_NONCE: [u8; 20] = *b"ZYXWVUTSRQ9876543210";

#[derive(Clone, Copy, Debug)]
enum Script {
    /// mysql_native_password, accepted.
    Native,
    /// caching_sha2_password with the hash cached: 0x01 0x03, then OK.
    Sha2Fast,
    /// caching_sha2_password without a cached hash: 0x01 0x04 asks for the password.
    Sha2Full,
    /// Greets with caching_sha2_password, then switches the account to mysql_native_password.
    Switch,
    /// Refuses the password.
    Denied,
}

async fn write_packet(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let len = payload.len() as u32;
    let mut frame = len.to_le_bytes()[..3].to_vec();
    frame.push(seq);
    frame.extend_from_slice(payload);
    s.write_all(&frame).await.unwrap();
}

async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut payload = vec![0; len];
    s.read_exact(&mut payload).await.ok()?;
    Some((head[3], payload))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const OK: [u8; 7] = [0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];

/// Serves one connection with `script`; returns every packet the client sent.
async fn serve(listener: TcpListener, script: Script) -> Vec<Vec<u8>> {
    let (mut s, _) = listener.accept().await.unwrap();
    let plugin: &[u8] = match script {
        Script::Native | Script::Denied => b"mysql_native_password",
        _ => b"caching_sha2_password",
    };
    let caps = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_DEPRECATE_EOF
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_LONG_PASSWORD;
    let mut scramble_2 = NONCE[8..].to_vec();
    scramble_2.push(0);
    let greeting = HandshakePacket::new(
        10,
        &b"8.0.11-TiDB-v8.5.3-serverless"[..],
        7,
        NONCE[..8].try_into().unwrap(),
        Some(scramble_2),
        caps,
        46,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(plugin),
    );
    let mut buf = Vec::new();
    greeting.serialize(&mut buf);
    write_packet(&mut s, 0, &buf).await;

    let mut seen = Vec::new();
    let Some((_, response)) = read_packet(&mut s).await else {
        return seen;
    };
    seen.push(response.clone());
    match script {
        Script::Native => {
            let proof = scramble_native(&NONCE, PASSWORD.as_bytes()).unwrap();
            assert!(contains(&response, &proof), "native scramble missing");
            write_packet(&mut s, 2, &OK).await;
        }
        Script::Denied => {
            let mut err = vec![0xff, 0x15, 0x04, b'#'];
            err.extend_from_slice(b"28000Access denied for user 'x.root'");
            write_packet(&mut s, 2, &err).await;
        }
        Script::Sha2Fast => {
            let proof = scramble_sha256(&NONCE, PASSWORD.as_bytes()).unwrap();
            assert!(contains(&response, &proof), "sha256 scramble missing");
            write_packet(&mut s, 2, &[0x01, 0x03]).await;
            write_packet(&mut s, 3, &OK).await;
        }
        Script::Sha2Full => {
            write_packet(&mut s, 2, &[0x01, 0x04]).await;
            // The client must hang up rather than send the password in clear.
            while let Some((_, packet)) = read_packet(&mut s).await {
                seen.push(packet);
            }
        }
        Script::Switch => {
            let mut data = SWITCH_NONCE.to_vec();
            data.push(0);
            let switch = AuthSwitchRequest::new(&b"mysql_native_password"[..], data);
            let mut buf = Vec::new();
            switch.serialize(&mut buf);
            write_packet(&mut s, 2, &buf).await;
            let (seq, answer) = read_packet(&mut s).await.unwrap();
            assert_eq!(seq, 3);
            let proof = scramble_native(&SWITCH_NONCE, PASSWORD.as_bytes()).unwrap();
            assert_eq!(
                answer, proof,
                "the switch answer must be the native scramble"
            );
            seen.push(answer);
            write_packet(&mut s, 4, &OK).await;
        }
    }
    // Keep the connection open until the client closes it.
    while let Some((_, packet)) = read_packet(&mut s).await {
        seen.push(packet);
    }
    seen
}

async fn run(
    script: Script,
) -> (
    tidb_connect::Result<tidb_connect::Client>,
    tokio::task::JoinHandle<Vec<Vec<u8>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener, script));
    let url = format!(
        "mysql://x.root:{}@127.0.0.1:{port}/test?ssl-mode=disabled&client=wire&pool-size=1",
        percent(PASSWORD)
    );
    let db = tidb_connect::connect(&Config::parse(&url).unwrap()).await;
    (db, server)
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn native_password() {
    let (db, server) = run(Script::Native).await;
    let db = db.unwrap();
    // C16 over the wire client: the version comes from the greeting.
    let version = db.server_version().await.unwrap();
    assert_eq!(version.flavor, ServerFlavor::TiDB);
    assert!(version.serverless);
    db.close().await.unwrap();
    drop(db);
    server.await.unwrap();
}

#[tokio::test]
async fn caching_sha2_fast_path() {
    let (db, server) = run(Script::Sha2Fast).await;
    let db = db.unwrap();
    db.close().await.unwrap();
    drop(db);
    server.await.unwrap();
}

#[tokio::test]
async fn caching_sha2_full_auth_never_sends_the_password_in_clear() {
    let (db, server) = run(Script::Sha2Full).await;
    let e = db.unwrap_err();
    assert!(e.is_tls(), "{e}");
    assert!(e.to_string().contains("ssl-mode"), "{e}");
    let seen = server.await.unwrap();
    assert!(
        seen.iter().all(|p| !contains(p, PASSWORD.as_bytes())),
        "the password crossed in clear"
    );
}

#[tokio::test]
async fn auth_switch_to_native_password() {
    let (db, server) = run(Script::Switch).await;
    let db = db.unwrap();
    db.close().await.unwrap();
    drop(db);
    server.await.unwrap();
}

#[tokio::test]
async fn access_denied_keeps_errno_and_hides_the_password() {
    let (db, server) = run(Script::Denied).await;
    let e = db.unwrap_err();
    assert_eq!(e.code(), Some(1045), "{e}");
    assert_eq!(e.sql_state(), Some("28000"), "{e}");
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    server.await.unwrap();
}
