//! Typed async client for the [TradeLocker](https://tradelocker.com) REST API.
//!
//! The generated [`Client`] covers every operation of `specs/tradelocker.yaml`; the
//! hand-written [`Session`] on top of it logs in, keeps and renews the JWT (before
//! `expireDate`, and once on a 401, single-flight), selects an account and sends
//! `Authorization` and `accNum` on every `/trade` call. Answers come out of the `{s, d}`
//! envelope ([`envelope`]), rows are decoded by column name ([`rows`]), money is exact
//! (`rust_decimal`), and every failure is one [`Error`].
//!
//! With the `streams` feature, `stream` is the Streams API (account events over Socket.IO,
//! reconnecting and resynchronising by itself); its messages are [`stream_types`].
//!
//! ```no_run
//! use brokerkit_tradelocker::{orders, Credentials, Environment, InstrumentRoutes, Session};
//! use rust_decimal::Decimal;
//!
//! # async fn demo() -> Result<(), brokerkit_tradelocker::Error> {
//! let creds = Credentials::new("trader@example.com", "password", "OSP-DEMO");
//! let session = Session::login(Environment::Demo, &creds).await?;
//! let account = session.accounts().await?.remove(0);
//! session.select_account(&account);
//!
//! let eurusd = session.instruments().await?.into_iter().find(|i| i.name == "EURUSD").unwrap();
//! let (info, trade) = (eurusd.info_route().unwrap(), eurusd.trade_route().unwrap());
//! let quote = session.quote(eurusd.tradable_instrument_id, info).await?;
//! println!("EURUSD ask {}", quote.ap);
//!
//! let order = orders::market(eurusd.tradable_instrument_id, trade, orders::Direction::Buy, Decimal::new(1, 2));
//! let order_id = session.place_order(&order).await?;
//! for p in session.positions().await? {
//!     println!("{} {} lots at {}", p.id, p.qty, p.avg_price);
//! }
//! # let _ = order_id; Ok(()) }
//! ```

// `Error` keeps the whole failed response (status, headers, body) by design; it is built once
// per failed call, so its size is not worth boxing every variant for.
#![allow(clippy::result_large_err)]

pub mod envelope;
pub mod error;
mod history;
pub mod hooks;
pub mod instruments;
pub mod orders;
pub mod resolution;
pub mod rows;
pub mod session;
#[cfg(feature = "streams")]
pub mod stream;

/// Messages of the live stream, generated from `specs/tradelocker.streams.yaml` with the REST
/// conventions (exact decimals, open enums, redacted secrets; unverified facts say so in their
/// docs). Always built: they cost little, and a caller can decode recorded messages without the
/// `streams` feature.
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
#[path = "generated_stream.rs"]
pub mod stream_types;

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
mod generated;

pub use brokerkit_runtime::{BrokerError, ClientConfig, Failure, Reply};
pub use error::{Error, Result};
pub use generated::*;
pub use instruments::InstrumentRoutes;
pub use resolution::Resolution;
pub use rows::{AccountState, Execution, Order, Position, RowError};
pub use session::{Account, Credentials, Environment, OrdersHistoryPage, Session, SessionBuilder};
