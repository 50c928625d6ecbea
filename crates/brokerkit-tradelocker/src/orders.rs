//! Building orders: the common shapes with the right `validity` (market → IOC,
//! limit and stop → GTC) and exact decimal prices.

use crate::types::{
    OrderType, OrderTypeString, PlaceOrderRequest, Side, SideString, Validity, ValidityString,
};
use rust_decimal::Decimal;

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Buy,
    Sell,
}

impl From<Direction> for Side {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Buy => SideString::Buy.into(),
            Direction::Sell => SideString::Sell.into(),
        }
    }
}

fn base(
    instrument: i64,
    trade_route: i64,
    direction: Direction,
    qty: Decimal,
    kind: OrderTypeString,
    validity: ValidityString,
) -> PlaceOrderRequest {
    PlaceOrderRequest {
        tradable_instrument_id: instrument,
        route_id: trade_route,
        side: direction.into(),
        qty: qty.into(),
        type_: OrderType::from(kind),
        validity: Validity::from(validity),
        price: None,
        stop_price: None,
        stop_loss: None,
        stop_loss_type: None,
        take_profit: None,
        take_profit_type: None,
        tr_stop_offset: None,
        strategy_id: None,
    }
}

/// The checks [`crate::Session::place_order`] makes before sending: `qty` greater than zero,
/// and every price that is given greater than zero.
pub fn check(order: &PlaceOrderRequest) -> Result<(), brokerkit_runtime::AmountError> {
    use brokerkit_runtime::amount::{positive, positive_opt};
    let price =
        |d: &Option<brokerkit_runtime::Decimal>| d.map(brokerkit_runtime::Decimal::into_inner);
    positive("qty", order.qty.into_inner())?;
    positive_opt("price", price(&order.price))?;
    positive_opt("stopPrice", price(&order.stop_price))?;
    positive_opt("stopLoss", price(&order.stop_loss))?;
    positive_opt("takeProfit", price(&order.take_profit))?;
    Ok(())
}

/// A market order (IOC) for `qty` lots on a TRADE route.
pub fn market(
    instrument: i64,
    trade_route: i64,
    direction: Direction,
    qty: Decimal,
) -> PlaceOrderRequest {
    base(
        instrument,
        trade_route,
        direction,
        qty,
        OrderTypeString::Market,
        ValidityString::Ioc,
    )
}

/// A limit order (GTC) at `price`.
pub fn limit(
    instrument: i64,
    trade_route: i64,
    direction: Direction,
    qty: Decimal,
    price: Decimal,
) -> PlaceOrderRequest {
    let mut o = base(
        instrument,
        trade_route,
        direction,
        qty,
        OrderTypeString::Limit,
        ValidityString::Gtc,
    );
    o.price = Some(price.into());
    o
}

/// A stop order (GTC) triggered at `stop_price`.
pub fn stop(
    instrument: i64,
    trade_route: i64,
    direction: Direction,
    qty: Decimal,
    stop_price: Decimal,
) -> PlaceOrderRequest {
    let mut o = base(
        instrument,
        trade_route,
        direction,
        qty,
        OrderTypeString::Stop,
        ValidityString::Gtc,
    );
    o.stop_price = Some(stop_price.into());
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_orders_are_ioc_and_limits_gtc_with_exact_prices() {
        let m = serde_json::to_value(market(1, 2, Direction::Buy, Decimal::new(1, 2))).unwrap();
        assert_eq!(
            (
                m["type"].as_str(),
                m["validity"].as_str(),
                m["side"].as_str()
            ),
            (Some("market"), Some("IOC"), Some("buy"))
        );
        assert_eq!(m["qty"], serde_json::json!(0.01));
        let l = serde_json::to_value(limit(
            1,
            2,
            Direction::Sell,
            Decimal::ONE,
            Decimal::new(110867, 3),
        ))
        .unwrap();
        assert_eq!(
            (l["validity"].as_str(), l["price"].to_string()),
            (Some("GTC"), "110.867".to_string())
        );
    }
}
