//! The request hooks of the generated [`Client`]: every call made through a
//! session gets its bearer token and `accNum` without the caller touching headers, a stale
//! token is renewed first, and a 401 is answered by one refresh and one retry.

use crate::generated::{operation, Client};
use brokerkit_runtime::call;
use brokerkit_runtime::hooks::set_secret_header;
use brokerkit_runtime::{Secret, TokenCell};
use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use reqwest::header::{HeaderName, HeaderValue};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Renew the access token this long before `expireDate`.
pub const REFRESH_SKEW: Duration = Duration::from_secs(60);

/// What the hooks need: the tokens and the selected account. Shared by clones of a
/// [`Session`](crate::Session); a bare `State::default()` sends no credentials.
#[derive(Clone, Debug)]
pub struct State {
    pub(crate) tokens: Arc<TokenCell>,
    /// The selected account: its `accNum` header and its id in paths, kept together so a
    /// call never pairs one account's number with another's id.
    pub(crate) account: Arc<RwLock<Option<Selected>>>,
    /// How requests are sent: User-Agent, retries, deadline, answer size limit.
    pub(crate) pipeline: call::Pipeline,
    /// The `developer-api-key` sent on every call but the stream-token exchange, when set.
    pub(crate) developer_key: Option<Secret>,
}

/// The account every `/trade` call acts on.
#[derive(Clone, Debug)]
pub(crate) struct Selected {
    pub(crate) id: String,
    pub(crate) acc_num: String,
    /// `acc_num` as the header every `/trade` call sends, made once (cloning it costs no
    /// copy); `None` when it cannot be a header value.
    header: Option<HeaderValue>,
}

impl Selected {
    pub(crate) fn new(id: String, acc_num: String) -> Self {
        let header = HeaderValue::from_str(&acc_num).ok();
        Self {
            id,
            acc_num,
            header,
        }
    }
}

impl Default for State {
    fn default() -> Self {
        Self {
            tokens: Arc::new(TokenCell::new(REFRESH_SKEW)),
            account: Arc::default(),
            pipeline: call::Pipeline::default(),
            developer_key: None,
        }
    }
}

impl State {
    /// Reads the selected account without copying it.
    pub(crate) fn with_selected<T>(&self, f: impl FnOnce(&Selected) -> T) -> Option<T> {
        self.account
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(f)
    }
}

const ACC_NUM: HeaderName = HeaderName::from_static("accnum");
const DEVELOPER_API_KEY: HeaderName = HeaderName::from_static("developer-api-key");

/// The one call the developer key must not go to (reference §2: the stream-token exchange).
const WITHOUT_DEVELOPER_KEY: &str = "get_stream_account_tokens";

/// Operations whose answers carry the tokens: never printed in errors.
const AUTH_OPERATIONS: &[&str] = &["get_jwt_token", "refresh_jwt_token"];

fn is_secured(info: &OperationInfo) -> bool {
    operation(info.operation_id).is_some_and(|o| o.secured)
}

/// `/trade` operations are the secured ones except the account list, which runs before an
/// account is chosen.
fn needs_account(info: &OperationInfo) -> bool {
    is_secured(info) && info.operation_id != "get_all_accounts"
}

impl ClientHooks<State> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        let state = self.inner();
        if let Some(key) = &state.developer_key {
            if info.operation_id != WITHOUT_DEVELOPER_KEY {
                set_secret_header(request, DEVELOPER_API_KEY, key, "").map_err(Error::Custom)?;
            }
        }
        if AUTH_OPERATIONS.contains(&info.operation_id) {
            call::seal();
        }
        if !is_secured(info) {
            return Ok(());
        }
        // A failed renewal is noted by the token cell and typed by the call scope.
        let bearer = state
            .tokens
            .bearer()
            .await
            .map_err(|e| Error::Custom(e.to_string()))?;
        let Some(bearer) = bearer else {
            return Err(call::not_logged_in(info.operation_id));
        };
        bearer.set(request).map_err(Error::Custom)?;
        if needs_account(info) {
            let Some(header) = state.with_selected(|s| s.header.clone()) else {
                return Err(call::not_ready(format!(
                    "`{}` needs an account: call Session::select_account first",
                    info.operation_id
                )));
            };
            let value = header.ok_or_else(|| {
                call::not_ready("the account's accNum is not a valid header value")
            })?;
            request.headers_mut().insert(ACC_NUM, value);
        }
        Ok(())
    }

    fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
        // Rate limits count per account: the one whose `accNum` this request carries (a
        // clone of the header shares its bytes).
        let state = self.inner();
        let account = request.headers().get(ACC_NUM).cloned();
        call::exec(
            self.client(),
            &state.tokens,
            request,
            &state.pipeline,
            operation(info.operation_id),
            info.operation_id,
            account,
        )
    }
}
