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
//! use brokerkit_traderevolution::{server_url, Error, KnownCode, NewOperation, OperationType, ReportQuery, Session};
//! use rust_decimal::Decimal;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! # let base_url = &server_url("sandbox.traderevolution.com");
//! # let server = brokerkit_mock::traderevolution::start(Default::default()).await.unwrap();
//! # let base_url = &server.base_url();
//! let session = Session::login(base_url, "admin", "admin-pass").await?;
//!
//! // Money movements with exact decimals; the sign selects credit or debit.
//! let account_id = 3243753;
//! session.deposit(account_id, Decimal::new(100010, 2), Some("Welcome bonus")).await?;
//! let adjustment = NewOperation::new(account_id, OperationType::Adjustment, Decimal::new(-10, 2));
//! session.create_operation(&adjustment).await?;
//! println!("balance {:?}", session.account_balance(account_id).await?);
//!
//! // Any generated operation, with the session's token.
//! let accounts = session.call(|c| c.list_accounts().limit(10u32).send()).await?;
//! println!("{} accounts", accounts.len());
//!
//! // Reports come back as a table of named columns.
//! let statement = session.run_report(&ReportQuery::new(119).account(account_id)).await?;
//! println!("balance column: {:?}", statement.decimal(0, "Balance")?);
//!
//! // Dotted error codes are typed.
//! match session.run_report(&ReportQuery::new(119)).await {
//!     Err(Error::Api(e)) if e.code.as_ref().and_then(|c| c.known()) == Some(KnownCode::ReportFilterMissing) => {
//!         println!("this report needs an account filter (code 1.6.2.2)")
//!     }
//!     other => println!("{other:?}"),
//! }
//! # assert_eq!(session.account_balance(account_id).await?, Some(Decimal::new(100000, 2)));
//! # assert_eq!(statement.decimal(0, "Balance")?, Some(Decimal::new(100000, 2)));
//! # let e = session.run_report(&ReportQuery::new(119)).await.unwrap_err();
//! # assert_eq!(e.code().and_then(|c| c.known()), Some(KnownCode::ReportFilterMissing));
//! # Ok(()) }
//! ```

pub mod error;
#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
mod generated;
pub mod hooks;
pub mod money;
pub mod report;
pub mod session;

pub use brokerkit_runtime::{BrokerError, ClientConfig, Failure, Reply, Secret};
pub use error::{ApiError, Error, ErrorCode, KnownCode, RateLimited};
pub use generated::*;
pub use money::{NewOperation, Operation, OperationType};
pub use report::{ReportQuery, ReportTable};
pub use session::{
    server_url, verify_pfix_token, Session, SessionBuilder, TokenLifetimes, SANDBOX_HOST,
};
