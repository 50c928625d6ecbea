//! Path parameters that try to retarget a call, and a check of what reached the sandbox.
//!
//! [`crate::Hits`] keys hold the raw request path as it arrived (still percent-encoded), so a
//! test can tell "one segment holding the id" from "a different route".

use std::collections::HashMap;

/// Ids a careless client would let name another route: dot segments (plain, encoded, behind
/// `\`), separators, and text that needs encoding. `account_id` is the account a traversal aims
/// at.
pub fn ids(account_id: &str) -> Vec<String> {
    let mut ids: Vec<String> = [
        "..", ".", "", "x\\..\\y", "%2e%2e", ".%2E", "%2e", "a/b", "a?b", "a#b", "a b", " ", "é",
        "日本", "a%2fb", "50%",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    ids.push(format!("x\\..\\..\\accounts\\{account_id}\\orders"));
    ids.push(format!("../../accounts/{account_id}/orders"));
    ids.push(format!("x\\..\\{account_id}"));
    ids
}

/// The requests (`METHOD /raw/path`, once per request) in `after` that `before` did not have.
pub fn new_requests(
    before: &HashMap<String, usize>,
    after: &HashMap<String, usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, n) in after {
        for _ in before.get(key).copied().unwrap_or(0)..*n {
            out.push(key.clone());
        }
    }
    out.sort();
    out
}

/// The decoded text of the one segment that follows `route_prefix` (e.g. `DELETE /trade/orders/`)
/// in a recorded request, or `None` when the request is not that route plus exactly one
/// non-empty segment.
pub fn one_segment(request: &str, route_prefix: &str) -> Option<String> {
    one_segment_within(request, route_prefix, "")
}

/// Like [`one_segment`] for a segment inside a route: `route_prefix` + segment + `route_suffix`.
pub fn one_segment_within(request: &str, route_prefix: &str, route_suffix: &str) -> Option<String> {
    let raw = request
        .strip_prefix(route_prefix)?
        .strip_suffix(route_suffix)?;
    if raw.is_empty() || raw.contains(['/', '\\', '?', '#']) {
        return None;
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// What one hostile id did, checked: `refused` is the refused value when the client refused
/// the call (then nothing may have been sent); otherwise exactly one request must have reached
/// `route_prefix` + one segment holding `id` + `route_suffix`. Panics (it is for tests) on
/// anything else.
pub fn judge(
    sent: &[String],
    id: &str,
    route_prefix: &str,
    route_suffix: &str,
    refused: Option<&str>,
) -> &'static str {
    match refused {
        Some(value) => {
            assert!(sent.is_empty(), "{id:?} refused, yet sent {sent:?}");
            assert_eq!(value, id, "the refusal names the value");
            "refused"
        }
        None => {
            assert_eq!(sent.len(), 1, "{id:?}: {sent:?}");
            assert_eq!(
                one_segment_within(&sent[0], route_prefix, route_suffix).as_deref(),
                Some(id),
                "{id:?} reached {:?}",
                sent[0]
            );
            "one segment"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_segment_decodes_and_refuses_other_routes() {
        assert_eq!(
            one_segment("DELETE /trade/orders/x%5C..%5Cy", "DELETE /trade/orders/").as_deref(),
            Some("x\\..\\y")
        );
        assert_eq!(
            one_segment("DELETE /trade/accounts/7/orders", "DELETE /trade/orders/"),
            None
        );
        assert_eq!(
            one_segment("DELETE /trade/orders/a/b", "DELETE /trade/orders/"),
            None
        );
        assert_eq!(
            one_segment_within("GET /a/%C3%A9/b", "GET /a/", "/b").as_deref(),
            Some("é")
        );
    }
}
