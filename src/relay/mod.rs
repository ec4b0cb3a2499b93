//! The relay backend: SQL over HTTP to a tidb-connect relay, or to TiDB Cloud's serverless HTTP
//! endpoint, which speaks the same protocol without our extensions.
//!
//! * [`protocol`]: the wire format (request and response bodies, values, errors); no IO, every
//!   target.
//! * [`transport`]: the one HTTP exchange the client needs ([`transport::Transport`]); the
//!   native implementation is on reqwest with rustls. A Worker plugs in a `fetch`-based one.
//! * `client`: [`RelayConnector`], the `Connector` on top.

pub(crate) mod client;
#[cfg(all(target_arch = "wasm32", feature = "worker"))]
pub(crate) mod fetch;
pub mod protocol;
pub mod transport;

pub use client::RelayConnector;
