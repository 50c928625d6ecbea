//! Orders: what to send, and what the broker reports back.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::fmt;

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// Reads a vendor's spelling (`buy`, `Buy`, `BUY`); `None` for anything else (short-sell
    /// variants and the like are kept in the vendor crates).
    pub fn parse(text: &str) -> Option<Side> {
        if text.eq_ignore_ascii_case("buy") {
            Some(Side::Buy)
        } else if text.eq_ignore_ascii_case("sell") {
            Some(Side::Sell)
        } else {
            None
        }
    }

    /// The other side (what closes a position of this side).
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        })
    }
}

/// How an order is priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OrderKind {
    /// At the market, now.
    Market,
    /// At `price` or better; works until filled or cancelled.
    Limit { price: Decimal },
}

/// A new order: build it with [`OrderRequest::market`] or [`OrderRequest::limit`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderRequest {
    /// An [`Instrument::id`](super::Instrument::id).
    pub instrument_id: String,
    pub side: Side,
    /// Lots, shares or units, as the broker counts them; greater than zero.
    pub quantity: Decimal,
    pub kind: OrderKind,
    /// Your own id for the order, sent where the broker takes one
    /// ([`Capability::ClientOrderId`](super::Capability::ClientOrderId)); elsewhere the order is
    /// refused before sending with [`Error::Unsupported`](super::Error::Unsupported).
    pub client_order_id: Option<String>,
}

impl OrderRequest {
    /// A market order.
    pub fn market(instrument_id: impl Into<String>, side: Side, quantity: Decimal) -> Self {
        Self {
            instrument_id: instrument_id.into(),
            side,
            quantity,
            kind: OrderKind::Market,
            client_order_id: None,
        }
    }

    /// A limit order at `price` (good till cancelled where the broker has a choice).
    pub fn limit(
        instrument_id: impl Into<String>,
        side: Side,
        quantity: Decimal,
        price: Decimal,
    ) -> Self {
        Self {
            kind: OrderKind::Limit { price },
            ..Self::market(instrument_id, side, quantity)
        }
    }

    /// Tags the order with your own id.
    pub fn client_order_id(mut self, id: impl Into<String>) -> Self {
        self.client_order_id = Some(id.into());
        self
    }

    /// The limit price, for a limit order.
    pub fn price(&self) -> Option<Decimal> {
        match self.kind {
            OrderKind::Limit { price } => Some(price),
            OrderKind::Market => None,
        }
    }
}

/// What to change on a working order; `None` keeps the current value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replacement {
    pub quantity: Option<Decimal>,
    pub price: Option<Decimal>,
}

impl Replacement {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn quantity(mut self, quantity: Decimal) -> Self {
        self.quantity = Some(quantity);
        self
    }

    pub fn price(mut self, price: Decimal) -> Self {
        self.price = Some(price);
        self
    }
}

/// Where an order stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OrderStatus {
    /// Accepted and not final: it can still fill, be changed or be cancelled.
    Working,
    Filled,
    Cancelled,
    Rejected,
    /// Any other final or vendor-specific state, as the broker spells it.
    Other(String),
}

impl OrderStatus {
    /// Whether the order can still fill or be changed.
    pub fn is_working(&self) -> bool {
        matches!(self, OrderStatus::Working)
    }
}

/// An order as the broker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Order {
    /// The broker's id (a string: ids can exceed 2^53).
    pub id: String,
    pub instrument_id: String,
    pub side: Option<Side>,
    /// `None` for kinds the unified layer does not model (stops, brackets…).
    pub kind: Option<OrderKind>,
    pub quantity: Decimal,
    pub filled_quantity: Option<Decimal>,
    /// The limit price, or the fill price once filled, as the broker reports it.
    pub price: Option<Decimal>,
    pub status: OrderStatus,
    pub client_order_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The status as the broker spelled it.
    pub vendor_status: Option<String>,
}
