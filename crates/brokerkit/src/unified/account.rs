//! Accounts and their balances, the same shape for every broker.

use super::Money;

/// A trading (or back-office) account.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// The id every other call of the unified layer takes (a string: vendor ids can exceed
    /// 2^53).
    pub id: String,
    /// The number the broker shows users, when it differs from `id` (TradeLocker's `accNum`,
    /// AutoShares' clearing account).
    pub number: Option<String>,
    pub name: Option<String>,
    /// The account's currency, when the broker says.
    pub currency: Option<String>,
}

impl Account {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            number: None,
            name: None,
            currency: None,
        }
    }
}

/// What an account holds, in exact decimals with the currency.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Balance {
    pub account_id: String,
    /// Cash, or the ledger balance.
    pub cash: Money,
    /// Cash plus the value of open positions, when the broker says.
    pub equity: Option<Money>,
    /// What can be traded or withdrawn now (free margin, buying power), when the broker says.
    pub available: Option<Money>,
}
