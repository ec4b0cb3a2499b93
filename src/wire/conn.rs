//! One MySQL connection: handshake, optional TLS upgrade, authentication, then commands.
//!
//! The protocol is described in the MySQL client/server protocol documentation
//! (<https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html>); packet layouts
//! come from `mysql_common`, and this file sequences them.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::Arc;

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, Column as WireColumn, ComStmtClose,
    ComStmtExecuteRequestBuilder, ComStmtSendLongData, CommonOkPacket, ErrPacket, HandshakePacket,
    HandshakeResponse, OkPacket, OkPacketDeserializer, OkPacketKind, ResultSetTerminator,
    SslRequest, StmtPacket,
};
use mysql_common::proto::{Binary, MySerialize, Text};
use mysql_common::row::RowDeserializer;
use mysql_common::scramble::{scramble_native, scramble_sha256};
use mysql_common::value::Value as WireValue;

use super::io::{PacketIo, Stream};
use crate::error::{Error, ServerError};
use crate::protocol::decode;
use crate::sql::bind::Escaping;
use crate::value::{Column, ResultSet, Row, Value};

/// What went wrong in a command, before the caller maps it by the step it was in.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The connection broke (or was never made); it cannot be used again.
    Io(io::Error),
    /// The server answered with an error; the connection is still usable.
    Server(ServerError),
    /// TLS is required but the server does not offer it.
    NoTls,
    /// Anything else, already worded; `broken` says whether the connection is unusable.
    Other { error: Error, broken: bool },
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Self {
        Fault::Io(e)
    }
}

impl Fault {
    fn protocol(what: impl Into<String>) -> Self {
        Fault::Other {
            error: Error::protocol(what.into()),
            broken: true,
        }
    }
}

pub(crate) type FaultResult<T> = std::result::Result<T, Fault>;

/// How to secure the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// Upgrade with TLS after the greeting; fail when the server does not offer it.
    Tls,
    /// Upgrade when the server offers TLS, else continue in plaintext (`ssl-mode=preferred`).
    TlsIfOffered,
    /// No TLS on this connection.
    Plain,
}

/// What the handshake needs besides the stream.
pub(crate) struct HandshakeOptions<'a> {
    pub(crate) user: &'a str,
    pub(crate) password: &'a str,
    pub(crate) database: Option<&'a str>,
    pub(crate) security: Security,
    /// Whether the channel is private even without TLS (the Worker runtime's own connection
    /// to Hyperdrive), which allows sending a password in clear when the server asks for it.
    pub(crate) private_channel: bool,
    /// The largest packet either side may send.
    pub(crate) max_packet: usize,
}

/// Result sets of one command: each with its columns (empty for an OK), rows and counters.
pub(crate) type Results = Vec<ResultSet>;

/// A prepared statement on this connection.
#[derive(Debug, Clone)]
struct Prepared {
    id: u32,
    params: u16,
}

/// An authenticated connection.
pub(crate) struct Conn {
    io: PacketIo<Box<dyn Stream>>,
    capabilities: CapabilityFlags,
    status: StatusFlags,
    version: String,
    tls: bool,
    /// Prepared statements by SQL text, with their last use for eviction.
    statements: HashMap<String, (Prepared, u64)>,
    uses: u64,
    broken: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("version", &self.version)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// What the client asks for. No `CLIENT_MULTI_STATEMENTS`: a statement can never smuggle a
/// second one, and Hyperdrive refuses them anyway. No `CLIENT_LOCAL_FILES`: the server can
/// never ask for a local file.
fn wanted_capabilities() -> CapabilityFlags {
    CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_DEPRECATE_EOF
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
}

/// The collation the client announces: utf8mb4_general_ci (45). TiDB and MySQL accept it,
/// and never latin1, which TiDB's new collation framework refuses.
const HANDSHAKE_VERSION_FOR_UTF8MB4: (u16, u16, u16) = (8, 0, 11);

impl Conn {
    /// Runs the handshake on `stream`; `upgrade` turns it into a TLS stream when TLS is used.
    pub(crate) async fn handshake<S, T, U, F>(
        stream: S,
        upgrade: U,
        options: &HandshakeOptions<'_>,
    ) -> FaultResult<Conn>
    where
        S: Stream + 'static,
        T: Stream + 'static,
        U: FnOnce(S) -> F,
        F: Future<Output = io::Result<T>>,
    {
        let mut io = PacketIo::new(stream, options.max_packet);

        // 1. The server's greeting (or an error, e.g. too many connections).
        let packet = io.read().await?;
        if packet.first() == Some(&0xff) {
            return Err(server_error(&packet, CapabilityFlags::CLIENT_PROTOCOL_41));
        }
        let greeting: HandshakePacket<'_> = ParseBuf(&packet)
            .parse(())
            .map_err(|_| Fault::protocol("the server's greeting is not a MySQL handshake"))?;
        let server_caps = greeting.capabilities();
        if !server_caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
            return Err(Fault::protocol(
                "the server does not speak protocol 4.1; it is not MySQL 5.x or newer",
            ));
        }
        let version = greeting.server_version_str().into_owned();
        let nonce = greeting.nonce();
        let server_plugin = greeting
            .auth_plugin()
            .map(AuthPlugin::into_owned)
            .unwrap_or(AuthPlugin::MysqlNativePassword);
        let mut capabilities = wanted_capabilities() & server_caps;
        if options.database.is_some() {
            capabilities |= CapabilityFlags::CLIENT_CONNECT_WITH_DB & server_caps;
        }

        // 2. TLS, announced by an SSLRequest and then negotiated on the raw stream.
        let offers_tls = server_caps.contains(CapabilityFlags::CLIENT_SSL);
        let use_tls = match options.security {
            Security::Tls if !offers_tls => return Err(Fault::NoTls),
            Security::Tls => true,
            Security::TlsIfOffered => offers_tls,
            Security::Plain => false,
        };
        let trusted_channel = use_tls || options.private_channel;
        let mut io: PacketIo<Box<dyn Stream>> = if use_tls {
            capabilities |= CapabilityFlags::CLIENT_SSL;
            let request =
                SslRequest::new(capabilities, options.max_packet as u32, HANDSHAKE_COLLATION);
            io.write(&serialize(&request)).await?;
            let (raw, codec) = io.into_parts()?;
            let secure = upgrade(raw).await?;
            PacketIo::from_parts(Box::new(secure), codec)
        } else {
            let (raw, codec) = io.into_parts()?;
            PacketIo::from_parts(Box::new(raw), codec)
        };

        // 3. The handshake response, answering with the plugin the server announced so that
        //    no auth switch is needed (Hyperdrive does not support one).
        let plugin = match server_plugin {
            AuthPlugin::CachingSha2Password => AuthPlugin::CachingSha2Password,
            _ => AuthPlugin::MysqlNativePassword,
        };
        let scramble = scramble_for(&plugin, options.password, &nonce);
        let response = HandshakeResponse::new(
            Some(scramble.as_slice()),
            HANDSHAKE_VERSION_FOR_UTF8MB4,
            Some(options.user.as_bytes()),
            options.database.map(str::as_bytes),
            Some(plugin.clone()),
            capabilities,
            None,
            options.max_packet as u32,
        );
        io.write(&serialize(&response)).await?;

        // 4. Authentication exchanges until OK or ERR.
        let status = authenticate(
            &mut io,
            plugin,
            options.password,
            trusted_channel,
            capabilities,
        )
        .await?;

        Ok(Conn {
            io,
            capabilities,
            status,
            version,
            tls: use_tls,
            statements: HashMap::new(),
            uses: 0,
            broken: false,
        })
    }

    /// The version string from the server's greeting.
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// Whether the connection runs over TLS.
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether the server reported an open transaction after the last command.
    pub(crate) fn in_transaction(&self) -> bool {
        self.status.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
    }

    /// How this session reads backslashes, from the last status flags.
    pub(crate) fn escaping(&self) -> Escaping {
        Escaping::from_no_backslash_escapes(
            self.status
                .contains(StatusFlags::SERVER_STATUS_NO_BACKSLASH_ESCAPES),
        )
    }

    /// Whether an earlier fault left the connection unusable.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether the connection can take another command: not broken by an earlier fault,
    /// and not closed by the server while idle.
    pub(crate) fn is_usable(&mut self) -> bool {
        !self.broken && !self.io.is_broken_now()
    }

    /// Runs SQL text (COM_QUERY) and reads every result.
    pub(crate) async fn query(&mut self, sql: &str) -> FaultResult<Results> {
        let mut command = Vec::with_capacity(sql.len() + 1);
        command.push(COM_QUERY);
        command.extend_from_slice(sql.as_bytes());
        self.command(&command).await?;
        self.read_results::<Text>().await
    }

    /// Prepares (or reuses) `sql` and executes it with `params` (binary protocol).
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        params: &[Value],
        cache_size: usize,
    ) -> FaultResult<Results> {
        let wire = params
            .iter()
            .enumerate()
            .map(|(i, v)| {
                decode::param(v).map_err(|e| Fault::Other {
                    error: Error::usage(format!("parameter {}: {}", i + 1, e.detail())),
                    broken: false,
                })
            })
            .collect::<FaultResult<Vec<WireValue>>>()?;
        let stmt = self.prepare(sql, cache_size).await?;
        if usize::from(stmt.params) != wire.len() {
            return Err(Fault::Other {
                error: Error::params_mismatch(usize::from(stmt.params), wire.len()),
                broken: false,
            });
        }

        let (request, as_long_data) = ComStmtExecuteRequestBuilder::new(stmt.id).build(&wire);
        if as_long_data {
            // Values too large for one execute packet go ahead one by one; the server does not
            // answer these.
            for (index, value) in wire.iter().enumerate() {
                if let WireValue::Bytes(bytes) = value {
                    let long = ComStmtSendLongData::new(stmt.id, index as u16, bytes.as_slice());
                    self.command(&serialize(&long)).await?;
                }
            }
        }
        self.command(&serialize(&request)).await?;
        let results = self.read_results::<Binary>().await;
        if cache_size == 0 {
            // Uncached statements live for one execute; the close has no answer.
            self.command(&serialize(&ComStmtClose::new(stmt.id)))
                .await?;
        }
        results
    }

    /// Closes the connection politely (COM_QUIT), ignoring a peer that is gone.
    pub(crate) async fn quit(mut self) {
        if !self.broken {
            let _ = self.command(&[COM_QUIT]).await;
        }
        self.io.shutdown().await;
    }

    async fn prepare(&mut self, sql: &str, cache_size: usize) -> FaultResult<Prepared> {
        self.uses += 1;
        let uses = self.uses;
        if let Some((stmt, last_use)) = self.statements.get_mut(sql) {
            *last_use = uses;
            return Ok(stmt.clone());
        }

        let mut command = Vec::with_capacity(sql.len() + 1);
        command.push(COM_STMT_PREPARE);
        command.extend_from_slice(sql.as_bytes());
        self.command(&command).await?;
        let packet = self.read_packet().await?;
        if packet.first() == Some(&0xff) {
            return Err(server_error(&packet, self.capabilities));
        }
        let ok: StmtPacket = ParseBuf(&packet)
            .parse(())
            .map_err(|_| self.broke("a malformed COM_STMT_PREPARE response"))?;
        // Parameter and column definitions follow; the execute response repeats the columns,
        // so these are skipped.
        let mut definitions = usize::from(ok.num_params()) + usize::from(ok.num_columns());
        if !self.deprecate_eof() {
            definitions += usize::from(ok.num_params() > 0) + usize::from(ok.num_columns() > 0);
        }
        for _ in 0..definitions {
            self.read_packet().await?;
        }
        let stmt = Prepared {
            id: ok.statement_id(),
            params: ok.num_params(),
        };

        if cache_size > 0 {
            if self.statements.len() >= cache_size {
                let oldest = self
                    .statements
                    .iter()
                    .min_by_key(|(_, (_, last_use))| *last_use)
                    .map(|(sql, _)| sql.clone());
                if let Some(sql) = oldest {
                    if let Some((old, _)) = self.statements.remove(&sql) {
                        self.command(&serialize(&ComStmtClose::new(old.id))).await?;
                    }
                }
            }
            self.statements.insert(sql.to_owned(), (stmt.clone(), uses));
        }
        Ok(stmt)
    }

    /// Reads one packet; a failed read leaves the connection unusable.
    async fn read_packet(&mut self) -> FaultResult<Vec<u8>> {
        let packet = self.io.read().await;
        if packet.is_err() {
            self.broken = true;
        }
        Ok(packet?)
    }

    fn deprecate_eof(&self) -> bool {
        self.capabilities
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }

    /// Sends one command packet, starting a new sequence.
    async fn command(&mut self, payload: &[u8]) -> FaultResult<()> {
        self.io.reset_sequence();
        let written = self.io.write(payload).await;
        if written.is_err() {
            self.broken = true;
        }
        Ok(written?)
    }

    /// Reads every result of a command: OK packets and result sets, following
    /// `SERVER_MORE_RESULTS_EXISTS`.
    async fn read_results<P: RowProtocol>(&mut self) -> FaultResult<Results> {
        let mut sets = Vec::new();
        loop {
            let packet = self.read_packet().await?;
            let set = match packet.first() {
                Some(0x00) => self.ok_result(&packet)?,
                Some(0xff) => return Err(server_error(&packet, self.capabilities)),
                Some(0xfb) => {
                    // LOCAL INFILE: never asked for; refuse with an empty file.
                    self.io
                        .write(&[])
                        .await
                        .inspect_err(|_| self.broken = true)?;
                    let _ = self.read_until_ok().await;
                    return Err(Fault::Other {
                        error: Error::unsupported(
                            "wire",
                            "LOAD DATA LOCAL INFILE is not supported",
                        ),
                        broken: false,
                    });
                }
                Some(_) => self.result_set::<P>(&packet).await?,
                None => return Err(self.broke("an empty packet where a result was expected")),
            };
            sets.push(set);
            if !self
                .status
                .contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS)
            {
                return Ok(sets);
            }
        }
    }

    async fn read_until_ok(&mut self) -> FaultResult<()> {
        let packet = self.read_packet().await?;
        if packet.first() == Some(&0x00) {
            self.ok_result(&packet)?;
        }
        Ok(())
    }

    fn ok_result(&mut self, packet: &[u8]) -> FaultResult<ResultSet> {
        let ok = self.parse_ok::<CommonOkPacket>(packet)?;
        Ok(ResultSet {
            columns: Arc::from(Vec::new()),
            rows: Vec::new(),
            affected_rows: ok.affected_rows(),
            last_insert_id: ok.last_insert_id().filter(|id| *id != 0),
            warnings: ok.warnings(),
        })
    }

    /// Parses an OK packet (`CommonOkPacket`, 0x00) or the OK that ends rows
    /// (`ResultSetTerminator`, 0xfe), keeping its status flags.
    fn parse_ok<'p, K: OkPacketKind>(&mut self, packet: &'p [u8]) -> FaultResult<OkPacket<'p>> {
        let ok: OkPacket<'p> = ParseBuf(packet)
            .parse::<OkPacketDeserializer<'p, K>>(self.capabilities)
            .map(Into::into)
            .map_err(|_| self.broke("a malformed OK packet"))?;
        self.status = ok.status_flags();
        Ok(ok)
    }

    async fn result_set<P: RowProtocol>(&mut self, first: &[u8]) -> FaultResult<ResultSet> {
        let count = lenenc(first).ok_or_else(|| self.broke("a malformed column count"))?;
        let mut wire_columns = Vec::with_capacity(count.min(4096) as usize);
        for _ in 0..count {
            let packet = self.read_packet().await?;
            let column: WireColumn = ParseBuf(&packet)
                .parse(())
                .map_err(|_| self.broke("a malformed column definition"))?;
            wire_columns.push(column);
        }
        if !self.deprecate_eof() {
            self.read_packet().await?;
        }
        let columns: Arc<[Column]> = wire_columns.iter().map(decode::column).collect();
        let wire_columns: Arc<[WireColumn]> = wire_columns.into();

        // Rows are read to the end before any is decoded, so a decode error leaves the
        // connection ready for the next command.
        let mut raw_rows = Vec::new();
        let terminator = loop {
            let packet = self.read_packet().await?;
            match packet.first() {
                Some(0xfe) if packet.len() < 0xff_ffff => break packet,
                Some(0xff) => return Err(server_error(&packet, self.capabilities)),
                _ => raw_rows.push(packet),
            }
        };
        if self.deprecate_eof() {
            self.parse_ok::<ResultSetTerminator>(&terminator)?;
        } else {
            self.status = eof_status(&terminator).ok_or_else(|| self.broke("a malformed EOF"))?;
        }

        let mut rows = Vec::with_capacity(raw_rows.len());
        for packet in raw_rows {
            let wire_values =
                P::row(wire_columns.clone(), &packet).map_err(|_| self.broke("a malformed row"))?;
            let values = wire_values
                .into_iter()
                .zip(columns.iter())
                .map(|(v, c)| decode::value(c, v))
                .collect::<crate::Result<Vec<_>>>()
                .map_err(|error| Fault::Other {
                    error,
                    broken: false,
                })?;
            rows.push(Row::new(columns.clone(), values));
        }
        Ok(ResultSet {
            columns,
            rows,
            affected_rows: 0,
            last_insert_id: None,
            warnings: 0,
        })
    }

    fn broke(&mut self, what: &str) -> Fault {
        self.broken = true;
        Fault::protocol(format!("the server sent {what}"))
    }
}

/// Text or binary rows.
trait RowProtocol {
    fn row(columns: Arc<[WireColumn]>, packet: &[u8]) -> io::Result<Vec<WireValue>>;
}

impl RowProtocol for Text {
    fn row(columns: Arc<[WireColumn]>, packet: &[u8]) -> io::Result<Vec<WireValue>> {
        let row: RowDeserializer<(), Text> = ParseBuf(packet).parse(columns)?;
        Ok(mysql_common::row::Row::from(row).unwrap())
    }
}

impl RowProtocol for Binary {
    fn row(columns: Arc<[WireColumn]>, packet: &[u8]) -> io::Result<Vec<WireValue>> {
        let row: RowDeserializer<mysql_common::value::ServerSide, Binary> =
            ParseBuf(packet).parse(columns)?;
        Ok(mysql_common::row::Row::from(row).unwrap())
    }
}

const COM_QUIT: u8 = 0x01;
const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;
const HANDSHAKE_COLLATION: u8 = 45;

fn serialize(packet: &impl MySerialize) -> Vec<u8> {
    let mut buf = Vec::new();
    packet.serialize(&mut buf);
    buf
}

/// The auth data for `plugin`; an empty password sends none, as the protocol expects.
fn scramble_for(plugin: &AuthPlugin<'_>, password: &str, nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    match plugin {
        AuthPlugin::CachingSha2Password => scramble_sha256(nonce, password.as_bytes())
            .map(|s| s.to_vec())
            .unwrap_or_default(),
        _ => scramble_native(nonce, password.as_bytes())
            .map(|s| s.to_vec())
            .unwrap_or_default(),
    }
}

/// Runs the exchanges after the handshake response until the server accepts or refuses.
async fn authenticate(
    io: &mut PacketIo<Box<dyn Stream>>,
    mut plugin: AuthPlugin<'static>,
    password: &str,
    trusted_channel: bool,
    capabilities: CapabilityFlags,
) -> FaultResult<StatusFlags> {
    // Bounded: a server that keeps switching plugins is not one we can talk to.
    for _ in 0..4 {
        let packet = io.read().await?;
        match packet.first() {
            Some(0x00) => {
                let ok: OkPacket<'_> = ParseBuf(&packet)
                    .parse::<OkPacketDeserializer<'_, CommonOkPacket>>(capabilities)
                    .map(Into::into)
                    .map_err(|_| Fault::protocol("malformed OK after authentication"))?;
                return Ok(ok.status_flags());
            }
            Some(0xff) => return Err(server_error(&packet, capabilities)),
            Some(0xfe) => {
                // Auth switch: the account uses another plugin; answer with its scramble.
                let switch: AuthSwitchRequest<'_> = ParseBuf(&packet)
                    .parse(())
                    .map_err(|_| Fault::protocol("malformed auth switch request"))?;
                let data = switch.plugin_data();
                let nonce = data.strip_suffix(&[0]).unwrap_or(data).to_vec();
                plugin = switch.auth_plugin().into_owned();
                let answer = match &plugin {
                    AuthPlugin::MysqlNativePassword | AuthPlugin::CachingSha2Password => {
                        scramble_for(&plugin, password, &nonce)
                    }
                    AuthPlugin::MysqlClearPassword if trusted_channel => {
                        let mut clear = password.as_bytes().to_vec();
                        clear.push(0);
                        clear
                    }
                    other => {
                        return Err(Fault::Other {
                            error: Error::unsupported(
                                "wire",
                                format!(
                                    "the server asked for the authentication plugin `{}`{}; \
                                     use an account with mysql_native_password or \
                                     caching_sha2_password",
                                    String::from_utf8_lossy(other.as_bytes()),
                                    if trusted_channel { "" } else { " without TLS" }
                                ),
                            ),
                            broken: true,
                        });
                    }
                };
                io.write(&answer).await?;
            }
            Some(0x01) if plugin == AuthPlugin::CachingSha2Password => {
                match packet.get(1) {
                    // Fast path: the server had the password's hash cached; OK follows.
                    Some(0x03) => {}
                    // Full authentication: the password itself, which only a private
                    // channel may carry.
                    Some(0x04) if trusted_channel => {
                        let mut clear = password.as_bytes().to_vec();
                        clear.push(0);
                        io.write(&clear).await?;
                    }
                    Some(0x04) => {
                        return Err(Fault::Other {
                            error: Error::tls(
                                "caching_sha2_password needs the password sent over TLS for \
                                 this account (its hash is not cached on the server); use \
                                 ssl-mode=required or stronger",
                            ),
                            broken: true,
                        });
                    }
                    _ => return Err(Fault::protocol("unexpected caching_sha2_password data")),
                }
            }
            _ => return Err(Fault::protocol("unexpected packet during authentication")),
        }
    }
    Err(Fault::protocol("authentication did not finish"))
}

fn server_error(packet: &[u8], capabilities: CapabilityFlags) -> Fault {
    match ParseBuf(packet).parse::<ErrPacket<'_>>(capabilities) {
        Ok(ErrPacket::Error(e)) => Fault::Server(ServerError {
            code: e.error_code(),
            state: e
                .sql_state_ref()
                .map(|s| s.as_str().into_owned())
                .unwrap_or_else(|| "HY000".to_owned()),
            message: e.message_str().into_owned(),
        }),
        _ => Fault::protocol("malformed error packet"),
    }
}

/// The status flags of an old-style EOF packet (0xfe, warnings, status).
fn eof_status(packet: &[u8]) -> Option<StatusFlags> {
    let bytes = packet.get(3..5)?;
    Some(StatusFlags::from_bits_truncate(u16::from_le_bytes([
        bytes[0], bytes[1],
    ])))
}

/// A length-encoded integer at the start of `packet`.
fn lenenc(packet: &[u8]) -> Option<u64> {
    let (&first, rest) = packet.split_first()?;
    let take = |n: usize| -> Option<u64> {
        let bytes = rest.get(..n)?;
        Some(
            bytes
                .iter()
                .rev()
                .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
        )
    };
    match first {
        0..=0xfa => Some(u64::from(first)),
        0xfc => take(2),
        0xfd => take(3),
        0xfe => take(8),
        _ => None,
    }
}
