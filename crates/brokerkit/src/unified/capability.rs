//! What each broker can do through the unified layer (like ccxt's `has`): asked before
//! calling, and checked by the contract suite against what actually works.

use std::fmt;

/// One thing a broker may or may not do through the unified layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Capability {
    Accounts,
    Balances,
    Instruments,
    Quotes,
    MarketOrders,
    LimitOrders,
    /// Orders carry your own id, and can be found by it.
    ClientOrderId,
    CancelOrder,
    ReplaceOrder,
    WorkingOrders,
    OrderHistory,
    Positions,
    ClosePosition,
    Deposit,
    Withdraw,
    TransferHistory,
    /// Live [`Event`](super::Event)s.
    Streaming,
}

impl Capability {
    /// Every capability, in table order.
    pub const ALL: [Capability; 17] = [
        Capability::Accounts,
        Capability::Balances,
        Capability::Instruments,
        Capability::Quotes,
        Capability::MarketOrders,
        Capability::LimitOrders,
        Capability::ClientOrderId,
        Capability::CancelOrder,
        Capability::ReplaceOrder,
        Capability::WorkingOrders,
        Capability::OrderHistory,
        Capability::Positions,
        Capability::ClosePosition,
        Capability::Deposit,
        Capability::Withdraw,
        Capability::TransferHistory,
        Capability::Streaming,
    ];

    /// A short name (`limit orders`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Accounts => "accounts",
            Capability::Balances => "balances",
            Capability::Instruments => "instruments",
            Capability::Quotes => "quotes",
            Capability::MarketOrders => "market orders",
            Capability::LimitOrders => "limit orders",
            Capability::ClientOrderId => "client order id",
            Capability::CancelOrder => "cancel order",
            Capability::ReplaceOrder => "replace order",
            Capability::WorkingOrders => "working orders",
            Capability::OrderHistory => "order history",
            Capability::Positions => "positions",
            Capability::ClosePosition => "close position",
            Capability::Deposit => "deposit",
            Capability::Withdraw => "withdraw",
            Capability::TransferHistory => "transfer history",
            Capability::Streaming => "streaming",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Capability`]s: what one broker does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);

    /// The set of `caps`.
    pub fn of(caps: &[Capability]) -> Self {
        Capabilities(caps.iter().fold(0, |bits, c| bits | c.bit()))
    }

    /// Whether the broker does `cap`.
    pub fn has(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// What the broker does, in table order.
    pub fn supported(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }

    /// What the broker does not do, in table order.
    pub fn unsupported(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| !self.has(*c))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.supported()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_exactly_what_it_was_given() {
        let caps = Capabilities::of(&[Capability::Accounts, Capability::Streaming]);
        assert!(caps.has(Capability::Accounts) && caps.has(Capability::Streaming));
        assert!(!caps.has(Capability::Balances));
        assert_eq!(caps.supported().count(), 2);
        assert_eq!(caps.unsupported().count(), Capability::ALL.len() - 2);
        assert!(Capability::ALL.iter().all(|c| !Capabilities::NONE.has(*c)));
    }
}
