//! AutoShares (ETNA Trader) through the unified traits: maps types, adds no behaviour.
//!
//! Account ids are the trading account ids; instruments are equity symbols. Orders carry
//! your client order id (`ClientId`). Money moves by ACH: a [`TransferRequest`] names an
//! approved ACH relationship in [`TransferRequest::bank_link`]. AutoShares has no quote
//! endpoint in its REST API and no position-close call (a position is closed by an opposite
//! order, which this layer does not send for you).

use super::{
    Account, Accounts, Balance, Capabilities, Capability, Direction, Error, Funding, Instrument,
    MarketData, Money, Order, OrderKind, OrderRequest, OrderStatus, Position, Replacement, Result,
    Side, Streaming, Trading, Transfer, TransferRequest, Vendor, VendorError,
};
use crate::autoshares::orders::{self as as_orders, ReplaceRequest};
use crate::autoshares::paging::{paginate, Page, PagingResult};
use crate::autoshares::{self as vendor, types, ListQuery, Session};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use rust_decimal::Decimal;

impl VendorError for vendor::Error {
    const VENDOR: Vendor = Vendor::AutoShares;

    fn rejection(&self) -> Option<(Option<String>, String)> {
        use vendor::Error as E;
        match self {
            E::Rejected(r) => Some((
                Some(r.code.clone()),
                r.text.clone().unwrap_or_else(|| r.code.clone()),
            )),
            E::Validation { message, .. }
            | E::BadRequest { message, .. }
            | E::NotFound { message, .. } => Some((None, message.clone())),
            E::Conflict { message, .. } | E::Server { message, .. } => {
                Some((None, message.clone().unwrap_or_else(|| self.to_string())))
            }
            _ => None,
        }
    }
}

const VENDOR: Vendor = Vendor::AutoShares;
/// At most this many equities are listed by [`MarketData::instruments`].
pub const MAX_INSTRUMENTS: usize = 500;

/// What AutoShares does through the unified layer.
pub const CAPABILITIES: &[Capability] = &[
    Capability::Accounts,
    Capability::Balances,
    Capability::Instruments,
    Capability::MarketOrders,
    Capability::LimitOrders,
    Capability::ClientOrderId,
    Capability::CancelOrder,
    Capability::ReplaceOrder,
    Capability::WorkingOrders,
    Capability::OrderHistory,
    Capability::Positions,
    Capability::Deposit,
    Capability::Withdraw,
    Capability::TransferHistory,
];

/// A logged-in AutoShares [`Session`] seen through the unified traits.
pub struct AutoShares {
    session: Session,
}

impl AutoShares {
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    /// The vendor session, for what only AutoShares does.
    pub fn session(&self) -> &Session {
        &self.session
    }

    async fn all_orders(&self, account_id: &str) -> Result<Vec<Order>> {
        let id = account(account_id)?;
        let session = &self.session;
        paginate(
            vendor::paging::MAX_PAGE_SIZE,
            move |page, size| async move {
                let reply = session
                    .call(|c| {
                        c.get_orders()
                            .account_id(id)
                            .page_number(page)
                            .page_size(
                                std::num::NonZeroU32::new(size.unsigned_abs())
                                    .unwrap_or(std::num::NonZeroU32::MIN),
                            )
                            .desc(true)
                            .send()
                    })
                    .await?;
                Ok::<Page<types::OrderResource>, vendor::Error>(reply.into_inner().into_page())
            },
        )
        .map(|r| r.map(order).map_err(Error::from))
        .try_collect()
        .await
    }
}

fn account(id: &str) -> Result<i32> {
    id.parse()
        .map_err(|_| Error::invalid(VENDOR, format!("`{id}` is not an AutoShares account id")))
}

/// AutoShares signs a position's quantity (negative is short): the side and the size.
fn signed(quantity: Option<Decimal>) -> (Side, Decimal) {
    let quantity = quantity.unwrap_or_default();
    let side = if quantity < Decimal::ZERO {
        Side::Sell
    } else {
        Side::Buy
    };
    (side, quantity.abs())
}

/// The REST and the stream spell statuses alike.
fn order_status(status: Option<&str>) -> OrderStatus {
    match status {
        Some(
            "New" | "PendingNew" | "PartiallyFilled" | "PendingReplace" | "PendingCancel" | "Held",
        ) => OrderStatus::Working,
        Some("Filled") => OrderStatus::Filled,
        Some("Canceled") => OrderStatus::Cancelled,
        Some("Rejected") => OrderStatus::Rejected,
        other => OrderStatus::Other(other.unwrap_or_default().to_string()),
    }
}

fn order(r: types::OrderResource) -> Order {
    let client_order_id = r.client_id.clone();
    let o = as_orders::Order::from(r);
    let kind = match o.order_type.as_deref() {
        Some("Market") => Some(OrderKind::Market),
        Some("Limit") => o.price.map(|price| OrderKind::Limit { price }),
        _ => None,
    };
    let status = order_status(o.status.as_deref());
    Order {
        id: o.id.to_string(),
        instrument_id: o.symbol.unwrap_or_default(),
        side: o.side.as_deref().and_then(Side::parse),
        kind,
        quantity: o.quantity.unwrap_or_default(),
        filled_quantity: o.executed_quantity,
        price: o.price.or(o.average_price),
        status,
        client_order_id,
        created_at: o.created_at,
        vendor_status: o.status,
    }
}

fn transfer(account_id: &str, t: types::TransferResource) -> Transfer {
    Transfer {
        id: t.id.map(|id| id.to_string()),
        account_id: t
            .account_id
            .map_or_else(|| account_id.to_string(), |id| id.to_string()),
        direction: if t.is_deposit == Some(true) {
            Direction::Deposit
        } else {
            Direction::Withdrawal
        },
        amount: Money::new(
            t.amount.map(|a| a.into_inner().abs()).unwrap_or_default(),
            "USD",
        ),
        status: t.status,
        created_at: t.created_at,
    }
}

impl Accounts for AutoShares {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    fn capabilities(&self) -> Capabilities {
        // The data streamer needs nothing the session lacks: with the feature, it streams.
        let streaming: &[Capability] = if cfg!(feature = "streams") {
            &[Capability::Streaming]
        } else {
            &[]
        };
        Capabilities::of(&[CAPABILITIES, streaming].concat())
    }

    fn accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for a in self.session.accounts().await? {
                let Some(id) = a.id else { continue };
                out.push(Account {
                    id: id.to_string(),
                    number: a.clearing_account,
                    name: a.alias,
                    currency: a.currency,
                });
            }
            Ok(out)
        })
    }

    fn balance<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Balance>> {
        Box::pin(async move {
            let b = self.session.balance(account(account_id)?).await?;
            // AutoShares accounts are US-dollar accounts; the balance does not repeat it.
            let usd = |d: Option<brokerkit_runtime::Decimal>| {
                d.map(|d| Money::new(d.into_inner(), "USD"))
            };
            Ok(Balance {
                account_id: account_id.to_string(),
                cash: usd(b.cash)
                    .ok_or_else(|| Error::unexpected(VENDOR, "the balance has no cash"))?,
                equity: usd(b.equity_total),
                available: usd(b.stock_buying_power),
            })
        })
    }
}

impl MarketData for AutoShares {
    fn instruments<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Instrument>>> {
        let _ = account_id;
        Box::pin(async move {
            let list: Vec<types::EquityResource> = self
                .session
                .equities(ListQuery::new())
                .take(MAX_INSTRUMENTS)
                .try_collect()
                .await?;
            Ok(list
                .into_iter()
                .filter_map(|e| {
                    let symbol = e.symbol?;
                    Some(Instrument {
                        id: symbol.clone(),
                        symbol,
                        description: e.description,
                        currency: e.currency,
                    })
                })
                .collect())
        })
    }
}

impl Trading for AutoShares {
    fn place_order<'a>(
        &'a self,
        account_id: &'a str,
        order: &'a OrderRequest,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let side = match order.side {
                Side::Buy => as_orders::Side::Buy,
                Side::Sell => as_orders::Side::Sell,
            };
            let mut request = match order.kind {
                OrderKind::Limit { price } => as_orders::OrderRequest::limit(
                    &order.instrument_id,
                    side,
                    order.quantity,
                    price,
                ),
                OrderKind::Market => {
                    as_orders::OrderRequest::market(&order.instrument_id, side, order.quantity)
                }
            };
            if let Some(id) = &order.client_order_id {
                request = request.client_id(id);
            }
            let placed = self
                .session
                .place_order(account(account_id)?, &request)
                .await?;
            if placed.status.as_deref() == Some("Rejected") {
                return Err(Error::Rejected {
                    vendor: VENDOR,
                    status: Some(200),
                    code: placed.description.clone(),
                    message: format!(
                        "order {} was rejected{}",
                        placed.id,
                        placed
                            .description
                            .as_deref()
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    ),
                    source: None,
                });
            }
            Ok(placed.id.to_string())
        })
    }

    fn cancel_order<'a>(
        &'a self,
        account_id: &'a str,
        order_id: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let id = order_id
                .parse()
                .map_err(|_| Error::invalid(VENDOR, format!("`{order_id}` is not an order id")))?;
            Ok(self.session.cancel_order(account(account_id)?, id).await?)
        })
    }

    fn replace_order<'a>(
        &'a self,
        account_id: &'a str,
        order_id: &'a str,
        change: &'a Replacement,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let id = order_id
                .parse()
                .map_err(|_| Error::invalid(VENDOR, format!("`{order_id}` is not an order id")))?;
            let request = ReplaceRequest {
                quantity: change.quantity,
                price: change.price,
                ..Default::default()
            };
            let new = self
                .session
                .replace_order(account(account_id)?, id, &request)
                .await?;
            Ok(new.id.to_string())
        })
    }

    fn working_orders<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Order>>> {
        Box::pin(async move {
            let mut all = self.all_orders(account_id).await?;
            all.retain(|o| o.status.is_working());
            Ok(all)
        })
    }

    fn order_history<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Order>>> {
        Box::pin(async move {
            let mut all = self.all_orders(account_id).await?;
            all.retain(|o| !o.status.is_working());
            Ok(all)
        })
    }

    fn positions<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Position>>> {
        Box::pin(async move {
            let list: Vec<types::PositionResource> = self
                .session
                .positions(account(account_id)?, ListQuery::new())
                .try_collect()
                .await?;
            let d = |v: Option<brokerkit_runtime::Decimal>| {
                v.map(brokerkit_runtime::Decimal::into_inner)
            };
            Ok(list
                .into_iter()
                .map(|p| {
                    let (side, quantity) = signed(d(p.quantity));
                    Position {
                        id: p.id.map(|id| id.to_string()).unwrap_or_default(),
                        instrument_id: p.symbol.unwrap_or_default(),
                        side: Some(side),
                        quantity,
                        average_price: d(p.average_open_price),
                        unrealized_pnl: d(p.unrealized_profit_loss),
                        opened_at: p.create_date,
                    }
                })
                .collect())
        })
    }
}

impl AutoShares {
    fn ach<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
        direction: Direction,
    ) -> BoxFuture<'a, Result<Transfer>> {
        Box::pin(async move {
            let id = account(account_id)?;
            let amount = brokerkit_runtime::amount::positive("amount", request.amount)
                .map_err(|e| Error::invalid(VENDOR, e.to_string()))?;
            let relationship = request.bank_link.clone().ok_or_else(|| {
                Error::invalid(VENDOR, "an ACH transfer needs an approved ACH relationship id (TransferRequest::bank_link)")
            })?;
            let body = types::AchTransferEditableResource {
                ach_relationship_id: Some(relationship),
                amount: Some(amount.into()),
                is_incoming: Some(direction == Direction::Deposit),
                close_account: Some(false),
                days_to_hold_funds: None,
                exec_time_type: None,
                ira_contribution: None,
                ira_distribution: None,
            };
            let reply = self
                .session
                .call(|c| {
                    c.send_ach_transfer()
                        .account_id(id)
                        .body(body.clone())
                        .send()
                })
                .await?;
            Ok(transfer(account_id, reply.into_inner()))
        })
    }
}

impl Funding for AutoShares {
    fn deposit<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        self.ach(account_id, request, Direction::Deposit)
    }

    fn withdraw<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        self.ach(account_id, request, Direction::Withdrawal)
    }

    fn transfers<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Transfer>>> {
        Box::pin(async move {
            let list: Vec<types::TransferResource> = self
                .session
                .transfers(account(account_id)?, ListQuery::new())
                .try_collect()
                .await?;
            Ok(list.into_iter().map(|t| transfer(account_id, t)).collect())
        })
    }
}

/// Without the `streams` feature: unsupported.
#[cfg(not(feature = "streams"))]
impl Streaming for AutoShares {}

/// The data streamer: the account's orders, positions and cash balance.
#[cfg(feature = "streams")]
impl Streaming for AutoShares {
    fn events<'a>(
        &'a self,
        account_id: &'a str,
    ) -> BoxFuture<'a, Result<futures::stream::BoxStream<'a, Result<super::Event>>>> {
        Box::pin(async move {
            account(account_id)?;
            let keys = [account_id];
            let stream = self
                .session
                .data_stream()
                .subscribe(live::EntityType::Order, keys)
                .subscribe(live::EntityType::Position, keys)
                .subscribe(live::EntityType::AccountBalance, keys)
                .connect()
                .await
                .map_err(live::failure)?;
            Ok(live::events(stream, 3))
        })
    }
}

/// The data streamer as unified events.
#[cfg(feature = "streams")]
mod live {
    use super::{
        order_status, signed, Balance, Money, Order, OrderKind, Position, Result, Side, VENDOR,
    };
    pub(super) use crate::autoshares::stream::EntityType;
    use crate::autoshares::stream::{StreamError, StreamerEvent, StreamerStream};
    use crate::autoshares::stream_types as msg;
    use crate::unified::event::stream_failure;
    use crate::unified::{Error, Event};
    use futures::stream::{BoxStream, StreamExt};
    use rust_decimal::Decimal;

    pub(super) fn failure(e: StreamError) -> Error {
        let refused = matches!(e, StreamError::SessionRefused { .. });
        stream_failure(VENDOR, refused, e)
    }

    fn d(v: Option<brokerkit_runtime::Decimal>) -> Option<Decimal> {
        v.map(brokerkit_runtime::Decimal::into_inner)
    }

    fn order(o: msg::OrderMessage) -> Order {
        let kind = match o.type_.as_deref() {
            Some("Market") => Some(OrderKind::Market),
            Some("Limit") => d(o.price).map(|price| OrderKind::Limit { price }),
            _ => None,
        };
        Order {
            id: o.id,
            instrument_id: o.symbol.unwrap_or_default(),
            side: o.side.as_deref().and_then(Side::parse),
            kind,
            quantity: d(o.quantity).unwrap_or_default(),
            filled_quantity: d(o.executed_quantity),
            price: d(o.price).or(d(o.average_price)),
            status: order_status(o.status.as_deref()),
            client_order_id: None,
            created_at: None,
            vendor_status: o.status,
        }
    }

    fn position(p: msg::PositionMessage) -> Position {
        let (side, quantity) = signed(d(p.quantity));
        Position {
            id: p.id,
            instrument_id: p.symbol.unwrap_or_default(),
            side: Some(side),
            quantity,
            average_price: d(p.average_cost),
            unrealized_pnl: None,
            opened_at: None,
        }
    }

    /// `subscriptions` is how many `Subscribed` close a resync (one per subscription).
    pub(super) fn events<'a>(
        stream: StreamerStream,
        subscriptions: usize,
    ) -> BoxStream<'a, Result<Event>> {
        let mut resync_left = 0usize;
        stream
            .filter_map(move |item| {
                let out = match item {
                    Err(e) => Some(Err(failure(e))),
                    Ok(StreamerEvent::Order(o)) => Some(Ok(Event::Order(order(o)))),
                    Ok(StreamerEvent::Position(p)) => Some(Ok(Event::Position(position(p)))),
                    // AutoShares accounts are US-dollar accounts (as in the REST balance).
                    Ok(StreamerEvent::Balance(b)) => d(b.cash_balance).map(|cash| {
                        Ok(Event::Balance(Balance {
                            account_id: b.account_id,
                            cash: Money::new(cash, "USD"),
                            equity: None,
                            available: None,
                        }))
                    }),
                    Ok(StreamerEvent::Resync { .. }) => {
                        resync_left = subscriptions;
                        None
                    }
                    // Every subscription's state came again: caches built from events hold.
                    Ok(StreamerEvent::Subscribed { .. }) if resync_left > 0 => {
                        resync_left -= 1;
                        (resync_left == 0).then_some(Ok(Event::Resynced))
                    }
                    Ok(_) => None,
                };
                futures::future::ready(out)
            })
            .boxed()
    }
}

/// Names the adapter only: the session's tokens are never printed.
impl std::fmt::Debug for AutoShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoShares").finish_non_exhaustive()
    }
}
