//! Small pieces the vendor crates' request hooks share.

use crate::{Secret, TokenCell};
use reqwest::header::{HeaderName, HeaderValue};

/// Sets a header from a secret, marked sensitive so that `http`'s own `Debug` hides it.
pub fn set_secret_header(
    request: &mut reqwest::Request,
    name: HeaderName,
    value: &Secret,
    prefix: &str,
) -> Result<(), String> {
    let mut text = String::with_capacity(prefix.len() + value.expose().len());
    text.push_str(prefix);
    text.push_str(value.expose());
    // From the `String` itself: its buffer becomes the header's, with no second copy.
    let mut v = HeaderValue::try_from(text).map_err(|_| unfit_for_header(&name))?;
    v.set_sensitive(true);
    request.headers_mut().insert(name, v);
    Ok(())
}

/// Why a secret could not be set as the header `name`.
pub(crate) fn unfit_for_header(name: &HeaderName) -> String {
    format!("the value for header `{name}` contains characters HTTP headers cannot carry")
}

/// Sets `Authorization: Bearer <token>`.
pub fn set_bearer(request: &mut reqwest::Request, token: &Secret) -> Result<(), String> {
    crate::Bearer::new(token).set(request)
}

/// After a 401 to a request with a bearer token from `tokens` (the pipeline's step, in
/// [`crate::call::send`]): when the token refused is still the current one, renews it once
/// (single-flight across tasks); when another task renewed it meanwhile, takes that token
/// without renewing again; then resends `copy` with it. `None` when renewal fails or is
/// impossible, or there is no copy (a streamed body cannot be copied): the 401 stands.
///
/// `copy` is the caller's copy of the request as it was sent, kept for its own retries: the
/// token refused is read from it and the resend made from it, so that a call answered at once
/// costs nothing beyond that one copy.
pub(crate) async fn renew_and_resend(
    client: &reqwest::Client,
    tokens: &TokenCell,
    copy: Option<&reqwest::Request>,
) -> Option<reqwest::Result<reqwest::Response>> {
    let (Some(mut retry), Some((current, generation))) =
        (copy.and_then(crate::call::copy), tokens.snapshot())
    else {
        return None;
    };
    let sent = retry
        .headers()
        .get(reqwest::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let refused_current = sent == Some(&format!("Bearer {}", current.access.expose()));
    let fresh = if refused_current {
        match tokens.refresh_rejected(generation).await {
            // Only a new token is worth a second try.
            Ok(Some((token, renewed))) if renewed != generation => token,
            _ => return None,
        }
    } else {
        current.access.clone()
    };
    set_bearer(&mut retry, &fresh).ok()?;
    Some(client.execute(retry).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_set_sensitive() {
        let mut req =
            reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/x".parse().unwrap());
        set_bearer(&mut req, &Secret::new("tok")).unwrap();
        let auth = req.headers().get("authorization").unwrap();
        assert_eq!(auth, "Bearer tok");
        assert!(auth.is_sensitive());
        assert!(set_bearer(&mut req, &Secret::new("bad\nvalue")).is_err());
    }
}
