//! What the generated [`Client`] carries and does before each request.
//!
//! [`State`] holds the session's token cell. The [`ClientHooks`] impl below runs before every
//! call: for the operations the spec marks as secured (`secured` in their entry of the
//! generated operations table, [`operation`]), adds `Authorization: Bearer <token>`, renewing
//! the token first when it is about to expire, and answers a 401 with one renewal and one
//! resend. A secured call made before login is refused
//! without sending anything.

use crate::{operation, Client};
use brokerkit_runtime::{call, Secret, TokenCell, Tokens};
use progenitor_client::{ClientHooks, ClientInfo, Error as ProgenitorError, OperationInfo};
use std::sync::Arc;
use std::time::Duration;

/// How long before `exp` a token counts as stale and is renewed.
pub const EXPIRY_SKEW: Duration = Duration::from_secs(30);

/// The generated client's inner state: the tokens the hooks send.
#[derive(Clone, Debug)]
pub struct State {
    pub(crate) tokens: Arc<TokenCell>,
    /// How requests are sent: User-Agent, retries, deadline, answer size limit.
    pub(crate) pipeline: call::Pipeline,
}

impl Default for State {
    fn default() -> Self {
        Self {
            tokens: Arc::new(TokenCell::new(EXPIRY_SKEW)),
            pipeline: call::Pipeline::default(),
        }
    }
}

/// Operations whose answers carry tokens or API-token secrets: never printed in errors.
const AUTH_OPERATIONS: &[&str] = &[
    "customer_login",
    "customer_login_token_pair",
    "autologin",
    "refresh_token",
    "staff_login",
    "create_api_token",
    "rotate_api_token",
];

impl State {
    /// A state that sends `token` (an API token, or an access token obtained elsewhere).
    pub fn with_token(token: impl Into<Secret>) -> Self {
        let state = Self::default();
        state.tokens.set(Tokens::new(token));
        state
    }

    /// The token cell the hooks read.
    pub fn tokens(&self) -> &Arc<TokenCell> {
        &self.tokens
    }
}

impl ClientHooks<State> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), ProgenitorError<E>> {
        if AUTH_OPERATIONS.contains(&info.operation_id) {
            call::seal();
        }
        if !operation(info.operation_id).is_some_and(|o| o.secured) {
            return Ok(());
        }
        let bearer = match self.inner().tokens.bearer().await {
            Ok(Some(bearer)) => bearer,
            Ok(None) => return Err(call::not_logged_in(info.operation_id)),
            Err(e) => {
                return Err(ProgenitorError::Custom(format!(
                    "could not renew the session: {e}"
                )))
            }
        };
        bearer.set(request).map_err(ProgenitorError::Custom)
    }

    fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        // A 401 to the current token renews it once and resends, for direct `client()` calls
        // as much as for `Session::call`.
        // Slate's limit is per user: one session, one count.
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
