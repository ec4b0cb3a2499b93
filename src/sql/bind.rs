//! Client-side parameter binding: writes each parameter into the SQL text as a literal.
//!
//! Paths that cannot prepare statements (Hyperdrive, which accepts only the text protocol, and
//! relays without typed parameters) send final SQL text. This is the one place that turns
//! values into literals, so it is written to be obviously safe:
//!
//! - a placeholder is a `?` in code, found by the same scanner the server's lexer is mirrored
//!   by, under the escaping mode the session really has;
//! - every value becomes one self-contained literal: integers and floats bare (so `LIMIT ?`
//!   works), bytes as hex (`X'00ff'`, no escaping at all), text, JSON, dates and times quoted
//!   with the quote doubled and, unless the session has `NO_BACKSLASH_ESCAPES`, backslash and
//!   the characters the server reads after one escaped;
//! - the connection's character set is always utf8mb4, where no multibyte character contains
//!   the bytes of a quote or a backslash, so escaping byte by byte is exact.

use crate::error::{Error, Result};
use crate::value::Value;

use super::{Token, tokens};

/// How the session reads a backslash inside a string literal.
///
/// The server reports it in every OK packet's status flags
/// (`SERVER_STATUS_NO_BACKSLASH_ESCAPES`); the wire client passes that on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Escaping {
    /// MySQL's default: a backslash escapes the next character.
    Backslash,
    /// `sql_mode` contains `NO_BACKSLASH_ESCAPES`: a backslash is an ordinary character.
    NoBackslash,
}

impl Escaping {
    /// The escaping that the server status flags of the last OK packet describe.
    pub fn from_no_backslash_escapes(no_backslash_escapes: bool) -> Self {
        if no_backslash_escapes {
            Escaping::NoBackslash
        } else {
            Escaping::Backslash
        }
    }

    fn backslash_escapes(self) -> bool {
        self == Escaping::Backslash
    }
}

/// Replaces each `?` placeholder in code with its parameter written as a SQL literal.
///
/// `?` inside string literals, quoted identifiers and comments is left alone; `?` inside
/// executable comments (`/*! … */`) counts, as the server runs their body.
///
/// # Errors
///
/// A usage error when the number of placeholders differs from the number of parameters, or
/// when a value has no literal form (a NaN or infinite float, an out-of-range date or time).
/// The message names the parameter by position, never its value.
///
/// # Example
///
/// ```
/// use tidb_connect::{Escaping, Value, interpolate};
///
/// let sql = interpolate(
///     "SELECT * FROM t WHERE name = ? AND data = ? LIMIT ?",
///     &[Value::from("O'Brien\\"), Value::Bytes(vec![0, 255]), Value::from(10_i64)],
///     Escaping::Backslash,
/// )?;
/// assert_eq!(sql, r"SELECT * FROM t WHERE name = 'O''Brien\\' AND data = X'00ff' LIMIT 10");
/// # Ok::<(), tidb_connect::Error>(())
/// ```
pub fn interpolate(sql: &str, params: &[Value], escaping: Escaping) -> Result<String> {
    let placeholders: Vec<usize> = tokens(sql, escaping.backslash_escapes())
        .filter(|(_, t)| *t == Token::Code(b'?'))
        .map(|(at, _)| at)
        .collect();
    if placeholders.len() != params.len() {
        return Err(Error::params_mismatch(placeholders.len(), params.len()));
    }
    if params.is_empty() {
        return Ok(sql.to_owned());
    }

    let mut out = String::with_capacity(sql.len() + params.iter().map(literal_len).sum::<usize>());
    let mut copied = 0;
    for (index, (&at, value)) in placeholders.iter().zip(params).enumerate() {
        out.push_str(&sql[copied..at]);
        push_literal(&mut out, value, escaping)
            .map_err(|why| Error::usage(format!("parameter {}: {why}", index + 1)))?;
        copied = at + 1;
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// A guess of a literal's length, to size the output once.
fn literal_len(value: &Value) -> usize {
    match value {
        Value::Text(s) | Value::Json(s) => s.len() + 2,
        Value::Bytes(b) => b.len() * 2 + 3,
        _ => 24,
    }
}

fn push_literal(out: &mut String, value: &Value, escaping: Escaping) -> Result<(), String> {
    use std::fmt::Write as _;

    match value {
        Value::Null => out.push_str("NULL"),
        Value::Int(n) => push_number(out, &n.to_string()),
        Value::UInt(n) | Value::Bit(n) => push_number(out, &n.to_string()),
        Value::Year(y) => push_number(out, &y.to_string()),
        Value::Decimal(d) => push_number(out, d.as_str()),
        Value::Float(f) if f.is_finite() => push_number(out, &format!("{f:e}")),
        Value::Double(f) if f.is_finite() => push_number(out, &format!("{f:e}")),
        Value::Float(_) | Value::Double(_) => {
            return Err("NaN and infinity have no SQL literal; send NULL instead".into());
        }
        Value::Text(s) | Value::Json(s) => push_quoted(out, s, escaping),
        Value::Bytes(bytes) => {
            out.reserve(bytes.len() * 2 + 3);
            out.push_str("X'");
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
            out.push('\'');
        }
        Value::Date(d) => {
            d.check().map_err(|e| e.detail())?;
            push_quoted(out, &d.to_string(), escaping);
        }
        Value::Time(t) => {
            t.check().map_err(|e| e.detail())?;
            push_quoted(out, &t.to_string(), escaping);
        }
        Value::DateTime(dt) => {
            dt.check().map_err(|e| e.detail())?;
            push_quoted(out, &dt.to_string(), escaping);
        }
    }
    Ok(())
}

/// Writes a number; a space keeps a negative one from joining a `-` before it into `--`,
/// which would read as the start of a comment when whitespace follows.
fn push_number(out: &mut String, digits: &str) {
    if digits.starts_with('-') && out.ends_with('-') {
        out.push(' ');
    }
    out.push_str(digits);
}

/// Writes `s` as a single-quoted literal that the server reads back byte for byte.
fn push_quoted(out: &mut String, s: &str, escaping: Escaping) {
    out.reserve(s.len() + 2);
    out.push('\'');
    let bytes = s.as_bytes();
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // Doubling the quote works in both modes; the rest only matters when a backslash is
        // an escape: then it must be doubled, and the characters that the server's lexer or
        // logs treat specially are written as their escapes.
        let escape = match b {
            b'\'' => "''",
            b'\\' if escaping.backslash_escapes() => "\\\\",
            b'\0' if escaping.backslash_escapes() => "\\0",
            b'\n' if escaping.backslash_escapes() => "\\n",
            b'\r' if escaping.backslash_escapes() => "\\r",
            0x1a if escaping.backslash_escapes() => "\\Z",
            _ => continue,
        };
        // Every escaped byte is ASCII, so `i` is on a character boundary.
        out.push_str(&s[copied..i]);
        out.push_str(escape);
        copied = i + 1;
    }
    out.push_str(&s[copied..]);
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::Escaping::{Backslash, NoBackslash};
    use super::*;
    use crate::sql::literal_reader::read_literal;
    use crate::value::{Date, DateTime, Time};

    fn bind(sql: &str, params: &[Value], escaping: Escaping) -> String {
        interpolate(sql, params, escaping).unwrap()
    }

    #[test]
    fn numbers_are_bare() {
        let params = [
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::Year(2024),
            Value::Bit(5),
            "-12.3400"
                .parse::<crate::Decimal>()
                .map(Value::Decimal)
                .unwrap(),
        ];
        assert_eq!(
            bind("SELECT ?, ?, ?, ?, ?", &params, Backslash),
            "SELECT -9223372036854775808, 18446744073709551615, 2024, 5, -12.3400"
        );
        assert_eq!(
            bind("SELECT * FROM t LIMIT ?", &[Value::Int(10)], Backslash),
            "SELECT * FROM t LIMIT 10"
        );
        // `1--5` is fine for the server, but `1--5` followed by nothing reads oddly; a
        // negative number after a minus gets a space.
        assert_eq!(
            bind("SELECT 1-?", &[Value::Int(-5)], Backslash),
            "SELECT 1- -5"
        );
    }

    #[test]
    fn floats_round_trip_through_their_text() {
        for f in [0.1_f64, -1e300, 5e-324, 1.0, f64::MAX, 123456.789] {
            let sql = bind("?", &[Value::Double(f)], Backslash);
            assert_eq!(sql.parse::<f64>().unwrap(), f, "{sql}");
        }
        let sql = bind("?", &[Value::Float(0.1)], Backslash);
        assert_eq!(sql.parse::<f32>().unwrap(), 0.1_f32);
        for bad in [Value::Double(f64::NAN), Value::Float(f32::INFINITY)] {
            let err = interpolate("SELECT ?", &[bad], Backslash).unwrap_err();
            assert!(err.to_string().contains("parameter 1"), "{err}");
        }
    }

    #[test]
    fn strings_under_both_modes() {
        let nasty = "a'b\\c\0d\ne\rf\x1ag\"h é 😀";
        assert_eq!(
            bind("SELECT ?", &[Value::from(nasty)], Backslash),
            "SELECT 'a''b\\\\c\\0d\\ne\\rf\\Zg\"h é 😀'"
        );
        assert_eq!(
            bind("SELECT ?", &[Value::from(nasty)], NoBackslash),
            "SELECT 'a''b\\c\0d\ne\rf\x1ag\"h é 😀'"
        );
        assert_eq!(bind("SELECT ?", &[Value::from("")], Backslash), "SELECT ''");
    }

    #[test]
    fn bytes_are_hex() {
        assert_eq!(
            bind(
                "SELECT ?, ?",
                &[
                    Value::Bytes(vec![0, 0x27, 0x5c, 0xff]),
                    Value::Bytes(vec![])
                ],
                NoBackslash
            ),
            "SELECT X'00275cff', X''"
        );
    }

    #[test]
    fn dates_and_times_are_quoted() {
        let params = [
            Value::Date(Date {
                year: 0,
                month: 0,
                day: 0,
            }),
            Value::Time(Time {
                negative: true,
                hours: 838,
                minutes: 59,
                seconds: 59,
                micros: 0,
            }),
            Value::DateTime(DateTime {
                date: Date {
                    year: 2024,
                    month: 2,
                    day: 29,
                },
                hour: 23,
                minute: 59,
                second: 58,
                micros: 123_456,
            }),
            Value::Null,
        ];
        assert_eq!(
            bind("INSERT INTO t VALUES (?, ?, ?, ?)", &params, Backslash),
            "INSERT INTO t VALUES ('0000-00-00', '-838:59:59', '2024-02-29 23:59:58.123456', NULL)"
        );
        let bad = Value::Time(Time {
            negative: false,
            hours: 900,
            minutes: 0,
            seconds: 0,
            micros: 0,
        });
        let err = interpolate("SELECT ?", &[bad], Backslash).unwrap_err();
        assert!(err.to_string().contains("parameter 1"), "{err}");
    }

    #[test]
    fn placeholders_only_in_code() {
        let sql = "SELECT '?', \"?\", `?`, ? /* ? */ -- ?\n, ? # ?";
        assert_eq!(
            bind(sql, &[Value::Int(1), Value::Int(2)], Backslash),
            "SELECT '?', \"?\", `?`, 1 /* ? */ -- ?\n, 2 # ?"
        );
        assert_eq!(
            bind("SELECT /*!40000 ? + */ 1", &[Value::Int(1)], Backslash),
            "SELECT /*!40000 1 + */ 1"
        );
    }

    #[test]
    fn the_mode_decides_where_a_literal_ends() {
        // With backslash escapes the literal is 'C:\', ?' and holds no placeholder; without,
        // it is 'C:\' and the placeholder follows.
        let sql = "SELECT 'C:\\', ?";
        assert!(interpolate(sql, &[Value::Int(1)], Backslash).is_err());
        assert_eq!(bind(sql, &[Value::Int(1)], NoBackslash), "SELECT 'C:\\', 1");
    }

    #[test]
    fn counts_must_match() {
        let err = interpolate("SELECT ?, ?", &[Value::Int(1)], Backslash).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid call: the statement has 2 placeholders but 1 parameter was given"
        );
        assert!(interpolate("SELECT 1", &[Value::Int(1)], Backslash).is_err());
        assert_eq!(bind("SELECT '?'", &[], Backslash), "SELECT '?'");
    }

    #[test]
    fn errors_never_show_values() {
        let secret = "hunter2-secret";
        let err = interpolate("SELECT ?, ?", &[Value::from(secret)], Backslash).unwrap_err();
        assert!(!format!("{err} {err:?}").contains(secret));
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_one_literal_that_reads_back(s in ".*", raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            // Arbitrary text, plus text made of the bytes the escaper cares about.
            let special: String = raw.iter().map(|b| ['\'', '\\', '\0', '\n', '\r', '\x1a', '"', 'a', 'é', '?'][usize::from(*b) % 10]).collect();
            for text in [s.as_str(), special.as_str()] {
                for escaping in [Backslash, NoBackslash] {
                    let sql = bind("SELECT ? , ?", &[Value::from(text), Value::Int(7)], escaping);
                    let (read, end) = read_literal(sql.as_bytes(), 7, escaping.backslash_escapes()).unwrap();
                    proptest::prop_assert_eq!(read, text.as_bytes());
                    proptest::prop_assert_eq!(&sql[end..], " , 7");
                    // The scanner agrees: the statement is code, one literal, code.
                    let quoted = tokens(&sql, escaping.backslash_escapes()).filter(|(_, t)| *t == Token::Quoted).count();
                    proptest::prop_assert_eq!(quoted, 1);
                }
            }
        }

        #[test]
        fn bytes_are_always_hex(b in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let sql = bind("?", &[Value::Bytes(b.clone())], NoBackslash);
            let hex = sql.strip_prefix("X'").and_then(|s| s.strip_suffix('\'')).unwrap();
            let back: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
            proptest::prop_assert_eq!(back, b);
        }

        #[test]
        fn any_template_never_panics(sql in ".*", n in 0usize..4) {
            let params = vec![Value::from("x'\\"); n];
            for escaping in [Backslash, NoBackslash] {
                let _ = interpolate(&sql, &params, escaping);
            }
        }
    }
}
