//! Entry points inside a Cloudflare Worker (target `wasm32-unknown-unknown`, feature `worker`).
//!
//! A Worker reads its configuration from the environment it is given per request: the
//! `TIDB_URL` variable (a `[vars]` entry or a secret) selects the backend, and the bindings it
//! names (`hyperdrive://NAME`, `relay+vpc://…@NAME/db`) come from the same environment.

use crate::Client;
use crate::config::{Backend, Config, RelayTransport};
use crate::error::{Error, Result};
use crate::relay::RelayConnector;
use crate::relay::fetch::FetchTransport;

/// The variable (or secret) that holds the connection URL.
pub const URL_VAR: &str = "TIDB_URL";

/// Connects with the URL in the Worker's `TIDB_URL` variable or secret.
///
/// # Errors
///
/// A configuration error when `TIDB_URL` is missing or invalid, or when it names a binding the
/// environment does not have; otherwise the backend's connect errors.
pub async fn connect(env: &worker::Env) -> Result<Client> {
    let url = env
        .secret(URL_VAR)
        .map(|s| s.to_string())
        .or_else(|_| env.var(URL_VAR).map(|v| v.to_string()))
        .map_err(|_| {
            Error::config(format!(
                "the Worker has no {URL_VAR}: add it under [vars] in wrangler.toml, or as a \
                 secret (wrangler secret put {URL_VAR})"
            ))
        })?;
    connect_with(&Config::parse(&url)?, env).await
}

/// Connects with a configuration, taking the bindings it names from the Worker's environment.
///
/// # Errors
///
/// A configuration error when a named binding is missing; otherwise the backend's connect
/// errors.
pub async fn connect_with(config: &Config, env: &worker::Env) -> Result<Client> {
    match config.backend() {
        Backend::Direct => Ok(Client::from_connector(
            crate::wire::worker::connect_direct(config).await?,
        )),
        Backend::Hyperdrive => Ok(Client::from_connector(
            crate::wire::worker::connect_hyperdrive(config, env).await?,
        )),
        Backend::Relay => {
            let transport = match config.relay_transport() {
                Some(RelayTransport::Vpc) => FetchTransport::binding(config, env)?,
                _ => FetchTransport::global(config)?,
            };
            Ok(Client::from_connector(
                RelayConnector::with_transport(config, Box::new(transport)).await?,
            ))
        }
    }
}
