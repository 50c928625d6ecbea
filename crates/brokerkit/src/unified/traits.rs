//! The traits every adapter implements. A method a broker cannot serve keeps its provided
//! body, which answers [`Error::Unsupported`] without sending anything; the adapter's
//! [`Accounts::capabilities`] says the same in advance.

use super::{
    Account, Balance, Capabilities, Capability, Error, Event, Instrument, Order, OrderRequest,
    Position, Quote, Replacement, Result, Transfer, TransferRequest, Vendor,
};
use futures::future::{self, BoxFuture};
use futures::stream::BoxStream;

fn unsupported<'a, T: Send + 'a>(
    vendor: Vendor,
    capability: Capability,
) -> BoxFuture<'a, Result<T>> {
    Box::pin(future::ready(Err(Error::unsupported(vendor, capability))))
}

/// Who the broker is, what it can do, and its accounts: what every broker serves.
pub trait Accounts: Send + Sync {
    fn vendor(&self) -> Vendor;

    /// What this broker does through the unified layer.
    fn capabilities(&self) -> Capabilities;

    /// The accounts the session may act on.
    fn accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>>;

    /// An account's balance with its currency.
    fn balance<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Balance>>;
}

/// Instruments and quotes.
pub trait MarketData: Accounts {
    /// The instruments an account may trade.
    fn instruments<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Instrument>>> {
        let _ = account_id;
        unsupported(self.vendor(), Capability::Instruments)
    }

    /// The best bid and ask of an instrument.
    fn quote<'a>(
        &'a self,
        account_id: &'a str,
        instrument_id: &'a str,
    ) -> BoxFuture<'a, Result<Quote>> {
        let _ = (account_id, instrument_id);
        unsupported(self.vendor(), Capability::Quotes)
    }
}

/// Orders and positions.
pub trait Trading: Accounts {
    /// Places an order and returns the broker's order id. Sent once, never retried: on
    /// [`Error::OutcomeUnknown`] use [`reconcile`](super::reconcile()) before sending it again.
    fn place_order<'a>(
        &'a self,
        account_id: &'a str,
        order: &'a OrderRequest,
    ) -> BoxFuture<'a, Result<String>> {
        let _ = account_id;
        let cap = match order.kind {
            super::OrderKind::Limit { .. } => Capability::LimitOrders,
            _ => Capability::MarketOrders,
        };
        unsupported(self.vendor(), cap)
    }

    /// Cancels a working order.
    fn cancel_order<'a>(
        &'a self,
        account_id: &'a str,
        order_id: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (account_id, order_id);
        unsupported(self.vendor(), Capability::CancelOrder)
    }

    /// Changes a working order; returns the id of the order that now works (brokers that
    /// replace an order by a new one give a new id).
    fn replace_order<'a>(
        &'a self,
        account_id: &'a str,
        order_id: &'a str,
        change: &'a Replacement,
    ) -> BoxFuture<'a, Result<String>> {
        let _ = (account_id, order_id, change);
        unsupported(self.vendor(), Capability::ReplaceOrder)
    }

    /// Orders that can still fill.
    fn working_orders<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Order>>> {
        let _ = account_id;
        unsupported(self.vendor(), Capability::WorkingOrders)
    }

    /// Final orders (filled, cancelled, rejected), as far back as the broker keeps them.
    fn order_history<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Order>>> {
        let _ = account_id;
        unsupported(self.vendor(), Capability::OrderHistory)
    }

    /// Open positions.
    fn positions<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Position>>> {
        let _ = account_id;
        unsupported(self.vendor(), Capability::Positions)
    }

    /// Closes all of a position at the market.
    fn close_position<'a>(
        &'a self,
        account_id: &'a str,
        position_id: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (account_id, position_id);
        unsupported(self.vendor(), Capability::ClosePosition)
    }
}

/// Deposits and withdrawals (back-office operations, ACH transfers).
pub trait Funding: Accounts {
    /// Moves money into the account. Sent once, never retried.
    fn deposit<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        let _ = (account_id, request);
        unsupported(self.vendor(), Capability::Deposit)
    }

    /// Moves money out of the account. Sent once, never retried.
    fn withdraw<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        let _ = (account_id, request);
        unsupported(self.vendor(), Capability::Withdraw)
    }

    /// Past and pending money movements of the account.
    fn transfers<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Transfer>>> {
        let _ = account_id;
        unsupported(self.vendor(), Capability::TransferHistory)
    }
}

/// Live events (see [`Event`]).
pub trait Streaming: Accounts {
    /// The account's live events: quotes, orders, positions, balance.
    fn events<'a>(
        &'a self,
        account_id: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'a, Result<Event>>>> {
        let _ = account_id;
        unsupported(self.vendor(), Capability::Streaming)
    }
}

/// Everything above: what `&dyn Broker` offers. Implemented for every type that implements
/// the five traits.
pub trait Broker: MarketData + Trading + Funding + Streaming {}

impl<T: MarketData + Trading + Funding + Streaming> Broker for T {}
