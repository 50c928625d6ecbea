//! The vendor-independent part of a failed call: what every vendor error keeps so that
//! nothing is lost (status, headers, body) and nothing secret leaks.

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
/// How much of a body `Display` shows; the whole body stays in [`HttpFailure::body`].
const DISPLAY_BODY_LIMIT: usize = 300;

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

/// A body excerpt safe to print: at most [`DISPLAY_BODY_LIMIT`] characters.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(DISPLAY_BODY_LIMIT).collect();
    if text.chars().count() > DISPLAY_BODY_LIMIT {
        out.push('…');
    }
    out
}

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
            retry_after: num("retry-after").map(Duration::from_secs),
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Where a call failed, before any vendor meaning is given to it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The call was refused before sending (a required parameter was missing or invalid).
    InvalidRequest(String),
    /// No answer in time.
    Timeout(String),
    /// The connection failed or dropped before a full answer arrived.
    Connection(String),
    /// The server answered with a status the operation does not treat as success.
    Http(HttpFailure),
    /// A success status whose body does not match the spec.
    Decode {
        status: Option<u16>,
        body: Bytes,
        message: String,
    },
    /// Anything else the generated client reported (e.g. a hook's refusal).
    Other(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::InvalidRequest(m) => write!(f, "invalid request (not sent): {m}"),
            Failure::Timeout(m) => write!(f, "timed out: {m}"),
            Failure::Connection(m) => write!(f, "connection failed: {m}"),
            Failure::Http(h) => h.fmt(f),
            Failure::Decode {
                status,
                body,
                message,
            } => {
                write!(f, "unexpected response body")?;
                if let Some(s) = status {
                    write!(f, " (HTTP {s})")?;
                }
                write!(f, ": {message}; body: {}", excerpt(body))
            }
            Failure::Other(m) => f.write_str(m),
        }
    }
}

fn transport(e: &reqwest::Error) -> Failure {
    // reqwest's message names the URL, never headers: safe to keep.
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        Failure::Timeout(msg)
    } else {
        Failure::Connection(msg)
    }
}

impl Failure {
    /// Unpacks a generated client's error, reading the body of unexpected responses.
    pub async fn from_progenitor<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        use progenitor_client::Error as E2;
        match err {
            E2::InvalidRequest(m) => Failure::InvalidRequest(m),
            E2::CommunicationError(e) | E2::ResponseBodyError(e) => transport(&e),
            E2::InvalidUpgrade(e) => transport(&e),
            E2::ErrorResponse(rv) => {
                let status = rv.status().as_u16();
                let headers = rv.headers().clone();
                let body = serde_json::to_vec(rv.as_ref())
                    .map(Bytes::from)
                    .unwrap_or_default();
                Failure::Http(HttpFailure {
                    status,
                    headers,
                    body,
                })
            }
            E2::InvalidResponsePayload(body, e) => Failure::Decode {
                status: None,
                body,
                message: e.to_string(),
            },
            E2::UnexpectedResponse(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                match resp.bytes().await {
                    Ok(body) => Failure::Http(HttpFailure {
                        status,
                        headers,
                        body,
                    }),
                    Err(e) => transport(&e),
                }
            }
            E2::Custom(m) => Failure::Other(m),
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Http(h) => Some(h.status),
            Failure::Decode { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether sending the same request again may succeed (never decided for the caller:
    /// order placement must not be retried blindly).
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Timeout(_) | Failure::Connection(_) => true,
            Failure::Http(h) => matches!(h.status, 408 | 429 | 502 | 503 | 504),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(f.to_string().chars().count() < 320);
        assert_eq!(f.body.len(), 1000, "the body is kept whole");
    }
}
