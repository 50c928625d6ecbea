//! Which broker an adapter, a value or an error comes from.

use std::fmt;

/// The brokers the unified layer speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Vendor {
    TradeLocker,
    AutoShares,
    TraderEvolution,
    Slate,
}

impl Vendor {
    /// Every vendor, in the order the README lists them.
    pub const ALL: [Vendor; 4] = [
        Vendor::TradeLocker,
        Vendor::AutoShares,
        Vendor::TraderEvolution,
        Vendor::Slate,
    ];

    /// The vendor's name as users know it.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::TradeLocker => "TradeLocker",
            Vendor::AutoShares => "AutoShares",
            Vendor::TraderEvolution => "TraderEvolution",
            Vendor::Slate => "Slate",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
