//! One call of a generated client, as its hooks saw it.
//!
//! progenitor's error type cannot say everything a caller needs: a 200 whose body does not
//! decode loses its status, a renewal that failed inside the `exec` hook can only surface as
//! the original 401, and a cut connection does not say whether an order was already sent. The
//! hooks note those facts in a task-local slot that [`scope`] opens around one call, and
//! [`Failure::from_progenitor`](crate::Failure::from_progenitor) reads them back. Outside a
//! scope nothing is noted and errors are read from progenitor's error alone.
//!
//! [`send`] is the `exec` step every vendor shares: it notes the method, sends (renewing the
//! token once on a 401 when given a [`TokenCell`]) and bounds the answer's size.

use crate::{hooks::send_renewing, RefreshError, TokenCell};
use futures::StreamExt;
use http::{HeaderMap, Method};
use std::cell::RefCell;
use std::future::Future;

/// The default largest answer a client reads (a 20,000-bar TradeLocker history is about
/// 1.5 MB; a full AutoShares page of 1,000 orders about 2 MB): 64 MiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) method: Option<Method>,
    pub(crate) response: Option<(u16, HeaderMap)>,
    pub(crate) renewal: Option<RefreshError>,
    pub(crate) not_logged_in: bool,
    pub(crate) sealed: bool,
}

tokio::task_local! {
    static SLOT: RefCell<Seen>;
}

/// Runs one call (the generated future and the reading of its error) with a fresh slot.
/// The call lives on the heap: a generated call's future is large in debug builds, and a
/// caller awaiting many different calls would otherwise carry the largest in its own frame.
pub fn scope<F: Future>(fut: F) -> std::pin::Pin<Box<impl Future<Output = F::Output>>> {
    Box::pin(SLOT.scope(RefCell::new(Seen::default()), fut))
}

fn note(f: impl FnOnce(&mut Seen)) {
    let _ = SLOT.try_with(|slot| f(&mut slot.borrow_mut()));
}

pub(crate) fn take() -> Option<Seen> {
    SLOT.try_with(|slot| std::mem::take(&mut *slot.borrow_mut()))
        .ok()
}

/// Marks the answer of this call as one that carries credentials as a whole (login, refresh,
/// token exchange): errors then never print its body.
pub fn seal() {
    note(|s| s.sealed = true);
}

/// Notes that renewing the token failed, so the caller gets this error rather than the 401.
pub fn note_renewal_failure(error: &RefreshError) {
    let e = error.clone();
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

/// The answer was larger than the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer is larger than the {limit} bytes this client accepts")]
pub struct TooLarge {
    pub limit: usize,
}

/// Sends `request`: with `tokens`, a 401 to the current token is answered by one renewal and
/// one resend (see [`send_renewing`]). The answer's body is cut off with a [`TooLarge`] error
/// past `max_body` bytes.
pub async fn send(
    client: &reqwest::Client,
    tokens: Option<&TokenCell>,
    request: reqwest::Request,
    max_body: usize,
) -> reqwest::Result<reqwest::Response> {
    let method = request.method().clone();
    note(|s| s.method = Some(method));
    let response = match tokens {
        Some(tokens) => send_renewing(client, tokens, request).await?,
        None => client.execute(request).await?,
    };
    note(|s| s.response = Some((response.status().as_u16(), response.headers().clone())));
    Ok(bound(response, max_body))
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
