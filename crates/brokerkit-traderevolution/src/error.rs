//! The one error type of this crate. A failed call keeps the HTTP status and the raw body; the
//! BackOffice's dotted error code (`1.2.0.11`, `2.147.1.27`…) is pulled out of the body and
//! given its known meaning; a 429 becomes [`Error::RateLimited`]. No variant prints a secret.

use brokerkit_runtime::failure::excerpt;
use brokerkit_runtime::{BrokerError, Failure, HttpFailure};

use std::fmt;
use std::time::Duration;

/// A BackOffice error code: dot-separated numbers such as `1.6.2.2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorCode(String);

/// The error codes whose meaning public sources document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KnownCode {
    /// `1.2.0.11`: wrong login or password on `POST /auth/token`.
    BadCredentials,
    /// `2.0.2.4`: the user has no REST API access.
    NoApiAccess,
    /// `1.6.2.2`: a report needs a filter that was not supplied (HTTP 406).
    ReportFilterMissing,
    /// `2.147.1.27`: rate limited (HTTP 429).
    RateLimited,
}

impl KnownCode {
    pub const ALL: [KnownCode; 4] = [
        Self::BadCredentials,
        Self::NoApiAccess,
        Self::ReportFilterMissing,
        Self::RateLimited,
    ];

    /// The dotted code.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadCredentials => "1.2.0.11",
            Self::NoApiAccess => "2.0.2.4",
            Self::ReportFilterMissing => "1.6.2.2",
            Self::RateLimited => "2.147.1.27",
        }
    }

    /// What the code means.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::BadCredentials => "wrong login or password",
            Self::NoApiAccess => "the user has no REST API access",
            Self::ReportFilterMissing => "the report needs a filter that was not supplied",
            Self::RateLimited => "too many requests for this token",
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Self::BadCredentials => "check the login and password",
            Self::NoApiAccess => {
                "ask the broker to grant this user REST API access in the BackOffice"
            }
            Self::ReportFilterMissing => "pass the filter the report requires (e.g. an account id)",
            Self::RateLimited => {
                "slow down: repeated violations block the token for several seconds"
            }
        }
    }
}

impl ErrorCode {
    /// Accepts a code of at least two dot-separated groups of digits.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let groups: Vec<&str> = text.split('.').collect();
        let ok = groups.len() >= 2
            && groups
                .iter()
                .all(|g| !g.is_empty() && g.len() <= 6 && g.bytes().all(|b| b.is_ascii_digit()));
        ok.then(|| Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The documented code this is, if any.
    pub fn known(&self) -> Option<KnownCode> {
        KnownCode::ALL.into_iter().find(|k| k.code() == self.0)
    }

    /// The documented meaning, if the code is a known one. `Session::describe_error` asks the
    /// server about any code.
    pub fn meaning(&self) -> Option<&'static str> {
        self.known().map(KnownCode::meaning)
    }
}

impl From<KnownCode> for ErrorCode {
    fn from(k: KnownCode) -> Self {
        Self(k.code().to_string())
    }
}

impl PartialEq<KnownCode> for ErrorCode {
    fn eq(&self, other: &KnownCode) -> bool {
        self.0 == other.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)?;
        if let Some(m) = self.meaning() {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

/// The server answered with an error status (other than 429).
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: u16,
    /// The dotted error code found in the body, if any.
    pub code: Option<ErrorCode>,
    /// The server's message, if the body carries one.
    pub message: Option<String>,
    /// Status, headers and the raw body as received.
    pub http: HttpFailure,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the BackOffice refused the call (HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        f.write_str(")")?;
        match (&self.message, self.http.body.is_empty()) {
            (Some(m), _) => write!(f, ": {}", excerpt(m.as_bytes()))?,
            (None, false) => write!(f, ": {}", excerpt(&self.http.body))?,
            (None, true) => {}
        }
        let hint = match (self.code.as_ref().and_then(ErrorCode::known), self.status) {
            (Some(k), _) => Some(k.hint()),
            (None, 401) => Some("the token is missing, expired or revoked: log in again"),
            (None, 404) => Some("check the id"),
            (None, 406) => Some("a parameter value was not accepted"),
            _ => None,
        };
        if let Some(h) = hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

/// The server answered 429: too many requests for this token.
#[derive(Clone, Debug)]
pub struct RateLimited {
    /// Usually `2.147.1.27`.
    pub code: Option<ErrorCode>,
    /// From `Retry-After`, when the server sends it.
    pub retry_after: Option<Duration>,
    pub http: HttpFailure,
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rate limited by the BackOffice (HTTP 429")?;
        if let Some(code) = &self.code {
            write!(f, ", code {}", code.as_str())?;
        }
        f.write_str("): ")?;
        match self.retry_after {
            Some(d) => write!(f, "wait {} s", d.as_secs())?,
            None => f.write_str("wait a few seconds")?,
        }
        f.write_str(
            " and send fewer requests; repeated violations block the token for several seconds",
        )
    }
}

/// Everything a call through this crate can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error status with the vendor's error body (code, message).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// HTTP 429.
    #[error("{0}")]
    RateLimited(Box<RateLimited>),
    /// A verified one-time or PFIX token is expired, already used or unknown.
    #[error("the token is not valid (expired, already used or unknown)")]
    InvalidToken,
    /// What every vendor shares: a timeout, a dropped connection, an unknown outcome, a
    /// body that does not decode, a failed renewal, a call refused before sending (no login,
    /// a bad id or amount).
    #[error(transparent)]
    Failure(Failure),
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Error::from_failure(f)
    }
}

brokerkit_runtime::failure_conversions!(Error);

impl Error {
    /// Converts an error of the generated client. Error answers reach it undecoded, so status,
    /// headers and body are kept as sent; inside [`Session::call`](crate::Session::call) the
    /// hooks' refusals (not logged in, refresh failed) and the status of an undecodable answer
    /// are typed too.
    pub async fn from_generated<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        Self::from_failure(Failure::from_progenitor(err).await)
    }

    /// Gives a runtime failure its TraderEvolution meaning.
    pub fn from_failure(failure: Failure) -> Self {
        match failure {
            Failure::Http(h) | Failure::RateLimited { failure: h, .. } => Self::from_http(*h),
            other => Error::Failure(other),
        }
    }

    fn from_http(http: HttpFailure) -> Self {
        let json: Option<serde_json::Value> = http.json();
        let code = match &json {
            Some(v) => find_code(v),
            None => find_code_in_text(&http.body[..http.body.len().min(TEXT_SEARCH_LIMIT)]),
        };
        if http.status == 429 {
            let retry_after = http.rate_limit().retry_after;
            return Error::RateLimited(Box::new(RateLimited {
                code,
                retry_after,
                http,
            }));
        }
        let message = json.as_ref().and_then(find_message);
        Error::Api(Box::new(ApiError {
            status: http.status,
            code,
            message,
            http,
        }))
    }

    /// The BackOffice error code, when the answer carried one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Api(e) => e.code.as_ref(),
            Error::RateLimited(e) => e.code.as_ref(),
            _ => None,
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
            Error::Api(e) => Some(&e.http),
            Error::RateLimited(e) => Some(&e.http),
            Error::Failure(f) => f.http(),
            _ => None,
        }
    }
}

const CODE_KEYS: &[&str] = &[
    "errorCode",
    "code",
    "errorId",
    "error_code",
    "errorcode",
    "id",
    "error",
];
const MESSAGE_KEYS: &[&str] = &[
    "message",
    "errorMessage",
    "error_description",
    "description",
    "error",
    "text",
    "msg",
];

/// The dotted code of an error body: first under a usual key, then anywhere in it.
pub(crate) fn find_code(v: &serde_json::Value) -> Option<ErrorCode> {
    if let Some(map) = v.as_object() {
        for key in CODE_KEYS {
            if let Some(code) = map
                .get(*key)
                .and_then(serde_json::Value::as_str)
                .and_then(ErrorCode::parse)
            {
                return Some(code);
            }
        }
    }
    match v {
        serde_json::Value::String(s) => ErrorCode::parse(s),
        serde_json::Value::Array(items) => items.iter().find_map(find_code),
        serde_json::Value::Object(map) => map.values().find_map(find_code),
        _ => None,
    }
}

/// How much of a body that is not JSON is searched for a dotted code: servers put it near the
/// start, and searching a huge HTML error page whole would cost seconds of CPU.
const TEXT_SEARCH_LIMIT: usize = 4096;

/// A code of four dot-separated groups inside free text (a body that is not JSON).
fn find_code_in_text(bytes: &[u8]) -> Option<ErrorCode> {
    String::from_utf8_lossy(bytes)
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .find(|t| t.split('.').count() == 4)
        .and_then(ErrorCode::parse)
}

fn find_message(v: &serde_json::Value) -> Option<String> {
    let map = v.as_object()?;
    MESSAGE_KEYS
        .iter()
        .filter_map(|k| map.get(*k).and_then(serde_json::Value::as_str))
        .find(|m| !m.is_empty() && ErrorCode::parse(m).is_none())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn only_the_start_of_a_text_body_is_searched() {
        let fail = |body: Vec<u8>| HttpFailure {
            status: 500,
            headers: Default::default(),
            body: Bytes::from(body),
        };
        let mut near = b"<html>error 1.2.0.11</html>".to_vec();
        near.extend(std::iter::repeat_n(b'x', 8 << 20));
        assert_eq!(
            Error::from_http(fail(near)).code().unwrap().known(),
            Some(KnownCode::BadCredentials)
        );
        let mut far = vec![b'x'; 2 * TEXT_SEARCH_LIMIT];
        far.extend_from_slice(b" 1.2.0.11");
        assert!(Error::from_http(fail(far)).code().is_none());
    }

    #[test]
    fn codes_are_found_under_any_key_or_in_text() {
        assert_eq!(
            find_code(&json!({"errorCode": "1.2.0.11"})).unwrap(),
            KnownCode::BadCredentials
        );
        assert_eq!(
            find_code(&json!({"status": 406, "details": {"code": "1.6.2.2"}})).unwrap(),
            KnownCode::ReportFilterMissing
        );
        assert_eq!(
            find_code(&json!({"message": "no code here", "status": 500})),
            None
        );
        assert_eq!(
            find_code_in_text(b"Error 2.147.1.27: slow down").unwrap(),
            KnownCode::RateLimited
        );
        assert_eq!(find_code_in_text(b"price 1.5 is bad"), None);
        assert!(ErrorCode::parse("1.x.2").is_none());
        assert_eq!(ErrorCode::parse("9.9.9.9").unwrap().meaning(), None);
    }

    #[test]
    fn display_names_the_meaning_and_what_to_do() {
        let http = HttpFailure {
            status: 401,
            headers: Default::default(),
            body: Bytes::from_static(br#"{"errorCode":"1.2.0.11"}"#),
        };
        let e = Error::from_http(http);
        assert_eq!(e.code().unwrap().known(), Some(KnownCode::BadCredentials));
        let text = e.to_string();
        assert!(
            text.contains("HTTP 401")
                && text.contains("wrong login or password")
                && text.contains("check the login"),
            "{text}"
        );
    }

    #[test]
    fn decode_errors_do_not_print_the_body() {
        let e = Error::Failure(Failure::Decode {
            status: Some(200),
            headers: Default::default(),
            body: brokerkit_runtime::Body::new(Bytes::from_static(b"{\"accessToken\":\"tok-123\"")),
            message: "EOF".into(),
        });
        assert!(!format!("{e} {e:?}").contains("tok-123"));
    }
}
