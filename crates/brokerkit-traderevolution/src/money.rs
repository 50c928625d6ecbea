//! Money movements on trading accounts with exact decimals: the operation types the guide
//! documents (any other id is kept as [`OperationType::Other`]), a new operation to send, and
//! an operation as listed.

use crate::types;
use rust_decimal::Decimal;

/// The type of an account operation (`operationTypeId`). Ids the guide does not name are kept
/// as `Other`, so a new server-side type never breaks a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperationType {
    /// 1
    Trading,
    /// 2
    Deposit,
    /// 3
    Withdrawal,
    /// 12
    Adjustment,
    /// 13
    Dividends,
    /// 17
    Transfer,
    /// Any other id (the full list is in the server's Swagger models).
    Other(i32),
}

impl OperationType {
    pub fn id(self) -> i32 {
        match self {
            Self::Trading => 1,
            Self::Deposit => 2,
            Self::Withdrawal => 3,
            Self::Adjustment => 12,
            Self::Dividends => 13,
            Self::Transfer => 17,
            Self::Other(id) => id,
        }
    }

    pub fn from_id(id: i32) -> Self {
        match id {
            1 => Self::Trading,
            2 => Self::Deposit,
            3 => Self::Withdrawal,
            12 => Self::Adjustment,
            13 => Self::Dividends,
            17 => Self::Transfer,
            other => Self::Other(other),
        }
    }
}

/// The longest `frontendComment` the server accepts.
pub const MAX_COMMENT_CHARS: usize = 128;

/// An operation to create. The sign of `amount` selects credit (positive) or debit (negative).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOperation {
    pub account_id: i64,
    pub amount: Decimal,
    pub kind: OperationType,
    /// Shown on the trading frontends; at most [`MAX_COMMENT_CHARS`] characters.
    pub comment: Option<String>,
}

impl NewOperation {
    pub fn new(account_id: i64, kind: OperationType, amount: Decimal) -> Self {
        Self {
            account_id,
            amount,
            kind,
            comment: None,
        }
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// The request body; refuses a comment the server would reject.
    pub(crate) fn to_request(&self) -> Result<types::CreateAccountOperationRequest, String> {
        let frontend_comment = match &self.comment {
            Some(c) => Some(
                types::CreateAccountOperationRequestFrontendComment::try_from(c.as_str())
                    .map_err(|e| format!("frontendComment: {e} (at most {MAX_COMMENT_CHARS})"))?,
            ),
            None => None,
        };
        Ok(types::CreateAccountOperationRequest {
            account_id: self.account_id,
            amount: self.amount.into(),
            operation_type_id: self.kind.id(),
            frontend_comment,
        })
    }
}

/// An account operation as listed by the server. Every field is optional because the listing's
/// shape is not documented publicly.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    pub id: Option<i64>,
    pub account_id: Option<i64>,
    pub amount: Option<Decimal>,
    pub kind: Option<OperationType>,
    pub comment: Option<String>,
    pub settled: Option<bool>,
    pub currency_id: Option<i64>,
    /// Milliseconds since the Unix epoch.
    pub date_ms: Option<i64>,
}

impl From<types::AccountOperation> for Operation {
    fn from(o: types::AccountOperation) -> Self {
        Self {
            id: o.id,
            account_id: o.account_id,
            amount: o.amount.map(|a| a.into_inner()),
            kind: o.operation_type_id.map(OperationType::from_id),
            comment: o.frontend_comment,
            settled: o.is_settled,
            currency_id: o.currency_id,
            date_ms: o.date,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn ids_round_trip_and_unknown_ids_are_kept() {
        for id in [1, 2, 3, 12, 13, 17, 99] {
            assert_eq!(OperationType::from_id(id).id(), id);
        }
        assert_eq!(OperationType::from_id(99), OperationType::Other(99));
    }

    #[test]
    fn a_long_comment_is_refused_before_sending_and_amounts_stay_exact() {
        let op =
            NewOperation::new(1, OperationType::Deposit, dec!(0.1)).with_comment("x".repeat(129));
        assert!(op.to_request().unwrap_err().contains("128"));
        let body = NewOperation::new(1, OperationType::Deposit, dec!(1234567.89))
            .to_request()
            .unwrap();
        assert_eq!(serde_json::to_string(&body.amount).unwrap(), "1234567.89");
    }
}
