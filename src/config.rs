//! Configuration: one URL (or a builder) selects the backend and its settings.
//!
//! The grammar and the TLS rules are described in the crate documentation and the README. The
//! URL parser only splits the string; every rule lives in [`ConfigBuilder::build`], so a URL and
//! a builder can never disagree.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// The environment variable [`Config::from_env`] reads.
pub const URL_ENV: &str = "TIDB_URL";

/// Default port of TiDB (and of every `mysql://` URL without one).
pub const DEFAULT_PORT: u16 = 4000;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_POOL_SIZE: usize = 10;
const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(5 * 60);
const DEFAULT_STMT_CACHE: usize = 64;
const MAX_POOL_SIZE: usize = 10_000;
const MAX_DURATION: Duration = Duration::from_secs(60 * 60);
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// TiDB's default `max_allowed_packet` (64 MiB).
const DEFAULT_MAX_ALLOWED_PACKET: usize = 64 * 1024 * 1024;
/// The largest `max_allowed_packet` MySQL and TiDB accept (1 GiB).
const MAX_MAX_ALLOWED_PACKET: usize = 1024 * 1024 * 1024;

/// Which network path a configuration selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// MySQL protocol over TCP and TLS to the server (`mysql://`, `tidb://`).
    Direct,
    /// A Cloudflare Hyperdrive binding (`hyperdrive://BINDING`).
    Hyperdrive,
    /// SQL over HTTP to a tidb-connect relay or TiDB Cloud's HTTP endpoint (`relay+…://`).
    Relay,
}

impl Backend {
    /// The backend's name as used in errors and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Direct => "direct",
            Backend::Hyperdrive => "hyperdrive",
            Backend::Relay => "relay",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the relay backend reaches its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RelayTransport {
    /// Through a Workers VPC service binding (`relay+vpc://`); Workers only.
    Vpc,
    /// HTTPS (`relay+https://`).
    Https,
    /// Plain HTTP (`relay+http://`), for a relay on the same host or a trusted network.
    Http,
}

/// The TLS policy of a connection, with the names MySQL's own client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SslMode {
    /// Never use TLS. Refused toward TiDB Cloud hosts.
    Disabled,
    /// Use TLS when the server offers it, without verifying the certificate; otherwise connect
    /// in plaintext and log one warning.
    Preferred,
    /// Require TLS, without verifying the certificate (logged as a warning).
    Required,
    /// Require TLS and a certificate chain to a trusted CA, without checking the host name.
    VerifyCa,
    /// Require TLS, a trusted chain and a certificate naming the host. The default.
    VerifyIdentity,
}

impl SslMode {
    /// The canonical spelling, as accepted by `ssl-mode=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }

    /// Whether the certificate chain is checked.
    pub fn verifies_chain(self) -> bool {
        self >= SslMode::VerifyCa
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match normalize(s).as_str() {
            "disabled" | "disable" => Ok(SslMode::Disabled),
            "preferred" | "prefer" => Ok(SslMode::Preferred),
            "required" | "require" => Ok(SslMode::Required),
            "verifyca" => Ok(SslMode::VerifyCa),
            "verifyidentity" | "verifyfull" => Ok(SslMode::VerifyIdentity),
            _ => Err(Error::config(format!(
                "unknown ssl-mode `{s}`; accepted: disabled, preferred, required, verify_ca, \
                 verify_identity"
            ))),
        }
    }
}

/// A password or token. Never printed by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("<empty>")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// TLS settings after every rule was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    mode: SslMode,
    ca: Option<PathBuf>,
    server_name: Option<String>,
    loosened_by: Option<String>,
}

impl TlsConfig {
    /// The effective mode.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// The custom CA file (`ssl-ca=`), if any. Without it the public web roots are trusted.
    pub fn ca(&self) -> Option<&std::path::Path> {
        self.ca.as_deref()
    }

    /// The name checked against the certificate and sent as SNI instead of the host
    /// (`tls-server-name=`).
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The parameter that loosened verification, when one did (logged as a warning).
    pub fn loosened_by(&self) -> Option<&str> {
        self.loosened_by.as_deref()
    }
}

/// A parsed, validated connection configuration.
///
/// Build one from a URL ([`Config::parse`], [`Config::from_env`], `str::parse`) or with
/// [`Config::builder`]. `Debug` and `Display` never show the password.
#[derive(Clone)]
pub struct Config {
    backend: Backend,
    relay_transport: Option<RelayTransport>,
    host: String,
    port: u16,
    user: String,
    password: Secret,
    database: Option<String>,
    tls: TlsConfig,
    connect_timeout: Duration,
    pool_size: usize,
    pool_min: usize,
    max_lifetime: Duration,
    time_zone: Option<String>,
    sql_mode: Option<String>,
    statement_cache_size: usize,
    slow_statement_threshold: Option<Duration>,
    max_allowed_packet: usize,
    wire_client: bool,
}

impl Config {
    /// Parses a connection URL.
    ///
    /// ```
    /// use tidb_connect::{Config, SslMode};
    ///
    /// let cfg = Config::parse(
    ///     "mysql://2bW8.root:s%40cret@gateway01.eu-central-1.prod.aws.tidbcloud.com:4000/test",
    /// )?;
    /// assert_eq!(cfg.user(), "2bW8.root");
    /// assert_eq!(cfg.tls().mode(), SslMode::VerifyIdentity);
    /// assert!(!format!("{cfg:?}").contains("s@cret"));
    /// # Ok::<(), tidb_connect::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A configuration error naming the fix: unknown scheme or parameter, contradictory TLS
    /// settings, plaintext toward TiDB Cloud, a malformed host, port or value.
    pub fn parse(url: &str) -> Result<Config> {
        parse_url(url)?.build()
    }

    /// Reads the URL from the `TIDB_URL` environment variable.
    ///
    /// # Errors
    ///
    /// A configuration error if the variable is unset or not valid UTF-8, or any error of
    /// [`Config::parse`].
    pub fn from_env() -> Result<Config> {
        Self::from_env_var(URL_ENV)
    }

    /// Reads the URL from the named environment variable.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_env_var(name: &str) -> Result<Config> {
        match std::env::var(name) {
            Ok(url) => Config::parse(&url),
            Err(std::env::VarError::NotPresent) => Err(Error::config(format!(
                "{name} is not set; set it to a connection url such as \
                 mysql://<prefix>.root:<password>@<host>:4000/<database>"
            ))),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Error::config(format!("{name} is not valid utf-8")))
            }
        }
    }

    /// Starts a builder for the given backend.
    pub fn builder(backend: Backend) -> ConfigBuilder {
        ConfigBuilder::new(backend)
    }

    /// The backend this configuration selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For the relay backend: how it reaches the relay.
    pub fn relay_transport(&self) -> Option<RelayTransport> {
        self.relay_transport
    }

    /// The server host, or the binding name for `hyperdrive://` and `relay+vpc://`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name, percent-decoded.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether a non-empty password is set. The password itself is not readable.
    pub fn has_password(&self) -> bool {
        !self.password.is_empty()
    }

    pub(crate) fn password(&self) -> &Secret {
        &self.password
    }

    /// The default database, if any.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    /// Deadline for opening a connection (TCP, TLS and MySQL handshake) and for waiting for a
    /// free pooled connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Maximum number of pooled connections.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    /// Number of connections the pool keeps open when idle.
    pub fn pool_min(&self) -> usize {
        self.pool_min
    }

    /// Age after which a pooled connection is closed and replaced.
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    /// Session time zone set on every connection, if configured.
    pub fn time_zone(&self) -> Option<&str> {
        self.time_zone.as_deref()
    }

    /// Session `sql_mode` set on every connection, if configured.
    pub fn sql_mode(&self) -> Option<&str> {
        self.sql_mode.as_deref()
    }

    /// Whether `mysql://` runs on the crate's own wire client natively (URL parameter
    /// `client=wire`), the client that Workers always use, instead of mysql_async.
    pub fn wire_client(&self) -> bool {
        self.wire_client
    }

    /// Prepared statements cached per connection.
    pub fn statement_cache_size(&self) -> usize {
        self.statement_cache_size
    }

    /// Statements slower than this are logged at warn level.
    pub fn slow_statement_threshold(&self) -> Option<Duration> {
        self.slow_statement_threshold
    }

    /// The largest statement (SQL text plus parameters) sent; larger ones are refused before
    /// sending, because a server closes the connection on a packet above its own limit.
    pub fn max_allowed_packet(&self) -> usize {
        self.max_allowed_packet
    }

    /// Whether the host is a TiDB Cloud endpoint (`*.tidbcloud.com`).
    pub fn is_tidb_cloud(&self) -> bool {
        is_tidb_cloud_host(&self.host)
    }

    /// The session statements every new connection runs, as documented: none unless the
    /// configuration sets a time zone or sql_mode, then one `SET`.
    pub fn session_setup(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(tz) = &self.time_zone {
            parts.push(format!("time_zone = '{tz}'"));
        }
        if let Some(mode) = &self.sql_mode {
            parts.push(format!("sql_mode = '{mode}'"));
        }
        (!parts.is_empty()).then(|| format!("SET {}", parts.join(", ")))
    }

    /// A hint for an access-denied error toward TiDB Cloud, where the usual causes are known.
    pub(crate) fn access_denied_hint(&self) -> Option<&'static str> {
        if !self.is_tidb_cloud() {
            return None;
        }
        if self.password.is_empty() {
            Some(
                "the password is empty; TiDB Cloud requires one: put it in the url as \
                 user:password@host, percent-encoded",
            )
        } else if !self.user.contains('.') {
            Some(
                "TiDB Cloud Serverless user names carry the cluster prefix, like \
                 '<prefix>.root'; copy the user from the cluster's connect dialog",
            )
        } else {
            Some(
                "check the user and password in the cluster's connect dialog; special \
                 characters in the password must be percent-encoded in the url",
            )
        }
    }
}

impl FromStr for Config {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Config::parse(s)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("backend", &self.backend)
            .field("relay_transport", &self.relay_transport)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("database", &self.database)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_size", &self.pool_size)
            .field("pool_min", &self.pool_min)
            .field("max_lifetime", &self.max_lifetime)
            .field("time_zone", &self.time_zone)
            .field("sql_mode", &self.sql_mode)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("slow_statement_threshold", &self.slow_statement_threshold)
            .field("max_allowed_packet", &self.max_allowed_packet)
            .finish()
    }
}

/// Shows the configuration as a URL with the password replaced by `***`.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.backend, self.relay_transport) {
            (Backend::Direct, _) => "mysql",
            (Backend::Hyperdrive, _) => "hyperdrive",
            (Backend::Relay, Some(RelayTransport::Vpc)) => "relay+vpc",
            (Backend::Relay, Some(RelayTransport::Http)) => "relay+http",
            (Backend::Relay, _) => "relay+https",
        };
        write!(f, "{scheme}://")?;
        if self.backend == Backend::Hyperdrive {
            return f.write_str(&self.host);
        }
        if !self.user.is_empty() {
            write!(
                f,
                "{}",
                percent_encoding::utf8_percent_encode(&self.user, USERINFO)
            )?;
            if !self.password.is_empty() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if self.relay_transport != Some(RelayTransport::Vpc) {
            write!(f, ":{}", self.port)?;
        }
        if let Some(db) = &self.database {
            write!(f, "/{db}")?;
        }
        if self.backend == Backend::Direct {
            write!(f, "?ssl-mode={}", self.tls.mode)?;
            if let Some(ca) = &self.tls.ca {
                write!(f, "&ssl-ca={}", ca.display())?;
            }
            if let Some(name) = &self.tls.server_name {
                write!(f, "&tls-server-name={name}")?;
            }
        }
        Ok(())
    }
}

/// Characters percent-encoded when a user name is shown in a URL.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b':')
    .add(b'@')
    .add(b'/')
    .add(b'?')
    .add(b'#');

/// Whether a host name belongs to TiDB Cloud, where verified TLS is mandatory.
pub fn is_tidb_cloud_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "tidbcloud.com" || host.ends_with(".tidbcloud.com")
}

/// One TLS-related request, remembered with the spelling the user wrote.
#[derive(Debug, Clone)]
struct TlsRequest {
    spelling: String,
    what: TlsWant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsWant {
    /// A full mode (`ssl-mode=`, `sslaccept=`, …).
    Mode(SslMode),
    /// At least this strict: "TLS on" switches (`ssl=true`, `tls=true`) and verification
    /// switches set to true (`ssl_verify_cert=true`). They never weaken the default.
    AtLeast(SslMode),
    /// At most this strict: verification switches set to false (`verify_identity=false`).
    AtMost(SslMode),
}

/// Builds a [`Config`] field by field; [`ConfigBuilder::build`] applies every rule.
///
/// ```
/// use std::time::Duration;
/// use tidb_connect::{Backend, Config, SslMode};
///
/// let cfg = Config::builder(Backend::Direct)
///     .host("127.0.0.1")
///     .port(4000)
///     .user("4zX9.root")
///     .password("secret")
///     .database("test")
///     .ssl_mode(SslMode::VerifyIdentity)
///     .ssl_ca("/etc/ssl/tidb-ca.pem")
///     .connect_timeout(Duration::from_secs(3))
///     .build()?;
/// assert_eq!(cfg.port(), 4000);
/// # Ok::<(), tidb_connect::Error>(())
/// ```
#[derive(Clone)]
pub struct ConfigBuilder {
    backend: Backend,
    relay_transport: Option<RelayTransport>,
    host: Option<String>,
    port: Option<u16>,
    user: String,
    password: Secret,
    database: Option<String>,
    tls_requests: Vec<TlsRequest>,
    ssl_ca: Option<PathBuf>,
    tls_server_name: Option<String>,
    connect_timeout: Duration,
    pool_size: usize,
    pool_min: usize,
    max_lifetime: Duration,
    time_zone: Option<String>,
    sql_mode: Option<String>,
    statement_cache_size: usize,
    slow_statement_threshold: Option<Duration>,
    max_allowed_packet: usize,
    wire_client: bool,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("backend", &self.backend)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    fn new(backend: Backend) -> Self {
        ConfigBuilder {
            backend,
            relay_transport: (backend == Backend::Relay).then_some(RelayTransport::Https),
            host: None,
            port: None,
            user: String::new(),
            password: Secret::default(),
            database: None,
            tls_requests: Vec::new(),
            ssl_ca: None,
            tls_server_name: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
            pool_min: 0,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            time_zone: None,
            sql_mode: None,
            statement_cache_size: DEFAULT_STMT_CACHE,
            slow_statement_threshold: None,
            max_allowed_packet: DEFAULT_MAX_ALLOWED_PACKET,
            wire_client: false,
        }
    }

    /// The server host (or the binding name for `hyperdrive` and relay over VPC).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// The binding name, for `hyperdrive` and relay over a VPC service binding.
    pub fn binding(self, name: impl Into<String>) -> Self {
        self.host(name)
    }

    /// The server port (default 4000; 443/80 for relays).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The user name (not percent-encoded).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The password (not percent-encoded). Never printed.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Secret(password.into());
        self
    }

    /// The default database.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// For the relay backend: the transport.
    pub fn relay_transport(mut self, transport: RelayTransport) -> Self {
        self.relay_transport = Some(transport);
        self
    }

    /// The TLS mode. Conflicting settings are reported by [`ConfigBuilder::build`].
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.tls_requests.push(TlsRequest {
            spelling: format!("ssl-mode={mode}"),
            what: TlsWant::Mode(mode),
        });
        self
    }

    /// A PEM file with the CA certificate(s) to trust instead of the public web roots.
    pub fn ssl_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_ca = Some(path.into());
        self
    }

    /// The name to verify and send as SNI instead of the host (useful when connecting by IP).
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// Deadline for connecting and for waiting for a pooled connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Maximum pooled connections (default 10).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Connections kept open when idle (default 0).
    pub fn pool_min(mut self, size: usize) -> Self {
        self.pool_min = size;
        self
    }

    /// Maximum age of a pooled connection (default 5 minutes; TiDB Cloud drops connections
    /// after about 30 minutes).
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Session time zone, e.g. `+00:00` or `UTC` (default: the server's).
    pub fn time_zone(mut self, tz: impl Into<String>) -> Self {
        self.time_zone = Some(tz.into());
        self
    }

    /// Session `sql_mode` (default: the server's).
    pub fn sql_mode(mut self, mode: impl Into<String>) -> Self {
        self.sql_mode = Some(mode.into());
        self
    }

    /// Runs `mysql://` on the crate's own wire client natively (as in Workers).
    pub fn wire_client(mut self, wire: bool) -> Self {
        self.wire_client = wire;
        self
    }

    /// Prepared statements cached per connection (default 64; 0 disables the cache).
    pub fn statement_cache_size(mut self, size: usize) -> Self {
        self.statement_cache_size = size;
        self
    }

    /// Log statements slower than this at warn level.
    pub fn slow_statement_threshold(mut self, threshold: Duration) -> Self {
        self.slow_statement_threshold = Some(threshold);
        self
    }

    /// Refuse statements larger than this before sending (default 64 MiB, TiDB's default
    /// `max_allowed_packet`; at most 1 GiB). Match it to the server's setting.
    pub fn max_allowed_packet(mut self, bytes: usize) -> Self {
        self.max_allowed_packet = bytes;
        self
    }

    /// Applies every rule and returns the configuration.
    ///
    /// # Errors
    ///
    /// A configuration error naming the fix when a required field is missing, TLS settings
    /// contradict each other, plaintext is asked toward TiDB Cloud, or a value is out of range.
    pub fn build(self) -> Result<Config> {
        let host = self.host.clone().unwrap_or_default();
        if host.is_empty() {
            return Err(Error::config(match self.backend {
                Backend::Direct | Backend::Relay => {
                    "the host is missing; write mysql://user:password@host:4000/database"
                }
                Backend::Hyperdrive => {
                    "the hyperdrive binding name is missing; write hyperdrive://BINDING"
                }
            }));
        }

        match self.backend {
            Backend::Hyperdrive => self.check_binding_only(&host, "hyperdrive://BINDING")?,
            Backend::Relay if self.relay_transport == Some(RelayTransport::Vpc) => {
                check_binding_name(&host)?;
                if self.port.is_some() {
                    return Err(Error::config(
                        "relay+vpc:// names a binding, which has no port; remove `:port`",
                    ));
                }
            }
            _ => check_host(&host)?,
        }

        if !(1..=MAX_POOL_SIZE).contains(&self.pool_size) {
            return Err(Error::config(format!(
                "pool-size must be between 1 and {MAX_POOL_SIZE}"
            )));
        }
        if self.pool_min > self.pool_size {
            return Err(Error::config(format!(
                "pool-min ({}) is larger than pool-size ({}); lower pool-min or raise pool-size",
                self.pool_min, self.pool_size
            )));
        }
        if let Some(name) = &self.tls_server_name {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
            if !ok {
                return Err(Error::config(
                    "tls-server-name must be a host name or IP address, as on the certificate",
                ));
            }
        }
        if self
            .ssl_ca
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(Error::config("ssl-ca needs the path of a PEM file"));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::config("connect-timeout must be greater than zero"));
        }
        if !(1024..=MAX_MAX_ALLOWED_PACKET).contains(&self.max_allowed_packet) {
            return Err(Error::config(format!(
                "max-allowed-packet must be between 1K and 1G, not {} bytes",
                self.max_allowed_packet
            )));
        }
        if self.connect_timeout > MAX_DURATION {
            return Err(Error::config("connect-timeout must be at most 1h"));
        }
        if self.max_lifetime < Duration::from_secs(1) || self.max_lifetime > MAX_LIFETIME {
            return Err(Error::config("max-lifetime must be between 1s and 24h"));
        }
        if let Some(tz) = &self.time_zone {
            if tz.is_empty()
                || !tz
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-:/_".contains(c))
            {
                return Err(Error::config(format!(
                    "time-zone `{tz}` is not a time zone; use an offset like +00:00 or a name \
                     like UTC"
                )));
            }
        }
        if let Some(mode) = &self.sql_mode {
            if !mode
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ',')
            {
                return Err(Error::config(format!(
                    "sql-mode `{mode}` may only hold mode names separated by commas"
                )));
            }
        }

        let tls = self.resolve_tls(&host)?;

        if self.backend != Backend::Hyperdrive && is_tidb_cloud_host(&host) {
            if self.relay_transport == Some(RelayTransport::Http) {
                return Err(Error::config(
                    "relay+http:// toward TiDB Cloud would send credentials in plaintext; use \
                     relay+https://",
                ));
            }
            if self.password.is_empty() {
                return Err(Error::config(
                    "the password is empty, and TiDB Cloud requires one; put it in the url as \
                     user:password@host (percent-encode special characters)",
                ));
            }
            let serverless_gateway = host.to_ascii_lowercase().contains("gateway");
            if serverless_gateway && !self.user.contains('.') {
                return Err(Error::config(format!(
                    "user `{}` has no cluster prefix; TiDB Cloud Serverless users look like \
                     '<prefix>.{}' (copy the user from the cluster's connect dialog)",
                    self.user, self.user
                )));
            }
        }

        let port = self
            .port
            .unwrap_or(match (self.backend, self.relay_transport) {
                (Backend::Relay, Some(RelayTransport::Http)) => 80,
                (Backend::Relay, _) => 443,
                _ => DEFAULT_PORT,
            });
        if port == 0 {
            return Err(Error::config(
                "port 0 is not valid; use the server's port, e.g. 4000",
            ));
        }

        Ok(Config {
            backend: self.backend,
            relay_transport: self.relay_transport,
            host,
            port,
            user: self.user,
            password: self.password,
            database: self.database.filter(|d| !d.is_empty()),
            tls,
            connect_timeout: self.connect_timeout,
            pool_size: self.pool_size,
            pool_min: self.pool_min,
            max_lifetime: self.max_lifetime,
            time_zone: self.time_zone,
            sql_mode: self.sql_mode,
            statement_cache_size: self.statement_cache_size,
            slow_statement_threshold: self.slow_statement_threshold,
            max_allowed_packet: self.max_allowed_packet,
            wire_client: self.wire_client,
        })
    }

    fn check_binding_only(&self, binding: &str, form: &str) -> Result<()> {
        check_binding_name(binding)?;
        if !self.user.is_empty() || !self.password.is_empty() || self.port.is_some() {
            return Err(Error::config(format!(
                "{form} takes only a binding name: user, password, host and port come from \
                 the binding"
            )));
        }
        if self.database.is_some() {
            return Err(Error::config(format!(
                "{form} takes no database: the binding's configuration names it"
            )));
        }
        if !self.tls_requests.is_empty() || self.ssl_ca.is_some() || self.tls_server_name.is_some()
        {
            return Err(Error::config(format!(
                "{form} takes no TLS parameters: Hyperdrive terminates TLS itself"
            )));
        }
        Ok(())
    }

    /// Applies the TLS rules: default verify-identity, aliases reduced to one mode,
    /// contradictions refused, TiDB Cloud always verified.
    fn resolve_tls(&self, host: &str) -> Result<TlsConfig> {
        let relay_plain = self.relay_transport == Some(RelayTransport::Http);
        let relay_vpc = self.relay_transport == Some(RelayTransport::Vpc);
        if self.backend == Backend::Relay && (relay_plain || relay_vpc) {
            if let Some(r) = self.tls_requests.first() {
                return Err(Error::config(format!(
                    "`{}` has no effect on this relay transport; use relay+https:// for TLS",
                    r.spelling
                )));
            }
        }

        // Exact modes must agree; bounds must leave room for the mode they constrain.
        let mut exact: Option<(SslMode, &str)> = None;
        let mut lower: Option<(SslMode, &str)> = None;
        let mut upper: Option<(SslMode, &str)> = None;
        for req in &self.tls_requests {
            let spelling = req.spelling.as_str();
            match req.what {
                TlsWant::Mode(m) => match exact {
                    Some((prev, first)) if prev != m => return Err(contradiction(first, spelling)),
                    _ => exact = Some((m, spelling)),
                },
                TlsWant::AtLeast(m) if lower.is_none_or(|(l, _)| m > l) => {
                    lower = Some((m, spelling));
                }
                TlsWant::AtMost(m) if upper.is_none_or(|(u, _)| m < u) => {
                    upper = Some((m, spelling));
                }
                TlsWant::AtLeast(_) | TlsWant::AtMost(_) => {}
            }
        }
        let mode = exact.or(upper);
        if let Some((bound, spelling)) = lower {
            if let Some((_, other)) = mode.filter(|(m, _)| *m < bound) {
                return Err(contradiction(other, spelling));
            }
        }
        if let (Some((e, first)), Some((u, second))) = (exact, upper) {
            if e > u {
                return Err(contradiction(first, second));
            }
        }
        let mut effective = mode.map_or(SslMode::VerifyIdentity, |(m, _)| m);
        let mut loosened_by = match mode {
            Some((m, spelling)) if m < SslMode::VerifyIdentity && m > SslMode::Disabled => {
                Some(spelling.to_owned())
            }
            _ => None,
        };

        if effective == SslMode::Disabled {
            if let Some(ca) = &self.ssl_ca {
                return Err(Error::config(format!(
                    "ssl-ca={} contradicts ssl-mode=disabled; remove one of them",
                    ca.display()
                )));
            }
            if self.tls_server_name.is_some() {
                return Err(Error::config(
                    "tls-server-name contradicts ssl-mode=disabled; remove one of them",
                ));
            }
        }

        if effective == SslMode::Preferred && self.ssl_ca.is_some() {
            return Err(Error::config(
                "ssl-ca has no effect with ssl-mode=preferred, which never verifies; use \
                 ssl-mode=verify_ca or verify_identity with it",
            ));
        }

        // As MySQL's own client does: a CA file given with `required` means "verify the chain".
        if self.ssl_ca.is_some() && effective == SslMode::Required {
            effective = SslMode::VerifyCa;
        }

        if is_tidb_cloud_host(host) && self.backend != Backend::Hyperdrive {
            if effective == SslMode::Disabled {
                let (_, spelling) = mode.expect("disabled comes only from an explicit request");
                return Err(Error::config(format!(
                    "`{spelling}` toward TiDB Cloud host {host}: TiDB Cloud accepts only TLS; \
                     remove it (verify_identity is used)"
                )));
            }
            // TiDB Cloud serves certificates from a public CA (or the cluster CA given by
            // ssl-ca), so identity verification always works there and is never relaxed.
            effective = SslMode::VerifyIdentity;
            loosened_by = None;
        }

        Ok(TlsConfig {
            mode: effective,
            ca: self.ssl_ca.clone(),
            server_name: self.tls_server_name.clone(),
            loosened_by,
        })
    }

    fn push_tls(&mut self, spelling: String, what: TlsWant) {
        self.tls_requests.push(TlsRequest { spelling, what });
    }
}

fn contradiction(a: &str, b: &str) -> Error {
    Error::config(format!(
        "contradictory TLS parameters `{a}` and `{b}`; keep only one, preferably \
         ssl-mode=disabled|preferred|required|verify_ca|verify_identity"
    ))
}

/// A host name or an IP address; an address with `:` must be IPv6. The host is not quoted in
/// the error, since a malformed URL can put part of a password there.
fn check_host(host: &str) -> Result<()> {
    let name_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if name_ok || host.parse::<std::net::Ipv6Addr>().is_ok() {
        Ok(())
    } else {
        Err(Error::config(
            "the host is not a host name or IP address (percent-encode special characters in \
             the user and password, write IPv6 addresses in brackets and international names \
             in punycode, xn--…)",
        ))
    }
}

fn check_binding_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(Error::config(format!(
            "binding name `{name}` is not valid; bindings are identifiers like HYPERDRIVE or \
             TIDB_RELAY, as declared in wrangler.toml"
        )))
    }
}

/// Lowercases and drops `-` and `_`, so `ssl-mode`, `ssl_mode` and `sslMode` compare equal.
fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn decode(part: &str, what: &str) -> Result<String> {
    let decoded = percent_decode_str(part)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| {
            Error::config(format!(
                "the {what} is not valid utf-8 after percent-decoding; percent-encode its utf-8 \
                 bytes"
            ))
        })?;
    // A NUL ends the string on the server side, so it would silently name something else.
    if decoded.contains('\0') {
        return Err(Error::config(format!(
            "the {what} contains a NUL character (%00)"
        )));
    }
    Ok(decoded)
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match normalize(value).as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::config(format!(
            "`{key}={value}` is not a boolean; use true or false"
        ))),
    }
}

/// Parses `10`, `10s`, `500ms` or `5m`; a bare number is seconds.
pub(crate) fn parse_duration(key: &str, value: &str) -> Result<Duration> {
    let value = value.trim();
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => value.split_at(i),
        None => (value, "s"),
    };
    let bad = || {
        Error::config(format!(
            "`{key}={value}` is not a duration; use seconds (10), or a unit: 500ms, 10s, 5m"
        ))
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs).ok_or_else(bad),
        _ => Err(Error::config(format!(
            "`{key}={value}` has an unknown unit; use ms, s or m"
        ))),
    }
}

/// Parses a byte size: `1048576`, `512K`, `4M`, `1G` (powers of 1024; `KiB`, `MB`… also read).
fn parse_size(key: &str, value: &str) -> Result<usize> {
    let bad = || {
        Error::config(format!(
            "`{key}={value}` is not a size; use bytes (1048576) or a unit: 512K, 64M, 1G"
        ))
    };
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: usize = v[..split].parse().map_err(|_| bad())?;
    let shift = match v[split..].to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

fn parse_count(key: &str, value: &str) -> Result<usize> {
    value
        .parse()
        .map_err(|_| Error::config(format!("`{key}={value}` is not a whole number")))
}

/// The parameters a URL accepts, with their canonical spelling first.
const ACCEPTED: &[&str] = &[
    "ssl-mode",
    "ssl-ca",
    "tls-server-name",
    "connect-timeout",
    "pool-size",
    "pool-min",
    "max-lifetime",
    "time-zone",
    "sql-mode",
    "charset",
    "statement-cache-size",
    "client",
    "slow-statement-threshold",
    "max-allowed-packet",
];

fn parse_url(url: &str) -> Result<ConfigBuilder> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::config(
            "not a connection url; expected mysql://user:password@host:4000/db, \
             hyperdrive://BINDING or relay+https://user:password@host/db",
        ));
    };
    let (backend, transport) = match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "tidb" => (Backend::Direct, None),
        "hyperdrive" => (Backend::Hyperdrive, None),
        "relay+vpc" => (Backend::Relay, Some(RelayTransport::Vpc)),
        "relay+https" => (Backend::Relay, Some(RelayTransport::Https)),
        "relay+http" => (Backend::Relay, Some(RelayTransport::Http)),
        "https" | "http" => {
            return Err(Error::config(format!(
                "scheme `{scheme}://` does not say which protocol to use; for a relay or TiDB \
                 Cloud's HTTP endpoint write relay+{scheme}://"
            )));
        }
        "mariadb" | "mysqlx" | "jdbc:mysql" => {
            return Err(Error::config(format!(
                "scheme `{scheme}://` is not supported; use mysql:// (or tidb://)"
            )));
        }
        other => {
            return Err(Error::config(format!(
                "unknown scheme `{other}://`; accepted: mysql, tidb, hyperdrive, relay+vpc, \
                 relay+https, relay+http"
            )));
        }
    };
    let mut b = ConfigBuilder::new(backend);
    if let Some(t) = transport {
        b.relay_transport = Some(t);
    }

    // The authority ends at the first `/` or `?`; within it the credentials end at the last
    // `@`, so an unencoded `@` or `:` in a password works. An unencoded `/` or `?` would end
    // the authority early: an `@` later in the path, in a parameter name or in the value of a
    // parameter we do not know gives that mistake away, and is reported without quoting.
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let tail = &rest[host_end..];
    let path_part = tail.split('?').next().unwrap_or_default();
    if path_part.contains('@') {
        return Err(stray_at());
    }
    let host_start = rest[..host_end].rfind('@').map_or(0, |i| i + 1);
    if host_start > 0 {
        let userinfo = &rest[..host_start - 1];
        let (user, pass) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        b.user = decode(user, "user")?;
        if let Some(p) = pass {
            b.password = Secret(decode(p, "password")?);
        }
    }
    let (host, port) = split_host_port(&rest[host_start..host_end])?;
    b.host = Some(host);
    b.port = port;

    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q),
        None => (tail, ""),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.contains('/') {
        return Err(Error::config(
            "the path after the host may hold only a database name; percent-encode `/` in \
             names (%2F)",
        ));
    }
    if !path.is_empty() {
        b.database = Some(decode(path, "database name")?);
    }

    let mut seen: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = match pair.split_once('=') {
            _ if pair.split('=').next().is_some_and(|k| k.contains('@')) => {
                return Err(stray_at());
            }
            Some(kv) => kv,
            None => {
                return Err(Error::config(format!(
                    "parameter `{pair}` needs a value, like {pair}=…"
                )));
            }
        };
        let key = decode(raw_key, "parameter name")?;
        let value = decode(raw_value, "parameter value")?;
        let norm = normalize(&key);
        if seen.contains(&norm) {
            return Err(Error::config(format!(
                "parameter `{key}` is given twice; keep one"
            )));
        }
        seen.push(norm.clone());
        apply_param(&mut b, &key, &norm, &value)?;
    }
    Ok(b)
}

fn stray_at() -> Error {
    Error::config(
        "the url has an `@` after the host; percent-encode `/`, `?` and `@` in the user, \
         password, database and parameter values (%2F, %3F, %40)",
    )
}

fn split_host_port(hostport: &str) -> Result<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| {
            Error::config("an IPv6 host opened with `[` is not closed by `]`; write [::1]:4000")
        })?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                Error::config("only `:port` may follow a bracketed IPv6 host, as in [::1]:4000")
            })?),
        };
        (h.to_owned(), port)
    } else {
        if hostport.matches(':').count() > 1 {
            return Err(Error::config(
                "an IPv6 host needs brackets, as in mysql://user:password@[::1]:4000/db",
            ));
        }
        match hostport.split_once(':') {
            Some((h, p)) => (decode(h, "host")?, Some(p)),
            None => (decode(hostport, "host")?, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().map_err(|_| bad_port())?)
        }
        Some(_) => return Err(bad_port()),
    };
    Ok((host, port))
}

fn bad_port() -> Error {
    Error::config(
        "the port is not a number between 1 and 65535; if the url has a password, \
         percent-encode `/`, `?` and `@` in it (%2F, %3F, %40)",
    )
}

fn apply_param(b: &mut ConfigBuilder, key: &str, norm: &str, value: &str) -> Result<()> {
    let spelling = format!("{key}={value}");
    match norm {
        "sslmode" => {
            let mode: SslMode = value.parse()?;
            b.push_tls(spelling, TlsWant::Mode(mode));
        }
        // Booleans from JDBC (useSSL, requireSSL), mysql_async (require_ssl) and others.
        "ssl" | "usessl" | "requiressl" if value.trim_start().starts_with('{') => {
            apply_ssl_json(b, key, value)?;
        }
        "ssl" | "usessl" | "requiressl" => {
            let what = if parse_bool(key, value)? {
                TlsWant::AtLeast(SslMode::Required)
            } else {
                TlsWant::Mode(SslMode::Disabled)
            };
            b.push_tls(spelling, what);
        }
        // The Go driver: tls=true|false|skip-verify|preferred.
        "tls" => {
            let what = match normalize(value).as_str() {
                "skipverify" => TlsWant::Mode(SslMode::Required),
                "preferred" => TlsWant::Mode(SslMode::Preferred),
                "true" | "1" => TlsWant::AtLeast(SslMode::Required),
                "false" | "0" => TlsWant::Mode(SslMode::Disabled),
                _ => {
                    return Err(Error::config(format!(
                        "`{spelling}`: tls takes true, false, skip-verify or preferred; prefer \
                         ssl-mode=verify_identity"
                    )));
                }
            };
            b.push_tls(spelling, what);
        }
        // Prisma: sslaccept=strict|accept_invalid_certs.
        "sslaccept" => {
            let mode = match normalize(value).as_str() {
                "strict" => SslMode::VerifyIdentity,
                "acceptinvalidcerts" => SslMode::Required,
                _ => {
                    return Err(Error::config(format!(
                        "`{spelling}`: sslaccept takes strict or accept_invalid_certs; prefer \
                         ssl-mode=verify_identity"
                    )));
                }
            };
            b.push_tls(spelling, TlsWant::Mode(mode));
        }
        // Node drivers: sslrejectunauthorized names a whole mode.
        "sslrejectunauthorized" | "rejectunauthorized" => {
            let mode = if parse_bool(key, value)? {
                SslMode::VerifyIdentity
            } else {
                SslMode::Required
            };
            b.push_tls(spelling, TlsWant::Mode(mode));
        }
        // Verification switches: true asks for at least that check, false for at most the
        // check below it. verify_ca/verify_identity (mysql_async), ssl_verify_cert and
        // ssl_verify_identity (Python drivers), verifyServerCertificate (JDBC, chain only).
        "verifyca"
        | "sslverifycert"
        | "verifyservercertificate"
        | "verifyidentity"
        | "sslverifyidentity" => {
            let (check, below) = if norm.ends_with("identity") {
                (SslMode::VerifyIdentity, SslMode::VerifyCa)
            } else {
                (SslMode::VerifyCa, SslMode::Required)
            };
            let what = if parse_bool(key, value)? {
                TlsWant::AtLeast(check)
            } else {
                TlsWant::AtMost(below)
            };
            b.push_tls(spelling, what);
        }
        "sslca" | "sslrootcert" | "tlsca" => b.ssl_ca = Some(PathBuf::from(value)),
        // JDBC's enabledTLSProtocols and MySQL's tls-version: only TLS 1.2 and 1.3 are used.
        "enabledtlsprotocols" | "tlsversion" => {
            let ok = value.split(',').all(|v| {
                let v = normalize(v.trim());
                v == "tlsv1.2" || v == "tlsv1.3"
            });
            if !ok {
                return Err(Error::config(format!(
                    "`{spelling}`: only TLSv1.2 and TLSv1.3 are supported (as TiDB Cloud requires)"
                )));
            }
        }
        "sslcert" | "sslkey" | "sslidentity" | "sslpassword" => {
            return Err(Error::config(format!(
                "`{key}` configures a client certificate, which TiDB Cloud does not use; to \
                 trust the server's CA use ssl-ca=/path/to/ca.pem"
            )));
        }
        "tlsservername" | "sslservername" => b.tls_server_name = Some(value.to_owned()),
        "connecttimeout" | "timeout" => b.connect_timeout = parse_duration(key, value)?,
        "poolsize" | "poolmax" | "connectionlimit" | "maxconnections" => {
            b.pool_size = parse_count(key, value)?
        }
        "poolmin" => b.pool_min = parse_count(key, value)?,
        "maxlifetime" => b.max_lifetime = parse_duration(key, value)?,
        "timezone" => b.time_zone = Some(value.to_owned()),
        "sqlmode" => b.sql_mode = Some(value.to_owned()),
        "charset" | "collation" | "characterencoding" | "encoding" => {
            let v = value.to_ascii_lowercase();
            if v != "utf8mb4" && !v.starts_with("utf8mb4_") {
                return Err(Error::config(format!(
                    "`{spelling}`: only utf8mb4 is supported (TiDB rejects other collations \
                     such as latin1_swedish_ci); remove it or use {key}=utf8mb4"
                )));
            }
        }
        "statementcachesize" | "stmtcachesize" => b.statement_cache_size = parse_count(key, value)?,
        "client" => {
            b.wire_client = match normalize(value).as_str() {
                "wire" => true,
                "mysqlasync" => false,
                _ => {
                    return Err(Error::config(format!(
                        "`{spelling}`: client takes wire (the crate's own client, as in \
                         Workers) or mysql_async (the native default)"
                    )));
                }
            }
        }
        "slowstatementthreshold" => b.slow_statement_threshold = Some(parse_duration(key, value)?),
        "maxallowedpacket" => b.max_allowed_packet = parse_size(key, value)?,
        // Part of a password cut off by an unencoded `?` looks like an unknown parameter.
        _ if value.contains('@') => return Err(stray_at()),
        _ => {
            let suggestion = ACCEPTED
                .iter()
                .find(|a| {
                    let a = normalize(a);
                    !norm.is_empty() && (a.contains(norm) || norm.contains(a.as_str()))
                })
                .map(|a| format!("did you mean `{a}`? "))
                .unwrap_or_default();
            return Err(Error::config(format!(
                "unknown parameter `{key}`; {suggestion}accepted: {}",
                ACCEPTED.join(", ")
            )));
        }
    }
    Ok(())
}

/// `ssl={"rejectUnauthorized":true}` as pasted from mysql2 examples.
fn apply_ssl_json(b: &mut ConfigBuilder, key: &str, value: &str) -> Result<()> {
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(value).map_err(|_| {
            Error::config(format!(
                "`{key}` holds invalid JSON; use ssl-mode=verify_identity instead"
            ))
        })?;
    for (k, v) in parsed {
        match (normalize(&k).as_str(), v) {
            ("rejectunauthorized", serde_json::Value::Bool(strict)) => {
                let mode = if strict {
                    SslMode::VerifyIdentity
                } else {
                    SslMode::Required
                };
                b.push_tls(format!("{key}={{\"{k}\":{strict}}}"), TlsWant::Mode(mode));
            }
            _ => {
                return Err(Error::config(format!(
                    "`{key}` option `{k}` is not understood; use ssl-mode and ssl-ca instead"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Config {
        Config::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn parse_err(url: &str) -> String {
        match Config::parse(url) {
            Ok(c) => panic!("{url} parsed: {c:?}"),
            Err(e) => {
                assert!(e.is_config(), "{url}: {e}");
                e.to_string()
            }
        }
    }

    const CLOUD: &str = "gateway01.us-east-1.prod.aws.tidbcloud.com";

    #[test]
    fn full_direct_url() {
        let c = parse(
            "mysql://4zX9.root:p%40ss%3Aw%2Frd%3F%231@db.example.com:4001/shop?ssl-mode=verify_ca\
             &ssl-ca=/tmp/ca.pem&connect-timeout=3&pool-size=4&max-lifetime=2m&time-zone=%2B00:00",
        );
        assert_eq!(c.backend(), Backend::Direct);
        assert_eq!(c.user(), "4zX9.root");
        assert_eq!(c.password().expose(), "p@ss:w/rd?#1");
        assert_eq!(c.host(), "db.example.com");
        assert_eq!(c.port(), 4001);
        assert_eq!(c.database(), Some("shop"));
        assert_eq!(c.tls().mode(), SslMode::VerifyCa);
        assert_eq!(c.tls().ca(), Some(std::path::Path::new("/tmp/ca.pem")));
        assert_eq!(c.connect_timeout(), Duration::from_secs(3));
        assert_eq!(c.pool_size(), 4);
        assert_eq!(c.max_lifetime(), Duration::from_secs(120));
        assert_eq!(c.time_zone(), Some("+00:00"));
        assert_eq!(
            c.session_setup().as_deref(),
            Some("SET time_zone = '+00:00'")
        );
    }

    #[test]
    fn defaults() {
        let c = parse("tidb://root@127.0.0.1");
        assert_eq!(c.port(), 4000);
        assert_eq!(c.tls().mode(), SslMode::VerifyIdentity);
        assert_eq!(c.max_lifetime(), Duration::from_secs(300));
        assert_eq!(c.database(), None);
        assert_eq!(c.session_setup(), None);
    }

    #[test]
    fn unencoded_special_characters_in_password() {
        let c = parse("mysql://u.root:p@ss:w0rd@127.0.0.1:3306/test?ssl-mode=disabled");
        assert_eq!(c.user(), "u.root");
        assert_eq!(c.password().expose(), "p@ss:w0rd");
        assert_eq!(c.host(), "127.0.0.1");
        assert_eq!(c.port(), 3306);
        assert_eq!(c.tls().mode(), SslMode::Disabled);
        // `/` and `?` end the host part, so they must be encoded; the mistake is reported.
        for url in [
            "mysql://u.root:pa/ss@127.0.0.1/test",
            "mysql://u.root:pa?ss@127.0.0.1/test",
        ] {
            let e = parse_err(url);
            assert!(e.contains("percent-encode"), "{e}");
            assert!(!e.contains("pa/ss") && !e.contains("pa?ss"), "{e}");
        }
        // An `@` in a parameter value does not move the host.
        let c = parse("mysql://u:pw@127.0.0.1/db?ssl-mode=verify_ca&ssl-ca=/certs/me@corp/ca.pem");
        assert_eq!(c.host(), "127.0.0.1");
        assert_eq!(c.password().expose(), "pw");
        assert_eq!(
            c.tls().ca(),
            Some(std::path::Path::new("/certs/me@corp/ca.pem"))
        );
    }

    #[test]
    fn ipv6_host() {
        let c = parse("mysql://u:p@[::1]:4000/db");
        assert_eq!(c.host(), "::1");
        assert_eq!(c.port(), 4000);
        for bad in [
            "mysql://u:p@::1/db",
            "mysql://u:p@fe80::1/db",
            "mysql://u:p@2001:db8::10/db",
            "mysql://u:p@[x.tidbcloud.com:]/db",
            "mysql://u:p@h%3A99/db",
            "mysql://u:p@h:+4000/db",
        ] {
            parse_err(bad);
        }
    }

    #[test]
    fn malformed_credentials_never_leak_into_errors_or_fields() {
        let secret = "k9Qz7Wm2Xr";
        for url in [
            format!("mysql://admin:/{secret}=@db.internal:4000"),
            format!("mysql://admin:4711/{secret}=@db.internal:4000/app"),
            format!("mysql://admin:?{secret}=@db.internal:4000/app"),
            format!("mysql://u:p@x/{secret}=@db.internal/app"),
            format!("mysql://u:{secret}/x@db.internal/app"),
            format!("mysql://u:p@ss?{secret}@127.0.0.1/db"),
            format!("mysql://u:p@ss?{secret}=rd@127.0.0.1/db"),
            format!("mysql://me@corp.com:1234?{secret}=x@h/db"),
        ] {
            let e = parse_err(&url);
            assert!(!e.contains(secret), "{url}: {e}");
            assert!(e.contains("percent-encode"), "{url}: {e}");
        }
    }

    #[test]
    fn at_signs_in_known_parameter_values_are_fine() {
        let c = parse("mysql://127.0.0.1/db?ssl-mode=verify_ca&ssl-ca=/tmp/a@b/ca.pem");
        assert_eq!(c.tls().ca(), Some(std::path::Path::new("/tmp/a@b/ca.pem")));
        // Display re-encodes what would change the URL's meaning.
        let c = parse("mysql://u%3Aname%40x:pw@127.0.0.1/db");
        assert_eq!(c.user(), "u:name@x");
        assert!(
            c.to_string().starts_with("mysql://u%3Aname%40x:***@"),
            "{c}"
        );
    }

    #[test]
    fn nul_characters_are_refused() {
        assert!(parse_err("mysql://root%00x:p@h/db").contains("NUL"));
        assert!(parse_err("mysql://root:p@h/mysql%00x").contains("NUL"));
    }

    #[test]
    fn c01_tidb_cloud_host_forces_verify_identity() {
        let base = format!("mysql://4zX9.root:pw@{CLOUD}:4000/test");
        assert_eq!(parse(&base).tls().mode(), SslMode::VerifyIdentity);
        for weaker in [
            "ssl-mode=preferred",
            "ssl-mode=required",
            "ssl-mode=verify_ca",
            "sslaccept=accept_invalid_certs",
            "sslrejectunauthorized=false",
            "tls=skip-verify",
        ] {
            let c = parse(&format!("{base}?{weaker}"));
            assert_eq!(c.tls().mode(), SslMode::VerifyIdentity, "{weaker}");
            assert_eq!(c.tls().loosened_by(), None);
        }
        for off in [
            "ssl-mode=disabled",
            "ssl=false",
            "tls=false",
            "require_ssl=false",
        ] {
            let e = parse_err(&format!("{base}?{off}"));
            assert!(e.contains("TiDB Cloud accepts only TLS"), "{e}");
        }
        let upper = "mysql://4zX9.root:pw@GATEWAY01.US-EAST-1.PROD.AWS.TIDBCLOUD.COM./x";
        assert_eq!(parse(upper).tls().mode(), SslMode::VerifyIdentity);
        // A look-alike host is not TiDB Cloud.
        assert!(!is_tidb_cloud_host("evil-tidbcloud.com"));
        assert!(!is_tidb_cloud_host("tidbcloud.com.evil.net"));
    }

    #[test]
    fn c03_aliases_from_other_drivers() {
        let cases = [
            ("ssl-mode=VERIFY_IDENTITY", SslMode::VerifyIdentity, false),
            ("sslMode=VERIFY_CA", SslMode::VerifyCa, true),
            ("ssl_mode=required", SslMode::Required, true),
            ("sslmode=prefer", SslMode::Preferred, true),
            ("sslaccept=strict", SslMode::VerifyIdentity, false),
            ("sslaccept=accept_invalid_certs", SslMode::Required, true),
            ("sslrejectunauthorized=false", SslMode::Required, true),
            ("sslrejectunauthorized=true", SslMode::VerifyIdentity, false),
            ("tls=true", SslMode::VerifyIdentity, false),
            ("tls=skip-verify", SslMode::Required, true),
            ("tls=false", SslMode::Disabled, false),
            ("ssl=true", SslMode::VerifyIdentity, false),
            ("ssl=false", SslMode::Disabled, false),
            ("require_ssl=true", SslMode::VerifyIdentity, false),
            ("useSSL=true", SslMode::VerifyIdentity, false),
            (
                "require_ssl=true&verify_identity=false",
                SslMode::VerifyCa,
                true,
            ),
            ("verify_ca=false", SslMode::Required, true),
            (
                "ssl=%7B%22rejectUnauthorized%22%3Atrue%7D",
                SslMode::VerifyIdentity,
                false,
            ),
            (
                "ssl={\"rejectUnauthorized\":false}",
                SslMode::Required,
                true,
            ),
        ];
        for (q, mode, loosened) in cases {
            let c = parse(&format!("mysql://u:p@db.local/test?{q}"));
            assert_eq!(c.tls().mode(), mode, "{q}");
            assert_eq!(c.tls().loosened_by().is_some(), loosened, "{q}");
        }
    }

    #[test]
    fn contradictory_or_unknown_tls_settings_are_errors() {
        for q in [
            "ssl-mode=disabled&ssl=true",
            "ssl-mode=verify_identity&sslaccept=accept_invalid_certs",
            "tls=false&ssl-mode=required",
            "ssl-mode=preferred&require_ssl=true",
            "ssl-mode=disabled&ssl-ca=/tmp/ca.pem",
            "ssl-mode=disabled&tls-server-name=db.internal",
            "ssl_verify_cert=false&ssl_verify_identity=true",
            "ssl-mode=required&verify_identity=true",
            "ssl-mode=verify_identity&verify_ca=false",
        ] {
            let e = parse_err(&format!("mysql://u:p@db.local/test?{q}"));
            assert!(e.contains("contradict"), "{q}: {e}");
        }
        let e = parse_err("mysql://u:p@db.local/test?ssl-mode=on");
        assert!(e.contains("verify_identity"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?sslaccept=maybe");
        assert!(e.contains("ssl-mode=verify_identity"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?ssl=maybe");
        assert!(e.contains("true or false"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?tls=custom");
        assert!(e.contains("skip-verify"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?ssl-mode=preferred&ssl-ca=/ca.pem");
        assert!(e.contains("no effect"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?=x");
        assert!(!e.contains("did you mean"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?enabledTLSProtocols=TLSv1.1");
        assert!(e.contains("TLSv1.2"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?sslcert=/tmp/ca.pem");
        assert!(e.contains("ssl-ca="), "{e}");
    }

    #[test]
    fn unknown_parameter_names_the_accepted_spelling() {
        let e = parse_err("mysql://u:p@db.local/test?ssl-ca-path=/x");
        assert!(e.contains("did you mean `ssl-ca`"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?frobnicate=1");
        assert!(e.contains("accepted: ssl-mode"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?pool-size=2&pool_size=3");
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn c08_non_utf8mb4_charset_is_refused() {
        let e = parse_err("mysql://u:p@db.local/test?charset=latin1");
        assert!(e.contains("utf8mb4"), "{e}");
        let e = parse_err("mysql://u:p@db.local/test?collation=latin1_swedish_ci");
        assert!(e.contains("latin1_swedish_ci"), "{e}");
        parse("mysql://u:p@db.local/test?charset=utf8mb4");
    }

    #[test]
    fn c04_tidb_cloud_credentials_are_checked_before_connecting() {
        let e = parse_err(&format!("mysql://4zX9.root@{CLOUD}:4000/test"));
        assert!(e.contains("password is empty"), "{e}");
        let e = parse_err(&format!("mysql://4zX9.root:@{CLOUD}:4000/test"));
        assert!(e.contains("password is empty"), "{e}");
        let e = parse_err(&format!("mysql://root:pw@{CLOUD}:4000/test"));
        assert!(e.contains("'<prefix>.root'"), "{e}");
        // Dedicated clusters have plain user names; only the hint after a 1045 applies there.
        let c = parse("mysql://root:pw@tidb.abc.clusters.tidbcloud.com:4000/test");
        assert!(c.access_denied_hint().unwrap().contains("prefix"));
        assert_eq!(
            parse("mysql://root:pw@127.0.0.1/x").access_denied_hint(),
            None
        );
    }

    #[test]
    fn secrets_never_printed() {
        let secret = "Sup3r-S3cret!";
        let urls = [
            format!("mysql://4zX9.root:{secret}@127.0.0.1:4000/test"),
            format!("relay+https://4zX9.root:{secret}@relay.internal/test"),
            format!("relay+vpc://4zX9.root:{secret}@TIDB_RELAY/test"),
        ];
        for url in urls {
            let c = parse(&url);
            for shown in [format!("{c:?}"), format!("{c}"), format!("{c:#?}")] {
                assert!(!shown.contains(secret), "{shown}");
            }
            assert!(format!("{c}").contains(":***@"), "{c}");
        }
        let b = Config::builder(Backend::Direct).password(secret);
        assert!(!format!("{b:?}").contains(secret));
        // Errors about a bad URL never quote the password either.
        let e = Config::parse(&format!("mysql://u:{secret}@bad host/x")).unwrap_err();
        assert!(!e.to_string().contains(secret), "{e}");
        assert!(!format!("{e:?}").contains(secret), "{e:?}");
        let e = Config::parse(&format!("mysql://u:{secret}@h:99999/x")).unwrap_err();
        assert!(!e.to_string().contains(secret), "{e}");
        // A forgotten `@host` makes the password look like a port: still never quoted.
        let e = Config::parse(&format!("mysql://root:{secret}/db")).unwrap_err();
        assert!(!e.to_string().contains(secret), "{e}");
    }

    #[test]
    fn other_schemes() {
        let c = parse("hyperdrive://HYPERDRIVE");
        assert_eq!(c.backend(), Backend::Hyperdrive);
        assert_eq!(c.host(), "HYPERDRIVE");
        assert_eq!(c.to_string(), "hyperdrive://HYPERDRIVE");
        let e = parse_err("hyperdrive://u:p@HYPERDRIVE");
        assert!(e.contains("only a binding name"), "{e}");
        let e = parse_err("hyperdrive://HYPERDRIVE?ssl-mode=required");
        assert!(e.contains("no TLS"), "{e}");
        let e = parse_err("hyperdrive://my-binding");
        assert!(e.contains("binding name"), "{e}");

        let c = parse("relay+vpc://4zX9.root:pw@TIDB_RELAY/test");
        assert_eq!(c.backend(), Backend::Relay);
        assert_eq!(c.relay_transport(), Some(RelayTransport::Vpc));
        assert_eq!(c.host(), "TIDB_RELAY");

        let c =
            parse("relay+https://u.root:p@http-gateway01.eu-central-1.prod.aws.tidbcloud.com/db");
        assert_eq!(c.port(), 443);
        let c = parse("relay+http://u:p@127.0.0.1/db");
        assert_eq!(c.port(), 80);
        // TiDB Cloud's rules hold for its HTTP endpoint too.
        let cloud_http = "http-gateway01.eu-central-1.prod.aws.tidbcloud.com";
        let e = parse_err(&format!("relay+http://u.root:p@{cloud_http}/db"));
        assert!(e.contains("relay+https://"), "{e}");
        let e = parse_err(&format!("relay+https://u.root@{cloud_http}/db"));
        assert!(e.contains("password is empty"), "{e}");
        let c = parse(&format!(
            "relay+https://u.root:p@{cloud_http}/db?ssl-mode=required"
        ));
        assert_eq!(c.tls().mode(), SslMode::VerifyIdentity);
        let e = parse_err("relay+http://u:p@127.0.0.1/db?ssl-mode=required");
        assert!(e.contains("relay+https"), "{e}");

        let e = parse_err("https://u:p@host/db");
        assert!(e.contains("relay+https://"), "{e}");
        let e = parse_err("postgres://u:p@host/db");
        assert!(e.contains("accepted: mysql"), "{e}");
        let e = parse_err("just a string");
        assert!(e.contains("mysql://"), "{e}");
    }

    #[test]
    fn malformed_values() {
        assert!(parse_err("mysql://u:p@h:notaport/db").contains("port"));
        assert!(parse_err("mysql://u:p@h/db?connect-timeout=soon").contains("duration"));
        assert!(parse_err("mysql://u:p@h/db?connect-timeout=0").contains("greater than zero"));
        assert!(parse_err("mysql://u:p@h/db?pool-size=0").contains("between 1 and"));
        assert!(parse_err("mysql://u:p@h/db?pool-size=100000000000").contains("between 1 and"));
        assert!(parse_err("mysql://u:p@h/db?tls-server-name=").contains("tls-server-name"));
        assert!(parse_err("mysql://u:p@h/db?tls-server-name=a%20b").contains("tls-server-name"));
        assert!(parse_err("mysql://u:p@h/db?ssl-ca=").contains("ssl-ca needs"));
        assert!(parse_err("relay+vpc://u:p@B:99/db").contains("no port"));
        assert!(parse_err("mysql://u:p@h/db?pool-min=5&pool-size=2").contains("larger"));
        assert!(parse_err("mysql://u:p@h/db?time-zone='x").contains("time zone"));
        assert!(parse_err("mysql://u:p@h/db?sql-mode=A';DROP").contains("sql-mode"));
        assert!(parse_err("mysql://u:p@h/a/b").contains("only a database name"));
        assert!(parse_err("mysql://u:p@/db").contains("host is missing"));
        assert!(parse_err("mysql://u:p@h/db?ssl").contains("needs a value"));
        assert!(
            parse_err("mysql://u:p@h/db?max-lifetime=307445734561825861m").contains("duration")
        );
        assert!(parse_err("mysql://u:p@h/db?max-lifetime=18446744073709551615").contains("24h"));
        assert!(parse_err("mysql://u:p@h/db?connect-timeout=2h").contains("unknown unit"));
        assert!(parse_err("mysql://u:p@h/db?connect-timeout=600m").contains("at most 1h"));
        assert!(parse_err("mysql://u:%FF@h/db").contains("utf-8"));
        assert_eq!(
            parse("mysql://u:p@h/db?connect-timeout=500ms").connect_timeout(),
            Duration::from_millis(500)
        );
        assert_eq!(parse("mysql://u:p@h/db").max_allowed_packet(), 64 << 20);
        assert_eq!(
            parse("mysql://u:p@h/db?max-allowed-packet=4M").max_allowed_packet(),
            4 << 20
        );
        assert_eq!(
            parse("mysql://u:p@h/db?max_allowed_packet=1048576").max_allowed_packet(),
            1 << 20
        );
        assert!(parse_err("mysql://u:p@h/db?max-allowed-packet=2G").contains("between"));
        assert!(parse_err("mysql://u:p@h/db?max-allowed-packet=4X").contains("not a size"));
        assert!(
            parse_err("mysql://u:p@h/db?max-allowed-packet=99999999999999999999G")
                .contains("not a size")
        );
    }

    #[test]
    fn builder_matches_url() {
        let from_url =
            parse("mysql://u.root:pw@127.0.0.1:4000/test?ssl-mode=verify_ca&ssl-ca=/ca.pem");
        let built = Config::builder(Backend::Direct)
            .host("127.0.0.1")
            .user("u.root")
            .password("pw")
            .database("test")
            .ssl_mode(SslMode::VerifyCa)
            .ssl_ca("/ca.pem")
            .build()
            .unwrap();
        assert_eq!(format!("{from_url:?}"), format!("{built:?}"));
        let e = Config::builder(Backend::Direct)
            .host(CLOUD)
            .user("x.root")
            .password("pw")
            .ssl_mode(SslMode::Disabled)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("TiDB Cloud"), "{e}");
    }

    #[test]
    fn from_env_var_reports_missing_variable() {
        let e = Config::from_env_var("TIDB_CONNECT_TEST_SURELY_UNSET").unwrap_err();
        assert!(e.is_config());
        assert!(
            e.to_string()
                .contains("TIDB_CONNECT_TEST_SURELY_UNSET is not set")
        );
    }
}
