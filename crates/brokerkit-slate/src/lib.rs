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
//! use brokerkit_slate::{types, Error, Session, TokenType};
//! use rust_decimal::Decimal;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = brokerkit_mock::slate::start(Default::default()).await?;
//! // Each broker has its own host: https://api.{your-broker}.slate-labs.com
//! # let base_url = sandbox.base_url();
//! # let _ = "https://api.mybroker.slate-labs.com";
//! let session = Session::new(&base_url);
//! let login = session.login("trader@example.com", "correct horse").await?;
//!
//! // Claims are read from the JWT WITHOUT checking its signature: use them for routing only.
//! assert_eq!(login.claims.token_type, Some(TokenType::Customer));
//! let account = session.primary_login().expect("the token names the primary account");
//!
//! // Exact decimals in and out.
//! let summary = session.account_summary(Some(&account)).await?;
//! println!("{:?} {:?}", summary.balance, summary.currency);
//! let receipt = session.withdraw(Decimal::new(2550, 2), Default::default(), Some("payout")).await?;
//! println!("{} requested, {} still withdrawable", receipt.amount, receipt.max_withdrawable);
//!
//! // Any generated operation: bearer token, renewal on expiry, rate-limit headers of the answer.
//! let check = types::PreflightRequest {
//!     symbol: "EURUSD".parse().expect("a symbol"),
//!     action: types::PreflightActionString::Open.into(),
//!     requested_at: None,
//! };
//! let reply = session
//!     .call(|c| {
//!         let body = check.clone();
//!         async move { c.preflight_order().body(body).send().await }
//!     })
//!     .await?;
//! println!("block: {:?}; {:?} calls left this minute", reply.value.block, reply.rate_limit.remaining);
//!
//! // FastAPI's 422 is typed: every invalid field with its location.
//! // (Zero or less never leaves the client: that is `Error::Amount`.)
//! match session.withdraw(Decimal::new(1, 3), Default::default(), None).await {
//!     Err(Error::Validation(v)) => {
//!         for e in &v.errors {
//!             println!("{}: {}", e.path(), e.message); // body.amount: Input should be greater than or equal to 0.01
//!         }
//!     }
//!     other => panic!("expected a 422, got {other:?}"),
//! }
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
pub use brokerkit_runtime::{BrokerError, ClientConfig, Failure, Reply};
pub use brokerkit_runtime::{Decimal as WireDecimal, RateLimit, Secret};
pub use claims::{ClaimsError, TokenType, UnverifiedClaims};
pub use error::{ApiFailure, Error, FieldError, LocSegment, ValidationFailure};
pub use hooks::State;
pub use money::{AccountSummary, Money, WithdrawalReceipt};
pub use session::{LoggedIn, Session, SessionBuilder};
