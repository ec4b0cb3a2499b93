//! Maps mysql_async errors onto the crate's error, by the step that failed.

use std::io;

use mysql_async::{DriverError, IoError};

use crate::config::Config;
use crate::error::{Error, ServerError};

/// What was happening when an error occurred; decides what a broken connection means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// Opening a connection or checking one out of the pool.
    Connect,
    /// A statement outside a transaction.
    Statement,
    /// A statement inside a transaction.
    InTransaction,
    /// COMMIT.
    Commit,
}

pub(super) fn map(e: mysql_async::Error, step: Step, config: &Config) -> Error {
    let target = || format!("{}:{}", config.host(), config.port());
    match e {
        mysql_async::Error::Server(s) => {
            let code = s.code;
            let err = Error::server(ServerError {
                code: s.code,
                state: s.state,
                message: s.message,
            });
            match config.access_denied_hint() {
                Some(hint) if code == crate::codes::ACCESS_DENIED => err.with_hint(hint),
                _ => err,
            }
        }
        mysql_async::Error::Io(IoError::Io(io)) => io_error(io, step, config),
        mysql_async::Error::Io(IoError::Tls(tls)) => {
            let detail = tls.to_string();
            Error::tls(tls_message(&detail, config)).with_source(tls)
        }
        mysql_async::Error::Driver(d) => match d {
            DriverError::NoClientSslFlagFromServer => Error::tls(format!(
                "{} does not offer TLS; ssl-mode={} requires it",
                target(),
                config.tls().mode()
            )),
            DriverError::ConnectionClosed => lost(step),
            DriverError::PoolDisconnected => Error::connect("the connector was closed"),
            DriverError::StmtParamsMismatch { required, supplied } => Error::usage(format!(
                "the statement has {required} placeholders but {supplied} parameters were given"
            )),
            DriverError::PacketTooLarge => {
                Error::usage("the packet is larger than max_allowed_packet; send a smaller value")
            }
            DriverError::UnknownAuthPlugin { name } => Error::connect(format!(
                "the server asked for the unsupported authentication plugin `{name}`"
            )),
            other => Error::protocol(other.to_string()),
        },
        mysql_async::Error::Url(u) => Error::config(u.to_string()),
        mysql_async::Error::Other(o) => Error::protocol(o.to_string()),
    }
}

fn lost(step: Step) -> Error {
    match step {
        Step::Connect => Error::connect("connection closed during handshake"),
        Step::Statement => Error::connection_lost("a statement"),
        Step::InTransaction => Error::lost_in_transaction(),
        Step::Commit => Error::outcome_unknown(),
    }
}

fn io_error(io: io::Error, step: Step, config: &Config) -> Error {
    let target = format!("{}:{}", config.host(), config.port());
    match (step, io.kind()) {
        // tokio-rustls reports TLS alerts and certificate failures as InvalidData.
        (Step::Connect, io::ErrorKind::InvalidData) => {
            let detail = io.to_string();
            Error::tls(tls_message(&detail, config)).with_source(io)
        }
        (Step::Connect, io::ErrorKind::ConnectionRefused) => {
            Error::connect(format!("cannot connect to {target}: connection refused"))
                .with_source(io)
        }
        (
            Step::Connect,
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe,
        ) => Error::connect(format!("connection closed during handshake with {target}"))
            .with_source(io),
        (Step::Connect, _) => Error::connect(format!("cannot connect to {target}")).with_source(io),
        (step, _) => lost(step).with_source(io),
    }
}

fn tls_message(detail: &str, config: &Config) -> String {
    let host = config.tls().server_name().unwrap_or(config.host());
    let mut msg = format!(
        "handshake with {host} failed ({mode}): {detail}",
        mode = config.tls().mode()
    );
    if detail.contains("not valid for name") || detail.contains("NotValidForName") {
        msg.push_str(
            "; if the certificate names another host, connect by that name or set \
             tls-server-name=<name on the certificate>",
        );
    } else if detail.contains("UnknownIssuer") || detail.contains("unknown issuer") {
        msg.push_str("; trust the server's CA with ssl-ca=/path/to/ca.pem");
    }
    msg
}
