//! A TCP server on 127.0.0.1 that sends a valid MySQL v10 greeting and then stalls or closes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Greet, then read and discard whatever comes, never answering.
    Stall,
    /// Greet, then close the socket.
    Close,
}

/// A running stalling server; `closed` reports each client socket the peer closed.
pub struct StallServer {
    pub port: u16,
    pub closed: mpsc::UnboundedReceiver<Duration>,
}

pub async fn start(mode: Mode) -> StallServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                if sock.write_all(&greeting()).await.is_err() {
                    return;
                }
                if mode == Mode::Close {
                    return;
                }
                let mut buf = [0u8; 4096];
                // Read until the client gives up; report when it closed its side.
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                let _ = tx.send(started.elapsed());
            });
        }
    });
    StallServer { port, closed: rx }
}

/// A protocol-10 handshake offering TLS and mysql_native_password.
fn greeting() -> Vec<u8> {
    let caps: u32 = 0x0000_0001 // LONG_PASSWORD
        | 0x0000_0008 // CONNECT_WITH_DB
        | 0x0000_0200 // PROTOCOL_41
        | 0x0000_0800 // SSL
        | 0x0000_8000 // SECURE_CONNECTION
        | 0x0008_0000; // PLUGIN_AUTH
    let mut p = vec![10u8];
    p.extend_from_slice(b"8.0.11-TiDB-v8.5.3-serverless\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(46); // utf8mb4_bin
    p.extend_from_slice(&2u16.to_le_bytes()); // SERVER_STATUS_AUTOCOMMIT
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    let mut packet = (p.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(0);
    packet.extend_from_slice(&p);
    packet
}
