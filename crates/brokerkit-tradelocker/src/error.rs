//! The one error type of the TradeLocker client.

use brokerkit_runtime::{Failure, HttpFailure, RateLimit, RefreshError};
use bytes::Bytes;

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
    /// No answer in time (see `SessionBuilder::timeout`).
    #[error("TradeLocker did not answer in time: {0}")]
    Timeout(String),
    /// The connection failed or dropped.
    #[error("could not reach TradeLocker: {0}")]
    Connection(String),
    /// A success status whose body is not what the spec describes.
    #[error("TradeLocker sent a body this client cannot read{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Decode {
        status: Option<u16>,
        body: Bytes,
        message: String,
    },
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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Unpacks an error of the generated client.
    pub async fn from_client<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        match Failure::from_progenitor(err).await {
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
            Failure::Timeout(m) => Error::Timeout(m),
            Failure::Connection(m) => Error::Connection(m),
            Failure::Decode {
                status,
                body,
                message,
            } => Error::Decode {
                status,
                body,
                message,
            },
            other => Error::InvalidRequest(other.to_string()),
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. } => Some(*status),
            Error::Unauthorized(h) | Error::Forbidden(h) | Error::Http(h) => Some(h.status),
            Error::RateLimited { failure, .. } => Some(failure.status),
            Error::Decode { status, .. } => *status,
            _ => None,
        }
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
