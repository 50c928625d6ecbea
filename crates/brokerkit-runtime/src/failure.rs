//! The vendor-independent part of a failed call: what every vendor error keeps so that
//! nothing is lost (status, headers, body) and nothing secret leaks.

use crate::body::Body;
use crate::call::{self, TooLarge};
use crate::path::PathError;
use crate::{AmountError, RefreshError};
use bytes::Bytes;
use http::HeaderMap;
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// Headers that may carry credentials; never printed.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "set-cookie",
    "cookie",
    "et-app-key",
    "token",
    "developer-api-key",
];
/// A response whose status was not the success the caller asked for.
#[derive(Clone)]
pub struct HttpFailure {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as received. (brokerkit's generated clients never decode error bodies, so
    /// this is the server's bytes; only a client generated otherwise, which decodes a documented
    /// error itself, yields that body serialized again.)
    pub body: Bytes,
}

impl HttpFailure {
    pub fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Decodes the body as `T`, if it is one.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn rate_limit(&self) -> RateLimit {
        RateLimit::from_headers(&self.headers)
    }
}

pub use crate::body::excerpt;

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.body.is_empty() {
            write!(f, ": {}", excerpt(&self.body))?;
        }
        Ok(())
    }
}

impl fmt::Debug for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFailure")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &excerpt(&self.body))
            .finish()
    }
}

/// Prints a header map with credential-bearing values replaced by `***`.
pub struct RedactedHeaders<'a>(pub &'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, value) in self.0 {
            if SENSITIVE_HEADERS.contains(&name.as_str()) {
                m.entry(&name.as_str(), &"***");
            } else {
                m.entry(&name.as_str(), &value.to_str().unwrap_or("<binary>"));
            }
        }
        m.finish()
    }
}

/// What the server said about its rate limit, from `Retry-After` and `X-RateLimit-*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    pub retry_after: Option<Duration>,
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset` as sent (seconds; epoch or delta depending on the vendor).
    pub reset: Option<u64>,
}

impl RateLimit {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            retry_after: retry_after(headers),
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `Retry-After` in either form RFC 9110 allows: delay seconds, or an HTTP date (a date in
/// the past means now).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// A failure below HTTP: the connection, a timeout, a cut body. Keeps the underlying error as
/// its `source()`; its message never names the URL (a query may carry a one-time token).
pub struct Transport {
    message: String,
    timeout: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Transport {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            timeout: false,
            source: None,
        }
    }

    /// From a reqwest error, with its URL removed.
    pub fn from_reqwest(e: reqwest::Error) -> Self {
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Self {
            message,
            timeout: e.is_timeout(),
            source: Some(Box::new(e)),
        }
    }

    pub fn is_timeout(&self) -> bool {
        self.timeout
    }
}

impl From<String> for Transport {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("message", &self.message)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl std::error::Error for Transport {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Where a call failed, before any vendor meaning is given to it: the shared part of every
/// vendor's `Error` (each holds it as `Error::Failure`), so cross-vendor code can read status,
/// headers, body, rate limits and unknown outcomes the same way (see [`BrokerError`]).
///
/// [`BrokerError`]: crate::BrokerError
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The call was refused before sending (a required parameter was missing or invalid).
    InvalidRequest(String),
    /// A path parameter that no URL can carry as one segment; refused before sending.
    Path(PathError),
    /// An amount, quantity or price outside what the operation accepts (a negative amount, a
    /// zero quantity): refused before sending, the sign never changed to make it fit.
    Amount(AmountError),
    /// No answer in time, for a request that changes nothing (or that never left).
    Timeout(Transport),
    /// The connection failed or dropped before a full answer arrived, for a request that
    /// changes nothing (or that never left).
    Connection(Transport),
    /// A request that changes state (an order, a money movement…) was sent, and the answer was
    /// lost (timeout, cut connection, cut body): it may have been carried out. Never resent by
    /// the client; find out (read orders or balances back) before sending it again.
    OutcomeUnknown(Transport),
    /// The server answered with a status the operation does not treat as success (and the
    /// vendor's error gives it no more specific meaning).
    Http(Box<HttpFailure>),
    /// HTTP 429, after the pipeline's own retries: slow down. `rate_limit.retry_after` says
    /// for how long when the server said.
    RateLimited {
        rate_limit: RateLimit,
        failure: Box<HttpFailure>,
    },
    /// A success status whose body does not match the spec.
    Decode {
        status: Option<u16>,
        headers: Box<HeaderMap>,
        body: Body,
        message: String,
    },
    /// The answer passed the client's size limit (see [`call::DEFAULT_MAX_BODY`]).
    TooLarge { status: Option<u16>, limit: usize },
    /// The token had to be renewed and renewing it failed.
    Renewal(RefreshError),
    /// A secured operation was called before login (nothing was sent).
    NotLoggedIn(String),
    /// The session is not ready for this call (e.g. no account selected); nothing was sent.
    NotReady(String),
    /// Anything else the generated client reported (e.g. a hook's refusal).
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::InvalidRequest(m) => write!(f, "invalid request (not sent): {m}"),
            Failure::Path(e) => write!(f, "invalid request (not sent): {e}"),
            Failure::Amount(e) => write!(f, "invalid request (not sent): {e}"),
            Failure::Timeout(m) => write!(f, "timed out: {m}"),
            Failure::Connection(m) => write!(f, "connection failed: {m}"),
            Failure::OutcomeUnknown(m) => write!(
                f,
                "the request was sent but its answer was lost ({m}): it may have been carried out"
            ),
            Failure::Http(h) => h.fmt(f),
            Failure::RateLimited {
                rate_limit,
                failure,
            } => {
                write!(f, "rate limited ({failure}); retry after ")?;
                match rate_limit.retry_after {
                    Some(d) => write!(f, "{}s", d.as_secs()),
                    None => f.write_str("a while"),
                }
            }
            Failure::Decode {
                status,
                body,
                message,
                ..
            } => {
                write!(f, "unexpected response body")?;
                if let Some(s) = status {
                    write!(f, " (HTTP {s})")?;
                }
                write!(f, ": {message}; body: {body}")
            }
            Failure::TooLarge { status, limit } => {
                write!(f, "the answer")?;
                if let Some(s) = status {
                    write!(f, " (HTTP {s})")?;
                }
                write!(f, " is larger than the {limit} bytes this client accepts")
            }
            Failure::Renewal(e) => e.fmt(f),
            Failure::NotLoggedIn(m) => write!(f, "not logged in: {m}"),
            Failure::NotReady(m) => write!(f, "request not sent: {m}"),
            Failure::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failure::Timeout(t) | Failure::Connection(t) | Failure::OutcomeUnknown(t) => Some(t),
            Failure::Renewal(e) => Some(e),
            Failure::Path(e) => Some(e),
            Failure::Amount(e) => Some(e),
            _ => None,
        }
    }
}

fn transport(e: reqwest::Error, seen: &call::Seen) -> Failure {
    let status = seen.status;
    if let Some(TooLarge { limit }) = call::too_large(&e) {
        return Failure::TooLarge { status, limit };
    }
    // A request whose connection never opened was not sent; any other transport failure of a
    // request that changes state leaves its outcome unknown. Auth exchanges (sealed) are
    // POSTs too, but one that went through unseen only leaves an unused token behind.
    let maybe_sent = !e.is_connect() && !e.is_builder();
    let changes_state = !seen.sealed && seen.safe_method == Some(false);
    let t = Transport::from_reqwest(e);
    if maybe_sent && changes_state {
        Failure::OutcomeUnknown(t)
    } else if t.is_timeout() {
        Failure::Timeout(t)
    } else {
        Failure::Connection(t)
    }
}

impl Failure {
    /// Unpacks a generated client's error, reading the body of unexpected responses. Inside a
    /// [`call::scope`] it also uses what the hooks noted (status of an undecodable answer,
    /// a failed renewal, whether the request changes state).
    ///
    /// The reading is boxed: it is rare, and every call's future would otherwise have room
    /// for it beside its own (issue 12).
    pub fn from_progenitor<E: serde::Serialize>(
        err: progenitor_client::Error<E>,
    ) -> impl std::future::Future<Output = Self> {
        Box::pin(Self::read_progenitor(err))
    }

    async fn read_progenitor<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as E2;
        let seen = call::take().unwrap_or_default();
        if let Some(renewal) = seen.rare.as_ref().and_then(|r| r.renewal.clone()) {
            return Failure::Renewal(renewal);
        }
        match err {
            E2::InvalidRequest(m) => match PathError::from_message(&m) {
                Some(e) => Failure::Path(e),
                None => Failure::InvalidRequest(m),
            },
            E2::CommunicationError(e) | E2::ResponseBodyError(e) | E2::InvalidUpgrade(e) => {
                transport(e, &seen)
            }
            E2::ErrorResponse(rv) => {
                let status = rv.status().as_u16();
                let headers = rv.headers().clone();
                let body = serde_json::to_vec(rv.as_ref())
                    .map(Bytes::from)
                    .unwrap_or_default();
                Failure::from_http(HttpFailure {
                    status,
                    headers,
                    body,
                })
            }
            E2::InvalidResponsePayload(body, e) => {
                let status = seen.status;
                let headers = Box::new(seen.rare.and_then(|r| r.headers).unwrap_or_default());
                let body = if seen.sealed {
                    Body::sealed(body)
                } else {
                    Body::new(body)
                };
                Failure::Decode {
                    status,
                    headers,
                    body,
                    message: e.to_string(),
                }
            }
            E2::UnexpectedResponse(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                match resp.bytes().await {
                    Ok(body) => Failure::from_http(HttpFailure {
                        status,
                        headers,
                        body,
                    }),
                    Err(e) => transport(e, &seen),
                }
            }
            E2::Custom(m) if seen.not_logged_in => Failure::NotLoggedIn(m),
            E2::Custom(m) if seen.not_ready => Failure::NotReady(m),
            E2::Custom(m) => Failure::Other(m),
        }
    }

    /// An unsuccessful answer: [`Failure::RateLimited`] for a 429, else [`Failure::Http`].
    pub fn from_http(failure: HttpFailure) -> Self {
        if failure.status == 429 {
            Failure::RateLimited {
                rate_limit: failure.rate_limit(),
                failure: Box::new(failure),
            }
        } else {
            Failure::Http(Box::new(failure))
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Http(h) | Failure::RateLimited { failure: h, .. } => Some(h.status),
            Failure::Decode { status, .. } | Failure::TooLarge { status, .. } => *status,
            Failure::Renewal(e) => e.status,
            _ => None,
        }
    }

    /// The unsuccessful answer (status, headers, the body as received), when there was one.
    pub fn http(&self) -> Option<&HttpFailure> {
        match self {
            Failure::Http(h) | Failure::RateLimited { failure: h, .. } => Some(h),
            _ => None,
        }
    }

    /// What the server said about its rate limit, on a 429.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        match self {
            Failure::RateLimited { rate_limit, .. } => Some(rate_limit),
            _ => None,
        }
    }

    /// Whether sending the same request again may succeed (never decided for the caller:
    /// order placement must not be retried blindly). An unknown outcome is not transient: find
    /// out what happened first.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Timeout(_) | Failure::Connection(_) | Failure::RateLimited { .. } => true,
            Failure::Http(h) => matches!(h.status, 408 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Whether a state-changing request may have been carried out although this call failed.
    pub fn may_have_executed(&self) -> bool {
        matches!(self, Failure::OutcomeUnknown(_))
    }

    /// Whether only a new login can go on (the session cannot renew itself, or never logged
    /// in).
    pub fn login_required(&self) -> bool {
        match self {
            Failure::Renewal(e) => e.login_required,
            Failure::NotLoggedIn(_) => true,
            _ => false,
        }
    }
}

impl From<PathError> for Failure {
    fn from(e: PathError) -> Self {
        Failure::Path(e)
    }
}

impl From<AmountError> for Failure {
    fn from(e: AmountError) -> Self {
        Failure::Amount(e)
    }
}

impl From<RefreshError> for Failure {
    fn from(e: RefreshError) -> Self {
        Failure::Renewal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        let mut h = HeaderMap::new();
        let at = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert("retry-after", httpdate::fmt_http_date(at).parse().unwrap());
        let wait = RateLimit::from_headers(&h).retry_after.unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            RateLimit::from_headers(&h).retry_after,
            Some(Duration::ZERO)
        );
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(RateLimit::from_headers(&h).retry_after, None);
    }

    #[test]
    fn rate_limit_headers_are_read() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let r = RateLimit::from_headers(&h);
        assert_eq!(r.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(r.remaining, Some(0));
        assert_eq!(r.limit, None);
    }

    #[test]
    fn debug_redacts_credentials_and_display_truncates() {
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", "session=abc".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        let f = HttpFailure {
            status: 500,
            headers,
            body: Bytes::from("x".repeat(1000)),
        };
        let dbg = format!("{f:?}");
        assert!(
            !dbg.contains("abc") && dbg.contains("application/json"),
            "{dbg}"
        );
        assert!(f.to_string().chars().count() < 600);
        assert_eq!(f.body.len(), 1000, "the body is kept whole");
    }

    #[test]
    fn a_refused_path_parameter_arrives_typed_and_other_refusals_stay_strings() {
        let refusal = crate::path::segment("cancel_order", "order_id", "..").unwrap_err();
        let from_generated: progenitor_client::Error<()> = refusal.clone().into();
        match futures::executor::block_on(Failure::from_progenitor(from_generated)) {
            Failure::Path(e) => assert_eq!(e, refusal),
            other => panic!("{other:?}"),
        }
        let missing =
            progenitor_client::Error::<()>::InvalidRequest("x was not initialized".into());
        assert!(matches!(
            futures::executor::block_on(Failure::from_progenitor(missing)),
            Failure::InvalidRequest(m) if m == "x was not initialized"
        ));
    }
}
