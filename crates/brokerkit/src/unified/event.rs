//! One live-event type for every broker's stream.
//!
//! With the `streams` feature, the TradeLocker adapter (Streams API) and the AutoShares
//! adapter (data streamer) stream an account's orders, positions and balances as [`Event`]s
//! once given where to connect (`TradeLocker::with_stream`, `AutoShares::with_stream`); their
//! capability maps then include [`Capability::Streaming`](super::Capability::Streaming). Each
//! adapter maps the vendor's typed messages to the unified values and nothing more: the vendor
//! streams reconnect, resubscribe and resync themselves, and a resync ends in
//! [`Event::Resynced`].

use super::{Balance, Error, Order, Position, Quote, Result};
use futures::stream::{BoxStream, Stream, StreamExt};

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

impl From<Quote> for Event {
    fn from(q: Quote) -> Self {
        Event::Quote(q)
    }
}

impl From<Order> for Event {
    fn from(o: Order) -> Self {
        Event::Order(o)
    }
}

impl From<Position> for Event {
    fn from(p: Position) -> Self {
        Event::Position(p)
    }
}

impl From<Balance> for Event {
    fn from(b: Balance) -> Self {
        Event::Balance(b)
    }
}

/// A vendor stream as unified events: each item through its `Into<Event>`, each error through
/// the one vendor conversion ([`VendorError`](super::VendorError)).
pub fn from_vendor<'a, S, T, E>(stream: S) -> BoxStream<'a, Result<Event>>
where
    S: Stream<Item = std::result::Result<T, E>> + Send + 'a,
    T: Into<Event>,
    E: Into<Error>,
{
    stream
        .map(|r| r.map(Into::into).map_err(Into::into))
        .boxed()
}

/// A stream's own failure in the layer's terms: refused credentials are
/// [`Error::Unauthorized`], the rest (connect, timeout, every reconnection failed, closed) a
/// [`Error::Transport`] — a stream changes nothing, so nothing is of unknown outcome.
#[allow(dead_code)] // unused without a streaming vendor
pub(crate) fn stream_failure<E>(vendor: super::Vendor, refused: bool, err: E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let message = err.to_string();
    let source = Some(Box::new(err) as Box<dyn std::error::Error + Send + Sync>);
    if refused {
        Error::Unauthorized {
            vendor,
            message,
            source,
        }
    } else {
        Error::Transport {
            vendor,
            message,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::{Capability, Vendor};

    #[test]
    fn a_vendor_stream_becomes_events_and_errors() {
        let quote = Quote {
            instrument_id: "278".into(),
            bid: Some(rust_decimal::Decimal::ONE),
            ask: None,
        };
        let items: Vec<std::result::Result<Quote, Error>> = vec![
            Ok(quote.clone()),
            Err(Error::unsupported(Vendor::Slate, Capability::Streaming)),
        ];
        let events: Vec<Result<Event>> =
            futures::executor::block_on(from_vendor(futures::stream::iter(items)).collect());
        assert!(matches!(&events[0], Ok(Event::Quote(q)) if *q == quote));
        assert!(matches!(&events[1], Err(e) if e.is_unsupported(Capability::Streaming)));
    }
}
