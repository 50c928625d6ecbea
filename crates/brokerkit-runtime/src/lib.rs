//! Shared runtime for the brokerkit vendor crates.
//!
//! Only what two or more vendors need lives here: a redacting [`Secret`], the exact
//! [`Decimal`] that generated types use for money, the single-flight [`TokenCell`], the
//! [`HttpFailure`] parts every vendor error keeps, and small helpers for the request hooks.
//! Each vendor crate builds its own typed error and session on top.

pub mod amount;
pub mod body;
pub mod call;
pub mod decimal;
pub mod failure;
pub mod hooks;
pub mod http;
pub mod operation;
pub mod path;
pub mod rate;
pub mod secret;
pub mod token;

pub use amount::AmountError;
pub use body::Body;
pub use decimal::Decimal;
pub use failure::{Failure, HttpFailure, RateLimit, Transport};
pub use http::HttpSettings;
pub use operation::Operation;
pub use path::PathError;
pub use rate::{Limit, RateLimits};
pub use secret::Secret;
pub use token::{RefreshError, Refresher, TokenCell, Tokens};
