//! An exact amount with its currency.

use rust_decimal::Decimal;
use std::fmt;

/// An exact amount of money in a currency: never a float.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    pub amount: Decimal,
    /// The currency as the broker names it (an ISO 4217 code where the broker uses one).
    pub currency: String,
}

impl Money {
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Self {
        Self {
            amount,
            currency: currency.into(),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}
