//! The lossless value model: what a cell holds and what a parameter sends.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// One SQL value, without loss for every MySQL/TiDB type.
///
/// Text and bytes are told apart by the column's character set (63 = binary), not by its
/// collation name. Dates may be zero or partial (`0000-00-00`, `2016-07-00`), as MySQL allows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed integer (TINYINT … BIGINT).
    Int(i64),
    /// An unsigned integer (… BIGINT UNSIGNED).
    UInt(u64),
    /// FLOAT.
    Float(f32),
    /// DOUBLE.
    Double(f64),
    /// DECIMAL, exact.
    Decimal(Decimal),
    /// A string in a text character set.
    Text(String),
    /// Binary data (BINARY, VARBINARY, BLOB, or any column with charset 63).
    Bytes(Vec<u8>),
    /// DATE.
    Date(Date),
    /// TIME (a duration of up to ±838:59:59.999999).
    Time(Time),
    /// DATETIME or TIMESTAMP (the column type tells which).
    DateTime(DateTime),
    /// YEAR.
    Year(u16),
    /// BIT(n), n ≤ 64, as an unsigned number.
    Bit(u64),
    /// JSON, as the server's text.
    Json(String),
}

impl Value {
    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "integer",
            Value::UInt(_) => "unsigned integer",
            Value::Float(_) => "float",
            Value::Double(_) => "double",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::DateTime(_) => "datetime",
            Value::Year(_) => "year",
            Value::Bit(_) => "bit",
            Value::Json(_) => "json",
        }
    }
}

impl fmt::Display for Value {
    /// Shows the value as MySQL's text protocol would (bytes as hex, NULL as `NULL`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v}"),
            Value::Decimal(v) => write!(f, "{v}"),
            Value::Text(v) | Value::Json(v) => f.write_str(v),
            Value::Bytes(v) => {
                f.write_str("0x")?;
                v.iter().try_for_each(|b| write!(f, "{b:02X}"))
            }
            Value::Date(v) => write!(f, "{v}"),
            Value::Time(v) => write!(f, "{v}"),
            Value::DateTime(v) => write!(f, "{v}"),
            Value::Year(v) => write!(f, "{v:04}"),
            Value::Bit(v) => write!(f, "b'{v:b}'"),
        }
    }
}

macro_rules! from_int {
    ($variant:ident as $to:ty: $($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(<$to>::from(v))
            }
        }
    )*};
}
from_int!(Int as i64: i8, i16, i32, i64);
from_int!(UInt as u64: u8, u16, u32, u64);

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Decimal(v)
    }
}
impl From<Date> for Value {
    fn from(v: Date) -> Self {
        Value::Date(v)
    }
}
impl From<Time> for Value {
    fn from(v: Time) -> Self {
        Value::Time(v)
    }
}
impl From<DateTime> for Value {
    fn from(v: DateTime) -> Self {
        Value::DateTime(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Builds a parameter list: `params![1, "a", None::<i32>]` is a `Vec<Value>`.
#[macro_export]
macro_rules! params {
    () => { ::std::vec::Vec::<$crate::Value>::new() };
    ($($v:expr),+ $(,)?) => { ::std::vec![$($crate::Value::from($v)),+] };
}

/// An exact decimal number, kept as the server's text (`-12.3400`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal(String);

impl Decimal {
    /// The decimal's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to `f64` (may round).
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }
}

impl FromStr for Decimal {
    type Err = Error;

    /// Accepts `[-+]digits[.digits]` (and `.5`, `5.`); anything else is a decode error.
    fn from_str(s: &str) -> Result<Self> {
        let body = s.strip_prefix(['-', '+']).unwrap_or(s);
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(Error::decode(
                None,
                format!("`{s}` is not a decimal number"),
            ));
        }
        Ok(Decimal(s.to_owned()))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", self.0)
    }
}

/// A calendar date as MySQL stores it: month and day may be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Date {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 0–12 (0 only in zero or partial dates).
    pub month: u8,
    /// Day, 0–31 (0 only in zero or partial dates).
    pub day: u8,
}

impl Date {
    /// Builds a date; the fields are range-checked but zero parts are allowed.
    ///
    /// # Errors
    ///
    /// A decode error if a field is out of range.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self> {
        if year > 9999 || month > 12 || day > 31 {
            return Err(Error::decode(
                None,
                format!("{year:04}-{month:02}-{day:02} is not a date"),
            ));
        }
        Ok(Date { year, month, day })
    }

    /// Checks that every field is within MySQL's range (zero parts allowed).
    ///
    /// # Errors
    ///
    /// A decode error naming the value.
    pub fn check(&self) -> Result<()> {
        Date::new(self.year, self.month, self.day).map(drop)
    }

    /// `0000-00-00`.
    pub fn is_zero(&self) -> bool {
        self.year == 0 && self.month == 0 && self.day == 0
    }

    /// A real calendar date (no zero parts, day within the month).
    pub fn is_valid(&self) -> bool {
        let leap = self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0);
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return false,
        };
        self.year > 0 && self.day >= 1 && self.day <= days
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format!(
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        ))
    }
}

impl FromStr for Date {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::decode(None, format!("`{s}` is not a date (YYYY-MM-DD)"));
        let mut parts = s.splitn(3, '-');
        let mut next = || -> Result<u16> {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (y, m, d) = (next()?, next()?, next()?);
        let (m, d) = (
            u8::try_from(m).map_err(|_| bad())?,
            u8::try_from(d).map_err(|_| bad())?,
        );
        Date::new(y, m, d).map_err(|_| bad())
    }
}

/// A TIME value: a signed duration up to 838:59:59.999999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Time {
    /// Whether the duration is negative.
    pub negative: bool,
    /// Hours, 0–838.
    pub hours: u16,
    /// Minutes, 0–59.
    pub minutes: u8,
    /// Seconds, 0–59.
    pub seconds: u8,
    /// Microseconds, 0–999999.
    pub micros: u32,
}

impl Time {
    /// Checks that every field is within MySQL's range (±838:59:59.999999).
    ///
    /// # Errors
    ///
    /// A decode error naming the value.
    pub fn check(&self) -> Result<()> {
        if self.hours > 838 || self.minutes > 59 || self.seconds > 59 || self.micros > 999_999 {
            return Err(Error::decode(None, format!("{self:?} is not a valid time")));
        }
        Ok(())
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

impl FromStr for Time {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::decode(None, format!("`{s}` is not a time (HH:MM:SS[.ffffff])"));
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (hms, micros) = split_fraction(body).ok_or_else(bad)?;
        let mut it = hms.split(':');
        let mut field = || -> Result<u16> {
            let p = it.next().ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (h, m, sec) = (field()?, field()?, field()?);
        if it.next().is_some() || h > 838 || m > 59 || sec > 59 {
            return Err(bad());
        }
        Ok(Time {
            negative,
            hours: h,
            minutes: m as u8,
            seconds: sec as u8,
            micros,
        })
    }
}

/// A DATETIME or TIMESTAMP value; the date part may be zero or partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DateTime {
    /// The date part.
    pub date: Date,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Microseconds, 0–999999.
    pub micros: u32,
}

impl DateTime {
    /// Checks that every field is within MySQL's range (zero dates allowed).
    ///
    /// # Errors
    ///
    /// A decode error naming the value.
    pub fn check(&self) -> Result<()> {
        self.date.check()?;
        if self.hour > 23 || self.minute > 59 || self.second > 59 || self.micros > 999_999 {
            return Err(Error::decode(
                None,
                format!("{self:?} is not a valid datetime"),
            ));
        }
        Ok(())
    }

    /// `0000-00-00 00:00:00`.
    pub fn is_zero(&self) -> bool {
        *self == DateTime::default()
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

impl FromStr for DateTime {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::decode(
                None,
                format!("`{s}` is not a datetime (YYYY-MM-DD HH:MM:SS[.ffffff])"),
            )
        };
        let (d, t) = s.split_once([' ', 'T']).unwrap_or((s, "00:00:00"));
        let date: Date = d.parse().map_err(|_| bad())?;
        let time: Time = t.parse().map_err(|_| bad())?;
        if time.negative || time.hours > 23 {
            return Err(bad());
        }
        Ok(DateTime {
            date,
            hour: time.hours as u8,
            minute: time.minutes,
            second: time.seconds,
            micros: time.micros,
        })
    }
}

/// Splits `12:00:00.5` into `12:00:00` and 500000 microseconds.
fn split_fraction(s: &str) -> Option<(&str, u32)> {
    match s.split_once('.') {
        None => Some((s, 0)),
        Some((whole, frac)) => {
            if frac.is_empty() || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let scaled = format!("{frac:0<6}");
            Some((whole, scaled.parse().ok()?))
        }
    }
}

/// The MySQL column type, as sent in column definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// DECIMAL in the old format (0x00).
    Decimal,
    /// TINYINT (0x01).
    Tiny,
    /// SMALLINT (0x02).
    Short,
    /// INT (0x03).
    Long,
    /// FLOAT (0x04).
    Float,
    /// DOUBLE (0x05).
    Double,
    /// The type of a NULL literal (0x06).
    Null,
    /// TIMESTAMP (0x07, 0x11).
    Timestamp,
    /// BIGINT (0x08).
    LongLong,
    /// MEDIUMINT (0x09).
    Int24,
    /// DATE (0x0a, 0x0e).
    Date,
    /// TIME (0x0b, 0x13).
    Time,
    /// DATETIME (0x0c, 0x12).
    DateTime,
    /// YEAR (0x0d).
    Year,
    /// VARCHAR (0x0f).
    VarChar,
    /// BIT (0x10).
    Bit,
    /// JSON on MySQL and TiDB (0xf5); MariaDB sends JSON as LONGTEXT.
    Json,
    /// DECIMAL (0xf6).
    NewDecimal,
    /// ENUM (0xf7; usually sent as STRING with the ENUM flag).
    Enum,
    /// SET (0xf8; usually sent as STRING with the SET flag).
    Set,
    /// TINYBLOB / TINYTEXT (0xf9).
    TinyBlob,
    /// MEDIUMBLOB / MEDIUMTEXT (0xfa).
    MediumBlob,
    /// LONGBLOB / LONGTEXT (0xfb).
    LongBlob,
    /// BLOB / TEXT (0xfc).
    Blob,
    /// VARCHAR / VARBINARY (0xfd).
    VarString,
    /// CHAR / BINARY, ENUM and SET (0xfe).
    String,
    /// GEOMETRY (0xff).
    Geometry,
    /// VECTOR (0xf2, MySQL 9 and TiDB).
    Vector,
    /// A type code this version does not know.
    Other(u8),
}

impl ColumnType {
    /// Maps the wire code (e.g. 0x08 for LONGLONG).
    pub fn from_code(code: u8) -> Self {
        use ColumnType::*;
        match code {
            0x00 => Decimal,
            0x01 => Tiny,
            0x02 => Short,
            0x03 => Long,
            0x04 => Float,
            0x05 => Double,
            0x06 => Null,
            0x07 | 0x11 => Timestamp,
            0x08 => LongLong,
            0x09 => Int24,
            0x0a | 0x0e => Date,
            0x0b | 0x13 => Time,
            0x0c | 0x12 => DateTime,
            0x0d => Year,
            0x0f => VarChar,
            0x10 => Bit,
            0xf2 => Vector,
            0xf5 => Json,
            0xf6 => NewDecimal,
            0xf7 => Enum,
            0xf8 => Set,
            0xf9 => TinyBlob,
            0xfa => MediumBlob,
            0xfb => LongBlob,
            0xfc => Blob,
            0xfd => VarString,
            0xfe => String,
            0xff => Geometry,
            other => Other(other),
        }
    }

    /// Whether values of this type are integers.
    pub fn is_integer(self) -> bool {
        use ColumnType::*;
        matches!(self, Tiny | Short | Long | LongLong | Int24)
    }
}

/// Column flags from the column definition (NOT_NULL = 1, PRI_KEY = 2, UNSIGNED = 32, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ColumnFlags(pub u16);

impl ColumnFlags {
    /// NOT NULL.
    pub const NOT_NULL: u16 = 1;
    /// Part of the primary key.
    pub const PRIMARY_KEY: u16 = 2;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u16 = 4;
    /// BLOB or TEXT.
    pub const BLOB: u16 = 16;
    /// UNSIGNED.
    pub const UNSIGNED: u16 = 32;
    /// BINARY.
    pub const BINARY: u16 = 128;
    /// AUTO_INCREMENT.
    pub const AUTO_INCREMENT: u16 = 512;

    /// Whether all bits of `flag` are set.
    pub fn contains(self, flag: u16) -> bool {
        self.0 & flag == flag
    }

    /// UNSIGNED is set.
    pub fn is_unsigned(self) -> bool {
        self.contains(Self::UNSIGNED)
    }

    /// NOT NULL is set.
    pub fn is_not_null(self) -> bool {
        self.contains(Self::NOT_NULL)
    }
}

/// The binary character set number: columns with it hold bytes, not text.
pub const BINARY_CHARSET: u16 = 63;

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name or alias.
    pub name: String,
    /// The table (or alias) it comes from, if any.
    pub table: String,
    /// The MySQL type.
    pub column_type: ColumnType,
    /// The flags.
    pub flags: ColumnFlags,
    /// The character set / collation number (63 = binary).
    pub charset: u16,
    /// Digits after the decimal point (DECIMAL) or fractional seconds (TIME, DATETIME).
    pub decimals: u8,
    /// The maximum display length.
    pub length: u32,
}

impl Column {
    /// Whether the column holds bytes rather than text (charset 63).
    pub fn is_binary(&self) -> bool {
        self.charset == BINARY_CHARSET
    }
}

/// A row of a [`ResultSet`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: std::sync::Arc<[Column]>,
    values: Vec<Value>,
}

impl Row {
    /// Builds a row; backends implemented outside this crate use it. `values` has one entry
    /// per column.
    pub fn new(columns: std::sync::Arc<[Column]>, values: Vec<Value>) -> Self {
        Row { columns, values }
    }

    /// The columns of this row.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Takes the values.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The value of the column at `index` or named `name`.
    pub fn get<I: ColumnIndex>(&self, index: I) -> Option<&Value> {
        index
            .position(&self.columns)
            .and_then(|i| self.values.get(i))
    }

    /// Decodes the value of one column into `T` (any type that deserializes from a value).
    ///
    /// # Errors
    ///
    /// A decode error naming the column when it does not exist or its value does not fit `T`.
    pub fn try_get<T: serde::de::DeserializeOwned, I: ColumnIndex>(&self, index: I) -> Result<T> {
        let label = index.label();
        let i = index
            .position(&self.columns)
            .ok_or_else(|| Error::decode(Some(&label), "no such column"))?;
        let name = &self.columns[i].name;
        let value = self
            .values
            .get(i)
            .ok_or_else(|| Error::decode(Some(name), "the row has no value for this column"))?;
        crate::de::from_value(value).map_err(|e| e.in_column(name))
    }

    /// Decodes the row into a struct (fields by column name), a tuple or a `Vec` (by position).
    ///
    /// # Errors
    ///
    /// A decode error naming the column whose value does not fit.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        crate::de::from_row(self)
    }
}

/// Selects a column by position or by name.
pub trait ColumnIndex {
    /// The position of the column, if present.
    fn position(&self, columns: &[Column]) -> Option<usize>;
    /// How the column is named in errors.
    fn label(&self) -> String;
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
    fn label(&self) -> String {
        format!("#{self}")
    }
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == *self)
    }
    fn label(&self) -> String {
        (*self).to_owned()
    }
}

/// The rows of a query and what the server reported about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    /// The columns (empty for statements without a result set).
    pub columns: std::sync::Arc<[Column]>,
    /// The rows.
    pub rows: Vec<Row>,
    /// Rows changed by the statement.
    pub affected_rows: u64,
    /// The AUTO_INCREMENT value generated by the statement, if any.
    pub last_insert_id: Option<u64>,
    /// Number of warnings the statement raised.
    pub warnings: u16,
}

impl ResultSet {
    /// Decodes every row into `T`.
    ///
    /// # Errors
    ///
    /// A decode error naming the first column whose value does not fit.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.rows.iter().map(Row::decode).collect()
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<&Row> {
        self.rows.first()
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// What a statement without a result set reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecResult {
    /// Rows changed.
    pub affected_rows: u64,
    /// The AUTO_INCREMENT value generated, if any.
    pub last_insert_id: Option<u64>,
    /// Number of warnings.
    pub warnings: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_allow_zero_and_partial_values() {
        let z: Date = "0000-00-00".parse().unwrap();
        assert!(z.is_zero() && !z.is_valid());
        let p: Date = "2016-07-00".parse().unwrap();
        assert_eq!(p.to_string(), "2016-07-00");
        assert!(!p.is_valid());
        assert!("2024-02-29".parse::<Date>().unwrap().is_valid());
        assert!(!"2023-02-29".parse::<Date>().unwrap().is_valid());
        for bad in [
            "",
            "2024",
            "2024-13-01",
            "2024-01-32",
            "x-1-1",
            "20245-01-01",
            "2024-1-1-1",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn datetimes_and_times_round_trip() {
        for s in [
            "0000-00-00 00:00:00",
            "2016-07-00 10:00:00",
            "2038-01-19 03:14:07.999999",
            "1000-01-01 00:00:00.000001",
        ] {
            let dt: DateTime = s.parse().unwrap();
            assert_eq!(dt.to_string(), s);
        }
        for s in [
            "-838:59:59",
            "838:59:59.999999",
            "00:00:00",
            "-00:00:01.500000",
        ] {
            let t: Time = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!("12:00:00.5".parse::<Time>().unwrap().micros, 500_000);
        assert!("839:00:00".parse::<Time>().is_err());
        assert!("12:00:00.1234567".parse::<Time>().is_err());
        assert!("2020-01-01 24:00:00".parse::<DateTime>().is_err());
    }

    #[test]
    fn decimals_are_exact_text() {
        let d: Decimal = "-12345678901234567890.000000000000000001".parse().unwrap();
        assert_eq!(d.as_str(), "-12345678901234567890.000000000000000001");
        for bad in ["", "-", "1e5", "1.2.3", "abc", "."] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
    }

    #[test]
    fn params_macro_converts() {
        let p = crate::params![1, "a", None::<i32>, 7u64, vec![0u8, 255]];
        assert_eq!(
            p,
            vec![
                Value::Int(1),
                Value::Text("a".into()),
                Value::Null,
                Value::UInt(7),
                Value::Bytes(vec![0, 255])
            ]
        );
    }
}
