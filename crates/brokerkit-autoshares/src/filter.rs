//! A typed builder for AutoShares' SQL-like `filter` query parameter.
//!
//! The syntax: comparisons `Field = v`, `<`, `>`, `<=`, `>=`; `Field between A and B`;
//! `Field in (a, b)`; conditions joined with `and`. Numbers are bare, strings single-quoted,
//! dates wrapped in `#…#`, booleans `true` / `false`.
//!
//! Values never become syntax: a string is quoted with its single quotes doubled (`O'Neil`
//! becomes `'O''Neil'`), and a string that holds a backslash or a control character is
//! refused, so no caller-supplied text can close the literal and add a condition. Field names
//! must be plain identifiers.
//!
//! ```
//! use brokerkit_autoshares::filter::{field, Filter};
//!
//! let f = Filter::new()
//!     .and(field("Symbol").eq("AAPL"))
//!     .and(field("Status").is_in([0, 1, 2]))
//!     .and(field("Quantity").between(10, 100));
//! assert_eq!(f.build().unwrap(), "Symbol = 'AAPL' and Status in (0, 1, 2) and Quantity between 10 and 100");
//!
//! // Hostile input stays one literal.
//! let f = Filter::new().and(field("Symbol").eq("x' or Symbol = 'MSFT"));
//! assert_eq!(f.build().unwrap(), "Symbol = 'x'' or Symbol = ''MSFT'");
//! ```

use chrono::{DateTime, Utc};
use std::fmt;

/// Why a filter could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A field name that is not a plain identifier (letters, digits, `_`, `.`; not starting with a digit).
    #[error("`{0}` is not a valid filter field name")]
    InvalidField(String),
    /// A string value with a character that cannot be written safely inside a literal.
    #[error("a filter string may not contain backslashes or control characters")]
    UnsafeValue,
    /// `in` with no values.
    #[error("`{0} in (…)` needs at least one value")]
    EmptyList(String),
}

/// A literal on the right-hand side of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Decimal(rust_decimal::Decimal),
    Str(String),
    Date(DateTime<Utc>),
    Bool(bool),
}

impl Value {
    fn write(&self, out: &mut String) -> Result<(), FilterError> {
        match self {
            Value::Int(n) => out.push_str(&n.to_string()),
            Value::Decimal(d) => out.push_str(&d.normalize().to_string()),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Date(d) => {
                out.push('#');
                out.push_str(&d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                out.push('#');
            }
            Value::Str(s) => {
                if s.chars().any(|c| c == '\\' || c.is_control()) {
                    return Err(FilterError::UnsafeValue);
                }
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
        }
        Ok(())
    }
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::Int(i64::from(v)) }
        }
    )*};
}
int_value!(i8, i16, i32, i64, u8, u16, u32);

impl From<rust_decimal::Decimal> for Value {
    fn from(v: rust_decimal::Decimal) -> Self {
        Value::Decimal(v)
    }
}
impl From<brokerkit_runtime::Decimal> for Value {
    fn from(v: brokerkit_runtime::Decimal) -> Self {
        Value::Decimal(v.into_inner())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Str(v.clone())
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::Date(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A field to compare; start a condition with [`field`].
#[derive(Clone, Debug)]
pub struct Field(String);

/// Names the field a condition compares, e.g. `field("CreateDate")`.
pub fn field(name: impl Into<String>) -> Field {
    Field(name.into())
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Cmp(&'static str, Value),
    Between(Value, Value),
    In(Vec<Value>),
}

/// One condition, e.g. `Symbol = 'AAPL'`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    field: String,
    op: Op,
}

impl Field {
    fn cmp(self, op: &'static str, v: impl Into<Value>) -> Condition {
        Condition {
            field: self.0,
            op: Op::Cmp(op, v.into()),
        }
    }
    /// `Field = v`
    pub fn eq(self, v: impl Into<Value>) -> Condition {
        self.cmp("=", v)
    }
    /// `Field < v`
    pub fn lt(self, v: impl Into<Value>) -> Condition {
        self.cmp("<", v)
    }
    /// `Field > v`
    pub fn gt(self, v: impl Into<Value>) -> Condition {
        self.cmp(">", v)
    }
    /// `Field <= v`
    pub fn le(self, v: impl Into<Value>) -> Condition {
        self.cmp("<=", v)
    }
    /// `Field >= v`
    pub fn ge(self, v: impl Into<Value>) -> Condition {
        self.cmp(">=", v)
    }
    /// `Field between low and high`
    pub fn between(self, low: impl Into<Value>, high: impl Into<Value>) -> Condition {
        Condition {
            field: self.0,
            op: Op::Between(low.into(), high.into()),
        }
    }
    /// `Field in (a, b, …)`
    pub fn is_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> Condition {
        Condition {
            field: self.0,
            op: Op::In(values.into_iter().map(Into::into).collect()),
        }
    }
}

fn valid_field(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

impl Condition {
    fn write(&self, out: &mut String) -> Result<(), FilterError> {
        if !valid_field(&self.field) {
            return Err(FilterError::InvalidField(self.field.clone()));
        }
        out.push_str(&self.field);
        match &self.op {
            Op::Cmp(op, v) => {
                out.push(' ');
                out.push_str(op);
                out.push(' ');
                v.write(out)?;
            }
            Op::Between(a, b) => {
                out.push_str(" between ");
                a.write(out)?;
                out.push_str(" and ");
                b.write(out)?;
            }
            Op::In(values) => {
                if values.is_empty() {
                    return Err(FilterError::EmptyList(self.field.clone()));
                }
                out.push_str(" in (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out)?;
                }
                out.push(')');
            }
        }
        Ok(())
    }
}

/// Conditions joined with `and`. An empty filter builds to `""` (no filter).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    conditions: Vec<Condition>,
}

impl Filter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a condition.
    #[allow(clippy::should_implement_trait)]
    pub fn and(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The filter text to send as the `filter` query parameter (the HTTP layer URL-encodes it).
    pub fn build(&self) -> Result<String, FilterError> {
        let mut out = String::new();
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                out.push_str(" and ");
            }
            c.write(&mut out)?;
        }
        Ok(out)
    }
}

impl From<Condition> for Filter {
    fn from(c: Condition) -> Self {
        Filter::new().and(c)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.build() {
            Ok(s) => f.write_str(&s),
            Err(e) => write!(f, "<invalid filter: {e}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn literals_of_each_kind() {
        let d = Utc.with_ymd_and_hms(2019, 3, 13, 18, 31, 42).unwrap();
        let f = Filter::new()
            .and(field("SecurityId").eq(4))
            .and(field("CreateDate").ge(d))
            .and(field("Price").lt(rust_decimal::Decimal::new(12_50, 2)))
            .and(field("AllowShort").eq(true))
            .and(field("Currency").is_in(["USD", "EUR"]));
        assert_eq!(
            f.build().unwrap(),
            "SecurityId = 4 and CreateDate >= #2019-03-13T18:31:42Z# and Price < 12.5 and AllowShort = true and Currency in ('USD', 'EUR')"
        );
    }

    #[test]
    fn quotes_are_doubled_and_unsafe_input_refused() {
        assert_eq!(
            Filter::from(field("Name").eq("O'Neil")).build().unwrap(),
            "Name = 'O''Neil'"
        );
        assert_eq!(
            Filter::from(field("Name").eq("a\\' or 1=1")).build(),
            Err(FilterError::UnsafeValue)
        );
        assert_eq!(
            Filter::from(field("Name").eq("a\n")).build(),
            Err(FilterError::UnsafeValue)
        );
        assert_eq!(
            Filter::from(field("Symbol = 'X' or Symbol").eq("Y")).build(),
            Err(FilterError::InvalidField("Symbol = 'X' or Symbol".into()))
        );
        assert_eq!(
            Filter::from(field("Status").is_in(Vec::<i32>::new())).build(),
            Err(FilterError::EmptyList("Status".into()))
        );
        assert_eq!(Filter::new().build().unwrap(), "");
    }
}
