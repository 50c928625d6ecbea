//! After [`Error::OutcomeUnknown`](super::Error::OutcomeUnknown) on an order: was it placed?
//!
//! Nothing here sends an order. [`reconcile`] reads the broker's books back — working orders,
//! order history, and positions for a market order that left no order record — and looks for
//! the order: by its client order id where the broker keeps one
//! ([`Capability::ClientOrderId`]), otherwise by its fields (instrument, side, quantity, limit
//! price) among orders created in a time window around the send. The caller sends again only
//! on [`Outcome::NotFound`].

use super::{Broker, Capability, Order, OrderKind, OrderRequest, Position, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::Duration;

/// What the broker's books say about an order whose answer was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The order is on the books (working, filled, or final): it was placed. Do not resend.
    Placed(Order),
    /// No order record matches, but a position that the order would have opened did open in
    /// the window: it was placed and filled. Do not resend.
    Opened(Position),
    /// Several orders match the fields and the window: decide by hand (send a client order id
    /// where the broker takes one to avoid this).
    Ambiguous(Vec<Order>),
    /// Nothing matches in the window: as far as the broker's books show, it was not placed.
    NotFound,
}

/// Where to look: orders created from `sent_at - slack` to `sent_at + window` (`slack`
/// absorbs a broker clock behind yours), leaving out the orders and positions that existed
/// before sending (see [`Window::before`]: without it, an identical order placed a moment
/// earlier makes the answer [`Outcome::Ambiguous`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Window {
    pub sent_at: DateTime<Utc>,
    pub slack: Duration,
    pub window: Duration,
    /// Ids of orders and positions on the books before sending: never the lost order.
    pub known: BTreeSet<String>,
}

impl Window {
    /// The window around `sent_at`: 5 s of slack before, 2 minutes after.
    pub fn around(sent_at: DateTime<Utc>) -> Self {
        Self {
            sent_at,
            slack: Duration::from_secs(5),
            window: Duration::from_secs(120),
            known: BTreeSet::new(),
        }
    }

    /// The window around now, after reading the ids of the account's working orders, order
    /// history and positions: call it just before sending an order you may have to reconcile.
    pub async fn before<B: Broker + ?Sized>(broker: &B, account_id: &str) -> Result<Self> {
        let caps = broker.capabilities();
        let mut known = BTreeSet::new();
        if caps.has(Capability::WorkingOrders) {
            known.extend(
                broker
                    .working_orders(account_id)
                    .await?
                    .into_iter()
                    .map(|o| o.id),
            );
        }
        if caps.has(Capability::OrderHistory) {
            known.extend(
                broker
                    .order_history(account_id)
                    .await?
                    .into_iter()
                    .map(|o| o.id),
            );
        }
        if caps.has(Capability::Positions) {
            known.extend(
                broker
                    .positions(account_id)
                    .await?
                    .into_iter()
                    .map(|p| p.id),
            );
        }
        Ok(Self {
            known,
            ..Self::now()
        })
    }

    /// The window around now: take it just before sending.
    pub fn now() -> Self {
        Self::around(Utc::now())
    }

    pub fn slack(mut self, slack: Duration) -> Self {
        self.slack = slack;
        self
    }

    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Whether `at` falls in the window. An unknown time never does: an order without a
    /// creation time cannot be told from an older identical one.
    pub fn contains(&self, at: Option<DateTime<Utc>>) -> bool {
        let Some(at) = at else { return false };
        let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let from = self.sent_at.checked_sub_signed(span(self.slack));
        let to = self.sent_at.checked_add_signed(span(self.window));
        from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t)
    }
}

fn same_fields(order: &OrderRequest, o: &Order) -> bool {
    let price_matches = match order.kind {
        OrderKind::Limit { price } => o.price == Some(price),
        _ => true,
    };
    let kind_matches = matches!(
        (order.kind, o.kind),
        (OrderKind::Limit { .. }, Some(OrderKind::Limit { .. }))
            | (OrderKind::Market, Some(OrderKind::Market))
            | (_, None)
    );
    o.instrument_id == order.instrument_id
        && o.side.is_none_or(|s| s == order.side)
        && o.quantity == order.quantity
        && price_matches
        && kind_matches
}

/// Finds out whether `order`, sent at `window.sent_at` on `account_id`, was placed.
///
/// Reads working orders and order history (where the broker has them) and, for a market order
/// with no matching record, open positions. With a client order id on a broker that keeps it,
/// the id decides; otherwise the fields and the window do, leaving out `window.known`.
pub async fn reconcile<B: Broker + ?Sized>(
    broker: &B,
    account_id: &str,
    order: &OrderRequest,
    window: Window,
) -> Result<Outcome> {
    let caps = broker.capabilities();
    let mut books: Vec<Order> = Vec::new();
    if caps.has(Capability::WorkingOrders) {
        books.extend(broker.working_orders(account_id).await?);
    }
    if caps.has(Capability::OrderHistory) {
        for o in broker.order_history(account_id).await? {
            if !books.iter().any(|b| b.id == o.id) {
                books.push(o);
            }
        }
    }
    let by_client_id = order
        .client_order_id
        .as_ref()
        .filter(|_| caps.has(Capability::ClientOrderId));
    let mut found: Vec<Order> = match by_client_id {
        Some(id) => books
            .into_iter()
            .filter(|o| o.client_order_id.as_ref() == Some(id))
            .collect(),
        None => books
            .into_iter()
            .filter(|o| {
                !window.known.contains(&o.id)
                    && same_fields(order, o)
                    && window.contains(o.created_at)
            })
            .collect(),
    };
    match found.len() {
        1 => return Ok(Outcome::Placed(found.remove(0))),
        0 => {}
        _ => return Ok(Outcome::Ambiguous(found)),
    }
    if by_client_id.is_none()
        && matches!(order.kind, OrderKind::Market)
        && caps.has(Capability::Positions)
    {
        let opened = broker.positions(account_id).await?.into_iter().find(|p| {
            p.instrument_id == order.instrument_id
                && p.side.is_none_or(|s| s == order.side)
                && p.quantity == order.quantity
                && window.contains(p.opened_at)
                && !window.known.contains(&p.id)
        });
        if let Some(p) = opened {
            return Ok(Outcome::Opened(p));
        }
    }
    Ok(Outcome::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_excludes_unknown_and_far_times() {
        let now = Utc::now();
        let w = Window::around(now);
        assert!(w.contains(Some(now)));
        assert!(w.contains(Some(now - chrono::Duration::seconds(4))));
        assert!(!w.contains(Some(now - chrono::Duration::seconds(6))));
        assert!(!w.contains(Some(now + chrono::Duration::seconds(121))));
        assert!(!w.contains(None));
        let huge = Window::around(now)
            .window(Duration::MAX)
            .slack(Duration::MAX);
        assert!(
            huge.contains(Some(now)),
            "no overflow panic on a huge window"
        );
    }
}
