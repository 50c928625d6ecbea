//! The one error type of the TradeLocker client.

use brokerkit_runtime::{Body, Failure, HttpFailure, RateLimit, RefreshError, Transport};
use http::HeaderMap;

/// Everything a TradeLocker call can fail with. Each variant keeps what the server sent
/// (status, headers, body); none holds a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// TradeLocker answered `{"s":"error","errmsg":…}` — usually with HTTP 200.
    #[error("TradeLocker rejected the request: {message} (HTTP {status})")]
    Rejected { status: u16, message: String },
    /// The token was refused (HTTP 401) and could not be renewed: log in again.
    #[error("not authorized ({0}); the token was refused and could not be renewed: log in again")]
    Unauthorized(HttpFailure),
    /// HTTP 403: on login, wrong email, password or server name.
    #[error("forbidden ({0}); on login this means a wrong email, password or server name")]
    Forbidden(HttpFailure),
    /// HTTP 429: slow down; `rate_limit.retry_after` says for how long when the server tells.
    #[error("rate limited ({failure}); retry after {}", rate_limit.retry_after.map(|d| format!("{}s", d.as_secs())).unwrap_or_else(|| "a while".into()))]
    RateLimited {
        rate_limit: RateLimit,
        failure: HttpFailure,
    },
    /// Any other unsuccessful HTTP status.
    #[error("TradeLocker answered {0}")]
    Http(HttpFailure),
    /// No answer in time (see `SessionBuilder::timeout`) to a call that changes nothing.
    #[error("TradeLocker did not answer in time: {0}")]
    Timeout(#[source] Transport),
    /// The connection failed or dropped, on a call that changes nothing (or was never sent).
    #[error("could not reach TradeLocker: {0}")]
    Connection(#[source] Transport),
    /// An order or position change was sent and its answer lost: it may have been carried out.
    /// The client never resends it; read positions and order history back before deciding.
    #[error("TradeLocker may have carried out the request, but its answer was lost: {0}")]
    OutcomeUnknown(#[source] Transport),
    /// A success status whose body is not what the spec describes.
    #[error("TradeLocker sent a body this client cannot read{}: {message}; body: {body}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Decode {
        status: Option<u16>,
        headers: Box<HeaderMap>,
        body: Body,
        message: String,
    },
    /// The answer passed the client's size limit.
    #[error("TradeLocker's answer is larger than the {limit} bytes this client accepts")]
    TooLarge { status: Option<u16>, limit: usize },
    /// The envelope's `s` was neither `ok`, `error` nor `no_data`.
    #[error("TradeLocker answered with unknown envelope status `{0}`")]
    UnknownStatus(String),
    /// A row of positions, orders, history or executions did not match its columns.
    #[error(transparent)]
    Row(#[from] crate::rows::RowError),
    /// The token could not be renewed.
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// The call was refused before sending: a missing parameter, no login, no account selected.
    #[error("request not sent: {0}")]
    InvalidRequest(String),
    /// A path parameter (an id) that no URL can carry as one segment; nothing was sent.
    #[error("request not sent: {0}")]
    Path(#[from] brokerkit_runtime::PathError),
    /// An amount, quantity or price outside what the operation accepts (a negative amount, a
    /// zero quantity): refused before sending, the sign never changed to make it fit.
    #[error("request not sent: {0}")]
    Amount(#[from] brokerkit_runtime::AmountError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Unpacks an error of the generated client.
    pub async fn from_client<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        Self::from_failure(Failure::from_progenitor(err).await)
    }

    /// Gives a runtime failure its TradeLocker meaning.
    pub fn from_failure(failure: Failure) -> Self {
        match failure {
            Failure::Http(h) => match h.status {
                401 => Error::Unauthorized(h),
                403 => Error::Forbidden(h),
                429 => Error::RateLimited {
                    rate_limit: h.rate_limit(),
                    failure: h,
                },
                _ => Error::Http(h),
            },
            Failure::InvalidRequest(m) | Failure::Other(m) => Error::InvalidRequest(m),
            Failure::Path(e) => Error::Path(e),
            Failure::Timeout(t) => Error::Timeout(t),
            Failure::Connection(t) => Error::Connection(t),
            Failure::OutcomeUnknown(t) => Error::OutcomeUnknown(t),
            Failure::Decode {
                status,
                headers,
                body,
                message,
            } => Error::Decode {
                status,
                headers,
                body,
                message,
            },
            Failure::TooLarge { status, limit } => Error::TooLarge { status, limit },
            Failure::Renewal(e) => Error::Refresh(e),
            other => Error::InvalidRequest(other.to_string()),
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. } => Some(*status),
            Error::Unauthorized(h) | Error::Forbidden(h) | Error::Http(h) => Some(h.status),
            Error::RateLimited { failure, .. } => Some(failure.status),
            Error::Decode { status, .. } | Error::TooLarge { status, .. } => *status,
            Error::Refresh(e) => e.status,
            _ => None,
        }
    }

    /// Whether an order or position change may have been carried out although the call
    /// failed (its answer was lost). Never resend it blindly: reconcile first.
    pub fn may_have_executed(&self) -> bool {
        matches!(self, Error::OutcomeUnknown(_))
    }

    /// Whether the session can no longer renew itself and must log in again.
    pub fn login_required(&self) -> bool {
        matches!(self, Error::Refresh(e) if e.login_required)
    }

    /// Whether the same request may succeed later. The client never retries by itself:
    /// resending an order is the caller's decision (read orders back first).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Connection(_) | Error::RateLimited { .. } => true,
            Error::Http(h) => matches!(h.status, 502..=504),
            _ => false,
        }
    }
}
