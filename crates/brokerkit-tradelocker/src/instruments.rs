//! Picking the route of an instrument: INFO routes serve market data, TRADE routes take orders.

use crate::types::{InstrumentSummary, RouteType, RouteTypeString};

/// Route lookup on an instrument of [`Session::instruments`](crate::Session::instruments).
pub trait InstrumentRoutes {
    /// The first INFO route listed (quotes, bars, depth, details). Some accounts list several
    /// of which the first may be dead: [`Session::quote_instrument`](crate::Session::quote_instrument)
    /// and [`Session::working_info_route`](crate::Session::working_info_route) find the one
    /// that answers.
    fn info_route(&self) -> Option<i64>;
    /// Every INFO route, in the order listed.
    fn info_routes(&self) -> Vec<i64>;
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

    fn info_routes(&self) -> Vec<i64> {
        self.routes
            .iter()
            .filter(|r| r.type_ == RouteType::String(RouteTypeString::Info))
            .map(|r| r.id)
            .collect()
    }

    fn trade_route(&self) -> Option<i64> {
        first(self, RouteTypeString::Trade)
    }
}

/// The instruments of one account, indexed by symbol name and by id
/// ([`Session::instrument_by_symbol`](crate::Session::instrument_by_symbol),
/// [`Session::instrument_by_id`](crate::Session::instrument_by_id)).
#[derive(Debug, Clone, Default)]
pub struct InstrumentIndex {
    list: Vec<InstrumentSummary>,
    by_name: std::collections::HashMap<String, usize>,
    by_id: std::collections::HashMap<i64, usize>,
}

impl InstrumentIndex {
    /// Indexes `list`; when two instruments share a name or an id, the first listed wins, as
    /// a scan would find it.
    pub fn new(list: Vec<InstrumentSummary>) -> Self {
        let mut by_name = std::collections::HashMap::new();
        let mut by_id = std::collections::HashMap::new();
        for (i, instrument) in list.iter().enumerate() {
            by_name.entry(instrument.name.clone()).or_insert(i);
            by_id.entry(instrument.tradable_instrument_id).or_insert(i);
        }
        Self {
            list,
            by_name,
            by_id,
        }
    }

    /// The instrument with this symbol name, exactly as the broker lists it (`EURUSD`).
    pub fn by_symbol(&self, name: &str) -> Option<&InstrumentSummary> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }

    /// The instrument with this `tradableInstrumentId`.
    pub fn by_id(&self, tradable_instrument_id: i64) -> Option<&InstrumentSummary> {
        self.by_id
            .get(&tradable_instrument_id)
            .map(|&i| &self.list[i])
    }

    /// Every instrument, in the broker's order.
    pub fn all(&self) -> &[InstrumentSummary] {
        &self.list
    }
}
