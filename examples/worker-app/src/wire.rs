//! The JSON forms of values, results and errors.
//!
//! Every non-NULL value is an object `{"type": T, "value": V}`, so nothing is lost on the way
//! through JavaScript (whose numbers are doubles):
//!
//! | `type` | `value` | from |
//! |---|---|---|
//! | `int`, `uint` | decimal string (`"-9223372036854775808"`) | `Value::Int`, `Value::UInt` |
//! | `float`, `double` | JSON number (shortest form that reads back exactly) | `Value::Float`, `Value::Double` |
//! | `decimal` | the exact decimal text (`"-12.340"`) | `Value::Decimal` |
//! | `text` | string | `Value::Text` |
//! | `bytes` | lowercase hex (`"00ff"`) | `Value::Bytes` |
//! | `date`, `time`, `datetime` | MySQL's text (`"0000-00-00"`, `"-838:59:59"`, `"… 23:59:59.999999"`) | `Value::Date`, `Value::Time`, `Value::DateTime` |
//! | `year` | number | `Value::Year` |
//! | `bit` | decimal string | `Value::Bit` |
//! | `json` | the server's JSON text | `Value::Json` |
//!
//! SQL NULL is `null`. Parameters take the same objects, and as shorthands a JSON string (text),
//! an integral number (int, or uint above `i64::MAX`), another number (double) and a boolean
//! (0 or 1).

use serde_json::{Map, Value as Json, json};
use tidb_connect::{Column, ExecResult, IsolationLevel, ResultSet, Value};

/// Encodes a value.
pub fn value(v: &Value) -> Json {
    let (kind, value) = match v {
        Value::Null => return Json::Null,
        Value::Int(i) => ("int", json!(i.to_string())),
        Value::UInt(u) => ("uint", json!(u.to_string())),
        Value::Float(f) => ("float", json!(f)),
        Value::Double(d) => ("double", json!(d)),
        Value::Decimal(d) => ("decimal", json!(d.as_str())),
        Value::Text(s) => ("text", json!(s)),
        Value::Bytes(b) => ("bytes", json!(hex(b))),
        Value::Date(d) => ("date", json!(d.to_string())),
        Value::Time(t) => ("time", json!(t.to_string())),
        Value::DateTime(dt) => ("datetime", json!(dt.to_string())),
        Value::Year(y) => ("year", json!(y)),
        Value::Bit(b) => ("bit", json!(b.to_string())),
        Value::Json(s) => ("json", json!(s)),
        // `Value` is non-exhaustive: a kind added later still reaches the client, as text.
        other => (other.kind_name(), json!(other.to_string())),
    };
    json!({ "type": kind, "value": value })
}

/// Decodes parameters.
pub fn params(list: &[Json]) -> Result<Vec<Value>, Failure> {
    list.iter()
        .enumerate()
        .map(|(i, p)| param(p).map_err(|m| Failure::bad_request(&format!("params[{i}]: {m}"))))
        .collect()
}

fn param(p: &Json) -> Result<Value, String> {
    match p {
        Json::Null => Ok(Value::Null),
        Json::Bool(b) => Ok(Value::from(*b)),
        Json::String(s) => Ok(Value::Text(s.clone())),
        Json::Number(n) => Ok(if let Some(i) = n.as_i64() {
            Value::Int(i)
        } else if let Some(u) = n.as_u64() {
            Value::UInt(u)
        } else {
            Value::Double(n.as_f64().unwrap_or(f64::NAN))
        }),
        Json::Object(o) => tagged(o),
        Json::Array(_) => Err("an array is not a value".into()),
    }
}

fn tagged(o: &Map<String, Json>) -> Result<Value, String> {
    let kind = o.get("type").and_then(Json::as_str).ok_or("no `type`")?;
    let raw = o.get("value").ok_or("no `value`")?;
    // Numbers may come as JSON numbers or as strings (the lossless form).
    let text = match raw {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => return Err(format!("`value` {other} is neither a string nor a number")),
    };
    let bad = |e: &dyn std::fmt::Display| format!("`{text}` is not a {kind}: {e}");
    Ok(match kind {
        "int" => Value::Int(text.parse().map_err(|e| bad(&e))?),
        "uint" => Value::UInt(text.parse().map_err(|e| bad(&e))?),
        "float" => Value::Float(text.parse().map_err(|e| bad(&e))?),
        "double" => Value::Double(text.parse().map_err(|e| bad(&e))?),
        "decimal" => Value::Decimal(text.parse().map_err(|e| bad(&e))?),
        "text" => Value::Text(text),
        "bytes" => Value::Bytes(unhex(&text).ok_or_else(|| bad(&"odd length or not hex"))?),
        "date" => Value::Date(text.parse().map_err(|e| bad(&e))?),
        "time" => Value::Time(text.parse().map_err(|e| bad(&e))?),
        "datetime" => Value::DateTime(text.parse().map_err(|e| bad(&e))?),
        "year" => Value::Year(text.parse().map_err(|e| bad(&e))?),
        "bit" => Value::Bit(text.parse().map_err(|e| bad(&e))?),
        "json" => Value::Json(text),
        other => return Err(format!("unknown type `{other}`")),
    })
}

/// Encodes a result set: column metadata, rows, and what the statement reported.
pub fn result_set(rs: &ResultSet) -> Json {
    json!({
        "columns": rs.columns.iter().map(column).collect::<Vec<_>>(),
        "rows": rs.rows.iter()
            .map(|r| r.values().iter().map(value).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        "affected_rows": rs.affected_rows.to_string(),
        "last_insert_id": rs.last_insert_id.map(|id| id.to_string()),
        "warnings": rs.warnings,
    })
}

fn column(c: &Column) -> Json {
    json!({
        "name": c.name,
        "table": c.table,
        // The `ColumnType` variant name: `Long`, `LongLong`, `NewDecimal`, `VarString`, …
        "column_type": format!("{:?}", c.column_type),
        "unsigned": c.flags.is_unsigned(),
        "not_null": c.flags.is_not_null(),
        "binary": c.is_binary(),
        "charset": c.charset,
        "decimals": c.decimals,
    })
}

/// Encodes what `execute` reported.
pub fn exec_result(r: &ExecResult) -> Json {
    json!({
        "affected_rows": r.affected_rows.to_string(),
        "last_insert_id": r.last_insert_id.map(|id| id.to_string()),
        "warnings": r.warnings,
    })
}

/// Reads an isolation level as SQL spells it (`READ COMMITTED`; `_` for the space is fine).
pub fn isolation(s: &str) -> Result<IsolationLevel, Failure> {
    match s.to_ascii_uppercase().replace('_', " ").as_str() {
        "READ UNCOMMITTED" => Ok(IsolationLevel::ReadUncommitted),
        "READ COMMITTED" => Ok(IsolationLevel::ReadCommitted),
        "REPEATABLE READ" => Ok(IsolationLevel::RepeatableRead),
        "SERIALIZABLE" => Ok(IsolationLevel::Serializable),
        _ => Err(Failure::bad_request(&format!(
            "unknown isolation level `{s}`"
        ))),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Why a request failed: a malformed request, or an error of the library.
pub struct Failure {
    status: u16,
    body: Json,
}

impl Failure {
    /// The request itself was wrong (HTTP 400); no database call was made.
    pub fn bad_request(message: &str) -> Self {
        Failure {
            status: 400,
            body: json!({ "error": { "message": message, "bad_request": true } }),
        }
    }

    /// No such route (HTTP 404).
    pub fn not_found(what: &str) -> Self {
        Failure {
            status: 404,
            body: json!({ "error": { "message": format!("no route for {what}"), "bad_request": true } }),
        }
    }

    /// A library error during `step` (HTTP 500), with its questions answered.
    pub fn db(step: &str, e: tidb_connect::Error) -> Self {
        Failure {
            status: 500,
            body: json!({ "error": error(step, &e) }),
        }
    }

    /// Names the statement of a transaction that failed.
    pub fn at_statement(mut self, index: usize) -> Self {
        if let Some(e) = self.body.get_mut("error").and_then(Json::as_object_mut) {
            e.insert("statement_index".into(), json!(index));
        }
        self
    }

    /// Adds the results of the statements that ran before the failure.
    pub fn with_results(mut self, results: &[Json]) -> Self {
        if let Some(body) = self.body.as_object_mut() {
            body.insert("results".into(), Json::Array(results.to_vec()));
        }
        self
    }

    /// The HTTP status and JSON body.
    pub fn into_response(self) -> (u16, Json) {
        (self.status, self.body)
    }
}

/// The JSON form of a library error: the message, the chain of causes, and the answers to
/// `tidb_connect::Error`'s questions, so that clients can act on the kind rather than the text.
pub fn error(step: &str, e: &tidb_connect::Error) -> Json {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    json!({
        "step": step,
        "message": e.to_string(),
        "causes": causes,
        "is_config": e.is_config(),
        "is_unsupported": e.is_unsupported(),
        "is_connect": e.is_connect(),
        "is_tls": e.is_tls(),
        "is_timeout": e.is_timeout(),
        "is_retryable": e.is_retryable(),
        "is_connection_lost": e.is_connection_lost(),
        "is_lost_in_transaction": e.is_lost_in_transaction(),
        "is_outcome_unknown": e.is_outcome_unknown(),
        "is_duplicate_key": e.is_duplicate_key(),
        "is_write_conflict": e.is_write_conflict(),
        "is_decode": e.is_decode(),
        "errno": e.code(),
        "sqlstate": e.sql_state(),
        "server_message": e.server_message(),
        "batch_index": e.batch_index(),
    })
}
