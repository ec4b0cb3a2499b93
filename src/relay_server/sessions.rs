//! Pinned sessions: a transaction (opened by `BEGIN`) or a stateful connection (opened by
//! `TiDB-Stateful-Action: open`), each behind a random token bound to the user who opened it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connector::Transaction;
use crate::direct::Pinned;

/// Prefix of tokens that name a pinned session.
const PINNED_PREFIX: &str = "p1.";
/// Prefix of tokens handed out with answers that pinned nothing.
const STATELESS_PREFIX: &str = "s1.";

/// What a session holds.
pub(crate) enum Held {
    /// An interactive transaction; `COMMIT`/`ROLLBACK` end the session.
    Transaction(Transaction),
    /// A connection on which every statement runs, `BEGIN`/`COMMIT` included.
    Connection(Pinned),
}

/// One session. Its async lock serialises the requests that use it.
pub(crate) struct Session {
    /// Who opened it.
    pub(crate) principal: String,
    pub(crate) held: tokio::sync::Mutex<Option<Held>>,
    last_used: Mutex<Instant>,
}

impl Session {
    pub(crate) fn touch(&self) {
        *self.last_used.lock().expect("session clock") = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used.lock().expect("session clock").elapsed()
    }
}

/// What a token in a request names.
pub(crate) enum Lookup {
    /// No token, or one from a stateless answer.
    Stateless,
    /// A live session of this principal.
    Session(String, Arc<Session>),
    /// An unknown, expired or foreign token.
    Unknown,
}

/// Why a session could not be opened.
pub(crate) enum OpenError {
    /// The user has too many sessions open.
    TooMany(usize),
    /// The relay is shutting down.
    Draining,
}

/// The table of live sessions.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    draining: std::sync::atomic::AtomicBool,
    /// This relay's name in its tokens (`p1.<instance>.<random>`), for balancers that route a
    /// session to the relay that opened it.
    instance: Option<String>,
}

impl Sessions {
    pub(crate) fn new(instance: Option<String>) -> Sessions {
        Sessions {
            instance,
            ..Sessions::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().expect("sessions").len()
    }

    /// Resolves a request's token for `principal`. Another user's token is "unknown", so its
    /// existence is not revealed.
    pub(crate) fn lookup(&self, token: &str, principal: &str) -> Lookup {
        if token.is_empty() || token.starts_with(STATELESS_PREFIX) {
            return Lookup::Stateless;
        }
        if !token.starts_with(PINNED_PREFIX) {
            return Lookup::Unknown;
        }
        let map = self.map.lock().expect("sessions");
        match map.get(token) {
            Some(s) if constant_time_eq(s.principal.as_bytes(), principal.as_bytes()) => {
                Lookup::Session(token.to_owned(), s.clone())
            }
            _ => Lookup::Unknown,
        }
    }

    /// Registers a new session and returns its token.
    pub(crate) fn open(
        &self,
        principal: &str,
        held: Held,
        max_per_principal: usize,
    ) -> Result<String, (OpenError, Held)> {
        if self.draining.load(std::sync::atomic::Ordering::Acquire) {
            return Err((OpenError::Draining, held));
        }
        let mut map = self.map.lock().expect("sessions");
        let open = map.values().filter(|s| s.principal == principal).count();
        if open >= max_per_principal {
            return Err((OpenError::TooMany(open), held));
        }
        let prefix = match &self.instance {
            Some(name) => format!("{PINNED_PREFIX}{name}."),
            None => PINNED_PREFIX.to_owned(),
        };
        let token = new_token(&prefix);
        map.insert(
            token.clone(),
            Arc::new(Session {
                principal: principal.to_owned(),
                held: tokio::sync::Mutex::new(Some(held)),
                last_used: Mutex::new(Instant::now()),
            }),
        );
        Ok(token)
    }

    /// Removes a session; what it held is returned for an orderly end.
    pub(crate) fn remove(&self, token: &str) -> Option<Arc<Session>> {
        self.map.lock().expect("sessions").remove(token)
    }

    /// Removes sessions idle longer than `timeout` and not in use; dropping what they hold
    /// rolls back (transactions) or resets (connections).
    pub(crate) fn expire(&self, timeout: Duration) -> usize {
        let stale: Vec<Arc<Session>> = {
            let mut map = self.map.lock().expect("sessions");
            let tokens: Vec<String> = map
                .iter()
                .filter(|(_, s)| s.idle_for() >= timeout && s.held.try_lock().is_ok())
                .map(|(t, _)| t.clone())
                .collect();
            tokens.iter().filter_map(|t| map.remove(t)).collect()
        };
        let n = stale.len();
        for s in stale {
            tokio::spawn(async move { end_session(&s).await });
        }
        n
    }

    /// Stops new sessions and ends every open one: transactions are rolled back, stateful
    /// connections returned to their pools.
    pub(crate) async fn drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Release);
        let all: Vec<Arc<Session>> = self
            .map
            .lock()
            .expect("sessions")
            .drain()
            .map(|(_, s)| s)
            .collect();
        for s in all {
            end_session(&s).await;
        }
    }
}

/// Rolls a session's transaction back, waiting for the statement in flight if any.
pub(crate) async fn end_session(session: &Session) {
    let held = session.held.lock().await.take();
    match held {
        Some(Held::Transaction(tx)) => {
            let _ = tx.rollback().await;
        }
        Some(Held::Connection(pinned)) => drop(pinned),
        None => {}
    }
}

/// A token for an answer that pinned nothing (the official driver needs one on every answer).
pub(crate) fn stateless_token(incoming: &str) -> String {
    if incoming.starts_with(STATELESS_PREFIX) && incoming.len() <= 64 {
        incoming.to_owned()
    } else {
        new_token(STATELESS_PREFIX)
    }
}

/// A request id for logs and `X-Debug-Trace-Id`, when the client sent none.
pub(crate) fn request_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    crate::relay::protocol::hex_encode(&bytes)
}

/// `prefix` and 256 random bits, base64url.
fn new_token(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Compares without an early exit, so timing does not tell how much of a secret matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = new_token(PINNED_PREFIX);
        let b = new_token(PINNED_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), PINNED_PREFIX.len() + 43);
        assert!(stateless_token("").starts_with(STATELESS_PREFIX));
        assert_eq!(stateless_token("s1.abc"), "s1.abc");
        assert!(stateless_token("p1.abc").starts_with(STATELESS_PREFIX));
    }

    #[test]
    fn tokens_name_the_instance() {
        let s = Sessions::new(Some("relay-a".into()));
        let held = Held::Transaction(crate::connector::Transaction::new(
            crate::config::Backend::Relay,
            Box::new(NoTx),
        ));
        let token = s.open("u", held, 4).ok().unwrap();
        assert!(token.starts_with("p1.relay-a."), "{token}");
        assert!(matches!(s.lookup(&token, "u"), Lookup::Session(..)));
        assert!(matches!(s.lookup(&token, "v"), Lookup::Unknown));
    }

    struct NoTx;

    #[async_trait::async_trait]
    impl crate::connector::TransactionBackend for NoTx {
        async fn query(
            &mut self,
            _: &str,
            _: &[crate::value::Value],
        ) -> crate::error::Result<crate::value::ResultSet> {
            Ok(Default::default())
        }
        async fn commit(&mut self) -> crate::error::Result<()> {
            Ok(())
        }
        async fn rollback(&mut self) -> crate::error::Result<()> {
            Ok(())
        }
        fn abandon(&mut self) {}
    }

    #[test]
    fn unknown_and_foreign_tokens_are_not_found() {
        let s = Sessions::default();
        assert!(matches!(s.lookup("", "u"), Lookup::Stateless));
        assert!(matches!(s.lookup("s1.x", "u"), Lookup::Stateless));
        assert!(matches!(s.lookup("p1.nope", "u"), Lookup::Unknown));
        assert!(matches!(s.lookup("garbage", "u"), Lookup::Unknown));
    }
}
