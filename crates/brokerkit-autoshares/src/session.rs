//! Logging in (single- or two-factor), the logged-in [`Session`], and typed calls on it.

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::hooks::State;
use crate::orders::{Order, OrderPreview, OrderRequest, ReplaceRequest};
use crate::paging::{paginate, Page, PagingResult, DEFAULT_PAGE_SIZE};
use crate::{types, Client};
use brokerkit_runtime::call::Pipeline;
use brokerkit_runtime::{BrokerError, ClientConfig, Failure, RefreshError, Reply, Secret, Tokens};
use futures::future::BoxFuture;
use futures::stream::Stream;
use progenitor_client::ResponseValue;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long AutoShares tokens live.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs one call of the generated client and turns its failure into a typed [`Error`] that
/// keeps the raw response body.
pub(crate) async fn run<T, E, F>(fut: F) -> Result<ResponseValue<T>>
where
    E: serde::Serialize,
    F: Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<E>>>,
{
    brokerkit_runtime::call::scoped(fut, Error::from_client).await
}

/// The base URL of an ETNA-hosted AutoShares environment, e.g. `pub-api-et-demo-prod`.
pub fn etna_base_url(environment: &str) -> String {
    format!("https://{environment}.etnasoft.us/api")
}

/// Entry point: the base URL, the app key and HTTP settings. Cheap to clone.
#[derive(Clone)]
pub struct AutoShares {
    base_url: String,
    app_key: Secret,
    http: reqwest::Client,
    pipeline: Pipeline,
    token_lifetime: Duration,
}

impl std::fmt::Debug for AutoShares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoShares")
            .field("base_url", &self.base_url)
            .field("app_key", &self.app_key)
            .finish()
    }
}

/// Settings for [`AutoShares`].
#[derive(Clone, Debug)]
pub struct AutoSharesBuilder {
    base_url: String,
    app_key: Secret,
    client_config: ClientConfig,
    token_lifetime: Duration,
}

impl AutoSharesBuilder {
    /// Timeouts, a `reqwest::Client` of your own, User-Agent, retries, deadline, answer size
    /// limit: the same [`ClientConfig`] every brokerkit session takes.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.client_config = config;
        self
    }

    /// How long a token is trusted after login (default [`TOKEN_LIFETIME`], 24 hours).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    pub fn build(self) -> Result<AutoShares> {
        let http = self
            .client_config
            .build()
            .map_err(Failure::InvalidRequest)?;
        if self.app_key.is_empty() {
            return Err(Error::Failure(Failure::InvalidRequest(
                "the Et-App-Key is empty".into(),
            )));
        }
        Ok(AutoShares {
            base_url: self.base_url.trim_end_matches('/').to_string(),
            app_key: self.app_key,
            http,
            pipeline: self.client_config.pipeline,
            token_lifetime: self.token_lifetime,
        })
    }
}

/// The outcome of a login step.
#[derive(Debug)]
#[must_use]
pub enum Login {
    /// Logged in.
    Session(Session),
    /// Another factor is needed: answer it with [`Challenge::answer`].
    Challenge(Challenge),
}

impl Login {
    /// The session, or [`Error::SecondFactorRequired`] when a challenge came instead.
    pub fn into_session(self) -> Result<Session> {
        match self {
            Login::Session(s) => Ok(s),
            Login::Challenge(c) => Err(Error::SecondFactorRequired {
                step: c.step.to_string(),
            }),
        }
    }
}

/// The factor a two-factor login asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengeStep {
    /// The code sent by e-mail or SMS (step `VerificationCode`).
    VerificationCode,
    /// The user's PIN (step `SecutityPin`, the server's spelling).
    SecurityPin,
    /// A step this client does not know; the answer is sent as a verification code.
    Other(String),
}

impl ChallengeStep {
    fn parse(step: Option<&str>) -> Self {
        match step {
            Some("VerificationCode") | None => ChallengeStep::VerificationCode,
            Some("SecutityPin" | "SecurityPin") => ChallengeStep::SecurityPin,
            Some(other) => ChallengeStep::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for ChallengeStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChallengeStep::VerificationCode => f.write_str("VerificationCode"),
            ChallengeStep::SecurityPin => f.write_str("SecutityPin"),
            ChallengeStep::Other(s) => f.write_str(s),
        }
    }
}

/// A two-factor login waiting for its next factor. `Debug` shows no credential.
pub struct Challenge {
    step: ChallengeStep,
    reason: Option<String>,
    login: Pending,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("step", &self.step)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl Challenge {
    /// The factor expected.
    pub fn step(&self) -> &ChallengeStep {
        &self.step
    }

    /// The server's words, e.g. `Expecting confirmation code` or `Invalid pin`.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Sends the code (or PIN) the step asks for. A wrong one gives
    /// [`Error::LoginFailed`] (or another challenge, when the server allows a retry).
    pub async fn answer(self, code: impl Into<Secret>) -> Result<Login> {
        let code = code.into();
        let pin = matches!(self.step, ChallengeStep::SecurityPin);
        self.login.step(Some((code, pin))).await
    }
}

/// A login in progress: the client and credentials to repeat `POST /token` with.
struct Pending {
    api: AutoShares,
    client: Client,
    state: State,
    username: String,
    password: Secret,
}

impl Pending {
    async fn step(self, factor: Option<(Secret, bool)>) -> Result<Login> {
        // The credentials leave the `Secret`s only here, into headers the hooks mark sensitive.
        let mut call = self
            .client
            .get_token()
            .username(self.username.clone())
            .password(self.password.expose().to_string());
        match factor {
            Some((code, true)) => call = call.pin_code(code.expose().to_string()),
            Some((code, false)) => call = call.verification_code(code.expose().to_string()),
            None => {}
        }
        let rv = run(call.send()).await;
        self.state.set_interim(None);
        let rv = rv?;
        let status = rv.status().as_u16();
        let (state, step, reason, token) = match rv.into_inner() {
            types::GetTokenSuccess::Succeeded(t) => (
                crate::orders::wire_name(&t.state),
                t.step,
                t.reason,
                t.token,
            ),
            types::GetTokenSuccess::Expecting(t) => (
                crate::orders::wire_name(&t.state),
                t.step.as_ref().map(crate::orders::wire_name),
                t.reason,
                t.token,
            ),
        };
        if status == 202 || state == "Expecting" {
            self.state.set_interim(Some(token));
            return Ok(Login::Challenge(Challenge {
                step: ChallengeStep::parse(step.as_deref()),
                reason,
                login: self,
            }));
        }
        if token.is_empty() {
            return Err(Error::Failure(Failure::Decode {
                status: Some(status),
                headers: Default::default(),
                body: Default::default(),
                message: format!("login answered {status} with state `{state}` but no token"),
            }));
        }
        let Pending {
            api,
            client,
            state: hook_state,
            username,
            ..
        } = self;
        hook_state.tokens.set(api.tokens(token, None));
        Ok(Login::Session(Session {
            api,
            client,
            state: hook_state,
            username,
        }))
    }
}

impl AutoShares {
    /// A client for `base_url` (including `/api`, e.g. [`etna_base_url`]) with this app key.
    pub fn builder(base_url: impl Into<String>, app_key: impl Into<Secret>) -> AutoSharesBuilder {
        AutoSharesBuilder {
            base_url: base_url.into(),
            app_key: app_key.into(),
            client_config: ClientConfig::default(),
            token_lifetime: TOKEN_LIFETIME,
        }
    }

    /// [`AutoShares::builder`] with default settings.
    pub fn new(base_url: impl Into<String>, app_key: impl Into<Secret>) -> Result<Self> {
        Self::builder(base_url, app_key).build()
    }

    fn client_with(&self, state: State) -> Client {
        Client::new_with_client(&self.base_url, self.http.clone(), state)
    }

    /// A generated client that sends the app key but no token: for the calls that need no
    /// login (registration, password reset, IPO security info).
    pub fn anonymous(&self) -> Client {
        self.client_with(State::new(self.app_key.clone(), self.pipeline.clone()))
    }

    fn tokens(&self, access: Secret, relogin: Option<Secret>) -> Tokens {
        Tokens {
            access,
            refresh: relogin,
            access_expires_at: Some(SystemTime::now() + self.token_lifetime),
            refresh_expires_at: None,
        }
    }

    /// Logs in with a user name and password. Two-factor users get a [`Login::Challenge`].
    pub async fn login(
        &self,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Result<Login> {
        let state = State::new(self.app_key.clone(), self.pipeline.clone());
        let pending = Pending {
            api: self.clone(),
            client: self.client_with(state.clone()),
            state,
            username: username.into(),
            password: password.into(),
        };
        pending.step(None).await
    }

    /// Registers a new user (`origin` must match the company host name set in the back
    /// office). A refusal is [`Error::RegistrationFailed`] with the server's reason.
    pub async fn register(
        &self,
        origin: &str,
        request: types::RegistrationRequest,
    ) -> Result<types::UserInfoModel> {
        Ok(run(self
            .anonymous()
            .register_user()
            .origin(origin)
            .body(request)
            .send())
        .await?
        .into_inner())
    }

    /// Password reset, step 1: e-mails a confirmation code. `answer` is the secret question's
    /// answer when the user has one. `IsSucceed: false` is [`Error::Refused`].
    pub async fn request_password_reset(
        &self,
        username: &str,
        answer: Option<Secret>,
    ) -> Result<()> {
        let body = types::RequestChangePasswordResource {
            user: Some(username.to_string()),
            secret_question_answer: answer,
        };
        let rv = run(self.anonymous().request_password_reset().body(body).send()).await?;
        let status = rv.status().as_u16();
        refused(status, rv.into_inner()).map(|_| ())
    }

    /// Password reset, step 2 (optional): the user's secret question.
    pub async fn secret_question(&self, username: &str) -> Result<String> {
        let rv = run(self
            .anonymous()
            .get_secret_question()
            .username(username)
            .send())
        .await?;
        let status = rv.status().as_u16();
        let model = refused_string(status, rv.into_inner())?;
        Ok(model.map(|m| m.expose().to_string()).unwrap_or_default())
    }

    /// Password reset, step 3: exchanges the e-mailed code for a reset token.
    pub async fn accept_password_reset_code(&self, code: impl Into<Secret>) -> Result<Secret> {
        let body = types::AcceptPasswordCodeResource {
            code: Some(code.into()),
        };
        let rv = run(self
            .anonymous()
            .accept_password_reset_code()
            .body(body)
            .send())
        .await?;
        let status = rv.status().as_u16();
        refused_string(status, rv.into_inner())?.ok_or_else(|| {
            Error::Failure(Failure::Decode {
                status: Some(status),
                headers: Default::default(),
                body: Default::default(),
                message: "the reset code was accepted but no reset token came back".into(),
            })
        })
    }

    /// Password reset, step 4: sets the new password.
    pub async fn reset_password(&self, token: Secret, password: impl Into<Secret>) -> Result<()> {
        let password = password.into();
        let body = types::ChangePasswordResource {
            token: Some(token),
            password: Some(password.clone()),
            password_confirmation: Some(password),
        };
        let rv = run(self.anonymous().reset_password().body(body).send()).await?;
        let status = rv.status().as_u16();
        refused(status, rv.into_inner()).map(|_| ())
    }

    /// Logs in and expects no second factor.
    pub async fn login_single_factor(
        &self,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Result<Session> {
        self.login(username, password).await?.into_session()
    }
}

/// Obtains a fresh token when the old one expired or was refused; see [`Session::set_relogin`].
pub type ReloginHook = Arc<dyn Fn() -> BoxFuture<'static, Result<Secret>> + Send + Sync>;

/// What to list and how: filter, sort and page size. Endpoints ignore what they do not take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// Field to sort by; each list has a sensible default.
    pub sort: Option<String>,
    pub descending: bool,
    /// Items per request (default 50, at most 100).
    pub page_size: Option<i32>,
}

impl ListQuery {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn filter(mut self, filter: impl Into<Filter>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    pub fn sort(mut self, field: impl Into<String>, descending: bool) -> Self {
        self.sort = Some(field.into());
        self.descending = descending;
        self
    }

    pub fn page_size(mut self, size: i32) -> Self {
        self.page_size = Some(size);
        self
    }

    fn size(&self) -> i32 {
        self.page_size.unwrap_or(DEFAULT_PAGE_SIZE)
    }

    fn filter_text(&self) -> Result<Option<String>> {
        match &self.filter {
            Some(f) if !f.is_empty() => Ok(Some(f.build()?)),
            _ => Ok(None),
        }
    }

    fn sort_or(&self, default: &str) -> String {
        self.sort.clone().unwrap_or_else(|| default.to_string())
    }
}

/// A logged-in session. Cheap to clone; clones share the token.
///
/// Every call through [`Session::client`] (all 129 operations) carries `Et-App-Key` and
/// `Authorization` without the caller touching headers; the typed methods below also turn
/// AutoShares' failures, including HTTP-200 rejections, into [`Error`].
#[derive(Clone)]
pub struct Session {
    api: AutoShares,
    client: Client,
    state: State,
    username: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.api.base_url)
            .field("username", &self.username)
            .field("state", &self.state)
            .finish()
    }
}

impl Session {
    /// The generated client of this session, for any operation of the spec.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The login name this session was opened with.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Runs any generated operation through the session (app key, token, the pipeline) and
    /// returns its answer with status and headers; failures are typed [`Error`]s that keep the
    /// raw body:
    ///
    /// ```no_run
    /// # async fn demo(session: brokerkit_autoshares::Session) -> brokerkit_autoshares::Result<()> {
    /// let news = session.call(|c| c.get_news().symbol("AAPL").send()).await?;
    /// println!("HTTP {}: {} items", news.status, news.value.len());
    /// # Ok(()) }
    /// ```
    pub async fn call<'a, T, E, F, Fut>(&'a self, op: F) -> Result<Reply<T>>
    where
        E: serde::Serialize,
        F: FnOnce(&'a Client) -> Fut,
        Fut: Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<E>>>,
    {
        brokerkit_runtime::call::run(op(&self.client))
            .await
            .map_err(Error::from_failure)
    }

    async fn value<T, E, F>(&self, fut: F) -> Result<T>
    where
        E: serde::Serialize,
        F: Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<E>>>,
    {
        Ok(run(fut).await?.into_inner())
    }

    /// Installs a hook that obtains a fresh token: it runs shortly before the token's lifetime
    /// ends and when the server refuses the token (once per refusal, single-flight), and the
    /// refused call is retried once. Without a hook an expired session gives a renewal error
    /// whose [`BrokerError::login_required`] is true (before sending), or
    /// [`Error::Unauthorized`] (HTTP 401).
    pub fn set_relogin(&self, hook: ReloginHook) {
        let lifetime = self.api.token_lifetime;
        self.state
            .tokens
            .set_relogin(Arc::new(move |_old: Arc<Tokens>| {
                let hook = hook.clone();
                Box::pin(async move {
                    match hook().await {
                        Ok(access) => Ok(Tokens {
                            access,
                            refresh: None,
                            access_expires_at: Some(SystemTime::now() + lifetime),
                            refresh_expires_at: None,
                        }),
                        Err(e) => Err(RefreshError::new(e.status(), e.to_string())),
                    }
                })
            }));
    }

    /// Installs a re-login hook that logs in again with this session's user name and
    /// `password`. It fails with [`Error::SecondFactorRequired`] for two-factor users, whose
    /// second factor only a person can give.
    pub fn relogin_with_password(&self, password: impl Into<Secret>) {
        let api = self.api.clone();
        let username = self.username.clone();
        let password = password.into();
        self.set_relogin(Arc::new(move || {
            let (api, username, password) = (api.clone(), username.clone(), password.clone());
            Box::pin(async move {
                let session = api.login_single_factor(username, password).await?;
                session
                    .state
                    .tokens
                    .snapshot()
                    .map(|(t, _)| t.access.clone())
                    .ok_or_else(|| {
                        Failure::NotLoggedIn("the re-login answered no token".into()).into()
                    })
            })
        }));
    }

    /// How many times the token was renewed by the re-login hook.
    pub fn renewals(&self) -> u64 {
        self.state.tokens.refresh_count()
    }

    /// When the token stops being trusted (its lifetime after login, 24 hours by default);
    /// `None` after [`Session::logout`].
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.state.tokens.expires_at()
    }

    /// Ends the session on the server and forgets the token.
    pub async fn logout(&self) -> Result<()> {
        run(self.client.logout().send()).await?;
        self.state.tokens.clear();
        Ok(())
    }

    /// The token's user.
    pub async fn user_info(&self) -> Result<types::UserInfoModel> {
        self.value(self.client.get_user_info().user_id("@me").send())
            .await
    }

    /// The token's trading accounts.
    pub async fn accounts(&self) -> Result<Vec<types::UserAccountModel>> {
        self.value(self.client.get_user_accounts().user_id("@me").send())
            .await
    }

    /// The balance of an account (exact decimals).
    pub async fn balance(&self, account_id: i32) -> Result<types::AccountBalanceInfo> {
        self.value(
            self.client
                .get_account_balance_info()
                .account_id(account_id)
                .send(),
        )
        .await
    }

    // ------------------------------------------------------------------ orders

    /// Verifies an order. `IsSuccessful: false` is [`Error::Rejected`], never a success.
    /// A quantity or price at or below zero is [`Failure::Amount`] and nothing is sent (see
    /// [`OrderRequest::check`]).
    pub async fn preview_order(
        &self,
        account_id: i32,
        order: &OrderRequest,
    ) -> Result<OrderPreview> {
        order.check()?;
        let p = self
            .value(
                self.client
                    .preview_order()
                    .account_id(account_id)
                    .body(order.to_resource())
                    .send(),
            )
            .await?;
        OrderPreview::try_from(p)
    }

    /// Places an order without verifying it first (see [`Session::submit_order`]). A quantity
    /// or price at or below zero is [`Failure::Amount`] and nothing is sent (see
    /// [`OrderRequest::check`]).
    pub async fn place_order(&self, account_id: i32, order: &OrderRequest) -> Result<Order> {
        order.check()?;
        let o = self
            .value(
                self.client
                    .place_order()
                    .account_id(account_id)
                    .body(order.to_resource())
                    .send(),
            )
            .await?;
        Ok(o.into())
    }

    /// Verifies, then places: a rejected verification is [`Error::Rejected`] and nothing is
    /// placed.
    pub async fn submit_order(
        &self,
        account_id: i32,
        order: &OrderRequest,
    ) -> Result<(OrderPreview, Order)> {
        let preview = self.preview_order(account_id, order).await?;
        let placed = self.place_order(account_id, order).await?;
        Ok((preview, placed))
    }

    /// Verifies a replacement. `IsSuccessful: false` is [`Error::Rejected`].
    pub async fn preview_replace(
        &self,
        account_id: i32,
        order_id: i32,
        change: &ReplaceRequest,
    ) -> Result<OrderPreview> {
        let p = self
            .value(
                self.client
                    .preview_replace_order()
                    .account_id(account_id)
                    .order_id(order_id)
                    .body(change.to_resource(order_id)?)
                    .send(),
            )
            .await?;
        OrderPreview::try_from(p)
    }

    /// Replaces (modifies) a working order.
    pub async fn replace_order(
        &self,
        account_id: i32,
        order_id: i32,
        change: &ReplaceRequest,
    ) -> Result<Order> {
        let o = self
            .value(
                self.client
                    .replace_order()
                    .account_id(account_id)
                    .order_id(order_id)
                    .body(change.to_resource(order_id)?)
                    .send(),
            )
            .await?;
        Ok(o.into())
    }

    /// Cancels an order.
    pub async fn cancel_order(&self, account_id: i32, order_id: i32) -> Result<()> {
        run(self
            .client
            .cancel_order()
            .account_id(account_id)
            .order_id(order_id)
            .send())
        .await?;
        Ok(())
    }

    /// One order.
    pub async fn order(&self, account_id: i32, order_id: i32) -> Result<Order> {
        Ok(self
            .value(
                self.client
                    .get_order()
                    .account_id(account_id)
                    .order_id(order_id)
                    .send(),
            )
            .await?
            .into())
    }

    // ------------------------------------------------------------------ paged lists

    fn stream<'a, P, Fut, E>(
        &'a self,
        query: ListQuery,
        call: impl Fn(&'a Client, &ListQuery, Option<String>, i32, i32) -> Fut + 'a,
    ) -> impl Stream<Item = Result<P::Item>> + 'a
    where
        P: PagingResult + 'a,
        P::Item: 'a,
        E: serde::Serialize + 'a,
        Fut: Future<Output = std::result::Result<ResponseValue<P>, progenitor_client::Error<E>>>
            + 'a,
    {
        let size = query.size();
        let call = Arc::new(call);
        paginate(size, move |page, size| {
            let call = call.clone();
            let query = query.clone();
            async move {
                let filter = query.filter_text()?;
                let rv = run(call(&self.client, &query, filter, page, size)).await?;
                Ok::<Page<P::Item>, Error>(rv.into_inner().into_page())
            }
        })
    }

    /// An account's orders, newest pages fetched as the stream is read.
    pub fn orders(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<Order>> + '_ {
        use futures::StreamExt;
        self.stream::<types::OrderPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c
                .get_orders()
                .account_id(account_id)
                .page_number(page)
                .page_size(non_zero(size))
                .desc(q.descending);
            let b = match &q.sort {
                Some(s) => b.sort_field(s.clone()),
                None => b,
            };
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
        .map(|r| r.map(Order::from))
    }

    /// An account's orders as the execution venue reports them (`/syncorders`).
    pub fn sync_orders(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<Order>> + '_ {
        use futures::StreamExt;
        self.stream::<types::OrderPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c
                .get_sync_orders()
                .account_id(account_id)
                .page_number(page)
                .page_size(non_zero(size))
                .desc(q.descending);
            let b = match &q.sort {
                Some(s) => b.sort_field(s.clone()),
                None => b,
            };
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
        .map(|r| r.map(Order::from))
    }

    /// The orders of several accounts.
    pub fn consolidated_orders(
        &self,
        account_ids: Vec<i32>,
        query: ListQuery,
    ) -> impl Stream<Item = Result<Order>> + '_ {
        use futures::StreamExt;
        self.stream::<types::OrderPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let body = consolidated(&account_ids, q, page, size, "CreateDate");
            let b = c.get_consolidated_orders().body(body);
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
        .map(|r| r.map(Order::from))
    }

    /// An account's positions.
    pub fn positions(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::PositionResource>> + '_ {
        self.stream::<types::PositionPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c
                .get_positions()
                .account_id(account_id)
                .page_number(page)
                .page_size(non_zero(size))
                .sort_field(q.sort_or("Symbol"))
                .desc(q.descending);
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
    }

    /// The positions of several accounts.
    pub fn consolidated_positions(
        &self,
        account_ids: Vec<i32>,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::PositionResource>> + '_ {
        self.stream::<types::PositionPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c.get_consolidated_positions().body(consolidated(
                &account_ids,
                q,
                page,
                size,
                "Symbol",
            ));
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
    }

    /// Equities matching a filter.
    pub fn equities(
        &self,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::EquityResource>> + '_ {
        self.stream::<types::EquityPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c
                .get_equities()
                .page_number(page)
                .page_size(non_zero(size))
                .sort_field(q.sort_or("Symbol"))
                .desc(q.descending);
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
    }

    /// Options matching a filter.
    pub fn options(
        &self,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::OptionResource>> + '_ {
        self.stream::<types::OptionPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c
                .get_options()
                .page_number(page)
                .page_size(non_zero(size))
                .sort_field(q.sort_or("Symbol"))
                .desc(q.descending);
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
    }

    /// The token user's price alerts (the endpoint takes no filter).
    pub fn price_alerts(
        &self,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::PriceAlertInfoModel>> + '_ {
        self.stream::<types::PriceAlertPagingResult, _, _>(
            query,
            move |c, q, _filter, page, size| {
                c.get_price_alerts()
                    .user_id("@me")
                    .page_number(page)
                    .page_size(non_zero(size))
                    .sort_by(q.sort_or("State"))
                    .is_desc(q.descending)
                    .send()
            },
        )
    }

    /// An account's transactions.
    pub fn transactions(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::TransactionMapModel>> + '_ {
        self.stream::<types::TransactionPagingResult, _, _>(
            query,
            move |c, q, filter, page, size| {
                let b = c
                    .get_transactions()
                    .account_id(account_id)
                    .page_number(page)
                    .page_size(non_zero(size))
                    .sort_by(q.sort_or("Date"))
                    .is_desc(q.descending);
                let b = match filter {
                    Some(f) => b.filter(f),
                    None => b,
                };
                b.send()
            },
        )
    }

    /// An account's activity.
    pub fn activity(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::TransactionMapModel>> + '_ {
        self.stream::<types::TransactionPagingResult, _, _>(
            query,
            move |c, q, filter, page, size| {
                let b = c
                    .get_activity()
                    .account_id(account_id)
                    .page_number(page)
                    .page_size(non_zero(size))
                    .sort_by(q.sort_or("Date"))
                    .is_asc(q.descending);
                let b = match filter {
                    Some(f) => b.filter(f),
                    None => b,
                };
                b.send()
            },
        )
    }

    /// The activity of several accounts.
    pub fn consolidated_transactions(
        &self,
        account_ids: Vec<i32>,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::ActivityModelV2>> + '_ {
        self.stream::<types::ActivityPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c.get_consolidated_transactions().body(consolidated(
                &account_ids,
                q,
                page,
                size,
                "Date",
            ));
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
    }

    /// An account's ACH relationships (the endpoint takes no filter).
    pub fn ach_relationships(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::AchRelationshipResource>> + '_ {
        self.stream::<types::AchRelationshipPagingResult, _, _>(
            query,
            move |c, q, _filter, page, size| {
                c.get_ach_relationships()
                    .account_id(account_id)
                    .page_number(page)
                    .page_size(non_zero(size))
                    .sort_by(q.sort_or("CreatedAt"))
                    .is_desc(q.descending)
                    .send()
            },
        )
    }

    /// An account's transfers (the endpoint takes no filter).
    pub fn transfers(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::TransferResource>> + '_ {
        self.stream::<types::TransferPagingResult, _, _>(query, move |c, q, _filter, page, size| {
            c.get_transfers()
                .account_id(account_id)
                .page_number(page)
                .page_size(non_zero(size))
                .sort_by(q.sort_or("CreatedAt"))
                .is_desc(q.descending)
                .send()
        })
    }

    /// Every account the token may see.
    pub fn all_accounts(
        &self,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::AccountModel>> + '_ {
        self.stream::<types::AccountPagingResult, _, _>(query, move |c, q, filter, page, size| {
            let b = c
                .get_all_accounts()
                .page_number(page)
                .page_size(non_zero(size))
                .is_ascending(!q.descending);
            let b = match &q.sort {
                Some(s) => b.property_name(s.clone()),
                None => b,
            };
            let b = match filter {
                Some(f) => b.filter(f),
                None => b,
            };
            b.send()
        })
    }

    /// The active IPO offerings of an account.
    pub fn ipo_offerings(
        &self,
        account_id: i32,
        query: ListQuery,
    ) -> impl Stream<Item = Result<types::AccountOffering>> + '_ {
        self.stream::<types::AccountOfferingPageResult, _, _>(
            query,
            move |c, q, filter, page, size| {
                let b = c
                    .get_ipo_offerings()
                    .account_id(account_id)
                    .page(page)
                    .page_size(non_zero(size));
                let b = match &q.sort {
                    Some(s) => b.sort_by(s.clone()),
                    None => b,
                };
                let b = match filter {
                    Some(f) => b.filter(f),
                    None => b,
                };
                b.send()
            },
        )
    }
}

fn consolidated(
    account_ids: &[i32],
    q: &ListQuery,
    page: i32,
    size: i32,
    default_sort: &str,
) -> types::ConsolidatedQueryDto {
    types::ConsolidatedQueryDto {
        account_ids: account_ids.to_vec(),
        page_number: Some(page),
        page_size: Some(size),
        sort_field: Some(q.sort_or(default_sort)),
        desc: Some(q.descending),
    }
}

/// Page sizes are clamped to 1..=100 before they get here, so this never falls back.
fn non_zero(size: i32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(size.max(1).unsigned_abs()).unwrap_or(std::num::NonZeroU32::MIN)
}

fn refused_error(
    status: u16,
    errors: Vec<String>,
    codes: Option<Vec<String>>,
    body: &impl serde::Serialize,
) -> Error {
    Error::Refused {
        errors,
        codes: codes.unwrap_or_default(),
        status,
        body: serde_json::to_vec(body)
            .map(bytes::Bytes::from)
            .unwrap_or_default(),
    }
}

/// A `ResourceBasedResponse`: 200 with `IsSucceed: false` is a refusal.
fn refused(status: u16, r: types::ResourceBasedResponse) -> Result<types::ResourceBasedResponse> {
    if r.is_succeed == Some(true) {
        return Ok(r);
    }
    Err(refused_error(
        status,
        r.errors.clone(),
        r.errors_code.clone(),
        &r,
    ))
}

fn refused_string(status: u16, r: types::StringResourceBasedResponse) -> Result<Option<Secret>> {
    if r.is_succeed == Some(true) {
        return Ok(r.model);
    }
    Err(refused_error(
        status,
        r.errors.clone(),
        r.errors_code.clone(),
        &r,
    ))
}
