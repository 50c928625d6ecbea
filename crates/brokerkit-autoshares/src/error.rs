//! The one error type of the AutoShares client.
//!
//! AutoShares has no single error envelope: the app-key check answers `{"error":…}`, the
//! token check and bad requests `{"Message":…}` (plus `ModelState` for validation), unhandled
//! errors `{"message":…,"error":…}`, the login `{"State":"Failed","Step":…,"Reason":…}`,
//! registration `{"Errors":[…],"Reason":…}`; the password-reset steps and order verification
//! even report failures with HTTP 200. [`Error`] gives each of them a variant, and every
//! variant built from a response keeps its status, headers and raw body ([`HttpFailure`]).

use brokerkit_runtime::{BrokerError, Failure, HttpFailure};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A business rejection: the server answered 200 but `IsSuccessful` was false.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderRejection {
    /// The rejection code (`ErrorDescription`), e.g. `DayTradingBuyingPowerExceeded`.
    pub code: String,
    /// The readable text (`ErrorDescriptionText`), when sent.
    pub text: Option<String>,
    /// The arguments of the text (`ErrorDescriptionArgs`).
    pub args: Vec<String>,
    /// The HTTP status (200).
    pub status: u16,
}

/// The parsed body of a failed response, whichever of AutoShares' shapes it has.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorBody {
    /// `{"error": …}`: the app key was refused.
    AppKey { error: String },
    /// `{"Message": …, "ModelState"?: {…}}`.
    Message {
        message: String,
        model_state: BTreeMap<String, Vec<String>>,
    },
    /// `{"message": …, "error"?: …}`: an unhandled server error.
    Server {
        message: String,
        error: Option<String>,
    },
    /// `{"State": "Failed", "Step": …, "Reason": …}`: a failed login.
    Login {
        step: Option<String>,
        reason: Option<String>,
    },
    /// `{"Errors": […], "Reason": …}`: a refused registration.
    Registration {
        reason: Option<String>,
        errors: Vec<String>,
    },
    /// Anything else (including an empty or non-JSON body).
    Unknown,
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(rename = "Message")]
    message_upper: Option<String>,
    #[serde(rename = "ModelState")]
    model_state: Option<BTreeMap<String, Vec<String>>>,
    message: Option<String>,
    error: Option<String>,
    #[serde(rename = "State")]
    state: Option<String>,
    #[serde(rename = "Step")]
    step: Option<String>,
    #[serde(rename = "Reason")]
    reason: Option<String>,
    #[serde(rename = "Errors")]
    errors: Option<Vec<String>>,
}

impl ErrorBody {
    /// Recognises the shape of `body`.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(raw) = serde_json::from_slice::<RawBody>(body) else {
            return ErrorBody::Unknown;
        };
        if raw.state.is_some() && (raw.step.is_some() || raw.reason.is_some()) {
            return ErrorBody::Login {
                step: raw.step,
                reason: raw.reason,
            };
        }
        if let Some(errors) = raw.errors {
            return ErrorBody::Registration {
                reason: raw.reason,
                errors,
            };
        }
        if let Some(message) = raw.message_upper {
            return ErrorBody::Message {
                message,
                model_state: raw.model_state.unwrap_or_default(),
            };
        }
        if let Some(message) = raw.message {
            return ErrorBody::Server {
                message,
                error: raw.error,
            };
        }
        if let Some(error) = raw.error {
            return ErrorBody::AppKey { error };
        }
        ErrorBody::Unknown
    }

    fn message(&self) -> Option<String> {
        match self {
            ErrorBody::AppKey { error } => Some(error.clone()),
            ErrorBody::Message { message, .. } | ErrorBody::Server { message, .. } => {
                Some(message.clone())
            }
            ErrorBody::Login { reason, .. } | ErrorBody::Registration { reason, .. } => {
                reason.clone()
            }
            ErrorBody::Unknown => None,
        }
    }
}

/// Everything an AutoShares call can fail with. No variant holds a credential, and the
/// `Display` of each says what happened and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `POST /token` answered 401: the login failed at `step` (`BaseAuthentication` means a
    /// wrong user name or password, `VerificationCode` / `SecutityPin` a wrong or missing
    /// second factor).
    #[error("login failed at step {}: {}", step.as_deref().unwrap_or("?"), reason.as_deref().unwrap_or("no reason given"))]
    LoginFailed {
        step: Option<String>,
        reason: Option<String>,
        failure: Box<HttpFailure>,
    },
    /// The `Et-App-Key` is missing or unknown (`{"error": …}`, HTTP 403 — or 401 on some
    /// deployments): check the key from the back office.
    #[error("the app key was refused ({message}); check the Et-App-Key from the back office (HTTP {})", failure.status)]
    AppKey {
        message: String,
        failure: Box<HttpFailure>,
    },
    /// HTTP 401 outside login: the token expired, was revoked, or may not see this resource
    /// (e.g. another user's account). Log in again, or install a re-login hook.
    #[error("not authorized: {message} (HTTP 401); the token expired, was revoked or may not access this resource: log in again")]
    Unauthorized {
        message: String,
        failure: Box<HttpFailure>,
    },
    /// The login asks for another factor that the caller must answer (see
    /// [`Login::Challenge`](crate::Login)); returned where no challenge can be answered,
    /// e.g. by an automatic re-login.
    #[error("the login needs a second factor ({step}); answer the challenge")]
    SecondFactorRequired { step: String },
    /// The order (or replacement) was refused: HTTP 200 with `IsSuccessful: false`.
    #[error("order rejected: {} {}{}", .0.code, .0.text.as_deref().unwrap_or(""), if .0.args.is_empty() { String::new() } else { format!(" ({})", .0.args.join(", ")) })]
    Rejected(OrderRejection),
    /// A password-reset step answered 200 with `IsSucceed: false`.
    #[error("refused: {}", if errors.is_empty() { "no reason given".to_string() } else { errors.join("; ") })]
    Refused {
        errors: Vec<String>,
        codes: Vec<String>,
        status: u16,
        body: Bytes,
    },
    /// Registration refused (HTTP 409, `{"Errors":[…],"Reason":…}`).
    #[error("registration refused ({}): {}", reason.as_deref().unwrap_or("no reason"), errors.join("; "))]
    RegistrationFailed {
        reason: Option<String>,
        errors: Vec<String>,
        failure: Box<HttpFailure>,
    },
    /// Model validation failed (HTTP 400 or 422 with `ModelState`); `fields` maps each field
    /// to its messages.
    #[error("validation failed: {message} {fields:?} (HTTP {})", failure.status)]
    Validation {
        message: String,
        fields: BTreeMap<String, Vec<String>>,
        failure: Box<HttpFailure>,
    },
    /// HTTP 400: the request is invalid (a bad id, `@me` for an account, a bad filter).
    #[error("bad request: {message} (HTTP 400)")]
    BadRequest {
        message: String,
        failure: Box<HttpFailure>,
    },
    /// HTTP 404: unknown security, or no route matched (often a missing parameter).
    #[error("not found: {message} (HTTP 404)")]
    NotFound {
        message: String,
        failure: Box<HttpFailure>,
    },
    /// HTTP 409: the platform could not do it (e.g. an OMS error).
    #[error("conflict: {} (HTTP 409)", message.as_deref().unwrap_or("no message"))]
    Conflict {
        message: Option<String>,
        failure: Box<HttpFailure>,
    },
    /// HTTP 5xx.
    #[error("server error: {} (HTTP {})", message.as_deref().unwrap_or("no message"), failure.status)]
    Server {
        message: Option<String>,
        failure: Box<HttpFailure>,
    },
    /// A paged list misbehaved (a page repeated, more items than announced): the stream ends
    /// here instead of asking forever.
    #[error("AutoShares paging stopped at page {page}: {reason}")]
    Paging { page: i32, reason: String },
    /// A filter could not be built safely.
    #[error(transparent)]
    Filter(#[from] crate::filter::FilterError),
    /// What every vendor shares: a timeout, a dropped connection, an unknown outcome, a
    /// body that does not decode, a 429, any other unsuccessful status, a failed or
    /// impossible renewal (an expired session without a re-login hook), a call refused before
    /// sending (no login, no app key, a bad id or amount).
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
    /// Unpacks an error of the generated client. Error answers reach it undecoded, so the
    /// status, headers and body are kept exactly as the server sent them.
    pub async fn from_client<E: serde::Serialize>(err: progenitor_client::Error<E>) -> Self {
        Self::from_failure(Failure::from_progenitor(err).await)
    }

    /// Gives a runtime failure its AutoShares meaning.
    pub fn from_failure(failure: Failure) -> Self {
        match failure {
            Failure::Http(h) => Self::from_http(*h),
            other => Error::Failure(other),
        }
    }

    /// Gives a failed response its AutoShares meaning, from its status and body shape.
    pub fn from_http(failure: HttpFailure) -> Self {
        let failure = Box::new(failure);
        let body = ErrorBody::parse(&failure.body);
        let message = body.message();
        let fallback = || {
            message
                .clone()
                .unwrap_or_else(|| failure.body_text().chars().take(200).collect())
        };
        match (failure.status, body) {
            (_, ErrorBody::AppKey { error }) if matches!(failure.status, 401 | 403) => {
                Error::AppKey {
                    message: error,
                    failure,
                }
            }
            (401, ErrorBody::Login { step, reason }) => Error::LoginFailed {
                step,
                reason,
                failure,
            },
            (401, _) => Error::Unauthorized {
                message: fallback(),
                failure,
            },
            (403, _) => Error::AppKey {
                message: fallback(),
                failure,
            },
            (
                400 | 422,
                ErrorBody::Message {
                    message,
                    model_state,
                },
            ) if !model_state.is_empty() => Error::Validation {
                message,
                fields: model_state,
                failure,
            },
            (422, _) => Error::Validation {
                message: fallback(),
                fields: BTreeMap::new(),
                failure,
            },
            (400, _) => Error::BadRequest {
                message: fallback(),
                failure,
            },
            (404, _) => Error::NotFound {
                message: fallback(),
                failure,
            },
            (409, ErrorBody::Registration { reason, errors }) => Error::RegistrationFailed {
                reason,
                errors,
                failure,
            },
            (409, _) => Error::Conflict { message, failure },
            (500..=599, _) => Error::Server { message, failure },
            _ => Error::Failure(Failure::from_http(*failure)),
        }
    }

    /// The body the server sent, when there was one.
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            Error::Refused { body, .. } => Some(body),
            Error::Failure(Failure::Decode { body, .. }) => Some(body.bytes()),
            _ => self.http().map(|h| &h.body),
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
            Error::LoginFailed { failure, .. }
            | Error::AppKey { failure, .. }
            | Error::Unauthorized { failure, .. }
            | Error::RegistrationFailed { failure, .. }
            | Error::Validation { failure, .. }
            | Error::BadRequest { failure, .. }
            | Error::NotFound { failure, .. }
            | Error::Conflict { failure, .. }
            | Error::Server { failure, .. } => Some(failure),
            Error::Failure(f) => f.http(),
            _ => None,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Error::Rejected(r) => Some(r.status),
            Error::Refused { status, .. } => Some(*status),
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

    fn fail(status: u16, body: &str) -> HttpFailure {
        HttpFailure {
            status,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn each_shape_gets_its_variant() {
        let e = Error::from_http(fail(
            403,
            r#"{"error":"Application key is not defined or does not exist"}"#,
        ));
        assert!(matches!(e, Error::AppKey { .. }), "{e:?}");
        let e = Error::from_http(fail(
            401,
            r#"{"error":"Application key is not defined or does not exist"}"#,
        ));
        assert!(matches!(e, Error::AppKey { .. }), "{e:?}");
        let e = Error::from_http(fail(
            401,
            r#"{"Message":"Authorization has been denied for this request."}"#,
        ));
        assert!(
            matches!(&e, Error::Unauthorized { message, .. } if message.contains("denied")),
            "{e:?}"
        );
        let e = Error::from_http(fail(
            422,
            r#"{"Message":"Validation error","ModelState":{"m.Symbol":["required"]}}"#,
        ));
        assert!(
            matches!(&e, Error::Validation { fields, .. } if fields["m.Symbol"] == vec!["required".to_string()]),
            "{e:?}"
        );
        let e = Error::from_http(fail(
            500,
            r#"{"message":"An error occurred","error":"Unexpected server error"}"#,
        ));
        assert!(
            matches!(&e, Error::Server { message: Some(m), .. } if m == "An error occurred"),
            "{e:?}"
        );
        let e = Error::from_http(fail(
            409,
            r#"{"Errors":["Email was not set."],"Reason":"SchemaValidationFail"}"#,
        ));
        assert!(
            matches!(&e, Error::RegistrationFailed { reason: Some(r), .. } if r == "SchemaValidationFail"),
            "{e:?}"
        );
        let e = Error::from_http(fail(
            401,
            r#"{"State":"Failed","Step":"BaseAuthentication","Reason":"Invalid credentials"}"#,
        ));
        assert!(
            matches!(&e, Error::LoginFailed { step: Some(s), .. } if s == "BaseAuthentication"),
            "{e:?}"
        );
        let e = Error::from_http(fail(502, "<html>bad gateway</html>"));
        assert!(
            matches!(&e, Error::Server { message: None, .. }) && e.is_transient(),
            "{e:?}"
        );
        assert_eq!(e.body().unwrap().as_ref(), b"<html>bad gateway</html>");
        assert_eq!(e.status(), Some(502));
    }
}
