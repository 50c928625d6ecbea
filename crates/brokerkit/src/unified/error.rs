//! The one error of the unified layer, and the one conversion from every vendor's error.
//!
//! Each vendor crate has its own `Error`; all four implement
//! [`BrokerError`](brokerkit_runtime::BrokerError). [`VendorError`] adds the two facts the
//! trait does not carry (which vendor, and the vendor's own refusal code), and a single
//! generic `From` turns any of them into [`Error`] by asking the trait: nothing is classified
//! four times.

use super::{Capability, Vendor};
use brokerkit_runtime::{BrokerError, Failure};
use std::time::Duration;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why a unified call failed. `Display` says what happened and what to do; it never holds a
/// secret (the vendor errors it wraps print none).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker refused the request (an order rejected, a withdrawal over the balance, a
    /// bad id): sending it again unchanged fails again.
    #[error("{vendor} rejected the request{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Rejected {
        vendor: Vendor,
        /// The HTTP status, when the refusal came with one.
        status: Option<u16>,
        /// The vendor's own code (`insufficient_funds`, `2.0.2.4`, `QuotePriceIsInvalid`),
        /// when it sent one.
        code: Option<String>,
        /// The vendor's text.
        message: String,
        source: Option<Source>,
    },
    /// The credentials or the session were refused (HTTP 401, 403: a wrong password, an expired
    /// or revoked token, a token without the scope) and the session could not renew itself:
    /// log in again, or with the right credentials.
    #[error("{vendor}: not authorized ({message}); log in again")]
    Unauthorized {
        vendor: Vendor,
        message: String,
        source: Option<Source>,
    },
    /// Too many requests: wait `retry_after` (when the broker said) before sending again.
    #[error("{vendor}: rate limited{}", retry_after.map(|d| format!("; retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        vendor: Vendor,
        retry_after: Option<Duration>,
        source: Option<Source>,
    },
    /// No usable answer (connection refused, timeout, 502–504) for a request that changed
    /// nothing: it may succeed later.
    #[error("{vendor}: transport failure: {message}")]
    Transport {
        vendor: Vendor,
        message: String,
        source: Option<Source>,
    },
    /// An order or a money movement was sent and its answer was lost: it may have been
    /// carried out. Never resent by this layer; find out first ([`reconcile`](super::reconcile())
    /// for orders, the transfer history for money).
    #[error("{vendor}: the outcome is unknown ({message}); it may have been carried out: read back before sending again")]
    OutcomeUnknown {
        vendor: Vendor,
        message: String,
        source: Option<Source>,
    },
    /// The broker cannot do this through the unified layer (see
    /// [`Capabilities`](super::Capabilities)); nothing was sent.
    #[error("{vendor} does not support {capability} through the unified layer")]
    Unsupported {
        vendor: Vendor,
        capability: Capability,
    },
    /// Refused before sending: a bad amount, an unknown id, a missing parameter.
    #[error("{vendor}: invalid request (not sent): {message}")]
    Invalid {
        vendor: Vendor,
        message: String,
        source: Option<Source>,
    },
    /// The broker answered something this client does not understand (a body off the spec).
    #[error("{vendor}: unexpected answer: {message}")]
    Unexpected {
        vendor: Vendor,
        message: String,
        source: Option<Source>,
    },
}

impl Error {
    /// The broker the error comes from.
    pub fn vendor(&self) -> Vendor {
        match self {
            Error::Rejected { vendor, .. }
            | Error::Unauthorized { vendor, .. }
            | Error::RateLimited { vendor, .. }
            | Error::Transport { vendor, .. }
            | Error::OutcomeUnknown { vendor, .. }
            | Error::Unsupported { vendor, .. }
            | Error::Invalid { vendor, .. }
            | Error::Unexpected { vendor, .. } => *vendor,
        }
    }

    /// Whether this is [`Error::Unsupported`] for `capability`.
    pub fn is_unsupported(&self, capability: Capability) -> bool {
        matches!(self, Error::Unsupported { capability: c, .. } if *c == capability)
    }

    /// Whether the request may have been carried out although it failed.
    pub fn may_have_executed(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }

    /// Whether the same request may succeed later, unchanged (never after an unknown outcome).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::RateLimited { .. })
    }

    pub(crate) fn unsupported(vendor: Vendor, capability: Capability) -> Self {
        Error::Unsupported { vendor, capability }
    }

    #[allow(dead_code)] // unused when no vendor feature is on
    pub(crate) fn invalid(vendor: Vendor, message: impl Into<String>) -> Self {
        Error::Invalid {
            vendor,
            message: message.into(),
            source: None,
        }
    }

    #[allow(dead_code)] // unused when no vendor feature is on
    pub(crate) fn unexpected(vendor: Vendor, message: impl Into<String>) -> Self {
        Error::Unexpected {
            vendor,
            message: message.into(),
            source: None,
        }
    }
}

/// A vendor crate's error as the unified layer reads it. Implemented once per vendor, in its
/// adapter; the conversion to [`Error`] is the one generic `From` below.
pub trait VendorError: BrokerError + Sized {
    const VENDOR: Vendor;

    /// The vendor's own code and text, for a refusal that carries one.
    fn rejection(&self) -> Option<(Option<String>, String)> {
        None
    }
}

impl<E: VendorError> From<E> for Error {
    fn from(e: E) -> Self {
        let vendor = E::VENDOR;
        let message = e.to_string();
        let status = e.status();
        enum Kind {
            Invalid,
            Unexpected,
            Transport,
            Other,
        }
        let rate_limited =
            status == Some(429) || e.failure().is_some_and(|f| f.rate_limit().is_some());
        let kind = match e.failure() {
            Some(
                Failure::InvalidRequest(_)
                | Failure::Path(_)
                | Failure::Amount(_)
                | Failure::NotReady(_),
            ) => Kind::Invalid,
            Some(Failure::Decode { .. } | Failure::TooLarge { .. } | Failure::Other(_)) => {
                Kind::Unexpected
            }
            // No answer at all (a timeout, a refused connection, a renewal that could not
            // reach the server), or a 502–504.
            Some(_) if e.is_transient() || e.http().is_none() => Kind::Transport,
            None if e.is_transient() => Kind::Transport,
            _ => Kind::Other,
        };
        if e.may_have_executed() {
            return Error::OutcomeUnknown {
                vendor,
                message,
                source: Some(Box::new(e)),
            };
        }
        if rate_limited {
            return Error::RateLimited {
                vendor,
                retry_after: e.rate_limit().and_then(|r| r.retry_after),
                source: Some(Box::new(e)),
            };
        }
        if e.login_required() || matches!(status, Some(401 | 403)) {
            return Error::Unauthorized {
                vendor,
                message,
                source: Some(Box::new(e)),
            };
        }
        match kind {
            Kind::Invalid => {
                return Error::Invalid {
                    vendor,
                    message,
                    source: Some(Box::new(e)),
                }
            }
            Kind::Unexpected => {
                return Error::Unexpected {
                    vendor,
                    message,
                    source: Some(Box::new(e)),
                }
            }
            Kind::Transport => {
                return Error::Transport {
                    vendor,
                    message,
                    source: Some(Box::new(e)),
                }
            }
            Kind::Other => {}
        }
        let (code, text) = e.rejection().unwrap_or((None, message));
        Error::Rejected {
            vendor,
            status,
            code,
            message: text,
            source: Some(Box::new(e)),
        }
    }
}

/// What every unified call returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;
