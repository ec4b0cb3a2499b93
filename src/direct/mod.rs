//! The direct backend on native targets: a mysql_async pool over rustls.
//!
//! Statements with parameters are prepared and bound on the server (binary protocol, with a
//! per-connection statement cache); statements without parameters use the text protocol,
//! one round trip each. Every checkout checks that the pooled socket is still open, and
//! connections older than `max-lifetime` are replaced.

pub(crate) mod errors;
mod opts;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mysql_async::prelude::{Protocol, Queryable};
use mysql_async::{Conn, Params, Pool, QueryResult};
use mysql_common::constants::StatusFlags;
use tokio::sync::OnceCell;

use crate::config::{Backend, Config, SslMode};
use crate::connector::{Connector, Statement, Transaction, TxOptions};
use crate::error::{Error, Result};
use crate::protocol::decode;
use crate::session::{self, SessionConn, Step, abbreviate};
use crate::value::{Column, ResultSet, Row, Value};
use crate::version::ServerVersion;

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
/// run on it in order, `BEGIN` and `COMMIT` included, until it is dropped. Its session may hold
/// anything (variables, an open transaction), so it is closed then, never returned to the pool.
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
        // A break inside a transaction the client opened on this connection loses it.
        let in_transaction = conn.last_ok_packet().is_some_and(|ok| {
            ok.status_flags()
                .contains(mysql_common::constants::StatusFlags::SERVER_STATUS_IN_TRANS)
        });
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

#[cfg(feature = "relay-server")]
impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = conn.disconnect().await;
                });
            }
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

// mysql_async cannot check the chain alone with current rustls (the wire client, `client=wire`,
// can: it has its own verifier), so the first connection learns a name instead.
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
    read_ca_file(ca).map(drop)
}

/// Reads an `ssl-ca` file that holds a certificate (PEM, or one DER certificate).
pub(crate) fn read_ca_file(ca: &std::path::Path) -> Result<Vec<u8>> {
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
    // A DER certificate is one ASN.1 SEQUENCE.
    let der = data.len() > 64 && data[0] == 0x30;
    if !pem && !der {
        return Err(Error::config(format!(
            "ssl-ca file {} holds no certificate (PEM with -----BEGIN CERTIFICATE-----, or DER)",
            ca.display()
        )));
    }
    Ok(data)
}

pub(crate) fn warn_if_insecure(config: &Config) {
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

/// Refuses, before anything is sent, what the server would reject or misread; returns the
/// parameters in wire form and the statement's size.
fn check_statement(
    sql: &str,
    params: &[Value],
    config: &Config,
) -> Result<(Vec<mysql_async::Value>, usize)> {
    let size = session::check_statement(sql, params, config, BACKEND)?;
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
        // A server closes the connection on a packet above its max_allowed_packet; the
        // sized step says so when the statement was large enough for that to be the cause.
        Err(Failure::Driver(e)) => return Err(errors::map(e, step.sized(size), config)),
        Err(Failure::Decode(e)) => return Err(e),
    };
    session::one_result(sets, sql, BACKEND)
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

#[async_trait]
impl Connector for DirectConnector {
    fn backend(&self) -> Backend {
        Backend::Direct
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        let mut conn = self.conn().await?;
        let result = run_one(&mut conn, sql, params, Step::Statement, &self.shared.config).await;
        // A `BEGIN` sent through query() would carry its transaction to the next user of
        // the pooled connection; closing the connection rolls it back.
        if conn.last_ok_packet().is_some_and(|ok| {
            ok.status_flags()
                .contains(StatusFlags::SERVER_STATUS_IN_TRANS)
        }) {
            let _ = conn.disconnect().await;
        }
        result
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<ResultSet>> {
        session::batch(&mut self.session().await?, statements).await
    }

    async fn begin(&self, options: TxOptions) -> Result<Transaction> {
        session::begin(self.session().await?, options, Backend::Direct).await
    }

    async fn server_version(&self) -> Result<ServerVersion> {
        let version = self
            .shared
            .version
            .get_or_try_init(|| crate::connector::select_version(self))
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

/// One checked-out connection, as the session layer drives it.
struct DirectConn {
    conn: Option<Conn>,
    shared: Arc<Shared>,
    broken: bool,
}

impl DirectConnector {
    async fn session(&self) -> Result<DirectConn> {
        Ok(DirectConn {
            conn: Some(self.conn().await?),
            shared: self.shared.clone(),
            broken: false,
        })
    }
}

#[async_trait]
impl SessionConn for DirectConn {
    async fn run(&mut self, sql: &str, params: &[Value], step: Step) -> Result<ResultSet> {
        let conn = self.conn.as_mut().ok_or_else(|| step.lost())?;
        let result = run_one(conn, sql, params, step, &self.shared.config).await;
        if result.as_ref().is_err_and(Error::is_connection_lost) {
            self.broken = true;
            self.conn = None;
        }
        result
    }

    fn in_transaction(&self) -> bool {
        self.conn.as_ref().is_none_or(|conn| {
            conn.last_ok_packet().is_none_or(|ok| {
                ok.status_flags()
                    .contains(StatusFlags::SERVER_STATUS_IN_TRANS)
            })
        })
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    fn discard(&mut self) {
        self.broken = true;
        if let Some(conn) = self.conn.take() {
            // Closing rather than returning it: the pool would hand it out again.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = conn.disconnect().await;
                });
            }
        }
    }

    fn abandon(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        // Roll back right away so locks are released; without a runtime nothing can be sent,
        // and the connection is dropped (mysql_async then closes it rather than pool it, as
        // it cannot clean it up either).
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
}
