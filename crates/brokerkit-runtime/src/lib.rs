//! Shared runtime for the brokerkit vendor crates.
//!
//! Only what two or more vendors need lives here: a redacting [`Secret`], the exact
//! [`Decimal`] that generated types use for money, the single-flight [`TokenCell`], the
//! request pipeline every call goes through ([`call`]) configured by one [`ClientConfig`],
//! the [`Reply`] of a call, the shared [`Failure`] inside every vendor error and the
//! [`BrokerError`] trait that reads any of them. Each vendor crate builds its own session and
//! the error variants only it has on top.
//!
//! The TLS backend is a cargo feature, `rustls-ring` (the default), `rustls-aws-lc` or
//! `native-tls`: see [`tls`].

#[cfg(not(any(
    feature = "rustls-ring",
    feature = "rustls-aws-lc",
    feature = "native-tls"
)))]
compile_error!(
    "brokerkit needs a TLS backend: enable one of the features `rustls-ring` (the default), \
     `rustls-aws-lc` or `native-tls` on `brokerkit`, `brokerkit-<vendor>` or `brokerkit-runtime` \
     (with `default-features = false` the default `rustls-ring` is off too)"
);

pub mod amount;
pub mod body;
pub mod call;
pub mod config;
pub mod decimal;
pub mod decode;
pub mod error;
pub mod failure;
pub mod hooks;
pub mod operation;
pub mod path;
pub mod rate;
pub mod reply;
pub mod secret;
pub mod tls;
pub mod token;

pub use amount::AmountError;
pub use body::Body;
pub use config::ClientConfig;
pub use decimal::Decimal;
pub use error::BrokerError;
pub use failure::{Failure, HttpFailure, RateLimit, Transport};
pub use operation::Operation;
pub use path::PathError;
pub use rate::{Limit, RateLimits};
pub use reply::Reply;
pub use secret::Secret;
pub use token::{jwt_expiry, Bearer, RefreshError, Refresher, TokenCell, Tokens};
