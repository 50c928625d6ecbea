//! What the generator knows about each operation of a spec, as the request pipeline uses it.
//!
//! `cargo xtask generate` writes, per vendor, `OPERATIONS` (every operation of the spec) and
//! `operation(id)` (a lookup by progenitor's method name); each vendor's `exec` hook hands the
//! entry to [`call::send`](crate::call::send).

/// One operation of a vendor's spec.
///
/// `idempotent` follows the method (RFC 9110 §9.2.2: `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`
/// and `DELETE` are idempotent, `POST` and `PATCH` are not) unless the spec overrides it with
/// `x-brokerkit-idempotent` and says why in `x-brokerkit-idempotent-reason` (a "close all
/// positions" `DELETE` repeated after new positions opened closes those too). `rate_class`
/// names the vendor's rate limit the operation counts against (`x-brokerkit-rate-class`, e.g.
/// TradeLocker's `QUOTES`); see `docs/spec-conventions.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The operation id as progenitor names the client method (`get_quotes`).
    pub id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The route template as the spec writes it (`/trade/accounts/{accountId}/orders`): what
    /// spans record instead of the real path, which may carry ids.
    pub path: &'static str,
    /// Whether the spec's `security` requires a token.
    pub secured: bool,
    /// Whether sending it twice has the effect of sending it once, so that a transport error
    /// or a 502/503/504 may be answered by sending it again.
    pub idempotent: bool,
    /// The vendor's rate limit this operation counts against, if the spec names one.
    pub rate_class: Option<&'static str>,
}

impl Operation {
    /// An operation the table does not list (which the generator rules out): treated as
    /// unsafe to repeat and unpaced, with no route template to record.
    pub const fn unlisted(id: &'static str) -> Self {
        Self {
            id,
            method: "",
            path: "",
            secured: false,
            idempotent: false,
            rate_class: None,
        }
    }

    /// Whether RFC 9110 calls `method` idempotent (the default for an operation).
    pub fn idempotent_method(method: &str) -> bool {
        matches!(
            method.to_ascii_uppercase().as_str(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        )
    }
}

/// The error an operation builder's `send` gives for a required value: `error` as the setter
/// left it, or `unset` (progenitor's "… was not initialized") when the value was never set.
///
/// Generated builders start such a value as an empty error rather than progenitor's message,
/// which cost an allocation per parameter on every call (`xtask/src/unset.rs`, issue 12); a
/// setter's error is never empty.
pub fn unset_or(error: String, unset: &'static str) -> String {
    if error.is_empty() {
        unset.to_owned()
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_idempotent_methods() {
        for m in ["GET", "head", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(Operation::idempotent_method(m), "{m}");
        }
        for m in ["POST", "PATCH", "CONNECT"] {
            assert!(!Operation::idempotent_method(m), "{m}");
        }
        let unlisted = Operation::unlisted("x");
        assert!(!unlisted.idempotent && unlisted.rate_class.is_none());
    }

    #[test]
    fn an_empty_error_is_the_unset_message_and_another_is_kept() {
        assert_eq!(
            unset_or(String::new(), "x was not initialized"),
            "x was not initialized"
        );
        assert_eq!(
            unset_or("conversion failed".into(), "x was not initialized"),
            "conversion failed"
        );
    }
}
