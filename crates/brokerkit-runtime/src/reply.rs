//! A successful answer with what came with it.

use crate::RateLimit;
use progenitor_client::ResponseValue;

/// A successful answer: the decoded value with its status and headers. Every vendor's
/// `Session::call` returns one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reply<T> {
    pub value: T,
    pub status: u16,
    pub headers: http::HeaderMap,
    /// `Retry-After` and `X-RateLimit-*` as sent with this answer; empty when none were.
    pub rate_limit: RateLimit,
}

impl<T> Reply<T> {
    pub fn from_response(rv: ResponseValue<T>) -> Self {
        let status = rv.status().as_u16();
        let headers = rv.headers().clone();
        let rate_limit = RateLimit::from_headers(&headers);
        Self {
            value: rv.into_inner(),
            status,
            headers,
            rate_limit,
        }
    }

    pub fn into_inner(self) -> T {
        self.value
    }

    /// The same answer with its value converted.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        Reply {
            value: f(self.value),
            status: self.status,
            headers: self.headers,
            rate_limit: self.rate_limit,
        }
    }
}

/// Reads through to the value, as progenitor's `ResponseValue` does: `reply.field` works,
/// except for a field named like one of `Reply`'s own (`status`, `headers`, `value`,
/// `rate_limit`): those are the reply's, so write `reply.value.status` for the value's.
impl<T> std::ops::Deref for Reply<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::DerefMut for Reply<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}
