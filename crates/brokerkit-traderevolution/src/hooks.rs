//! The request hooks of the generated [`Client`](crate::Client): every secured call made
//! through a session gets `Authorization: Bearer <accessToken>`, a token about to expire is
//! renewed first, and a 401 is answered by one refresh and one retry (single-flight, however
//! many calls see it at once).
//!
//! Inside [`Session::call`](crate::Session::call) the hooks also note what happened to the
//! request (the raw status, headers and body of an error answer, or why it was not sent), so the
//! crate's [`Error`](crate::Error) keeps the body as received even when it is not the JSON the
//! spec describes.

use crate::generated::{Client, SECURED_OPERATIONS};
use brokerkit_runtime::hooks::{send_renewing, set_bearer, strip_generator_headers};
use brokerkit_runtime::{RefreshError, TokenCell};
use bytes::Bytes;
use http::HeaderMap;
use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

/// What the hooks need: the session's tokens. Shared by clones of a
/// [`Session`](crate::Session); a bare `State::default()` sends no credentials.
#[derive(Clone, Debug)]
pub struct State {
    pub(crate) tokens: Arc<TokenCell>,
}

impl Default for State {
    fn default() -> Self {
        // The session computes expiry times with its own margin, so the cell needs none.
        Self {
            tokens: Arc::new(TokenCell::new(Duration::ZERO)),
        }
    }
}

/// What the hooks saw of the last request of a [`Session::call`](crate::Session::call).
#[derive(Debug)]
pub(crate) enum Seen {
    Response {
        status: u16,
        headers: HeaderMap,
        body: Option<Bytes>,
    },
    NotLoggedIn(String),
    RefreshFailed(RefreshError),
}

tokio::task_local! {
    pub(crate) static SEEN: RefCell<Option<Seen>>;
}

/// Records `seen` for the enclosing [`Session::call`](crate::Session::call), if any.
fn note(seen: Seen) {
    let _ = SEEN.try_with(|slot| *slot.borrow_mut() = Some(seen));
}

fn observing() -> bool {
    SEEN.try_with(|_| ()).is_ok()
}

fn is_secured(info: &OperationInfo) -> bool {
    SECURED_OPERATIONS.contains(&info.operation_id)
}

/// Notes the answer; an error answer's body is read, noted and put back so the generated
/// code can still decode it.
async fn observe(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    if !observing() {
        return Ok(response);
    }
    let status = response.status();
    if status.as_u16() < 400 {
        note(Seen::Response {
            status: status.as_u16(),
            headers: HeaderMap::new(),
            body: None,
        });
        return Ok(response);
    }
    let headers = response.headers().clone();
    let version = response.version();
    let body = response.bytes().await?;
    note(Seen::Response {
        status: status.as_u16(),
        headers: headers.clone(),
        body: Some(body.clone()),
    });
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}

impl ClientHooks<State> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        strip_generator_headers(request);
        if !is_secured(info) {
            return Ok(());
        }
        let state = self.inner();
        match state.tokens.access().await {
            Ok(Some((token, _))) => set_bearer(request, &token).map_err(Error::Custom),
            Ok(None) => {
                let msg = format!(
                    "`{}` needs a logged-in session: call Session::login first",
                    info.operation_id
                );
                note(Seen::NotLoggedIn(msg.clone()));
                Err(Error::Custom(msg))
            }
            Err(e) => {
                let msg = e.to_string();
                note(Seen::RefreshFailed(e));
                Err(Error::Custom(msg))
            }
        }
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = if is_secured(info) {
            send_renewing(self.client(), &self.inner().tokens, request).await?
        } else {
            self.client().execute(request).await?
        };
        observe(response).await
    }
}
