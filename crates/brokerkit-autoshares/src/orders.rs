//! Hand-written order types: what to send, and readable views of what comes back, with exact
//! decimals for every price, quantity and amount.

use crate::error::{Error, OrderRejection};
use crate::types;
use brokerkit_runtime::Failure;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// The wire name of an open enumeration of the generated types (e.g. `"Filled"`).
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn dec(v: Option<brokerkit_runtime::Decimal>) -> Option<Decimal> {
    v.map(brokerkit_runtime::Decimal::into_inner)
}

/// Order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
    SellShort,
    BuyToCover,
}

impl From<Side> for types::OrderSide {
    fn from(s: Side) -> Self {
        use types::OrderSideString as W;
        match s {
            Side::Buy => W::Buy,
            Side::Sell => W::Sell,
            Side::SellShort => W::SellShort,
            Side::BuyToCover => W::BuyToCover,
        }
        .into()
    }
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "Buy",
            Side::Sell => "Sell",
            Side::SellShort => "SellShort",
            Side::BuyToCover => "BuyToCover",
        }
    }
}

/// Order type (the common ones; contingent types go through the generated types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderType {
    Market,
    Limit,
    Stop,
    StopLimit,
    TrailingStop,
    TrailingStopLimit,
}

impl From<OrderType> for types::OrderType {
    fn from(t: OrderType) -> Self {
        use types::OrderTypeString as W;
        match t {
            OrderType::Market => W::Market,
            OrderType::Limit => W::Limit,
            OrderType::Stop => W::Stop,
            OrderType::StopLimit => W::StopLimit,
            OrderType::TrailingStop => W::TrailingStop,
            OrderType::TrailingStopLimit => W::TrailingStopLimit,
        }
        .into()
    }
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "Market",
            OrderType::Limit => "Limit",
            OrderType::Stop => "Stop",
            OrderType::StopLimit => "StopLimit",
            OrderType::TrailingStop => "TrailingStop",
            OrderType::TrailingStopLimit => "TrailingStopLimit",
        }
    }
}

/// How long an order works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    Day,
    GoodTillCancel,
    AtTheOpening,
    ImmediateOrCancel,
    FillOrKill,
    GoodTillDate,
    AtTheClose,
}

impl From<TimeInForce> for types::TimeInForce {
    fn from(t: TimeInForce) -> Self {
        use types::TimeInForceString as W;
        match t {
            TimeInForce::Day => W::Day,
            TimeInForce::GoodTillCancel => W::GoodTillCancel,
            TimeInForce::AtTheOpening => W::AtTheOpening,
            TimeInForce::ImmediateOrCancel => W::ImmediateOrCancel,
            TimeInForce::FillOrKill => W::FillOrKill,
            TimeInForce::GoodTillDate => W::GoodTillDate,
            TimeInForce::AtTheClose => W::AtTheClose,
        }
        .into()
    }
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Day => "Day",
            TimeInForce::GoodTillCancel => "GoodTillCancel",
            TimeInForce::AtTheOpening => "AtTheOpening",
            TimeInForce::ImmediateOrCancel => "ImmediateOrCancel",
            TimeInForce::FillOrKill => "FillOrKill",
            TimeInForce::GoodTillDate => "GoodTillDate",
            TimeInForce::AtTheClose => "AtTheClose",
        }
    }
}

/// A new order. Build it with [`OrderRequest::market`], [`OrderRequest::limit`],
/// [`OrderRequest::stop`] or [`OrderRequest::stop_limit`].
#[derive(Clone, Debug, PartialEq)]
pub struct OrderRequest {
    pub symbol: String,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity: Decimal,
    pub price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub time_in_force: TimeInForce,
    /// Extended-hours session (`REG`, `PRE`, `REGPOST`…); `None` = regular hours.
    pub extended_hours: Option<String>,
    pub client_id: Option<String>,
    pub comment: Option<String>,
    pub expire_date: Option<DateTime<Utc>>,
}

impl OrderRequest {
    fn new(
        symbol: impl Into<String>,
        side: Side,
        order_type: OrderType,
        quantity: Decimal,
    ) -> Self {
        Self {
            symbol: symbol.into(),
            side,
            order_type,
            quantity,
            price: None,
            stop_price: None,
            time_in_force: TimeInForce::Day,
            extended_hours: None,
            client_id: None,
            comment: None,
            expire_date: None,
        }
    }

    pub fn market(symbol: impl Into<String>, side: Side, quantity: Decimal) -> Self {
        Self::new(symbol, side, OrderType::Market, quantity)
    }

    pub fn limit(symbol: impl Into<String>, side: Side, quantity: Decimal, price: Decimal) -> Self {
        Self {
            price: Some(price),
            ..Self::new(symbol, side, OrderType::Limit, quantity)
        }
    }

    pub fn stop(
        symbol: impl Into<String>,
        side: Side,
        quantity: Decimal,
        stop_price: Decimal,
    ) -> Self {
        Self {
            stop_price: Some(stop_price),
            ..Self::new(symbol, side, OrderType::Stop, quantity)
        }
    }

    pub fn stop_limit(
        symbol: impl Into<String>,
        side: Side,
        quantity: Decimal,
        stop_price: Decimal,
        price: Decimal,
    ) -> Self {
        Self {
            price: Some(price),
            stop_price: Some(stop_price),
            ..Self::new(symbol, side, OrderType::StopLimit, quantity)
        }
    }

    pub fn time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }

    pub fn extended_hours(mut self, session: impl Into<String>) -> Self {
        self.extended_hours = Some(session.into());
        self
    }

    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// What the client checks before sending: the quantity is greater than zero, and a limit or
    /// stop price, when given, is greater than zero. Lot sizes, tick sizes, buying power and
    /// market hours are the broker's to judge.
    pub fn check(&self) -> Result<(), brokerkit_runtime::AmountError> {
        use brokerkit_runtime::amount::{positive, positive_opt};
        positive("quantity", self.quantity)?;
        positive_opt("price", self.price)?;
        positive_opt("stop_price", self.stop_price)?;
        Ok(())
    }

    /// The body of `POST …/orders` and `POST …/preview/orders` (unchecked: the session's
    /// helpers call [`OrderRequest::check`] first).
    pub fn to_resource(&self) -> types::CreateOrderResource {
        types::CreateOrderResource {
            symbol: Some(self.symbol.clone()),
            side: Some(self.side.into()),
            type_: Some(self.order_type.into()),
            quantity: Some(self.quantity.into()),
            price: self.price.map(Into::into),
            stop_price: self.stop_price.map(Into::into),
            time_inforce: Some(self.time_in_force.into()),
            extended_hours: self.extended_hours.clone(),
            client_id: self.client_id.clone(),
            comment: self.comment.clone(),
            expire_date: self.expire_date,
            exchange: None,
            exec_inst: None,
            execution_instructions: Default::default(),
            legs: Vec::new(),
            parent_id: None,
            token: None,
            trailing_limit_amount: None,
            trailing_limit_amount_type: None,
            trailing_stop_amount: None,
            trailing_stop_amount_type: None,
            validations_to_bypass: None,
        }
    }
}

/// A replacement of a working order: the fields to change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplaceRequest {
    pub order_type: Option<OrderType>,
    pub quantity: Option<Decimal>,
    pub price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub time_in_force: Option<TimeInForce>,
    pub comment: Option<String>,
}

impl ReplaceRequest {
    /// The body of `PUT …/orders/{orderId}` and its preview; order ids start at 1. A new
    /// quantity, price or stop price, when given, must be greater than zero.
    pub fn to_resource(&self, order_id: i32) -> Result<types::ModifyOrderResource, Error> {
        {
            use brokerkit_runtime::amount::positive_opt;
            positive_opt("quantity", self.quantity)?;
            positive_opt("price", self.price)?;
            positive_opt("stop_price", self.stop_price)?;
        }
        let id = u32::try_from(order_id)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| {
                Error::Failure(Failure::InvalidRequest(format!(
                    "order id {order_id} is not a valid order id"
                )))
            })?;
        Ok(types::ModifyOrderResource {
            id,
            type_: self.order_type.map(Into::into),
            quantity: self.quantity.map(Into::into),
            price: self.price.map(Into::into),
            stop_price: self.stop_price.map(Into::into),
            time_in_force: self.time_in_force.map(Into::into),
            comment: self.comment.clone(),
            client_id: None,
            expire_date: None,
            execution_instructions: Default::default(),
            extended_hours: None,
            legs: Vec::new(),
            trailing_limit_amount: None,
            trailing_limit_amount_type: None,
            trailing_stop_amount: None,
            trailing_stop_amount_type: None,
            validations_to_bypass: None,
        })
    }
}

/// What a successful verification expects the order to cost.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct OrderPreview {
    /// Set when verifying a replacement.
    pub order_id: Option<i32>,
    pub commission: Option<Decimal>,
    pub cost: Option<Decimal>,
    pub net_cost: Option<Decimal>,
    pub total_cost: Option<Decimal>,
    pub margin_change: Option<Decimal>,
    /// Commission by name, e.g. `Per Trade Commission`.
    pub commissions: BTreeMap<String, Decimal>,
}

fn rejection(code: Option<String>, text: Option<String>, args: Option<Vec<String>>) -> Error {
    Error::Rejected(OrderRejection {
        code: code.unwrap_or_else(|| "Unknown".into()),
        text,
        args: args.unwrap_or_default(),
        status: 200,
    })
}

fn commissions(
    m: Option<std::collections::HashMap<String, brokerkit_runtime::Decimal>>,
) -> BTreeMap<String, Decimal> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_inner()))
        .collect()
}

impl TryFrom<types::OrderPreviewResource> for OrderPreview {
    type Error = Error;
    /// `IsSuccessful: false` (or missing) becomes [`Error::Rejected`].
    fn try_from(p: types::OrderPreviewResource) -> Result<Self, Error> {
        if p.is_successful != Some(true) {
            return Err(rejection(
                p.error_description,
                p.error_description_text,
                p.error_description_args,
            ));
        }
        Ok(OrderPreview {
            order_id: None,
            commission: dec(p.commission),
            cost: dec(p.cost),
            net_cost: dec(p.net_cost),
            total_cost: dec(p.total_cost),
            margin_change: dec(p.margin_change),
            commissions: commissions(p.commissions),
        })
    }
}

impl TryFrom<types::OrderVerifiedResource> for OrderPreview {
    type Error = Error;
    /// `IsSuccessful: false` (or missing) becomes [`Error::Rejected`].
    fn try_from(p: types::OrderVerifiedResource) -> Result<Self, Error> {
        if p.is_successful != Some(true) {
            return Err(rejection(
                p.error_description,
                p.error_description_text,
                p.error_description_args,
            ));
        }
        Ok(OrderPreview {
            order_id: p.order_id,
            commission: dec(p.commission),
            cost: dec(p.cost),
            net_cost: dec(p.net_cost),
            total_cost: dec(p.total_cost),
            margin_change: dec(p.margin_change),
            commissions: commissions(p.commissions),
        })
    }
}

/// An order as the server reports it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Order {
    pub id: i32,
    pub account_id: Option<i32>,
    pub symbol: Option<String>,
    /// `Buy`, `Sell`, … (as sent; unknown values kept).
    pub side: Option<String>,
    /// `Market`, `Limit`, …
    pub order_type: Option<String>,
    /// `PendingNew`, `New`, `PartiallyFilled`, `Filled`, `Canceled`, `Rejected`, …
    pub status: Option<String>,
    pub quantity: Option<Decimal>,
    pub price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub executed_quantity: Option<Decimal>,
    pub leaves_quantity: Option<Decimal>,
    pub average_price: Option<Decimal>,
    pub created_at: Option<DateTime<Utc>>,
    /// Reject reason or broker comment.
    pub description: Option<String>,
}

impl Order {
    /// Whether the order can still fill or be changed.
    pub fn is_working(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("New" | "PendingNew" | "PartiallyFilled" | "PendingReplace" | "Replaced" | "Held")
        )
    }
}

impl From<types::OrderResource> for Order {
    fn from(o: types::OrderResource) -> Self {
        Order {
            id: o.id.unwrap_or_default(),
            account_id: o.account_id,
            symbol: o.symbol,
            side: o.side.as_ref().map(wire_name),
            order_type: o.type_.as_ref().map(wire_name),
            status: o.status.as_ref().map(wire_name),
            quantity: dec(o.quantity),
            price: dec(o.price),
            stop_price: dec(o.stop_price),
            executed_quantity: dec(o.executed_quantity),
            leaves_quantity: dec(o.leaves_quantity),
            average_price: dec(o.average_price),
            created_at: o.create_date,
            description: o.description,
        }
    }
}
