//! Shared runtime for the brokerkit vendor crates.
//!
//! Only what two or more vendors need lives here: a redacting [`Secret`], the exact
//! [`Decimal`] that generated types use for money, the single-flight [`TokenCell`], the
//! [`HttpFailure`] parts every vendor error keeps, and small helpers for the request hooks.
//! Each vendor crate builds its own typed error and session on top.
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
pub mod decimal;
pub mod failure;
pub mod hooks;
pub mod http;
pub mod path;
pub mod secret;
pub mod tls;
pub mod token;

pub use amount::AmountError;
pub use body::Body;
pub use decimal::Decimal;
pub use failure::{Failure, HttpFailure, RateLimit, Transport};
pub use http::HttpSettings;
pub use path::PathError;
pub use secret::Secret;
pub use token::{RefreshError, Refresher, TokenCell, Tokens};
