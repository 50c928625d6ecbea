//! TradeLocker through the unified traits: maps types, adds no behaviour.
//!
//! A TradeLocker session acts on one selected account at a time; each call here selects the
//! account it names first (so two concurrent calls on different accounts of one session race:
//! use one adapter per account for that). Instruments are `tradableInstrumentId`s; orders go
//! to the instrument's first TRADE route and quotes come from its first INFO route, as read by
//! [`MarketData::instruments`] (read on first use).

use super::{
    Account, Accounts, Balance, Capabilities, Capability, Error, Funding, Instrument, MarketData,
    Money, Order, OrderKind, OrderRequest, OrderStatus, Position, Quote, Replacement, Result, Side,
    Streaming, Trading, Vendor, VendorError,
};
use crate::tradelocker::{self as tl, orders, types, InstrumentRoutes, Session};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

impl VendorError for tl::Error {
    const VENDOR: Vendor = Vendor::TradeLocker;

    fn rejection(&self) -> Option<(Option<String>, String)> {
        match self {
            tl::Error::Rejected { message, .. } => Some((None, message.clone())),
            _ => None,
        }
    }
}

const VENDOR: Vendor = Vendor::TradeLocker;

/// What TradeLocker does through the unified layer.
pub const CAPABILITIES: &[Capability] = &[
    Capability::Accounts,
    Capability::Balances,
    Capability::Instruments,
    Capability::Quotes,
    Capability::MarketOrders,
    Capability::LimitOrders,
    Capability::CancelOrder,
    Capability::ReplaceOrder,
    Capability::WorkingOrders,
    Capability::OrderHistory,
    Capability::Positions,
    Capability::ClosePosition,
];

#[derive(Clone, Copy)]
struct Routes {
    trade: Option<i64>,
}

/// A logged-in TradeLocker [`Session`] seen through the unified traits.
pub struct TradeLocker {
    session: Session,
    accounts: Mutex<HashMap<String, tl::Account>>,
    routes: Mutex<HashMap<i64, Routes>>,
    #[cfg(feature = "streams")]
    stream: Option<live::StreamAccess>,
}

impl TradeLocker {
    pub fn new(session: Session) -> Self {
        Self {
            session,
            accounts: Mutex::default(),
            routes: Mutex::default(),
            #[cfg(feature = "streams")]
            stream: None,
        }
    }

    /// Lets [`Streaming::events`] open the Streams API: at `origin` (e.g.
    /// [`origin_for`](tl::stream::origin_for) the REST base URL), with the developer key, for
    /// the broker server `brand_id` (the login's `server`), taking stream tokens from `tokens`
    /// (usually [`account_tokens`](tl::stream::account_tokens)). The capability map then
    /// includes [`Capability::Streaming`].
    #[cfg(feature = "streams")]
    #[cfg_attr(docsrs, doc(cfg(feature = "streams")))]
    pub fn with_stream(
        mut self,
        origin: impl Into<String>,
        developer_key: impl Into<brokerkit_runtime::Secret>,
        brand_id: impl Into<String>,
        tokens: tl::stream::TokenSource,
    ) -> Self {
        self.stream = Some(live::StreamAccess {
            origin: origin.into(),
            developer_key: developer_key.into(),
            brand_id: brand_id.into(),
            tokens,
        });
        self
    }

    /// The vendor session, for what only TradeLocker does.
    pub fn session(&self) -> &Session {
        &self.session
    }

    async fn vendor_accounts(&self) -> Result<Vec<tl::Account>> {
        let list = self.session.accounts().await?;
        let mut known = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        for a in &list {
            known.insert(a.id.clone(), a.clone());
        }
        Ok(list)
    }

    async fn select(&self, account_id: &str) -> Result<tl::Account> {
        let cached = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(account_id)
            .cloned();
        let account = match cached {
            Some(a) => a,
            None => self
                .vendor_accounts()
                .await?
                .into_iter()
                .find(|a| a.id == account_id)
                .ok_or_else(|| Error::invalid(VENDOR, format!("no account {account_id}")))?,
        };
        self.session.select_account(&account);
        Ok(account)
    }

    async fn vendor_instruments(&self, account_id: &str) -> Result<Vec<types::InstrumentSummary>> {
        self.select(account_id).await?;
        let list = self.session.instruments().await?;
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for i in &list {
            routes.insert(
                i.tradable_instrument_id,
                Routes {
                    trade: i.trade_route(),
                },
            );
        }
        Ok(list)
    }

    async fn routes(&self, account_id: &str, instrument_id: &str) -> Result<(i64, Routes)> {
        let id: i64 = instrument_id.parse().map_err(|_| {
            Error::invalid(
                VENDOR,
                format!("`{instrument_id}` is not a tradableInstrumentId"),
            )
        })?;
        let known = self
            .routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied();
        let routes = match known {
            Some(r) => r,
            None => {
                self.vendor_instruments(account_id).await?;
                self.routes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                    .copied()
                    .ok_or_else(|| Error::invalid(VENDOR, format!("no instrument {id}")))?
            }
        };
        self.select(account_id).await?;
        Ok((id, routes))
    }
}

fn side(s: &types::Side) -> Option<Side> {
    match s {
        types::Side::String(types::SideString::Buy) => Some(Side::Buy),
        types::Side::String(types::SideString::Sell) => Some(Side::Sell),
        types::Side::Other(o) => Side::parse(o),
    }
}

fn millis(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

fn order(o: tl::Order) -> Order {
    let kind = match &o.type_ {
        types::OrderType::String(types::OrderTypeString::Market) => Some(OrderKind::Market),
        types::OrderType::String(types::OrderTypeString::Limit) => {
            o.price.map(|price| OrderKind::Limit { price })
        }
        _ => None,
    };
    let status = match o.status.as_str() {
        "New" | "PartiallyFilled" | "Accepted" | "Pending" => OrderStatus::Working,
        "Filled" => OrderStatus::Filled,
        "Cancelled" | "Canceled" => OrderStatus::Cancelled,
        "Rejected" => OrderStatus::Rejected,
        other => OrderStatus::Other(other.to_string()),
    };
    Order {
        id: o.id,
        instrument_id: o.tradable_instrument_id.to_string(),
        side: side(&o.side),
        kind,
        quantity: o.qty,
        filled_quantity: o.filled_qty,
        price: o.price.or(o.avg_price),
        status,
        client_order_id: None,
        created_at: millis(o.created_date),
        vendor_status: Some(o.status),
    }
}

impl Accounts for TradeLocker {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    fn capabilities(&self) -> Capabilities {
        #[cfg(feature = "streams")]
        if self.stream.is_some() {
            return Capabilities::of(&[CAPABILITIES, &[Capability::Streaming]].concat());
        }
        Capabilities::of(CAPABILITIES)
    }

    fn accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>> {
        Box::pin(async move {
            Ok(self
                .vendor_accounts()
                .await?
                .into_iter()
                .map(|a| Account {
                    id: a.id,
                    number: Some(a.acc_num),
                    name: a.name,
                    currency: a.currency,
                })
                .collect())
        })
    }

    fn balance<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Balance>> {
        Box::pin(async move {
            let account = self.select(account_id).await?;
            let state = self.session.account_state().await?;
            let currency = account.currency.unwrap_or_default();
            let money = |d: Option<rust_decimal::Decimal>| d.map(|d| Money::new(d, &currency));
            let cash = state
                .balance
                .or(account.balance)
                .ok_or_else(|| Error::unexpected(VENDOR, "the account state has no balance"))?;
            Ok(Balance {
                account_id: account.id,
                cash: Money::new(cash, &currency),
                equity: money(state.projected_balance),
                available: money(state.available_funds),
            })
        })
    }
}

impl MarketData for TradeLocker {
    fn instruments<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Instrument>>> {
        Box::pin(async move {
            Ok(self
                .vendor_instruments(account_id)
                .await?
                .into_iter()
                .map(|i| Instrument {
                    id: i.tradable_instrument_id.to_string(),
                    symbol: i.name,
                    description: i.description,
                    currency: None,
                })
                .collect())
        })
    }

    fn quote<'a>(
        &'a self,
        account_id: &'a str,
        instrument_id: &'a str,
    ) -> BoxFuture<'a, Result<Quote>> {
        Box::pin(async move {
            let (id, _) = self.routes(account_id, instrument_id).await?;
            let instrument = self
                .session
                .instrument_by_id(id)
                .await?
                .ok_or_else(|| Error::invalid(VENDOR, format!("no instrument {id}")))?;
            // The INFO route that answers, not only the first listed (some are dead).
            let q = self.session.quote_instrument(&instrument).await?;
            Ok(Quote {
                instrument_id: instrument_id.to_string(),
                bid: Some(q.bp.into_inner()),
                ask: Some(q.ap.into_inner()),
            })
        })
    }
}

impl Trading for TradeLocker {
    fn place_order<'a>(
        &'a self,
        account_id: &'a str,
        order: &'a OrderRequest,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            if order.client_order_id.is_some() {
                return Err(Error::unsupported(VENDOR, Capability::ClientOrderId));
            }
            let (id, routes) = self.routes(account_id, &order.instrument_id).await?;
            let trade = routes.trade.ok_or_else(|| {
                Error::invalid(VENDOR, format!("instrument {id} has no TRADE route"))
            })?;
            let direction = match order.side {
                Side::Buy => orders::Direction::Buy,
                Side::Sell => orders::Direction::Sell,
            };
            let request = match order.kind {
                OrderKind::Limit { price } => {
                    orders::limit(id, trade, direction, order.quantity, price)
                }
                OrderKind::Market => orders::market(id, trade, direction, order.quantity),
            };
            Ok(self.session.place_order(&request).await?)
        })
    }

    fn cancel_order<'a>(
        &'a self,
        account_id: &'a str,
        order_id: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.select(account_id).await?;
            Ok(self.session.cancel_order(order_id).await?)
        })
    }

    fn replace_order<'a>(
        &'a self,
        account_id: &'a str,
        order_id: &'a str,
        change: &'a Replacement,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            self.select(account_id).await?;
            let body = types::ModifyOrderRequest {
                price: change.price.map(Into::into),
                qty: change.quantity.map(Into::into),
                ..Default::default()
            };
            self.session.modify_order(order_id, &body).await?;
            Ok(order_id.to_string())
        })
    }

    fn working_orders<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Order>>> {
        Box::pin(async move {
            self.select(account_id).await?;
            Ok(self
                .session
                .orders()
                .await?
                .into_iter()
                .map(order)
                .collect())
        })
    }

    fn order_history<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Order>>> {
        Box::pin(async move {
            self.select(account_id).await?;
            // Every page, not only the first (`hasMore`).
            use futures::TryStreamExt;
            let all: Vec<tl::Order> = self
                .session
                .orders_history_all(None, None)
                .try_collect()
                .await?;
            Ok(all.into_iter().map(order).collect())
        })
    }

    fn positions<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Position>>> {
        Box::pin(async move {
            self.select(account_id).await?;
            Ok(self
                .session
                .positions()
                .await?
                .into_iter()
                .map(|p| Position {
                    id: p.id,
                    instrument_id: p.tradable_instrument_id.to_string(),
                    side: side(&p.side),
                    quantity: p.qty,
                    average_price: Some(p.avg_price),
                    unrealized_pnl: p.unrealized_pl,
                    opened_at: millis(p.open_date),
                })
                .collect())
        })
    }

    fn close_position<'a>(
        &'a self,
        account_id: &'a str,
        position_id: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.select(account_id).await?;
            Ok(self.session.close_position(position_id, None).await?)
        })
    }
}

/// TradeLocker moves no money through its trading API.
impl Funding for TradeLocker {}

/// Without the `streams` feature: unsupported.
#[cfg(not(feature = "streams"))]
impl Streaming for TradeLocker {}

#[cfg(feature = "streams")]
impl Streaming for TradeLocker {
    fn events<'a>(
        &'a self,
        account_id: &'a str,
    ) -> BoxFuture<'a, Result<futures::stream::BoxStream<'a, Result<super::Event>>>> {
        Box::pin(async move {
            let access = self
                .stream
                .as_ref()
                .ok_or_else(|| Error::unsupported(VENDOR, Capability::Streaming))?;
            let account = self.select(account_id).await?;
            // The stream names instruments by symbol; the unified id is the tradableInstrumentId.
            let index = self.session.instrument_index().await?;
            let events = access.connect(&account.id).await?;
            Ok(live::events(
                events,
                index,
                account.currency.unwrap_or_default(),
            ))
        })
    }
}

/// The Streams API as unified events.
#[cfg(feature = "streams")]
mod live {
    use super::{Error, Money, Order, OrderStatus, Position, Result, VENDOR};
    use crate::tradelocker::instruments::InstrumentIndex;
    use crate::tradelocker::stream::{StreamBuilder, StreamError, StreamEvent, TokenSource};
    use crate::tradelocker::stream_types as msg;
    use crate::unified::event::stream_failure;
    use crate::unified::{Balance, Event};
    use futures::stream::{BoxStream, StreamExt};
    use std::collections::HashMap;
    use std::sync::Arc;

    pub(super) struct StreamAccess {
        pub(super) origin: String,
        pub(super) developer_key: brokerkit_runtime::Secret,
        pub(super) brand_id: String,
        pub(super) tokens: TokenSource,
    }

    impl StreamAccess {
        pub(super) async fn connect(
            &self,
            account_id: &str,
        ) -> Result<crate::tradelocker::stream::AccountStream> {
            StreamBuilder::new(
                self.origin.clone(),
                self.developer_key.clone(),
                self.brand_id.clone(),
                self.tokens.clone(),
            )
            .account(account_id)
            .connect()
            .await
            .map_err(failure)
        }
    }

    fn failure(e: StreamError) -> Error {
        let refused = matches!(
            e,
            StreamError::KeyRefused { .. }
                | StreamError::TokenRefused { .. }
                | StreamError::NoToken { .. }
                | StreamError::Tokens {
                    status: Some(401 | 403),
                    ..
                }
        );
        stream_failure(VENDOR, refused, e)
    }

    /// What the mapping remembers between messages: a closed position's instrument and side
    /// (the close message names neither), and whether a resync is under way.
    struct Memory {
        index: Arc<InstrumentIndex>,
        currency: String,
        positions: HashMap<String, (String, Option<super::Side>)>,
        resyncing: bool,
    }

    impl Memory {
        fn instrument(&self, name: Option<&str>) -> String {
            let name = name.unwrap_or_default();
            self.index
                .by_symbol(name)
                .map(|i| i.tradable_instrument_id.to_string())
                .unwrap_or_else(|| name.to_string())
        }

        fn map(&mut self, event: StreamEvent) -> Option<Event> {
            match event {
                StreamEvent::Account(a) => {
                    let currency = a.currency.clone().unwrap_or_else(|| self.currency.clone());
                    let money = |d: Option<brokerkit_runtime::Decimal>| {
                        d.map(|d| Money::new(d.into_inner(), &currency))
                    };
                    Some(Event::Balance(Balance {
                        cash: money(a.balance)?,
                        equity: money(a.equity),
                        available: money(a.margin_available),
                        account_id: a.account_id,
                    }))
                }
                StreamEvent::Position(p) => {
                    let instrument_id = self.instrument(p.instrument.as_deref());
                    let side = p.side.as_ref().and_then(stream_side);
                    self.positions
                        .insert(p.position_id.clone(), (instrument_id.clone(), side));
                    Some(Event::Position(Position {
                        id: p.position_id,
                        instrument_id,
                        side,
                        quantity: p.lots.map(|d| d.into_inner().abs()).unwrap_or_default(),
                        average_price: p.open_price.map(|d| d.into_inner()),
                        unrealized_pnl: None,
                        opened_at: p
                            .open_date_time
                            .as_deref()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .map(|t| t.with_timezone(&chrono::Utc)),
                    }))
                }
                StreamEvent::PositionClosed(c) => {
                    let (instrument_id, side) =
                        self.positions.remove(&c.position_id).unwrap_or_default();
                    Some(Event::Position(Position {
                        id: c.position_id,
                        instrument_id,
                        side,
                        quantity: rust_decimal::Decimal::ZERO,
                        average_price: None,
                        unrealized_pnl: None,
                        opened_at: None,
                    }))
                }
                StreamEvent::Order(o) => {
                    let vendor_status = o.status.as_ref().map(|s| match s {
                        msg::OrderStatus::String(s) => s.to_string(),
                        msg::OrderStatus::Other(s) => s.clone(),
                    });
                    let status = match &o.status {
                        Some(msg::OrderStatus::String(s)) => match s {
                            msg::OrderStatusString::Pending => OrderStatus::Working,
                            msg::OrderStatusString::Executed => OrderStatus::Filled,
                            msg::OrderStatusString::Cancelled => OrderStatus::Cancelled,
                        },
                        _ => OrderStatus::Other(vendor_status.clone().unwrap_or_default()),
                    };
                    Some(Event::Order(Order {
                        id: o.order_id,
                        instrument_id: self.instrument(o.instrument.as_deref()),
                        side: o.side.as_ref().and_then(stream_side),
                        kind: None,
                        quantity: o.amount.map(|d| d.into_inner()).unwrap_or_default(),
                        filled_quantity: None,
                        price: o.price.map(|d| d.into_inner()),
                        status,
                        client_order_id: None,
                        created_at: None,
                        vendor_status,
                    }))
                }
                StreamEvent::Resync { .. } => {
                    self.resyncing = true;
                    None
                }
                // The snapshot after a resync is complete: caches built from events hold again.
                StreamEvent::SyncEnd { .. } if self.resyncing => {
                    self.resyncing = false;
                    Some(Event::Resynced)
                }
                _ => None,
            }
        }
    }

    fn stream_side(s: &msg::Side) -> Option<super::Side> {
        match s {
            msg::Side::String(msg::SideString::Buy) => Some(super::Side::Buy),
            msg::Side::String(msg::SideString::Sell) => Some(super::Side::Sell),
            msg::Side::Other(o) => super::Side::parse(o),
        }
    }

    pub(super) fn events<'a>(
        stream: crate::tradelocker::stream::AccountStream,
        index: Arc<InstrumentIndex>,
        currency: String,
    ) -> BoxStream<'a, Result<Event>> {
        let mut memory = Memory {
            index,
            currency,
            positions: HashMap::new(),
            resyncing: false,
        };
        stream
            .filter_map(move |item| {
                let out = match item {
                    Ok(event) => memory.map(event).map(Ok),
                    Err(e) => Some(Err(failure(e))),
                };
                futures::future::ready(out)
            })
            .boxed()
    }
}

/// Names the adapter only: the session's tokens are never printed.
impl std::fmt::Debug for TradeLocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TradeLocker").finish_non_exhaustive()
    }
}
