//! Typed async client for the TraderEvolution BackOffice REST API.
//!
//! - [`Session`] logs in (`POST /auth/token`), keeps the access/refresh pair with their
//!   lifetimes, renews it through the `token` header before the access token expires and on a
//!   401 (one refresh in flight, however many calls need it), and logs in again when the refresh
//!   token is refused.
//! - Every operation of `specs/traderevolution.yaml` is a generated builder on [`Client`];
//!   [`Session::call`] runs one with the session's token and returns this crate's [`Error`].
//! - [`Error`] keeps the HTTP status and the raw body, turns the BackOffice's dotted error codes
//!   into an [`ErrorCode`] with its known meaning ([`KnownCode`]), and a 429 into
//!   [`Error::RateLimited`]. Passwords and tokens are [`Secret`]s: never in `Debug` or errors.
//! - Money is exact: [`rust_decimal::Decimal`] in the hand-written types
//!   ([`NewOperation`], [`Operation`], [`ReportTable::decimal`]).
//!
//! ```
//! use brokerkit_traderevolution::{Error, KnownCode, OperationType, NewOperation, ReportQuery, Session};
//! use rust_decimal_macros::dec;
//!
//! async fn example(base_url: &str) -> Result<(), Error> {
//!     // e.g. base_url = brokerkit_traderevolution::server_url("sandbox.traderevolution.com")
//!     let session = Session::login(base_url, "admin", "admin-pass").await?;
//!
//!     // Money movements with exact decimals; the sign selects credit or debit.
//!     let account_id = 3243753;
//!     session.deposit(account_id, dec!(1000.10), Some("Welcome bonus")).await?;
//!     let adjustment = NewOperation::new(account_id, OperationType::Adjustment, dec!(-0.10));
//!     session.create_operation(&adjustment).await?;
//!     assert_eq!(session.account_balance(account_id).await?, Some(dec!(1000.00)));
//!
//!     // Any generated operation, with the session's token.
//!     let accounts = session.call(|c| c.list_accounts().limit(10u32).send()).await?;
//!     println!("{} accounts", accounts.len());
//!
//!     // Reports come back as a table of named columns.
//!     let statement = session.run_report(&ReportQuery::new(119).account(account_id)).await?;
//!     println!("balance column: {:?}", statement.decimal(0, "Balance")?);
//!
//!     // Dotted error codes are typed.
//!     match session.run_report(&ReportQuery::new(119)).await {
//!         Err(Error::Api(e)) if e.code.as_ref().and_then(|c| c.known()) == Some(KnownCode::ReportFilterMissing) => {}
//!         other => panic!("expected 1.6.2.2, got {other:?}"),
//!     }
//!     Ok(())
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #     let server = brokerkit_mock::traderevolution::start(Default::default()).await?;
//! #     example(&server.base_url()).await?;
//! #     Ok(())
//! # }
//! ```

pub mod error;
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
mod generated;
pub mod hooks;
pub mod money;
pub mod report;
pub mod session;

pub use brokerkit_runtime::Secret;
pub use error::{ApiError, Error, ErrorCode, KnownCode, RateLimited};
pub use generated::*;
pub use money::{NewOperation, Operation, OperationType};
pub use report::{ReportQuery, ReportTable};
pub use session::{server_url, verify_pfix_token, Session, TokenLifetimes, SANDBOX_HOST};

/// The README section's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/readme/traderevolution.md")]
pub struct ReadmeDoctests;
