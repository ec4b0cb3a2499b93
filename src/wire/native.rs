//! The wire client on native targets: tokio TCP, tokio-rustls, and where a Hyperdrive binding
//! is found outside a Worker.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::conn::{Conn, Fault, FaultResult, HandshakeOptions, Security};
use super::connector::{Dialer, Protocol, WireConnector};
use crate::config::{Backend, Config, SslMode};
use crate::error::{Error, Result};
use crate::session::Step;

/// The variable prefix wrangler uses for a Hyperdrive binding's local database.
pub(crate) const HYPERDRIVE_LOCAL_VAR: &str = "CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_";

/// `mysql://…?client=wire`: the direct path on the wire client.
pub(crate) async fn connect_direct(config: &Config) -> Result<WireConnector> {
    WireConnector::connect(
        config,
        Backend::Direct,
        Protocol::Binary,
        Box::new(NativeDialer::new(config)?),
    )
    .await
}

/// `hyperdrive://NAME` outside a Worker: the database in
/// `CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_NAME`, reached the way a Worker reaches
/// Hyperdrive (text protocol only, parameters bound on the client).
pub(crate) async fn connect_hyperdrive(config: &Config) -> Result<WireConnector> {
    let var = format!("{HYPERDRIVE_LOCAL_VAR}{}", config.host());
    let url = std::env::var(&var).map_err(|_| {
        Error::config(format!(
            "hyperdrive://{} outside a Worker needs {var} set to the database's \
             mysql://user:password@host:port/db url (as wrangler reads it for local \
             development), or use that mysql:// url directly",
            config.host()
        ))
    })?;
    let origin = Config::parse(&url)
        .map_err(|e| Error::config(format!("{var} is not a valid mysql:// url")).with_source(e))?;
    if origin.backend() != Backend::Direct {
        return Err(Error::config(format!(
            "{var} must hold a mysql:// url, not a {} one",
            origin.backend().name()
        )));
    }
    WireConnector::connect(
        &origin,
        Backend::Hyperdrive,
        Protocol::Text,
        Box::new(NativeDialer::new(&origin)?),
    )
    .await
}

struct NativeDialer {
    config: Config,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    warned_plaintext: AtomicBool,
}

impl NativeDialer {
    fn new(config: &Config) -> Result<Self> {
        crate::direct::warn_if_insecure(config);
        let tls = match config.tls().mode() {
            SslMode::Disabled => None,
            _ => Some(super::tls::connector(config)?),
        };
        Ok(NativeDialer {
            config: config.clone(),
            tls,
            warned_plaintext: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl Dialer for NativeDialer {
    async fn dial(&self) -> FaultResult<Conn> {
        let config = &self.config;
        let tcp = TcpStream::connect((config.host(), config.port())).await?;
        tcp.set_nodelay(true)?;

        let security = match config.tls().mode() {
            SslMode::Disabled => Security::Plain,
            SslMode::Preferred => Security::TlsIfOffered,
            _ => Security::Tls,
        };
        let options = HandshakeOptions {
            user: config.user(),
            password: config.password().expose(),
            database: config.database(),
            security,
            private_channel: false,
            max_packet: config.max_allowed_packet(),
        };
        let tls = self.tls.clone();
        let conn = Conn::handshake(
            tcp,
            |tcp| async move {
                let (connector, name) = tls.ok_or_else(|| {
                    std::io::Error::other("tls was not configured for this connection")
                })?;
                connector.connect(name, tcp).await
            },
            &options,
        )
        .await?;

        if security == Security::TlsIfOffered
            && !conn.is_tls()
            && !self.warned_plaintext.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                tidb_connect.backend = "direct",
                tidb_connect.host = config.host(),
                "server does not offer TLS; ssl-mode=preferred falls back to plaintext"
            );
        }
        Ok(conn)
    }

    fn connect_error(&self, fault: Fault) -> Error {
        let config = &self.config;
        match fault {
            Fault::Io(io) => crate::direct::errors::io_error(io, Step::Connect, config),
            Fault::Server(e) => {
                let code = e.code;
                let err = Error::server(e);
                match config.access_denied_hint() {
                    Some(hint) if code == crate::codes::ACCESS_DENIED => err.with_hint(hint),
                    _ => err,
                }
            }
            Fault::NoTls => Error::tls(format!(
                "{}:{} does not offer TLS; ssl-mode={} requires it",
                config.host(),
                config.port(),
                config.tls().mode()
            )),
            Fault::Other { error, .. } => error,
        }
    }
}
