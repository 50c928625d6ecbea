//! Typed async client for the AutoShares Trading API (a white-labelled ETNA Trader backend).
//!
//! The generated [`Client`] covers all 129 operations of `specs/autoshares.yaml`. On top of it:
//! - [`AutoShares::login`]: single- or two-factor login as a typed flow ([`Login::Session`] or
//!   a [`Challenge`] naming the step to answer); failures are [`Error::LoginFailed`];
//! - [`Session`]: every call carries `Et-App-Key` and `Authorization` without the caller
//!   touching headers; [`Session::logout`]; an expired token is a login-required renewal error or,
//!   with [`Session::set_relogin`], renewed and the call retried;
//! - paged endpoints as lazy [`futures::Stream`]s ([`Session::orders`], [`Session::positions`]…);
//! - [`filter`]: a typed, injection-safe builder for the SQL-like `filter` parameter;
//! - with the `streams` feature, `stream`: the quote and data streamers as typed streams that
//!   recover their session and resubscribe by themselves (messages: [`stream_types`]);
//! - orders: [`Session::preview_order`], [`Session::submit_order`], [`Session::replace_order`],
//!   [`Session::cancel_order`]; a 200 with `IsSuccessful: false` is [`Error::Rejected`];
//! - one [`Error`] for every AutoShares error shape, keeping status and body.
//!
//! ```no_run
//! use brokerkit_autoshares::filter::{field, Filter};
//! use brokerkit_autoshares::orders::{OrderRequest, Side};
//! use brokerkit_autoshares::prelude::*;
//! use rust_decimal::Decimal;
//!
//! # async fn demo(read_code: impl Fn() -> String) -> Result<(), Error> {
//! let api = AutoShares::new(etna_base_url("pub-api-et-demo-prod"), "my-app-key")?;
//! let session = match api.login("jdoe", "password").await? {
//!     Login::Session(session) => session,
//!     // Two-factor users answer the step the server names (e-mailed code or PIN).
//!     Login::Challenge(challenge) => {
//!         println!("AutoShares asks for {}", challenge.step());
//!         challenge.answer(read_code()).await?.into_session()?
//!     }
//! };
//! let account = session.accounts().await?[0].id.unwrap_or_default();
//!
//! // Verify, then place; a refusal (HTTP 200, IsSuccessful false) is Error::Rejected.
//! let order = OrderRequest::limit("AAPL", Side::Buy, Decimal::from(10), Decimal::new(150_25, 2));
//! match session.submit_order(account, &order).await {
//!     Ok((preview, placed)) => println!("order {} placed, commission {:?}", placed.id, preview.commission),
//!     Err(Error::Rejected(r)) => println!("refused: {} {:?}", r.code, r.args),
//!     Err(e) => return Err(e),
//! }
//!
//! // Pages are fetched as the stream is read; filter values are escaped.
//! let filled = Filter::new().and(field("Symbol").eq("AAPL")).and(field("Status").eq(2));
//! let orders: Vec<_> = session.orders(account, ListQuery::new().filter(filled)).try_collect().await?;
//! println!("{} filled AAPL orders", orders.len());
//!
//! // Any of the 129 operations: app key and token are added, errors are typed.
//! let news = session.call(|c| c.get_news().symbol("AAPL").send()).await?;
//! println!("{} news items", news.len());
//! session.logout().await?;
//! # Ok(()) }
//! ```

pub mod error;
pub mod filter;
pub mod hooks;
pub mod orders;
pub mod paging;
pub mod session;
#[cfg(feature = "streams")]
pub mod stream;

/// Messages of the live stream, generated from `specs/autoshares.streams.yaml` with the REST
/// conventions (exact decimals, open enums, redacted secrets; unverified facts say so in their
/// docs). Always built: they cost little, and a caller can decode recorded messages without the
/// `streams` feature.
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
#[path = "generated_stream.rs"]
pub mod stream_types;

/// The names most programs need, and the stream extension traits for the paged lists.
pub mod prelude {
    pub use crate::session::etna_base_url;
    pub use crate::{
        AutoShares, BrokerError, Challenge, ChallengeStep, ClientConfig, Error, ListQuery, Login,
        Session,
    };
    pub use futures::{StreamExt, TryStreamExt};
}

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
mod generated;

pub use brokerkit_runtime::{BrokerError, ClientConfig, Failure, Reply};
pub use error::{Error, ErrorBody, OrderRejection, Result};
pub use generated::*;
pub use session::{
    etna_base_url, AutoShares, AutoSharesBuilder, Challenge, ChallengeStep, ListQuery, Login,
    ReloginHook, Session, TOKEN_LIFETIME,
};
