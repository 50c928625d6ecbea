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
    let mut v = HeaderValue::try_from(text).map_err(|_| {
        format!("the value for header `{name}` contains characters HTTP headers cannot carry")
    })?;
    v.set_sensitive(true);
    request.headers_mut().insert(name, v);
    Ok(())
}

/// Sets `Authorization: Bearer <token>`.
pub fn set_bearer(request: &mut reqwest::Request, token: &Secret) -> Result<(), String> {
    crate::Bearer::new(token).set(request)
}

/// progenitor adds `api-version: <info.version>` to every request; brokers never asked for
/// it, so it is removed rather than sent.
pub fn strip_generator_headers(request: &mut reqwest::Request) {
    request.headers_mut().remove("api-version");
}

/// Sends a request that carries a bearer token from `tokens`. When the server answers 401 to
/// the token that is still current, renews it once (single-flight across tasks) and resends
/// with the new one; when another task renewed it meanwhile, resends with that token without
/// renewing again. If renewal fails or is impossible, the caller gets the original 401.
///
/// `copy` is a copy of `request` (the caller's, kept for its own retries): the resend is made
/// from it, so that a call that is answered at once costs no second copy. Without one (a
/// streamed body cannot be copied) a 401 is returned as it is. [`crate::call::send`] does the
/// same inside the pipeline.
pub async fn send_renewing(
    client: &reqwest::Client,
    tokens: &TokenCell,
    request: reqwest::Request,
    copy: Option<&reqwest::Request>,
) -> reqwest::Result<reqwest::Response> {
    let sent = request
        .headers()
        .get(reqwest::header::AUTHORIZATION)
        .cloned();
    let response = client.execute(request).await?;
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(response);
    }
    match renew_and_resend(client, tokens, sent, copy).await {
        Some(resent) => resent,
        None => Ok(response),
    }
}

/// After a 401 to a request that carried `sent` as its `Authorization`: renews the token (or
/// takes the one another task renewed meanwhile) and resends `copy` with it. `None` when there
/// is nothing to resend with, and the 401 stands.
pub(crate) async fn renew_and_resend(
    client: &reqwest::Client,
    tokens: &TokenCell,
    sent: Option<HeaderValue>,
    copy: Option<&reqwest::Request>,
) -> Option<reqwest::Result<reqwest::Response>> {
    let (Some(mut retry), Some((current, generation))) = (
        copy.and_then(reqwest::Request::try_clone),
        tokens.snapshot(),
    ) else {
        return None;
    };
    let refused_current = sent.as_ref().and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {}", current.access.expose()));
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
    fn bearer_is_set_sensitive_and_api_version_removed() {
        let mut req =
            reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/x".parse().unwrap());
        req.headers_mut()
            .insert("api-version", HeaderValue::from_static("1.0"));
        set_bearer(&mut req, &Secret::new("tok")).unwrap();
        strip_generator_headers(&mut req);
        let auth = req.headers().get("authorization").unwrap();
        assert_eq!(auth, "Bearer tok");
        assert!(auth.is_sensitive());
        assert!(req.headers().get("api-version").is_none());
        assert!(set_bearer(&mut req, &Secret::new("bad\nvalue")).is_err());
    }
}
