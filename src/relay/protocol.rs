//! The relay's wire format, without IO: TiDB Cloud's serverless HTTP SQL API plus our
//! extensions. Compiled for every target (serde only), so the native client, the Workers client
//! and the relay server share one definition.
//!
//! See `RELAY-PROTOCOL.md` and the README's "Relay" section. In short:
//!
//! * `POST /v1beta/sql` with `{"query": "…"}` and Basic credentials is the standard request;
//!   the answer is `{"types": […], "rows": [["1", null, …]], "rowsAffected", "sLastInsertID"}`
//!   with every value as a string (bytes as hex).
//! * A relay that has the extensions answers every request with the header
//!   [`RELAY_HEADER`]` = `[`EXTENSION_VERSION`]. A client that sends the same header gets the
//!   full column definitions and warnings, and may send typed `params`, a `batch`, an `action`
//!   (`begin`, `commit`, `rollback`) and a `deadlineMs`.
//! * Errors are `{"code", "message"}`; the extension adds `sqlState`, `kind`, `batchIndex`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Kind, Result, ServerError};
use crate::value::{BINARY_CHARSET, Column, ColumnFlags, ColumnType, ResultSet, Row, Value};

/// The SQL endpoint.
pub const SQL_PATH: &str = "/v1beta/sql";
/// The extension's capability document (authenticated).
pub const CAPABILITIES_PATH: &str = "/v1beta/capabilities";
/// Sent by a relay with extensions on every response, and by a client that wants them.
pub const RELAY_HEADER: &str = "TiDB-Connect-Relay";
/// The extension version this build speaks.
pub const EXTENSION_VERSION: u32 = 1;
/// The session token header.
pub const SESSION_HEADER: &str = "TiDB-Session";
/// The database header.
pub const DATABASE_HEADER: &str = "TiDB-Database";
/// The isolation level header, sent with `BEGIN`.
pub const ISOLATION_HEADER: &str = "TiDB-Isolation-Level";
/// `open` / `close` of a stateful connection.
pub const STATEFUL_HEADER: &str = "TiDB-Stateful-Action";
/// A request id the server echoes.
pub const TRACE_HEADER: &str = "X-Debug-Trace-Id";

/// The body of `POST /v1beta/sql`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SqlRequest {
    /// One SQL statement (empty for `open`/`close` and batches).
    #[serde(default)]
    pub query: String,
    /// Extension: typed parameters bound on the server, one per `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<WireParam>>,
    /// Extension: statements run atomically in one transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Vec<BatchItem>>,
    /// Extension: transaction control that is never confused with SQL text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<TxAction>,
    /// Extension, with `action: begin`: start a read-only transaction.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Extension: the relay gives up after this many milliseconds (capped by its maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// One statement of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchItem {
    /// The SQL text.
    pub query: String,
    /// Its parameters.
    #[serde(default)]
    pub params: Vec<WireParam>,
}

/// Transaction control of the extension.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TxAction {
    /// Start a transaction and pin a session to it.
    Begin,
    /// Commit and release the session.
    Commit,
    /// Roll back and release the session.
    Rollback,
}

/// A typed parameter: `{"t": "u64", "v": "18446744073709551615"}`; `{"t": "null"}` for NULL.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireParam {
    /// The type tag.
    pub t: String,
    /// The value as text (decimal digits, hex for bytes, ISO-like dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
}

impl WireParam {
    /// Encodes a value without loss.
    pub fn encode(value: &Value) -> WireParam {
        let (t, v) = match value {
            Value::Null => ("null", None),
            Value::Int(i) => ("i64", Some(i.to_string())),
            Value::UInt(u) => ("u64", Some(u.to_string())),
            Value::Float(f) => ("f32", Some(f.to_string())),
            Value::Double(d) => ("f64", Some(d.to_string())),
            Value::Decimal(d) => ("decimal", Some(d.as_str().to_owned())),
            Value::Text(s) => ("text", Some(s.clone())),
            Value::Bytes(b) => ("bytes", Some(hex_encode(b))),
            Value::Date(d) => ("date", Some(d.to_string())),
            Value::Time(t) => ("time", Some(t.to_string())),
            Value::DateTime(dt) => ("datetime", Some(dt.to_string())),
            Value::Year(y) => ("year", Some(y.to_string())),
            Value::Bit(b) => ("bit", Some(b.to_string())),
            Value::Json(j) => ("json", Some(j.clone())),
        };
        WireParam { t: t.to_owned(), v }
    }

    /// Decodes a parameter; the error says which tag or text is wrong, never the value.
    ///
    /// # Errors
    ///
    /// A usage error for an unknown tag, a missing value or text that does not parse.
    pub fn decode(&self) -> Result<Value> {
        let text = || {
            self.v.as_deref().ok_or_else(|| {
                Error::usage(format!(
                    "a parameter of type `{}` needs a value `v`",
                    self.t
                ))
            })
        };
        let bad =
            |what: &str| Error::usage(format!("the `v` of a `{}` parameter is not {what}", self.t));
        Ok(match self.t.as_str() {
            "null" => Value::Null,
            "i64" => Value::Int(
                text()?
                    .parse()
                    .map_err(|_| bad("a signed 64-bit integer"))?,
            ),
            "u64" => Value::UInt(
                text()?
                    .parse()
                    .map_err(|_| bad("an unsigned 64-bit integer"))?,
            ),
            "f32" => Value::Float(finite(text()?.parse().map_err(|_| bad("a number"))?, bad)?),
            "f64" => Value::Double(finite(text()?.parse().map_err(|_| bad("a number"))?, bad)?),
            "decimal" => Value::Decimal(text()?.parse().map_err(|_| bad("a decimal number"))?),
            "text" => Value::Text(text()?.to_owned()),
            "json" => Value::Json(text()?.to_owned()),
            "bytes" => Value::Bytes(hex_decode(text()?).ok_or_else(|| bad("even-length hex"))?),
            "date" => Value::Date(text()?.parse().map_err(|_| bad("a date (YYYY-MM-DD)"))?),
            "time" => Value::Time(
                text()?
                    .parse()
                    .map_err(|_| bad("a time ([-]H:MM:SS[.f])"))?,
            ),
            "datetime" => Value::DateTime(
                text()?
                    .parse()
                    .map_err(|_| bad("a datetime (YYYY-MM-DD HH:MM:SS[.f])"))?,
            ),
            "year" => Value::Year(text()?.parse().map_err(|_| bad("a year"))?),
            "bit" => Value::Bit(
                text()?
                    .parse()
                    .map_err(|_| bad("an unsigned 64-bit integer"))?,
            ),
            other => {
                return Err(Error::usage(format!(
                    "unknown parameter type `{}`; known: null, i64, u64, f32, f64, decimal, \
                     text, json, bytes, date, time, datetime, year, bit",
                    printable(other)
                )));
            }
        })
    }
}

fn finite<F: Into<f64> + Copy>(v: F, bad: impl Fn(&str) -> Error) -> Result<F> {
    if v.into().is_finite() {
        Ok(v)
    } else {
        Err(bad("a finite number"))
    }
}

/// Keeps at most 40 printable characters of client-supplied text for an error message.
fn printable(s: &str) -> String {
    s.chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A column of a response. The extension fields are present only when the client asked for
/// them with [`RELAY_HEADER`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WireColumn {
    /// The column name or alias.
    pub name: String,
    /// The type name, from the list in `RELAY-PROTOCOL.md`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether NULL may appear.
    pub nullable: bool,
    /// Extension: the MySQL type code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_type: Option<u8>,
    /// Extension: column flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u16>,
    /// Extension: character set number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<u16>,
    /// Extension: decimals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// Extension: display length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// Extension: table name or alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

/// A successful answer to one statement.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SqlResponse {
    /// The columns.
    #[serde(default)]
    pub types: Vec<WireColumn>,
    /// The rows; every non-NULL value is a string.
    #[serde(default)]
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows changed (statements without a result set).
    #[serde(
        rename = "rowsAffected",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rows_affected: Option<u64>,
    /// The generated AUTO_INCREMENT value, as a string.
    #[serde(
        rename = "sLastInsertID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub s_last_insert_id: Option<String>,
    /// The same, as a JSON number (older drivers read it; may lose precision there).
    #[serde(
        rename = "lastInsertID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_insert_id: Option<u64>,
    /// Extension: the statement's warning count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<u16>,
}

/// The answer to a batch: one response per statement.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BatchResponse {
    /// The results, in statement order.
    pub results: Vec<SqlResponse>,
}

/// The body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The MySQL errno for server errors, otherwise the HTTP status.
    pub code: u32,
    /// What went wrong (the server's own message for server errors).
    pub message: String,
    /// Extension: the SQLSTATE of a server error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_state: Option<String>,
    /// Extension: the error category (see [`ErrorBody::to_error`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Extension: for a failed batch, the failing statement's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_index: Option<usize>,
}

/// The capability document of `GET /v1beta/capabilities`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Always `tidb-connect`.
    pub relay: String,
    /// The extension version.
    pub version: u32,
    /// Whether the relay refuses writes.
    pub read_only: bool,
    /// The limits in force.
    pub limits: Limits,
}

/// The relay's limits, as published in its capability document.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Most statements in a batch.
    pub max_batch_statements: usize,
    /// Most rows in one response.
    pub max_rows: usize,
    /// Largest response body before compression, bytes.
    pub max_response_bytes: usize,
    /// Most pinned sessions per user.
    pub max_sessions_per_user: usize,
    /// Idle time after which a session is rolled back, milliseconds.
    pub session_idle_timeout_ms: u64,
    /// Deadline used when a request names none, milliseconds.
    pub default_deadline_ms: u64,
    /// Longest deadline a request may ask for, milliseconds.
    pub max_deadline_ms: u64,
}

// ---------------------------------------------------------------------------------------------
// Results

/// The type name the official driver and the Prisma adapter understand.
pub fn type_name(col: &Column) -> &'static str {
    use ColumnType as T;
    let unsigned = col.flags.is_unsigned();
    let binary = col.is_binary();
    let int = |signed: &'static str, unsigned_name: &'static str| {
        if unsigned { unsigned_name } else { signed }
    };
    let sized = |text: [&'static str; 4], bytes: [&'static str; 4]| {
        let names = if binary { bytes } else { text };
        // TEXT and BLOB columns all arrive as one type code; the length tells them apart.
        let i = match col.column_type {
            T::TinyBlob => 0,
            T::MediumBlob => 2,
            T::LongBlob => 3,
            // The length is in bytes: characters times up to 4 for text. The sizes are 256
            // times apart, so the text bounds hold for every character width from 1 to 4.
            _ if binary => match col.length {
                0..=255 => 0,
                256..=65_535 => 1,
                65_536..=16_777_215 => 2,
                _ => 3,
            },
            _ => match col.length {
                0..=1_020 => 0,
                1_021..=262_140 => 1,
                262_141..=67_108_860 => 2,
                _ => 3,
            },
        };
        names[i]
    };
    match col.column_type {
        T::Tiny => int("TINYINT", "UNSIGNED TINYINT"),
        T::Short => int("SMALLINT", "UNSIGNED SMALLINT"),
        T::Int24 => int("MEDIUMINT", "UNSIGNED MEDIUMINT"),
        T::Long => int("INT", "UNSIGNED INT"),
        T::LongLong => int("BIGINT", "UNSIGNED BIGINT"),
        T::Year => "YEAR",
        T::Float => "FLOAT",
        T::Double => "DOUBLE",
        T::Decimal | T::NewDecimal => "DECIMAL",
        T::Date => "DATE",
        T::Time => "TIME",
        T::DateTime => "DATETIME",
        T::Timestamp => "TIMESTAMP",
        T::Bit => "BIT",
        T::Json => "JSON",
        T::Geometry => "GEOMETRY",
        T::Null => "NULL",
        T::Enum => "ENUM",
        T::Set => "SET",
        T::String if col.flags.contains(ENUM_FLAG) => "ENUM",
        T::String if col.flags.contains(SET_FLAG) => "SET",
        T::String => {
            if binary {
                "BINARY"
            } else {
                "CHAR"
            }
        }
        T::TinyBlob | T::Blob | T::MediumBlob | T::LongBlob => sized(
            ["TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"],
            ["TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB"],
        ),
        _ => {
            if binary {
                "VARBINARY"
            } else {
                "VARCHAR"
            }
        }
    }
}

const ENUM_FLAG: u16 = 256;
const SET_FLAG: u16 = 2048;
/// utf8mb4_bin, the collation assumed for text columns when only a type name is known.
const UTF8MB4_BIN: u16 = 46;

/// Rebuilds a column from the standard fields only (a server without the extension).
fn column_from_type_name(wire: &WireColumn) -> Column {
    use ColumnType as T;
    let (name, unsigned) = match wire.type_name.strip_prefix("UNSIGNED ") {
        Some(rest) => (rest, true),
        None => (wire.type_name.as_str(), false),
    };
    let (column_type, binary, extra_flags) = match name {
        "TINYINT" => (T::Tiny, true, 0),
        "SMALLINT" => (T::Short, true, 0),
        "MEDIUMINT" => (T::Int24, true, 0),
        "INT" => (T::Long, true, 0),
        "BIGINT" => (T::LongLong, true, 0),
        "YEAR" => (T::Year, true, 0),
        "FLOAT" => (T::Float, true, 0),
        "DOUBLE" => (T::Double, true, 0),
        "DECIMAL" => (T::NewDecimal, true, 0),
        "DATE" => (T::Date, true, 0),
        "TIME" => (T::Time, true, 0),
        "DATETIME" => (T::DateTime, true, 0),
        "TIMESTAMP" => (T::Timestamp, true, 0),
        "BIT" => (T::Bit, true, 0),
        "JSON" => (T::Json, false, 0),
        "NULL" => (T::Null, true, 0),
        "ENUM" => (T::String, false, ENUM_FLAG),
        "SET" => (T::String, false, SET_FLAG),
        "CHAR" => (T::String, false, 0),
        "BINARY" => (T::String, true, 0),
        "VARBINARY" => (T::VarString, true, 0),
        "TINYBLOB" => (T::TinyBlob, true, 0),
        "BLOB" => (T::Blob, true, 0),
        "MEDIUMBLOB" => (T::MediumBlob, true, 0),
        "LONGBLOB" => (T::LongBlob, true, 0),
        "TINYTEXT" => (T::TinyBlob, false, 0),
        "TEXT" => (T::Blob, false, 0),
        "MEDIUMTEXT" => (T::MediumBlob, false, 0),
        "LONGTEXT" => (T::LongBlob, false, 0),
        "GEOMETRY" => (T::Geometry, true, 0),
        _ => (T::VarString, false, 0),
    };
    let mut flags = extra_flags;
    if unsigned {
        flags |= ColumnFlags::UNSIGNED;
    }
    if !wire.nullable {
        flags |= ColumnFlags::NOT_NULL;
    }
    Column {
        name: wire.name.clone(),
        table: String::new(),
        column_type,
        flags: ColumnFlags(flags),
        charset: if binary { BINARY_CHARSET } else { UTF8MB4_BIN },
        decimals: 0,
        length: 0,
    }
}

fn column_from_wire(wire: &WireColumn) -> Column {
    match (wire.mysql_type, wire.flags, wire.charset) {
        (Some(code), Some(flags), Some(charset)) => Column {
            name: wire.name.clone(),
            table: wire.table.clone().unwrap_or_default(),
            column_type: ColumnType::from_code(code),
            flags: ColumnFlags(flags),
            charset,
            decimals: wire.decimals.unwrap_or(0),
            length: wire.length.unwrap_or(0),
        },
        _ => column_from_type_name(wire),
    }
}

fn type_code(t: ColumnType) -> u8 {
    use ColumnType as T;
    match t {
        T::Decimal => 0x00,
        T::Tiny => 0x01,
        T::Short => 0x02,
        T::Long => 0x03,
        T::Float => 0x04,
        T::Double => 0x05,
        T::Null => 0x06,
        T::Timestamp => 0x07,
        T::LongLong => 0x08,
        T::Int24 => 0x09,
        T::Date => 0x0a,
        T::Time => 0x0b,
        T::DateTime => 0x0c,
        T::Year => 0x0d,
        T::VarChar => 0x0f,
        T::Bit => 0x10,
        T::Vector => 0xf2,
        T::Json => 0xf5,
        T::NewDecimal => 0xf6,
        T::Enum => 0xf7,
        T::Set => 0xf8,
        T::TinyBlob => 0xf9,
        T::MediumBlob => 0xfa,
        T::LongBlob => 0xfb,
        T::Blob => 0xfc,
        T::VarString => 0xfd,
        T::String => 0xfe,
        T::Geometry => 0xff,
        T::Other(code) => code,
    }
}

/// The text of one cell as the standard protocol carries it.
pub fn encode_cell(col: &Column, value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => float_text(f64::from(*f), f.to_string()),
        Value::Double(d) => float_text(*d, d.to_string()),
        Value::Decimal(d) => d.as_str().to_owned(),
        Value::Text(s) | Value::Json(s) => s.clone(),
        Value::Bytes(b) => hex_encode(b),
        Value::Date(d) => d.to_string(),
        Value::Time(t) => t.to_string(),
        Value::DateTime(dt) => dt.to_string(),
        Value::Year(y) => format!("{y:04}"),
        Value::Bit(b) => {
            // BIT(n) travels as its ceil(n/8) big-endian bytes, like the text protocol.
            let width = (col.length.div_ceil(8) as usize).clamp(1, 8);
            hex_encode(&b.to_be_bytes()[8 - width..])
        }
    })
}

/// Shortest round-trip text, in exponent form for very large or small magnitudes (as MySQL
/// prints them), so `-1e300` is not 300 digits long.
fn float_text(v: f64, plain: String) -> String {
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-5..1e15).contains(&magnitude) {
        format!("{v:e}")
    } else {
        plain
    }
}

/// Encodes a result set. `extended` adds the full column definitions and the warning count.
pub fn encode_result(rs: &ResultSet, extended: bool) -> SqlResponse {
    let types = rs
        .columns
        .iter()
        .map(|c| WireColumn {
            name: c.name.clone(),
            type_name: type_name(c).to_owned(),
            nullable: !c.flags.is_not_null(),
            mysql_type: extended.then(|| type_code(c.column_type)),
            flags: extended.then_some(c.flags.0),
            charset: extended.then_some(c.charset),
            decimals: extended.then_some(c.decimals),
            length: extended.then_some(c.length),
            table: (extended && !c.table.is_empty()).then(|| c.table.clone()),
        })
        .collect();
    let rows = rs
        .rows
        .iter()
        .map(|r| {
            r.values()
                .iter()
                .zip(rs.columns.iter())
                .map(|(v, c)| encode_cell(c, v))
                .collect()
        })
        .collect();
    let dml = rs.columns.is_empty();
    let id = rs.last_insert_id.unwrap_or(0);
    SqlResponse {
        types,
        rows,
        rows_affected: dml.then_some(rs.affected_rows),
        s_last_insert_id: dml.then(|| id.to_string()),
        last_insert_id: dml.then_some(id),
        warnings: extended.then_some(rs.warnings),
    }
}

/// Decodes a response into a result set, giving the same values as the direct backend's text
/// protocol for the same cells.
///
/// # Errors
///
/// A protocol error for a row of the wrong width or bad hex; a decode error naming the column
/// for a value that does not fit its type.
pub fn decode_result(resp: SqlResponse) -> Result<ResultSet> {
    let columns: Arc<[Column]> = resp.types.iter().map(column_from_wire).collect();
    let mut rows = Vec::with_capacity(resp.rows.len());
    for raw in resp.rows {
        if raw.len() != columns.len() {
            return Err(Error::protocol(format!(
                "the relay sent a row of {} values for {} columns",
                raw.len(),
                columns.len()
            )));
        }
        let values = raw
            .into_iter()
            .zip(columns.iter())
            .map(|(cell, col)| decode_cell(col, cell))
            .collect::<Result<Vec<_>>>()?;
        rows.push(Row::new(columns.clone(), values));
    }
    let last_insert_id = match (&resp.s_last_insert_id, resp.last_insert_id) {
        (Some(s), _) => Some(s.parse::<u64>().map_err(|_| {
            Error::protocol("the relay sent a last insert id that is not a number")
        })?),
        (None, id) => id,
    };
    Ok(ResultSet {
        columns,
        rows,
        affected_rows: resp.rows_affected.unwrap_or(0),
        last_insert_id: last_insert_id.filter(|id| *id != 0),
        warnings: resp.warnings.unwrap_or(0),
    })
}

fn decode_cell(col: &Column, cell: Option<String>) -> Result<Value> {
    let Some(text) = cell else {
        return Ok(Value::Null);
    };
    let hex =
        (col.is_binary() && is_string_type(col.column_type)) || col.column_type == ColumnType::Bit;
    let bytes = if hex {
        hex_decode(&text).ok_or_else(|| {
            Error::protocol(format!(
                "the relay sent a value of binary column `{}` that is not hex",
                col.name
            ))
        })?
    } else {
        text.into_bytes()
    };
    crate::protocol::decode::value(col, mysql_common::value::Value::Bytes(bytes))
}

/// Types whose values are bytes when their charset is binary (numbers and dates report the
/// binary charset too, but travel as text).
fn is_string_type(t: ColumnType) -> bool {
    use ColumnType as T;
    matches!(
        t,
        T::VarChar
            | T::VarString
            | T::String
            | T::TinyBlob
            | T::Blob
            | T::MediumBlob
            | T::LongBlob
            | T::Geometry
            | T::Enum
            | T::Set
            | T::Vector
            | T::Other(_)
    )
}

// ---------------------------------------------------------------------------------------------
// Errors

/// HTTP statuses of the protocol.
pub mod status {
    /// An SQL error or a malformed request.
    pub const BAD_REQUEST: u16 = 400;
    /// Missing or wrong credentials.
    pub const UNAUTHORIZED: u16 = 401;
    /// Not allowed (read-only relay).
    pub const FORBIDDEN: u16 = 403;
    /// Unknown or expired session.
    pub const NOT_FOUND: u16 = 404;
    /// Request or response too large.
    pub const TOO_LARGE: u16 = 413;
    /// Too many sessions for this user.
    pub const TOO_MANY: u16 = 429;
    /// The upstream connection broke.
    pub const BAD_GATEWAY: u16 = 502;
    /// Busy, shutting down, or the database cannot be reached.
    pub const UNAVAILABLE: u16 = 503;
    /// The deadline passed.
    pub const GATEWAY_TIMEOUT: u16 = 504;
}

/// Wire names of error kinds (the `kind` field).
mod kind {
    pub const SERVER: &str = "server";
    pub const USAGE: &str = "usage";
    pub const UNSUPPORTED: &str = "unsupported";
    pub const FORBIDDEN: &str = "forbidden";
    pub const CONNECT: &str = "connect";
    pub const TIMEOUT: &str = "timeout";
    pub const DEADLINE: &str = "deadline";
    pub const CONNECTION_LOST: &str = "connection_lost";
    pub const LOST_IN_TRANSACTION: &str = "lost_in_transaction";
    pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";
    pub const DECODE: &str = "decode";
    pub const SESSION_EXPIRED: &str = "session_expired";
    pub const LIMIT: &str = "limit";
    pub const OVERLOADED: &str = "overloaded";
    pub const AUTH: &str = "auth";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const INTERNAL: &str = "internal";
}

impl ErrorBody {
    fn plain(status: u16, kind: &str, message: impl Into<String>) -> (u16, ErrorBody) {
        (
            status,
            ErrorBody {
                code: u32::from(status),
                message: message.into(),
                sql_state: None,
                kind: Some(kind.to_owned()),
                batch_index: None,
            },
        )
    }

    /// A malformed request (bad JSON, bad parameter): 400.
    pub fn bad_request(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::BAD_REQUEST, kind::BAD_REQUEST, message)
    }

    /// A path the relay does not serve: 404.
    pub fn unknown_endpoint() -> (u16, ErrorBody) {
        Self::plain(
            status::NOT_FOUND,
            kind::BAD_REQUEST,
            "no such endpoint; SQL goes to POST /v1beta/sql",
        )
    }

    /// Missing or wrong credentials: 401 with MySQL's access-denied code.
    pub fn unauthorized(message: impl Into<String>) -> (u16, ErrorBody) {
        let (s, mut body) = Self::plain(status::UNAUTHORIZED, kind::AUTH, message);
        body.code = u32::from(crate::codes::ACCESS_DENIED);
        body.sql_state = Some("28000".to_owned());
        (s, body)
    }

    /// Refused by policy (read-only relay): 403.
    pub fn forbidden(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::FORBIDDEN, kind::FORBIDDEN, message)
    }

    /// Unknown, expired or foreign session: 404.
    pub fn session_expired(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::NOT_FOUND, kind::SESSION_EXPIRED, message)
    }

    /// Body, batch, rows or bytes over the limit: 413.
    pub fn too_large(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::TOO_LARGE, kind::LIMIT, message)
    }

    /// Too many sessions for this user: 429.
    pub fn too_many_sessions(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::TOO_MANY, kind::LIMIT, message)
    }

    /// Busy or shutting down: 503.
    pub fn overloaded(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::UNAVAILABLE, kind::OVERLOADED, message)
    }

    /// The deadline passed: 504.
    pub fn deadline(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(status::GATEWAY_TIMEOUT, kind::DEADLINE, message)
    }

    /// A bug on the relay's side: 500 (never for anything a client sent).
    pub fn internal(message: impl Into<String>) -> (u16, ErrorBody) {
        Self::plain(500, kind::INTERNAL, message)
    }

    /// The wire form of an error raised while running a request, with the HTTP status.
    pub fn from_error(e: &Error) -> (u16, ErrorBody) {
        if let Some(cause) = e.batch_source() {
            let (status, mut body) = Self::from_error(cause);
            body.batch_index = e.batch_index();
            return (status, body);
        }
        let text = |m: &str| m.to_owned();
        match e.kind() {
            Kind::Server { error, .. } => {
                let status = if error.code == crate::codes::ACCESS_DENIED {
                    status::UNAUTHORIZED
                } else {
                    status::BAD_REQUEST
                };
                (
                    status,
                    ErrorBody {
                        code: u32::from(error.code),
                        message: error.message.clone(),
                        sql_state: Some(error.state.clone()),
                        kind: Some(kind::SERVER.to_owned()),
                        batch_index: None,
                    },
                )
            }
            Kind::Usage(m) => Self::plain(status::BAD_REQUEST, kind::USAGE, text(m)),
            Kind::Unsupported { what, .. } => {
                Self::plain(status::BAD_REQUEST, kind::UNSUPPORTED, text(what))
            }
            Kind::Decode { .. } => Self::plain(status::BAD_REQUEST, kind::DECODE, e.detail()),
            // A user name or database the configuration rules refuse (e.g. a TiDB Cloud user
            // without its prefix): the request's fault, not the relay's.
            Kind::Config(_) | Kind::NotBuilt(_) => {
                Self::plain(status::BAD_REQUEST, kind::USAGE, e.to_string())
            }
            Kind::Connect(_) | Kind::Tls(_) => Self::plain(
                status::UNAVAILABLE,
                kind::CONNECT,
                format!("the relay cannot reach the database: {e}"),
            ),
            Kind::Timeout { phase, .. } if phase.starts_with("connect") => {
                Self::plain(status::UNAVAILABLE, kind::TIMEOUT, e.to_string())
            }
            Kind::Timeout { .. } => {
                Self::plain(status::GATEWAY_TIMEOUT, kind::DEADLINE, e.to_string())
            }
            Kind::ConnectionLost(_) => {
                Self::plain(status::BAD_GATEWAY, kind::CONNECTION_LOST, e.to_string())
            }
            Kind::LostInTransaction => Self::plain(
                status::BAD_GATEWAY,
                kind::LOST_IN_TRANSACTION,
                e.to_string(),
            ),
            Kind::OutcomeUnknown => {
                Self::plain(status::BAD_GATEWAY, kind::OUTCOME_UNKNOWN, e.to_string())
            }
            Kind::SessionExpired(m) => Self::session_expired(text(m)),
            Kind::LimitExceeded(m) => Self::too_large(text(m)),
            Kind::Overloaded(m) => Self::overloaded(text(m)),
            Kind::Protocol(_) | Kind::Batch { .. } => Self::internal(e.to_string()),
        }
    }

    /// Turns an error answer back into an [`Error`]: by `kind` when the relay has the
    /// extension, otherwise by status and code (TiDB Cloud's endpoint).
    pub fn to_error(&self, http_status: u16, in_transaction: bool) -> Error {
        let message = self.message.clone();
        let server = |code: u16, state: Option<&str>, message: String| {
            Error::server(ServerError {
                code,
                state: state.unwrap_or("HY000").to_owned(),
                message,
            })
        };
        let error = match self.kind.as_deref() {
            Some(kind::SERVER) | Some(kind::AUTH) => {
                let code = u16::try_from(self.code).unwrap_or(0);
                server(code, self.sql_state.as_deref(), message)
            }
            Some(kind::USAGE) | Some(kind::BAD_REQUEST) => Error::usage(message),
            Some(kind::UNSUPPORTED) | Some(kind::FORBIDDEN) => Error::unsupported("relay", message),
            Some(kind::DECODE) => Error::decode(None, message),
            Some(kind::CONNECT) => Error::connect(message),
            Some(kind::TIMEOUT) => Error::timeout(
                format!("connect (at the relay): {message}"),
                Default::default(),
            ),
            Some(kind::DEADLINE) => Error::timeout(
                format!("the relay's deadline: {message}"),
                Default::default(),
            ),
            Some(kind::CONNECTION_LOST) => {
                Error::connection_lost(format!("the relay's statement ({message})"))
            }
            Some(kind::LOST_IN_TRANSACTION) => Error::lost_in_transaction(),
            Some(kind::OUTCOME_UNKNOWN) => Error::outcome_unknown(),
            Some(kind::SESSION_EXPIRED) => Error::session_expired(message),
            Some(kind::LIMIT) => Error::limit_exceeded(message),
            Some(kind::OVERLOADED) => Error::overloaded(message),
            _ => standard_error(http_status, self.code, message),
        };
        let error = if in_transaction {
            error.in_transaction()
        } else {
            error
        };
        match self.batch_index {
            Some(index) => Error::batch(index, error),
            None => error,
        }
    }
}

/// Maps an error of a server without the extension by status and code.
fn standard_error(http_status: u16, code: u32, message: String) -> Error {
    match http_status {
        status::UNAUTHORIZED => Error::server(ServerError {
            code: crate::codes::ACCESS_DENIED,
            state: "28000".to_owned(),
            message,
        }),
        status::FORBIDDEN => Error::unsupported("relay", message),
        status::NOT_FOUND => Error::session_expired(message),
        status::TOO_LARGE => Error::limit_exceeded(message),
        status::TOO_MANY | status::UNAVAILABLE => Error::overloaded(message),
        status::GATEWAY_TIMEOUT => Error::timeout(
            format!("the relay's deadline: {message}"),
            Default::default(),
        ),
        _ => match parse_server_message(&message).or_else(|| {
            (1000..10_000)
                .contains(&code)
                .then(|| (code as u16, "HY000".to_owned(), message.clone()))
        }) {
            Some((code, state, message)) => Error::server(ServerError {
                code,
                state,
                message,
            }),
            None if http_status >= 500 => Error::connection_lost(format!(
                "the http request (status {http_status}: {message})"
            )),
            None => Error::protocol(format!("status {http_status}: {message}")),
        },
    }
}

/// Reads `Error 1064 (42000): message`, the form Go MySQL drivers (and TiDB Cloud's endpoint)
/// print.
fn parse_server_message(text: &str) -> Option<(u16, String, String)> {
    let rest = text.strip_prefix("Error ")?;
    let (code, rest) = rest.split_once(' ')?;
    let code: u16 = code.parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    let (state, rest) = rest.split_once(')')?;
    let message = rest.strip_prefix(':')?.trim_start();
    (state.len() == 5).then(|| (code, state.to_owned(), message.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Small codecs

/// Lowercase hex without `0x`.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Written index by index into a buffer of the final size: multi-megabyte blobs pass here,
    // and this stays fast in unoptimised (test) builds too.
    let mut out = vec![0u8; bytes.len() * 2];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    String::from_utf8(out).expect("hex digits are ascii")
}

/// Decodes even-length hex (either case); `None` for anything else.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    const INVALID: u8 = 0xff;
    const TABLE: [u8; 256] = {
        let mut t = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let mut out = vec![0u8; bytes.len() / 2];
    let mut bad = 0u8;
    for (i, slot) in out.iter_mut().enumerate() {
        let (hi, lo) = (
            TABLE[usize::from(bytes[2 * i])],
            TABLE[usize::from(bytes[2 * i + 1])],
        );
        bad |= (hi | lo) & 0xf0;
        *slot = hi << 4 | lo;
    }
    (bad == 0).then_some(out)
}

/// `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Reads `Basic base64(user:password)`; `None` when the header is not that.
pub fn parse_basic_auth(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Date, DateTime, Decimal, Time};

    fn col(t: ColumnType, flags: u16, charset: u16, length: u32) -> Column {
        Column {
            name: "c".into(),
            table: "t".into(),
            column_type: t,
            flags: ColumnFlags(flags),
            charset,
            decimals: 0,
            length,
        }
    }

    #[test]
    fn params_round_trip_without_loss() {
        let values = [
            Value::Null,
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::Float(1.5),
            Value::Double(std::f64::consts::PI),
            Value::Double(-1.0e300),
            Value::Decimal(
                "-12345678901234567890123456789012345.123456789012345678901234567890"
                    .parse::<Decimal>()
                    .unwrap(),
            ),
            Value::Text("héllo 🦀 \0 ' \" \\".into()),
            Value::Bytes((0..=255).collect()),
            Value::Date("0000-00-00".parse::<Date>().unwrap()),
            Value::Time("-838:59:59.000001".parse::<Time>().unwrap()),
            Value::DateTime("2016-07-00 10:00:00.5".parse::<DateTime>().unwrap()),
            Value::Year(2155),
            Value::Bit(u64::MAX),
            Value::Json(r#"{"n": 12345678901234567890}"#.into()),
        ];
        for v in values {
            let wire = WireParam::encode(&v);
            let json = serde_json::to_string(&wire).unwrap();
            let back: WireParam = serde_json::from_str(&json).unwrap();
            assert_eq!(back.decode().unwrap(), v, "{json}");
        }
    }

    #[test]
    fn bad_params_are_usage_errors_without_the_value() {
        let cases = [
            ("u64", Some("-1")),
            ("i64", Some("9223372036854775808")),
            ("bytes", Some("abc")),
            ("bytes", Some("zz")),
            ("date", Some("2024-13-01")),
            ("f64", Some("NaN")),
            ("f64", Some("inf")),
            ("text", None),
            ("nope", Some("secret-value")),
        ];
        for (t, v) in cases {
            let p = WireParam {
                t: t.into(),
                v: v.map(str::to_owned),
            };
            let e = p.decode().unwrap_err();
            assert!(e.to_string().starts_with("invalid call"), "{e}");
            if let Some(v) = v {
                assert!(!e.to_string().contains(v) || v.len() < 3, "{e}");
            }
        }
    }

    #[test]
    fn type_names_are_the_documented_ones() {
        let cases = [
            (
                col(ColumnType::LongLong, ColumnFlags::UNSIGNED, 63, 20),
                "UNSIGNED BIGINT",
            ),
            (col(ColumnType::Tiny, 0, 63, 4), "TINYINT"),
            (col(ColumnType::VarString, 0, 63, 300), "VARBINARY"),
            (col(ColumnType::VarString, 0, 46, 400), "VARCHAR"),
            (col(ColumnType::Blob, 0, 46, 67_108_860), "MEDIUMTEXT"),
            (col(ColumnType::Blob, 0, 46, 1_020), "TINYTEXT"),
            (col(ColumnType::Blob, 0, 46, 262_140), "TEXT"),
            (col(ColumnType::Blob, 0, 8, 65_535), "TEXT"),
            (col(ColumnType::Blob, 0, 46, 4_294_967_295), "LONGTEXT"),
            (col(ColumnType::Blob, 0, 63, 4_294_967_295), "LONGBLOB"),
            (col(ColumnType::Blob, 0, 63, 65_535), "BLOB"),
            (col(ColumnType::String, ENUM_FLAG, 46, 4), "ENUM"),
            (col(ColumnType::String, 0, 63, 4), "BINARY"),
            (col(ColumnType::NewDecimal, 0, 63, 67), "DECIMAL"),
            (col(ColumnType::Null, 0, 63, 0), "NULL"),
        ];
        for (c, name) in cases {
            assert_eq!(type_name(&c), name, "{c:?}");
        }
    }

    #[test]
    fn cells_round_trip_through_standard_and_extended_forms() {
        let columns: Arc<[Column]> = vec![
            col(ColumnType::LongLong, ColumnFlags::UNSIGNED, 63, 20),
            col(ColumnType::VarString, 0, 63, 300),
            col(ColumnType::Bit, ColumnFlags::UNSIGNED, 63, 64),
            col(ColumnType::Double, 0, 63, 22),
            col(ColumnType::Date, 0, 63, 10),
            col(ColumnType::VarString, 0, 46, 100),
        ]
        .into();
        let values = vec![
            Value::UInt(u64::MAX),
            Value::Bytes(vec![0, 255, 16]),
            Value::Bit(u64::MAX),
            Value::Double(-1.0e300),
            Value::Date(Date::default()),
            Value::Text("ünï".into()),
        ];
        let rs = ResultSet {
            columns: columns.clone(),
            rows: vec![Row::new(columns, values.clone())],
            ..ResultSet::default()
        };
        for extended in [true, false] {
            let wire = encode_result(&rs, extended);
            let json = serde_json::to_vec(&wire).unwrap();
            let back = decode_result(serde_json::from_slice(&json).unwrap()).unwrap();
            assert_eq!(back.rows[0].values(), &values[..], "extended={extended}");
        }
        let wire = encode_result(&rs, false);
        assert_eq!(wire.rows[0][1].as_deref(), Some("00ff10"));
        assert_eq!(wire.rows[0][2].as_deref(), Some("ffffffffffffffff"));
        assert_eq!(wire.rows[0][3].as_deref(), Some("-1e300"));
        assert!(wire.types[0].mysql_type.is_none());
    }

    #[test]
    fn errors_survive_the_wire() {
        let e = Error::batch(
            2,
            Error::server(ServerError {
                code: 1062,
                state: "23000".into(),
                message: "Duplicate entry".into(),
            }),
        );
        let (status, body) = ErrorBody::from_error(&e);
        assert_eq!(status, 400);
        let back = body.to_error(status, false);
        assert_eq!(
            (back.code(), back.sql_state(), back.batch_index()),
            (Some(1062), Some("23000"), Some(2))
        );

        let (status, body) = ErrorBody::from_error(&Error::outcome_unknown());
        assert!(body.to_error(status, true).is_outcome_unknown());
        let (status, body) = ErrorBody::session_expired("gone");
        assert!(body.to_error(status, true).is_session_expired());
        let (status, body) = ErrorBody::overloaded("busy");
        let e = body.to_error(status, false);
        assert!(e.is_overloaded() && e.is_retryable());
        let (status, body) = ErrorBody::deadline("slow");
        let e = body.to_error(status, false);
        assert!(e.is_timeout() && !e.is_retryable());
    }

    #[test]
    fn standard_errors_map_by_status_and_message() {
        let body = ErrorBody {
            code: 1064,
            message: "Error 1064 (42000): You have an error in your SQL syntax".into(),
            sql_state: None,
            kind: None,
            batch_index: None,
        };
        let e = body.to_error(400, false);
        assert_eq!((e.code(), e.sql_state()), (Some(1064), Some("42000")));
        let body = ErrorBody {
            code: 401,
            message: "denied".into(),
            sql_state: None,
            kind: None,
            batch_index: None,
        };
        assert!(body.to_error(401, false).is_connect());
        assert!(body.to_error(404, true).is_session_expired());
        assert!(body.to_error(413, false).is_limit_exceeded());
    }

    #[test]
    fn hex_and_basic_auth() {
        assert_eq!(hex_decode("00FFab"), Some(vec![0, 255, 0xab]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("0g"), None);
        let h = basic_auth("4zX9.root", "p@ss:w/rd");
        assert_eq!(
            parse_basic_auth(&h),
            Some(("4zX9.root".into(), "p@ss:w/rd".into()))
        );
        assert_eq!(parse_basic_auth("Bearer x"), None);
        assert_eq!(parse_basic_auth("Basic !!!"), None);
    }
}
