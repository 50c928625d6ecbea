//! The one error type of the Slate client.
//!
//! Slate (FastAPI) answers failures in two shapes: 422 carries `HTTPValidationError`, a list of
//! invalid inputs each with its location (`["body", "amount"]`, `["query", "symbols", 0]`), and
//! every other documented error carries `{detail, error}`. [`Error`] sorts them by meaning
//! (validation, unauthorized, forbidden, not found, conflict, rate limited, other), keeps the
//! HTTP status, the headers and the whole body, and reads the `X-RateLimit-*` headers.
//!
//! Nothing secret is printed: `Display` and `Debug` never show request headers, and the
//! rejected `input` values of a 422 (which FastAPI echoes, passwords included) are kept out of
//! both; read them from [`FieldError::input`] when you need them.

use crate::claims::ClaimsError;
use brokerkit_runtime::failure::excerpt;
use brokerkit_runtime::{BrokerError, Failure, HttpFailure, RateLimit};
use serde_json::Value;
use std::fmt;

/// One segment of a validation error's location: a field name or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LocSegment {
    Field(String),
    Index(i64),
}

impl fmt::Display for LocSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocSegment::Field(s) => f.write_str(s),
            LocSegment::Index(i) => write!(f, "{i}"),
        }
    }
}

/// One invalid input of a 422 answer.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct FieldError {
    /// Where the input was, e.g. `[Field("body"), Field("amount")]`.
    pub location: Vec<LocSegment>,
    /// The server's message.
    pub message: String,
    /// The error type, e.g. `missing`, `greater_than_equal`.
    pub kind: String,
    /// The rejected value as echoed by the server (Pydantic v2). May be a secret: never
    /// printed by `Debug`.
    pub input: Option<Value>,
    /// Context of the error (e.g. the bound that was broken).
    pub context: Option<serde_json::Map<String, Value>>,
}

impl FieldError {
    /// The location as a dotted path, e.g. `body.amount` or `query.symbols.0`.
    pub fn path(&self) -> String {
        self.location
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Whether the error is about the field `name` (its last named location segment).
    pub fn is_field(&self, name: &str) -> bool {
        self.location.iter().rev().find_map(|s| match s {
            LocSegment::Field(f) => Some(f.as_str()),
            LocSegment::Index(_) => None,
        }) == Some(name)
    }

    fn from_value(v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        let location = obj
            .get("loc")
            .and_then(Value::as_array)
            .map(|segs| {
                segs.iter()
                    .map(|s| match s {
                        Value::Number(n) => n
                            .as_i64()
                            .map(LocSegment::Index)
                            .unwrap_or_else(|| LocSegment::Field(n.to_string())),
                        Value::String(s) => LocSegment::Field(s.clone()),
                        other => LocSegment::Field(other.to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(FieldError {
            location,
            message: obj
                .get("msg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            kind: obj
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            input: obj.get("input").cloned(),
            context: obj.get("ctx").and_then(Value::as_object).cloned(),
        })
    }
}

impl fmt::Debug for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldError")
            .field("location", &self.path())
            .field("message", &self.message)
            .field("kind", &self.kind)
            .field("input", &self.input.as_ref().map(|_| "<not shown>"))
            .finish_non_exhaustive()
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path(), self.message)
    }
}

/// A 422 answer: the request was well-formed HTTP but some inputs were invalid.
#[derive(Clone)]
#[non_exhaustive]
pub struct ValidationFailure {
    pub status: u16,
    /// Every invalid input, in the server's order.
    pub errors: Vec<FieldError>,
    pub rate_limit: RateLimit,
    /// The response as received. Its body echoes the inputs: do not log it.
    pub http: HttpFailure,
}

impl fmt::Debug for ValidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidationFailure")
            .field("status", &self.status)
            .field("errors", &self.errors)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

/// A documented error other than 422: `{detail, error}` when the body has that shape.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ApiFailure {
    pub status: u16,
    /// Human-readable message (`detail`), when the body had one.
    pub detail: Option<String>,
    /// Machine-readable code (`error`), when the body had one.
    pub code: Option<String>,
    /// `X-RateLimit-*` and `Retry-After`, when sent.
    pub rate_limit: RateLimit,
    /// The response as received: status, headers and the whole body.
    pub http: HttpFailure,
}

impl ApiFailure {
    fn summary(&self) -> String {
        match (&self.detail, &self.code) {
            (Some(d), Some(c)) => format!("{d} ({c})"),
            (Some(d), None) => d.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) if self.http.body.is_empty() => "no body".into(),
            (None, None) => excerpt(&self.http.body),
        }
    }
}

/// Everything that can go wrong in a Slate call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 422: invalid inputs, each with its location and message.
    #[error("HTTP {}: the server rejected the request's inputs: {}", .0.status, join(&.0.errors))]
    Validation(Box<ValidationFailure>),
    /// 401: missing, invalid, expired or revoked credentials. Log in again.
    #[error("HTTP {}: not authorized: {}; log in again", .0.status, .0.summary())]
    Unauthorized(Box<ApiFailure>),
    /// 403: valid credentials without the right scope, or a customer token used on a staff
    /// endpoint (or the reverse).
    #[error("HTTP {}: forbidden: {}; check the token type and scopes", .0.status, .0.summary())]
    Forbidden(Box<ApiFailure>),
    /// 404.
    #[error("HTTP {}: not found: {}", .0.status, .0.summary())]
    NotFound(Box<ApiFailure>),
    /// 409: a duplicate or a state mismatch.
    #[error("HTTP {}: conflict: {}", .0.status, .0.summary())]
    Conflict(Box<ApiFailure>),
    /// 429: slow down; [`ApiFailure::rate_limit`] says until when, when the server said.
    #[error("HTTP {}: rate limited: {}{}", .0.status, .0.summary(), retry_hint(&.0.rate_limit))]
    RateLimited(Box<ApiFailure>),
    /// Any other error status (400, 5xx…), with its body.
    #[error("HTTP {}: {}", .0.status, .0.summary())]
    Api(Box<ApiFailure>),
    /// The staff login needs a TOTP code (HTTP 202 `TOTP_REQUIRED`).
    #[error("a TOTP code is required for this login; send it with the password")]
    TotpRequired,
    /// The server's access token is not a readable JWT.
    #[error("the server returned an unreadable access token: {0}")]
    MalformedToken(#[from] ClaimsError),
    /// What every vendor shares: a timeout, a dropped connection, an unknown outcome, a
    /// body that does not decode, a failed renewal ([`BrokerError::login_required`] says when
    /// only a new login can go on), a call refused before sending (no login, a bad id or
    /// amount).
    #[error(transparent)]
    Failure(Failure),
}

fn join(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return "no details".into();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn retry_hint(r: &RateLimit) -> String {
    match (r.retry_after, r.reset) {
        (Some(d), _) => format!("; retry after {} s", d.as_secs()),
        (None, Some(reset)) => format!("; limit resets in {reset} s"),
        _ => String::new(),
    }
}

impl Error {
    /// Sorts an HTTP error answer by status and reads its body.
    pub fn from_http(http: HttpFailure) -> Self {
        let rate_limit = http.rate_limit();
        let status = http.status;
        let body: Option<Value> = serde_json::from_slice(&http.body).ok();
        if status == 422 {
            if let Some(items) = body
                .as_ref()
                .and_then(|b| b.get("detail"))
                .and_then(Value::as_array)
            {
                let errors = items.iter().filter_map(FieldError::from_value).collect();
                return Error::Validation(Box::new(ValidationFailure {
                    status,
                    errors,
                    rate_limit,
                    http,
                }));
            }
        }
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let api = Box::new(ApiFailure {
            status,
            detail: field("detail"),
            code: field("error"),
            rate_limit,
            http,
        });
        match status {
            401 => Error::Unauthorized(api),
            403 => Error::Forbidden(api),
            404 => Error::NotFound(api),
            409 => Error::Conflict(api),
            429 => Error::RateLimited(api),
            _ => Error::Api(api),
        }
    }

    /// Converts a generated client's error, reading the body of undocumented answers.
    pub async fn from_progenitor<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        Self::from_failure(Failure::from_progenitor(err).await)
    }

    /// Gives a runtime failure its Slate meaning.
    pub fn from_failure(failure: Failure) -> Self {
        match failure {
            Failure::Http(h) | Failure::RateLimited { failure: h, .. } => Error::from_http(*h),
            other => Error::Failure(other),
        }
    }

    /// The invalid inputs of a 422 answer (empty for any other error).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Validation(v) => &v.errors,
            _ => &[],
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Error::from_failure(f)
    }
}

brokerkit_runtime::failure_conversions!(Error);

impl BrokerError for Error {
    fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Failure(f) => Some(f),
            _ => None,
        }
    }

    fn http(&self) -> Option<&HttpFailure> {
        match self {
            Error::Validation(v) => Some(&v.http),
            Error::Unauthorized(a)
            | Error::Forbidden(a)
            | Error::NotFound(a)
            | Error::Conflict(a)
            | Error::RateLimited(a)
            | Error::Api(a) => Some(&a.http),
            Error::Failure(f) => f.http(),
            _ => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Error::TotpRequired => Some(202),
            _ => self
                .http()
                .map(|h| h.status)
                .or_else(|| self.failure().and_then(Failure::status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use serde_json::json;

    fn failure(status: u16, body: Value, headers: &[(&'static str, &str)]) -> HttpFailure {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        HttpFailure {
            status,
            headers: h,
            body: Bytes::from(serde_json::to_vec(&body).unwrap()),
        }
    }

    #[test]
    fn a_422_lists_every_location_and_hides_inputs() {
        let body = json!({"detail": [
            {"loc": ["body", "password"], "msg": "String should have at least 8 characters", "type": "string_too_short", "input": "hunter2"},
            {"loc": ["query", "symbols", 0], "msg": "Field required", "type": "missing"}
        ]});
        let e = Error::from_http(failure(422, body, &[]));
        let errs = e.field_errors();
        assert_eq!(errs.len(), 2);
        assert_eq!(
            errs[0].location,
            [
                LocSegment::Field("body".into()),
                LocSegment::Field("password".into())
            ]
        );
        assert!(errs[0].is_field("password"));
        assert_eq!(errs[1].path(), "query.symbols.0");
        assert_eq!(errs[1].location[2], LocSegment::Index(0));
        assert_eq!(errs[0].input, Some(json!("hunter2")));
        let shown = format!("{e} {e:?}");
        assert!(
            shown.contains("body.password: String should have at least 8 characters"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn error_bodies_are_sorted_by_status_with_rate_limits() {
        let e = Error::from_http(failure(
            429,
            json!({"detail": "Rate limit exceeded", "error": "rate_limited"}),
            &[
                ("x-ratelimit-limit", "300"),
                ("x-ratelimit-remaining", "0"),
                ("retry-after", "12"),
            ],
        ));
        let Error::RateLimited(a) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(a.code.as_deref(), Some("rate_limited"));
        assert_eq!(e.rate_limit().unwrap().limit, Some(300));
        assert_eq!(e.rate_limit().unwrap().remaining, Some(0));
        assert!(e.to_string().contains("retry after 12 s"), "{e}");
        assert!(e.is_transient());
        assert!(matches!(
            Error::from_http(failure(401, json!({"detail": "x"}), &[])),
            Error::Unauthorized(_)
        ));
        assert!(matches!(
            Error::from_http(failure(409, json!({"detail": "x"}), &[])),
            Error::Conflict(_)
        ));
        let plain = Error::from_http(HttpFailure {
            status: 502,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"<html>bad gateway</html>"),
        });
        assert!(matches!(&plain, Error::Api(a) if a.detail.is_none()));
        assert_eq!(plain.status(), Some(502));
        assert!(plain.to_string().contains("bad gateway"));
    }
}
