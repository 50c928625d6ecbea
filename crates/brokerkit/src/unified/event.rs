//! One live-event type for every broker's stream.
//!
//! No adapter streams yet ([`Capability::Streaming`](super::Capability::Streaming) is false
//! everywhere): the vendor streams (TradeLocker Socket.IO, AutoShares websocket) are being
//! built in the vendor crates. Wiring one is a small adapter: map the vendor's typed messages
//! to [`Event`] with the same `From` conversions the REST adapters use for [`Order`],
//! [`Position`], [`Balance`] and [`Quote`], and override
//! [`Streaming::events`](super::Streaming::events).

use super::{Balance, Order, Position, Quote};

/// Something that happened on an account or a market, as a stream reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new best bid/ask.
    Quote(Quote),
    /// An order was placed, changed, filled, cancelled or rejected.
    Order(Order),
    /// A position opened, changed or closed (a closed position has quantity zero).
    Position(Position),
    /// The account's figures changed.
    Balance(Balance),
    /// The stream reconnected and resubscribed; what happened while it was away was read back
    /// and sent as the events above. Caches built from the stream stay valid.
    Resynced,
}
