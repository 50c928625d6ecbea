//! axum answers an unparsable path, query or body in plain text; every vendor answers errors
//! in its own JSON shape. Each sandbox unpacks such answers here and writes them its way.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// A plain-text error answer, unpacked.
pub(crate) struct PlainError {
    pub status: StatusCode,
    /// The text axum wrote, or the status's reason when it wrote none.
    pub message: String,
    /// Headers the handler set besides the body's own (e.g. `Allow`, rate-limit headers).
    pub headers: HeaderMap,
}

/// `Ok` with the answer unchanged when it is a success or already JSON; otherwise the error to
/// rewrite in the vendor's shape.
pub(crate) async fn plain_error(response: Response) -> Result<Response, PlainError> {
    let status = response.status();
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    let mut headers = parts.headers;
    headers.remove("content-type");
    headers.remove("content-length");
    Err(PlainError {
        status,
        message,
        headers,
    })
}
