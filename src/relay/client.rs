//! [`RelayConnector`]: the `Connector` that speaks the relay protocol over a [`Transport`].
//!
//! Against a tidb-connect relay (it answers with the `TiDB-Connect-Relay` header) statements
//! carry typed parameters bound on the server, batches run in one round trip, and
//! transactions are controlled by `action` fields. Against a server without the extension
//! (TiDB Cloud's own HTTP endpoint) only the standard subset is used: SQL text, `BEGIN` /
//! `COMMIT` / `ROLLBACK` through a session, and batches as a transaction of single requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::config::{Backend, Config};
use crate::connector::{Connector, Statement, Transaction, TransactionBackend, TxOptions};
use crate::error::{Error, Result};
use crate::relay::protocol::{
    self, BatchItem, BatchResponse, Capabilities, ErrorBody, SqlRequest, SqlResponse, TxAction,
    WireParam,
};
use crate::relay::transport::{HttpRequest, HttpResponse, Transport};
use crate::value::{ResultSet, Value};
use crate::version::ServerVersion;

const BACKEND: &str = "relay";

/// SQL over HTTP to a tidb-connect relay or TiDB Cloud's HTTP endpoint.
///
/// Cheap to clone; clones share the HTTP connection pool.
#[derive(Clone)]
pub struct RelayConnector {
    shared: Arc<Shared>,
}

struct Shared {
    transport: Box<dyn Transport>,
    config: Config,
    /// The server has our extensions (typed parameters, batches, actions).
    extensions: bool,
    version: OnceCell<ServerVersion>,
    closed: AtomicBool,
}

impl std::fmt::Debug for RelayConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConnector")
            .field("config", &self.shared.config)
            .field("extensions", &self.shared.extensions)
            .finish_non_exhaustive()
    }
}

impl RelayConnector {
    /// Connects natively over `relay+https://` or `relay+http://`.
    ///
    /// # Errors
    ///
    /// Configuration errors (e.g. `relay+vpc://` outside a Worker), connect errors, and
    /// access denied (1045) for wrong credentials.
    #[cfg(feature = "native")]
    pub async fn connect(config: &Config) -> Result<RelayConnector> {
        if config.relay_transport() == Some(crate::config::RelayTransport::Vpc) {
            return Err(Error::not_built(
                "relay+vpc:// works only inside a Cloudflare Worker, through the VPC service \
                 binding; outside a Worker use relay+https://host of the relay",
            ));
        }
        if config.relay_transport() == Some(crate::config::RelayTransport::Http)
            && !is_loopback(config.host())
        {
            tracing::warn!(
                tidb_connect.backend = BACKEND,
                tidb_connect.host = config.host(),
                "relay+http://: credentials and data cross the network in plaintext"
            );
        }
        let transport = crate::relay::transport::NativeTransport::new(config)?;
        Self::with_transport(config, Box::new(transport)).await
    }

    /// Connects over any [`Transport`] (the Workers backends pass a `fetch`-based one). Asks
    /// the server for its capabilities, which also checks the credentials.
    ///
    /// On wasm32 the transport holds JavaScript handles, which are neither `Send` nor `Sync`;
    /// the `Arc` is then only shared within the one thread a Worker has.
    ///
    /// # Errors
    ///
    /// Connect errors from the transport; access denied (1045) for wrong credentials.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub async fn with_transport(
        config: &Config,
        transport: Box<dyn Transport>,
    ) -> Result<RelayConnector> {
        let mut shared = Shared {
            transport,
            config: config.clone(),
            extensions: false,
            version: OnceCell::new(),
            closed: AtomicBool::new(false),
        };

        let response = shared
            .transport
            .send(shared.request("GET", protocol::CAPABILITIES_PATH, Vec::new(), None, &[]))
            .await?;
        let relay_version = response
            .header(protocol::RELAY_HEADER)
            .and_then(|v| v.trim().parse::<u32>().ok());
        match relay_version {
            Some(v) if v >= 1 && response.status == 200 => {
                let caps: Capabilities = serde_json::from_slice(&response.body)
                    .map_err(|e| Error::protocol("the relay's capabilities").with_source(e))?;
                shared.extensions = true;
                tracing::debug!(
                    tidb_connect.backend = BACKEND,
                    tidb_connect.host = config.host(),
                    tidb_connect.relay_version = caps.version,
                    tidb_connect.read_only = caps.read_only,
                    "connected to a tidb-connect relay"
                );
            }
            Some(_) => return Err(error_from(&response, false)),
            None => {
                // A server without our extension (TiDB Cloud's endpoint): check the
                // credentials with the cheapest statement there is.
                shared.extensions = false;
                let (resp, _) = shared
                    .post(
                        &SqlRequest {
                            query: "SELECT 1".to_owned(),
                            ..SqlRequest::default()
                        },
                        None,
                        &[],
                    )
                    .await?;
                drop(resp);
                tracing::debug!(
                    tidb_connect.backend = BACKEND,
                    tidb_connect.host = config.host(),
                    "connected to an http sql endpoint without relay extensions"
                );
            }
        }
        Ok(RelayConnector {
            shared: Arc::new(shared),
        })
    }

    /// Whether the server has the tidb-connect extensions (typed parameters, batches).
    pub fn has_extensions(&self) -> bool {
        self.shared.extensions
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(Error::usage(
                "the connector was closed; call connect() again for a new one",
            ));
        }
        Ok(())
    }
}

#[cfg(feature = "native")]
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Shared {
    fn request(
        &self,
        method: &'static str,
        path: &'static str,
        body: Vec<u8>,
        session: Option<&str>,
        extra: &[(&'static str, String)],
    ) -> HttpRequest {
        let config = &self.config;
        let mut headers = vec![
            (
                "Authorization",
                protocol::basic_auth(config.user(), config.password().expose()),
            ),
            (
                protocol::DATABASE_HEADER,
                config.database().unwrap_or_default().to_owned(),
            ),
            (
                protocol::SESSION_HEADER,
                session.unwrap_or_default().to_owned(),
            ),
            (
                protocol::RELAY_HEADER,
                protocol::EXTENSION_VERSION.to_string(),
            ),
            ("Content-Type", "application/json".to_owned()),
            (
                "User-Agent",
                concat!("tidb-connect/", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
        ];
        headers.extend(extra.iter().cloned());
        HttpRequest {
            method,
            path,
            headers,
            body,
        }
    }

    /// Posts one request; returns the body and the session token of a 2xx answer.
    async fn post(
        &self,
        body: &SqlRequest,
        session: Option<&str>,
        extra: &[(&'static str, String)],
    ) -> Result<(HttpResponse, Option<String>)> {
        let json = serde_json::to_vec(body)
            .map_err(|e| Error::usage("the request cannot be encoded").with_source(e))?;
        let request = self.request("POST", protocol::SQL_PATH, json, session, extra);
        let response = self.transport.send(request).await?;
        if !(200..300).contains(&response.status) {
            return Err(error_from(&response, session.is_some()));
        }
        let token = response
            .header(protocol::SESSION_HEADER)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok((response, token))
    }

    /// Runs one statement, in a session if given.
    async fn statement(
        &self,
        sql: &str,
        params: &[Value],
        session: Option<&str>,
    ) -> Result<(ResultSet, Option<String>)> {
        let request = if self.extensions {
            SqlRequest {
                query: sql.to_owned(),
                params: Some(params.iter().map(WireParam::encode).collect()),
                ..SqlRequest::default()
            }
        } else {
            SqlRequest {
                query: standard_text(sql, params)?,
                ..SqlRequest::default()
            }
        };
        tracing::debug!(
            tidb_connect.backend = BACKEND,
            tidb_connect.params = params.len(),
            tidb_connect.in_session = session.is_some(),
            "statement"
        );
        let (response, token) = self.post(&request, session, &[]).await?;
        let body: SqlResponse = serde_json::from_slice(&response.body)
            .map_err(|e| Error::protocol("the relay's answer is not a result").with_source(e))?;
        Ok((protocol::decode_result(body)?, token))
    }
}

/// The SQL text a server without the extension runs: parameters are bound on the client.
/// TiDB Cloud's endpoint runs with its default `sql_mode`, where a backslash in a string
/// literal escapes; the binder escapes for that.
fn standard_text(sql: &str, params: &[Value]) -> Result<String> {
    if params.is_empty() {
        return Ok(sql.to_owned());
    }
    crate::sql::bind::interpolate(sql, params, crate::sql::bind::Escaping::Backslash)
}

/// The error of a non-2xx answer.
fn error_from(response: &HttpResponse, in_transaction: bool) -> Error {
    match serde_json::from_slice::<ErrorBody>(&response.body) {
        Ok(body) => body.to_error(response.status, in_transaction),
        Err(_) => {
            let body = ErrorBody {
                code: u32::from(response.status),
                message: format!("http status {} without an error body", response.status),
                sql_state: None,
                kind: None,
                batch_index: None,
            };
            body.to_error(response.status, in_transaction)
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Connector for RelayConnector {
    fn backend(&self) -> Backend {
        Backend::Relay
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        self.check_open()?;
        // Several statements are refused before sending, as by the other backends.
        if crate::sql::has_multiple_statements(sql) {
            return Err(Error::unsupported(
                BACKEND,
                "the text holds several statements and query() runs one; send them one per call \
                 or together with batch()",
            ));
        }
        // A standalone request never carries a session, so the relay runs it on its own.
        self.shared
            .statement(sql, params, None)
            .await
            .map(|(rs, _)| rs)
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<ResultSet>> {
        self.check_open()?;
        if self.shared.extensions {
            let request = SqlRequest {
                batch: Some(
                    statements
                        .iter()
                        .map(|s| BatchItem {
                            query: s.sql.clone(),
                            params: s.params.iter().map(WireParam::encode).collect(),
                        })
                        .collect(),
                ),
                ..SqlRequest::default()
            };
            let (response, _) = self.shared.post(&request, None, &[]).await?;
            let body: BatchResponse = serde_json::from_slice(&response.body).map_err(|e| {
                Error::protocol("the relay's answer is not a batch result").with_source(e)
            })?;
            if body.results.len() != statements.len() {
                return Err(Error::protocol(format!(
                    "the relay answered {} results for {} statements",
                    body.results.len(),
                    statements.len()
                )));
            }
            return body
                .results
                .into_iter()
                .map(protocol::decode_result)
                .collect();
        }

        // The standard subset: one transaction of single requests.
        let mut tx = self.begin(TxOptions::default()).await?;
        let mut results = Vec::with_capacity(statements.len());
        for (index, st) in statements.iter().enumerate() {
            match tx.query(&st.sql, &st.params).await {
                Ok(rs) => results.push(rs),
                Err(e) => {
                    let _ = tx.rollback().await;
                    return Err(Error::batch(index, e));
                }
            }
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn begin(&self, options: TxOptions) -> Result<Transaction> {
        self.check_open()?;
        let mut extra = Vec::new();
        if let Some(level) = options.isolation {
            extra.push((protocol::ISOLATION_HEADER, level.as_sql().to_owned()));
        }
        let request = if self.shared.extensions {
            SqlRequest {
                action: Some(TxAction::Begin),
                read_only: options.read_only,
                ..SqlRequest::default()
            }
        } else {
            // The standard protocol pins a session on exactly `BEGIN`; a read-only
            // transaction cannot be asked for there.
            if options.read_only {
                return Err(Error::unsupported(
                    BACKEND,
                    "read-only transactions toward an http endpoint without tidb-connect \
                     extensions",
                ));
            }
            SqlRequest {
                query: "BEGIN".to_owned(),
                ..SqlRequest::default()
            }
        };
        let (_, token) = self.shared.post(&request, None, &extra).await?;
        let session = token.ok_or_else(|| {
            Error::protocol("the relay started a transaction without a session token")
        })?;
        Ok(Transaction::new(
            Backend::Relay,
            Box::new(RelayTransaction {
                shared: self.shared.clone(),
                session: Some(session),
            }),
        ))
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
        // Nothing to wait for: HTTP connections close when idle, sessions end with their
        // transactions.
        self.shared.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// A transaction pinned to a relay session.
struct RelayTransaction {
    shared: Arc<Shared>,
    /// The session token; `None` once the transaction ended.
    session: Option<String>,
}

impl RelayTransaction {
    fn session(&self) -> Result<&str> {
        self.session.as_deref().ok_or_else(|| {
            Error::usage("the transaction has ended; begin a new one").in_transaction()
        })
    }

    async fn end(&mut self, action: TxAction) -> Result<()> {
        let session = self.session()?.to_owned();
        let request = if self.shared.extensions {
            SqlRequest {
                action: Some(action),
                ..SqlRequest::default()
            }
        } else {
            SqlRequest {
                query: match action {
                    TxAction::Commit => "COMMIT",
                    _ => "ROLLBACK",
                }
                .to_owned(),
                ..SqlRequest::default()
            }
        };
        let outcome = self.shared.post(&request, Some(&session), &[]).await;
        // The relay releases the session whatever the outcome.
        self.session = None;
        match outcome {
            Ok(_) => Ok(()),
            // The request may have reached the relay and the commit may have run.
            Err(e)
                if action == TxAction::Commit
                    && e.is_connection_lost()
                    && !e.is_outcome_unknown()
                    && !e.is_lost_in_transaction() =>
            {
                Err(Error::outcome_unknown().with_source(e).in_transaction())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl TransactionBackend for RelayTransaction {
    async fn query(&mut self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        let session = self.session()?.to_owned();
        let (rs, _) = self
            .shared
            .statement(sql, params, Some(&session))
            .await
            .map_err(Error::in_transaction)?;
        Ok(rs)
    }

    async fn commit(&mut self) -> Result<()> {
        self.end(TxAction::Commit).await
    }

    async fn rollback(&mut self) -> Result<()> {
        self.end(TxAction::Rollback).await
    }

    fn abandon(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        // Roll back now so locks are released at once; without a runtime to do it in, the
        // relay rolls the session back after its idle timeout.
        #[cfg(feature = "native")]
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            handle.spawn(async move {
                let mut tx = RelayTransaction {
                    shared,
                    session: Some(session),
                };
                let _ = tx.end(TxAction::Rollback).await;
            });
        }
        // In a Worker the rollback request starts at once on the request's event loop.
        #[cfg(all(target_arch = "wasm32", feature = "worker"))]
        {
            let shared = self.shared.clone();
            worker::wasm_bindgen_futures::spawn_local(async move {
                let mut tx = RelayTransaction {
                    shared,
                    session: Some(session),
                };
                let _ = tx.end(TxAction::Rollback).await;
            });
        }
        #[cfg(not(any(feature = "native", all(target_arch = "wasm32", feature = "worker"))))]
        drop(session);
    }
}

#[cfg(all(test, feature = "native"))]
mod tests {
    use super::*;

    #[test]
    fn native_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RelayConnector>();
    }
}
