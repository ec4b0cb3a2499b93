//! Decoding rows and values into user types through serde.
//!
//! A row is a map from column name to value (for structs) or a sequence (for tuples and
//! `Vec`s). A single-column row also decodes straight into a scalar. Dates, times and decimals
//! are offered as their MySQL text, so a strict date type (e.g. `chrono::NaiveDate`) refuses a
//! zero date with an error that names the column.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

use crate::error::Error;
use crate::value::{Date, DateTime, Decimal, Row, Time, Value};

/// The serde error used while decoding; becomes a crate [`Error`] at the boundary.
#[derive(Debug)]
pub(crate) struct DeError {
    column: Option<String>,
    message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            column: None,
            message: msg.to_string(),
        }
    }
}

impl From<DeError> for Error {
    fn from(e: DeError) -> Self {
        Error::decode(e.column.as_deref(), e.message)
    }
}

pub(crate) fn from_value<T: de::DeserializeOwned>(value: &Value) -> Result<T, Error> {
    T::deserialize(ValueDeserializer(value)).map_err(Error::from)
}

pub(crate) fn from_row<T: de::DeserializeOwned>(row: &Row) -> Result<T, Error> {
    T::deserialize(RowDeserializer(row)).map_err(Error::from)
}

/// Deserializes one [`Value`].
#[derive(Clone, Copy)]
pub(crate) struct ValueDeserializer<'a>(pub(crate) &'a Value);

impl ValueDeserializer<'_> {
    fn invalid(&self, expected: &str) -> DeError {
        let kind = self.0.kind_name();
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        de::Error::custom(format!("{article} {kind} value cannot become {expected}"))
    }

    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self.0 {
            Value::Text(s) | Value::Json(s) => Some(s.as_str().into()),
            Value::Decimal(d) => Some(d.as_str().into()),
            Value::Bytes(b) => std::str::from_utf8(b).ok().map(Into::into),
            Value::Date(d) => Some(d.to_string().into()),
            Value::Time(t) => Some(t.to_string().into()),
            Value::DateTime(dt) => Some(dt.to_string().into()),
            Value::Int(i) => Some(i.to_string().into()),
            Value::UInt(u) => Some(u.to_string().into()),
            Value::Float(f) => Some(f.to_string().into()),
            Value::Double(f) => Some(f.to_string().into()),
            Value::Year(y) => Some(format!("{y:04}").into()),
            Value::Bit(_) | Value::Null => None,
        }
    }

    fn integer(&self) -> Result<i128, DeError> {
        match self.0 {
            Value::Int(i) => Ok(i128::from(*i)),
            Value::UInt(u) | Value::Bit(u) => Ok(i128::from(*u)),
            Value::Year(y) => Ok(i128::from(*y)),
            Value::Decimal(_) | Value::Text(_) => self
                .text()
                .and_then(|t| t.trim().parse::<i128>().ok())
                .ok_or_else(|| self.invalid("an integer")),
            _ => Err(self.invalid("an integer")),
        }
    }

    fn float(&self) -> Result<f64, DeError> {
        match self.0 {
            Value::Float(f) => Ok(f64::from(*f)),
            Value::Double(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            Value::UInt(u) => Ok(*u as f64),
            Value::Decimal(_) | Value::Text(_) => self
                .text()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .ok_or_else(|| self.invalid("a float")),
            _ => Err(self.invalid("a float")),
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident as $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n = self.integer()?;
            let v = <$t>::try_from(n).map_err(|_| {
                <DeError as de::Error>::custom(format!("{n} does not fit in {}", stringify!($t)))
            })?;
            visitor.$visit(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) | Value::Bit(u) => visitor.visit_u64(*u),
            Value::Year(y) => visitor.visit_u16(*y),
            Value::Float(f) => visitor.visit_f32(*f),
            Value::Double(f) => visitor.visit_f64(*f),
            Value::Text(s) => visitor.visit_str(s),
            Value::Bytes(b) => visitor.visit_bytes(b),
            Value::Json(s) => {
                let mut de = serde_json::Deserializer::from_str(s);
                de::Deserializer::deserialize_any(&mut de, visitor)
                    .map_err(<DeError as de::Error>::custom)
            }
            Value::Decimal(_) | Value::Date(_) | Value::Time(_) | Value::DateTime(_) => {
                visitor.visit_str(&self.text().unwrap_or_default())
            }
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8 as i8,
        deserialize_i16 => visit_i16 as i16,
        deserialize_i32 => visit_i32 as i32,
        deserialize_i64 => visit_i64 as i64,
        deserialize_i128 => visit_i128 as i128,
        deserialize_u8 => visit_u8 as u8,
        deserialize_u16 => visit_u16 as u16,
        deserialize_u32 => visit_u32 as u32,
        deserialize_u64 => visit_u64 as u64,
        deserialize_u128 => visit_u128 as u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Float(f) => visitor.visit_f32(*f),
            _ => visitor.visit_f32(self.float()? as f32),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.integer() {
            Ok(0) => visitor.visit_bool(false),
            Ok(1) => visitor.visit_bool(true),
            _ => Err(self.invalid("a bool (0 or 1)")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match (self.0, self.text()) {
            (Value::Null, _) => Err(self.invalid("a string")),
            (_, Some(t)) => visitor.visit_str(&t),
            (Value::Bytes(_), None) => Err(de::Error::custom(
                "the bytes are not valid utf-8; decode into Vec<u8>",
            )),
            _ => Err(self.invalid("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Bytes(b) => visitor.visit_bytes(b),
            Value::Text(s) | Value::Json(s) => visitor.visit_bytes(s.as_bytes()),
            _ => Err(self.invalid("bytes")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            _ => Err(self.invalid("()")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            // `Vec<u8>` asks for a sequence.
            Value::Bytes(b) => {
                visitor.visit_seq(de::value::SeqDeserializer::new(b.iter().copied()))
            }
            Value::Json(s) => {
                let mut de = serde_json::Deserializer::from_str(s);
                de::Deserializer::deserialize_seq(&mut de, visitor)
                    .map_err(<DeError as de::Error>::custom)
            }
            _ => Err(self.invalid("a sequence")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Json(s) => {
                let mut de = serde_json::Deserializer::from_str(s);
                de::Deserializer::deserialize_map(&mut de, visitor)
                    .map_err(<DeError as de::Error>::custom)
            }
            _ => Err(self.invalid("a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.text() {
            Some(t) => visitor.visit_enum(t.into_owned().into_deserializer()),
            None => Err(self.invalid("an enum")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// Deserializes a [`Row`]: a map by column name, a sequence by position, or the only value.
struct RowDeserializer<'a>(&'a Row);

impl<'a> RowDeserializer<'a> {
    fn single(&self) -> Result<ValueDeserializer<'a>, DeError> {
        match self.0.values() {
            [only] => Ok(ValueDeserializer(only)),
            values => Err(de::Error::custom(format!(
                "a row of {} columns decodes into a struct, tuple or Vec, not a single value",
                values.len()
            ))),
        }
    }

    fn with_only_column(&self, e: DeError) -> DeError {
        let name = self.0.columns().first().map(|c| c.name.clone());
        DeError {
            column: e.column.or(name),
            message: e.message,
        }
    }
}

macro_rules! row_scalar {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.single()?.$method(visitor).map_err(|e| self.with_only_column(e))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    row_scalar!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit
    );

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(RowAccess {
            row: self.0,
            next: 0,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(RowAccess {
            row: self.0,
            next: 0,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    forward_to_deserialize_any! {
        unit_struct enum identifier ignored_any
    }
}

/// Walks a row's columns for both map and sequence access, tagging errors with the column.
struct RowAccess<'a> {
    row: &'a Row,
    next: usize,
}

impl RowAccess<'_> {
    fn tag(&self, index: usize, e: DeError) -> DeError {
        DeError {
            column: e
                .column
                .or_else(|| self.row.columns().get(index).map(|c| c.name.clone())),
            message: e.message,
        }
    }
}

impl<'de> MapAccess<'de> for RowAccess<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.row.columns().get(self.next) {
            Some(col) => seed
                .deserialize(col.name.as_str().into_deserializer())
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let index = self.next;
        self.next += 1;
        let value = self.row.values().get(index).ok_or_else(|| {
            self.tag(
                index,
                de::Error::custom("the row has no value for this column"),
            )
        })?;
        seed.deserialize(ValueDeserializer(value))
            .map_err(|e| self.tag(index, e))
    }
}

impl<'de> SeqAccess<'de> for RowAccess<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let index = self.next;
        match self.row.values().get(index) {
            Some(value) => {
                self.next += 1;
                seed.deserialize(ValueDeserializer(value))
                    .map(Some)
                    .map_err(|e| self.tag(index, e))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.row.values().len() - self.next)
    }
}

/// Implements `Serialize`/`Deserialize` as the MySQL text of a type with `FromStr`/`Display`.
macro_rules! serde_as_text {
    ($($t:ty => $what:literal),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct TextVisitor;
                impl Visitor<'_> for TextVisitor {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(|e: Error| E::custom(e.detail()))
                    }
                }
                d.deserialize_str(TextVisitor)
            }
        }
    )*};
}

serde_as_text!(
    Date => "a date as YYYY-MM-DD",
    Time => "a time as HH:MM:SS[.ffffff]",
    DateTime => "a datetime as YYYY-MM-DD HH:MM:SS[.ffffff]",
    Decimal => "a decimal number"
);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde::Deserialize;

    use super::*;
    use crate::value::{Column, ColumnFlags, ColumnType};

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            table: String::new(),
            column_type: ColumnType::VarString,
            flags: ColumnFlags::default(),
            charset: 45,
            decimals: 0,
            length: 0,
        }
    }

    fn row(pairs: Vec<(&str, Value)>) -> Row {
        let columns: Arc<[Column]> = pairs.iter().map(|(n, _)| column(n)).collect();
        Row::new(columns, pairs.into_iter().map(|(_, v)| v).collect())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: u64,
        name: String,
        price: Decimal,
        blob: Vec<u8>,
        made: Date,
        note: Option<String>,
        tags: Vec<String>,
    }

    #[test]
    fn row_into_struct() {
        let r = row(vec![
            ("id", Value::UInt(7)),
            ("name", Value::Text("héllo".into())),
            ("price", Value::Decimal("19.90".parse().unwrap())),
            ("blob", Value::Bytes(vec![0, 255])),
            ("made", Value::Date("2016-07-00".parse().unwrap())),
            ("note", Value::Null),
            ("tags", Value::Json(r#"["a","b"]"#.into())),
        ]);
        let item: Item = r.decode().unwrap();
        assert_eq!(item.id, 7);
        assert_eq!(item.price.as_str(), "19.90");
        assert_eq!(item.blob, vec![0, 255]);
        assert_eq!(item.made.to_string(), "2016-07-00");
        assert_eq!(item.note, None);
        assert_eq!(item.tags, vec!["a", "b"]);
    }

    #[test]
    fn row_into_tuple_and_scalar() {
        let r = row(vec![("a", Value::Int(-1)), ("b", Value::Text("x".into()))]);
        let (a, b): (i64, String) = r.decode().unwrap();
        assert_eq!((a, b.as_str()), (-1, "x"));
        let one = row(vec![("n", Value::Int(5))]);
        assert_eq!(one.decode::<i32>().unwrap(), 5);
        let e = r.decode::<i32>().unwrap_err();
        assert!(e.to_string().contains("2 columns"), "{e}");
    }

    #[test]
    fn errors_name_the_column() {
        let r = row(vec![("id", Value::Int(-5)), ("name", Value::Null)]);
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct S {
            id: u8,
            name: String,
        }
        let e = r.decode::<S>().unwrap_err();
        assert!(e.is_decode());
        assert!(e.to_string().contains("column `id`"), "{e}");
        let r = row(vec![("id", Value::Int(5)), ("name", Value::Null)]);
        let e = r.decode::<S>().unwrap_err();
        assert!(e.to_string().contains("column `name`"), "{e}");
    }

    #[test]
    fn bigint_bounds_and_bool() {
        assert_eq!(from_value::<u64>(&Value::UInt(u64::MAX)).unwrap(), u64::MAX);
        assert!(from_value::<i64>(&Value::UInt(u64::MAX)).is_err());
        assert!(from_value::<bool>(&Value::Int(1)).unwrap());
        assert!(from_value::<bool>(&Value::Int(2)).is_err());
        assert_eq!(
            from_value::<f64>(&Value::Decimal("1.5".parse().unwrap())).unwrap(),
            1.5
        );
        assert_eq!(
            from_value::<i64>(&Value::Decimal("42".parse().unwrap())).unwrap(),
            42
        );
    }
}
