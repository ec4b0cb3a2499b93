//! Converts mysql_common's values and column definitions into this crate's lossless model.
//!
//! One decoder serves the text protocol (every value arrives as bytes and the column type says
//! how to read it) and the binary protocol (values arrive typed), so both give the same
//! [`Value`] for the same cell.

use mysql_common::packets::Column as WireColumn;
use mysql_common::value::Value as WireValue;

use crate::error::{Error, Result};
use crate::value::{Column, ColumnFlags, ColumnType, Date, DateTime, Time, Value};

/// Converts a column definition.
pub(crate) fn column(col: &WireColumn) -> Column {
    Column {
        name: col.name_str().into_owned(),
        table: col.table_str().into_owned(),
        column_type: ColumnType::from_code(col.column_type() as u8),
        flags: ColumnFlags(col.flags().bits()),
        charset: col.character_set(),
        decimals: col.decimals(),
        length: col.column_length(),
    }
}

/// Decodes one cell of a row of either protocol.
pub(crate) fn value(col: &Column, v: WireValue) -> Result<Value> {
    decode(col, v).map_err(|e| e.in_column(&col.name))
}

fn decode(col: &Column, v: WireValue) -> Result<Value> {
    let unsigned = col.flags.is_unsigned();
    Ok(match v {
        WireValue::NULL => Value::Null,
        WireValue::Int(i) => match col.column_type {
            ColumnType::Year => Value::Year(u16::try_from(i).map_err(|_| out_of_range(i))?),
            _ if unsigned => Value::UInt(u64::try_from(i).map_err(|_| out_of_range(i))?),
            _ => Value::Int(i),
        },
        WireValue::UInt(u) => match col.column_type {
            ColumnType::Year => Value::Year(u16::try_from(u).map_err(|_| out_of_range(u))?),
            _ => Value::UInt(u),
        },
        WireValue::Float(f) => Value::Float(f),
        WireValue::Double(d) => Value::Double(d),
        WireValue::Date(year, month, day, hour, minute, second, micros) => {
            let date = Date::new(year, month, day)?;
            if col.column_type == ColumnType::Date {
                Value::Date(date)
            } else {
                Value::DateTime(DateTime {
                    date,
                    hour,
                    minute,
                    second,
                    micros,
                })
            }
        }
        WireValue::Time(negative, days, hours, minutes, seconds, micros) => {
            let total = u64::from(days) * 24 + u64::from(hours);
            Value::Time(Time {
                negative,
                hours: u16::try_from(total).map_err(|_| out_of_range(total))?,
                minutes,
                seconds,
                micros,
            })
        }
        WireValue::Bytes(bytes) => from_bytes(col, bytes)?,
    })
}

/// Reads a value that arrived as bytes: every text-protocol value, and strings, decimals,
/// BIT and JSON in the binary protocol.
fn from_bytes(col: &Column, bytes: Vec<u8>) -> Result<Value> {
    let text = |b: &[u8]| -> Result<String> {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| Error::decode(None, "the server sent invalid utf-8 for a text value"))
    };
    let parsed = |b: &[u8]| -> Result<String> { text(b).map(|s| s.trim().to_owned()) };
    Ok(match col.column_type {
        t if t.is_integer() => {
            let s = parsed(&bytes)?;
            if col.flags.is_unsigned() {
                Value::UInt(s.parse().map_err(|_| not_a("an unsigned integer", &s))?)
            } else {
                Value::Int(s.parse().map_err(|_| not_a("an integer", &s))?)
            }
        }
        ColumnType::Float => {
            let s = parsed(&bytes)?;
            Value::Float(s.parse().map_err(|_| not_a("a float", &s))?)
        }
        ColumnType::Double => {
            let s = parsed(&bytes)?;
            Value::Double(s.parse().map_err(|_| not_a("a double", &s))?)
        }
        ColumnType::Decimal | ColumnType::NewDecimal => Value::Decimal(parsed(&bytes)?.parse()?),
        ColumnType::Year => {
            let s = parsed(&bytes)?;
            Value::Year(s.parse().map_err(|_| not_a("a year", &s))?)
        }
        ColumnType::Date => Value::Date(parsed(&bytes)?.parse()?),
        ColumnType::DateTime | ColumnType::Timestamp => Value::DateTime(parsed(&bytes)?.parse()?),
        ColumnType::Time => Value::Time(parsed(&bytes)?.parse()?),
        ColumnType::Bit => {
            if bytes.len() > 8 {
                return Err(Error::decode(None, "a BIT value longer than 64 bits"));
            }
            Value::Bit(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
        }
        ColumnType::Json => Value::Json(text(&bytes)?),
        ColumnType::Null => Value::Null,
        _ if col.is_binary() => Value::Bytes(bytes),
        // A text column whose bytes are not UTF-8 cannot occur with a utf8mb4 connection;
        // if a server sends one anyway, keep the bytes rather than lose them.
        _ => match String::from_utf8(bytes) {
            Ok(s) => Value::Text(s),
            Err(e) => Value::Bytes(e.into_bytes()),
        },
    })
}

fn out_of_range(v: impl std::fmt::Display) -> Error {
    Error::decode(None, format!("{v} is out of range for the column type"))
}

fn not_a(what: &str, s: &str) -> Error {
    Error::decode(None, format!("`{s}` is not {what}"))
}

/// Converts a parameter to the form the binary protocol sends. Dates and times out of range
/// are refused: servers would store them as zero or clamp them.
pub(crate) fn param(v: &Value) -> Result<WireValue> {
    match v {
        Value::Date(d) => d.check()?,
        Value::DateTime(dt) => dt.check()?,
        Value::Time(t) => t.check()?,
        _ => {}
    }
    Ok(match v {
        Value::Null => WireValue::NULL,
        Value::Int(i) => WireValue::Int(*i),
        Value::UInt(u) | Value::Bit(u) => WireValue::UInt(*u),
        Value::Year(y) => WireValue::UInt(u64::from(*y)),
        Value::Float(f) => WireValue::Float(*f),
        Value::Double(d) => WireValue::Double(*d),
        Value::Decimal(d) => WireValue::Bytes(d.as_str().as_bytes().to_vec()),
        Value::Text(s) | Value::Json(s) => WireValue::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => WireValue::Bytes(b.clone()),
        Value::Date(d) => WireValue::Date(d.year, d.month, d.day, 0, 0, 0, 0),
        Value::DateTime(dt) => WireValue::Date(
            dt.date.year,
            dt.date.month,
            dt.date.day,
            dt.hour,
            dt.minute,
            dt.second,
            dt.micros,
        ),
        Value::Time(t) => WireValue::Time(
            t.negative,
            u32::from(t.hours) / 24,
            (t.hours % 24) as u8,
            t.minutes,
            t.seconds,
            t.micros,
        ),
    })
}

/// Whole-row decoding as the wire client (text protocol) and the direct backend (binary
/// protocol, through mysql_async) do it: mysql_common parses the packet, then [`value`] turns
/// each cell into a [`Value`]. For the crate's Criterion benches only.
#[cfg(feature = "bench-internals")]
pub mod bench {
    use std::sync::Arc;

    use mysql_common::io::ParseBuf;
    use mysql_common::packets::Column as WireColumn;
    use mysql_common::proto::{Binary, Text};
    use mysql_common::row::{Row as WireRow, RowDeserializer};
    use mysql_common::value::ServerSide;

    use crate::error::{Error, Result};
    use crate::value::{Column, Row};

    /// Column definitions parsed from their packets, in both models.
    pub struct Columns {
        wire: Arc<[WireColumn]>,
        ours: Arc<[Column]>,
    }

    /// Parses column-definition packets.
    pub fn columns(packets: &[Vec<u8>]) -> Result<Columns> {
        let wire: Vec<WireColumn> = packets
            .iter()
            .map(|p| ParseBuf(p).parse(()))
            .collect::<std::io::Result<_>>()
            .map_err(|_| Error::decode(None, "a malformed column definition"))?;
        let ours: Arc<[Column]> = wire.iter().map(super::column).collect();
        Ok(Columns {
            wire: wire.into(),
            ours,
        })
    }

    /// Decodes text-protocol row packets (the Hyperdrive path and `client=wire` queries
    /// without parameters).
    pub fn text_rows(columns: &Columns, packets: &[Vec<u8>]) -> Result<Vec<Row>> {
        packets
            .iter()
            .map(|p| {
                let row: RowDeserializer<(), Text> = ParseBuf(p)
                    .parse(columns.wire.clone())
                    .map_err(|_| Error::decode(None, "a malformed row"))?;
                convert(columns, WireRow::from(row))
            })
            .collect()
    }

    /// Decodes binary-protocol row packets (prepared statements on the direct path).
    pub fn binary_rows(columns: &Columns, packets: &[Vec<u8>]) -> Result<Vec<Row>> {
        packets
            .iter()
            .map(|p| {
                let row: RowDeserializer<ServerSide, Binary> = ParseBuf(p)
                    .parse(columns.wire.clone())
                    .map_err(|_| Error::decode(None, "a malformed row"))?;
                convert(columns, WireRow::from(row))
            })
            .collect()
    }

    fn convert(columns: &Columns, row: WireRow) -> Result<Row> {
        let values = row
            .unwrap()
            .into_iter()
            .zip(columns.ours.iter())
            .map(|(v, c)| super::value(c, v))
            .collect::<Result<Vec<_>>>()?;
        Ok(Row::new(columns.ours.clone(), values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::BINARY_CHARSET;

    fn col(ty: ColumnType, flags: u16, charset: u16) -> Column {
        Column {
            name: "c".into(),
            table: "t".into(),
            column_type: ty,
            flags: ColumnFlags(flags),
            charset,
            decimals: 0,
            length: 0,
        }
    }

    fn text(ty: ColumnType, flags: u16, charset: u16, s: &[u8]) -> Value {
        value(&col(ty, flags, charset), WireValue::Bytes(s.to_vec())).unwrap()
    }

    #[test]
    fn text_protocol_values() {
        assert_eq!(
            text(ColumnType::LongLong, 0, 63, b"-9223372036854775808"),
            Value::Int(i64::MIN)
        );
        assert_eq!(
            text(
                ColumnType::LongLong,
                ColumnFlags::UNSIGNED,
                63,
                b"18446744073709551615"
            ),
            Value::UInt(u64::MAX)
        );
        assert_eq!(text(ColumnType::Double, 0, 63, b"1.5"), Value::Double(1.5));
        assert_eq!(
            text(ColumnType::Date, 0, 63, b"0000-00-00"),
            Value::Date(Date::default())
        );
        assert_eq!(
            text(ColumnType::Bit, 0, 63, &[0x01, 0x02]),
            Value::Bit(0x0102)
        );
        assert_eq!(text(ColumnType::Year, 0, 63, b"2155"), Value::Year(2155));
        assert_eq!(
            text(ColumnType::Json, 0, 63, b"{\"a\":1}"),
            Value::Json("{\"a\":1}".into())
        );
        // Bytes vs text: charset 63 decides, not the collation name.
        assert_eq!(
            text(ColumnType::VarString, 0, BINARY_CHARSET, &[0, 255]),
            Value::Bytes(vec![0, 255])
        );
        assert_eq!(
            text(ColumnType::VarString, 128, 46, "héllo".as_bytes()),
            Value::Text("héllo".into())
        );
    }

    #[test]
    fn binary_protocol_values() {
        let c = col(ColumnType::Tiny, ColumnFlags::UNSIGNED, 63);
        assert_eq!(value(&c, WireValue::Int(255)).unwrap(), Value::UInt(255));
        let c = col(ColumnType::Time, 0, 63);
        let t = value(&c, WireValue::Time(true, 34, 22, 59, 59, 1)).unwrap();
        assert_eq!(t.to_string(), "-838:59:59.000001");
        let c = col(ColumnType::DateTime, 0, 63);
        let dt = value(&c, WireValue::Date(2016, 7, 0, 10, 0, 0, 0)).unwrap();
        assert_eq!(dt.to_string(), "2016-07-00 10:00:00");
        let c = col(ColumnType::Date, 0, 63);
        assert!(value(&c, WireValue::Date(2016, 13, 1, 0, 0, 0, 0)).is_err());
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        let c = col(ColumnType::Long, 0, 63);
        let e = value(&c, WireValue::Bytes(b"12x".to_vec())).unwrap_err();
        assert!(e.to_string().contains("column `c`"), "{e}");
        let c = col(ColumnType::Bit, 0, 63);
        assert!(value(&c, WireValue::Bytes(vec![0; 9])).is_err());
    }

    #[test]
    fn out_of_range_temporal_params_are_refused() {
        let bad = [
            Value::Time(Time {
                hours: 900,
                ..Time::default()
            }),
            Value::Time(Time {
                minutes: 75,
                ..Time::default()
            }),
            Value::Date(Date {
                year: 2024,
                month: 13,
                day: 1,
            }),
            Value::Date(Date {
                year: 10000,
                month: 1,
                day: 1,
            }),
            Value::DateTime(DateTime {
                hour: 25,
                ..DateTime::default()
            }),
        ];
        for v in bad {
            assert!(param(&v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn params_round_trip_through_decode() {
        let samples = [
            (
                ColumnType::Time,
                "-838:59:59.000001"
                    .parse::<Time>()
                    .map(Value::Time)
                    .unwrap(),
            ),
            (
                ColumnType::DateTime,
                "2016-07-00 10:00:00".parse().map(Value::DateTime).unwrap(),
            ),
            (ColumnType::Date, Value::Date(Date::default())),
        ];
        for (ty, v) in samples {
            assert_eq!(value(&col(ty, 0, 63), param(&v).unwrap()).unwrap(), v);
        }
    }
}
