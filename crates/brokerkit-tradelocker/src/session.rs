//! A logged-in TradeLocker session: tokens kept and renewed, one account selected, and typed
//! calls that send `Authorization` and `accNum` themselves.

use crate::envelope::{open, require};
use crate::error::{Error, Result};
use crate::history;
use crate::hooks::{Selected, State};
use crate::instruments::{InstrumentIndex, InstrumentRoutes};
use crate::rows::{self, AccountState, Execution, Order, Position};
use crate::{types, Client};
use brokerkit_runtime::{
    call, jwt_expiry, BrokerError, ClientConfig, Failure, Limit, RateLimits, RefreshError, Reply,
    Secret, Tokens,
};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::OnceCell;

/// Where the API lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// `https://demo.tradelocker.com/backend-api`
    Demo,
    /// `https://live.tradelocker.com/backend-api`
    Live,
    /// Any base URL including the `/backend-api` prefix: a proxy, or a sandbox in tests.
    Custom(String),
}

impl Environment {
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Demo => "https://demo.tradelocker.com/backend-api",
            Environment::Live => "https://live.tradelocker.com/backend-api",
            Environment::Custom(url) => url.trim_end_matches('/'),
        }
    }
}

/// Login credentials. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub email: String,
    pub password: Secret,
    /// The broker server name, as on the web login.
    pub server: String,
}

impl Credentials {
    pub fn new(
        email: impl Into<String>,
        password: impl Into<Secret>,
        server: impl Into<String>,
    ) -> Self {
        Self {
            email: email.into(),
            password: password.into(),
            server: server.into(),
        }
    }
}

/// One of the user's accounts, from `/auth/jwt/all-accounts`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Account {
    /// The account id used in `/trade/accounts/{accountId}/…` paths.
    pub id: String,
    /// The number sent as the `accNum` header to select this account.
    pub acc_num: String,
    pub name: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
    pub balance: Option<Decimal>,
}

impl From<types::AccountSummary> for Account {
    fn from(a: types::AccountSummary) -> Self {
        // Live servers send `accountBalance`; the published spec misspells it `aaccountBalance`.
        let balance = a.account_balance.or(a.aaccount_balance).map(Into::into);
        Account {
            id: a.id,
            acc_num: a.acc_num,
            name: a.name,
            currency: a.currency,
            status: a.status,
            balance,
        }
    }
}

/// A page of order history; `has_more` says whether a later `from` would return more.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OrdersHistoryPage {
    pub orders: Vec<Order>,
    pub has_more: bool,
}

/// Settings for a session; [`Session::login`] uses the defaults.
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    environment: Environment,
    client_config: ClientConfig,
    keep_credentials: bool,
    developer_key: Option<Secret>,
}

impl SessionBuilder {
    /// Timeouts, a `reqwest::Client` of your own, User-Agent, retries, deadline, answer size
    /// limit: the same [`ClientConfig`] every brokerkit session takes.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.client_config = config;
        self
    }

    /// Logs in and returns a session with no account selected yet.
    pub async fn login(self, credentials: &Credentials) -> Result<Session> {
        let http = self
            .client_config
            .build()
            .map_err(Failure::InvalidRequest)?;
        let base = self.environment.base_url().to_string();
        let state = State {
            pipeline: self.client_config.pipeline.clone(),
            developer_key: self.developer_key.clone(),
            ..State::default()
        };
        let client = Client::new_with_client(&base, http.clone(), state.clone());
        // Refreshes go through a client without tokens, so they never recurse into the hooks'
        // own refresh logic.
        let plain = Client::new_with_client(
            &base,
            http,
            State {
                developer_key: self.developer_key.clone(),
                ..State::default()
            },
        );
        let kept = self.keep_credentials.then(|| credentials.clone());
        state
            .tokens
            .set_refresher(Arc::new(move |old: Arc<Tokens>| {
                let plain = plain.clone();
                let kept = kept.clone();
                Box::pin(async move { renew(&plain, &old, kept.as_ref()).await })
            }));

        let tokens = log_in(&client, credentials).await?;
        state.tokens.set(tokens);
        Ok(Session {
            client,
            state,
            config: Arc::default(),
            pacing: Arc::default(),
            instrument_index: Arc::default(),
            info_routes: Arc::default(),
        })
    }

    /// A TradeLocker developer key, sent as `developer-api-key` on every call (as the official
    /// client does) except the stream-token exchange; the Streams API requires it. Kept as a
    /// [`Secret`]: never in `Debug`, logs or URLs.
    pub fn developer_api_key(mut self, key: impl Into<Secret>) -> Self {
        self.developer_key = Some(key.into());
        self
    }

    /// Whether the session keeps the credentials (as redacted [`Secret`]s) to log in again by
    /// itself when the refresh token has expired or been refused (default `true`). Without
    /// them such a session fails with an error whose
    /// [`BrokerError::login_required`] is true.
    pub fn keep_credentials(mut self, keep: bool) -> Self {
        self.keep_credentials = keep;
        self
    }
}

async fn log_in(client: &Client, credentials: &Credentials) -> Result<Tokens> {
    let body = types::JwtCredentials {
        email: credentials.email.clone(),
        password: credentials.password.clone(),
        server: credentials.server.clone(),
    };
    let rv = call::scoped(client.get_jwt_token().body(body).send(), Error::from_client).await?;
    Ok(into_tokens(rv.into_inner()))
}

/// A new pair from the refresh token; when the server refuses the refresh token (expired or
/// already used), a fresh login with the kept credentials, or a login-required error.
async fn renew(
    plain: &Client,
    old: &Tokens,
    credentials: Option<&Credentials>,
) -> std::result::Result<Tokens, RefreshError> {
    let refused = match old.refresh.clone() {
        None => None,
        Some(refresh_token) => {
            let body = types::RefreshTokenRequest {
                refresh_token,
                access_token: None,
            };
            let sent = call::scoped(
                plain.refresh_jwt_token().body(body).send(),
                Failure::from_progenitor,
            )
            .await
            .map(|rv| rv.into_inner());
            match sent {
                Ok(pair) => return Ok(into_tokens(pair)),
                // TradeLocker refuses a dead refresh token with 400, 401 or 403.
                Err(f) if matches!(f.status(), Some(400 | 401 | 403)) => Some(f),
                Err(f) => return Err(RefreshError::new(f.status(), f.to_string())),
            }
        }
    };
    let status = refused.as_ref().and_then(Failure::status);
    match credentials {
        Some(credentials) => log_in(plain, credentials)
            .await
            .map_err(|e| RefreshError::new(e.status(), format!("logging in again failed: {e}"))),
        None => Err(RefreshError::login_required(
            status,
            match refused {
                Some(f) => format!("the refresh token was refused: {f}"),
                None => "no refresh token".into(),
            },
        )),
    }
}

/// The tokens of a login or refresh. An access token's own `exp` claim says when it stops
/// working, as real clients read it; `expireDate` is the fallback for a token that is not a
/// JWT. The refresh token's `exp` is its own, longer one.
fn into_tokens(t: types::JwtTokens) -> Tokens {
    let access_expires_at =
        jwt_expiry(t.access_token.expose()).unwrap_or_else(|| SystemTime::from(t.expire_date));
    let refresh_expires_at = jwt_expiry(t.refresh_token.expose());
    Tokens {
        access: t.access_token,
        refresh: Some(t.refresh_token),
        access_expires_at: Some(access_expires_at),
        refresh_expires_at,
    }
}

/// A logged-in session. Cheap to clone; clones share tokens, account, cached config and the
/// count of the rate limits.
///
/// **Pacing.** The session keeps every account under the rate limits its server publishes
/// (`rateLimits` in `/trade/config`: at most `limit` requests per `intervalNum` seconds or
/// minutes, per route, e.g. `QUOTES`, `PLACE_ORDER`, `QUOTES_HISTORY`): the typed calls read
/// the config once before the first paced call, and from then on each request of a route
/// waits its turn (see [`brokerkit_runtime::rate`]); direct [`Session::client`] calls are
/// paced once the config has been read. Which route an operation counts against is in the
/// spec (`x-brokerkit-rate-class`). [`ClientConfig::rate_limits`] switches it off.
#[derive(Clone)]
pub struct Session {
    client: Client,
    state: State,
    config: Arc<OnceCell<Arc<types::ConfigData>>>,
    /// Set once the typed calls tried to read the published limits (successfully or not).
    pacing: Arc<OnceCell<()>>,
    /// The instrument list of each account id, indexed, read once.
    instrument_index: Arc<std::sync::Mutex<HashMap<String, Arc<InstrumentIndex>>>>,
    /// The INFO route that answered for each instrument.
    info_routes: Arc<std::sync::Mutex<HashMap<i64, i64>>>,
}

/// The limits `/trade/config` publishes, as the pipeline paces to them: `(name, limit)` for
/// every entry with a known measure and positive numbers.
pub fn published_limits(config: &types::ConfigData) -> Vec<(String, Limit)> {
    config
        .rate_limits
        .iter()
        .filter_map(|r| {
            let unit = match wire_name(&r.measure).as_str() {
                "MILLISECONDS" => Duration::from_millis(1),
                "SECONDS" => Duration::from_secs(1),
                "MINUTES" => Duration::from_secs(60),
                "HOURS" => Duration::from_secs(3600),
                "DAYS" => Duration::from_secs(86_400),
                _ => return None,
            };
            let interval = unit.checked_mul(u32::try_from(r.interval_num).ok()?)?;
            let limit = Limit::new(u32::try_from(r.limit).ok()?, interval)?;
            Some((wire_name(&r.rate_limit_type), limit))
        })
        .collect()
}

/// The wire name of a value of one of the spec's open enums.
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base_url", &self.client.baseurl)
            .field("account", &self.state.with_selected(|s| s.acc_num.clone()))
            .field("tokens", &self.state.tokens)
            .finish()
    }
}

macro_rules! send {
    ($call:expr) => {
        call::scoped($call, Error::from_client).await?
    };
}

impl Session {
    /// Settings for a session against `environment`.
    pub fn builder(environment: Environment) -> SessionBuilder {
        SessionBuilder {
            environment,
            client_config: ClientConfig::default(),
            keep_credentials: true,
            developer_key: None,
        }
    }

    /// Logs in with default settings.
    pub async fn login(environment: Environment, credentials: &Credentials) -> Result<Session> {
        Self::builder(environment).login(credentials).await
    }

    /// The developer key the session sends, if one was configured (for a stream client,
    /// whose handshake needs it).
    pub fn developer_api_key(&self) -> Option<&Secret> {
        self.state.developer_key.as_ref()
    }

    /// The generated client; calls made with it get the session's headers too.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs any generated operation through the session (token, `accNum`, the pipeline) and
    /// returns its answer with status and headers; errors keep what the server sent:
    ///
    /// ```no_run
    /// # async fn demo(session: brokerkit_tradelocker::Session) -> brokerkit_tradelocker::Result<()> {
    /// let details = session
    ///     .call(|c| c.get_session_details().session_id(42).send())
    ///     .await?;
    /// println!("HTTP {}: {:?}", details.status, details.value.s);
    /// # Ok(()) }
    /// ```
    pub async fn call<'a, T, E, F, Fut>(&'a self, op: F) -> Result<Reply<T>>
    where
        E: serde::Serialize,
        F: FnOnce(&'a Client) -> Fut,
        Fut: Future<
            Output = std::result::Result<
                progenitor_client::ResponseValue<T>,
                progenitor_client::Error<E>,
            >,
        >,
    {
        call::run(op(&self.client))
            .await
            .map_err(Error::from_failure)
    }

    /// How many times the tokens were renewed (refreshed, or logged in again).
    pub fn renewals(&self) -> u64 {
        self.state.tokens.refresh_count()
    }

    /// When the current access token expires; `None` after [`Session::logout`].
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.state.tokens.expires_at()
    }

    /// Forgets the tokens and the selected account (TradeLocker has no endpoint that revokes a
    /// token; it expires by itself). Later calls fail typed as not logged in, unsent.
    pub async fn logout(&self) -> Result<()> {
        self.state.tokens.clear();
        *self
            .state
            .account
            .write()
            .unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// Renews the tokens now.
    pub async fn refresh(&self) -> Result<()> {
        let generation = self
            .state
            .tokens
            .snapshot()
            .map(|(_, g)| g)
            .unwrap_or_default();
        self.state.tokens.refresh_rejected(generation).await?;
        Ok(())
    }

    /// The user's accounts.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rv = send!(self.client.get_all_accounts().send());
        Ok(rv
            .into_inner()
            .accounts
            .into_iter()
            .map(Account::from)
            .collect())
    }

    /// Selects the account every `/trade` call from now on acts on.
    pub fn select_account(&self, account: &Account) {
        *self
            .state
            .account
            .write()
            .unwrap_or_else(|p| p.into_inner()) =
            Some(Selected::new(account.id.clone(), account.acc_num.clone()));
    }

    fn account_id(&self) -> Result<String> {
        self.state.with_selected(|s| s.id.clone()).ok_or_else(|| {
            Error::Failure(Failure::NotReady(
                "no account selected: call Session::select_account first".into(),
            ))
        })
    }

    /// `/trade/config`: column ids, rate limits and limits. Fetched once per session; the
    /// rate limits it publishes become the session's pace.
    pub async fn config(&self) -> Result<Arc<types::ConfigData>> {
        self.config
            .get_or_try_init(|| async {
                let rv = send!(self.client.get_config().send());
                let config = require(rv, "config")?;
                for (class, limit) in published_limits(&config) {
                    self.state.pipeline.rate_limits.set(&class, limit);
                }
                Ok(Arc::new(config))
            })
            .await
            .cloned()
    }

    /// The limits the session paces to, and the pacing's state.
    pub fn rate_limits(&self) -> &RateLimits {
        &self.state.pipeline.rate_limits
    }

    /// Reads the published limits once before the first paced call (concurrent first calls
    /// wait for the one read). A config that cannot be read leaves the calls unpaced rather
    /// than failing them; the calls that need the config report its error.
    async fn paced(&self) {
        // Without an account the config cannot be read (nor the call made): try again later.
        if !self.state.pipeline.rate_limits.is_on() || self.state.with_selected(|_| ()).is_none() {
            return;
        }
        if self.pacing.initialized() {
            return;
        }
        // Once per session: boxed, so that every call's future does not carry the config read
        // (half a quote's future, issue 12).
        Box::pin(self.pacing.get_or_init(|| async {
            let _ = self.config().await;
        }))
        .await;
    }

    /// The selected account's balance and margin figures.
    pub async fn account_state(&self) -> Result<AccountState> {
        let config = self.config().await?;
        let columns = rows::column_ids(config.account_details_config.as_ref(), "accountDetails")?;
        let rv = send!(self
            .client
            .get_account_state()
            .account_id(self.account_id()?)
            .send());
        let data = require(rv, "account state")?;
        Ok(rows::decode_row(
            "accountDetails",
            0,
            &columns,
            &data.account_details_data,
        )?)
    }

    /// Instruments tradable on the selected account.
    pub async fn instruments(&self) -> Result<Vec<types::InstrumentSummary>> {
        self.paced().await;
        let rv = send!(self
            .client
            .get_instruments()
            .account_id(self.account_id()?)
            .send());
        Ok(open(rv)?.map(|d| d.instruments).unwrap_or_default())
    }

    /// The selected account's instruments, indexed by symbol and id: read from the server on
    /// the first call for each account, then kept for the session ([`Session::instruments`]
    /// always reads afresh).
    pub async fn instrument_index(&self) -> Result<Arc<InstrumentIndex>> {
        let account = self.account_id()?;
        let cached = self
            .instrument_index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&account)
            .cloned();
        if let Some(index) = cached {
            return Ok(index);
        }
        let index = Arc::new(InstrumentIndex::new(self.instruments().await?));
        self.instrument_index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account, index.clone());
        Ok(index)
    }

    /// The instrument with this symbol name (`EURUSD`), without scanning the list (see
    /// [`Session::instrument_index`]).
    pub async fn instrument_by_symbol(
        &self,
        name: &str,
    ) -> Result<Option<types::InstrumentSummary>> {
        Ok(self.instrument_index().await?.by_symbol(name).cloned())
    }

    /// The instrument with this `tradableInstrumentId` (see [`Session::instrument_index`]).
    pub async fn instrument_by_id(
        &self,
        tradable_instrument_id: i64,
    ) -> Result<Option<types::InstrumentSummary>> {
        Ok(self
            .instrument_index()
            .await?
            .by_id(tradable_instrument_id)
            .cloned())
    }

    /// Details of one instrument (lot sizes, tick sizes, session ids…).
    pub async fn instrument_details(
        &self,
        tradable_instrument_id: i64,
        route_id: i64,
    ) -> Result<types::InstrumentDetails> {
        self.paced().await;
        let rv = send!(self
            .client
            .get_instrument_details()
            .tradable_instrument_id(tradable_instrument_id)
            .route_id(route_id)
            .send());
        require(rv, "instrument details")
    }

    /// Current best bid and ask (use an INFO route).
    pub async fn quote(&self, tradable_instrument_id: i64, route_id: i64) -> Result<types::Quote> {
        self.paced().await;
        let rv = send!(self
            .client
            .get_quotes()
            .tradable_instrument_id(tradable_instrument_id)
            .route_id(route_id)
            .send());
        require(rv, "quote")
    }

    /// Current best bid and ask of `instrument` on the INFO route that works: the one that
    /// answered before, or else each INFO route in the order listed until the server accepts
    /// one (a rejected route is skipped; reference §1.7). The route that answers is
    /// remembered for the session, and forgotten if the server starts rejecting it.
    pub async fn quote_instrument(
        &self,
        instrument: &types::InstrumentSummary,
    ) -> Result<types::Quote> {
        let id = instrument.tradable_instrument_id;
        let remembered = self.remembered_info_route(id);
        if let Some(route) = remembered {
            match self.quote(id, route).await {
                Err(Error::Rejected { .. }) => {}
                other => return other,
            }
        }
        let mut rejected = None;
        for route in instrument.info_routes() {
            if Some(route) == remembered {
                continue;
            }
            match self.quote(id, route).await {
                Ok(quote) => {
                    self.info_routes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id, route);
                    return Ok(quote);
                }
                Err(e @ Error::Rejected { .. }) => rejected = Some(e),
                Err(e) => return Err(e),
            }
        }
        self.info_routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        Err(rejected.unwrap_or_else(|| {
            Error::Failure(Failure::NotReady(format!(
                "instrument {id} lists no INFO route that answers"
            )))
        }))
    }

    /// The INFO route of `instrument` that answers quotes (probing as
    /// [`Session::quote_instrument`] does), for bars, depth and details.
    pub async fn working_info_route(&self, instrument: &types::InstrumentSummary) -> Result<i64> {
        if let Some(route) = self.remembered_info_route(instrument.tradable_instrument_id) {
            return Ok(route);
        }
        self.quote_instrument(instrument).await?;
        self.remembered_info_route(instrument.tradable_instrument_id)
            .ok_or_else(|| Error::Failure(Failure::NotReady("no INFO route answered".into())))
    }

    fn remembered_info_route(&self, tradable_instrument_id: i64) -> Option<i64> {
        self.info_routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&tradable_instrument_id)
            .copied()
    }

    /// Bars opening in `[from, to)` (Unix ms), oldest first; empty when the server has none
    /// (`no_data`). A range of more bars than the server's `QUOTES_HISTORY_BARS` (from
    /// [`Session::config`]; 20,000 when it publishes none) is asked for in windows within it
    /// and joined, since the server refuses a larger one.
    pub async fn history(
        &self,
        tradable_instrument_id: i64,
        route_id: i64,
        resolution: impl Into<types::Resolution>,
        from: i64,
        to: i64,
    ) -> Result<Vec<types::Bar>> {
        let resolution = resolution.into();
        let windows = match history::bar_millis(&resolution) {
            Some(bar) => history::windows(from, to, bar, self.history_bars_cap().await?),
            None => vec![(from, to)],
        };
        self.paced().await;
        let mut bars = Vec::new();
        for (from, to) in windows {
            let call = self
                .client
                .get_history()
                .tradable_instrument_id(tradable_instrument_id)
                .route_id(route_id)
                .resolution(resolution.clone())
                .from(from)
                .to(to);
            let rv = send!(call.send());
            history::join(
                &mut bars,
                open(rv)?.map(|d| d.bar_details).unwrap_or_default(),
            );
        }
        Ok(bars)
    }

    /// The most bars one `/trade/history` request may ask for.
    pub async fn history_bars_cap(&self) -> Result<i64> {
        let config = self.config().await?;
        Ok(config
            .limits
            .iter()
            .find(|l| l.limit_type == "QUOTES_HISTORY_BARS")
            .map(|l| l.limit as i64)
            .filter(|cap| *cap > 0)
            .unwrap_or(history::DOCUMENTED_BARS_CAP))
    }

    /// Places an order and returns its id. Never retried by the client: when the answer is
    /// lost ([`BrokerError::may_have_executed`]), look for it before sending it again — a working
    /// order shows in [`Session::orders`], but a filled market order only in
    /// [`Session::orders_history`] and [`Session::positions`].
    ///
    /// The client checks that `qty` is greater than zero and that `price`, `stopPrice`,
    /// `stopLoss` and `takeProfit`, when given, are greater than zero ([`Failure::Amount`],
    /// nothing sent). Lot steps, tick sizes, margin and which side of the market a price is on
    /// are the broker's to judge.
    pub async fn place_order(&self, order: &types::PlaceOrderRequest) -> Result<String> {
        crate::orders::check(order)?;
        self.paced().await;
        let rv = send!(self
            .client
            .place_order()
            .account_id(self.account_id()?)
            .body(order.clone())
            .send());
        Ok(require(rv, "placed order")?.order_id)
    }

    /// Open positions.
    pub async fn positions(&self) -> Result<Vec<Position>> {
        let (columns, rows) = self.position_rows().await?;
        Ok(rows.decode("positions", &columns)?)
    }

    /// Open positions, handed to `f` one at a time as they are decoded (return
    /// `ControlFlow::Break` to stop): for accounts with more positions than are worth holding
    /// at once. Only the answer's text is held (each row's freed once it is handed over), never
    /// all the rows.
    pub async fn positions_each(
        &self,
        f: impl FnMut(Position) -> std::ops::ControlFlow<()>,
    ) -> Result<()> {
        let (columns, rows) = self.position_rows().await?;
        Ok(rows.for_each("positions", &columns, f)?)
    }

    async fn position_rows(&self) -> Result<(Vec<String>, rows::RawRows)> {
        let config = self.config().await?;
        let columns = rows::column_ids(config.positions_config.as_ref(), "positions")?;
        let rv = send!(self
            .client
            .get_positions()
            .account_id(self.account_id()?)
            .send());
        let rows = open(rv)?.map(|d| d.positions).unwrap_or_default();
        Ok((columns, rows))
    }

    /// Working (not final) orders.
    pub async fn orders(&self) -> Result<Vec<Order>> {
        let config = self.config().await?;
        let columns = rows::column_ids(config.orders_config.as_ref(), "orders")?;
        let rv = send!(self
            .client
            .get_orders()
            .account_id(self.account_id()?)
            .send());
        let rows = open(rv)?.map(|d| d.orders).unwrap_or_default();
        Ok(rows::decode_rows("orders", &columns, &rows)?)
    }

    /// Every final order created between `from` and `to` (Unix ms, both optional), oldest
    /// first, over as many `ordersHistory` pages as the server needs: each next page starts at
    /// the last `createdDate` received (that millisecond is read again and the orders already
    /// given dropped), until `hasMore` is false. Pages are fetched as the stream is read.
    ///
    /// When a page says more follow but holds no order newer than where it started (more
    /// orders share one millisecond than a page holds), the stream ends with
    /// [`Error::PagingStalled`] rather than asking the same page forever.
    pub fn orders_history_all(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> impl futures::Stream<Item = Result<Order>> + '_ {
        use futures::{StreamExt, TryStreamExt};
        let pager = history::OrdersPager::new(from);
        futures::stream::try_unfold(Some(pager), move |pager| async move {
            let Some(mut pager) = pager else {
                return Ok::<_, Error>(None);
            };
            let page = self.orders_history(pager.from(), to).await?;
            let turn = pager
                .take(page.orders, page.has_more)
                .map_err(|stalled| Error::PagingStalled { from: stalled.from })?;
            Ok(Some((turn.fresh, turn.more.then_some(pager))))
        })
        .map_ok(|orders| futures::stream::iter(orders).map(Ok))
        .try_flatten()
    }

    /// One page of final orders created between `from` and `to` (Unix ms, both optional);
    /// [`Session::orders_history_all`] reads every page.
    pub async fn orders_history(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<OrdersHistoryPage> {
        let config = self.config().await?;
        let columns = rows::column_ids(config.orders_history_config.as_ref(), "ordersHistory")?;
        let mut call = self
            .client
            .get_orders_history()
            .account_id(self.account_id()?);
        if let Some(from) = from {
            call = call.from(from);
        }
        if let Some(to) = to {
            call = call.to(to);
        }
        let rv = send!(call.send());
        let Some(data) = open(rv)? else {
            return Ok(OrdersHistoryPage {
                orders: Vec::new(),
                has_more: false,
            });
        };
        let orders = rows::decode_rows("ordersHistory", &columns, &data.orders_history)?;
        Ok(OrdersHistoryPage {
            orders,
            has_more: data.has_more.unwrap_or(false),
        })
    }

    /// Fills of the current trading session.
    pub async fn executions(&self) -> Result<Vec<Execution>> {
        let config = self.config().await?;
        let columns = rows::column_ids(config.filled_orders_config.as_ref(), "executions")?;
        let rv = send!(self
            .client
            .get_executions()
            .account_id(self.account_id()?)
            .send());
        let rows = open(rv)?.map(|d| d.executions).unwrap_or_default();
        Ok(rows::decode_rows("executions", &columns, &rows)?)
    }

    /// Changes a working order.
    pub async fn modify_order(
        &self,
        order_id: &str,
        changes: &types::ModifyOrderRequest,
    ) -> Result<()> {
        self.paced().await;
        let rv = send!(self
            .client
            .modify_order()
            .order_id(order_id)
            .body(changes.clone())
            .send());
        open(rv).map(drop)
    }

    /// Cancels a working order.
    pub async fn cancel_order(&self, order_id: &str) -> Result<()> {
        let rv = send!(self.client.cancel_order().order_id(order_id).send());
        open(rv).map(drop)
    }

    /// Cancels every working order of the selected account.
    pub async fn cancel_all_orders(&self) -> Result<()> {
        let rv = send!(self
            .client
            .cancel_all_orders()
            .account_id(self.account_id()?)
            .send());
        open(rv).map(drop)
    }

    /// Sets or moves a position's stop loss / take profit.
    pub async fn modify_position(
        &self,
        position_id: &str,
        changes: &types::ModifyPositionRequest,
    ) -> Result<()> {
        self.paced().await;
        let rv = send!(self
            .client
            .modify_position()
            .position_id(position_id)
            .body(changes.clone())
            .send());
        open(rv).map(drop)
    }

    /// Closes a position: all of it with `qty = None`, or part of it. A given `qty` must be
    /// greater than zero ([`Failure::Amount`], nothing sent); more than the position holds is
    /// the broker's to judge.
    pub async fn close_position(&self, position_id: &str, qty: Option<Decimal>) -> Result<()> {
        brokerkit_runtime::amount::positive_opt("qty", qty)?;
        let body = types::ClosePositionRequest {
            qty: qty.map(Into::into),
        };
        let rv = send!(self
            .client
            .close_position()
            .position_id(position_id)
            .body(body)
            .send());
        open(rv).map(drop)
    }

    /// Closes every position of the selected account (closing orders may fill later).
    pub async fn close_all_positions(&self) -> Result<()> {
        let rv = send!(self
            .client
            .close_all_positions()
            .account_id(self.account_id()?)
            .send());
        open(rv).map(drop)
    }
}
