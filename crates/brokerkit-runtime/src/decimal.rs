//! Exact decimals for money, prices and quantities.
//!
//! Brokers send amounts as JSON numbers, as numeric strings, or both (TradeLocker's rows carry
//! `"0.62"`, its quotes `77261.7`). [`Decimal`] reads either into a `rust_decimal::Decimal`
//! without going through binary floating point, and writes a JSON number, as the specs declare.
//!
//! Why a newtype rather than `rust_decimal::Decimal` itself: rust_decimal's serde format is
//! chosen by cargo features that apply to the whole dependency graph, so picking "number" for
//! brokerkit would silently change how every other crate in a user's program writes decimals.
//!
//! How the digits stay exact without serde_json's `arbitrary_precision` (which would break the
//! untagged enums of the generated types, again for the whole graph): serde_json's `raw_value`
//! hands over a number's text untouched in both directions. Writing emits the decimal's own
//! digits as a raw JSON number; reading asks for the raw text of the value and parses that.
//! The raw text is only available straight from serde_json's own deserializer: a value buffered
//! by serde first (inside `#[serde(untagged)]` or `#[serde(flatten)]`, or read from a
//! `serde_json::Value`) has already been through `f64`, and is exact only up to 15 significant
//! digits. No generated type puts a decimal in such a place.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

/// serde_json's private name for a raw value; its deserializer answers a newtype-struct request
/// under this name with a one-entry map holding the value's text.
const RAW_TOKEN: &str = "$serde_json::private::RawValue";

/// An exact decimal that reads a JSON number or numeric string and writes a JSON number.
///
/// Written by serde_json (the request bodies of every client), the number carries exactly the
/// decimal's digits, at every scale, including `MIN` and `MAX`. Written by any other serializer
/// (a `serde_json::Value`, a query string), a value goes out as an `f64` only when that `f64`
/// reads back as the same decimal, and is an error otherwise: never a silently changed amount.
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

/// Plain decimal text (`-?digits[.digits]`, at most 28 digits after the point, a mantissa that
/// fits 96 bits) read in one pass; `None` leaves anything else to the general parser. Prices
/// arrive by the tens of thousands per answer (a 20,000-bar history holds 100,000), and this
/// is several times faster than `from_str_exact`, which also handles separators and exponents.
#[inline]
fn parse_plain(text: &[u8]) -> Option<rust_decimal::Decimal> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    // "5." and ".5" are left to the general parser, which decides what they mean.
    if !digits.first()?.is_ascii_digit() || !digits.last()?.is_ascii_digit() {
        return None;
    }
    // Up to 19 digits (every price and quantity seen on the wire) fit a u64 without a check.
    if digits.len() <= 19 {
        let mut mantissa: u64 = 0;
        let mut scale: u32 = 0;
        let mut point = false;
        for &b in digits {
            match b {
                b'0'..=b'9' => {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                    scale += u32::from(point);
                }
                b'.' if !point => point = true,
                _ => return None,
            }
        }
        // As the general parser does: "-0" is zero, without a sign.
        let negative = negative && mantissa != 0;
        return Some(rust_decimal::Decimal::from_parts(
            mantissa as u32,
            (mantissa >> 32) as u32,
            0,
            negative,
            scale,
        ));
    }
    let mut mantissa: u128 = 0;
    let mut scale: u32 = 0;
    let mut point = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa
                    .checked_mul(10)?
                    .checked_add(u128::from(b - b'0'))?;
                scale += u32::from(point);
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    if scale > 28 || mantissa >= 1 << 96 {
        return None;
    }
    let mut value = rust_decimal::Decimal::from_i128_with_scale(mantissa as i128, scale);
    // As the general parser does: "-0" is zero, without a sign.
    value.set_sign_negative(negative && mantissa != 0);
    Some(value)
}

/// Parses decimal text exactly: digits a `rust_decimal::Decimal` cannot hold are an error, not
/// a rounding.
fn parse_str(s: &str) -> Result<rust_decimal::Decimal, DecimalError> {
    if let Some(value) = parse_plain(s.as_bytes()) {
        return Ok(value);
    }
    let t = s.trim();
    let is_plain = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'));
    let parsed = if is_plain {
        rust_decimal::Decimal::from_str_exact(t)
    } else if t.bytes().any(|b| matches!(b, b'e' | b'E')) {
        rust_decimal::Decimal::from_scientific(t)
    } else {
        Err(rust_decimal::Error::ConversionTo(String::new()))
    };
    parsed.map_err(|_| DecimalError(format!("{s:?}")))
}

/// The text of a raw JSON value (a number, a string, or anything else) as a decimal; `None`
/// for `null` and, when `blank_is_none`, for a blank string (only the optional readers accept
/// either).
#[inline]
fn parse_raw(
    raw: &str,
    blank_is_none: bool,
) -> Result<Option<rust_decimal::Decimal>, DecimalError> {
    // serde_json hands over a number's text without surrounding whitespace.
    if let Some(value) = parse_plain(raw.as_bytes()) {
        return Ok(Some(value));
    }
    let raw = raw.trim();
    if raw == "null" {
        return Ok(None);
    }
    if blank_is_none
        && raw.len() >= 2
        && raw.starts_with('"')
        && raw[1..raw.len() - 1].trim().is_empty()
    {
        return Ok(None);
    }
    if let Some(inner) = raw.strip_prefix('"') {
        // A numeric string never needs escapes; one that has them is decoded the slow way.
        return match inner.strip_suffix('"').filter(|t| !t.contains('\\')) {
            Some(text) => parse_str(text).map(Some),
            None => serde_json::from_str::<String>(raw)
                .map_err(|_| DecimalError(raw.to_owned()))
                .and_then(|text| parse_str(&text))
                .map(Some),
        };
    }
    match raw.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => parse_str(raw).map(Some),
        _ => Err(DecimalError(raw.to_owned())),
    }
}

fn from_f64(v: f64) -> Result<rust_decimal::Decimal, DecimalError> {
    if !v.is_finite() {
        return Err(DecimalError(v.to_string()));
    }
    // `Display` for f64 prints the shortest text that reads back as `v`: the number the
    // sender wrote (when it had at most 15 significant digits), not its binary approximation.
    parse_str(&v.to_string()).or_else(|_| parse_str(&format!("{v:e}")))
}

/// Whether `S` is serde_json's text serializer, the only one that writes a raw value as the
/// number it holds (others would write the raw value as a one-field struct or re-parse it
/// through `f64`). Serde has no way to ask a serializer this, so the type's name is read.
fn writes_raw_json<S>() -> bool {
    std::any::type_name::<S>().starts_with("&mut serde_json::ser::Serializer<")
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use rust_decimal::prelude::ToPrimitive;
        if self.0.fract().is_zero() {
            if let Some(i) = self.0.to_i64() {
                return serializer.serialize_i64(i);
            }
        }
        if writes_raw_json::<S>() {
            let raw = serde_json::value::RawValue::from_string(self.0.to_string())
                .map_err(serde::ser::Error::custom)?;
            return raw.serialize(serializer);
        }
        match self.0.to_f64() {
            Some(f) if from_f64(f).is_ok_and(|back| back == self.0) => serializer.serialize_f64(f),
            _ => Err(serde::ser::Error::custom(format!(
                "{} cannot be written exactly by this serializer (more digits than an f64 holds)",
                self.0
            ))),
        }
    }
}

/// Reads the value's raw text from serde_json (exact), or whatever a buffering deserializer
/// offers (numbers already in `f64`).
#[derive(Clone, Copy)]
struct DecimalVisitor {
    null_is_none: bool,
}

type Read = Option<rust_decimal::Decimal>;

impl DecimalVisitor {
    fn done<E: de::Error>(self, v: Read) -> Result<Read, E> {
        match v {
            None if !self.null_is_none => Err(E::invalid_type(de::Unexpected::Unit, &self)),
            v => Ok(v),
        }
    }
}

/// The raw value's text, borrowed when the input allows.
struct RawText(DecimalVisitor);

impl<'de> de::DeserializeSeed<'de> for RawText {
    type Value = Read;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for RawText {
    type Value = Read;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the text of a JSON value")
    }
    #[inline]
    fn visit_str<E: de::Error>(self, raw: &str) -> Result<Read, E> {
        parse_raw(raw, self.0.null_is_none)
            .map_err(E::custom)
            .and_then(|v| self.0.done(v))
    }
}

/// Whether a map key is serde_json's raw-value marker, compared without allocating.
struct IsRawKey;

impl<'de> de::DeserializeSeed<'de> for IsRawKey {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for IsRawKey {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == RAW_TOKEN)
    }
}

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.null_is_none {
            f.write_str("a decimal number, a numeric string, an empty string or null")
        } else {
            f.write_str("a decimal number or a numeric string")
        }
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        match map.next_key_seed(IsRawKey)? {
            Some(true) => map.next_value_seed(RawText(self)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Map, &self)),
        }
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Read, E> {
        self.done(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Read, E> {
        self.done(None)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Read, E> {
        Ok(Some(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Read, E> {
        Ok(Some(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Read, E> {
        from_f64(v).map(Some).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Read, E> {
        if self.null_is_none && v.trim().is_empty() {
            return Ok(None);
        }
        parse_str(v).map(Some).map_err(E::custom)
    }
}

/// Whether `D` is serde_json's text deserializer, the one that hands out a number's text.
/// Asking anything else for a raw value costs without helping: `serde_json::Value` would
/// format itself back into text (an allocation per cell in TradeLocker's rows), and serde's
/// buffers hold the number as an `f64` already.
fn reads_raw_json<D>() -> bool {
    std::any::type_name::<D>().starts_with("&mut serde_json::de::Deserializer<")
}

fn read<'de, D: Deserializer<'de>>(d: D, null_is_none: bool) -> Result<Read, D::Error> {
    let visitor = DecimalVisitor { null_is_none };
    let v = if reads_raw_json::<D>() {
        d.deserialize_newtype_struct(RAW_TOKEN, visitor)?
    } else {
        d.deserialize_any(visitor)?
    };
    if !null_is_none && v.is_none() {
        return Err(de::Error::invalid_type(de::Unexpected::Unit, &visitor));
    }
    Ok(v)
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read(deserializer, false).map(|v| Decimal(v.unwrap_or_default()))
    }
}

#[cfg(feature = "schemas")]
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
        Decimal::deserialize(d).map(Decimal::into_inner)
    }

    pub fn serialize<S: Serializer>(v: &rust_decimal::Decimal, s: S) -> Result<S::Ok, S::Error> {
        Decimal(*v).serialize(s)
    }

    /// The same for `Option<rust_decimal::Decimal>`, where `null` and `""` mean `None`.
    pub mod option {
        use super::super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<rust_decimal::Decimal>, D::Error> {
            read(d, true)
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
    fn the_one_pass_reader_agrees_with_the_general_parser() {
        // (text, what `parse_str` reads, as the general parser alone read it before).
        let cases = [
            ("0", Some("0")),
            ("-0", Some("0")),
            ("7", Some("7")),
            ("+7", Some("7")),
            ("007", Some("7")),
            ("-1.37364", Some("-1.37364")),
            ("100000.00", Some("100000.00")),
            (
                "0.0000000000000000000000000001",
                Some("0.0000000000000000000000000001"),
            ),
            (
                "79228162514264337593543950335",
                Some("79228162514264337593543950335"),
            ),
            (
                "-79228162514264337593543950335",
                Some("-79228162514264337593543950335"),
            ),
            (
                "7.9228162514264337593543950335",
                Some("7.9228162514264337593543950335"),
            ),
            ("1e3", Some("1000")),
            (" 1", Some("1")),
            ("1 ", Some("1")),
            ("79228162514264337593543950336", None),
            ("0.00000000000000000000000000001", None),
            ("1..2", None),
            ("1.2.3", None),
            ("-", None),
            ("", None),
            ("1_000", None),
            ("0x10", None),
            ("--1", None),
        ];
        for (text, expected) in cases {
            let read = parse_str(text).ok().map(|d| d.to_string());
            assert_eq!(read.as_deref(), expected, "{text:?}");
            if let Some(fast) = parse_plain(text.as_bytes()) {
                let general = rust_decimal::Decimal::from_str_exact(text).unwrap();
                assert_eq!((fast, fast.scale()), (general, general.scale()), "{text:?}");
            }
        }
        // Every plain text the reader takes reads as the general parser reads it.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let int = seed % 10_000_000_000;
            let frac_digits = (seed >> 40) % 12;
            let frac = (seed >> 20) % 10u64.pow(frac_digits as u32).max(1);
            let sign = if seed & 1 == 1 { "-" } else { "" };
            let text = if frac_digits == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac:0width$}", width = frac_digits as usize)
            };
            let fast = parse_plain(text.as_bytes()).expect(&text);
            let general = rust_decimal::Decimal::from_str_exact(&text).unwrap();
            assert_eq!(
                (fast, fast.scale(), fast.to_string()),
                (general, general.scale(), general.to_string()),
                "{text}"
            );
        }
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

    /// splitmix64: a fixed seed keeps a failure reproducible without a new dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// A mantissa of a random bit length, so small and full-width values both occur.
        fn decimal(&mut self, scale: u32) -> rust_decimal::Decimal {
            let bits = (self.next() % 97) as u32;
            let m =
                ((u128::from(self.next()) << 64) | u128::from(self.next())) & ((1u128 << 96) - 1);
            let m = if bits == 0 { 0 } else { m >> (96 - bits) };
            let neg = self.next() & 1 == 1;
            rust_decimal::Decimal::from_parts(
                m as u32,
                (m >> 32) as u32,
                (m >> 64) as u32,
                neg,
                scale,
            )
        }
    }

    fn round_trip(v: rust_decimal::Decimal) {
        let text = serde_json::to_string(&Decimal(v)).unwrap();
        assert!(!text.starts_with('"'), "{v} written as a string: {text}");
        let back: Decimal = serde_json::from_str(&text).unwrap();
        assert_eq!(back.0, v, "{v} -> {text} -> {back}");
        let bytes = serde_json::to_vec(&Some(Decimal(v))).unwrap();
        let back: Option<Decimal> = serde_json::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(
            back.map(Decimal::into_inner),
            Some(v),
            "{v} through a reader"
        );
    }

    #[test]
    fn every_scale_round_trips_exactly() {
        let mut rng = Rng(0x5EED_0008);
        let mut n = 0;
        for scale in 0..=28u32 {
            for _ in 0..3_500 {
                round_trip(rng.decimal(scale));
                n += 1;
            }
        }
        for v in [
            rust_decimal::Decimal::MIN,
            rust_decimal::Decimal::MAX,
            rust_decimal::Decimal::ZERO,
            rust_decimal::Decimal::new(-0, 5),
            rust_decimal::Decimal::from_parts(1, 0, 0, false, 28),
        ] {
            round_trip(v);
            n += 1;
        }
        assert!(n >= 100_000, "{n} values");
    }

    #[test]
    fn the_values_the_issue_names_go_out_exactly() {
        for (s, wire) in [
            ("12345678901234.567", "12345678901234.567"),
            ("0.1234567890123456789", "0.1234567890123456789"),
            ("1234567890.123456789", "1234567890.123456789"),
            (
                "0.00000000000000000000001234",
                "0.00000000000000000000001234",
            ),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
            (
                "-79228162514264337593543950335",
                "-79228162514264337593543950335",
            ),
            ("1.50", "1.50"),
        ] {
            assert_eq!(serde_json::to_string(&d(s)).unwrap(), wire);
        }
        #[derive(serde::Serialize)]
        struct Body {
            amount: Decimal,
            price: Option<Decimal>,
        }
        let body = Body {
            amount: d("1234567890.123456789"),
            price: Some(d("0.1234567890123456789")),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"amount":1234567890.123456789,"price":0.1234567890123456789}"#
        );
    }

    #[test]
    fn reads_long_numbers_exactly_from_text() {
        #[derive(serde::Deserialize)]
        struct Row {
            a: Decimal,
            b: Option<Decimal>,
            #[serde(default, with = "crate::decimal::lenient::option")]
            c: Option<rust_decimal::Decimal>,
            #[serde(with = "crate::decimal::lenient")]
            e: rust_decimal::Decimal,
        }
        let r: Row = serde_json::from_str(
            r#"{"a": 1234567890.123456789, "b": "0.1234567890123456789", "c": 1.2345678901234567891e3, "e": -79228162514264337593543950335}"#,
        )
        .unwrap();
        assert_eq!(r.a, d("1234567890.123456789"));
        assert_eq!(r.b, Some(d("0.1234567890123456789")));
        assert_eq!(r.c, Some(d("1234.5678901234567891").0));
        assert_eq!(r.e, rust_decimal::Decimal::MIN);
        let r: Row = serde_json::from_str(r#"{"a": 1, "b": null, "c": "", "e": "2"}"#).unwrap();
        assert_eq!((r.b, r.c), (None, None));
    }

    #[test]
    fn digits_a_decimal_cannot_hold_are_an_error_not_a_rounding() {
        for bad in [
            "0.12345678901234567890123456789",
            "79228162514264337593543950336",
            "null",
            "{}",
            "[1]",
            "true",
            r#""1_000""#,
        ] {
            assert!(serde_json::from_str::<Decimal>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_serializers_write_f64_only_when_it_is_exact() {
        assert_eq!(serde_json::to_value(d("1.37364")).unwrap(), json!(1.37364));
        assert_eq!(serde_json::to_value(d("-7")).unwrap(), json!(-7));
        let err = serde_json::to_value(d("1234567890.123456789")).unwrap_err();
        assert!(err.to_string().contains("exactly"), "{err}");
        assert!(serde_json::to_value(rust_decimal::Decimal::MAX.into_decimal()).is_err());
    }

    /// Buffered by serde (untagged, flatten) the number has been through `f64` already: values of
    /// up to 15 significant digits still come back exactly, which this pins; the module doc says
    /// the rest.
    #[test]
    fn buffered_positions_keep_fifteen_digits() {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            Priced { price: Decimal },
            Other(#[allow(dead_code)] String),
        }
        #[derive(serde::Deserialize)]
        struct Outer {
            #[serde(flatten)]
            inner: Inner,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            qty: Decimal,
        }
        let Either::Priced { price } =
            serde_json::from_str(r#"{"price": 123456789.123456}"#).unwrap()
        else {
            panic!("not priced")
        };
        assert_eq!(price, d("123456789.123456"));
        let o: Outer = serde_json::from_str(r#"{"qty": 0.00000123456789012345}"#).unwrap();
        assert_eq!(o.inner.qty, d("0.00000123456789012345"));
        let o: Outer = serde_json::from_str(r#"{"qty": "1234567890.123456789"}"#).unwrap();
        assert_eq!(
            o.inner.qty,
            d("1234567890.123456789"),
            "strings stay exact anywhere"
        );
    }

    trait IntoDecimal {
        fn into_decimal(self) -> Decimal;
    }
    impl IntoDecimal for rust_decimal::Decimal {
        fn into_decimal(self) -> Decimal {
            Decimal(self)
        }
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
