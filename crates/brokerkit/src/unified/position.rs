//! Open positions.

use super::Side;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// An open position.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Position {
    /// The id [`Trading::close_position`](super::Trading::close_position) takes (a string).
    pub id: String,
    pub instrument_id: String,
    /// Long (`Buy`) or short (`Sell`), when the broker says.
    pub side: Option<Side>,
    /// The size held, positive whatever the side.
    pub quantity: Decimal,
    pub average_price: Option<Decimal>,
    pub unrealized_pnl: Option<Decimal>,
    pub opened_at: Option<DateTime<Utc>>,
}
