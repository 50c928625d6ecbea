//! The request hooks of the generated [`Client`]: every secured call made
//! through a session gets `Authorization: Bearer <accessToken>`, a token about to expire is
//! renewed first, and a 401 is answered by one refresh and one retry (single-flight, however
//! many calls see it at once). What the hooks see of each call (a refusal, a failed renewal,
//! the status of an undecodable answer) goes to the runtime's call scope, which
//! [`Session::call`](crate::Session::call) opens.

use crate::generated::{operation, Client};
use brokerkit_runtime::call;
use brokerkit_runtime::TokenCell;
use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use std::sync::Arc;
use std::time::Duration;

/// What the hooks need: the session's tokens. Shared by clones of a
/// [`Session`](crate::Session); a bare `State::default()` sends no credentials.
#[derive(Clone, Debug)]
pub struct State {
    pub(crate) tokens: Arc<TokenCell>,
    /// How requests are sent: User-Agent, retries, deadline, answer size limit.
    pub(crate) pipeline: call::Pipeline,
}

impl Default for State {
    fn default() -> Self {
        // The session computes expiry times with its own margin, so the cell needs none.
        Self {
            tokens: Arc::new(TokenCell::new(Duration::ZERO)),
            pipeline: call::Pipeline::default(),
        }
    }
}

/// Operations whose answers carry tokens: never printed in errors.
const AUTH_OPERATIONS: &[&str] = &["get_token", "refresh_token"];

fn is_secured(info: &OperationInfo) -> bool {
    operation(info.operation_id).is_some_and(|o| o.secured)
}

impl ClientHooks<State> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if AUTH_OPERATIONS.contains(&info.operation_id) {
            call::seal();
        }
        if !is_secured(info) {
            return Ok(());
        }
        match self.inner().tokens.bearer().await {
            Ok(Some(bearer)) => bearer.set(request).map_err(Error::Custom),
            Ok(None) => Err(call::not_logged_in(info.operation_id)),
            Err(e) => Err(Error::Custom(e.to_string())),
        }
    }

    fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
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
