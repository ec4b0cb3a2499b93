//! The one error type of the crate.
//!
//! [`Error`] wraps a private kind. Callers ask it stable questions ([`Error::is_timeout`],
//! [`Error::is_retryable`], …) instead of matching on variants, so new failure modes can be added
//! without breaking anyone. Server errors keep their errno, SQLSTATE and message.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Server error numbers with a meaning callers act on.
///
/// TiDB's own codes come from its error catalogue; the MySQL ones are the ones TiDB shares.
pub mod codes {
    /// MySQL 1045: access denied (wrong user, password or host).
    pub const ACCESS_DENIED: u16 = 1045;
    /// MySQL 1062: duplicate entry for a unique key.
    pub const DUPLICATE_ENTRY: u16 = 1062;
    /// MySQL 1064: SQL syntax error.
    pub const SYNTAX_ERROR: u16 = 1064;
    /// MySQL 1146: the table does not exist.
    pub const NO_SUCH_TABLE: u16 = 1146;
    /// MySQL 1153: a packet was larger than the server's `max_allowed_packet`.
    pub const PACKET_TOO_LARGE: u16 = 1153;
    /// MySQL 1205: lock wait timeout; the statement may be retried.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// MySQL 1213: deadlock; the transaction was rolled back and may be retried.
    pub const DEADLOCK: u16 = 1213;
    /// MySQL 1273: unknown collation (TiDB refuses latin1 collations under its new framework).
    pub const UNKNOWN_COLLATION: u16 = 1273;
    /// TiDB 8002: `SELECT … FOR UPDATE` hit a write conflict; retry the transaction.
    pub const TIDB_WRITE_CONFLICT_FOR_UPDATE: u16 = 8002;
    /// TiDB 8025: a single entry is larger than the transaction entry size limit (6 MiB).
    pub const TIDB_ENTRY_TOO_LARGE: u16 = 8025;
    /// TiDB 8048: the isolation level is not supported (for example SERIALIZABLE).
    pub const TIDB_UNSUPPORTED_ISOLATION_LEVEL: u16 = 8048;
    /// TiDB 9007: write conflict in an optimistic transaction; retry the transaction.
    pub const TIDB_WRITE_CONFLICT: u16 = 9007;
}

/// An error returned by the server, with its number, SQLSTATE and message intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The MySQL/TiDB error number, e.g. 1062.
    pub code: u16,
    /// The five-character SQLSTATE, e.g. `23000`.
    pub state: String,
    /// The server's message, unchanged.
    pub message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server error {} ({}): {}",
            self.code, self.state, self.message
        )
    }
}

impl StdError for ServerError {}

/// The failure categories. Private so that adding one is not a breaking change.
#[derive(Debug)]
pub(crate) enum Kind {
    /// The configuration is invalid; the message says how to fix it.
    Config(Cow<'static, str>),
    /// A backend exists but is not compiled into this build or target.
    NotBuilt(Cow<'static, str>),
    /// The backend cannot do this operation.
    Unsupported {
        backend: &'static str,
        what: Cow<'static, str>,
    },
    /// Opening a connection failed (TCP, TLS or MySQL handshake).
    Connect(Cow<'static, str>),
    /// TLS negotiation or certificate verification failed.
    Tls(Cow<'static, str>),
    /// An operation ran past its deadline.
    Timeout {
        phase: Cow<'static, str>,
        after: Duration,
    },
    /// The server answered with an error packet.
    Server {
        error: ServerError,
        hint: Option<Cow<'static, str>>,
    },
    /// The connection broke while no transaction was open.
    ConnectionLost(Cow<'static, str>),
    /// The connection broke inside a transaction: the transaction is gone.
    LostInTransaction,
    /// The connection broke after COMMIT was sent and before its answer arrived.
    OutcomeUnknown,
    /// A value could not be converted.
    Decode {
        column: Option<String>,
        message: Cow<'static, str>,
    },
    /// The server sent something this client does not understand.
    Protocol(Cow<'static, str>),
    /// A statement failed inside a batch; the batch was rolled back.
    Batch { index: usize },
    /// The call itself was wrong (e.g. parameter count); nothing was sent.
    Usage(Cow<'static, str>),
    /// The relay no longer knows the session (idle timeout, relay restart, or already ended).
    SessionExpired(Cow<'static, str>),
    /// A request or its answer went past a limit of the relay (body, batch, rows, bytes,
    /// sessions); nothing was applied, unless the message says so.
    LimitExceeded(Cow<'static, str>),
    /// The relay refused the request before running it because it is busy or shutting down.
    Overloaded(Cow<'static, str>),
}

/// The error type of every fallible operation in this crate.
///
/// Ask it questions rather than matching on text:
///
/// ```
/// # fn handle(err: tidb_connect::Error) {
/// if err.is_retryable() {
///     // safe to try again: nothing was applied
/// } else if let Some(code) = err.code() {
///     eprintln!("server error {code}: {err}");
/// }
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
    /// Raised inside an interactive transaction: retrying the statement alone is never safe.
    in_transaction: bool,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                source: None,
                in_transaction: false,
            }),
        }
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// Marks an error raised inside an interactive transaction.
    pub(crate) fn in_transaction(mut self) -> Self {
        self.inner.in_transaction = true;
        self
    }

    pub(crate) fn config(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Config(message.into()))
    }

    pub(crate) fn not_built(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::NotBuilt(message.into()))
    }

    pub(crate) fn unsupported(backend: &'static str, what: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Unsupported {
            backend,
            what: what.into(),
        })
    }

    pub(crate) fn connect(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Connect(message.into()))
    }

    pub(crate) fn tls(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Tls(message.into()))
    }

    pub(crate) fn timeout(phase: impl Into<Cow<'static, str>>, after: Duration) -> Self {
        Self::new(Kind::Timeout {
            phase: phase.into(),
            after,
        })
    }

    pub(crate) fn server(error: ServerError) -> Self {
        Self::new(Kind::Server { error, hint: None })
    }

    pub(crate) fn connection_lost(step: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::ConnectionLost(step.into()))
    }

    pub(crate) fn lost_in_transaction() -> Self {
        Self::new(Kind::LostInTransaction)
    }

    pub(crate) fn outcome_unknown() -> Self {
        Self::new(Kind::OutcomeUnknown)
    }

    pub(crate) fn decode(column: Option<&str>, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Decode {
            column: column.map(str::to_owned),
            message: message.into(),
        })
    }

    pub(crate) fn protocol(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Protocol(message.into()))
    }

    pub(crate) fn usage(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Usage(message.into()))
    }

    pub(crate) fn session_expired(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::SessionExpired(message.into()))
    }

    pub(crate) fn limit_exceeded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::LimitExceeded(message.into()))
    }

    pub(crate) fn overloaded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Overloaded(message.into()))
    }

    /// The private kind, for the relay's wire form of errors.
    pub(crate) fn kind(&self) -> &Kind {
        &self.inner.kind
    }

    /// The wrapped cause of a batch error.
    pub(crate) fn batch_source(&self) -> Option<&Error> {
        self.batch_cause()
    }

    /// "the statement has 2 placeholders but 1 parameter was given".
    pub(crate) fn params_mismatch(placeholders: usize, given: usize) -> Self {
        let plural = |n: usize, noun: &str| {
            if n == 1 {
                format!("1 {noun}")
            } else {
                format!("{n} {noun}s")
            }
        };
        Error::usage(format!(
            "the statement has {} but {} {} given",
            plural(placeholders, "placeholder"),
            plural(given, "parameter"),
            if given == 1 { "was" } else { "were" }
        ))
    }

    pub(crate) fn batch(index: usize, cause: Error) -> Self {
        Self::new(Kind::Batch { index }).with_source(cause)
    }

    /// Adds a hint to a server error; other kinds are returned unchanged.
    pub(crate) fn with_hint(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        if let Kind::Server { hint, .. } = &mut self.inner.kind {
            *hint = Some(text.into());
        }
        self
    }

    /// The message without the category prefix, for embedding in another message.
    pub(crate) fn detail(&self) -> String {
        match &self.inner.kind {
            Kind::Decode { message, .. } => message.to_string(),
            _ => self.to_string(),
        }
    }

    /// Gives the column name to a decode error that lacks one.
    pub(crate) fn in_column(mut self, name: &str) -> Self {
        if let Kind::Decode { column, .. } = &mut self.inner.kind {
            if column.is_none() {
                *column = Some(name.to_owned());
            }
        }
        self
    }

    /// For a batch error: the failing statement's own error.
    fn batch_cause(&self) -> Option<&Error> {
        match self.inner.kind {
            Kind::Batch { .. } => self.inner.source.as_ref()?.downcast_ref::<Error>(),
            _ => None,
        }
    }

    /// The server error behind this error, looking through batch wrappers.
    pub fn server_error(&self) -> Option<&ServerError> {
        match &self.inner.kind {
            Kind::Server { error, .. } => Some(error),
            Kind::Batch { .. } => self.batch_cause().and_then(Error::server_error),
            _ => None,
        }
    }

    /// The server's error number (errno), if the server reported this error.
    pub fn code(&self) -> Option<u16> {
        self.server_error().map(|e| e.code)
    }

    /// The server's SQLSTATE, if the server reported this error.
    pub fn sql_state(&self) -> Option<&str> {
        self.server_error().map(|e| e.state.as_str())
    }

    /// The server's message, unchanged, if the server reported this error.
    pub fn server_message(&self) -> Option<&str> {
        self.server_error().map(|e| e.message.as_str())
    }

    /// The configuration (URL, builder or environment) is invalid or names a backend that is
    /// not available here. The message says what to change.
    pub fn is_config(&self) -> bool {
        matches!(self.inner.kind, Kind::Config(_) | Kind::NotBuilt(_))
    }

    /// Opening a connection failed: TCP, TLS, the MySQL handshake or authentication.
    pub fn is_connect(&self) -> bool {
        match &self.inner.kind {
            Kind::Connect(_) | Kind::Tls(_) => true,
            Kind::Timeout { phase, .. } => phase.starts_with("connect"),
            Kind::Server { error, .. } => error.code == codes::ACCESS_DENIED,
            _ => false,
        }
    }

    /// TLS negotiation or certificate verification failed.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner.kind, Kind::Tls(_))
    }

    /// An operation ran past its deadline (connect timeout, pool checkout, statement deadline).
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, Kind::Timeout { .. })
    }

    /// The operation is not available on this backend, build or target.
    pub fn is_unsupported(&self) -> bool {
        match &self.inner.kind {
            Kind::Unsupported { .. } | Kind::NotBuilt(_) => true,
            Kind::Server { error, .. } => error.code == codes::TIDB_UNSUPPORTED_ISOLATION_LEVEL,
            _ => false,
        }
    }

    /// The connection broke inside a transaction; the transaction is lost and must be redone
    /// from the start.
    pub fn is_lost_in_transaction(&self) -> bool {
        matches!(self.inner.kind, Kind::LostInTransaction)
    }

    /// The connection broke after COMMIT was sent: the transaction may or may not have been
    /// applied. Check with a query before trying again.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self.inner.kind, Kind::OutcomeUnknown)
    }

    /// The connection broke (outside or inside a transaction, or during COMMIT).
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::ConnectionLost(_) | Kind::LostInTransaction | Kind::OutcomeUnknown
        )
    }

    /// A value could not be converted to or from the requested type.
    pub fn is_decode(&self) -> bool {
        matches!(self.inner.kind, Kind::Decode { .. })
    }

    /// A unique key was violated (MySQL 1062).
    pub fn is_duplicate_key(&self) -> bool {
        self.code() == Some(codes::DUPLICATE_ENTRY)
    }

    /// A write conflict or deadlock: retrying the whole transaction may succeed.
    pub fn is_write_conflict(&self) -> bool {
        matches!(
            self.code(),
            Some(
                codes::TIDB_WRITE_CONFLICT
                    | codes::TIDB_WRITE_CONFLICT_FOR_UPDATE
                    | codes::DEADLOCK
                    | codes::LOCK_WAIT_TIMEOUT
            )
        )
    }

    /// Trying the same call again is safe because nothing can have been applied: connect
    /// failures, connect and pool checkout timeouts, and write conflicts or deadlocks of a
    /// single statement or a batch (the server rolled them back). Never true for an error
    /// inside an interactive transaction (retry the whole transaction when
    /// [`Error::is_write_conflict`] says so) or an interrupted COMMIT.
    pub fn is_retryable(&self) -> bool {
        if self.inner.in_transaction {
            return false;
        }
        match &self.inner.kind {
            Kind::Connect(_) | Kind::Overloaded(_) => true,
            Kind::Timeout { phase, .. } => phase.starts_with("connect"),
            Kind::Server { error, .. } => matches!(
                error.code,
                codes::TIDB_WRITE_CONFLICT
                    | codes::TIDB_WRITE_CONFLICT_FOR_UPDATE
                    | codes::DEADLOCK
            ),
            Kind::Batch { .. } => self.batch_cause().is_some_and(Error::is_retryable),
            _ => false,
        }
    }

    /// The relay no longer knows the session of this transaction: it was idle longer than the
    /// relay's session timeout, the relay restarted, or the session had already ended. The
    /// transaction was rolled back; begin a new one.
    pub fn is_session_expired(&self) -> bool {
        matches!(self.inner.kind, Kind::SessionExpired(_))
    }

    /// The request or its result went past a limit of the relay (request body, batch length,
    /// rows or bytes per response, sessions per user). The message names the limit.
    pub fn is_limit_exceeded(&self) -> bool {
        match &self.inner.kind {
            Kind::LimitExceeded(_) => true,
            Kind::Batch { .. } => self.batch_cause().is_some_and(Error::is_limit_exceeded),
            _ => false,
        }
    }

    /// The relay refused the request before running it because it is busy or shutting down;
    /// trying again later is safe ([`Error::is_retryable`] is true).
    pub fn is_overloaded(&self) -> bool {
        matches!(self.inner.kind, Kind::Overloaded(_))
    }

    /// For a failed batch: the zero-based index of the statement that failed.
    pub fn batch_index(&self) -> Option<usize> {
        match self.inner.kind {
            Kind::Batch { index } => Some(index),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.kind {
            Kind::Config(m) => write!(f, "invalid configuration: {m}"),
            Kind::NotBuilt(m) => write!(f, "backend not available in this build: {m}"),
            Kind::Unsupported { backend, what } => write!(f, "unsupported on {backend}: {what}"),
            Kind::Connect(m) => write!(f, "{m}"),
            Kind::Tls(m) => write!(f, "tls: {m}"),
            Kind::Timeout { phase, after } => {
                write!(f, "timed out after {} during {phase}", fmt_duration(*after))
            }
            Kind::Server { error, hint } => {
                write!(f, "{error}")?;
                if let Some(hint) = hint {
                    write!(f, "; hint: {hint}")?;
                }
                Ok(())
            }
            Kind::ConnectionLost(step) => write!(f, "connection lost during {step}"),
            Kind::LostInTransaction => write!(
                f,
                "connection lost in transaction: the transaction was rolled back by the server \
                 and nothing was retried"
            ),
            Kind::OutcomeUnknown => write!(
                f,
                "commit outcome unknown: the connection broke after COMMIT was sent; check \
                 whether the changes were applied before retrying"
            ),
            Kind::Decode {
                column: Some(c),
                message,
            } => write!(f, "cannot decode column `{c}`: {message}"),
            Kind::Decode {
                column: None,
                message,
            } => write!(f, "cannot decode value: {message}"),
            Kind::Protocol(m) => write!(f, "protocol error: {m}"),
            Kind::Batch { index } => {
                write!(
                    f,
                    "batch statement {index} failed; the batch was rolled back"
                )
            }
            Kind::Usage(m) => write!(f, "invalid call: {m}"),
            Kind::SessionExpired(m) => write!(f, "session expired: {m}"),
            Kind::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            Kind::Overloaded(m) => write!(f, "relay overloaded: {m}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

fn fmt_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) && d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d >= Duration::from_millis(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}µs", d.as_micros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> Error {
        Error::server(ServerError {
            code,
            state: "HY000".into(),
            message: "boom".into(),
        })
    }

    #[test]
    fn server_errors_keep_their_fields() {
        let e = Error::server(ServerError {
            code: 1062,
            state: "23000".into(),
            message: "Duplicate entry '1' for key 'PRIMARY'".into(),
        });
        assert_eq!(e.code(), Some(1062));
        assert_eq!(e.sql_state(), Some("23000"));
        assert!(e.is_duplicate_key());
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "server error 1062 (23000): Duplicate entry '1' for key 'PRIMARY'"
        );
    }

    #[test]
    fn tidb_codes_have_meaning() {
        assert!(server(codes::TIDB_WRITE_CONFLICT).is_write_conflict());
        assert!(server(codes::TIDB_WRITE_CONFLICT).is_retryable());
        assert!(server(codes::TIDB_WRITE_CONFLICT_FOR_UPDATE).is_retryable());
        assert!(server(codes::TIDB_UNSUPPORTED_ISOLATION_LEVEL).is_unsupported());
        assert!(!server(codes::TIDB_ENTRY_TOO_LARGE).is_retryable());
        assert_eq!(server(codes::TIDB_ENTRY_TOO_LARGE).code(), Some(8025));
    }

    #[test]
    fn wrappers_leave_the_cause_to_source() {
        let e = Error::batch(2, server(1064));
        assert_eq!(
            e.to_string(),
            "batch statement 2 failed; the batch was rolled back"
        );
        assert_eq!(e.code(), Some(1064));
        assert_eq!(e.batch_index(), Some(2));
        let cause = e.source().expect("cause");
        assert!(cause.to_string().contains("1064"));
    }

    #[test]
    fn messages_are_lowercase_without_period() {
        let samples = [
            Error::config("unknown parameter `x`"),
            Error::timeout("connect", Duration::from_secs(2)),
            Error::lost_in_transaction(),
            Error::outcome_unknown(),
            Error::unsupported("hyperdrive", "prepared statements"),
            Error::decode(Some("d"), "zero date"),
        ];
        for e in samples {
            let s = e.to_string();
            assert!(s.chars().next().unwrap().is_lowercase(), "{s}");
            assert!(!s.ends_with('.'), "{s}");
        }
    }

    #[test]
    fn write_conflicts_are_retryable_only_outside_transactions() {
        assert!(server(codes::DEADLOCK).is_retryable());
        assert!(!server(codes::DEADLOCK).in_transaction().is_retryable());
        assert!(server(codes::DEADLOCK).in_transaction().is_write_conflict());
        // A batch is rolled back as a whole, so a conflict inside it can be retried.
        assert!(Error::batch(1, server(codes::TIDB_WRITE_CONFLICT)).is_retryable());
        assert!(!Error::batch(1, Error::lost_in_transaction()).is_retryable());
        assert!(!Error::usage("the connector was closed").is_retryable());
    }

    #[test]
    fn outcome_unknown_is_never_retryable() {
        assert!(!Error::outcome_unknown().is_retryable());
        assert!(!Error::lost_in_transaction().is_retryable());
        assert!(Error::outcome_unknown().is_connection_lost());
    }
}
