//! Relays run in-process for the tests, each on its own port, on a runtime that outlives the
//! test that started it (every `#[tokio::test]` has its own runtime).

use std::net::SocketAddr;
use std::sync::OnceLock;

use tidb_connect::relay_server::{RelayConfig, serve};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("test-relay")
            .build()
            .expect("relay runtime")
    })
}

/// A running relay; dropping the handle shuts it down (rolling back its sessions).
pub struct Relay {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<()>>,
}

impl Relay {
    /// Starts a relay on a free port of 127.0.0.1.
    pub fn start(config: RelayConfig) -> Relay {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let result = serve(config, listener, async {
                let _ = stop_rx.await;
            })
            .await;
            if let Err(e) = result {
                eprintln!("relay on {addr} failed: {e}");
            }
            let _ = done_tx.send(());
        });
        Relay {
            addr,
            stop: Some(stop_tx),
            done: Some(done_rx),
        }
    }

    /// Stops the relay and waits until it has rolled back its sessions and closed its pools.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            let _ = done.recv_timeout(std::time::Duration::from_secs(30));
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Splits `mysql://user:pass@host:port/db?query` into the credentials (as written, still
/// percent-encoded), the upstream URL without them, and the database.
pub fn split_url(mysql_url: &str) -> (String, String, String) {
    let rest = mysql_url.strip_prefix("mysql://").expect("mysql:// url");
    let at = rest.rfind('@').expect("credentials");
    let creds = &rest[..at];
    let after = &rest[at + 1..];
    let db = after
        .split_once('/')
        .map(|(_, tail)| tail.split('?').next().unwrap_or(""))
        .unwrap_or("");
    (creds.to_owned(), format!("mysql://{after}"), db.to_owned())
}

/// A relay in front of `mysql_url` (default settings; the URL's parameters configure the
/// relay's pool), and the `relay+http://` URL a client uses to reach it. Each call starts a
/// new relay, as each direct connect makes a new pool.
pub fn url_for(mysql_url: &str) -> String {
    let (creds, upstream, db) = split_url(mysql_url);
    let relay = Relay::start(RelayConfig::new(upstream));
    let url = format!("relay+http://{creds}@{}/{db}", relay.addr);
    // The suite's relays live as long as the test binary.
    std::mem::forget(relay);
    url
}
