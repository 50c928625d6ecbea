//! One trading interface across the brokers (feature `unified`).
//!
//! Each vendor crate keeps its own session, types and errors. This layer puts one set of
//! types over what the brokers share — [`Account`]s and [`Balance`]s in exact [`Money`],
//! [`Instrument`]s and [`Quote`]s, [`Order`]s, [`Position`]s, [`Transfer`]s — behind five
//! traits ([`Accounts`], [`MarketData`], [`Trading`], [`Funding`], [`Streaming`]; together
//! [`Broker`]), with one [`Error`]. Each vendor has a thin adapter that maps types and adds
//! no behaviour: wrap a logged-in vendor session in it.
//!
//! What a broker cannot do is in its [`Capabilities`] (like ccxt's `has`), and calling it
//! answers [`Error::Unsupported`] without sending anything — never a panic or a silent no-op.
//! An order or money movement whose answer was lost is [`Error::OutcomeUnknown`]; nothing
//! here resends it: [`reconcile()`] reads the books back to find out whether it was placed.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use brokerkit::unified::{Broker, Capability, OrderRequest, Side};
//! use rust_decimal::Decimal;
//!
//! /// The same code for every broker.
//! async fn show(broker: &dyn Broker) -> Result<(), brokerkit::unified::Error> {
//!     for account in broker.accounts().await? {
//!         let balance = broker.balance(&account.id).await?;
//!         println!("{} {}: {}", broker.vendor(), account.id, balance.cash);
//!         if broker.capabilities().has(Capability::LimitOrders) {
//!             let instrument = broker.instruments(&account.id).await?.remove(0);
//!             let order = OrderRequest::limit(&instrument.id, Side::Buy, Decimal::ONE, Decimal::ONE);
//!             let id = broker.place_order(&account.id, &order).await?;
//!             broker.cancel_order(&account.id, &id).await?;
//!         }
//!     }
//!     Ok(())
//! }
//!
//! let session = brokerkit::traderevolution::Session::builder("https://backoffice.example")
//!     .login("admin", "password")
//!     .await?;
//! show(&brokerkit::unified::TraderEvolution::new(session)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Live events: [`Event`] is the one type every stream yields. With the `streams` feature,
//! [`Streaming::events`] streams an account's orders, positions and balance from TradeLocker
//! (after `TradeLocker::with_stream`) and AutoShares (its data streamer), and their
//! [`Capability::Streaming`] is true; TraderEvolution and Slate have no stream.

mod account;
mod capability;
mod error;
pub mod event;
mod funding;
mod market;
mod money;
mod order;
mod position;
pub mod reconcile;
mod traits;
mod vendor;

#[cfg(feature = "autoshares")]
#[cfg_attr(docsrs, doc(cfg(feature = "autoshares")))]
pub mod autoshares;
#[cfg(feature = "slate")]
#[cfg_attr(docsrs, doc(cfg(feature = "slate")))]
pub mod slate;
#[cfg(feature = "tradelocker")]
#[cfg_attr(docsrs, doc(cfg(feature = "tradelocker")))]
pub mod tradelocker;
#[cfg(feature = "traderevolution")]
#[cfg_attr(docsrs, doc(cfg(feature = "traderevolution")))]
pub mod traderevolution;

pub use account::{Account, Balance};
pub use capability::{Capabilities, Capability};
pub use error::{Error, Result, VendorError};
pub use event::Event;
pub use funding::{Direction, Transfer, TransferRequest};
pub use market::{Instrument, Quote};
pub use money::Money;
pub use order::{Order, OrderKind, OrderRequest, OrderStatus, Replacement, Side};
pub use position::Position;
pub use reconcile::{reconcile, Outcome, Window};
pub use traits::{Accounts, Broker, Funding, MarketData, Streaming, Trading};
pub use vendor::Vendor;

/// The traits, for calling them on a concrete adapter: `use brokerkit::unified::prelude::*;`.
pub mod prelude {
    pub use super::{Accounts, Broker, Funding, MarketData, Streaming, Trading};
}

#[cfg(feature = "autoshares")]
pub use autoshares::AutoShares;
#[cfg(feature = "slate")]
pub use slate::Slate;
#[cfg(feature = "tradelocker")]
pub use tradelocker::TradeLocker;
#[cfg(feature = "traderevolution")]
pub use traderevolution::TraderEvolution;
