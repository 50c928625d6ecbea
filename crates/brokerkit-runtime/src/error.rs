//! One way to read any vendor's error.
//!
//! Each vendor crate has its own `Error` enum: the refusals only that broker has (an envelope
//! `s: error`, a failed second factor, a validation list) beside one `Error::Failure` that
//! holds the shared [`Failure`]. [`BrokerError`] is implemented by all four, so code that
//! works across brokers asks the same questions without matching four enums:
//!
//! ```
//! use brokerkit_runtime::BrokerError;
//!
//! /// Decide what a bot does after a failed call, whichever broker it talks to.
//! fn next_step(e: &impl BrokerError) -> &'static str {
//!     if e.may_have_executed() {
//!         "read orders back before sending again"
//!     } else if let Some(wait) = e.rate_limit().and_then(|r| r.retry_after) {
//!         if wait.as_secs() < 60 { "wait and retry" } else { "back off" }
//!     } else if e.login_required() {
//!         "log in again"
//!     } else if e.is_transient() {
//!         "retry later"
//!     } else {
//!         "give up and report"
//!     }
//! }
//! ```

use crate::{Failure, HttpFailure, RateLimit};

/// What every vendor's `Error` answers. The provided methods read the shared [`Failure`] and
/// the unsuccessful answer; a vendor overrides one where its own variants say more.
pub trait BrokerError: std::error::Error + Send + Sync + 'static {
    /// The shared part of the error, unless it is a refusal specific to the vendor.
    fn failure(&self) -> Option<&Failure>;

    /// The unsuccessful answer (status, headers, the body as received), when there was one.
    fn http(&self) -> Option<&HttpFailure> {
        self.failure().and_then(Failure::http)
    }

    /// The HTTP status, when the server answered.
    fn status(&self) -> Option<u16> {
        self.http()
            .map(|h| h.status)
            .or_else(|| self.failure().and_then(Failure::status))
    }

    /// What the error answer said about the rate limit (`Retry-After`, `X-RateLimit-*`):
    /// always `Some` on a 429, and on any other error answer that carried such headers.
    fn rate_limit(&self) -> Option<RateLimit> {
        if let Some(r) = self.failure().and_then(Failure::rate_limit) {
            return Some(r.clone());
        }
        let h = self.http()?;
        let r = h.rate_limit();
        (h.status == 429 || !r.is_empty()).then_some(r)
    }

    /// Whether the same request may succeed later unchanged (a timeout, a dropped connection
    /// on a read, a 429, a 502–504). Never true for an unknown outcome: find out first.
    fn is_transient(&self) -> bool {
        match self.failure() {
            Some(f) => f.is_transient(),
            None => self
                .http()
                .is_some_and(|h| matches!(h.status, 408 | 429 | 502 | 503 | 504)),
        }
    }

    /// Whether an order, a money movement or another change may have been carried out
    /// although this call failed. The client never resends such a request by itself.
    fn may_have_executed(&self) -> bool {
        self.failure().is_some_and(Failure::may_have_executed)
    }

    /// Whether only a new login can go on.
    fn login_required(&self) -> bool {
        self.failure().is_some_and(Failure::login_required)
    }
}

/// The conversions every vendor's `Error` has from the runtime's refusals, through its own
/// `From<Failure>` (which gives a failure the vendor's meaning): `?` on a bad path segment,
/// a refused amount or a failed renewal then yields the vendor's error.
#[macro_export]
macro_rules! failure_conversions {
    ($error:ty) => {
        impl ::core::convert::From<$crate::PathError> for $error {
            fn from(e: $crate::PathError) -> Self {
                <$error>::from($crate::Failure::from(e))
            }
        }

        impl ::core::convert::From<$crate::AmountError> for $error {
            fn from(e: $crate::AmountError) -> Self {
                <$error>::from($crate::Failure::from(e))
            }
        }

        impl ::core::convert::From<$crate::RefreshError> for $error {
            fn from(e: $crate::RefreshError) -> Self {
                <$error>::from($crate::Failure::from(e))
            }
        }
    };
}
