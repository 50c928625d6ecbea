//! Money in and out of an account: back-office deposits and withdrawals, ACH transfers.

use super::Money;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// Into or out of the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Deposit,
    Withdrawal,
}

/// A deposit or withdrawal to send: build it with [`TransferRequest::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferRequest {
    /// How much, greater than zero, in the account's currency.
    pub amount: Decimal,
    /// A note kept with the movement where the broker keeps one (TraderEvolution, Slate
    /// withdrawals); a Slate deposit and an AutoShares ACH transfer have no field for it.
    pub comment: Option<String>,
    /// The bank link to move money through, where the broker needs one (AutoShares: an
    /// approved ACH relationship id). A broker that needs one refuses the request before
    /// sending without it.
    pub bank_link: Option<String>,
}

impl TransferRequest {
    pub fn new(amount: Decimal) -> Self {
        Self {
            amount,
            comment: None,
            bank_link: None,
        }
    }

    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    pub fn bank_link(mut self, id: impl Into<String>) -> Self {
        self.bank_link = Some(id.into());
        self
    }
}

/// A money movement as the broker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transfer {
    /// The broker's id, when it gives one.
    pub id: Option<String>,
    pub account_id: String,
    pub direction: Direction,
    /// How much, positive whatever the direction. The currency is empty when the broker does
    /// not say.
    pub amount: Money,
    /// As the broker spells it (`Submitted`, `PENDING`, `settled`…), when it says.
    pub status: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
}
