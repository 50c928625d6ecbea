#![doc = include_str!("../README.md")]
//!
//! ## Vendor modules
//!
//! - [`tradelocker`]: TradeLocker — JWT session, `accNum` routing, typed rows
//!   ([`tradelocker::Session`]).
//! - [`autoshares`]: AutoShares (ETNA Trader) — two-factor login, lazy paging, safe filters
//!   ([`autoshares::AutoShares`]).
//! - [`traderevolution`]: TraderEvolution BackOffice — token session, dotted error codes, reports
//!   ([`traderevolution::Session`]).
//! - [`slate`]: Slate Labs — customer and staff sessions, JWT claims, typed FastAPI errors
//!   ([`slate::Session`]).
//! - [`unified`] (feature `unified`, on by default): one trading interface across them —
//!   traits, one error, a capability map, reconciliation after an unknown outcome.
//! - [`runtime`]: what they share — [`Secret`], exact [`Decimal`]s, the call pipeline.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use brokerkit_runtime as runtime;
pub use brokerkit_runtime::{BrokerError, ClientConfig, Decimal, Failure, Reply, Secret};

#[cfg(feature = "autoshares")]
#[cfg_attr(docsrs, doc(cfg(feature = "autoshares")))]
pub use brokerkit_autoshares as autoshares;
#[cfg(feature = "slate")]
#[cfg_attr(docsrs, doc(cfg(feature = "slate")))]
pub use brokerkit_slate as slate;
#[cfg(feature = "tradelocker")]
#[cfg_attr(docsrs, doc(cfg(feature = "tradelocker")))]
pub use brokerkit_tradelocker as tradelocker;
#[cfg(feature = "traderevolution")]
#[cfg_attr(docsrs, doc(cfg(feature = "traderevolution")))]
pub use brokerkit_traderevolution as traderevolution;

#[cfg(feature = "unified")]
#[cfg_attr(docsrs, doc(cfg(feature = "unified")))]
pub mod unified;
