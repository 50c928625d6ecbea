//! The claims inside a Slate access token, read **without verifying the signature**.
//!
//! Slate's customer login returns a JWT whose payload says what kind of principal it is
//! (`type`: `customer` or `user`) and, for customers, the login of the primary trading
//! account. The client only needs those facts to route calls; it does not hold the broker's
//! signing key and could not check the signature anyway. So this module base64url-decodes the
//! payload segment and reads it as JSON, nothing more.
//!
//! **Nothing here is verified.** A token the client made up itself would decode just as well.
//! Never use these claims for an access decision: only the server, which checks the
//! signature, may decide what a token allows.
//!
//! The claim that carries the trading-account login is not documented by the vendor. The
//! decoder reads `login` (our assumption) and falls back to a few likely spellings
//! (`account_login`, `primary_login`, `trading_account_login`); it accepts a string or a
//! number. Every claim stays available in [`UnverifiedClaims::raw`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Claim names tried, in order, for the primary trading-account login.
const LOGIN_CLAIMS: &[&str] = &[
    "login",
    "account_login",
    "primary_login",
    "trading_account_login",
];

/// What kind of principal a token stands for (`type` claim).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenType {
    /// A customer (trader): accepted by customer endpoints only.
    Customer,
    /// A staff user: accepted by CRM and back-office endpoints only.
    User,
    /// A value this client does not know.
    Other(String),
}

impl TokenType {
    fn from_claim(s: &str) -> Self {
        match s {
            "customer" => TokenType::Customer,
            "user" => TokenType::User,
            other => TokenType::Other(other.to_string()),
        }
    }
}

/// Claims decoded from an access token. **Unverified**: see the module documentation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UnverifiedClaims {
    /// The `type` claim, when present.
    pub token_type: Option<TokenType>,
    /// The customer's primary trading-account login (see the module documentation for the
    /// claim names read).
    pub primary_login: Option<String>,
    /// The `sub` claim (for customers, presumably the customer id).
    pub subject: Option<String>,
    /// The `exp` claim.
    pub expires_at: Option<SystemTime>,
    /// The `iat` claim.
    pub issued_at: Option<SystemTime>,
    /// The session id (`sid` or `session_id`), needed to revoke the session.
    pub session_id: Option<String>,
    /// Every claim as sent.
    pub raw: Map<String, Value>,
}

/// Why a token's claims could not be read. Never contains the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    #[error("the access token is not a JWT (expected three dot-separated segments, found {0})")]
    NotAJwt(usize),
    #[error("the access token's payload is not base64url")]
    NotBase64,
    #[error("the access token's payload is not a JSON object")]
    NotJson,
}

impl UnverifiedClaims {
    /// Decodes the payload segment of `token`. The signature is **not** checked.
    pub fn decode(token: &str) -> Result<Self, ClaimsError> {
        let segments: Vec<&str> = token.trim().split('.').collect();
        if segments.len() != 3 {
            return Err(ClaimsError::NotAJwt(segments.len()));
        }
        // Some encoders pad; the JWT spec says they must not. Accept both.
        let payload = segments[1].trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ClaimsError::NotBase64)?;
        let raw: Map<String, Value> = match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => m,
            _ => return Err(ClaimsError::NotJson),
        };
        Ok(Self::from_map(raw))
    }

    fn from_map(raw: Map<String, Value>) -> Self {
        let text = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let time = |name: &str| {
            let v = raw.get(name)?;
            let secs = v.as_u64().or_else(|| {
                v.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })?;
            UNIX_EPOCH.checked_add(Duration::from_secs(secs))
        };
        Self {
            token_type: raw
                .get("type")
                .and_then(Value::as_str)
                .map(TokenType::from_claim),
            primary_login: LOGIN_CLAIMS.iter().find_map(|k| raw.get(*k).and_then(text)),
            subject: raw.get("sub").and_then(text),
            expires_at: time("exp"),
            issued_at: time("iat"),
            session_id: raw
                .get("sid")
                .or_else(|| raw.get("session_id"))
                .and_then(text),
            raw,
        }
    }

    /// Whether `exp` has passed (false when the token has no `exp`).
    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= SystemTime::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(payload: Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!(
            "{}.{}.{}",
            enc(&json!({"alg": "HS256", "typ": "JWT"})),
            enc(&payload),
            URL_SAFE_NO_PAD.encode(b"sig")
        )
    }

    #[test]
    fn reads_type_login_subject_and_times() {
        let c = UnverifiedClaims::decode(&jwt(json!({
            "type": "customer", "login": 100001, "sub": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            "exp": 1_700_000_900u64, "iat": 1_700_000_000u64, "sid": "s-1"
        })))
        .unwrap();
        assert_eq!(c.token_type, Some(TokenType::Customer));
        assert_eq!(
            c.primary_login.as_deref(),
            Some("100001"),
            "a numeric login becomes text"
        );
        assert_eq!(
            c.subject.as_deref(),
            Some("3c90c3cc-0d44-4b50-8888-8dd25736052a")
        );
        assert_eq!(
            c.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_900))
        );
        assert_eq!(
            c.issued_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(c.session_id.as_deref(), Some("s-1"));
        assert!(c.is_expired(), "2023 is in the past");
    }

    #[test]
    fn falls_back_to_other_login_claims_and_keeps_unknown_types() {
        let c = UnverifiedClaims::decode(&jwt(json!({"type": "robot", "account_login": "77"})))
            .unwrap();
        assert_eq!(c.token_type, Some(TokenType::Other("robot".into())));
        assert_eq!(c.primary_login.as_deref(), Some("77"));
        assert_eq!(c.expires_at, None);
        assert!(!c.is_expired());
        let u = UnverifiedClaims::decode(&jwt(json!({"type": "user"}))).unwrap();
        assert_eq!(u.token_type, Some(TokenType::User));
        assert_eq!(u.primary_login, None);
    }

    #[test]
    fn the_signature_is_not_checked() {
        let token = jwt(json!({"type": "customer"}));
        let forged = format!("{}.AAAA", token.rsplit_once('.').unwrap().0);
        assert_eq!(
            UnverifiedClaims::decode(&forged).unwrap().token_type,
            Some(TokenType::Customer)
        );
    }

    #[test]
    fn malformed_tokens_are_typed_errors_without_the_token() {
        assert_eq!(
            UnverifiedClaims::decode("opaque-secret-token"),
            Err(ClaimsError::NotAJwt(1))
        );
        assert_eq!(
            UnverifiedClaims::decode("a.%%%.c"),
            Err(ClaimsError::NotBase64)
        );
        let not_json = format!("a.{}.c", URL_SAFE_NO_PAD.encode(b"[1,2]"));
        assert_eq!(
            UnverifiedClaims::decode(&not_json),
            Err(ClaimsError::NotJson)
        );
        let msg = ClaimsError::NotAJwt(1).to_string();
        assert!(!msg.contains("opaque-secret-token"));
    }
}
