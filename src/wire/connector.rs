//! The [`Connector`] over the wire client, for the direct path (binary protocol allowed) and
//! the Hyperdrive path (text protocol only, parameters bound on the client).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::conn::{Conn, Fault, FaultResult};
use super::pool::{Checkout, Lease, Pool};
use crate::config::{Backend, Config};
use crate::connector::{Connector, MaybeSendSync, Statement, Transaction, TxOptions};
use crate::error::{Error, Result};
use crate::rt;
use crate::session::{self, SessionConn, Step, abbreviate};
use crate::sql::bind::interpolate;
use crate::value::{ResultSet, Value};
use crate::version::ServerVersion;

/// Opens connections for the pool: a TCP or Worker socket, the handshake, TLS as configured.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub(crate) trait Dialer: MaybeSendSync + 'static {
    /// Opens and authenticates one connection.
    async fn dial(&self) -> FaultResult<Conn>;

    /// Maps a failure to open a connection to the crate's error.
    fn connect_error(&self, fault: Fault) -> Error;
}

/// How statements travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// Statements with parameters are prepared and executed (binary protocol).
    Binary,
    /// Text only: parameters are written into the SQL on the client (Hyperdrive).
    Text,
}

/// A pool of wire-client connections.
#[derive(Clone)]
pub(crate) struct WireConnector {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    backend: Backend,
    protocol: Protocol,
    dialer: Box<dyn Dialer>,
    pool: Arc<Pool>,
    closed: AtomicBool,
    version: Mutex<Option<String>>,
}

impl std::fmt::Debug for WireConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireConnector")
            .field("backend", &self.shared.backend)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl WireConnector {
    /// Opens the pool and one connection, so a wrong address, certificate or password is
    /// reported here rather than at the first query.
    pub(crate) async fn connect(
        config: &Config,
        backend: Backend,
        protocol: Protocol,
        dialer: Box<dyn Dialer>,
    ) -> Result<WireConnector> {
        let connector = WireConnector {
            shared: Arc::new(Shared {
                config: config.clone(),
                backend,
                protocol,
                dialer,
                pool: Pool::new(config.pool_size(), config.max_lifetime()),
                closed: AtomicBool::new(false),
                version: Mutex::new(None),
            }),
        };
        drop(connector.session().await?);
        tracing::debug!(
            tidb_connect.backend = backend.name(),
            tidb_connect.host = config.host(),
            tidb_connect.tls = %config.tls().mode(),
            "connected"
        );
        Ok(connector)
    }

    /// Checks out a connection, opening one when none is idle, within the connect timeout.
    async fn session(&self) -> Result<WireSession> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(Error::usage(
                "the connector was closed; call connect() again for a new one",
            ));
        }
        let limit = shared.config.connect_timeout();
        let checkout = async {
            match shared.pool.checkout().await {
                Checkout::Pooled(lease) => Ok::<_, Error>(*lease),
                Checkout::Slot(slot) => {
                    let mut conn = shared
                        .dialer
                        .dial()
                        .await
                        .map_err(|f| shared.dialer.connect_error(f))?;
                    if let Some(setup) = shared.config.session_setup() {
                        conn.query(&setup)
                            .await
                            .map_err(|f| map_fault(f, Step::Connect))?;
                    }
                    let mut version = shared.version.lock().unwrap_or_else(|p| p.into_inner());
                    if version.is_none() {
                        *version = Some(conn.version().to_owned());
                    }
                    drop(version);
                    Ok(slot.fill(conn))
                }
            }
        };
        let lease = rt::timeout(limit, checkout).await.ok_or_else(|| {
            Error::timeout(
                format!(
                    "connect to {} (tcp, tls and mysql handshake, or waiting for a free pooled \
                     connection); raise connect-timeout for a slow network, or pool-size when \
                     all connections are busy",
                    shared.config.host()
                ),
                limit,
            )
        })??;
        Ok(WireSession {
            lease,
            shared: self.shared.clone(),
            broken: false,
        })
    }
}

/// Maps a statement's fault by the step it happened in.
fn map_fault(fault: Fault, step: Step) -> Error {
    let err = match fault {
        Fault::Io(io) => step.lost().with_source(io),
        Fault::Server(e) => Error::server(e),
        Fault::NoTls => Error::tls("the server does not offer TLS"),
        Fault::Other { error, .. } => error,
    };
    step.tag(err)
}

/// Statements that Hyperdrive refuses, refused before sending with what to do instead.
fn refused_on_hyperdrive(sql: &str) -> Option<Error> {
    let what = match crate::sql::first_keyword(sql).as_deref()? {
        "USE" => {
            "USE (changing the database): Hyperdrive keeps the database of its configuration; \
             qualify table names (db.table) or create a Hyperdrive configuration for the other \
             database"
        }
        "PREPARE" | "EXECUTE" | "DEALLOCATE" => {
            "PREPARE, EXECUTE and DEALLOCATE PREPARE: Hyperdrive takes only the text protocol; \
             pass parameters to query() or execute(), which binds them on the client"
        }
        _ => return None,
    };
    Some(Error::unsupported("hyperdrive", what))
}

/// One checked-out connection, as the session layer drives it.
struct WireSession {
    lease: Lease,
    shared: Arc<Shared>,
    broken: bool,
}

impl WireSession {
    async fn run_statement(&mut self, sql: &str, params: &[Value]) -> FaultResult<Vec<ResultSet>> {
        let protocol = self.shared.protocol;
        let cache = self.shared.config.statement_cache_size();
        let conn = self
            .lease
            .conn()
            .ok_or_else(|| Fault::Io(std::io::ErrorKind::NotConnected.into()))?;
        if params.is_empty() {
            conn.query(sql).await
        } else if protocol == Protocol::Text {
            let text = interpolate(sql, params, conn.escaping()).map_err(|error| Fault::Other {
                error,
                broken: false,
            })?;
            conn.query(&text).await
        } else {
            conn.execute(sql, params, cache).await
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl SessionConn for WireSession {
    async fn run(&mut self, sql: &str, params: &[Value], step: Step) -> Result<ResultSet> {
        let name = self.shared.backend.name();
        let size = session::check_statement(sql, params, &self.shared.config, name)
            .map_err(|e| step.tag(e))?;
        if self.shared.protocol == Protocol::Text {
            if let Some(refusal) = refused_on_hyperdrive(sql) {
                return Err(step.tag(refusal));
            }
        }
        tracing::debug!(
            tidb_connect.backend = name,
            tidb_connect.params = params.len(),
            sql = %abbreviate(sql),
            "statement"
        );

        let started = rt::now_ms();
        let outcome = self.run_statement(sql, params).await;
        if let Some(threshold) = self.shared.config.slow_statement_threshold() {
            let elapsed = rt::now_ms().saturating_sub(started);
            if u128::from(elapsed) >= threshold.as_millis() {
                tracing::warn!(
                    tidb_connect.backend = name,
                    elapsed_ms = elapsed,
                    sql = %abbreviate(sql),
                    "slow statement"
                );
            }
        }

        match outcome {
            Ok(sets) => session::one_result(sets, sql, name).map_err(|e| step.tag(e)),
            Err(fault) => {
                let broken = match &fault {
                    Fault::Io(_) => true,
                    Fault::Other { broken, .. } => *broken,
                    Fault::Server(_) | Fault::NoTls => false,
                };
                if broken || self.lease.conn_ref().is_none_or(Conn::is_broken) {
                    self.broken = true;
                    self.lease.discard();
                }
                Err(map_fault(fault, step.sized(size)))
            }
        }
    }

    fn in_transaction(&self) -> bool {
        self.lease.conn_ref().is_none_or(Conn::in_transaction)
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    fn discard(&mut self) {
        self.broken = true;
        self.lease.discard();
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Connector for WireConnector {
    fn backend(&self) -> Backend {
        self.shared.backend
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        self.session()
            .await?
            .run(sql, params, Step::Statement)
            .await
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<ResultSet>> {
        session::batch(&mut self.session().await?, statements).await
    }

    async fn begin(&self, options: TxOptions) -> Result<Transaction> {
        session::begin(self.session().await?, options, self.shared.backend).await
    }

    async fn server_version(&self) -> Result<ServerVersion> {
        let known = self
            .shared
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match known {
            Some(raw) => Ok(ServerVersion::parse(&raw)),
            None => {
                drop(self.session().await?);
                let raw = self
                    .shared
                    .version
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                Ok(ServerVersion::parse(raw.as_deref().unwrap_or_default()))
            }
        }
    }

    async fn close(&self) -> Result<()> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        for conn in self.shared.pool.close() {
            let limit = self.shared.config.connect_timeout();
            let _ = rt::timeout(limit, conn.quit()).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperdrive_refusals_name_the_alternative() {
        for sql in [
            "USE other_db",
            "use `x`",
            "PREPARE s FROM 'SELECT ?'",
            "EXECUTE s",
            "DEALLOCATE PREPARE s",
        ] {
            let e = refused_on_hyperdrive(sql).expect(sql);
            assert!(e.is_unsupported(), "{sql}");
            assert!(e.to_string().contains("hyperdrive"), "{e}");
        }
        for sql in ["SELECT 'USE x'", "/* USE */ SELECT 1", "SELECT 1"] {
            assert!(refused_on_hyperdrive(sql).is_none(), "{sql}");
        }
    }
}
