//! The one error type of the TradeLocker client.

use brokerkit_runtime::{BrokerError, Failure, HttpFailure};

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
    /// The envelope's `s` was neither `ok`, `error` nor `no_data`.
    #[error("TradeLocker answered with unknown envelope status `{0}`")]
    UnknownStatus(String),
    /// `ordersHistory` said more orders follow, but its page held none newer than `from`: more
    /// orders share that millisecond than one page holds, and moving `from` cannot page past
    /// them. What was read before is valid; the rest cannot be reached by paging.
    #[error("ordersHistory paging stalled at from={from:?}: the page held no order newer than its start although hasMore was true")]
    PagingStalled { from: Option<i64> },
    /// A row of positions, orders, history or executions did not match its columns.
    #[error(transparent)]
    Row(#[from] crate::rows::RowError),
    /// What every vendor shares: a timeout, a dropped connection, an unknown outcome, a
    /// body that does not decode, a 429, any other unsuccessful status, a failed renewal, a
    /// call refused before sending (no login, no account, a bad id or amount).
    #[error(transparent)]
    Failure(Failure),
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Error::from_failure(f)
    }
}

brokerkit_runtime::failure_conversions!(Error);

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Unpacks an error of the generated client.
    pub async fn from_client<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        Self::from_failure(Failure::from_progenitor(err).await)
    }

    /// Gives a runtime failure its TradeLocker meaning.
    pub fn from_failure(failure: Failure) -> Self {
        match failure {
            Failure::Http(h) if h.status == 401 => Error::Unauthorized(*h),
            Failure::Http(h) if h.status == 403 => Error::Forbidden(*h),
            other => Error::Failure(other),
        }
    }
}

impl BrokerError for Error {
    fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Failure(f) => Some(f),
            _ => None,
        }
    }

    fn http(&self) -> Option<&HttpFailure> {
        match self {
            Error::Unauthorized(h) | Error::Forbidden(h) => Some(h),
            Error::Failure(f) => f.http(),
            _ => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected { status, .. } => Some(*status),
            _ => self
                .http()
                .map(|h| h.status)
                .or_else(|| self.failure().and_then(Failure::status)),
        }
    }
}
