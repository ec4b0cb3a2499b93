//! The limits a relay enforces, and the read-only rule.

use std::time::Duration;

use crate::relay::protocol::Limits as WireLimits;

/// Configurable limits, with the defaults documented in the README and `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body (bytes). Parameters travel as text and bytes as hex, so a 16 MiB
    /// blob needs 32 MiB here.
    pub max_body_bytes: usize,
    /// Most statements in one batch.
    pub max_batch_statements: usize,
    /// Most rows in one response (TiDB Cloud's endpoint caps at 10,000).
    pub max_rows: usize,
    /// Largest response body before compression (bytes).
    pub max_response_bytes: usize,
    /// Most pinned sessions (transactions, stateful connections) per user.
    pub max_sessions_per_user: usize,
    /// A session idle this long is rolled back and released.
    pub session_idle_timeout: Duration,
    /// Deadline of a request that names none.
    pub default_deadline: Duration,
    /// Longest deadline a request may ask for.
    pub max_deadline: Duration,
    /// Requests handled at once; more are refused with 503.
    pub max_concurrent_requests: usize,
    /// Request body bytes held at once across all requests (a body without a length counts
    /// as `max_body_bytes`); a request that does not fit is refused with 503.
    pub max_inflight_body_bytes: usize,
    /// Connection pools kept (one per user and database); the least recently used idle one is
    /// closed to make room.
    pub max_pools: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024 * 1024,
            max_batch_statements: 100,
            max_rows: 10_000,
            max_response_bytes: 64 * 1024 * 1024,
            max_sessions_per_user: 16,
            session_idle_timeout: Duration::from_secs(600),
            default_deadline: Duration::from_secs(60),
            max_deadline: Duration::from_secs(300),
            max_concurrent_requests: 256,
            max_inflight_body_bytes: 256 * 1024 * 1024,
            max_pools: 64,
        }
    }
}

impl Limits {
    /// The form published in the capability document.
    pub(crate) fn wire(&self) -> WireLimits {
        WireLimits {
            max_body_bytes: self.max_body_bytes,
            max_batch_statements: self.max_batch_statements,
            max_rows: self.max_rows,
            max_response_bytes: self.max_response_bytes,
            max_sessions_per_user: self.max_sessions_per_user,
            session_idle_timeout_ms: self.session_idle_timeout.as_millis() as u64,
            default_deadline_ms: self.default_deadline.as_millis() as u64,
            max_deadline_ms: self.max_deadline.as_millis() as u64,
        }
    }

    /// The deadline of a request: what it asked for, within the maximum.
    pub(crate) fn deadline(&self, asked_ms: Option<u64>) -> Duration {
        asked_ms
            .map(Duration::from_millis)
            .unwrap_or(self.default_deadline)
            .min(self.max_deadline)
    }
}

/// Whether a read-only relay may run the statement: reads, and transaction control. Anything
/// else (DML, DDL, `SET`, `CALL`, `SELECT … INTO`, `LOCK`, `EXPLAIN ANALYZE` of a write) is
/// refused. This is a guard for mistakes; a database user with only SELECT grants is the
/// real boundary.
pub(crate) fn allowed_when_read_only(sql: &str) -> bool {
    let words = crate::sql::code_words(sql);
    let Some(first) = words.first().map(String::as_str) else {
        return false;
    };
    let has = |w: &str| words.iter().any(|x| x == w);
    let writes = [
        "INSERT", "UPDATE", "DELETE", "REPLACE", "INTO", "LOCK", "FOR",
    ];
    match first {
        "SELECT" | "WITH" | "TABLE" | "VALUES" => !writes.iter().any(|w| has(w)),
        "SHOW" | "DESCRIBE" | "DESC" => true,
        "EXPLAIN" => !has("ANALYZE") && !writes.iter().any(|w| has(w)),
        "COMMIT" | "ROLLBACK" => true,
        "BEGIN" | "START" => {
            words.len() == 1 || has("ONLY") || words[..] == ["START", "TRANSACTION"]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_allows_reads_only() {
        for ok in [
            "SELECT * FROM t WHERE s = 'insert into x'",
            "select 1",
            "  WITH a AS (SELECT 1) SELECT * FROM a",
            "SHOW TABLES",
            "EXPLAIN SELECT 1",
            "COMMIT",
            "BEGIN",
        ] {
            assert!(allowed_when_read_only(ok), "{ok}");
        }
        for bad in [
            "INSERT INTO t VALUES (1)",
            "update t set a = 1",
            "DELETE FROM t",
            "CREATE TABLE x (a INT)",
            "DROP TABLE t",
            "SET GLOBAL read_only = 0",
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            "SELECT * FROM t FOR UPDATE",
            "EXPLAIN ANALYZE DELETE FROM t",
            "CALL p()",
            "/* c */ INSERT INTO t VALUES (1)",
            "",
            "LOCK TABLES t WRITE",
        ] {
            assert!(!allowed_when_read_only(bad), "{bad}");
        }
    }

    #[test]
    fn deadlines_are_capped() {
        let l = Limits::default();
        assert_eq!(l.deadline(None), l.default_deadline);
        assert_eq!(l.deadline(Some(10)), Duration::from_millis(10));
        assert_eq!(l.deadline(Some(u64::MAX)), l.max_deadline);
    }
}
