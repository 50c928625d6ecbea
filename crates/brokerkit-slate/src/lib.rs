//! Typed async client for the **Slate Labs** broker API.
//!
//! - [`Session`]: customer login (`POST /customers/login`), the bearer token on every secured
//!   call, renewal by logging in again when the token expires or is rejected;
//! - [`UnverifiedClaims`]: the JWT's `type` and primary trading-account login, decoded
//!   **without verifying the signature** (for routing, never for access decisions);
//! - [`Error`]: FastAPI's 422 with every field's location and message, `{detail, error}` for
//!   the other statuses, `X-RateLimit-*` on errors and on every [`Reply`];
//! - [`Client`] and [`types`]: generated from `specs/slate.yaml` (all 40 operations; the ones
//!   the vendor's public reference does not show are marked *Unverified* in their docs).
//!
//! ```
//! use brokerkit_slate::{Session, TokenType};
//! use rust_decimal::Decimal;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = brokerkit_mock::slate::start(Default::default()).await?;
//! # let base_url = sandbox.base_url();
//! // `base_url` is your broker's API root, e.g. https://api.mybroker.slate-labs.com
//! let session = Session::new(&base_url);
//! let login = session.login("trader@example.com", "correct horse").await?;
//!
//! // Read from the JWT without checking its signature: use it for routing only.
//! assert_eq!(login.claims.token_type, Some(TokenType::Customer));
//! let account = session.primary_login().expect("the token names the primary account");
//!
//! let summary = session.account_summary(Some(&account)).await?;
//! println!("balance: {:?} {:?}", summary.balance, summary.currency);
//!
//! // Exact decimals in, exact decimals out.
//! let receipt = session.withdraw(Decimal::new(2550, 2), Default::default(), Some("payout")).await?;
//! assert_eq!(receipt.amount.amount, Decimal::new(2550, 2));
//!
//! // Any generated call, with renewal and the rate-limit headers of the answer.
//! let instruments = session.call(|c| async move { c.list_available_instruments().send().await }).await?;
//! println!("{} instruments, {:?} calls left", instruments.value.len(), instruments.rate_limit.remaining);
//! # Ok(()) }
//! ```

pub mod api_tokens;
pub mod claims;
pub mod error;
pub mod hooks;
pub mod money;
pub mod session;

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
mod generated;

pub use generated::*;

pub use api_tokens::IssuedApiToken;
pub use brokerkit_runtime::{Decimal as WireDecimal, RateLimit, Secret};
pub use claims::{ClaimsError, TokenType, UnverifiedClaims};
pub use error::{ApiFailure, Error, FieldError, LocSegment, ValidationFailure};
pub use hooks::State;
pub use money::{AccountSummary, Money, WithdrawalReceipt};
pub use session::{LoggedIn, Reply, Session};
