//! A small connection pool for the wire client: a semaphore bounds open connections, idle ones
//! wait in a stack (the most recently used first, as it is the most likely to be alive), and a
//! connection is dropped instead of reused once broken, closed by the server or too old.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::Conn;
use crate::rt;

pub(crate) struct Pool {
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    max_lifetime_ms: u64,
    closed: AtomicBool,
}

struct Idle {
    conn: Conn,
    opened_ms: u64,
}

/// A checked-out connection; it goes back to the pool when dropped, unless it is broken.
pub(crate) struct Lease {
    conn: Option<Conn>,
    opened_ms: u64,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

/// What a checkout found: a pooled connection, or a free slot to open a new one in.
pub(crate) enum Checkout {
    Pooled(Box<Lease>),
    Slot(Slot),
}

/// The right to open one connection.
pub(crate) struct Slot {
    pool: Arc<Pool>,
    permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(crate) fn new(size: usize, max_lifetime: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
            max_lifetime_ms: max_lifetime.as_millis() as u64,
            closed: AtomicBool::new(false),
        })
    }

    /// Waits for a free connection slot and returns a usable pooled connection if there is
    /// one. Connections that the server closed while idle are dropped here.
    pub(crate) async fn checkout(self: &Arc<Self>) -> Checkout {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut idle) = idle else {
                return Checkout::Slot(Slot {
                    pool: self.clone(),
                    permit,
                });
            };
            if self.fresh(idle.opened_ms) && idle.conn.is_usable() {
                return Checkout::Pooled(Box::new(Lease {
                    conn: Some(idle.conn),
                    opened_ms: idle.opened_ms,
                    pool: self.clone(),
                    _permit: permit,
                }));
            }
            tracing::trace!(
                tidb_connect.backend = "wire",
                "dropping a stale pooled connection"
            );
        }
    }

    /// Takes the idle connections out, to close them.
    pub(crate) fn close(&self) -> Vec<Conn> {
        self.closed.store(true, Ordering::Release);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.drain(..).map(|i| i.conn).collect()
    }

    fn fresh(&self, opened_ms: u64) -> bool {
        rt::now_ms().saturating_sub(opened_ms) < self.max_lifetime_ms
    }
}

impl Slot {
    /// Fills the slot with a newly opened connection.
    pub(crate) fn fill(self, conn: Conn) -> Lease {
        Lease {
            conn: Some(conn),
            opened_ms: rt::now_ms(),
            pool: self.pool,
            _permit: self.permit,
        }
    }
}

impl Lease {
    pub(crate) fn conn(&mut self) -> Option<&mut Conn> {
        self.conn.as_mut()
    }

    pub(crate) fn conn_ref(&self) -> Option<&Conn> {
        self.conn.as_ref()
    }

    /// Drops the connection instead of returning it (the socket closes, and the server rolls
    /// back whatever was open).
    pub(crate) fn discard(&mut self) {
        self.conn = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // A connection left inside a transaction (a BEGIN sent through query()) would carry
        // it into the next user's statements; closing it rolls it back.
        if conn.is_broken()
            || conn.in_transaction()
            || self.pool.closed.load(Ordering::Acquire)
            || !self.pool.fresh(self.opened_ms)
        {
            return;
        }
        self.pool
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Idle {
                conn,
                opened_ms: self.opened_ms,
            });
    }
}
