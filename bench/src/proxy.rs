//! A transparent TCP proxy on 127.0.0.1 that counts round trips and can add network delay.
//!
//! **Round trips.** Every accepted connection remembers which side spoke last. Each time the
//! client starts sending after the server spoke (or sends first on a new connection), that is
//! one client *flight*: a request the client then waits on. Requests written back to back
//! without waiting (pipelining) are one flight, as they cost one round trip. Counts are bytes
//! on the wire, so machine load cannot change them.
//!
//! **Delay.** With a round-trip time `rtt`, each chunk is delivered `rtt / 2` after the proxy
//! read it, in both directions, and nothing moves on a new connection before one extra `rtt`
//! has passed, which stands in for the TCP handshake the proxy answers locally. Chunks are
//! queued, not slept on, so a delayed link still carries many requests in flight. The kernel's
//! netem would do this in the network stack; it is not available here. Plain threads and
//! `std::thread::sleep` give sub-millisecond precision (tokio's timer works in whole
//! milliseconds).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const UP: u8 = 1;
const DOWN: u8 = 2;

/// Counters of one proxy, over all its connections.
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    flights: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// A point-in-time copy of a proxy's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connections accepted.
    pub connections: u64,
    /// Client flights (round trips the client waited on).
    pub flights: u64,
    /// Bytes from client to server.
    pub bytes_up: u64,
    /// Bytes from server to client.
    pub bytes_down: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;

    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            connections: self.connections - earlier.connections,
            flights: self.flights - earlier.flights,
            bytes_up: self.bytes_up - earlier.bytes_up,
            bytes_down: self.bytes_down - earlier.bytes_down,
        }
    }
}

/// A proxy bound to a port; it forwards once [`Proxy::run`] is called.
pub struct Proxy {
    port: u16,
    upstream: SocketAddr,
    rtt: Duration,
    listener: Option<TcpListener>,
    counters: Arc<Counters>,
}

impl Proxy {
    /// Binds a port on 127.0.0.1 for a proxy to `upstream` with the given emulated round-trip
    /// time (zero: forward at once). Binding spawns nothing, so the caller knows the port
    /// while the process is still single-threaded.
    pub fn bind(upstream: SocketAddr, rtt: Duration) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        Ok(Proxy {
            port: listener.local_addr()?.port(),
            upstream,
            rtt,
            listener: Some(listener),
            counters: Arc::default(),
        })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts accepting and forwarding (in background threads that live as long as the
    /// process).
    pub fn run(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let (upstream, rtt, counters) = (self.upstream, self.rtt, self.counters.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                counters.connections.fetch_add(1, Ordering::Relaxed);
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let opened = Instant::now();
                let last = Arc::new(AtomicU8::new(0));
                let pumps = [(true, &client, &server), (false, &server, &client)];
                for (up, from, to) in pumps {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    let link = Link {
                        up,
                        rtt,
                        opened,
                        last: last.clone(),
                        counters: counters.clone(),
                    };
                    thread::spawn(move || link.pump(from, to));
                }
            }
        });
    }

    /// The counters so far.
    pub fn counts(&self) -> Counts {
        let c = &self.counters;
        Counts {
            connections: c.connections.load(Ordering::SeqCst),
            flights: c.flights.load(Ordering::SeqCst),
            bytes_up: c.bytes_up.load(Ordering::SeqCst),
            bytes_down: c.bytes_down.load(Ordering::SeqCst),
        }
    }
}

/// One direction of one connection.
struct Link {
    up: bool,
    rtt: Duration,
    opened: Instant,
    last: Arc<AtomicU8>,
    counters: Arc<Counters>,
}

impl Link {
    fn pump(self, mut from: TcpStream, mut to: TcpStream) {
        let delayed = !self.rtt.is_zero();
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let writer = delayed.then(|| {
            let mut to = to.try_clone().expect("clone socket");
            thread::spawn(move || {
                for (due, chunk) in rx {
                    let now = Instant::now();
                    if due > now {
                        thread::sleep(due - now);
                    }
                    if to.write_all(&chunk).is_err() {
                        break;
                    }
                }
                let _ = to.shutdown(Shutdown::Write);
            })
        });

        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            self.count(n);
            if delayed {
                let earliest = (self.opened + self.rtt).max(Instant::now());
                if tx
                    .send((earliest + self.rtt / 2, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            } else if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        drop(tx);
        match writer {
            Some(writer) => {
                let _ = writer.join();
            }
            None => {
                let _ = to.shutdown(Shutdown::Write);
            }
        }
    }

    fn count(&self, n: usize) {
        let c = &self.counters;
        if self.up {
            c.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
            if self.last.swap(UP, Ordering::SeqCst) != UP {
                c.flights.fetch_add(1, Ordering::SeqCst);
            }
        } else {
            c.bytes_down.fetch_add(n as u64, Ordering::SeqCst);
            self.last.store(DOWN, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server answering each read with the same bytes.
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for s in listener.incoming() {
                let mut s = s.unwrap();
                thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn exchange(s: &mut TcpStream, msg: &[u8]) {
        s.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }

    #[test]
    fn counts_one_flight_per_request_and_answer() {
        let mut proxy = Proxy::bind(echo(), Duration::ZERO).unwrap();
        proxy.run();
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        for _ in 0..5 {
            exchange(&mut s, b"ping");
        }
        let c = proxy.counts();
        assert_eq!((c.connections, c.flights), (1, 5));
        assert_eq!((c.bytes_up, c.bytes_down), (20, 20));
    }

    #[test]
    fn pipelined_writes_are_one_flight() {
        let mut proxy = Proxy::bind(echo(), Duration::ZERO).unwrap();
        proxy.run();
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        s.write_all(b"a").unwrap();
        s.write_all(b"b").unwrap();
        s.write_all(b"c").unwrap();
        let mut got = [0u8; 3];
        s.read_exact(&mut got).unwrap();
        // The echo may answer "a" before "b" arrives; what counts is that the client never
        // waited in between, so at most the answers interleave. Waiting now adds one flight.
        let before = proxy.counts().flights;
        exchange(&mut s, b"d");
        assert_eq!(proxy.counts().flights, before + 1);
    }

    #[test]
    fn delay_holds_each_round_trip() {
        let rtt = Duration::from_millis(20);
        let mut proxy = Proxy::bind(echo(), rtt).unwrap();
        proxy.run();
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        exchange(&mut s, b"first");
        let started = Instant::now();
        for _ in 0..3 {
            exchange(&mut s, b"ping");
        }
        // A lower bound only: the delay is a floor, never a speed claim.
        assert!(started.elapsed() >= rtt * 3);
    }
}
