//! One call of a generated client, as its hooks saw it.
//!
//! progenitor's error type cannot say everything a caller needs: a 200 whose body does not
//! decode loses its status, a renewal that failed inside the `exec` hook can only surface as
//! the original 401, and a cut connection does not say whether an order was already sent. The
//! hooks note those facts in a task-local slot that [`scope`] opens around one call, and
//! [`Failure::from_progenitor`](crate::Failure::from_progenitor) reads them back. Outside a
//! scope nothing is noted and errors are read from progenitor's error alone.
//!
//! [`send`] is the `exec` step every vendor shares, the request pipeline: User-Agent → a
//! `tracing` span (operation id, method, route template, rate class, status, attempt,
//! elapsed; never the real path or query) → client-side pacing to the operation's rate class
//! ([`RateLimits`]) → send (renewing the token once on a 401 when given a [`TokenCell`]) →
//! retries with backoff → a deadline over all of it → a bound on the answer's size. Which
//! operation it is comes from the generated operations table ([`Operation`]).
//!
//! What is retried, and what never is:
//! - a 429 (the server refused before acting), for any operation, after `Retry-After`
//!   (seconds or an HTTP date, clamped to [`Retry::max_retry_after`]) or the backoff;
//! - transport failures and 502/503/504, only for operations the table marks idempotent:
//!   by the method (RFC 9110: `GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE`) unless the spec says
//!   otherwise (`x-brokerkit-idempotent`; TradeLocker's "close all positions" `DELETE`, a
//!   partial close, AutoShares' order replacements are not). Orders, money movements and
//!   every other `POST` or `PATCH` are sent once: their outcome may be unknown, and only the
//!   caller can decide.
//!
//! Every attempt, retries included, waits its turn under the rate limit first; the resend
//! after a renewal does not (the refused request was answered 401 before it counted).

use crate::{Operation, RateLimits, RefreshError, TokenCell};
use backon::BackoffBuilder;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;
use tracing::Instrument;

/// The default largest answer a client reads (a 20,000-bar TradeLocker history is about
/// 1.5 MB; a full AutoShares page of 1,000 orders about 2 MB): 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

/// Kept small (the rare parts boxed): the scope moves it in and out of its thread-local on
/// every poll of the call.
#[derive(Default)]
pub(crate) struct Seen {
    /// Whether the method of the request sent is safe (RFC 9110: it changes nothing).
    pub(crate) safe_method: Option<bool>,
    pub(crate) status: Option<u16>,
    pub(crate) rare: Option<Box<Rare>>,
    pub(crate) not_logged_in: bool,
    pub(crate) not_ready: bool,
    pub(crate) sealed: bool,
}

/// What only a failed call notes.
#[derive(Default)]
pub(crate) struct Rare {
    /// The headers of an answer whose body did not decode, noted by [`crate::decode::json`]
    /// (only then: cloning them for every call would cost each call an allocation or more).
    pub(crate) headers: Option<HeaderMap>,
    pub(crate) renewal: Option<RefreshError>,
}

impl Seen {
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
}

tokio::task_local! {
    static SLOT: RefCell<Seen>;
}

/// Runs one call (the generated future and the reading of its error) with a fresh slot.
///
/// In debug builds the call lives on the heap: a generated call's future is many kilobytes
/// there, and tests that await many calls on a thread's stack would overflow it. Optimised,
/// a call's future is about 2 KB, and boxing it cost each call a large allocation and a copy
/// (issue 12): it is awaited in place.
#[cfg(debug_assertions)]
pub fn scope<F: Future>(fut: F) -> std::pin::Pin<Box<impl Future<Output = F::Output>>> {
    Box::pin(SLOT.scope(RefCell::new(Seen::default()), fut))
}

/// Runs one call (the generated future and the reading of its error) with a fresh slot.
///
/// In debug builds the call lives on the heap: a generated call's future is many kilobytes
/// there, and tests that await many calls on a thread's stack would overflow it. Optimised,
/// a call's future is about 2 KB, and boxing it cost each call a large allocation and a copy
/// (issue 12): it is awaited in place.
#[cfg(not(debug_assertions))]
pub fn scope<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    SLOT.scope(RefCell::new(Seen::default()), fut)
}

/// Runs one generated call in a [`scope`], its error read by `read` (a vendor's reading of a
/// progenitor error, or [`Failure::from_progenitor`](crate::Failure::from_progenitor)): what
/// every vendor's session does with each call.
///
/// A combinator, not an `async` block that awaits the call and matches what it gives: such a
/// block keeps room for that outcome beside the call's own future, a sixth of a quote's
/// (issue 12).
pub fn scoped<T, E, V, Fut, R, RFut>(call: Fut, read: R) -> impl Future<Output = Result<T, V>>
where
    Fut: Future<Output = Result<T, E>>,
    R: FnOnce(E) -> RFut,
    RFut: Future<Output = V>,
{
    use futures::future::{Either, FutureExt};
    scope(call.then(move |outcome| match outcome {
        Ok(v) => Either::Left(std::future::ready(Ok(v))),
        Err(e) => Either::Right(read(e).map(Err)),
    }))
}

/// Runs one generated call in a [`scope`] and reads its error as a [`Failure`](crate::Failure):
/// what every vendor's `Session::call` does before giving a failure its vendor meaning.
pub fn run<T, E, Fut>(fut: Fut) -> impl Future<Output = Result<crate::Reply<T>, crate::Failure>>
where
    E: serde::Serialize,
    Fut: Future<Output = Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<E>>>,
{
    use futures::future::FutureExt;
    scoped(fut, crate::Failure::from_progenitor).map(|r| r.map(crate::Reply::from_response))
}

fn note(f: impl FnOnce(&mut Seen)) {
    let _ = SLOT.try_with(|slot| f(&mut slot.borrow_mut()));
}

pub(crate) fn take() -> Option<Seen> {
    SLOT.try_with(|slot| std::mem::take(&mut *slot.borrow_mut()))
        .ok()
}

/// Notes the headers of an answer whose body did not decode, for the failure read from it.
pub(crate) fn note_undecodable(headers: HeaderMap) {
    note(|s| s.rare().headers = Some(headers));
}

/// Marks the answer of this call as one that carries credentials as a whole (login, refresh,
/// token exchange): errors then never print its body.
pub fn seal() {
    note(|s| s.sealed = true);
}

/// Notes that renewing the token failed, so the caller gets this error rather than the 401.
pub fn note_renewal_failure(error: &RefreshError) {
    let e = error.clone();
    note(move |s| s.rare().renewal = Some(e));
}

/// The refusal a `pre` hook returns for a secured operation called before login: typed as
/// [`Failure::NotLoggedIn`](crate::Failure::NotLoggedIn) inside a [`scope`].
pub fn not_logged_in<E>(operation_id: &str) -> progenitor_client::Error<E> {
    note(|s| s.not_logged_in = true);
    progenitor_client::Error::Custom(format!(
        "`{operation_id}` needs a logged-in session: call Session::login first"
    ))
}

/// The refusal a `pre` hook returns when the session lacks something else the operation
/// needs (an account selected, a key configured): typed as
/// [`Failure::NotReady`](crate::Failure::NotReady) inside a [`scope`].
pub fn not_ready<E>(message: impl Into<String>) -> progenitor_client::Error<E> {
    note(|s| s.not_ready = true);
    progenitor_client::Error::Custom(message.into())
}

/// The answer was larger than the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer is larger than the {limit} bytes this client accepts")]
pub struct TooLarge {
    pub limit: usize,
}

/// `brokerkit/<version>`, the User-Agent sent unless told otherwise.
pub const USER_AGENT: &str = concat!("brokerkit/", env!("CARGO_PKG_VERSION"));

/// When to send a request again (see the module documentation for what qualifies).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// Attempts in all, the first included; `1` switches retrying off. Default 3.
    pub max_attempts: u32,
    /// The first backoff; it doubles per attempt, with full jitter. Default 200 ms.
    pub initial_backoff: Duration,
    /// The longest backoff. Default 5 s.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one is returned to the caller as the 429.
    /// Default 30 s.
    pub max_retry_after: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// Never send a request twice (a 401 is still answered by one renewal and one resend).
    pub fn off() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .build()
            // Full jitter: anywhere between nothing and the exponential delay.
            .map(|d| d.mul_f64(fastrand::f64()))
    }
}

/// How every request of a client is sent. Shared by all vendors; each part can be switched
/// off.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Pipeline {
    /// The User-Agent header; `None` sends none. Default [`USER_AGENT`].
    pub user_agent: Option<HeaderValue>,
    pub retry: Retry,
    /// The most one operation may take, renewal and retries included; `None` for no limit
    /// beyond the HTTP client's own per-request timeout. Default `None`.
    pub deadline: Option<Duration>,
    /// The largest answer read, in bytes. Default [`DEFAULT_MAX_BODY`].
    pub max_body: usize,
    /// Client-side pacing per (account, rate class). Default: on, with the limits the vendor's
    /// session sets (TradeLocker: those its server publishes); [`RateLimits::off`] never
    /// waits. Clones of a pipeline share the count.
    pub rate_limits: RateLimits,
}

impl Default for Pipeline {
    fn default() -> Self {
        Self {
            user_agent: Some(HeaderValue::from_static(USER_AGENT)),
            retry: Retry::default(),
            deadline: None,
            max_body: DEFAULT_MAX_BODY,
            rate_limits: RateLimits::default(),
        }
    }
}

/// A copy of `request` to send again; `None` when its body is a stream, which cannot be read
/// twice.
///
/// reqwest's `try_clone` gives every copy a map of per-request settings, allocated even when
/// the request has none: a third of what copying a quote's request cost (issue 12). Of those
/// settings only the timeout can be set on a request from outside reqwest, and it is copied.
pub(crate) fn copy(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        // reqwest's own copy shares the body's bytes, or refuses a stream.
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// What the retry step makes of one attempt's outcome: wait this long and send again.
/// `next_backoff` is called only when the outcome may be retried (the backoff is built then,
/// not for every call).
fn retry_wait(
    result: &reqwest::Result<reqwest::Response>,
    repeatable: bool,
    retry: &Retry,
    next_backoff: impl FnOnce() -> Option<Duration>,
) -> Option<Duration> {
    match result {
        Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
            let next = next_backoff()?;
            match crate::failure::retry_after(r.headers()) {
                Some(wait) if wait > retry.max_retry_after => None,
                Some(wait) => Some(wait),
                None => Some(next),
            }
        }
        Ok(r) if repeatable && matches!(r.status().as_u16(), 502..=504) => {
            let next = next_backoff()?;
            Some(
                crate::failure::retry_after(r.headers()).map_or(next, |w| w.min(retry.max_backoff)),
            )
        }
        Err(e) if repeatable && !e.is_builder() => next_backoff(),
        _ => None,
    }
}

/// Sends `request`, a call of `operation` (its entry in the generated operations table)
/// acting for `account` (the key rate limits count by, as the header value that names it;
/// `None` for one shared count), through the [`Pipeline`]: with `tokens`, a 401 to the
/// current token is answered by one renewal and one resend (single-flight across tasks); the
/// answer's body is cut off with a [`TooLarge`] error past [`Pipeline::max_body`] bytes.
///
/// The first attempt is prepared here, when the call is made: its turn under the rate limit
/// is counted and, when it need not wait, the request is handed to reqwest at once. The
/// future returned then only awaits that answer; a wait for the turn, a renewal and retries
/// (`Attempts::rest`) are boxed. Every call's future carried all of them, twice its size,
/// and was copied whole at each layer of the call (issue 12).
pub fn send<'a>(
    client: &'a reqwest::Client,
    tokens: Option<&'a TokenCell>,
    mut request: reqwest::Request,
    pipeline: &'a Pipeline,
    operation: Operation,
    account: Option<HeaderValue>,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a {
    let safe = request.method().is_safe();
    note(|s| s.safe_method = Some(safe));
    if let Some(ua) = &pipeline.user_agent {
        request
            .headers_mut()
            .entry(reqwest::header::USER_AGENT)
            .or_insert_with(|| ua.clone());
    }
    // Never the URL: its query may carry a one-time token, its path account ids. The route
    // template comes from the spec.
    let span = tracing::debug_span!(
        "brokerkit.call",
        operation = operation.id,
        method = %request.method(),
        route = operation.path,
        rate_class = operation.rate_class,
        status = tracing::field::Empty,
        attempt = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
        paced_ms = tracing::field::Empty,
    );
    // The clock is read only for what needs it: a deadline, or a span that records the time
    // taken (issue 12: two reads a call that nothing used).
    let started =
        (pipeline.deadline.is_some() || !span.is_disabled()).then(tokio::time::Instant::now);
    let mut attempts = Attempts {
        client,
        tokens,
        pipeline,
        rate_class: operation.rate_class,
        idempotent: operation.idempotent,
        account,
        started,
        attempt: 1,
        paced: Duration::ZERO,
    };
    // Entered for this block, not through `in_scope`: a closure's result is copied out of it.
    let mut first = {
        let _entered = span.enter();
        match attempts.turn() {
            None => {
                let again = attempts.prepare(&mut request);
                First::Sent(client.execute(request), again)
            }
            Some(turn) => First::Waiting(turn, Box::new(request)),
        }
    };
    async move {
        // Borrowed where it lies: taken apart by value, the answer and the copy would be
        // moved into room of their own in this future, beside their old room.
        let result = match first {
            First::Sent(ref mut answer, ref mut again) => {
                let result = answer.await;
                if attempts.settled(&result) {
                    result
                } else {
                    Box::pin(attempts.rest(result, again.take())).await
                }
            }
            First::Waiting(turn, request) => Box::pin(attempts.after(turn, *request)).await,
        };
        // The span this future is instrumented with (a clone kept for this would be in every
        // call's future).
        let record = tracing::Span::current();
        record.record("attempt", attempts.attempt);
        if let Some(started) = attempts.started {
            record.record("elapsed_ms", started.elapsed().as_millis() as u64);
        }
        record.record("paced_ms", attempts.paced.as_millis() as u64);
        let response = result?;
        record.record("status", response.status().as_u16());
        note(|s| s.status = Some(response.status().as_u16()));
        Ok(bound(response, attempts.pipeline.max_body))
    }
    .instrument(span)
}

/// A call's first attempt, as [`send`] made it.
// The large variant is the one nearly every call takes; boxing it would cost each an
// allocation.
#[allow(clippy::large_enum_variant)]
enum First<A> {
    /// Sent: its answer (reqwest's future), and the copy kept for a retry or the resend after
    /// a renewal.
    Sent(A, Option<reqwest::Request>),
    /// Waiting for its turn under the rate limit.
    Waiting(Turn, Box<reqwest::Request>),
}

type Turn = std::pin::Pin<Box<dyn Future<Output = Duration> + Send>>;

/// One call's attempts: what the pipeline knows between them.
struct Attempts<'a> {
    client: &'a reqwest::Client,
    tokens: Option<&'a TokenCell>,
    pipeline: &'a Pipeline,
    /// Of the operation, what later attempts need (the rest is in the span).
    rate_class: Option<&'static str>,
    idempotent: bool,
    account: Option<HeaderValue>,
    /// When the call was made; `None` when neither a deadline nor a span needs it.
    started: Option<tokio::time::Instant>,
    /// The attempt under way, from 1.
    attempt: u32,
    /// The time spent waiting for turns, in all.
    paced: Duration,
}

impl<'a> Attempts<'a> {
    /// When the pipeline's deadline ends the call (worked out, not kept: every call's future
    /// would have room for it).
    fn deadline(&self) -> Option<tokio::time::Instant> {
        Some(self.started? + self.pipeline.deadline?)
    }

    /// Counts this attempt under the rate limit: `None` when it may go at once.
    fn turn(&self) -> Option<Turn> {
        self.pipeline
            .rate_limits
            .turn(self.rate_class, self.account.as_ref())
    }

    /// The wait for a turn, no longer than the deadline allows. Past the deadline the
    /// request is still built, with no time left: it fails as a timeout, as any other overrun
    /// does.
    async fn wait(&self, turn: Turn) -> Duration {
        match self.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, turn)
                .await
                .unwrap_or_else(|_| {
                    self.started
                        .map_or(Duration::ZERO, |s| deadline.saturating_duration_since(s))
                }),
            None => turn.await,
        }
    }

    /// Bounds `request` by the time the deadline leaves, and copies it when a retry or a
    /// renewal may need it again (one copy serves both).
    fn prepare(&self, request: &mut reqwest::Request) -> Option<reqwest::Request> {
        if let Some(deadline) = self.deadline() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let timeout = request.timeout_mut();
            *timeout = Some(timeout.map_or(left, |t| t.min(left)));
        }
        if self.attempt < self.pipeline.retry.max_attempts || self.tokens.is_some() {
            copy(request)
        } else {
            None
        }
    }

    /// Whether an attempt's outcome is final as it stands: no renewal, no retry to consider.
    fn settled(&self, result: &reqwest::Result<reqwest::Response>) -> bool {
        let refused = self.tokens.is_some()
            && matches!(result, Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED);
        // Whether it could be retried at all; whether it will be is for `rest` to decide.
        let retryable = retry_wait(result, self.idempotent, &self.pipeline.retry, || {
            Some(Duration::ZERO)
        })
        .is_some();
        !refused && !retryable
    }

    /// The first attempt, once its turn has come.
    async fn after(
        &mut self,
        turn: Turn,
        mut request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let waited = self.wait(turn).await;
        self.paced += waited;
        let again = self.prepare(&mut request);
        let result = self.client.execute(request).await;
        self.rest(result, again).await
    }

    /// What follows an attempt's outcome: a renewal and resend after a 401, retries while
    /// they are allowed, fit the deadline and have a copy to send; the outcome that stands.
    async fn rest(
        &mut self,
        mut result: reqwest::Result<reqwest::Response>,
        mut again: Option<reqwest::Request>,
    ) -> reqwest::Result<reqwest::Response> {
        let retry = &self.pipeline.retry;
        // Built at the first retry (most calls are never retried).
        let mut backoff = None;
        loop {
            if let (Some(tokens), Ok(refused)) = (self.tokens, &result) {
                if refused.status() == reqwest::StatusCode::UNAUTHORIZED {
                    let resent =
                        crate::hooks::renew_and_resend(self.client, tokens, again.as_ref()).await;
                    if let Some(resent) = resent {
                        result = resent;
                    }
                }
            }
            let next = again.filter(|_| self.attempt < retry.max_attempts);
            let wait = retry_wait(&result, self.idempotent, retry, || {
                backoff.get_or_insert_with(|| retry.backoff()).next()
            });
            let deadline = self.deadline();
            let fits =
                |wait: Duration| deadline.is_none_or(|d| tokio::time::Instant::now() + wait < d);
            let (wait, mut request) = match (wait, next) {
                (Some(wait), Some(next)) if fits(wait) => (wait, next),
                _ => return result,
            };
            // The refused answer is dropped before the wait, not carried through it.
            drop(result);
            tracing::debug!(
                attempt = self.attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
            self.attempt += 1;
            if let Some(turn) = self.turn() {
                let waited = self.wait(turn).await;
                self.paced += waited;
            }
            again = self.prepare(&mut request);
            result = self.client.execute(request).await;
        }
    }
}

/// The `exec` hook of every vendor: [`send`] for the operation `id`, described by `listed`
/// (its entry in the generated operations table, [`Operation::unlisted`] when it has none),
/// with `tokens` when the operation is secured.
pub fn exec<'a>(
    client: &'a reqwest::Client,
    tokens: &'a TokenCell,
    request: reqwest::Request,
    pipeline: &'a Pipeline,
    listed: Option<&Operation>,
    id: &'static str,
    account: Option<HeaderValue>,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a {
    let operation = listed.copied().unwrap_or(Operation::unlisted(id));
    let tokens = operation.secured.then_some(tokens);
    send(client, tokens, request, pipeline, operation, account)
}

/// Makes the body fail with [`TooLarge`] once it passes `limit`: at once when the declared
/// length says so, else while it streams.
fn bound(response: reqwest::Response, limit: usize) -> reqwest::Response {
    if response.content_length().is_some_and(|n| n <= limit as u64) {
        return response;
    }
    let declared_too_large = response.content_length().is_some();
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = if declared_too_large {
        reqwest::Body::wrap_stream(futures::stream::once(async move {
            Err::<bytes::Bytes, _>(TooLarge { limit })
        }))
    } else {
        let mut seen = 0usize;
        reqwest::Body::wrap_stream(response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(BodyError::Transport)?;
            seen = seen.saturating_add(chunk.len());
            if seen > limit {
                return Err(BodyError::TooLarge(TooLarge { limit }));
            }
            Ok(chunk)
        }))
    };
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    reqwest::Response::from(rebuilt)
}

#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error(transparent)]
    Transport(reqwest::Error),
    #[error(transparent)]
    TooLarge(TooLarge),
}

/// Finds a [`TooLarge`] in an error's source chain.
pub(crate) fn too_large(e: &(dyn std::error::Error + 'static)) -> Option<TooLarge> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(t) = err.downcast_ref::<TooLarge>() {
            return Some(*t);
        }
        if let Some(BodyError::TooLarge(t)) = err.downcast_ref::<BodyError>() {
            return Some(*t);
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use std::sync::{Arc, Mutex};

    /// A loopback server that answers every request 200 and keeps the User-Agent it saw.
    /// Serves `app` on a loopback port, until the test's runtime ends.
    async fn serve(app: axum::Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[test]
    fn a_copy_keeps_what_is_sent_and_refuses_a_stream() {
        let mut request = reqwest::Request::new(
            Method::DELETE,
            "http://127.0.0.1/trade/orders/7?x=1".parse().unwrap(),
        );
        let mut secret = HeaderValue::from_static("Bearer t");
        secret.set_sensitive(true);
        request.headers_mut().insert("authorization", secret);
        request
            .headers_mut()
            .append("x-many", HeaderValue::from_static("1"));
        request
            .headers_mut()
            .append("x-many", HeaderValue::from_static("2"));
        *request.version_mut() = http::Version::HTTP_2;
        let bare = copy(&request).unwrap();
        assert_eq!(bare.timeout(), None);
        *request.timeout_mut() = Some(Duration::from_millis(1500));

        let copied = copy(&request).unwrap();
        assert_eq!(copied.method(), Method::DELETE);
        assert_eq!(copied.url().as_str(), "http://127.0.0.1/trade/orders/7?x=1");
        assert_eq!(copied.headers(), request.headers());
        assert!(copied.headers()["authorization"].is_sensitive());
        assert_eq!(copied.version(), http::Version::HTTP_2);
        assert_eq!(copied.timeout(), Some(&Duration::from_millis(1500)));
        assert!(copied.body().is_none());

        *request.body_mut() = Some(reqwest::Body::from(r#"{"qty":"0.10"}"#));
        let with_body = copy(&request).unwrap();
        assert_eq!(
            with_body.body().and_then(|b| b.as_bytes()),
            Some(&br#"{"qty":"0.10"}"#[..])
        );
        assert_eq!(with_body.timeout(), Some(&Duration::from_millis(1500)));

        *request.body_mut() = Some(reqwest::Body::wrap_stream(futures::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{}"))
        })));
        assert!(copy(&request).is_none());
    }

    async fn echo_server() -> (String, Arc<Mutex<Vec<Option<String>>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
            let log = log.clone();
            async move {
                let ua = headers
                    .get("user-agent")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                log.lock().unwrap().push(ua);
                "{}"
            }
        });
        let addr = serve(app).await;
        (format!("http://{addr}/x?token=one-time-secret"), seen)
    }

    const OP: Operation = Operation {
        id: "op",
        method: "GET",
        path: "/x",
        secured: false,
        idempotent: true,
        rate_class: None,
    };

    /// The tests that send take turns: `tracing` caches per call site whether anyone listens,
    /// and a send on another thread while the span test installs its subscriber can leave the
    /// span unrecorded.
    static SENDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn get(url: &str) -> reqwest::Request {
        reqwest::Request::new(Method::GET, url.parse().unwrap())
    }

    #[tokio::test]
    async fn the_user_agent_is_brokerkit_unless_overridden_or_off() {
        let _turn = SENDING.lock().await;
        let (url, seen) = echo_server().await;
        let client = crate::tls::client_builder().build().unwrap();
        let mut pipeline = Pipeline::default();
        send(&client, None, get(&url), &pipeline, OP, None)
            .await
            .unwrap();
        pipeline.user_agent = Some(HeaderValue::from_static("my-bot/2"));
        send(&client, None, get(&url), &pipeline, OP, None)
            .await
            .unwrap();
        let mut own = get(&url);
        own.headers_mut()
            .insert("user-agent", HeaderValue::from_static("caller/1"));
        send(&client, None, own, &pipeline, OP, None).await.unwrap();
        pipeline.user_agent = None;
        send(&client, None, get(&url), &pipeline, OP, None)
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0].as_deref(), Some(USER_AGENT));
        assert!(USER_AGENT.starts_with("brokerkit/"));
        assert_eq!(seen[1].as_deref(), Some("my-bot/2"));
        assert_eq!(
            seen[2].as_deref(),
            Some("caller/1"),
            "the caller's own header wins"
        );
        assert_eq!(seen[3], None);
    }

    /// Collects what a `tracing` subscriber is given, formatted.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn each_call_has_a_span_with_its_operation_status_and_attempts_and_no_url() {
        let _turn = SENDING.lock().await;
        use tracing_subscriber::fmt::format::FmtSpan;
        let (url, _) = echo_server().await;
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut request = get(&url);
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_static("Bearer tok-secret"),
        );
        let operation = Operation {
            id: "get_quotes",
            method: "GET",
            path: "/trade/accounts/{accountId}/quotes",
            secured: true,
            idempotent: true,
            rate_class: Some("QUOTES"),
        };
        send(
            &crate::tls::client_builder().build().unwrap(),
            None,
            request,
            &Pipeline::default(),
            operation,
            Some(HeaderValue::from_static("7")),
        )
        .await
        .unwrap();
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("brokerkit.call"), "{text}");
        for field in [
            "operation=\"get_quotes\"",
            "method=GET",
            "route=\"/trade/accounts/{accountId}/quotes\"",
            "rate_class=\"QUOTES\"",
            "status=200",
            "attempt=1",
            "elapsed_ms=",
            "paced_ms=",
        ] {
            assert!(text.contains(field), "{field} missing: {text}");
        }
        for secret in ["one-time-secret", "tok-secret", "/x?", "/x", "token="] {
            assert!(!text.contains(secret), "{secret} logged: {text}");
        }
    }

    /// A loopback server that answers 503 to the first `failures` requests, then 200, and
    /// counts every request.
    async fn flaky_server(failures: usize) -> (String, Arc<Mutex<usize>>) {
        let hits = Arc::new(Mutex::new(0usize));
        let seen = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                let mut n = seen.lock().unwrap();
                *n += 1;
                if *n <= failures {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "{}")
                } else {
                    (axum::http::StatusCode::OK, "{}")
                }
            }
        });
        let addr = serve(app).await;
        (format!("http://{addr}/x"), hits)
    }

    fn quick_retries() -> Pipeline {
        let mut pipeline = Pipeline::default();
        pipeline.retry.initial_backoff = Duration::from_millis(1);
        pipeline.retry.max_backoff = Duration::from_millis(5);
        pipeline
    }

    #[tokio::test]
    async fn retries_of_a_503_follow_the_table_not_the_method() {
        let _turn = SENDING.lock().await;
        let client = crate::tls::client_builder().build().unwrap();
        let pipeline = quick_retries();
        // A DELETE the table calls idempotent is sent again…
        let (url, hits) = flaky_server(1).await;
        let delete = Operation {
            method: "DELETE",
            ..OP
        };
        let request = reqwest::Request::new(Method::DELETE, url.parse().unwrap());
        let answer = send(&client, None, request, &pipeline, delete, None)
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(*hits.lock().unwrap(), 2);
        // …a GET the spec marks as not idempotent is not.
        let (url, hits) = flaky_server(1).await;
        let once = Operation {
            idempotent: false,
            ..OP
        };
        let answer = send(&client, None, get(&url), &pipeline, once, None)
            .await
            .unwrap();
        assert_eq!(answer.status(), 503);
        assert_eq!(*hits.lock().unwrap(), 1);
    }

    /// A loopback server that answers 401 unless the bearer is `fresh`, counting requests.
    async fn token_server() -> (String, Arc<Mutex<usize>>) {
        let hits = Arc::new(Mutex::new(0usize));
        let seen = hits.clone();
        let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                *seen.lock().unwrap() += 1;
                if headers
                    .get("authorization")
                    .is_some_and(|v| v == "Bearer fresh")
                {
                    (axum::http::StatusCode::OK, "{}")
                } else {
                    (axum::http::StatusCode::UNAUTHORIZED, "{}")
                }
            }
        });
        let addr = serve(app).await;
        (format!("http://{addr}/x"), hits)
    }

    #[tokio::test]
    async fn a_refused_token_is_renewed_and_resent_once_even_with_retries_off() {
        let _turn = SENDING.lock().await;
        let client = crate::tls::client_builder().build().unwrap();
        let (url, hits) = token_server().await;
        let tokens = TokenCell::new(Duration::ZERO);
        let mut stale = crate::Tokens::new("stale");
        stale.refresh = Some("r".into());
        tokens.set(stale);
        tokens.set_refresher(std::sync::Arc::new(|_| {
            Box::pin(async { Ok(crate::Tokens::new("fresh")) })
        }));
        let pipeline = Pipeline {
            retry: Retry::off(),
            ..Default::default()
        };
        let mut request = get(&url);
        crate::hooks::set_bearer(&mut request, &crate::Secret::new("stale")).unwrap();
        let answer = send(&client, Some(&tokens), request, &pipeline, OP, None)
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(
            *hits.lock().unwrap(),
            2,
            "the refused request and one resend"
        );
        assert_eq!(tokens.refresh_count(), 1);
    }

    #[tokio::test]
    async fn an_answer_that_does_not_decode_keeps_its_status_headers_and_body() {
        let _turn = SENDING.lock().await;
        let app =
            axum::Router::new().fallback(|| async { ([("x-request-id", "req-7")], "{\"a\": ") });
        let addr = serve(app).await;
        let client = crate::tls::client_builder().build().unwrap();
        let pipeline = Pipeline::default();
        let url = format!("http://{addr}/x");
        let failure = run(async {
            let response = send(&client, None, get(&url), &pipeline, OP, None)
                .await
                .map_err(progenitor_client::Error::<()>::CommunicationError)?;
            crate::decode::json::<serde_json::Value, ()>(response).await
        })
        .await
        .unwrap_err();
        let crate::Failure::Decode {
            status,
            headers,
            body,
            ..
        } = failure
        else {
            panic!("{failure:?}");
        };
        assert_eq!(status, Some(200));
        assert_eq!(headers["x-request-id"], "req-7");
        assert_eq!(&body.bytes()[..], b"{\"a\": ");
    }

    #[tokio::test]
    async fn each_attempt_waits_its_turn_under_the_rate_class() {
        let _turn = SENDING.lock().await;
        let (url, hits) = flaky_server(2).await;
        let client = crate::tls::client_builder().build().unwrap();
        let mut pipeline = quick_retries();
        let limit = crate::Limit::per_second(10).unwrap();
        pipeline.rate_limits = RateLimits::default().limit("QUOTES", limit);
        let quotes = Operation {
            rate_class: Some("QUOTES"),
            ..OP
        };
        let started = std::time::Instant::now();
        let answer = send(
            &client,
            None,
            get(&url),
            &pipeline,
            quotes,
            Some(HeaderValue::from_static("1")),
        )
        .await
        .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(*hits.lock().unwrap(), 3, "two 503s, then the answer");
        let spacing = limit.spacing(crate::rate::DEFAULT_HEADROOM_PERCENT);
        assert!(started.elapsed() >= spacing * 2, "{:?}", started.elapsed());
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        let retry = Retry::default();
        let delays: Vec<_> = retry.backoff().collect();
        assert_eq!(delays.len(), 2, "three attempts: two waits");
        assert!(delays.iter().all(|d| *d <= retry.max_backoff));
        assert_eq!(Retry::off().backoff().count(), 0);
    }
}
