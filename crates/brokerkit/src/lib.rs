#![doc = include_str!("../../../README.md")]

pub use brokerkit_runtime as runtime;
pub use brokerkit_runtime::{BrokerError, ClientConfig, Decimal, Failure, Reply, Secret};

#[cfg(feature = "autoshares")]
pub use brokerkit_autoshares as autoshares;
#[cfg(feature = "slate")]
pub use brokerkit_slate as slate;
#[cfg(feature = "tradelocker")]
pub use brokerkit_tradelocker as tradelocker;
#[cfg(feature = "traderevolution")]
pub use brokerkit_traderevolution as traderevolution;
