//! Instruments and quotes, where the broker serves them.

use rust_decimal::Decimal;

/// A tradable instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Instrument {
    /// The id orders and quotes take (TradeLocker's `tradableInstrumentId`, a symbol elsewhere).
    pub id: String,
    /// The ticker users know (`EURUSD`, `AAPL`).
    pub symbol: String,
    pub description: Option<String>,
    /// The quote currency, when the broker says.
    pub currency: Option<String>,
}

/// Best bid and ask.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quote {
    pub instrument_id: String,
    pub bid: Option<Decimal>,
    pub ask: Option<Decimal>,
}
