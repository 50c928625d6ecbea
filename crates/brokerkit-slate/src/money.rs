//! Hand-written money views with exact decimals (`rust_decimal::Decimal`).
//!
//! The generated types already decode amounts exactly (into `brokerkit_runtime::Decimal`,
//! from JSON numbers or decimal strings: Slate sends transaction amounts as strings and
//! balances as numbers). These views give the common answers a plain shape where a missing
//! balance is distinguishable from a zero one.

use crate::types;
use rust_decimal::Decimal;
use uuid::Uuid;

/// An exact amount in a currency.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    pub amount: Decimal,
    /// ISO 4217 code as the broker sent it (may be empty when the broker did not say).
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

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// The live state of a trading account (`GET /accounts/{login}/state`).
///
/// Only `login` and `currency` are confirmed by the vendor's reference; the other fields are
/// assumed (see the spec's `x-unverified` marks) and are `None` when the broker omits them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountSummary {
    pub login: String,
    pub currency: Option<String>,
    pub balance: Option<Decimal>,
    pub equity: Option<Decimal>,
    pub margin: Option<Decimal>,
    pub free_margin: Option<Decimal>,
    pub margin_level: Option<Decimal>,
    pub credit: Option<Decimal>,
    pub unrealized_pnl: Option<Decimal>,
    pub open_positions: Option<i64>,
}

impl AccountSummary {
    /// The balance with its currency, when both are known.
    pub fn balance_money(&self) -> Option<Money> {
        Some(Money::new(self.balance?, self.currency.clone()?))
    }
}

impl From<types::AccountStateResponse> for AccountSummary {
    fn from(s: types::AccountStateResponse) -> Self {
        let d =
            |v: Option<brokerkit_runtime::Decimal>| v.map(brokerkit_runtime::Decimal::into_inner);
        Self {
            login: s.login,
            currency: s.currency,
            balance: d(s.balance),
            equity: d(s.equity),
            margin: d(s.margin),
            free_margin: d(s.free_margin),
            margin_level: d(s.margin_level),
            credit: d(s.credit),
            unrealized_pnl: d(s.unrealized_pnl),
            open_positions: s.open_positions,
        }
    }
}

/// A filed withdrawal request (`POST /customers/me/withdraw`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WithdrawalReceipt {
    pub transaction_id: Uuid,
    pub amount: Money,
    /// What could still be withdrawn after this request, in the same currency.
    pub max_withdrawable: Money,
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub message: String,
}

impl From<types::WithdrawalRequested> for WithdrawalReceipt {
    fn from(w: types::WithdrawalRequested) -> Self {
        Self {
            transaction_id: w.transaction_id,
            amount: Money::new(w.amount.into_inner(), w.currency.clone()),
            max_withdrawable: Money::new(w.max_withdrawable.into_inner(), w.currency),
            status: w.status,
            created_at: w.created_at,
            message: w.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn account_state_keeps_exact_decimals_and_missing_fields() {
        let s: types::AccountStateResponse = serde_json::from_value(json!({
            "login": "100001", "currency": "USD", "balance": 1000.1, "equity": "1000.30", "margin": null
        }))
        .unwrap();
        let a = AccountSummary::from(s);
        assert_eq!(a.balance, Some(Decimal::new(10001, 1)));
        assert_eq!(
            a.equity.unwrap().to_string(),
            "1000.30",
            "string decimals keep their scale"
        );
        assert_eq!(a.margin, None);
        assert_eq!(a.free_margin, None);
        assert_eq!(a.balance_money().unwrap().to_string(), "1000.1 USD");
    }

    #[test]
    fn withdrawal_strings_become_money() {
        let w: types::WithdrawalRequested = serde_json::from_value(json!({
            "transaction_id": "0b8e4a52-6f1d-4c3e-9a7b-1c2d3e4f5a6c", "amount": "0.10", "currency": "USD",
            "status": "PENDING", "created_at": "2023-11-07T05:31:56Z", "max_withdrawable": "900.20"
        }))
        .unwrap();
        let r = WithdrawalReceipt::from(w);
        assert_eq!(r.amount, Money::new(Decimal::new(10, 2), "USD"));
        assert_eq!(
            r.max_withdrawable.amount + r.amount.amount,
            Decimal::new(90030, 2),
            "no binary rounding"
        );
        assert_eq!(
            r.message, "Withdrawal request submitted for approval",
            "the vendor default fills a missing message"
        );
    }
}
