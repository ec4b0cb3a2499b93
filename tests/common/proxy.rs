//! A transparent TCP proxy on 127.0.0.1 that records what the client sends first and can cut
//! a connection right after forwarding the client's next write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How many leading client bytes each connection records.
const RECORD: usize = 8 * 1024;

#[derive(Default)]
struct State {
    /// The first bytes each client sent, one entry per accepted connection.
    recorded: Vec<Vec<u8>>,
    /// When set, the next client write is forwarded and then both sides are closed.
    cut_armed: bool,
    cuts: usize,
}

/// A running proxy. Dropping it stops accepting; open connections end with their peers.
pub struct Proxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    pub async fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                    continue;
                };
                let index = {
                    let mut s = st.lock().unwrap();
                    s.recorded.push(Vec::new());
                    s.recorded.len() - 1
                };
                tokio::spawn(pipe(client, server, st.clone(), index));
            }
        });
        Proxy { port, state }
    }

    /// The first bytes of every connection so far.
    pub fn recorded(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().recorded.clone()
    }

    /// Arms a cut: the next chunk any client sends is forwarded, then both sockets close.
    pub fn arm_cut(&self) {
        self.state.lock().unwrap().cut_armed = true;
    }

    /// Number of connections cut so far.
    pub fn cuts(&self) -> usize {
        self.state.lock().unwrap().cuts
    }
}

async fn pipe(client: TcpStream, server: TcpStream, state: Arc<Mutex<State>>, index: usize) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let stop = Arc::new(Notify::new());
    // Set before a cut's bytes reach the server, so its answer never reaches the client.
    let muted = Arc::new(AtomicBool::new(false));

    let stop_down = stop.clone();
    let muted_down = muted.clone();
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            tokio::select! {
                _ = stop_down.notified() => break,
                n = sr.read(&mut buf) => match n {
                    Ok(0) | Err(_) => break,
                    Ok(_) if muted_down.load(Ordering::SeqCst) => break,
                    Ok(n) => if cw.write_all(&buf[..n]).await.is_err() { break },
                },
            }
        }
        let _ = cw.shutdown().await;
    });

    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match cr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let cut = {
            let mut s = state.lock().unwrap();
            let rec = &mut s.recorded[index];
            let room = RECORD.saturating_sub(rec.len()).min(n);
            rec.extend_from_slice(&buf[..room]);
            std::mem::take(&mut s.cut_armed)
        };
        if cut {
            muted.store(true, Ordering::SeqCst);
            state.lock().unwrap().cuts += 1;
        }
        if sw.write_all(&buf[..n]).await.is_err() {
            break;
        }
        if cut {
            // Give the server the bytes, then drop both sides as a network failure would.
            let _ = sw.flush().await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            stop.notify_one();
            break;
        }
    }
    let _ = sw.shutdown().await;
    stop.notify_one();
    let _ = down.await;
}

/// Whether the first client packet is an SSLRequest: a 32-byte packet, sequence 1, with the
/// CLIENT_SSL capability bit.
pub fn starts_with_ssl_request(first: &[u8]) -> bool {
    first.len() >= 8
        && first[0..4] == [32, 0, 0, 1]
        && u32::from_le_bytes([first[4], first[5], first[6], first[7]]) & 0x0800 != 0
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
