//! One connector to TiDB, whichever network path reaches it.
//!
//! ```no_run
//! use serde::Deserialize;
//! use tidb_connect::{Config, Connector, params};
//!
//! #[derive(Debug, Deserialize)]
//! struct Book {
//!     id: u64,
//!     title: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), tidb_connect::Error> {
//!     // mysql://<prefix>.root:<password>@gateway01.<region>.prod.aws.tidbcloud.com:4000/test
//!     let db = tidb_connect::connect(&Config::from_env()?).await?;
//!
//!     db.execute("CREATE TABLE IF NOT EXISTS books (id BIGINT UNSIGNED PRIMARY KEY, title TEXT)", &[])
//!         .await?;
//!     db.execute("REPLACE INTO books VALUES (?, ?)", &params![1u64, "Dune"]).await?;
//!
//!     let books: Vec<Book> = db.query("SELECT id, title FROM books", &[]).await?.decode()?;
//!     println!("{books:?}");
//!     Ok(())
//! }
//! ```
//!
//! The application names no backend: the URL in `TIDB_URL` does.
//!
//! | URL | backend | where | status |
//! |---|---|---|---|
//! | `mysql://…` / `tidb://…` | direct: MySQL protocol over TCP + TLS | native (mysql_async, or the crate's wire client with `client=wire`); Workers (wire client, StartTLS) | available |
//! | `hyperdrive://BINDING` | Cloudflare Hyperdrive: the wire client, text protocol, parameters bound on the client | Workers; natively from `CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_BINDING` | available |
//! | `relay+vpc://…@BINDING/db` | HTTP relay via a VPC service binding | Workers | available |
//! | `relay+https://…`, `relay+http://…` | HTTP relay / TiDB Cloud HTTP endpoint ([`RelayConnector`]) | native; Workers (global `fetch`) | available |
//!
//! In a Worker, connect with `tidb_connect::workers::connect(&env)` (feature `worker`, target
//! `wasm32-unknown-unknown`): it reads `TIDB_URL` and the bindings it names from the Worker's
//! environment.
//!
//! A backend that is not part of the build returns an error saying which feature or target
//! provides it ([`Error::is_unsupported`]).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `native` | yes | the direct backend on tokio with mysql_async and rustls (ring) |
//! | `worker` | no | the Cloudflare Workers backends on wasm32: the wire client over `worker::Socket`, Hyperdrive bindings, the relay over `fetch` |
//! | `relay-server` | no | the relay server (`relay_server::serve`, binary `tidb-connect-relay`) |
//!
//! # TLS
//!
//! TLS is on by default with `ssl-mode=verify_identity` against the public web roots.
//! `ssl-mode` takes `disabled | preferred | required | verify_ca | verify_identity`, and the
//! spellings other drivers use (`sslaccept=strict`, `sslrejectunauthorized=false`, `tls=true`,
//! `ssl=true`, `require_ssl=true`, `useSSL=…`, `verify_identity=false`) map onto those modes.
//! Contradictory or unknown parameters are errors. Hosts under `tidbcloud.com` are always
//! verified and never reached in plaintext. `ssl-ca=` trusts a CA file instead of the web roots;
//! `tls-server-name=` verifies (and sends as SNI) another name than the host. IP addresses are
//! never sent as SNI.
//!
//! # Limits per backend
//!
//! * direct (native): one statement per [`Connector::query`] call; several statements in one
//!   text run but are reported as unsupported. Parameters are bound on the server. Pooled
//!   connections are not reset when returned (that would drop prepared statements); one left
//!   inside a transaction (or, on the wire client, with an answer left unread) is closed
//!   instead. `client=wire` runs the same path on the crate's own client, as Workers do.
//! * hyperdrive: text protocol only; parameters are written into the SQL by
//!   [`interpolate`], with the escaping the session's `NO_BACKSLASH_ESCAPES` flag calls for.
//!   `USE`, `PREPARE`/`EXECUTE`/`DEALLOCATE` and several statements in one text are refused
//!   before sending ([`Error::is_unsupported`]).
//! * relay: toward a tidb-connect relay, parameters are bound on the relay's server side and
//!   batches take one round trip; toward an endpoint without the extension (TiDB Cloud's),
//!   parameters are bound on the client and batches are a transaction of single requests. The
//!   relay's limits (rows and bytes per answer, sessions per user, deadline) are typed errors
//!   ([`Error::is_limit_exceeded`], [`Error::is_session_expired`], [`Error::is_timeout`]).
//!
//! # Errors
//!
//! Every fallible call returns [`Error`]; ask it [`Error::is_retryable`],
//! [`Error::is_timeout`], [`Error::code`] and so on. Server errors keep errno, SQLSTATE and
//! message; TiDB's meaningful codes are in [`codes`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]
// Without a backend compiled in, the plumbing the backends share is unused.
#![cfg_attr(not(feature = "native"), allow(dead_code))]
// A Worker runs on one thread: its JavaScript handles are neither Send nor Sync, and `Arc`
// keeps one code path for both targets.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

mod config;
mod connector;
mod de;
mod error;
mod sql;
mod value;
mod version;

#[cfg(feature = "native")]
mod direct;
#[cfg(any(feature = "native", feature = "worker"))]
mod protocol;
#[cfg(any(feature = "native", feature = "worker"))]
pub mod relay;
#[cfg(feature = "relay-server")]
pub mod relay_server;
mod rt;
mod session;
#[cfg(any(feature = "native", feature = "worker"))]
mod wire;
#[cfg(all(feature = "worker", target_arch = "wasm32"))]
pub mod workers;

/// Internal decoders for the crate's own benches; not part of the API and not stable.
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod __bench {
    pub use crate::protocol::decode::bench::{Columns, binary_rows, columns, text_rows};
}

#[cfg(all(feature = "native", target_arch = "wasm32"))]
compile_error!(
    "feature `native` (tokio, mysql_async) does not build for wasm32: use \
     `default-features = false, features = [\"worker\"]` in a Cloudflare Worker"
);

use std::sync::Arc;

use async_trait::async_trait;

pub use config::{
    Backend, Config, ConfigBuilder, DEFAULT_PORT, RelayTransport, SslMode, TlsConfig, URL_ENV,
    is_tidb_cloud_host,
};
pub use connector::{
    Connector, IsolationLevel, MaybeSendSync, Statement, Transaction, TransactionBackend, TxOptions,
};
#[cfg(feature = "native")]
pub use direct::DirectConnector;
pub use error::{Error, Result, ServerError, codes};
#[cfg(any(feature = "native", feature = "worker"))]
pub use relay::RelayConnector;
pub use sql::bind::{Escaping, interpolate};
pub use value::{
    BINARY_CHARSET, Column, ColumnFlags, ColumnIndex, ColumnType, Date, DateTime, Decimal,
    ExecResult, ResultSet, Row, Time, Value,
};
pub use version::{ServerFlavor, ServerVersion};

/// A connection handle backed by whichever backend the configuration selects.
///
/// Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    inner: Arc<dyn Connector>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend", &self.inner.backend())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Wraps any connector, e.g. one built directly or a test double of the application's.
    pub fn from_connector(connector: impl Connector + 'static) -> Self {
        Client {
            inner: Arc::new(connector),
        }
    }
}

/// Connects through the backend the configuration selects.
///
/// # Errors
///
/// A configuration error when the backend is not available on this build or target (the
/// message names the feature or target that provides it); otherwise the backend's connect
/// errors.
pub async fn connect(config: &Config) -> Result<Client> {
    match config.backend() {
        #[cfg(feature = "native")]
        Backend::Direct if config.wire_client() => Ok(Client::from_connector(
            wire::native::connect_direct(config).await?,
        )),
        #[cfg(feature = "native")]
        Backend::Direct => Ok(Client::from_connector(
            DirectConnector::connect(config).await?,
        )),
        #[cfg(feature = "native")]
        Backend::Hyperdrive => Ok(Client::from_connector(
            wire::native::connect_hyperdrive(config).await?,
        )),
        #[cfg(not(feature = "native"))]
        Backend::Direct | Backend::Hyperdrive => Err(Error::not_built(format!(
            "{}:// needs a socket: enable feature `native` on tokio targets; in a Cloudflare \
             Worker (feature `worker`) connect with tidb_connect::workers::connect(&env)",
            config.backend().name()
        ))),
        Backend::Relay if config.relay_transport() == Some(RelayTransport::Vpc) => {
            Err(Error::not_built(
                "relay+vpc:// works only inside a Cloudflare Worker (target wasm32, feature \
                 `worker`), through the VPC service binding; outside a Worker use \
                 relay+https://host of the relay",
            ))
        }
        #[cfg(feature = "native")]
        Backend::Relay => Ok(Client::from_connector(
            RelayConnector::connect(config).await?,
        )),
        #[cfg(not(feature = "native"))]
        Backend::Relay => Err(Error::not_built(
            "relay+https:// and relay+http:// need an http transport: enable feature `native` \
             (tokio targets); in a Cloudflare Worker (feature `worker`) connect with \
             tidb_connect::workers::connect(&env)",
        )),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Connector for Client {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn query(&self, sql: &str, params: &[Value]) -> Result<ResultSet> {
        self.inner.query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<ExecResult> {
        self.inner.execute(sql, params).await
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<ResultSet>> {
        self.inner.batch(statements).await
    }

    async fn begin(&self, options: TxOptions) -> Result<Transaction> {
        self.inner.begin(options).await
    }

    async fn server_version(&self) -> Result<ServerVersion> {
        self.inner.server_version().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
