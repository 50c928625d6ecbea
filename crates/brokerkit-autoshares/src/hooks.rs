//! The request hooks of the generated [`Client`].
//!
//! Every call carries `Et-App-Key`; every operation the spec secures carries
//! `Authorization: Bearer <token>`; the second step of a two-factor login carries the interim
//! token. None of it is the caller's business. A session past its lifetime is refused before
//! sending (or renewed first, when a re-login hook is installed), a 401 is answered by one
//! re-login and one retry when possible, and the raw body of every failed response is kept
//! for the typed [`Error`](crate::Error).

use crate::generated::{operation, Client};
use brokerkit_runtime::call;
use brokerkit_runtime::hooks::{set_bearer, set_secret_header};
use brokerkit_runtime::{RefreshError, Secret, TokenCell};
use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use reqwest::header::HeaderName;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// Re-login this long before the token's lifetime ends (when a re-login hook is installed).
pub const RELOGIN_SKEW: Duration = Duration::from_secs(60);

/// The operation id of `POST /token`, as progenitor names it.
pub(crate) const GET_TOKEN: &str = "get_token";

const ET_APP_KEY: HeaderName = HeaderName::from_static("et-app-key");

/// What the hooks need. Clones share everything; `Debug` shows no secret.
#[derive(Clone)]
pub struct State {
    pub(crate) app_key: Arc<RwLock<Option<Secret>>>,
    pub(crate) tokens: Arc<TokenCell>,
    /// The interim token of a two-factor login in progress (sent only on `POST /token`).
    pub(crate) interim: Arc<Mutex<Option<Secret>>>,
    /// How requests are sent: User-Agent, retries, deadline, answer size limit.
    pub(crate) pipeline: call::Pipeline,
}

impl Default for State {
    fn default() -> Self {
        Self {
            app_key: Arc::default(),
            tokens: Arc::new(TokenCell::new(RELOGIN_SKEW)),
            interim: Arc::default(),
            pipeline: call::Pipeline::default(),
        }
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field(
                "app_key",
                &self
                    .app_key
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|_| "***"),
            )
            .field("tokens", &self.tokens)
            .field(
                "two_factor_pending",
                &self
                    .interim
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some(),
            )
            .finish()
    }
}

impl State {
    pub(crate) fn new(app_key: Secret, pipeline: call::Pipeline) -> Self {
        let state = Self {
            pipeline,
            ..Self::default()
        };
        *state.app_key.write().unwrap_or_else(|p| p.into_inner()) = Some(app_key);
        state
    }

    pub(crate) fn app_key(&self) -> Option<Secret> {
        self.app_key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_interim(&self, token: Option<Secret>) {
        *self.interim.lock().unwrap_or_else(|p| p.into_inner()) = token;
    }

    fn interim(&self) -> Option<Secret> {
        self.interim
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn is_secured(info: &OperationInfo) -> bool {
    operation(info.operation_id).is_some_and(|o| o.secured)
}

impl ClientHooks<State> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        let state = self.inner();
        let Some(key) = state.app_key() else {
            return Err(call::not_ready(
                "no Et-App-Key: build the client with an app key",
            ));
        };
        set_secret_header(request, ET_APP_KEY, &key, "").map_err(Error::Custom)?;
        if info.operation_id == GET_TOKEN {
            // The answer carries the tokens: errors never print it.
            call::seal();
            for name in ["password", "pincode", "verificationcode", "oauthcode"] {
                if let Some(v) = request.headers_mut().get_mut(name) {
                    v.set_sensitive(true);
                }
            }
            if let Some(interim) = state.interim() {
                set_bearer(request, &interim).map_err(Error::Custom)?;
            }
            return Ok(());
        }
        if !is_secured(info) {
            return Ok(());
        }
        // Renews first when the token is near its end and a re-login hook is installed.
        let bearer = state
            .tokens
            .bearer()
            .await
            .map_err(|e| Error::Custom(format!("autoshares: re-login failed: {e}")))?;
        let Some(bearer) = bearer else {
            return Err(call::not_logged_in(info.operation_id));
        };
        let expired = state
            .tokens
            .snapshot()
            .and_then(|(t, _)| t.access_expires_at)
            .is_some_and(|at| SystemTime::now() >= at);
        if expired {
            // Typed as a renewal that only a new login can make.
            let e = RefreshError::login_required(
                None,
                "the session expired (tokens live 24 hours) and no re-login hook is installed",
            );
            call::note_renewal_failure(&e);
            return Err(Error::Custom(e.to_string()));
        }
        bearer.set(request).map_err(Error::Custom)?;
        Ok(())
    }

    fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        // A refused token is renewed through the re-login hook, once, and the call resent.
        let state = self.inner();
        call::exec(
            self.client(),
            &state.tokens,
            request,
            &state.pipeline,
            operation(info.operation_id),
            info.operation_id,
            None,
        )
    }
}
