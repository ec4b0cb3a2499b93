//! Maps mysql_async errors onto the crate's error, by the step that failed.

use std::io;

use mysql_async::{DriverError, IoError};

use crate::config::Config;
use crate::error::{Error, ServerError};
use crate::session::Step;

pub(super) fn map(e: mysql_async::Error, step: Step, config: &Config) -> Error {
    let err = match e {
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
            let cause = std::error::Error::source(&tls).and_then(|s| s.downcast_ref());
            Error::tls(tls_message(cause, config)).with_source(tls)
        }
        mysql_async::Error::Driver(d) => match d {
            DriverError::NoClientSslFlagFromServer => Error::tls(format!(
                "{}:{} does not offer TLS; ssl-mode={} requires it",
                config.host(),
                config.port(),
                config.tls().mode()
            )),
            DriverError::ConnectionClosed => step.lost(),
            DriverError::PoolDisconnected => Error::usage("the connector was closed"),
            DriverError::StmtParamsMismatch { required, supplied } => {
                Error::params_mismatch(usize::from(required), supplied)
            }
            DriverError::UnknownAuthPlugin { name } => Error::unsupported(
                "direct",
                format!("the server asked for the authentication plugin `{name}`"),
            ),
            other => Error::protocol(other.to_string()),
        },
        mysql_async::Error::Url(u) => Error::config(u.to_string()),
        mysql_async::Error::Other(o) => Error::protocol(o.to_string()),
    };
    step.tag(err)
}

pub(crate) fn io_error(io: io::Error, step: Step, config: &Config) -> Error {
    let target = format!("{}:{}", config.host(), config.port());
    match (step, io.kind()) {
        // tokio-rustls reports TLS alerts and certificate failures as InvalidData.
        (Step::Connect, io::ErrorKind::InvalidData) => {
            let cause = io.get_ref().and_then(|e| e.downcast_ref());
            Error::tls(tls_message(cause, config)).with_source(io)
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
        ) => Error::connect(format!(
            "connection closed during handshake with {target}; check that it is a MySQL or \
             TiDB port that accepts this client"
        ))
        .with_source(io),
        (Step::Connect, _) => Error::connect(format!(
            "cannot connect to {target}; check the host, the port and that the server is \
             reachable"
        ))
        .with_source(io),
        (step, _) => step.lost().with_source(io),
    }
}

/// Says what failed in the TLS handshake and how to fix it; rustls's own text stays in the
/// error's source.
fn tls_message(cause: Option<&rustls::Error>, config: &Config) -> String {
    use rustls::CertificateError as Cert;

    let host = config.tls().server_name().unwrap_or(config.host());
    let mode = config.tls().mode();
    match cause {
        Some(rustls::Error::InvalidCertificate(Cert::NotValidForNameContext {
            presented, ..
        })) => {
            let names = presented
                .iter()
                .map(|p| presented_name(p).unwrap_or(p))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "the certificate of {host} does not name it (ssl-mode={mode}); it names {names}: \
                 connect by that name or set tls-server-name=<name on the certificate>"
            )
        }
        Some(rustls::Error::InvalidCertificate(Cert::UnknownIssuer)) => format!(
            "the certificate of {host} is issued by an unknown CA (ssl-mode={mode}); trust the \
             CA with ssl-ca=/path/to/ca.pem"
        ),
        Some(rustls::Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. })) => {
            format!("the certificate of {host} has expired (ssl-mode={mode})")
        }
        _ => format!("handshake with {host} failed (ssl-mode={mode})"),
    }
}

/// The name inside rustls's rendering of a presented identity, e.g. `DnsName("db.internal")`.
pub(super) fn presented_name(presented: &str) -> Option<&str> {
    presented.strip_prefix("DnsName(\"")?.strip_suffix("\")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c04_access_denied_from_tidb_cloud_carries_a_hint() {
        let server_error = || {
            mysql_async::Error::Server(mysql_async::ServerError {
                code: 1045,
                message: "Access denied for user 'root'@'10.0.0.1' (using password: YES)".into(),
                state: "28000".into(),
            })
        };
        let cloud = Config::parse(
            "mysql://root:pw@tidb.abc123.clusters.tidbcloud.com:4000/test?ssl-mode=verify_identity",
        )
        .unwrap();
        let e = map(server_error(), Step::Connect, &cloud);
        assert_eq!(e.code(), Some(1045));
        assert!(e.is_connect() && !e.is_retryable());
        let shown = e.to_string();
        assert!(
            shown.contains("hint:") && shown.contains("<prefix>.root"),
            "{shown}"
        );
        assert!(!shown.contains("pw"), "{shown}");

        let local = Config::parse("mysql://root:pw@127.0.0.1:4000/test").unwrap();
        let e = map(server_error(), Step::Connect, &local);
        assert!(!e.to_string().contains("hint:"), "{e}");
    }
}
