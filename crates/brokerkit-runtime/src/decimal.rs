//! Exact decimals for money, prices and quantities.
//!
//! Brokers send amounts as JSON numbers, as numeric strings, or both (TradeLocker's rows carry
//! `"0.62"`, its quotes `77261.7`). [`Decimal`] reads either into a `rust_decimal::Decimal`
//! without going through binary floating point, and writes a JSON number, as the specs declare.
//!
//! Why a newtype rather than `rust_decimal::Decimal` itself: rust_decimal's serde format is
//! chosen by cargo features that apply to the whole dependency graph, so picking "number" for
//! brokerkit would silently change how every other crate in a user's program writes decimals.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

/// An exact decimal that reads a JSON number or numeric string and writes a JSON number.
///
/// Writing goes through `f64` (JSON has no other number type in `serde_json` without the
/// `arbitrary_precision` feature, which breaks untagged enums). The text written is the
/// shortest that reads back as the same `f64`, so any value of up to 15 significant digits,
/// which covers every price and quantity we have seen, goes out exactly as it is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal(pub rust_decimal::Decimal);

impl Decimal {
    pub const ZERO: Decimal = Decimal(rust_decimal::Decimal::ZERO);

    pub fn into_inner(self) -> rust_decimal::Decimal {
        self.0
    }
}

impl Deref for Decimal {
    type Target = rust_decimal::Decimal;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Decimal {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<rust_decimal::Decimal> for Decimal {
    fn from(value: rust_decimal::Decimal) -> Self {
        Self(value)
    }
}

impl From<Decimal> for rust_decimal::Decimal {
    fn from(value: Decimal) -> Self {
        value.0
    }
}

impl From<i64> for Decimal {
    fn from(value: i64) -> Self {
        Self(value.into())
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a value is not a decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a decimal number: {0}")]
pub struct DecimalError(String);

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_str(s).map(Decimal)
    }
}

fn parse_str(s: &str) -> Result<rust_decimal::Decimal, DecimalError> {
    let t = s.trim();
    rust_decimal::Decimal::from_str(t)
        .or_else(|_| rust_decimal::Decimal::from_scientific(t))
        .map_err(|_| DecimalError(format!("{s:?}")))
}

fn from_f64(v: f64) -> Result<rust_decimal::Decimal, DecimalError> {
    if !v.is_finite() {
        return Err(DecimalError(v.to_string()));
    }
    // `Display` for f64 prints the shortest text that reads back as `v`: the number the
    // sender wrote, not its binary approximation.
    parse_str(&v.to_string()).or_else(|_| parse_str(&format!("{v:e}")))
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use rust_decimal::prelude::ToPrimitive;
        if self.0.fract().is_zero() {
            if let Some(i) = self.0.to_i64() {
                return serializer.serialize_i64(i);
            }
        }
        match self.0.to_f64() {
            Some(f) => serializer.serialize_f64(f),
            None => Err(serde::ser::Error::custom(format!(
                "{} does not fit in a JSON number",
                self.0
            ))),
        }
    }
}

struct DecimalVisitor;

impl Visitor<'_> for DecimalVisitor {
    type Value = rust_decimal::Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number or a numeric string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        from_f64(v).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_str(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DecimalVisitor).map(Decimal)
    }
}

impl schemars::JsonSchema for Decimal {
    fn schema_name() -> String {
        "Decimal".into()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{InstanceType, SchemaObject, SingleOrVec};
        SchemaObject {
            instance_type: Some(SingleOrVec::Vec(vec![
                InstanceType::Number,
                InstanceType::String,
            ])),
            format: Some("decimal".into()),
            ..Default::default()
        }
        .into()
    }
}

/// Reads a decimal from a loosely typed JSON cell: a number, a numeric string, `null` or `""`
/// (the last two mean "no value").
pub fn from_json(value: &serde_json::Value) -> Result<Option<rust_decimal::Decimal>, DecimalError> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.trim().is_empty() => Ok(None),
        serde_json::Value::String(s) => parse_str(s).map(Some),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(Some(i.into())),
            (_, Some(u), _) => Ok(Some(u.into())),
            (_, _, Some(f)) => from_f64(f).map(Some),
            _ => Err(DecimalError(n.to_string())),
        },
        other => Err(DecimalError(other.to_string())),
    }
}

/// `#[serde(with = "brokerkit_runtime::decimal::lenient")]` for a `rust_decimal::Decimal` field
/// that may arrive as a number or a numeric string; written as a JSON number.
pub mod lenient {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<rust_decimal::Decimal, D::Error> {
        d.deserialize_any(DecimalVisitor)
    }

    pub fn serialize<S: Serializer>(v: &rust_decimal::Decimal, s: S) -> Result<S::Ok, S::Error> {
        Decimal(*v).serialize(s)
    }

    /// The same for `Option<rust_decimal::Decimal>`, where `null` and `""` mean `None`.
    pub mod option {
        use super::super::*;

        struct OptionVisitor;

        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = Option<rust_decimal::Decimal>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number, a numeric string, an empty string or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                from_f64(v).map(Some).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v.trim().is_empty() {
                    return Ok(None);
                }
                parse_str(v).map(Some).map_err(E::custom)
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<rust_decimal::Decimal>, D::Error> {
            d.deserialize_any(OptionVisitor)
        }

        pub fn serialize<S: Serializer>(
            v: &Option<rust_decimal::Decimal>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => Decimal(*v).serialize(s),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn reads_numbers_and_strings_exactly() {
        let v: Vec<Decimal> =
            serde_json::from_value(json!([1.37364, "0.62", 7, "100000.00", 0.1, "1e-3"])).unwrap();
        let text: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["1.37364", "0.62", "7", "100000.00", "0.1", "0.001"]);
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for bad in [json!("abc"), json!(true), json!(""), json!(null)] {
            assert!(
                serde_json::from_value::<Decimal>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn writes_json_numbers_that_read_back_the_same() {
        let values = [
            "1.37364",
            "0.62",
            "-12.5",
            "100000",
            "77261.7",
            "0.00001",
            "123456789.123456",
        ];
        for s in values {
            let out = serde_json::to_string(&d(s)).unwrap();
            assert_eq!(out.parse::<Decimal>().unwrap(), d(s), "{s} -> {out}");
            assert!(!out.starts_with('"'), "{out} is a number");
        }
        assert_eq!(serde_json::to_string(&d("5.00")).unwrap(), "5");
    }

    #[test]
    fn lenient_optional_fields() {
        #[derive(serde::Deserialize)]
        struct Row {
            #[serde(default, with = "crate::decimal::lenient::option")]
            v: Option<rust_decimal::Decimal>,
        }
        let read = |j: serde_json::Value| serde_json::from_value::<Row>(j).map(|r| r.v);
        assert_eq!(read(json!({"v": null})).unwrap(), None);
        assert_eq!(read(json!({"v": ""})).unwrap(), None);
        assert_eq!(read(json!({})).unwrap(), None);
        assert_eq!(
            read(json!({"v": "1.50"})).unwrap(),
            Some(rust_decimal::Decimal::new(150, 2))
        );
        assert_eq!(read(json!({"v": 2})).unwrap(), Some(2.into()));
        assert!(read(json!({"v": "x"})).is_err());
        assert!(read(json!({"v": [1]})).is_err());
    }

    #[test]
    fn loose_cells() {
        assert_eq!(from_json(&json!("")).unwrap(), None);
        assert_eq!(from_json(&json!(null)).unwrap(), None);
        assert_eq!(
            from_json(&json!("8.12")).unwrap(),
            Some(rust_decimal::Decimal::new(812, 2))
        );
        assert_eq!(
            from_json(&json!(18446744073709551615u64)).unwrap(),
            Some(u64::MAX.into())
        );
        assert!(from_json(&json!([1])).is_err());
    }
}
