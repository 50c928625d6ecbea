//! Picking the route of an instrument: INFO routes serve market data, TRADE routes take orders.

use crate::types::{InstrumentSummary, RouteType, RouteTypeString};

/// Route lookup on an instrument of [`Session::instruments`](crate::Session::instruments).
pub trait InstrumentRoutes {
    /// The first INFO route (quotes, bars, depth, details).
    fn info_route(&self) -> Option<i64>;
    /// The first TRADE route (orders).
    fn trade_route(&self) -> Option<i64>;
}

fn first(i: &InstrumentSummary, kind: RouteTypeString) -> Option<i64> {
    i.routes
        .iter()
        .find(|r| r.type_ == RouteType::String(kind))
        .map(|r| r.id)
}

impl InstrumentRoutes for InstrumentSummary {
    fn info_route(&self) -> Option<i64> {
        first(self, RouteTypeString::Info)
    }

    fn trade_route(&self) -> Option<i64> {
        first(self, RouteTypeString::Trade)
    }
}
