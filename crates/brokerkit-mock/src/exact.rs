//! JSON bodies read without losing digits.
//!
//! `serde_json::Value` holds a non-integer number as an `f64`, so a sandbox reading
//! `1234567890.123456789` would see `1234567890.1234567` and tests could not tell whether the
//! client or the sandbox cut the digits. Before parsing, every number an `f64` cannot hold
//! exactly is turned into a string of the same digits; every sandbox reads amounts from numbers
//! and numeric strings alike, so handlers see exactly what the client sent. Numbers an `f64`
//! holds exactly stay numbers, so type checks on them are unchanged.

use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// Parses a JSON body, keeping every number's digits.
pub fn from_slice(body: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice(&quote_inexact_numbers(body))
}

fn quote_inexact_numbers(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'"' {
            let start = i;
            i += 1;
            while i < body.len() && body[i] != b'"' {
                i += if body[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(body.len());
            out.extend_from_slice(&body[start..i]);
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < body.len()
                && matches!(body[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let token = &body[start..i];
            if f64_holds(token) {
                out.extend_from_slice(token);
            } else {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// Whether the number reads back from `f64` (or `i64`/`u64`) as the same value.
fn f64_holds(token: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(token) else {
        return true;
    };
    if text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok() {
        return true;
    }
    let exact = Decimal::from_str_exact(text).or_else(|_| Decimal::from_scientific(text));
    match (exact, text.parse::<f64>()) {
        (Ok(d), Ok(f)) => Decimal::from_str(&f.to_string()).is_ok_and(|back| back == d),
        // Not a number either reads: leave it for the parser to reject as written.
        _ => true,
    }
}

/// `Option<Json<Value>>` that keeps every number's digits: `None` without a JSON content type,
/// 400 with axum's plain-text wording for a body that is not JSON.
pub struct ExactJson(pub Value);

impl<S: Send + Sync> axum::extract::OptionalFromRequest<S> for ExactJson {
    type Rejection = axum::response::Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        use axum::response::IntoResponse;
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !is_json {
            return Ok(None);
        }
        let body = <bytes::Bytes as axum::extract::FromRequest<S>>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        from_slice(&body).map(|v| Some(ExactJson(v))).map_err(|e| {
            (
                axum::http::StatusCode::BAD_REQUEST,
                format!("Failed to parse the request body as JSON: {e}"),
            )
                .into_response()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_numbers_keep_their_digits_and_short_ones_stay_numbers() {
        let v = from_slice(
            br#"{"a": 1234567890.123456789, "b": 1.5, "c": "x\"1.25", "d": [7, -0.1234567890123456789], "e": 18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": "1234567890.123456789", "b": 1.5, "c": "x\"1.25", "d": [7, "-0.1234567890123456789"], "e": 18446744073709551615u64})
        );
        assert!(from_slice(b"{\"a\": 1.2.3}").is_err());
    }
}
