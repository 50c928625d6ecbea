//! A stateful TradeLocker sandbox speaking `specs/tradelocker.yaml` under `/backend-api`.
//!
//! Login issues JWT-shaped tokens that expire (lifetime configurable); refresh rotates both
//! tokens and burns the old refresh token. Accounts have balances; two instruments have
//! deterministic quotes and bars. Market orders fill at once and open positions; limit and stop
//! orders rest. Business rejections come back the way TradeLocker sends them: HTTP 200 with
//! `{"s":"error","errmsg":…}`. Rows are sent as strings, as live servers do.
//!
//! `/trade/config` publishes a rate limit for each of the 18 route names of the reference
//! (§4); with [`Config::enforce_rate_limits`] the sandbox holds every account to them as the
//! vendor does: over a limit, HTTP 429 with its Spring-style body and `Retry-After`, and the
//! request is not carried out. [`Server::rate_limited`] counts the 429s it sent.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "tradelocker_stream.rs"]
pub mod stream;

/// Where the API lives under the server root.
pub const PREFIX: &str = "/backend-api";

/// Column ids of each row table, as `/trade/config` announces them.
pub const POSITION_COLUMNS: [&str; 11] = [
    "id",
    "tradableInstrumentId",
    "routeId",
    "side",
    "qty",
    "avgPrice",
    "stopLossId",
    "takeProfitId",
    "openDate",
    "unrealizedPl",
    "strategyId",
];
pub const ORDER_COLUMNS: [&str; 22] = [
    "id",
    "tradableInstrumentId",
    "routeId",
    "qty",
    "side",
    "type",
    "status",
    "filledQty",
    "avgPrice",
    "price",
    "stopPrice",
    "validity",
    "expireDate",
    "createdDate",
    "lastModified",
    "isOpen",
    "positionId",
    "stopLoss",
    "stopLossType",
    "takeProfit",
    "takeProfitType",
    "strategyId",
];
pub const EXECUTION_COLUMNS: [&str; 8] = [
    "id",
    "price",
    "side",
    "createdDate",
    "qty",
    "orderId",
    "positionId",
    "tradableInstrumentId",
];
pub const ACCOUNT_COLUMNS: [&str; 26] = [
    "balance",
    "projectedBalance",
    "availableFunds",
    "blockedBalance",
    "cashBalance",
    "unsettledCash",
    "withdrawalAvailable",
    "stocksValue",
    "optionValue",
    "initialMarginReq",
    "maintMarginReq",
    "marginWarningLevel",
    "blockedForStocks",
    "stockOrdersReq",
    "stopOutLevel",
    "warningMarginReq",
    "marginBeforeWarning",
    "todayGross",
    "todayNet",
    "todayFees",
    "todayVolume",
    "todayTradesCount",
    "openGrossPnL",
    "openNetPnL",
    "positionsCount",
    "ordersCount",
];

/// A user who can log in.
#[derive(Clone, Debug)]
pub struct User {
    pub email: String,
    pub password: String,
    pub server: String,
}

/// How the sandbox starts.
#[derive(Clone, Debug)]
pub struct Config {
    pub users: Vec<User>,
    /// Lifetime of access tokens (the `expireDate` the login returns).
    pub access_lifetime: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_lifetime: Duration,
    /// Starting balance of every account.
    pub balance: Decimal,
    /// The `rateLimits` `/trade/config` publishes (default [`rate_limits`]).
    pub rate_limits: Vec<RateLimit>,
    /// Whether every account is held to `rate_limits` (429 with `Retry-After` beyond them).
    /// Default `false`: published only.
    pub enforce_rate_limits: bool,
    /// The `QUOTES_HISTORY_BARS` limit `/trade/config` publishes; a `/trade/history` range
    /// of more bars is refused in-band (`s: error`). Default 20,000, the docs' figure.
    pub quotes_history_bars: u32,
    /// Rows per `ordersHistory` answer, oldest first; `hasMore` says more follow (the real
    /// page size is not published). Default 1,000.
    pub orders_history_page: usize,
}

impl Config {
    /// The same sandbox holding every account to its published limits.
    pub fn enforcing_rate_limits(mut self) -> Self {
        self.enforce_rate_limits = true;
        self
    }

    /// The same sandbox with `limit` requests per `interval_num` × `measure` on route `name`.
    pub fn rate_limit(
        mut self,
        name: &str,
        measure: Measure,
        interval_num: u32,
        limit: u32,
    ) -> Self {
        let rule = RateLimit {
            name: name.to_string(),
            measure,
            interval_num,
            limit,
        };
        match self.rate_limits.iter_mut().find(|r| r.name == name) {
            Some(r) => *r = rule,
            None => self.rate_limits.push(rule),
        }
        self
    }
}

/// The unit of a rate limit's `intervalNum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Seconds,
    Minutes,
}

impl Measure {
    fn wire(self) -> &'static str {
        match self {
            Measure::Seconds => "SECONDS",
            Measure::Minutes => "MINUTES",
        }
    }

    fn unit(self) -> Duration {
        match self {
            Measure::Seconds => Duration::from_secs(1),
            Measure::Minutes => Duration::from_secs(60),
        }
    }
}

/// One entry of `rateLimits`: at most `limit` requests per `interval_num` × `measure` on the
/// route `name`, per account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub name: String,
    pub measure: Measure,
    pub interval_num: u32,
    pub limit: u32,
}

impl RateLimit {
    fn window(&self) -> Duration {
        self.measure.unit() * self.interval_num.max(1)
    }
}

/// The route names of the reference (§4), the `rateLimitType` values the official client's
/// test expects `/trade/config` to publish.
pub const RATE_LIMIT_NAMES: [&str; 18] = [
    "GET_ACCOUNTS",
    "GET_EXECUTIONS",
    "GET_INSTRUMENTS",
    "GET_ORDERS",
    "GET_ORDERS_HISTORY",
    "GET_POSITIONS",
    "GET_ACCOUNTS_STATE",
    "GET_INSTRUMENT_DETAILS",
    "GET_TRADE_SESSIONS",
    "GET_SESSION_STATUSES",
    "PLACE_ORDER",
    "MODIFY_ORDER",
    "MODIFY_POSITION",
    "DAILY_BAR",
    "QUOTES",
    "DEPTH",
    "TRADES",
    "QUOTES_HISTORY",
];

/// The default `rateLimits`: every route name of the reference, counted per second as the
/// docs' example is (`measure: SECONDS, intervalNum: 1`). The numbers are each broker's and
/// none were published (the docs' example allows 2 a second), so the sandbox's default of
/// 100 a second keeps tests fast; [`Config::rate_limit`] sets a broker's own.
pub fn rate_limits() -> Vec<RateLimit> {
    RATE_LIMIT_NAMES
        .iter()
        .map(|name| RateLimit {
            name: name.to_string(),
            measure: Measure::Seconds,
            interval_num: 1,
            limit: 100,
        })
        .collect()
}

/// Which rate-limit route each request counts against, by method and route template
/// (relative to the prefix), as the reference names them.
const RATE_LIMITED_ROUTES: [(&str, &str, &str); 17] = [
    ("GET", "/trade/accounts", "GET_ACCOUNTS"),
    ("GET", "/trade/accounts/{}/state", "GET_ACCOUNTS_STATE"),
    ("GET", "/trade/accounts/{}/instruments", "GET_INSTRUMENTS"),
    ("GET", "/trade/instruments/{}", "GET_INSTRUMENT_DETAILS"),
    ("GET", "/trade/sessions/{}", "GET_TRADE_SESSIONS"),
    ("GET", "/trade/sessionStatuses/{}", "GET_SESSION_STATUSES"),
    ("GET", "/trade/quotes", "QUOTES"),
    ("GET", "/trade/dailyBar", "DAILY_BAR"),
    ("GET", "/trade/depth", "DEPTH"),
    ("GET", "/trade/history", "QUOTES_HISTORY"),
    ("GET", "/trade/accounts/{}/positions", "GET_POSITIONS"),
    ("GET", "/trade/accounts/{}/orders", "GET_ORDERS"),
    ("POST", "/trade/accounts/{}/orders", "PLACE_ORDER"),
    (
        "GET",
        "/trade/accounts/{}/ordersHistory",
        "GET_ORDERS_HISTORY",
    ),
    ("GET", "/trade/accounts/{}/executions", "GET_EXECUTIONS"),
    ("PATCH", "/trade/orders/{}", "MODIFY_ORDER"),
    ("PATCH", "/trade/positions/{}", "MODIFY_POSITION"),
];

/// The rate-limit route of a request (`path` relative to the prefix, `{}` matching one
/// segment).
fn rate_limit_name(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    RATE_LIMITED_ROUTES
        .iter()
        .find(|(m, template, _)| {
            let t: Vec<&str> = template.split('/').collect();
            *m == method
                && t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| *t == "{}" && !s.is_empty() || t == s)
        })
        .map(|(_, _, name)| *name)
}

impl Default for Config {
    fn default() -> Self {
        Self {
            users: vec![User {
                email: "trader@example.com".into(),
                password: "demo-password".into(),
                server: "OSP-DEMO".into(),
            }],
            access_lifetime: Duration::from_secs(3600),
            refresh_lifetime: Duration::from_secs(7 * 24 * 3600),
            balance: Decimal::new(10_000_000, 2),
            rate_limits: rate_limits(),
            enforce_rate_limits: false,
            quotes_history_bars: 20_000,
            orders_history_page: 1_000,
        }
    }
}

/// An instrument of the sandbox.
#[derive(Clone, Debug)]
struct Instrument {
    tradable_id: i64,
    symbol_id: i64,
    name: &'static str,
    kind: &'static str,
    info_route: i64,
    /// An INFO route listed before `info_route` that the server rejects (reference §1.7: some
    /// accounts list several INFO routes of which only some work).
    dead_info_route: Option<i64>,
    trade_route: i64,
    /// Mid price the synthetic quotes move around.
    mid: Decimal,
    half_spread: Decimal,
    lot_step: Decimal,
    /// Value of one lot per unit of price (P/L per lot = price move × this).
    contract_size: Decimal,
}

fn instruments() -> Vec<Instrument> {
    vec![
        Instrument {
            tradable_id: 278,
            symbol_id: 315,
            name: "EURUSD",
            kind: "FOREX",
            info_route: 948734,
            dead_info_route: None,
            trade_route: 948735,
            mid: Decimal::new(108640, 5),
            half_spread: Decimal::new(2, 5),
            lot_step: Decimal::new(1, 2),
            contract_size: Decimal::new(100_000, 0),
        },
        Instrument {
            tradable_id: 6125,
            symbol_id: 7001,
            name: "BTCUSD",
            kind: "CRYPTO",
            info_route: 948734,
            dead_info_route: None,
            trade_route: 948735,
            mid: Decimal::new(772611, 1),
            half_spread: Decimal::new(6, 1),
            lot_step: Decimal::new(1, 2),
            contract_size: Decimal::ONE,
        },
        // Its first INFO route is dead: market data works only on the second.
        Instrument {
            tradable_id: 2001,
            symbol_id: 2101,
            name: "XAUUSD",
            kind: "METALS",
            info_route: 948734,
            dead_info_route: Some(948733),
            trade_route: 948735,
            mid: Decimal::new(240050, 2),
            half_spread: Decimal::new(15, 2),
            lot_step: Decimal::new(1, 2),
            contract_size: Decimal::new(100, 0),
        },
    ]
}

#[derive(Clone, Debug)]
struct Account {
    id: String,
    acc_num: String,
    user: String,
    name: String,
    balance: Decimal,
}

#[derive(Clone, Debug)]
struct OrderRec {
    id: String,
    instrument: i64,
    route: i64,
    qty: Decimal,
    side: String,
    kind: String,
    status: String,
    filled_qty: Decimal,
    avg_price: Option<Decimal>,
    price: Option<Decimal>,
    stop_price: Option<Decimal>,
    validity: String,
    created: i64,
    modified: i64,
    position_id: Option<String>,
    stop_loss: Option<Decimal>,
    take_profit: Option<Decimal>,
    strategy_id: Option<String>,
    account: String,
}

#[derive(Clone, Debug)]
struct PositionRec {
    id: String,
    instrument: i64,
    route: i64,
    side: String,
    qty: Decimal,
    avg_price: Decimal,
    stop_loss_id: Option<String>,
    take_profit_id: Option<String>,
    opened: i64,
    strategy_id: Option<String>,
    account: String,
}

#[derive(Clone, Debug)]
struct Execution {
    id: String,
    price: Decimal,
    side: String,
    created: i64,
    qty: Decimal,
    order_id: String,
    position_id: String,
    instrument: i64,
    account: String,
}

struct Session {
    user: String,
    expires: SystemTime,
}

struct Sandbox {
    config: Config,
    instruments: Vec<Instrument>,
    accounts: Vec<Account>,
    access: HashMap<String, Session>,
    refresh: HashMap<String, Session>,
    orders: Vec<OrderRec>,
    positions: Vec<PositionRec>,
    executions: Vec<Execution>,
    next_id: u64,
    token_serial: u64,
    clock_offset: Duration,
    /// Where the clock stands still, when a test has stopped it (see [`Server::freeze_clock`]).
    frozen_at: Option<SystemTime>,
    /// When each (account id, route name) had its requests accepted, within the window.
    windows: HashMap<(String, String), VecDeque<Instant>>,
    /// 429s sent for going over a published limit.
    rate_limited: usize,
    /// The path and `developer-api-key` (if any) of every request, in order.
    developer_keys: Vec<(String, Option<String>)>,
}

impl Sandbox {
    fn now(&self) -> SystemTime {
        self.frozen_at.unwrap_or_else(SystemTime::now) + self.clock_offset
    }

    fn now_ms(&self) -> i64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }

    /// 19-digit ids, beyond 2^53 like the real ones.
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        (7_421_932_185_916_132_000u64 + self.next_id).to_string()
    }

    fn issue_tokens(&mut self, user: &str) -> Value {
        self.token_serial += 1;
        let n = self.token_serial;
        let now = self.now();
        let expires = now + self.config.access_lifetime;
        let refresh_expires = now + self.config.refresh_lifetime;
        let access = jwt("access_token", user, n, now, expires);
        let refresh = jwt("refresh_token", user, n, now, refresh_expires);
        self.access.insert(
            access.clone(),
            Session {
                user: user.into(),
                expires,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            Session {
                user: user.into(),
                expires: refresh_expires,
            },
        );
        json!({"accessToken": access, "refreshToken": refresh, "expireDate": rfc3339(expires)})
    }

    fn instrument(&self, id: i64) -> Option<&Instrument> {
        self.instruments.iter().find(|i| i.tradable_id == id)
    }

    fn quote(&self, i: &Instrument) -> (Decimal, Decimal) {
        (i.mid - i.half_spread, i.mid + i.half_spread)
    }
}

/// A running TradeLocker sandbox.
pub struct Server {
    pub running: crate::Running,
    /// The Streams API (Socket.IO) of this sandbox.
    pub streams: stream::Hub,
    state: Arc<Mutex<Sandbox>>,
}

impl std::ops::Deref for Server {
    type Target = crate::Running;
    fn deref(&self) -> &crate::Running {
        &self.running
    }
}

impl Server {
    /// Makes every access token issued so far expire now (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        let mut s = lock(&self.state);
        let now = s.now();
        for session in s.access.values_mut() {
            session.expires = now - Duration::from_secs(1);
        }
        drop(s);
        self.streams.changed();
    }

    /// Makes every refresh token expire now.
    pub fn expire_refresh_tokens(&self) {
        let mut s = lock(&self.state);
        let now = s.now();
        for session in s.refresh.values_mut() {
            session.expires = now - Duration::from_secs(1);
        }
    }

    /// Stops the sandbox clock where it stands: until [`Server::advance_clock`] moves it, every
    /// order, fill and position gets the same millisecond (as a burst of orders does on a real
    /// server), which is what paging by `createdDate` has to cope with.
    pub fn freeze_clock(&self) {
        let mut s = lock(&self.state);
        s.frozen_at = Some(SystemTime::now());
    }

    /// Moves the sandbox clock forward.
    pub fn advance_clock(&self, by: Duration) {
        lock(&self.state).clock_offset += by;
        self.streams.changed();
    }

    /// Moves an instrument's mid price (quotes, fills and P/L follow).
    pub fn set_mid_price(&self, tradable_instrument_id: i64, mid: Decimal) {
        let mut s = lock(&self.state);
        if let Some(i) = s
            .instruments
            .iter_mut()
            .find(|i| i.tradable_id == tradable_instrument_id)
        {
            i.mid = mid;
        }
        drop(s);
        self.streams.changed();
    }

    /// `(qty, price)` of every order the sandbox holds, as it read them.
    pub fn order_amounts(&self) -> Vec<(Decimal, Option<Decimal>)> {
        lock(&self.state)
            .orders
            .iter()
            .map(|o| (o.qty, o.price))
            .collect()
    }

    /// How many requests the sandbox refused with 429 for going over a published limit.
    pub fn rate_limited(&self) -> usize {
        lock(&self.state).rate_limited
    }

    /// The path (under the prefix) and `developer-api-key` header of every request so far,
    /// in order. The sandbox accepts any key, or none, on REST calls.
    pub fn developer_keys(&self) -> Vec<(String, Option<String>)> {
        lock(&self.state).developer_keys.clone()
    }

    /// Balance of an account, by account id.
    pub fn balance(&self, account_id: &str) -> Option<Decimal> {
        lock(&self.state)
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .map(|a| a.balance)
    }
}

fn lock(state: &Arc<Mutex<Sandbox>>) -> MutexGuard<'_, Sandbox> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a sandbox on a free loopback port.
pub async fn start(config: Config) -> std::io::Result<Server> {
    start_on(config, 0).await
}

/// Starts a sandbox with the default config on `port` (0 picks one), for the binary.
pub async fn serve_on(port: u16) -> std::io::Result<Server> {
    start_on(Config::default(), port).await
}

async fn start_on(config: Config, port: u16) -> std::io::Result<Server> {
    let mut accounts = Vec::new();
    for (u, user) in config.users.iter().enumerate() {
        for n in 1..=2 {
            accounts.push(Account {
                id: (2_200_766 + u * 10 + n).to_string(),
                acc_num: n.to_string(),
                user: user.email.clone(),
                name: format!("OSP#DEMO#{}#{n}", u + 1),
                balance: config.balance,
            });
        }
    }
    let sandbox = Sandbox {
        config,
        instruments: instruments(),
        accounts,
        access: HashMap::new(),
        refresh: HashMap::new(),
        orders: Vec::new(),
        positions: Vec::new(),
        executions: Vec::new(),
        next_id: 0,
        token_serial: 0,
        clock_offset: Duration::ZERO,
        frozen_at: None,
        windows: HashMap::new(),
        rate_limited: 0,
        developer_keys: Vec::new(),
    };
    let state = Arc::new(Mutex::new(sandbox));
    let (layer, streams) = stream::hub(state.clone());
    let notify = streams.clone();
    // After every request that may change state, the stream subscriptions compare and emit.
    let rest = router(state.clone()).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let notify = notify.clone();
            async move {
                let read_only = req.method() == axum::http::Method::GET;
                let response = next.run(req).await;
                if !read_only {
                    notify.changed();
                }
                response
            }
        },
    ));
    let running = crate::serve_with(rest, PREFIX, port, |app| app.layer(layer)).await?;
    stream::watch_faults(&streams, running.faults.clone());
    Ok(Server {
        running,
        streams,
        state,
    })
}

type Shared = Arc<Mutex<Sandbox>>;

fn router(state: Shared) -> Router {
    Router::new()
        .route("/auth/jwt/token", post(login))
        .route("/auth/jwt/refresh", post(refresh))
        .route("/auth/jwt/all-accounts", get(all_accounts))
        .route("/auth/jwt/accounts/tokens", post(stream_tokens))
        .route("/trade/config", get(config))
        .route("/trade/accounts", get(trade_accounts))
        .route("/trade/accounts/{account_id}/state", get(account_state))
        .route(
            "/trade/accounts/{account_id}/instruments",
            get(list_instruments),
        )
        .route("/trade/instruments/{id}", get(instrument_details))
        .route("/trade/sessions/{id}", get(session_details))
        .route("/trade/sessionStatuses/{id}", get(session_status))
        .route("/trade/quotes", get(quotes))
        .route("/trade/dailyBar", get(daily_bar))
        .route("/trade/depth", get(depth))
        .route("/trade/history", get(history))
        .route(
            "/trade/accounts/{account_id}/positions",
            get(positions).delete(close_all_positions),
        )
        .route(
            "/trade/accounts/{account_id}/orders",
            get(orders).post(place_order).delete(cancel_all_orders),
        )
        .route(
            "/trade/accounts/{account_id}/ordersHistory",
            get(orders_history),
        )
        .route("/trade/accounts/{account_id}/executions", get(executions))
        .route(
            "/trade/orders/{order_id}",
            patch(modify_order).delete(cancel_order),
        )
        .route(
            "/trade/positions/{position_id}",
            patch(modify_position).delete(close_position),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            enforce_rate_limits,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            note_developer_key,
        ))
        .with_state(state)
        .layer(axum::middleware::map_response(json_rejections))
}

/// Holds the request's account to the published limit of its route, when enforcing: a
/// sliding window of `intervalNum` × `measure` that admits `limit` requests; beyond it 429
/// with `Retry-After` (whole seconds until the oldest leaves the window) and nothing done.
/// Requests whose account cannot be told are left to the handler to refuse.
async fn note_developer_key(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let path = path.strip_prefix(PREFIX).unwrap_or(path).to_string();
    let key = req
        .headers()
        .get("developer-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    lock(&state).developer_keys.push((path, key));
    next.run(req).await
}

async fn enforce_rate_limits(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let path = path.strip_prefix(PREFIX).unwrap_or(&path).to_string();
    let refused = {
        let mut s = lock(&state);
        let rule = rate_limit_name(req.method().as_str(), &path).and_then(|name| {
            s.config
                .rate_limits
                .iter()
                .find(|r| r.name == name)
                .cloned()
        });
        let account = trade_account(&s, req.headers(), &path).ok();
        match (s.config.enforce_rate_limits, rule, account) {
            (true, Some(rule), Some(account)) => {
                let now = Instant::now();
                let window = rule.window();
                let seen = s
                    .windows
                    .entry((account.id, rule.name.clone()))
                    .or_default();
                while seen
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    seen.pop_front();
                }
                if seen.len() >= rule.limit as usize {
                    let free_at = seen.front().map_or(now, |t| *t + window);
                    let wait = free_at.saturating_duration_since(now);
                    s.rate_limited += 1;
                    Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
                } else {
                    seen.push_back(now);
                    None
                }
            }
            _ => None,
        }
    };
    match refused {
        None => next.run(req).await,
        Some(retry_after) => {
            let mut r = http_error(StatusCode::TOO_MANY_REQUESTS, &path, "Too Many Requests");
            r.headers_mut().insert(
                "retry-after",
                axum::http::HeaderValue::from(retry_after.max(1)),
            );
            r
        }
    }
}

/// TradeLocker answers every HTTP error with its Spring-style JSON body, axum's own
/// plain-text rejections included.
async fn json_rejections(uri: axum::http::Uri, response: Response) -> Response {
    match crate::rejections::plain_error(response).await {
        Ok(response) => response,
        Err(e) => {
            let path = uri.path().strip_prefix(PREFIX).unwrap_or(uri.path());
            http_error(e.status, path, &e.message)
        }
    }
}

// ---- answers -------------------------------------------------------------------------------

fn http_error(status: StatusCode, path: &str, message: &str) -> Response {
    let body = json!({
        "timestamp": rfc3339(SystemTime::now()),
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "path": format!("/clientapi/v1{path}"),
    });
    (status, Json(body)).into_response()
}

fn ok(d: Value) -> Response {
    Json(json!({"s": "ok", "d": d})).into_response()
}

fn ok_empty() -> Response {
    Json(json!({"s": "ok"})).into_response()
}

/// TradeLocker's in-band rejection: HTTP 200 with `s: error`.
fn rejected(errmsg: &str) -> Response {
    Json(json!({"s": "error", "errmsg": errmsg})).into_response()
}

fn num(d: Decimal) -> Value {
    d.normalize()
        .to_f64()
        .map(Value::from)
        .unwrap_or(Value::Null)
}

fn cell(d: Option<Decimal>) -> Value {
    d.map(|d| Value::String(d.normalize().to_string()))
        .unwrap_or(Value::Null)
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A token shaped as the vendor's (the seed's example decodes to these claims): `iss`, `aud`,
/// `type`, `sub` (brand#user), `uid`, `brand`, `iat` and `exp` in Unix seconds. The signature
/// is not one; it makes each token distinct.
fn jwt(kind: &str, user: &str, n: u64, issued: SystemTime, expires: SystemTime) -> String {
    let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // A stable uuid-shaped id per user.
    let h = user.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let uid = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 52) & 0xfff,
        h & 0xffff_ffff_ffff
    );
    let claims = json!({
        "iss": "tradelocker-api",
        "aud": "tradelocker-api-traders",
        "type": kind,
        "sub": format!("OSP#{user}"),
        "uid": uid,
        "brand": "OSP",
        "iat": secs(issued),
        "exp": secs(expires),
    });
    format!(
        "{}.{}.{}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(&claims.to_string()),
        b64(&format!("sandbox-{n}"))
    )
}

fn dec(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

// ---- auth ----------------------------------------------------------------------------------

async fn login(State(state): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(Json(body)) = body else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/auth/jwt/token",
            "JSON body required",
        );
    };
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(email), Some(password), Some(server)) =
        (field("email"), field("password"), field("server"))
    else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/auth/jwt/token",
            "email, password and server are required",
        );
    };
    let mut s = lock(&state);
    let known = s
        .config
        .users
        .iter()
        .any(|u| u.email == email && u.password == password && u.server == server);
    if !known {
        return http_error(
            StatusCode::FORBIDDEN,
            "/auth/jwt/token",
            "Invalid credentials or server",
        );
    }
    (StatusCode::CREATED, Json(s.issue_tokens(&email))).into_response()
}

async fn refresh(State(state): State<Shared>, body: Option<Json<Value>>) -> Response {
    let token = body
        .as_ref()
        .and_then(|Json(b)| b.get("refreshToken"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(token) = token else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/auth/jwt/refresh",
            "refreshToken is required",
        );
    };
    let mut s = lock(&state);
    let now = s.now();
    // Refresh tokens are single-use: the old one is burned whatever happens next.
    match s.refresh.remove(&token) {
        Some(session) if session.expires > now => {
            (StatusCode::CREATED, Json(s.issue_tokens(&session.user))).into_response()
        }
        _ => http_error(
            StatusCode::UNAUTHORIZED,
            "/auth/jwt/refresh",
            "Refresh token expired or invalid",
        ),
    }
}

/// The user behind a valid bearer token, or the 401 to send.
fn bearer_user(s: &Sandbox, headers: &HeaderMap, path: &str) -> Result<String, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| http_error(StatusCode::UNAUTHORIZED, path, "Missing bearer token"))?;
    match s.access.get(token) {
        Some(session) if session.expires > s.now() => Ok(session.user.clone()),
        Some(_) => Err(http_error(StatusCode::UNAUTHORIZED, path, "Token expired")),
        None => Err(http_error(StatusCode::UNAUTHORIZED, path, "Invalid token")),
    }
}

/// The account selected by `accNum` for a valid token, or the error answer.
fn trade_account(s: &Sandbox, headers: &HeaderMap, path: &str) -> Result<Account, Response> {
    let user = bearer_user(s, headers, path)?;
    let acc_num = headers
        .get("accnum")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| http_error(StatusCode::BAD_REQUEST, path, "accNum header is required"))?;
    s.accounts
        .iter()
        .find(|a| a.user == user && a.acc_num == acc_num)
        .cloned()
        .ok_or_else(|| http_error(StatusCode::NOT_FOUND, path, "No account with this accNum"))
}

/// Like [`trade_account`], and the path's account id must be that account.
fn path_account(
    s: &Sandbox,
    headers: &HeaderMap,
    account_id: &str,
    path: &str,
) -> Result<Account, Response> {
    let account = trade_account(s, headers, path)?;
    if account.id != account_id {
        return Err(http_error(
            StatusCode::NOT_FOUND,
            path,
            "Account not found for this accNum",
        ));
    }
    Ok(account)
}

macro_rules! guard {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(resp) => return resp,
        }
    };
}

async fn all_accounts(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let s = lock(&state);
    let user = guard!(bearer_user(&s, &headers, "/auth/jwt/all-accounts"));
    let accounts: Vec<Value> = s
        .accounts
        .iter()
        .filter(|a| a.user == user)
        .map(|a| {
            json!({"id": a.id, "name": a.name, "currency": "USD", "status": "ACTIVE", "accNum": a.acc_num,
                   "accountBalance": format!("{:.2}", a.balance)})
        })
        .collect();
    Json(json!({"accounts": accounts})).into_response()
}

async fn stream_tokens(State(state): State<Shared>, body: Option<Json<Value>>) -> Response {
    let Some(Json(body)) = body else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/auth/jwt/accounts/tokens",
            "JSON body required",
        );
    };
    let mut s = lock(&state);
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (email, password, server) = (field("email"), field("password"), field("server"));
    if !s
        .config
        .users
        .iter()
        .any(|u| u.email == email && u.password == password && u.server == server)
    {
        return http_error(
            StatusCode::FORBIDDEN,
            "/auth/jwt/accounts/tokens",
            "Invalid credentials or server",
        );
    }
    let ids: Vec<String> = s
        .accounts
        .iter()
        .filter(|a| a.user == email)
        .map(|a| a.id.clone())
        .collect();
    let data: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let t = s.issue_tokens(&email);
            json!({"accessToken": t["accessToken"], "accountId": id, "expireDate": t["expireDate"], "brandId": server})
        })
        .collect();
    (StatusCode::CREATED, Json(json!({"data": data}))).into_response()
}

// ---- reference data ------------------------------------------------------------------------

fn table(id: &str, title: &str, columns: &[&str]) -> Value {
    let columns: Vec<Value> = columns
        .iter()
        .map(|c| json!({"id": c, "description": c}))
        .collect();
    json!({"id": id, "title": title, "columns": columns})
}

async fn config(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let s = lock(&state);
    guard!(trade_account(&s, &headers, "/trade/config"));
    let rate_limits: Vec<Value> = s
        .config
        .rate_limits
        .iter()
        .map(|r| {
            json!({"rateLimitType": r.name, "measure": r.measure.wire(),
                   "intervalNum": r.interval_num, "limit": r.limit})
        })
        .collect();
    ok(json!({
        "customerAccess": {"orders": true, "positions": true, "marketDepth": true},
        "positionsConfig": table("positions", "Positions", &POSITION_COLUMNS),
        "ordersConfig": table("orders", "Orders", &ORDER_COLUMNS),
        "ordersHistoryConfig": table("ordersHistory", "Orders history", &ORDER_COLUMNS),
        "filledOrdersConfig": table("filledOrders", "Filled orders", &EXECUTION_COLUMNS),
        "accountDetailsConfig": table("accountDetails", "Account details", &ACCOUNT_COLUMNS),
        "rateLimits": rate_limits,
        "limits": [{"limitType": "QUOTES_HISTORY_BARS", "limit": s.config.quotes_history_bars}],
    }))
}

async fn trade_accounts(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let s = lock(&state);
    let a = guard!(trade_account(&s, &headers, "/trade/accounts"));
    ok(json!([{
        "id": a.id, "name": a.name, "currency": "USD", "accNum": a.acc_num,
        "tradingRules": {"allowTrading": true, "maxOrders": 200},
        "riskRules": {"stopOutLevel": 50, "marginCallLevel": 100},
    }]))
}

fn unrealized(s: &Sandbox, p: &PositionRec) -> Decimal {
    let Some(i) = s.instrument(p.instrument) else {
        return Decimal::ZERO;
    };
    let (bid, ask) = s.quote(i);
    let diff = if p.side == "buy" {
        bid - p.avg_price
    } else {
        p.avg_price - ask
    };
    (diff * p.qty * i.contract_size).round_dp(2)
}

async fn account_state(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Response {
    let s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/state"
    ));
    let positions: Vec<&PositionRec> = s.positions.iter().filter(|p| p.account == a.id).collect();
    let open_pl: Decimal = positions.iter().map(|p| unrealized(&s, p)).sum();
    let working = s
        .orders
        .iter()
        .filter(|o| o.account == a.id && o.status == "New")
        .count();
    let today: Vec<&Execution> = s.executions.iter().filter(|e| e.account == a.id).collect();
    let volume: Decimal = today.iter().map(|e| e.qty).sum();
    let mut values: BTreeMap<&str, Decimal> = ACCOUNT_COLUMNS
        .iter()
        .map(|c| (*c, Decimal::ZERO))
        .collect();
    values.insert("balance", a.balance);
    values.insert("projectedBalance", a.balance + open_pl);
    values.insert("availableFunds", a.balance + open_pl);
    values.insert("cashBalance", a.balance);
    values.insert("withdrawalAvailable", a.balance);
    values.insert("openGrossPnL", open_pl);
    values.insert("openNetPnL", open_pl);
    values.insert("todayVolume", volume);
    values.insert("todayTradesCount", Decimal::from(today.len()));
    values.insert("positionsCount", Decimal::from(positions.len()));
    values.insert("ordersCount", Decimal::from(working));
    let row: Vec<Value> = ACCOUNT_COLUMNS.iter().map(|c| num(values[c])).collect();
    ok(json!({"accountDetailsData": row}))
}

fn instrument_summary(i: &Instrument) -> Value {
    json!({
        "tradableInstrumentId": i.tradable_id, "id": i.symbol_id, "name": i.name, "description": i.name,
        "type": i.kind, "tradingExchange": "SANDBOX", "marketDataExchange": "SANDBOX", "country": null,
        "logoUrl": null, "localizedName": i.name, "barSource": "ASK", "hasIntraday": true, "hasDaily": true,
        "routes": routes(i),
    })
}

fn routes(i: &Instrument) -> Value {
    let mut routes: Vec<Value> = i
        .dead_info_route
        .map(|dead| json!({"id": dead, "type": "INFO"}))
        .into_iter()
        .collect();
    routes.push(json!({"id": i.info_route, "type": "INFO"}));
    routes.push(json!({"id": i.trade_route, "type": "TRADE"}));
    Value::Array(routes)
}

async fn list_instruments(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Response {
    let s = lock(&state);
    guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/instruments"
    ));
    let list: Vec<Value> = s.instruments.iter().map(instrument_summary).collect();
    ok(json!({"instruments": list}))
}

type Params = Query<HashMap<String, String>>;

fn param_i64(q: &HashMap<String, String>, name: &str) -> Option<i64> {
    q.get(name).and_then(|v| v.parse().ok())
}

/// The instrument and INFO route of a market-data call, or the answer to send.
fn market_instrument(
    s: &Sandbox,
    q: &HashMap<String, String>,
    path: &str,
) -> Result<Instrument, Response> {
    let (Some(id), Some(route)) = (
        param_i64(q, "tradableInstrumentId"),
        param_i64(q, "routeId"),
    ) else {
        return Err(http_error(
            StatusCode::BAD_REQUEST,
            path,
            "tradableInstrumentId and routeId are required",
        ));
    };
    let Some(i) = s.instrument(id) else {
        return Err(rejected("Unknown instrument"));
    };
    if Some(route) == i.dead_info_route {
        return Err(rejected(&format!("Route {route} is not available")));
    }
    if route != i.info_route && route != i.trade_route {
        return Err(rejected("Unknown route"));
    }
    Ok(i.clone())
}

async fn instrument_details(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Params,
) -> Response {
    let s = lock(&state);
    guard!(trade_account(
        &s,
        &headers,
        "/trade/instruments/{tradableInstrumentId}"
    ));
    let Some(i) = s.instrument(id) else {
        return http_error(
            StatusCode::NOT_FOUND,
            "/trade/instruments/{id}",
            "Unknown instrument",
        );
    };
    if param_i64(&q, "routeId").is_none() {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/instruments/{id}",
            "routeId is required",
        );
    }
    let mut d = instrument_summary(i);
    let fields = json!({
        "baseCurrency": &i.name[..3], "quotingCurrency": &i.name[3..], "isin": "", "leverage": "30.00",
        "lotSize": num(i.contract_size), "lotStep": num(i.lot_step), "minLot": num(i.lot_step), "maxLot": 100,
        "margin_hedging_type": "fx_cfd", "settlementSystem": "Immediate", "symbolStatus": "FULLY_OPEN",
        "tickSize": [{"leftRangeLimit": null, "tickSize": num(Decimal::new(1, 5))}],
        "tickCost": [{"leftRangeLimit": null, "tickCost": 1}],
        "tradeSessionId": 1, "tradeSessionStatusId": 2,
    });
    if let (Some(d), Some(f)) = (d.as_object_mut(), fields.as_object()) {
        d.remove("id");
        d.remove("routes");
        d.remove("tradableInstrumentId");
        d.extend(f.clone());
    }
    ok(d)
}

async fn session_details(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(_id): Path<i64>,
) -> Response {
    let s = lock(&state);
    guard!(trade_account(&s, &headers, "/trade/sessions/{sessionId}"));
    ok(json!({"blockTrading": false, "holidays": [{"date": "2026-12-25", "name": "Christmas"}]}))
}

async fn session_status(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(_id): Path<i64>,
) -> Response {
    let s = lock(&state);
    guard!(trade_account(
        &s,
        &headers,
        "/trade/sessionStatuses/{sessionStatusId}"
    ));
    ok(json!({"allowedOperations": [1, 1, 1], "allowedOrderTypes": [1, 1, 1, 0, 0, 0]}))
}

async fn quotes(State(state): State<Shared>, headers: HeaderMap, Query(q): Params) -> Response {
    let s = lock(&state);
    guard!(trade_account(&s, &headers, "/trade/quotes"));
    let i = guard!(market_instrument(&s, &q, "/trade/quotes"));
    let (bid, ask) = s.quote(&i);
    ok(json!({"ap": num(ask), "bp": num(bid), "as": 1.0, "bs": 1.0}))
}

async fn daily_bar(State(state): State<Shared>, headers: HeaderMap, Query(q): Params) -> Response {
    let s = lock(&state);
    guard!(trade_account(&s, &headers, "/trade/dailyBar"));
    let i = guard!(market_instrument(&s, &q, "/trade/dailyBar"));
    let m = i.mid;
    ok(
        json!({"o": num(m), "h": num(m * Decimal::new(1005, 3)), "l": num(m * Decimal::new(995, 3)), "c": num(m), "v": 1250}),
    )
}

async fn depth(State(state): State<Shared>, headers: HeaderMap, Query(q): Params) -> Response {
    let s = lock(&state);
    guard!(trade_account(&s, &headers, "/trade/depth"));
    let i = guard!(market_instrument(&s, &q, "/trade/depth"));
    let (bid, ask) = s.quote(&i);
    let step = i.half_spread;
    let asks: Vec<Value> = (0..3)
        .map(|k| json!([num(ask + step * Decimal::from(k)), 1 + k]))
        .collect();
    let bids: Vec<Value> = (0..3)
        .map(|k| json!([num(bid - step * Decimal::from(k)), 1 + k]))
        .collect();
    ok(json!({"asks": asks, "bids": bids}))
}

fn resolution_ms(r: &str) -> Option<i64> {
    Some(match r {
        "1m" => 60_000,
        "5m" => 300_000,
        "15m" => 900_000,
        "30m" => 1_800_000,
        "1H" => 3_600_000,
        "4H" => 14_400_000,
        "1D" => 86_400_000,
        "1W" => 604_800_000,
        "1M" => 2_592_000_000,
        _ => return None,
    })
}

async fn history(State(state): State<Shared>, headers: HeaderMap, Query(q): Params) -> Response {
    let s = lock(&state);
    guard!(trade_account(&s, &headers, "/trade/history"));
    let i = guard!(market_instrument(&s, &q, "/trade/history"));
    let (Some(from), Some(to)) = (param_i64(&q, "from"), param_i64(&q, "to")) else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/history",
            "from and to are required",
        );
    };
    let Some(step) = q.get("resolution").and_then(|r| resolution_ms(r)) else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/history",
            "unknown resolution",
        );
    };
    let first = from.div_euclid(step) * step + if from % step == 0 { 0 } else { step };
    if to <= first {
        return Json(json!({"s": "no_data"})).into_response();
    }
    // Bars opening in [from, to).
    let count = (to - first + step - 1) / step;
    let cap = i64::from(s.config.quotes_history_bars);
    if count > cap {
        return rejected(&format!(
            "Too many bars requested: {count} > QUOTES_HISTORY_BARS {cap}"
        ));
    }
    // Deterministic bars: a slow zigzag around the mid price, keyed by bar time.
    let bars: Vec<Value> = (0..count)
        .map(|k| {
            let t = first + k * step;
            let wave = Decimal::from((t / step) % 20 - 10) * i.half_spread;
            let o = i.mid + wave;
            let c = o + i.half_spread;
            json!({"t": t, "o": num(o), "h": num(c + i.half_spread), "l": num(o - i.half_spread), "c": num(c), "v": 10 + (t / step) % 7})
        })
        .collect();
    ok(json!({"barDetails": bars}))
}

// ---- trading -------------------------------------------------------------------------------

fn order_row(o: &OrderRec) -> Value {
    let kind_is_open = o.status == "New";
    json!([
        o.id,
        o.instrument.to_string(),
        o.route.to_string(),
        cell(Some(o.qty)),
        o.side,
        o.kind,
        o.status,
        cell(Some(o.filled_qty)),
        cell(o.avg_price),
        cell(o.price),
        cell(o.stop_price),
        o.validity,
        null,
        o.created.to_string(),
        o.modified.to_string(),
        kind_is_open.to_string(),
        o.position_id,
        cell(o.stop_loss),
        o.stop_loss.map(|_| "absolute"),
        cell(o.take_profit),
        o.take_profit.map(|_| "absolute"),
        o.strategy_id
            .clone()
            .unwrap_or_else(|| "key-undefined".into()),
    ])
}

async fn positions(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Response {
    let s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/positions"
    ));
    let rows: Vec<Value> = s
        .positions
        .iter()
        .filter(|p| p.account == a.id)
        .map(|p| {
            json!([
                p.id,
                p.instrument.to_string(),
                p.route.to_string(),
                p.side,
                cell(Some(p.qty)),
                cell(Some(p.avg_price)),
                p.stop_loss_id,
                p.take_profit_id,
                p.opened.to_string(),
                cell(Some(unrealized(&s, p))),
                p.strategy_id
                    .clone()
                    .unwrap_or_else(|| "key-undefined".into())
            ])
        })
        .collect();
    ok(json!({"positions": rows}))
}

async fn orders(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Query(q): Params,
) -> Response {
    let s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/orders"
    ));
    let rows: Vec<Value> = filtered(&s, &a, &q)
        .filter(|o| o.status == "New")
        .map(order_row)
        .collect();
    ok(json!({"orders": rows}))
}

fn filtered<'a>(
    s: &'a Sandbox,
    a: &'a Account,
    q: &'a HashMap<String, String>,
) -> impl Iterator<Item = &'a OrderRec> + 'a {
    let from = param_i64(q, "from");
    let to = param_i64(q, "to");
    let instrument = param_i64(q, "tradableInstrumentId");
    s.orders.iter().filter(move |o| {
        o.account == a.id
            && from.is_none_or(|f| o.created >= f)
            && to.is_none_or(|t| o.created <= t)
            && instrument.is_none_or(|i| o.instrument == i)
    })
}

async fn orders_history(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Query(q): Params,
) -> Response {
    let s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/ordersHistory"
    ));
    // Oldest first, one page at a time: the caller moves `from` to the last `createdDate` it
    // got and reads that millisecond again (reference §5).
    let mut done: Vec<&OrderRec> = filtered(&s, &a, &q).filter(|o| o.status != "New").collect();
    done.sort_by_key(|o| o.created);
    let page = s.config.orders_history_page.max(1);
    let has_more = done.len() > page;
    let rows: Vec<Value> = done.into_iter().take(page).map(order_row).collect();
    ok(json!({"ordersHistory": rows, "hasMore": has_more}))
}

async fn executions(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
) -> Response {
    let s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/executions"
    ));
    let rows: Vec<Value> = s
        .executions
        .iter()
        .filter(|e| e.account == a.id)
        .map(|e| {
            json!([
                e.id,
                cell(Some(e.price)),
                e.side,
                e.created.to_string(),
                cell(Some(e.qty)),
                e.order_id,
                e.position_id,
                e.instrument.to_string()
            ])
        })
        .collect();
    ok(json!({"executions": rows}))
}

/// Checks a quantity against the instrument's lot step, as the server does.
fn valid_qty(i: &Instrument, qty: Decimal) -> bool {
    qty > Decimal::ZERO && (qty % i.lot_step).is_zero()
}

async fn place_order(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    body: Option<crate::exact::ExactJson>,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/orders"
    ));
    let Some(crate::exact::ExactJson(body)) = body else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/accounts/{accountId}/orders",
            "JSON body required",
        );
    };
    let get = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
    let (Some(instrument), Some(route), Some(qty)) = (
        int(&get("tradableInstrumentId")),
        int(&get("routeId")),
        dec(&get("qty")),
    ) else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/accounts/{accountId}/orders",
            "tradableInstrumentId, routeId and qty are required",
        );
    };
    let side = get("side").as_str().unwrap_or_default().to_string();
    let kind = get("type").as_str().unwrap_or_default().to_string();
    let validity = get("validity").as_str().unwrap_or_default().to_string();
    let Some(i) = s.instrument(instrument).cloned() else {
        return rejected("Instrument not found");
    };
    if route != i.trade_route {
        return rejected("Route is not a TRADE route for this instrument");
    }
    if !["buy", "sell"].contains(&side.as_str()) {
        return rejected("Invalid side");
    }
    if !valid_qty(&i, qty) {
        return rejected(&format!(
            "Invalid quantity {qty}: must be a positive multiple of {}",
            i.lot_step
        ));
    }
    let price = dec(&get("price"));
    let stop_price = dec(&get("stopPrice"));
    match (kind.as_str(), validity.as_str()) {
        ("market", "IOC") => {}
        ("limit", "GTC") if price.is_some() => {}
        ("stop", "GTC") if stop_price.is_some() => {}
        ("market", _) => return rejected("Market orders must be IOC"),
        ("limit", _) | ("stop", _) => {
            return rejected("Limit and stop orders need GTC and a price")
        }
        _ => return rejected("Invalid order type"),
    }
    let strategy_id = get("strategyId").as_str().map(str::to_owned);
    if strategy_id.as_ref().is_some_and(|id| id.len() > 31) {
        return rejected("strategyId is longer than 31 characters");
    }
    let now = s.now_ms();
    let id = s.new_id();
    let mut order = OrderRec {
        id: id.clone(),
        instrument,
        route,
        qty,
        side: side.clone(),
        kind: kind.clone(),
        status: "New".into(),
        filled_qty: Decimal::ZERO,
        avg_price: None,
        price,
        stop_price,
        validity,
        created: now,
        modified: now,
        position_id: None,
        stop_loss: dec(&get("stopLoss")),
        take_profit: dec(&get("takeProfit")),
        strategy_id: strategy_id.clone(),
        account: a.id.clone(),
    };
    if kind == "market" {
        let (bid, ask) = s.quote(&i);
        let fill = if side == "buy" { ask } else { bid };
        let position_id = s.new_id();
        let exec_id = s.new_id();
        order.status = "Filled".into();
        order.filled_qty = qty;
        order.avg_price = Some(fill);
        order.position_id = Some(position_id.clone());
        s.positions.push(PositionRec {
            id: position_id.clone(),
            instrument,
            route,
            side: side.clone(),
            qty,
            avg_price: fill,
            stop_loss_id: None,
            take_profit_id: None,
            opened: now,
            strategy_id,
            account: a.id.clone(),
        });
        s.executions.push(Execution {
            id: exec_id,
            price: fill,
            side,
            created: now,
            qty,
            order_id: id.clone(),
            position_id,
            instrument,
            account: a.id.clone(),
        });
    }
    s.orders.push(order);
    ok(json!({"orderId": id}))
}

async fn cancel_all_orders(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Query(q): Params,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/orders"
    ));
    let instrument = param_i64(&q, "tradableInstrumentId");
    let now = s.now_ms();
    for o in s.orders.iter_mut().filter(|o| {
        o.account == a.id && o.status == "New" && instrument.is_none_or(|i| o.instrument == i)
    }) {
        o.status = "Cancelled".into();
        o.modified = now;
    }
    ok_empty()
}

async fn modify_order(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    body: Option<crate::exact::ExactJson>,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(trade_account(&s, &headers, "/trade/orders/{orderId}"));
    let Some(crate::exact::ExactJson(body)) = body else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/orders/{orderId}",
            "JSON body required",
        );
    };
    let now = s.now_ms();
    let step = {
        let Some(o) = s
            .orders
            .iter()
            .find(|o| o.id == order_id && o.account == a.id)
        else {
            return rejected("Order not found");
        };
        if o.status != "New" {
            return rejected(&format!("Order is {} and cannot be modified", o.status));
        }
        s.instrument(o.instrument)
            .map(|i| i.lot_step)
            .unwrap_or(Decimal::new(1, 2))
    };
    let qty = body.get("qty").and_then(dec);
    if qty.is_some_and(|q| q <= Decimal::ZERO || !(q % step).is_zero()) {
        return rejected("Invalid quantity");
    }
    let Some(o) = s.orders.iter_mut().find(|o| o.id == order_id) else {
        return rejected("Order not found");
    };
    if let Some(q) = qty {
        o.qty = q;
    }
    if let Some(p) = body.get("price").and_then(dec) {
        o.price = Some(p);
    }
    if let Some(p) = body.get("stopPrice").and_then(dec) {
        o.stop_price = Some(p);
    }
    o.modified = now.max(o.modified + 1);
    ok_empty()
}

async fn cancel_order(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(trade_account(&s, &headers, "/trade/orders/{orderId}"));
    let now = s.now_ms();
    let Some(o) = s
        .orders
        .iter_mut()
        .find(|o| o.id == order_id && o.account == a.id)
    else {
        return rejected("Order not found");
    };
    if o.status != "New" {
        return rejected(&format!("Order is {} and cannot be cancelled", o.status));
    }
    o.status = "Cancelled".into();
    o.modified = now;
    ok_empty()
}

async fn modify_position(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(position_id): Path<String>,
    body: Option<crate::exact::ExactJson>,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(trade_account(&s, &headers, "/trade/positions/{positionId}"));
    let Some(crate::exact::ExactJson(body)) = body else {
        return http_error(
            StatusCode::BAD_REQUEST,
            "/trade/positions/{positionId}",
            "JSON body required",
        );
    };
    let Some(p) = s
        .positions
        .iter()
        .find(|p| p.id == position_id && p.account == a.id)
        .cloned()
    else {
        return rejected("Position not found");
    };
    let now = s.now_ms();
    let closing = if p.side == "buy" { "sell" } else { "buy" };
    // Stop loss and take profit are separate working orders linked to the position.
    for (key, kind) in [("stopLoss", "stop"), ("takeProfit", "limit")] {
        let Some(level) = body.get(key).and_then(dec) else {
            continue;
        };
        let existing = if key == "stopLoss" {
            p.stop_loss_id.clone()
        } else {
            p.take_profit_id.clone()
        };
        let id = match existing {
            Some(id) => id,
            None => s.new_id(),
        };
        s.orders.retain(|o| o.id != id);
        s.orders.push(OrderRec {
            id: id.clone(),
            instrument: p.instrument,
            route: p.route,
            qty: p.qty,
            side: closing.into(),
            kind: kind.into(),
            status: "New".into(),
            filled_qty: Decimal::ZERO,
            avg_price: None,
            price: (kind == "limit").then_some(level),
            stop_price: (kind == "stop").then_some(level),
            validity: "GTC".into(),
            created: now,
            modified: now,
            position_id: Some(p.id.clone()),
            stop_loss: None,
            take_profit: None,
            strategy_id: None,
            account: a.id.clone(),
        });
        if let Some(pos) = s.positions.iter_mut().find(|x| x.id == p.id) {
            if key == "stopLoss" {
                pos.stop_loss_id = Some(id);
            } else {
                pos.take_profit_id = Some(id);
            }
        }
    }
    ok_empty()
}

/// Closes `qty` of a position (all when `None` or zero) at the current quote.
fn close(
    s: &mut Sandbox,
    position_id: &str,
    account: &str,
    qty: Option<Decimal>,
) -> Result<(), String> {
    let p = s
        .positions
        .iter()
        .find(|p| p.id == position_id && p.account == account)
        .cloned()
        .ok_or("Position not found")?;
    let i = s
        .instrument(p.instrument)
        .cloned()
        .ok_or("Instrument not found")?;
    let qty = qty.filter(|q| !q.is_zero()).unwrap_or(p.qty);
    if qty > p.qty || !valid_qty(&i, qty) {
        return Err(format!(
            "Invalid quantity {qty} for a position of {}",
            p.qty
        ));
    }
    let (bid, ask) = s.quote(&i);
    let fill = if p.side == "buy" { bid } else { ask };
    let pnl = (if p.side == "buy" {
        fill - p.avg_price
    } else {
        p.avg_price - fill
    }) * qty
        * i.contract_size;
    let now = s.now_ms();
    let order_id = s.new_id();
    let exec_id = s.new_id();
    let side = if p.side == "buy" { "sell" } else { "buy" }.to_string();
    s.orders.push(OrderRec {
        id: order_id.clone(),
        instrument: p.instrument,
        route: p.route,
        qty,
        side: side.clone(),
        kind: "market".into(),
        status: "Filled".into(),
        filled_qty: qty,
        avg_price: Some(fill),
        price: None,
        stop_price: None,
        validity: "IOC".into(),
        created: now,
        modified: now,
        position_id: Some(p.id.clone()),
        stop_loss: None,
        take_profit: None,
        strategy_id: None,
        account: account.into(),
    });
    s.executions.push(Execution {
        id: exec_id,
        price: fill,
        side,
        created: now,
        qty,
        order_id,
        position_id: p.id.clone(),
        instrument: p.instrument,
        account: account.into(),
    });
    if let Some(acc) = s.accounts.iter_mut().find(|a| a.id == account) {
        acc.balance += pnl.round_dp(2);
    }
    if qty == p.qty {
        s.positions.retain(|x| x.id != p.id);
        // Linked SL/TP orders go with the position.
        for o in s
            .orders
            .iter_mut()
            .filter(|o| o.status == "New" && o.position_id.as_deref() == Some(&p.id))
        {
            o.status = "Cancelled".into();
        }
    } else if let Some(pos) = s.positions.iter_mut().find(|x| x.id == p.id) {
        pos.qty -= qty;
    }
    Ok(())
}

async fn close_position(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(position_id): Path<String>,
    Query(q): Params,
    body: Option<crate::exact::ExactJson>,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(trade_account(&s, &headers, "/trade/positions/{positionId}"));
    // The documented body `{qty}`; some clients send `qty` as a query parameter instead.
    let qty = body
        .as_ref()
        .and_then(|crate::exact::ExactJson(b)| b.get("qty"))
        .and_then(dec)
        .or_else(|| q.get("qty").and_then(|v| Decimal::from_str(v).ok()));
    match close(&mut s, &position_id, &a.id, qty) {
        Ok(()) => ok_empty(),
        Err(msg) => rejected(&msg),
    }
}

async fn close_all_positions(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Query(q): Params,
) -> Response {
    let mut s = lock(&state);
    let a = guard!(path_account(
        &s,
        &headers,
        &account_id,
        "/trade/accounts/{accountId}/positions"
    ));
    let instrument = param_i64(&q, "tradableInstrumentId");
    let ids: Vec<String> = s
        .positions
        .iter()
        .filter(|p| p.account == a.id && instrument.is_none_or(|i| p.instrument == i))
        .map(|p| p.id.clone())
        .collect();
    for id in &ids {
        if let Err(msg) = close(&mut s, id, &a.id, None) {
            return rejected(&msg);
        }
    }
    let closed: Vec<Value> = ids.iter().map(|id| json!([id])).collect();
    ok(json!({"positions": closed}))
}
