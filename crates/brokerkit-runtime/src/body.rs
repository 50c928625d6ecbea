//! A response body kept whole for the caller but printed small and without credentials.
//!
//! Error types keep the bytes a server sent (so nothing is lost), yet their `Display` and
//! `Debug` end up in logs: they show at most [`EXCERPT_LIMIT`] bytes, mask the values of
//! token-like JSON fields and anything shaped like a JWT, and show nothing at all of a body
//! marked sealed (the answer of a login or refresh endpoint, which carries the tokens).

use bytes::Bytes;
use std::fmt;
use std::ops::Deref;

/// How much of a body an error prints.
pub const EXCERPT_LIMIT: usize = 512;
/// How much of a body is scanned for credentials to mask; the excerpt never reaches past it,
/// so printing a 200 MB body costs no more than printing a small one.
const SCAN_LIMIT: usize = 4 * EXCERPT_LIMIT;
const MASK: &str = "***";

/// The bytes of a response body. Derefs to [`Bytes`]; prints a bounded, masked excerpt.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Body {
    bytes: Bytes,
    sealed: bool,
}

impl Body {
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self {
            bytes: bytes.into(),
            sealed: false,
        }
    }

    /// A body that may hold credentials as a whole (a login or refresh answer): printed as
    /// its length only.
    pub fn sealed(bytes: impl Into<Bytes>) -> Self {
        Self {
            bytes: bytes.into(),
            sealed: true,
        }
    }

    /// Marks this body sealed.
    pub fn seal(&mut self) {
        self.sealed = true;
    }

    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// The bytes as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// What `Display` shows.
    pub fn excerpt(&self) -> String {
        if self.sealed {
            return format!(
                "<{} bytes withheld: the answer of an auth endpoint>",
                self.bytes.len()
            );
        }
        excerpt(&self.bytes)
    }
}

impl Deref for Body {
    type Target = Bytes;
    fn deref(&self) -> &Bytes {
        &self.bytes
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self::new(bytes)
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.excerpt())
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes: {:?})", self.bytes.len(), self.excerpt())
    }
}

/// A printable excerpt of `body`: at most [`EXCERPT_LIMIT`] bytes (on a character boundary),
/// token-like JSON values and JWT-shaped words masked, `…` when cut.
pub fn excerpt(body: &[u8]) -> String {
    let window = &body[..body.len().min(SCAN_LIMIT)];
    let text = String::from_utf8_lossy(window);
    let masked = mask(&text);
    let mut end = masked.len().min(EXCERPT_LIMIT);
    while !masked.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = masked[..end].to_string();
    if end < masked.len() || body.len() > window.len() {
        out.push('…');
    }
    out
}

/// Whether a JSON key names a credential.
fn is_sensitive_key(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    const PARTS: &[&str] = &["token", "password", "secret", "jwt", "apikey", "appkey"];
    const WHOLE: &[&str] = &[
        "pin",
        "pincode",
        "securitypin",
        "otp",
        "totp",
        "verificationcode",
        "authorization",
        "bearer",
    ];
    PARTS.iter().any(|p| k.contains(p)) || WHOLE.contains(&k.as_str())
}

/// A word that looks like a JWT: `eyJ…` with two dots, base64url between them.
fn is_jwt_like(word: &str) -> bool {
    word.len() > 20
        && word.starts_with("eyJ")
        && word.matches('.').count() == 2
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '='))
}

/// Masks string values of sensitive keys (`"accessToken": "…"`) and JWT-shaped words. Works on
/// a prefix of a document too: it scans, it does not parse.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut pending_key: Option<bool> = None; // Some(sensitive) after a key and its ':'
    let mut last_string: Option<(String, usize)> = None; // the last string literal and where it ended in `out`
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            let (literal, len) = string_literal(rest);
            let inner = &literal[1..literal.len().saturating_sub(1).max(1)];
            if pending_key == Some(true) || is_jwt_like(inner) {
                out.push('"');
                out.push_str(MASK);
                if literal.len() > 1 && literal.ends_with('"') {
                    out.push('"');
                }
                pending_key = None;
            } else {
                out.push_str(literal);
                last_string = Some((inner.to_string(), out.len()));
                pending_key = None;
            }
            rest = &rest[len..];
            continue;
        }
        if c == ':' {
            if let Some((key, at)) = &last_string {
                if out[*at..].trim().is_empty() {
                    pending_key = Some(is_sensitive_key(key));
                }
            }
            last_string = None;
            out.push(c);
            rest = &rest[1..];
            continue;
        }
        if c.is_whitespace() {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        // A bare word: a number, literal, or plain text; mask it if it is a JWT (text bodies)
        // or the value of a sensitive key.
        let end = rest
            .find(|ch: char| {
                ch.is_whitespace()
                    || matches!(ch, '"' | ',' | '}' | ']' | ':' | '{' | '[' | '&' | ';')
            })
            .unwrap_or(rest.len())
            .max(c.len_utf8());
        let word = &rest[..end];
        let is_punct = end == c.len_utf8() && matches!(c, ',' | '}' | ']' | '{' | '[' | '&' | ';');
        if !is_punct
            && (pending_key == Some(true) || is_jwt_like(word.trim_start_matches("Bearer")))
        {
            out.push_str(MASK);
        } else {
            out.push_str(word);
        }
        if !is_punct {
            pending_key = None;
        }
        last_string = None;
        rest = &rest[end..];
    }
    out
}

/// The string literal at the start of `s` (quotes included; unterminated: to the end).
fn string_literal(s: &str) -> (&str, usize) {
    let bytes = s.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return (&s[..i + 1], i + 1),
            _ => i += 1,
        }
    }
    (s, s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIiwiZXhwIjo5OTl9.c2lnbmF0dXJlLXNpZw";

    #[test]
    fn token_fields_and_jwts_are_masked() {
        let body = format!(
            r#"{{"accessToken": "{JWT}", "refresh_token":"opaque-refresh-1234", "expireDate": "2030-01-01", "nested": {{"password": "hunter2"}}, "note": "{JWT}", "count": 3}}"#
        );
        let shown = excerpt(body.as_bytes());
        for secret in [JWT, "opaque-refresh-1234", "hunter2"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains(r#""expireDate": "2030-01-01""#), "{shown}");
        assert!(shown.contains(r#""count": 3"#), "{shown}");
    }

    #[test]
    fn plain_text_jwts_and_bare_values_are_masked() {
        let text = format!("invalid token Bearer {JWT} for user 7");
        let shown = excerpt(text.as_bytes());
        assert!(!shown.contains(JWT), "{shown}");
        assert!(shown.contains("for user 7"));
        let shown = excerpt(br#"{"token": 12345678901234, "ok": true}"#);
        assert!(
            !shown.contains("12345678901234") && shown.contains("true"),
            "{shown}"
        );
    }

    #[test]
    fn huge_bodies_print_a_bounded_excerpt() {
        let big = vec![b'x'; 50 * 1024 * 1024];
        let shown = excerpt(&big);
        assert!(shown.len() <= EXCERPT_LIMIT + '…'.len_utf8());
        assert!(shown.ends_with('…'));
        let body = Body::new(Bytes::from(big));
        assert!(format!("{body:?}").len() < 700);
        assert_eq!(body.len(), 50 * 1024 * 1024, "the bytes stay whole");
    }

    #[test]
    fn a_token_cut_by_the_excerpt_is_still_masked() {
        // The value runs past the scan window: unterminated, it is masked all the same.
        let body = format!(r#"{{"accessToken": "{}"#, "A".repeat(3 * SCAN_LIMIT));
        let shown = excerpt(body.as_bytes());
        assert!(!shown.contains("AAAA"), "{shown}");
    }

    #[test]
    fn sealed_bodies_show_only_their_length() {
        let body = Body::sealed(Bytes::from(format!(r#"{{"weird": "{JWT}x"}}"#)));
        assert!(!format!("{body} {body:?}").contains("eyJ"));
        assert!(body.to_string().contains("withheld"));
    }

    #[test]
    fn multibyte_text_is_cut_on_a_boundary() {
        let text = "日本".repeat(400);
        let shown = excerpt(text.as_bytes());
        assert!(shown.len() <= EXCERPT_LIMIT + 3);
    }
}
