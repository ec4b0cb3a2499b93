//! The direct backend on native targets: a mysql_async pool over rustls.
//!
//! Statements with parameters are prepared and bound on the server (binary protocol, with a
//! per-connection statement cache); statements without parameters use the text protocol,
//! one round trip each. Every checkout checks that the pooled socket is still open, and
//! connections older than `max-lifetime` are replaced.

mod errors;
mod opts;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Conn, Params, Pool, QueryResult};
use tokio::sync::OnceCell;

use crate::config::{Backend, Config, SslMode};
use crate::connector::{Connector, Statement, Transaction, TransactionBackend, TxOptions};
use crate::error::{Error, Result};
use crate::protocol::decode;
use crate::value::{Column, ResultSet, Row, Value};
use crate::version::ServerVersion;

use errors::Step;

const BACKEND: &str = "direct";

/// A pool of MySQL connections to one server, over verified TLS unless configured otherwise.
///
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct DirectConnector {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool,
    config: Config,
    version: OnceCell<ServerVersion>,
    closed: AtomicBool,
}

impl std::fmt::Debug for DirectConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectConnector")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// Why a checkout failed, before it is mapped: the preferred-mode fallback needs the raw error.
enum CheckoutError {
    Timeout,
    Driver(mysql_async::Error),
}

impl DirectConnector {
    /// Opens the pool and one connection, so a wrong address, certificate or password is
    /// reported here rather than at the first query.
    ///
    /// # Errors
    ///
    /// Connect, TLS, timeout and access-denied errors, each naming what failed.
    pub async fn connect(config: &Config) -> Result<DirectConnector> {
        warn_if_insecure(config);
        if let Some(ca) = config.tls().ca() {
            check_ca_file(ca)?;
        }

        let mut adjust = opts::Adjust::default();
        let pool = loop {
            let pool = Pool::new(opts::build(config, &adjust));
            match checkout(&pool, config.connect_timeout()).await {
                Ok(conn) => {
                    drop(conn);
                    break pool;
                }
                Err(e) => {
                    let _ = pool.disconnect().await;
                    // Each adjustment can happen once, so this loop ends.
                    match adjustment(&e, config, &adjust) {
                        Some(next) => adjust = next,
                        None => return Err(checkout_error(e, config)),
                    }
                }
            }
        };

        tracing::debug!(
            tidb_connect.backend = BACKEND,
            tidb_connect.host = config.host(),
            tidb_connect.tls = %config.tls().mode(),
            "connected"
        );
        Ok(DirectConnector {
            shared: Arc::new(Shared {
                pool,
                config: config.clone(),
                version: OnceCell::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The configuration this connector was built from.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    async fn conn(&self) -> Result<Conn> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::usage(
                "the connector was closed; call connect() again for a new one",
            ));
        }
        checkout(&self.shared.pool, self.shared.config.connect_timeout())
            .await
            .map_err(|e| checkout_error(e, &self.shared.config))
    }
}

/// One pooled connection held for a relay session (`TiDB-Stateful-Action: open`): statements
/// run on it in order, `BEGIN` and `COMMIT` included, until it is dropped and goes back to the
/// pool, which resets it (`COM_RESET_CONNECTION` rolls back anything left open).
#[cfg(feature = "relay-server")]
pub(crate) struct Pinned {
    conn: Option<Conn>,
    shared: Arc<Shared>,
}

#[cfg(feature = "relay-server")]
impl DirectConnector {
    /// Takes a connection out of the pool for a session.
    pub(crate) async fn pin(&self) -> Result<Pinned> {
        Ok(Pinned {
            conn: Some(self.conn().await?),
            shared: self.shared.clone(),
        })
    }
}

#[cfg(feature = "relay-server")]
impl Pinned {
    /// Runs one statement; a broken connection is dropped and later statements fail.
    pub(crate) async fn query(&mut self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        let conn = self.conn.as_mut().ok_or_else(|| {
            Error::connection_lost("an earlier statement of this session; open a new one")
        })?;
        let in_transaction = still_in_transaction(conn) && conn.last_ok_packet().is_some();
        let result = run_one(conn, sql, params, Step::Statement, &self.shared.config).await;
        match result {
            Err(e) if e.is_connection_lost() => {
                self.conn = None;
                Err(if in_transaction {
                    Error::lost_in_transaction()
                } else {
                    e
                })
            }
            other => other,
        }
    }
}

/// Decides whether a failed first connection may be retried with adjusted TLS settings.
fn adjustment(e: &CheckoutError, config: &Config, current: &opts::Adjust) -> Option<opts::Adjust> {
    let CheckoutError::Driver(e) = e else {
        return None;
    };
    match config.tls().mode() {
        SslMode::Preferred if !current.plaintext => {
            let no_tls = matches!(
                e,
                mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)
            );
            no_tls.then(|| {
                tracing::warn!(
                    tidb_connect.backend = BACKEND,
                    tidb_connect.host = config.host(),
                    "server does not offer TLS; ssl-mode=preferred falls back to plaintext"
                );
                opts::Adjust {
                    plaintext: true,
                    verify_name: None,
                }
            })
        }
        SslMode::VerifyCa
            if current.verify_name.is_none() && config.tls().server_name().is_none() =>
        {
            presented_dns_name(e).map(|name| opts::Adjust {
                plaintext: false,
                verify_name: Some(name),
            })
        }
        _ => None,
    }
}

// FIXME(#3): verify the chain alone in our own TLS step instead of learning a name.
/// The first DNS name of a certificate that failed only the name check. rustls checks the
/// chain before the name, so this error means the chain is trusted.
fn presented_dns_name(e: &mysql_async::Error) -> Option<String> {
    let mysql_async::Error::Io(mysql_async::IoError::Io(io)) = e else {
        return None;
    };
    let tls = io.get_ref()?.downcast_ref::<rustls::Error>()?;
    let rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
        presented,
        ..
    }) = tls
    else {
        return None;
    };
    presented
        .iter()
        .find_map(|p| errors::presented_name(p).map(str::to_owned))
}

/// Reports an unusable `ssl-ca` as a configuration error here, rather than as a retryable
/// connect failure or a certificate error that blames the server.
fn check_ca_file(ca: &std::path::Path) -> Result<()> {
    use std::io::Read;

    // CA bundles are kilobytes; the cap keeps a wrong path (a device, a huge file) harmless.
    const MAX_CA_FILE: u64 = 4 * 1024 * 1024;
    let unreadable = |e: std::io::Error| {
        Error::config(format!("ssl-ca file {} cannot be read", ca.display())).with_source(e)
    };
    let mut data = Vec::new();
    std::fs::File::open(ca)
        .and_then(|f| f.take(MAX_CA_FILE).read_to_end(&mut data))
        .map_err(unreadable)?;
    let marker = b"-----BEGIN CERTIFICATE-----";
    let pem = data.windows(marker.len()).any(|w| w == marker);
    // A DER certificate is one ASN.1 SEQUENCE; mysql_async reads DER when PEM is absent.
    let der = data.len() > 64 && data[0] == 0x30;
    if !pem && !der {
        return Err(Error::config(format!(
            "ssl-ca file {} holds no certificate (PEM with -----BEGIN CERTIFICATE-----, or DER)",
            ca.display()
        )));
    }
    Ok(())
}

fn warn_if_insecure(config: &Config) {
    let tls = config.tls();
    if tls.mode() == SslMode::Disabled {
        tracing::warn!(
            tidb_connect.backend = BACKEND,
            tidb_connect.host = config.host(),
            "ssl-mode=disabled: credentials and data cross the network in plaintext"
        );
    } else if !tls.mode().verifies_chain() {
        tracing::warn!(
            tidb_connect.backend = BACKEND,
            tidb_connect.host = config.host(),
            tidb_connect.setting = tls.loosened_by().unwrap_or(tls.mode().as_str()),
            "tls certificate is not verified; anyone on the path can impersonate the server"
        );
    }
}

async fn checkout(pool: &Pool, timeout: Duration) -> std::result::Result<Conn, CheckoutError> {
    match tokio::time::timeout(timeout, pool.get_conn()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(CheckoutError::Driver(e)),
        Err(_) => Err(CheckoutError::Timeout),
    }
}

fn checkout_error(e: CheckoutError, config: &Config) -> Error {
    match e {
        CheckoutError::Timeout => Error::timeout(
            format!(
                "connect to {}:{} (tcp, tls and mysql handshake, or waiting for a free pooled \
                 connection); raise connect-timeout for a slow network, or pool-size when all \
                 connections are busy",
                config.host(),
                config.port()
            ),
            config.connect_timeout(),
        ),
        CheckoutError::Driver(e) => errors::map(e, Step::Connect, config),
    }
}

/// The most parameters one prepared statement takes (the protocol's 16-bit count).
const MAX_PARAMS: usize = u16::MAX as usize;

/// Refuses, before anything is sent, what the server would reject or misread; returns the
/// parameters in wire form and the statement's size.
fn check_statement(
    sql: &str,
    params: &[Value],
    config: &Config,
) -> Result<(Vec<mysql_async::Value>, usize)> {
    if crate::sql::has_multiple_statements(sql) {
        return Err(Error::unsupported(
            BACKEND,
            "the text holds several statements and query() runs one; send them one per call \
             or together with batch()",
        ));
    }
    // Without parameters the text protocol is used, where a `?` is a syntax error; with
    // parameters the server's prepare step counts the placeholders exactly.
    if params.is_empty() {
        let placeholders = crate::sql::placeholder_count(sql);
        if placeholders > 0 {
            return Err(errors::params_mismatch(placeholders, 0));
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
    let wire = params
        .iter()
        .enumerate()
        .map(|(i, v)| {
            decode::param(v)
                .map_err(|e| Error::usage(format!("parameter {}: {}", i + 1, e.detail())))
        })
        .collect::<Result<_>>()?;
    Ok((wire, size))
}

/// Runs one statement and returns its only result set.
async fn run_one(
    conn: &mut Conn,
    sql: &str,
    params: &[Value],
    step: Step,
    config: &Config,
) -> Result<ResultSet> {
    let (wire, size) = check_statement(sql, params, config)?;

    let started = Instant::now();
    tracing::debug!(
        tidb_connect.backend = BACKEND,
        tidb_connect.params = params.len(),
        sql = %abbreviate(sql),
        "statement"
    );

    let outcome = if wire.is_empty() {
        match conn.query_iter(sql).await {
            Ok(result) => collect(result).await,
            Err(e) => Err(Failure::Driver(e)),
        }
    } else {
        match conn.exec_iter(sql, Params::Positional(wire)).await {
            Ok(result) => collect(result).await,
            Err(e) => Err(Failure::Driver(e)),
        }
    };

    let elapsed = started.elapsed();
    if let Some(threshold) = config.slow_statement_threshold() {
        if elapsed >= threshold {
            tracing::warn!(
                tidb_connect.backend = BACKEND,
                elapsed_ms = elapsed.as_millis() as u64,
                sql = %abbreviate(sql),
                "slow statement"
            );
        }
    }

    let sets = match outcome {
        Ok(sets) => sets,
        Err(Failure::Driver(e)) => {
            // A server closes the connection on a packet above its max_allowed_packet; say so
            // when the statement was large enough for that to be the likely cause.
            let step = match step {
                Step::Statement if size > LARGE_STATEMENT => Step::LargeStatement(size),
                other => other,
            };
            return Err(errors::map(e, step, config));
        }
        Err(Failure::Decode(e)) => return Err(e),
    };
    one_result(sets, sql)
}

/// Picks the one result set `query()` returns. A procedure call ends with a status result
/// after its rows; anything else with several results held several statements that the scan
/// before sending could not see (quoting it could not read), and they have run.
fn one_result(mut sets: Vec<ResultSet>, sql: &str) -> Result<ResultSet> {
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
        BACKEND,
        format!(
            "{what}; query() returns one result set, so send one statement per call or use batch()"
        ),
    ))
}

/// Statements above this size get a hint about `max_allowed_packet` when the connection breaks.
const LARGE_STATEMENT: usize = 1024 * 1024;

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

enum Failure {
    Driver(mysql_async::Error),
    Decode(Error),
}

impl From<mysql_async::Error> for Failure {
    fn from(e: mysql_async::Error) -> Self {
        Failure::Driver(e)
    }
}

/// Reads every result set of a query. Rows are read in full before decoding, so a decode
/// error leaves the connection clean.
async fn collect<P: Protocol>(
    mut result: QueryResult<'_, 'static, P>,
) -> std::result::Result<Vec<ResultSet>, Failure> {
    let mut sets = Vec::new();
    loop {
        let columns: Arc<[Column]> = result
            .columns()
            .map(|cols| cols.iter().map(decode::column).collect::<Vec<_>>().into())
            .unwrap_or_else(|| Arc::from(Vec::new()));
        let raw: Vec<mysql_async::Row> = result.collect().await?;
        let mut rows = Vec::with_capacity(raw.len());
        for row in raw {
            let values = row
                .unwrap()
                .into_iter()
                .zip(columns.iter())
                .map(|(v, c)| decode::value(c, v))
                .collect::<Result<Vec<_>>>()
                .map_err(Failure::Decode)?;
            rows.push(Row::new(columns.clone(), values));
        }
        sets.push(ResultSet {
            columns,
            rows,
            affected_rows: result.affected_rows(),
            last_insert_id: result.last_insert_id().filter(|id| *id != 0),
            warnings: result.warnings(),
        });
        if result.is_empty() {
            return Ok(sets);
        }
    }
}

fn abbreviate(sql: &str) -> &str {
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

#[async_trait]
impl Connector for DirectConnector {
    fn backend(&self) -> Backend {
        Backend::Direct
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        let mut conn = self.conn().await?;
        run_one(&mut conn, sql, params, Step::Statement, &self.shared.config).await
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<ResultSet>> {
        let mut conn = self.conn().await?;
        let config = &self.shared.config;
        run_one(&mut conn, "START TRANSACTION", &[], Step::Statement, config).await?;

        let mut results = Vec::with_capacity(statements.len());
        for (index, st) in statements.iter().enumerate() {
            if crate::sql::starts_transaction(&st.sql) {
                let _ = run_one(&mut conn, "ROLLBACK", &[], Step::InBatch, config).await;
                return Err(Error::batch(index, nested_begin()));
            }
            let outcome = run_one(&mut conn, &st.sql, &st.params, Step::InBatch, config)
                .await
                .and_then(|rs| {
                    if still_in_transaction(&conn) {
                        Ok(rs)
                    } else {
                        Err(ended_by_statement())
                    }
                });
            match outcome {
                Ok(rs) => results.push(rs),
                Err(e) => {
                    if !e.is_connection_lost() {
                        // The server keeps the transaction open after a statement error.
                        if run_one(&mut conn, "ROLLBACK", &[], Step::InBatch, config)
                            .await
                            .is_err()
                        {
                            // A connection that could not roll back must not be reused.
                            let _ = conn.disconnect().await;
                        }
                    }
                    return Err(Error::batch(index, e));
                }
            }
        }

        run_one(&mut conn, "COMMIT", &[], Step::BatchCommit, config).await?;
        Ok(results)
    }

    async fn begin(&self, options: TxOptions) -> Result<Transaction> {
        let mut conn = self.conn().await?;
        for sql in options.statements() {
            run_one(&mut conn, &sql, &[], Step::Statement, &self.shared.config).await?;
        }
        Ok(Transaction::new(
            Backend::Direct,
            Box::new(DirectTransaction {
                conn: Some(conn),
                shared: self.shared.clone(),
                ended: None,
            }),
        ))
    }

    async fn server_version(&self) -> Result<ServerVersion> {
        let version = self
            .shared
            .version
            .get_or_try_init(|| async {
                let rs = self.query("SELECT VERSION()", &[]).await?;
                let raw: String = rs
                    .first()
                    .ok_or_else(|| Error::protocol("SELECT VERSION() returned no row"))?
                    .try_get(0)?;
                Ok::<_, Error>(ServerVersion::parse(&raw))
            })
            .await?;
        Ok(version.clone())
    }

    async fn close(&self) -> Result<()> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // The pool waits for checked-out connections (open transactions) to come back; bound
        // that wait so close never hangs.
        let config = &self.shared.config;
        let disconnect = self.shared.pool.clone().disconnect();
        match tokio::time::timeout(config.connect_timeout(), disconnect).await {
            Ok(result) => result.map_err(|e| errors::map(e, Step::Statement, config)),
            Err(_) => Err(Error::timeout(
                "close (connections still checked out, e.g. open transactions)",
                config.connect_timeout(),
            )),
        }
    }
}

/// An open transaction holding one pooled connection.
struct DirectTransaction {
    conn: Option<Conn>,
    shared: Arc<Shared>,
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

/// Whether the server still reports an open transaction after the last statement (true when
/// it did not say).
fn still_in_transaction(conn: &Conn) -> bool {
    conn.last_ok_packet().is_none_or(|ok| {
        ok.status_flags()
            .contains(mysql_common::constants::StatusFlags::SERVER_STATUS_IN_TRANS)
    })
}

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

impl DirectTransaction {
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
        let result = run_one(conn, sql, params, step, &self.shared.config).await;
        match &result {
            Err(e) if e.is_connection_lost() => self.conn = None,
            Err(e) => {
                if let Some(code) = e.code().filter(|c| ROLLED_BACK.contains(c)) {
                    self.ended = Some(Ended::RolledBack(code));
                }
            }
            Ok(_) if step == Step::InTransaction && !still_in_transaction(conn) => {
                self.ended = Some(Ended::ByStatement);
            }
            Ok(_) => {}
        }
        result
    }
}

#[async_trait]
impl TransactionBackend for DirectTransaction {
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
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        // Roll back right away so locks are released; without a runtime, returning the
        // connection to the pool still resets it (COM_RESET_CONNECTION rolls back).
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if conn.query_drop("ROLLBACK").await.is_err() {
                    let _ = conn.disconnect().await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DirectConnector>();
        assert_send_sync::<Transaction>();
        assert_send_sync::<crate::Client>();
        assert_send_sync::<crate::Error>();
    }

    #[test]
    fn abbreviate_respects_char_boundaries() {
        let s = "é".repeat(150);
        assert!(abbreviate(&s).len() <= 200);
        assert_eq!(abbreviate("SELECT 1"), "SELECT 1");
    }
}
