//! What every MySQL-protocol backend does the same way, whichever client carries the packets:
//! checks before sending, naming a broken connection by the step it broke in, batches, and
//! transactions that notice when the server has ended them.
//!
//! A backend provides a [`SessionConn`] (one checked-out connection that runs a statement);
//! [`batch`] and [`begin`] build the rest on it.

use async_trait::async_trait;

use crate::config::{Backend, Config};
use crate::connector::{MaybeSendSync, Statement, Transaction, TransactionBackend, TxOptions};
use crate::error::{Error, Result};
use crate::value::{ResultSet, Value};

/// What was happening when an error occurred; decides what a broken connection means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Opening a connection or checking one out of the pool.
    Connect,
    /// A statement outside a transaction.
    Statement,
    /// A statement of this many bytes outside a transaction: big enough that a server's
    /// `max_allowed_packet` is the likely reason for a dropped connection.
    LargeStatement(usize),
    /// A statement inside an interactive transaction.
    InTransaction,
    /// COMMIT of an interactive transaction.
    Commit,
    /// A statement of a batch: the batch is rolled back as a whole on error, so a conflict
    /// there can be retried by running the batch again.
    InBatch,
    /// COMMIT of a batch.
    BatchCommit,
}

impl Step {
    pub(crate) fn in_transaction(self) -> bool {
        matches!(self, Step::InTransaction | Step::Commit)
    }

    /// The step to report for a statement of `size` bytes.
    pub(crate) fn sized(self, size: usize) -> Step {
        match self {
            Step::Statement if size > LARGE_STATEMENT => Step::LargeStatement(size),
            other => other,
        }
    }

    /// The error for a connection that broke during this step.
    pub(crate) fn lost(self) -> Error {
        match self {
            Step::Connect => Error::connect("connection closed during handshake"),
            Step::Statement => Error::connection_lost("a statement"),
            Step::LargeStatement(size) => Error::connection_lost(format!(
                "a statement of {size} bytes, which may exceed the server's max_allowed_packet \
                 (set max-allowed-packet in the url to the server's value to refuse such \
                 statements before sending)"
            )),
            Step::InTransaction | Step::InBatch => Error::lost_in_transaction(),
            Step::Commit | Step::BatchCommit => Error::outcome_unknown(),
        }
    }

    /// Marks `err` as raised inside a transaction when this step is one.
    pub(crate) fn tag(self, err: Error) -> Error {
        if self.in_transaction() {
            err.in_transaction()
        } else {
            err
        }
    }
}

/// Statements above this size get a hint about `max_allowed_packet` when the connection breaks.
const LARGE_STATEMENT: usize = 1024 * 1024;

/// The most parameters one statement takes (the protocol's 16-bit count).
pub(crate) const MAX_PARAMS: usize = u16::MAX as usize;

/// Refuses, before anything is sent, what the server would reject or misread; returns the
/// statement's size on the wire.
pub(crate) fn check_statement(
    sql: &str,
    params: &[Value],
    config: &Config,
    backend: &'static str,
) -> Result<usize> {
    if crate::sql::has_multiple_statements(sql) {
        return Err(Error::unsupported(
            backend,
            "the text holds several statements and query() runs one; send them one per call \
             or together with batch()",
        ));
    }
    // Without parameters the text protocol is used, where a `?` is a syntax error; with
    // parameters the server's prepare step (or the client-side binder) counts them exactly.
    if params.is_empty() {
        let placeholders = crate::sql::placeholder_count(sql);
        if placeholders > 0 {
            return Err(Error::params_mismatch(placeholders, 0));
        }
    }
    if params.len() > MAX_PARAMS {
        return Err(Error::usage(format!(
            "a statement takes at most {MAX_PARAMS} parameters; split it"
        )));
    }
    let size = payload_size(sql, params);
    if size > config.max_allowed_packet() {
        return Err(Error::usage(format!(
            "the statement carries {size} bytes, more than max-allowed-packet ({} bytes); send \
             smaller values, or raise max-allowed-packet in the url to the server's \
             max_allowed_packet",
            config.max_allowed_packet()
        )));
    }
    Ok(size)
}

/// The bytes a statement puts on the wire, near enough to compare with `max_allowed_packet`.
fn payload_size(sql: &str, params: &[Value]) -> usize {
    let values: usize = params
        .iter()
        .map(|v| match v {
            Value::Text(s) | Value::Json(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Decimal(d) => d.as_str().len(),
            _ => 8,
        })
        .sum();
    1 + sql.len() + values
}

/// Picks the one result set `query()` returns. A procedure call ends with a status result
/// after its rows; anything else with several results held several statements that the scan
/// before sending could not see (quoting it could not read), and they have run.
pub(crate) fn one_result(
    mut sets: Vec<ResultSet>,
    sql: &str,
    backend: &'static str,
) -> Result<ResultSet> {
    if sets.len() <= 1 {
        return Ok(sets.pop().unwrap_or_default());
    }
    let with_rows = sets.iter().filter(|s| !s.columns.is_empty()).count();
    let is_call = crate::sql::first_keyword(sql).as_deref() == Some("CALL");
    if is_call && with_rows <= 1 {
        let pick = sets.iter().position(|s| !s.columns.is_empty());
        return Ok(match pick {
            Some(i) => sets.swap_remove(i),
            None => sets.pop().unwrap_or_default(),
        });
    }
    let what = if is_call {
        format!("the procedure returned {with_rows} result sets")
    } else {
        format!("the text held {} statements, which all ran", sets.len())
    };
    Err(Error::unsupported(
        backend,
        format!(
            "{what}; query() returns one result set, so send one statement per call or use batch()"
        ),
    ))
}

/// The start of a statement for logs.
pub(crate) fn abbreviate(sql: &str) -> &str {
    const MAX: usize = 200;
    if sql.len() <= MAX {
        return sql;
    }
    let mut end = MAX;
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    &sql[..end]
}

/// One checked-out connection of a backend.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub(crate) trait SessionConn: MaybeSendSync + Sized + 'static {
    /// Runs one statement and returns its one result; errors are named by `step`, and a
    /// connection that broke is not used again.
    async fn run(&mut self, sql: &str, params: &[Value], step: Step) -> Result<ResultSet>;

    /// Whether the server reports an open transaction after the last statement (true when
    /// it did not say).
    fn in_transaction(&self) -> bool;

    /// Whether the connection broke; it then takes no more statements.
    fn is_broken(&self) -> bool;

    /// Drops the connection without returning it to the pool, so the server rolls back
    /// whatever it had open.
    fn discard(&mut self);

    /// The transaction on this connection was dropped without commit or rollback.
    fn abandon(&mut self) {
        self.discard();
    }
}

/// Runs `statements` in one transaction on `conn`: all of them or none.
pub(crate) async fn batch<C: SessionConn>(
    conn: &mut C,
    statements: &[Statement],
) -> Result<Vec<ResultSet>> {
    conn.run("START TRANSACTION", &[], Step::Statement).await?;

    let mut results = Vec::with_capacity(statements.len());
    for (index, st) in statements.iter().enumerate() {
        if crate::sql::starts_transaction(&st.sql) {
            let _ = conn.run("ROLLBACK", &[], Step::InBatch).await;
            return Err(Error::batch(index, nested_begin()));
        }
        let outcome = conn
            .run(&st.sql, &st.params, Step::InBatch)
            .await
            .and_then(|rs| {
                if conn.in_transaction() {
                    Ok(rs)
                } else {
                    Err(ended_by_statement())
                }
            });
        match outcome {
            Ok(rs) => results.push(rs),
            Err(e) => {
                // The server keeps the transaction open after a statement error; a connection
                // that cannot roll back must not be reused.
                if !conn.is_broken() && conn.run("ROLLBACK", &[], Step::InBatch).await.is_err() {
                    conn.discard();
                }
                return Err(Error::batch(index, e));
            }
        }
    }

    conn.run("COMMIT", &[], Step::BatchCommit).await?;
    Ok(results)
}

/// Opens a transaction on `conn` with `options`.
pub(crate) async fn begin<C: SessionConn>(
    mut conn: C,
    options: TxOptions,
    backend: Backend,
) -> Result<Transaction> {
    for sql in options.statements() {
        conn.run(&sql, &[], Step::Statement).await?;
    }
    Ok(Transaction::new(
        backend,
        Box::new(SessionTransaction {
            conn: Some(conn),
            ended: None,
        }),
    ))
}

/// An open transaction holding one connection.
struct SessionTransaction<C> {
    conn: Option<C>,
    /// Set once the server no longer runs this transaction, so that later statements are
    /// refused instead of silently committing one by one.
    ended: Option<Ended>,
}

#[derive(Debug, Clone, Copy)]
enum Ended {
    /// The server rolled the transaction back after this error (deadlock, write conflict).
    RolledBack(u16),
    /// A statement inside it (COMMIT, ROLLBACK, DDL) ended it.
    ByStatement,
}

/// Server errors after which MySQL, MariaDB and TiDB have rolled the whole transaction back.
const ROLLED_BACK: [u16; 3] = [
    crate::codes::DEADLOCK,
    crate::codes::TIDB_WRITE_CONFLICT,
    crate::codes::TIDB_WRITE_CONFLICT_FOR_UPDATE,
];

fn nested_begin() -> Error {
    Error::usage(
        "BEGIN or START TRANSACTION inside a transaction would commit it; end the transaction \
         with commit() or rollback() first",
    )
}

fn ended_by_statement() -> Error {
    Error::usage(
        "a statement ended the transaction on the server (COMMIT, ROLLBACK and DDL do), so the \
         statements before it are committed or rolled back and later ones would run on their \
         own; end transactions with commit() or rollback() and run DDL outside them",
    )
    .in_transaction()
}

impl Ended {
    fn error(self) -> Error {
        match self {
            Ended::RolledBack(code) => Error::usage(format!(
                "the server rolled this transaction back after error {code}; begin a new one \
                 and run it again"
            ))
            .in_transaction(),
            Ended::ByStatement => ended_by_statement(),
        }
    }
}

impl<C: SessionConn> SessionTransaction<C> {
    /// Runs a statement; a broken connection is dropped so it can never be reused, and a
    /// transaction the server has ended accepts no more statements.
    async fn run(&mut self, sql: &str, params: &[Value], step: Step) -> Result<ResultSet> {
        if let Some(ended) = self.ended {
            return Err(ended.error());
        }
        if step == Step::InTransaction && crate::sql::starts_transaction(sql) {
            return Err(nested_begin().in_transaction());
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::lost_in_transaction().in_transaction())?;
        let result = conn.run(sql, params, step).await;
        match &result {
            Err(_) if conn.is_broken() => self.conn = None,
            Err(e) => {
                if let Some(code) = e.code().filter(|c| ROLLED_BACK.contains(c)) {
                    self.ended = Some(Ended::RolledBack(code));
                }
            }
            Ok(_) if step == Step::InTransaction && !conn.in_transaction() => {
                self.ended = Some(Ended::ByStatement);
            }
            Ok(_) => {}
        }
        result
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<C: SessionConn> TransactionBackend for SessionTransaction<C> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        self.run(sql, params, Step::InTransaction).await
    }

    async fn commit(&mut self) -> Result<()> {
        self.run("COMMIT", &[], Step::Commit).await.map(drop)
    }

    async fn rollback(&mut self) -> Result<()> {
        match self.ended {
            // Nothing is left to roll back, as the caller wanted.
            Some(Ended::RolledBack(_)) => Ok(()),
            _ => self
                .run("ROLLBACK", &[], Step::InTransaction)
                .await
                .map(drop),
        }
    }

    fn abandon(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviate_respects_char_boundaries() {
        let s = "é".repeat(150);
        assert!(abbreviate(&s).len() <= 200);
        assert_eq!(abbreviate("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn broken_connections_are_named_by_step() {
        assert!(Step::Connect.lost().is_retryable());
        let e = Step::Statement.lost();
        assert!(e.is_connection_lost() && !e.is_retryable());
        assert!(Step::InTransaction.lost().is_lost_in_transaction());
        assert!(Step::Commit.lost().is_outcome_unknown());
        let e = Step::Statement.sized(5 << 20).lost();
        assert!(e.to_string().contains("max_allowed_packet"), "{e}");
    }
}
