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
    /// The headers of an answer whose body did not decode, noted by [`crate::decode::json`]
    /// (only then: cloning them for every call would cost each call an allocation or more).
    pub(crate) headers: Option<Box<HeaderMap>>,
    pub(crate) renewal: Option<Box<RefreshError>>,
    pub(crate) not_logged_in: bool,
    pub(crate) not_ready: bool,
    pub(crate) sealed: bool,
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

/// Runs one generated call in a [`scope`] and reads its error as a [`Failure`](crate::Failure):
/// what every vendor's `Session::call` does before giving a failure its vendor meaning.
pub async fn run<T, E, Fut>(fut: Fut) -> Result<crate::Reply<T>, crate::Failure>
where
    E: serde::Serialize,
    Fut: Future<Output = Result<progenitor_client::ResponseValue<T>, progenitor_client::Error<E>>>,
{
    scope(async move {
        match fut.await {
            Ok(v) => Ok(crate::Reply::from_response(v)),
            Err(e) => Err(crate::Failure::from_progenitor(e).await),
        }
    })
    .await
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
    note(|s| s.headers = Some(Box::new(headers)));
}

/// Marks the answer of this call as one that carries credentials as a whole (login, refresh,
/// token exchange): errors then never print its body.
pub fn seal() {
    note(|s| s.sealed = true);
}

/// Notes that renewing the token failed, so the caller gets this error rather than the 401.
pub fn note_renewal_failure(error: &RefreshError) {
    let e = Box::new(error.clone());
    note(move |s| s.renewal = Some(e));
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
/// One future, not an `async fn` around an instrumented block: every layer of an async call
/// keeps its own copy of the request and is moved whole into the next, and a quote paid for
/// that in copies on every call (issue 12).
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
    let record = span.clone();
    async move {
        let started = tokio::time::Instant::now();
        let deadline = pipeline.deadline.map(|d| started + d);
        let mut backoff = None;
        let mut attempt = 1u32;
        let mut paced = Duration::ZERO;
        let result = loop {
            // Past the deadline the request is still built, with no time left: it fails as a
            // timeout, as any other overrun does.
            paced += match (
                pipeline
                    .rate_limits
                    .turn(operation.rate_class, account.as_ref()),
                deadline,
            ) {
                (None, _) => Duration::ZERO,
                (Some(turn), Some(deadline)) => tokio::time::timeout_at(deadline, turn)
                    .await
                    .unwrap_or_else(|_| deadline.saturating_duration_since(started)),
                (Some(turn), None) => turn.await,
            };
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let timeout = request.timeout_mut();
                *timeout = Some(timeout.map_or(left, |t| t.min(left)));
            }
            // One copy serves both a retry and the resend after a renewal.
            let again = if attempt < pipeline.retry.max_attempts || tokens.is_some() {
                request.try_clone()
            } else {
                None
            };
            let mut result = client.execute(request).await;
            if let (Some(tokens), Ok(refused)) = (tokens, &result) {
                if refused.status() == reqwest::StatusCode::UNAUTHORIZED {
                    // Rare: kept out of the future every call carries.
                    let resent = Box::pin(crate::hooks::renew_and_resend(
                        client,
                        tokens,
                        again.as_ref(),
                    ))
                    .await;
                    if let Some(resent) = resent {
                        result = resent;
                    }
                }
            }
            let again = again.filter(|_| attempt < pipeline.retry.max_attempts);
            let wait = retry_wait(&result, operation.idempotent, &pipeline.retry, || {
                backoff
                    .get_or_insert_with(|| pipeline.retry.backoff())
                    .next()
            });
            let fits =
                |wait: Duration| deadline.is_none_or(|d| tokio::time::Instant::now() + wait < d);
            let (wait, next) = match (wait, again) {
                (Some(wait), Some(next)) if fits(wait) => (wait, next),
                _ => break result,
            };
            // The refused answer is dropped before the wait, not carried through it.
            drop(result);
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying");
            request = next;
            Box::pin(tokio::time::sleep(wait)).await;
            attempt += 1;
        };
        record.record("attempt", attempt);
        record.record("elapsed_ms", started.elapsed().as_millis() as u64);
        record.record("paced_ms", paced.as_millis() as u64);
        let response = result?;
        record.record("status", response.status().as_u16());
        note(|s| s.status = Some(response.status().as_u16()));
        Ok(bound(response, pipeline.max_body))
    }
    .instrument(span)
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
