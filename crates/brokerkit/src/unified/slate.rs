//! Slate through the unified traits (customer session): maps types, adds no behaviour.
//!
//! Account ids are trading-account logins (sent as `X-Customer-Login`); instruments are
//! symbols and their quote is the instrument's last bid/ask. Slate has no cancel or replace
//! call and takes no client order id. Its customer deposit starts a cashier session (a
//! `PENDING` deposit the customer completes at the cashier) and its withdrawal files a request;
//! both act on the customer's primary account only, so another account is refused before
//! sending.

use super::{
    Account, Accounts, Balance, Capabilities, Capability, Direction, Error, Funding, Instrument,
    MarketData, Money, Order, OrderKind, OrderRequest, OrderStatus, Position, Quote, Result, Side,
    Streaming, Trading, Transfer, TransferRequest, Vendor, VendorError,
};
use crate::slate::{self as vendor, types, Session};
use futures::future::BoxFuture;

impl VendorError for vendor::Error {
    const VENDOR: Vendor = Vendor::Slate;

    fn rejection(&self) -> Option<(Option<String>, String)> {
        use vendor::Error as E;
        match self {
            E::NotFound(a) | E::Conflict(a) | E::Api(a) | E::Forbidden(a) => Some((
                a.code.clone(),
                a.detail.clone().unwrap_or_else(|| self.to_string()),
            )),
            E::Validation(_) => Some((Some("validation".into()), self.to_string())),
            _ => None,
        }
    }
}

const VENDOR: Vendor = Vendor::Slate;

/// What Slate does through the unified layer.
pub const CAPABILITIES: &[Capability] = &[
    Capability::Accounts,
    Capability::Balances,
    Capability::Instruments,
    Capability::Quotes,
    Capability::MarketOrders,
    Capability::LimitOrders,
    Capability::WorkingOrders,
    Capability::OrderHistory,
    Capability::Positions,
    Capability::ClosePosition,
    Capability::Deposit,
    Capability::Withdraw,
    Capability::TransferHistory,
];

/// A logged-in Slate customer [`Session`] seen through the unified traits.
pub struct Slate {
    session: Session,
}

impl Slate {
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    /// The vendor session, for what only Slate does.
    pub fn session(&self) -> &Session {
        &self.session
    }

    async fn vendor_accounts(&self) -> Result<Vec<types::TradingAccount>> {
        Ok(self
            .session
            .call(|c| c.list_my_accounts().send())
            .await?
            .into_inner())
    }

    async fn all_orders(&self, login: &str) -> Result<Vec<Order>> {
        let list = self
            .session
            .call(|c| c.list_orders().x_customer_login(login).send())
            .await?
            .into_inner();
        Ok(list.into_iter().map(order).collect())
    }

    /// The customer's cashier moves money on the primary account only.
    async fn primary(&self, account_id: &str) -> Result<types::TradingAccount> {
        let accounts = self.vendor_accounts().await?;
        let primary = accounts
            .iter()
            .find(|a| a.is_primary == Some(true))
            .or(accounts.first())
            .cloned()
            .ok_or_else(|| Error::invalid(VENDOR, "the customer has no trading account"))?;
        if primary.login.as_deref() != Some(account_id) {
            return Err(Error::invalid(
                VENDOR,
                format!(
                    "Slate moves customer money on the primary account ({}) only, not {account_id}",
                    primary.login.as_deref().unwrap_or("?")
                ),
            ));
        }
        Ok(primary)
    }
}

/// The wire name of an open enum (`buy`, `DEPOSIT`, `pending`…).
fn wire<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_value(v).ok()?.as_str().map(str::to_string)
}

fn dec(v: Option<brokerkit_runtime::Decimal>) -> Option<rust_decimal::Decimal> {
    v.map(brokerkit_runtime::Decimal::into_inner)
}

fn order(o: types::Order) -> Order {
    let kind = match o.order_type.as_ref().and_then(wire).as_deref() {
        Some("market") => Some(OrderKind::Market),
        Some("limit") => dec(o.price).map(|price| OrderKind::Limit { price }),
        _ => None,
    };
    let status = match o.status.as_deref() {
        Some("pending" | "new" | "working") => OrderStatus::Working,
        Some("filled") => OrderStatus::Filled,
        Some("cancelled" | "canceled") => OrderStatus::Cancelled,
        Some("rejected") => OrderStatus::Rejected,
        other => OrderStatus::Other(other.unwrap_or_default().to_string()),
    };
    Order {
        id: o.id,
        instrument_id: o.symbol,
        side: o
            .side
            .as_ref()
            .and_then(wire)
            .as_deref()
            .and_then(Side::parse),
        kind,
        quantity: dec(o.volume).unwrap_or_default(),
        filled_quantity: None,
        price: dec(o.price),
        status,
        client_order_id: None,
        created_at: o.created_at,
        vendor_status: o.status,
    }
}

impl Accounts for Slate {
    fn vendor(&self) -> Vendor {
        VENDOR
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(CAPABILITIES)
    }

    fn accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>> {
        Box::pin(async move {
            Ok(self
                .vendor_accounts()
                .await?
                .into_iter()
                .filter_map(|a| {
                    Some(Account {
                        id: a.login?,
                        number: None,
                        name: a.account_type,
                        currency: a.currency,
                    })
                })
                .collect())
        })
    }

    fn balance<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Balance>> {
        Box::pin(async move {
            let s = self.session.account_summary(Some(account_id)).await?;
            let currency = s.currency.unwrap_or_default();
            let money = |d: Option<rust_decimal::Decimal>| d.map(|d| Money::new(d, &currency));
            Ok(Balance {
                account_id: s.login,
                cash: money(s.balance)
                    .ok_or_else(|| Error::unexpected(VENDOR, "the account state has no balance"))?,
                equity: money(s.equity),
                available: money(s.free_margin),
            })
        })
    }
}

impl MarketData for Slate {
    fn instruments<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Instrument>>> {
        let _ = account_id;
        Box::pin(async move {
            let list = self
                .session
                .call(|c| c.list_available_instruments().send())
                .await?
                .into_inner();
            Ok(list
                .into_iter()
                .filter(|i| i.is_enabled != Some(false) && i.is_active != Some(false))
                .map(|i| Instrument {
                    id: i.symbol.clone(),
                    symbol: i.symbol,
                    description: i.display_name,
                    currency: i.quote_currency,
                })
                .collect())
        })
    }

    fn quote<'a>(
        &'a self,
        account_id: &'a str,
        instrument_id: &'a str,
    ) -> BoxFuture<'a, Result<Quote>> {
        let _ = account_id;
        Box::pin(async move {
            let i = self
                .session
                .call(|c| c.get_instrument().symbol(instrument_id).send())
                .await?
                .into_inner();
            Ok(Quote {
                instrument_id: i.symbol,
                bid: dec(i.last_bid),
                ask: dec(i.last_ask),
            })
        })
    }
}

impl Trading for Slate {
    fn place_order<'a>(
        &'a self,
        account_id: &'a str,
        order: &'a OrderRequest,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            if order.client_order_id.is_some() {
                return Err(Error::unsupported(VENDOR, Capability::ClientOrderId));
            }
            let (order_type, price) = match order.kind {
                OrderKind::Limit { price } => (types::OrderTypeString::Limit, Some(price)),
                OrderKind::Market => (types::OrderTypeString::Market, None),
            };
            let side = match order.side {
                Side::Buy => types::OrderSideString::Buy,
                Side::Sell => types::OrderSideString::Sell,
            };
            brokerkit_runtime::amount::positive("volume", order.quantity)
                .map_err(|e| Error::invalid(VENDOR, e.to_string()))?;
            brokerkit_runtime::amount::positive_opt("price", price)
                .map_err(|e| Error::invalid(VENDOR, e.to_string()))?;
            let body = types::PlaceOrderRequest {
                order_type: order_type.into(),
                price: price.map(Into::into),
                side: side.into(),
                stop_loss: None,
                symbol: order.instrument_id.clone(),
                take_profit: None,
                volume: order.quantity.into(),
            };
            let placed = self
                .session
                .call(|c| {
                    c.place_order()
                        .x_customer_login(account_id)
                        .body(body.clone())
                        .send()
                })
                .await?
                .into_inner();
            Ok(placed.id)
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
            let list = self
                .session
                .call(|c| c.list_positions().x_customer_login(account_id).send())
                .await?
                .into_inner();
            Ok(list
                .into_iter()
                .map(|p| Position {
                    id: p.id,
                    instrument_id: p.symbol,
                    side: p
                        .side
                        .as_ref()
                        .and_then(wire)
                        .as_deref()
                        .and_then(Side::parse),
                    quantity: dec(p.volume).unwrap_or_default(),
                    average_price: dec(p.open_price),
                    unrealized_pnl: dec(p.profit),
                    opened_at: p.opened_at,
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
            self.session
                .call(|c| {
                    c.close_position()
                        .position_id(position_id)
                        .x_customer_login(account_id)
                        .body(types::ClosePositionRequest { volume: None })
                        .send()
                })
                .await?;
            Ok(())
        })
    }
}

impl Funding for Slate {
    fn deposit<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        Box::pin(async move {
            self.primary(account_id).await?;
            let started = self
                .session
                .deposit(request.amount, None)
                .await?
                .into_inner();
            Ok(Transfer {
                id: Some(started.transaction_id.to_string()),
                account_id: account_id.to_string(),
                direction: Direction::Deposit,
                amount: Money::new(request.amount, started.currency),
                status: Some("PENDING".into()),
                created_at: None,
            })
        })
    }

    fn withdraw<'a>(
        &'a self,
        account_id: &'a str,
        request: &'a TransferRequest,
    ) -> BoxFuture<'a, Result<Transfer>> {
        Box::pin(async move {
            self.primary(account_id).await?;
            let receipt = self
                .session
                .withdraw(
                    request.amount,
                    Default::default(),
                    request.comment.as_deref(),
                )
                .await?;
            Ok(Transfer {
                id: Some(receipt.transaction_id.to_string()),
                account_id: account_id.to_string(),
                direction: Direction::Withdrawal,
                amount: Money::new(receipt.amount.amount, receipt.amount.currency),
                status: Some(receipt.status),
                created_at: Some(receipt.created_at),
            })
        })
    }

    fn transfers<'a>(&'a self, account_id: &'a str) -> BoxFuture<'a, Result<Vec<Transfer>>> {
        Box::pin(async move {
            let list = self
                .session
                .call(|c| c.list_my_transactions().send())
                .await?
                .into_inner();
            Ok(list
                .into_iter()
                .filter(|t| t.account_login.as_deref() == Some(account_id))
                .filter_map(|t| {
                    let direction = match t.type_.as_ref().and_then(wire).as_deref() {
                        Some("DEPOSIT" | "TRANSFER_IN" | "CREDIT") => Direction::Deposit,
                        Some("WITHDRAWAL" | "TRANSFER_OUT" | "CHARGEBACK") => Direction::Withdrawal,
                        _ => return None,
                    };
                    Some(Transfer {
                        id: Some(t.id.to_string()),
                        account_id: account_id.to_string(),
                        direction,
                        amount: Money::new(
                            dec(t.amount).unwrap_or_default().abs(),
                            t.currency.or(t.account_currency).unwrap_or_default(),
                        ),
                        status: t.status.as_ref().and_then(wire),
                        created_at: t.create_time,
                    })
                })
                .collect())
        })
    }
}

/// Slate publishes no stream.
impl Streaming for Slate {}

/// Names the adapter only: the session's tokens are never printed.
impl std::fmt::Debug for Slate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slate").finish_non_exhaustive()
    }
}
