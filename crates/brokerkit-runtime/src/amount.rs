//! Checks on amounts, quantities and prices before anything is sent.
//!
//! A sign is meaning on the wire (TraderEvolution reads a negative amount as a debit), so a
//! helper that takes "how much" never flips or drops a sign to make a value fit: a value outside
//! what the operation accepts is an [`AmountError`] and nothing is sent. What the client cannot
//! know (balances, lot steps, tick sizes, limits) is left to the broker.

use rust_decimal::Decimal;
use std::fmt;

/// The rule a value broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Must be greater than zero.
    Positive,
    /// Must be zero or greater.
    NonNegative,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Positive => "greater than zero",
            Rule::NonNegative => "zero or greater",
        })
    }
}

/// An amount, quantity or price the operation does not accept; raised before sending.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` must be {rule}, got {value}")]
pub struct AmountError {
    /// The parameter or body field, as the helper names it (e.g. `amount`, `qty`, `price`).
    pub field: &'static str,
    pub value: Decimal,
    pub rule: Rule,
}

/// `value` if it is greater than zero.
pub fn positive(field: &'static str, value: Decimal) -> Result<Decimal, AmountError> {
    if value > Decimal::ZERO {
        Ok(value)
    } else {
        Err(AmountError {
            field,
            value,
            rule: Rule::Positive,
        })
    }
}

/// `value` if it is zero or greater.
pub fn non_negative(field: &'static str, value: Decimal) -> Result<Decimal, AmountError> {
    if value >= Decimal::ZERO {
        Ok(value)
    } else {
        Err(AmountError {
            field,
            value,
            rule: Rule::NonNegative,
        })
    }
}

/// [`positive`] for an optional value; `None` passes.
pub fn positive_opt(
    field: &'static str,
    value: Option<Decimal>,
) -> Result<Option<Decimal>, AmountError> {
    value.map(|v| positive(field, v)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_zero() {
        assert_eq!(positive("amount", Decimal::ONE), Ok(Decimal::ONE));
        let e = positive("amount", Decimal::NEGATIVE_ONE).unwrap_err();
        assert_eq!((e.field, e.rule), ("amount", Rule::Positive));
        assert_eq!(e.to_string(), "`amount` must be greater than zero, got -1");
        assert!(positive("amount", Decimal::ZERO).is_err());
        assert_eq!(non_negative("fee", Decimal::ZERO), Ok(Decimal::ZERO));
        assert_eq!(
            non_negative("fee", Decimal::NEGATIVE_ONE).unwrap_err().rule,
            Rule::NonNegative
        );
        assert_eq!(positive_opt("price", None), Ok(None));
        assert!(positive_opt("price", Some(Decimal::ZERO)).is_err());
    }
}
