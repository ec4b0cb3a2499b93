//! The wire client inside a Cloudflare Worker: `worker::Socket` for TCP, the runtime's
//! `start_tls()` for MySQL's in-band TLS upgrade, and Hyperdrive bindings.

use async_trait::async_trait;
use worker::{Env, SecureTransport, Socket};

use super::conn::{Conn, Fault, FaultResult, HandshakeOptions, Security};
use super::connector::{Dialer, Protocol, WireConnector};
use crate::config::{Backend, Config, SslMode};
use crate::error::{Error, Result};
use crate::session::Step;

/// `mysql://` in a Worker: TCP through the runtime, TLS by StartTLS.
pub(crate) async fn connect_direct(config: &Config) -> Result<WireConnector> {
    if let Some(ca) = config.tls().ca() {
        return Err(Error::config(format!(
            "ssl-ca={} cannot be used in a Worker: the runtime verifies server certificates \
             against its own trust store (public CAs); remove ssl-ca, or reach a server with a \
             private CA through Hyperdrive or the relay",
            ca.display()
        )));
    }
    if config.tls().server_name().is_some() {
        return Err(Error::config(
            "tls-server-name cannot be used in a Worker: the runtime verifies the certificate \
             against the host in the url; connect by the name on the certificate",
        ));
    }
    let dialer = WorkerDialer {
        host: config.host().to_owned(),
        port: config.port(),
        user: config.user().to_owned(),
        password: config.password().expose().to_owned(),
        database: config.database().map(str::to_owned),
        security: match config.tls().mode() {
            SslMode::Disabled => Security::Plain,
            SslMode::Preferred => Security::TlsIfOffered,
            _ => Security::Tls,
        },
        private_channel: false,
        config: config.clone(),
    };
    WireConnector::connect(config, Backend::Direct, Protocol::Binary, Box::new(dialer)).await
}

/// `hyperdrive://NAME` in a Worker: the binding gives the address and credentials, and the
/// connection to it stays inside the runtime.
pub(crate) async fn connect_hyperdrive(config: &Config, env: &Env) -> Result<WireConnector> {
    let name = config.host();
    let binding = env.hyperdrive(name).map_err(|_| {
        Error::config(format!(
            "the Worker has no Hyperdrive binding {name}: add [[hyperdrive]] binding = \"{name}\" \
             with the configuration's id to wrangler.toml"
        ))
    })?;
    let database = binding.database();
    let dialer = WorkerDialer {
        host: binding.host(),
        port: binding.port(),
        user: binding.user(),
        password: binding.password(),
        database: (!database.is_empty()).then_some(database),
        // Hyperdrive's own endpoint is reached inside the runtime; when a local stand-in
        // offers TLS, it is used.
        security: Security::TlsIfOffered,
        private_channel: true,
        config: config.clone(),
    };
    WireConnector::connect(
        config,
        Backend::Hyperdrive,
        Protocol::Text,
        Box::new(dialer),
    )
    .await
}

struct WorkerDialer {
    host: String,
    port: u16,
    user: String,
    password: String,
    database: Option<String>,
    security: Security,
    private_channel: bool,
    config: Config,
}

fn js_error(e: worker::Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.to_string())
}

#[async_trait(?Send)]
impl Dialer for WorkerDialer {
    async fn dial(&self) -> FaultResult<Conn> {
        let transport = match self.security {
            Security::Plain => SecureTransport::Off,
            Security::Tls | Security::TlsIfOffered => SecureTransport::StartTls,
        };
        let socket = Socket::builder()
            .secure_transport(transport)
            .connect(self.host.clone(), self.port)
            .map_err(js_error)?;
        // Surfaces a refused or unreachable address here, not as a read error later.
        socket.opened().await.map_err(js_error)?;

        let options = HandshakeOptions {
            user: &self.user,
            password: &self.password,
            database: self.database.as_deref(),
            security: self.security,
            private_channel: self.private_channel,
            max_packet: self.config.max_allowed_packet(),
        };
        Conn::handshake(
            socket,
            |socket: Socket| async move { Ok::<_, std::io::Error>(socket.start_tls()) },
            &options,
        )
        .await
    }

    fn connect_error(&self, fault: Fault) -> Error {
        let target = format!("{}:{}", self.host, self.port);
        match fault {
            Fault::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Error::connect(format!("cannot connect to {target}: {io}"))
            }
            Fault::Io(io) => Step::Connect.lost().with_source(io),
            Fault::Server(e) => {
                let code = e.code;
                let err = Error::server(e);
                match self.config.access_denied_hint() {
                    Some(hint) if code == crate::codes::ACCESS_DENIED => err.with_hint(hint),
                    _ => err,
                }
            }
            Fault::NoTls => Error::tls(format!(
                "{target} does not offer TLS; ssl-mode={} requires it",
                self.config.tls().mode()
            )),
            Fault::Other { error, .. } => error,
        }
    }
}
