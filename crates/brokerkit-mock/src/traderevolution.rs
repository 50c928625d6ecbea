//! A stateful TraderEvolution BackOffice sandbox speaking `specs/traderevolution.yaml` under
//! `/proftrading/rest`.
//!
//! Login issues opaque access/refresh tokens with the lifetimes of the connector settings
//! (which `PATCH /connectors/settings` changes); refresh (refresh token in the `token` header)
//! rotates both and burns the old refresh token; expired or revoked tokens get 401. Users own
//! trading accounts; every account holds asset balances, and account operations (deposit,
//! withdrawal, adjustment, transfer…) move its balance in its currency, refusing a debit beyond
//! it. Reports are computed from that state. Closing an account (`POST /closeAccount`) leaves it
//! readable with status 1 and refuses money movements on it; every seed account holds one open
//! position (`DELETE /positions/{id}` rolls it back: later deletes are 404) and two orders
//! (`GET /orders`); passwords on the blacklist (`/passwordBlacklist`) are refused (406) by user
//! creation and password changes. Errors carry dotted codes
//! (`{"errorCode": "1.2.0.11", "message": …}`) where the vendor's codes are known; an optional
//! per-token rate limit answers 429 with `2.147.1.27`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the API lives under the server root.
pub const PREFIX: &str = "/proftrading/rest";

/// Error codes the sandbox answers with (the vendor's documented ones).
pub const CODE_BAD_CREDENTIALS: &str = "1.2.0.11";
pub const CODE_NO_API_ACCESS: &str = "2.0.2.4";
pub const CODE_REPORT_FILTER_MISSING: &str = "1.6.2.2";
pub const CODE_RATE_LIMITED: &str = "2.147.1.27";

/// Report ids of the sandbox.
pub const REPORT_ACCOUNT_STATEMENT: i64 = 119;
pub const REPORT_ACCOUNT_OPERATIONS: i64 = 120;
pub const REPORT_USERS: i64 = 121;

/// The `status` of a closed account (0 is active). The vendor's value is not public; 1 is assumed.
pub const ACCOUNT_STATUS_CLOSED: i64 = 1;

/// The id of the position every seed account starts with: 2^53 + 1 plus the account's place in
/// the seed list, so an id that a float would round shows up at once.
pub fn seed_position_id(index: usize) -> String {
    ((1u64 << 53) + 1 + index as u64).to_string()
}

/// A user of the sandbox.
#[derive(Clone, Debug)]
pub struct User {
    pub login: String,
    pub password: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub user_group: i64,
    /// Whether the user may call the REST API (otherwise login fails with `2.0.2.4`).
    pub api_access: bool,
}

impl User {
    pub fn new(login: &str, password: &str) -> Self {
        Self {
            login: login.into(),
            password: password.into(),
            email: format!("{login}@example.com"),
            first_name: "Test".into(),
            last_name: login.into(),
            user_group: 1,
            api_access: true,
        }
    }
}

/// A trading account the sandbox starts with.
#[derive(Clone, Debug)]
pub struct SeedAccount {
    pub id: i64,
    pub owner_login: String,
    pub name: String,
    pub balance: Decimal,
}

/// How the sandbox starts.
#[derive(Clone, Debug)]
pub struct Config {
    pub users: Vec<User>,
    pub accounts: Vec<SeedAccount>,
    /// `accessTokenLifeTime` of new tokens (whole seconds on the wire).
    pub access_lifetime: Duration,
    /// `refreshTokenLifeTime` of new tokens.
    pub refresh_lifetime: Duration,
    /// Requests per second per access token before 429 (`None`: unlimited).
    pub rate_limit_per_second: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        let mut no_api = User::new("noapi", "noapi-pass");
        no_api.api_access = false;
        Self {
            users: vec![
                User::new("admin", "admin-pass"),
                User::new("trader01", "trader-pass"),
                no_api,
            ],
            accounts: vec![SeedAccount {
                id: 3_243_753,
                owner_login: "trader01".into(),
                name: "trader01-main".into(),
                balance: Decimal::ZERO,
            }],
            access_lifetime: Duration::from_secs(300),
            refresh_lifetime: Duration::from_secs(3600),
            rate_limit_per_second: None,
        }
    }
}

#[derive(Clone, Debug)]
struct UserRec {
    id: i64,
    user: User,
}

#[derive(Clone, Debug)]
struct AccountRec {
    id: i64,
    name: String,
    user_id: i64,
    kind: i64,
    status: i64,
    mode: i64,
    currency_id: i64,
}

#[derive(Clone, Debug)]
struct AssetBalanceRec {
    id: i64,
    account_id: i64,
    asset: String,
    balance: Decimal,
}

#[derive(Clone, Debug)]
struct OperationRec {
    id: i64,
    account_id: i64,
    amount: Decimal,
    type_id: i64,
    comment: Option<String>,
    currency_id: i64,
    date_ms: i64,
}

#[derive(Clone, Debug)]
struct PositionRec {
    account_id: i64,
}

#[derive(Clone, Debug)]
struct OrderRec {
    id: String,
    account_id: i64,
    instrument: &'static str,
    side: &'static str,
    kind: &'static str,
    qty: Decimal,
    price: Option<Decimal>,
    status: &'static str,
}

#[derive(Clone, Debug)]
struct TokenRec {
    login: String,
    expires: SystemTime,
}

#[derive(Clone, Debug)]
struct OneTimeToken {
    login: String,
    used: bool,
    expired: bool,
}

struct Sandbox {
    config: Config,
    users: BTreeMap<i64, UserRec>,
    accounts: BTreeMap<i64, AccountRec>,
    balances: BTreeMap<i64, AssetBalanceRec>,
    operations: Vec<OperationRec>,
    presets: Vec<(i64, String, Option<i64>)>,
    positions: BTreeMap<String, PositionRec>,
    orders: Vec<OrderRec>,
    password_blacklist: Vec<String>,
    /// Asset id → name.
    assets: BTreeMap<i64, &'static str>,
    access: HashMap<String, TokenRec>,
    refresh: HashMap<String, TokenRec>,
    one_time: HashMap<String, OneTimeToken>,
    pfix: HashMap<String, OneTimeToken>,
    /// Per access token: start of the current one-second window and the calls in it.
    windows: HashMap<String, (Instant, u32)>,
    next_id: i64,
    token_serial: u64,
}

const USD: i64 = 1;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Sandbox {
    fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn issue_tokens(&mut self, login: &str) -> Value {
        self.token_serial += 1;
        let n = self.token_serial;
        let now = SystemTime::now();
        // Opaque, base64-looking, like the vendor's: not a three-part JWT.
        let access = format!("eyJhY2Nlc3Mi{n:08}{}", login.len());
        let refresh = format!("eyJyZWZyZXNo{n:08}{}", login.len());
        let access_secs = self.config.access_lifetime.as_secs().max(1);
        let refresh_secs = self.config.refresh_lifetime.as_secs().max(1);
        self.access.insert(
            access.clone(),
            TokenRec {
                login: login.into(),
                expires: now + Duration::from_secs(access_secs),
            },
        );
        self.refresh.insert(
            refresh.clone(),
            TokenRec {
                login: login.into(),
                expires: now + Duration::from_secs(refresh_secs),
            },
        );
        json!({
            "accessToken": access,
            "refreshToken": refresh,
            "accessTokenLifeTime": access_secs,
            "refreshTokenLifeTime": refresh_secs,
        })
    }

    fn user_by_login(&self, login: &str) -> Option<&UserRec> {
        self.users.values().find(|u| u.user.login == login)
    }

    fn currency_name(&self, currency_id: i64) -> String {
        self.assets
            .get(&currency_id)
            .copied()
            .unwrap_or("USD")
            .to_string()
    }

    /// The asset balance that holds the account's own currency (created on demand).
    fn main_balance(&mut self, account_id: i64) -> Option<&mut AssetBalanceRec> {
        let account = self.accounts.get(&account_id)?;
        let asset = self.currency_name(account.currency_id);
        let existing = self
            .balances
            .values()
            .find(|b| b.account_id == account_id && b.asset == asset)
            .map(|b| b.id);
        let id = match existing {
            Some(id) => id,
            None => {
                let id = self.new_id();
                self.balances.insert(
                    id,
                    AssetBalanceRec {
                        id,
                        account_id,
                        asset,
                        balance: Decimal::ZERO,
                    },
                );
                id
            }
        };
        self.balances.get_mut(&id)
    }

    fn account_balance(&self, account: &AccountRec) -> Decimal {
        let asset = self.currency_name(account.currency_id);
        self.balances
            .values()
            .filter(|b| b.account_id == account.id && b.asset == asset)
            .map(|b| b.balance)
            .sum()
    }

    fn create_account(&mut self, name: String, user_id: i64, currency_id: i64) -> i64 {
        let id = self.new_id();
        self.accounts.insert(
            id,
            AccountRec {
                id,
                name,
                user_id,
                kind: 0,
                status: 0,
                mode: 1,
                currency_id,
            },
        );
        self.main_balance(id);
        id
    }

    fn account_json(&self, a: &AccountRec) -> Value {
        json!({
            "id": a.id, "accountName": a.name, "userId": a.user_id, "type": a.kind, "status": a.status,
            "mode": a.mode, "currencyId": a.currency_id, "balance": num(self.account_balance(a)),
        })
    }
}

fn user_json(u: &UserRec) -> Value {
    json!({
        "id": u.id, "login": u.user.login, "email": u.user.email, "firstName": u.user.first_name,
        "lastName": u.user.last_name, "userGroup": u.user.user_group,
    })
}

fn balance_json(b: &AssetBalanceRec) -> Value {
    json!({"id": b.id, "accountId": b.account_id, "assetName": b.asset, "balance": num(b.balance)})
}

fn order_json(o: &OrderRec) -> Value {
    json!({
        "id": o.id, "accountId": o.account_id, "instrumentName": o.instrument, "side": o.side,
        "type": o.kind, "qty": num(o.qty), "price": o.price.map(num), "status": o.status,
    })
}

fn operation_json(o: &OperationRec) -> Value {
    json!({
        "id": o.id, "accountId": o.account_id, "amount": num(o.amount), "operationTypeId": o.type_id,
        "frontendComment": o.comment, "isSettled": true, "currencyId": o.currency_id, "date": o.date_ms,
    })
}

/// A decimal as a JSON number (an integer when it is whole).
fn num(d: Decimal) -> Value {
    if d.fract().is_zero() {
        if let Some(i) = d.to_i64() {
            return json!(i);
        }
    }
    d.to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A decimal from a JSON number or numeric string.
fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// The vendor-style error body.
fn error(status: StatusCode, code: Option<&str>, message: &str) -> Response {
    let mut body = Map::new();
    if let Some(code) = code {
        body.insert("errorCode".into(), json!(code));
    }
    body.insert("message".into(), json!(message));
    (status, Json(Value::Object(body))).into_response()
}

fn not_found(what: &str) -> Response {
    error(StatusCode::NOT_FOUND, None, &format!("{what} not found"))
}

fn not_acceptable(message: &str) -> Response {
    error(StatusCode::NOT_ACCEPTABLE, None, message)
}

type Shared = Arc<Mutex<Sandbox>>;

fn lock(state: &Shared) -> MutexGuard<'_, Sandbox> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The logged-in login behind the bearer token, or the 401/429 answer.
fn authed(s: &mut Sandbox, headers: &HeaderMap) -> Result<String, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, None, "missing bearer token"))?
        .to_string();
    let login = match s.access.get(&token) {
        Some(t) if t.expires > SystemTime::now() => t.login.clone(),
        Some(_) => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                None,
                "access token expired",
            ))
        }
        None => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                None,
                "access token invalid",
            ))
        }
    };
    if let Some(limit) = s.config.rate_limit_per_second {
        let now = Instant::now();
        let window = s.windows.entry(token).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        window.1 += 1;
        if window.1 > limit {
            return Err(error(
                StatusCode::TOO_MANY_REQUESTS,
                Some(CODE_RATE_LIMITED),
                "too many requests",
            ));
        }
    }
    Ok(login)
}

/// Parses a JSON object body, or answers 400.
fn object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match crate::exact::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            None,
            "the body must be a JSON object",
        )),
    }
}

fn str_field<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str, Response> {
    m.get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| not_acceptable(&format!("`{key}` is required")))
}

fn int_field(m: &Map<String, Value>, key: &str) -> Result<i64, Response> {
    m.get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| not_acceptable(&format!("`{key}` must be an integer")))
}

fn query_i64(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Response> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| not_acceptable(&format!("`{key}` must be an integer"))),
    }
}

/// A running BackOffice sandbox.
pub struct Server {
    pub running: crate::Running,
    state: Shared,
}

impl std::ops::Deref for Server {
    type Target = crate::Running;
    fn deref(&self) -> &crate::Running {
        &self.running
    }
}

impl Server {
    /// Makes every access token issued so far invalid (as if the server restarted).
    pub fn revoke_access_tokens(&self) {
        lock(&self.state).access.clear();
    }

    /// Makes every refresh token issued so far expire now.
    pub fn expire_refresh_tokens(&self) {
        let mut s = lock(&self.state);
        let past = SystemTime::now() - Duration::from_secs(1);
        s.refresh.values_mut().for_each(|t| t.expires = past);
    }

    /// Changes the lifetimes of tokens issued from now on.
    pub fn set_token_lifetimes(&self, access: Duration, refresh: Duration) {
        let mut s = lock(&self.state);
        s.config.access_lifetime = access;
        s.config.refresh_lifetime = refresh;
    }

    /// Issues a one-time token for an external link of `login`.
    pub fn issue_one_time_token(&self, login: &str) -> String {
        let mut s = lock(&self.state);
        let token = format!("ott-{}-{}", s.new_id(), login.len());
        s.one_time.insert(
            token.clone(),
            OneTimeToken {
                login: login.into(),
                used: false,
                expired: false,
            },
        );
        token
    }

    /// Issues a trading-platform (PFIX) token of `login`, already expired if asked.
    pub fn issue_pfix_token(&self, login: &str, expired: bool) -> String {
        let mut s = lock(&self.state);
        let token = format!("pfix-{}-{}", s.new_id(), login.len());
        s.pfix.insert(
            token.clone(),
            OneTimeToken {
                login: login.into(),
                used: false,
                expired,
            },
        );
        token
    }

    /// The balance of a trading account in its currency.
    pub fn balance(&self, account_id: i64) -> Option<Decimal> {
        let s = lock(&self.state);
        s.accounts.get(&account_id).map(|a| s.account_balance(a))
    }

    /// The status of a trading account (0 active, [`ACCOUNT_STATUS_CLOSED`] closed).
    pub fn account_status(&self, account_id: i64) -> Option<i64> {
        lock(&self.state)
            .accounts
            .get(&account_id)
            .map(|a| a.status)
    }

    /// The ids of the open positions, in id order.
    pub fn position_ids(&self) -> Vec<String> {
        lock(&self.state).positions.keys().cloned().collect()
    }

    /// The passwords on the blacklist, in the order they were added.
    pub fn password_blacklist(&self) -> Vec<String> {
        lock(&self.state).password_blacklist.clone()
    }

    /// The current password of a user (to check password changes).
    pub fn password_of(&self, login: &str) -> Option<String> {
        lock(&self.state)
            .user_by_login(login)
            .map(|u| u.user.password.clone())
    }
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
    let mut s = Sandbox {
        config: config.clone(),
        users: BTreeMap::new(),
        accounts: BTreeMap::new(),
        balances: BTreeMap::new(),
        operations: Vec::new(),
        presets: vec![(7, "USD retail".into(), Some(USD))],
        positions: BTreeMap::new(),
        orders: Vec::new(),
        password_blacklist: vec!["password".into()],
        assets: BTreeMap::from([(USD, "USD"), (2, "EUR"), (4803, "CAD")]),
        access: HashMap::new(),
        refresh: HashMap::new(),
        one_time: HashMap::new(),
        pfix: HashMap::new(),
        windows: HashMap::new(),
        next_id: 5_000_000,
        token_serial: 0,
    };
    for (i, user) in config.users.iter().enumerate() {
        let id = 146_690 + i as i64;
        s.users.insert(
            id,
            UserRec {
                id,
                user: user.clone(),
            },
        );
    }
    for seed in &config.accounts {
        let user_id = s
            .user_by_login(&seed.owner_login)
            .map(|u| u.id)
            .unwrap_or_default();
        s.accounts.insert(
            seed.id,
            AccountRec {
                id: seed.id,
                name: seed.name.clone(),
                user_id,
                kind: 0,
                status: 0,
                mode: 1,
                currency_id: USD,
            },
        );
        if let Some(b) = s.main_balance(seed.id) {
            b.balance = seed.balance;
        }
    }
    for (i, seed) in config.accounts.iter().enumerate() {
        s.positions.insert(
            seed_position_id(i),
            PositionRec {
                account_id: seed.id,
            },
        );
        let base = (1u64 << 53) + 1_000 + 2 * i as u64;
        s.orders.push(OrderRec {
            id: base.to_string(),
            account_id: seed.id,
            instrument: "EUR/USD",
            side: "buy",
            kind: "limit",
            qty: Decimal::new(15, 1),
            price: Some(Decimal::new(10825, 4)),
            status: "working",
        });
        s.orders.push(OrderRec {
            id: (base + 1).to_string(),
            account_id: seed.id,
            instrument: "XAU/USD",
            side: "sell",
            kind: "market",
            qty: Decimal::ONE,
            price: None,
            status: "filled",
        });
    }
    let state = Arc::new(Mutex::new(s));
    let running = crate::serve(router(state.clone()), PREFIX, port).await?;
    Ok(Server { running, state })
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/auth/token", post(login))
        .route("/auth/token/refresh", get(refresh))
        .route("/external/token/verify", post(verify_one_time))
        .route("/auth/pfixtoken/verify", get(verify_pfix))
        .route(
            "/connectors/settings",
            get(get_settings).patch(patch_settings),
        )
        .route("/users", post(create_user).get(find_users))
        .route("/users/{id}", get(get_user).delete(delete_user))
        .route("/users/{id}/resetPassword", post(reset_password))
        .route("/users/{id}/changePassword", post(change_password))
        .route("/users/{id}/accounts", get(user_accounts))
        .route(
            "/passwordBlacklist",
            get(list_blacklist).post(add_to_blacklist),
        )
        .route("/closeAccount", post(close_account))
        .route("/positions/{id}", axum::routing::delete(delete_position))
        .route("/orders", get(list_orders))
        .route("/accounts", post(create_account).get(list_accounts))
        .route("/accounts/{id}", get(get_account).delete(delete_account))
        .route("/accountDetails", get(account_details))
        .route("/accountPresets", get(list_presets).post(create_preset))
        .route(
            "/accountOperations",
            post(create_operation).get(list_operations),
        )
        .route("/assets", get(list_assets))
        .route("/assetsBalances", get(list_balances))
        .route("/assetsBalances/{id}/deposit", post(deposit_balance))
        .route("/assetsBalances/{id}/withdrawal", post(withdraw_balance))
        .route("/reports", get(list_reports))
        .route("/reports/functions", get(report_functions))
        .route("/reports/{id}", get(run_report))
        .route("/methods/errors", get(describe_error))
        .with_state(state)
        .layer(axum::middleware::map_response(json_rejections))
}

/// axum answers unparsable paths, queries and bodies (e.g. an id beyond `i64`) in plain text;
/// the BackOffice answers every HTTP error with its JSON error body.
async fn json_rejections(response: Response) -> Response {
    match crate::rejections::plain_error(response).await {
        Ok(response) => response,
        Err(e) => error(e.status, None, &e.message),
    }
}

/// Runs `f` on the sandbox for an authenticated caller.
fn with_auth(
    state: &Shared,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Sandbox, String) -> Response,
) -> Response {
    let mut s = lock(state);
    match authed(&mut s, headers) {
        Ok(login) => f(&mut s, login),
        Err(r) => r,
    }
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

async fn login(State(state): State<Shared>, body: Bytes) -> Response {
    let m = tri!(object(&body));
    let (Some(login), Some(password)) = (
        m.get("login").and_then(Value::as_str),
        m.get("password").and_then(Value::as_str),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            None,
            "login and password are required",
        );
    };
    let mut s = lock(&state);
    let Some(user) = s
        .user_by_login(login)
        .filter(|u| u.user.password == password)
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            Some(CODE_BAD_CREDENTIALS),
            "wrong login or password",
        );
    };
    if !user.user.api_access {
        return error(
            StatusCode::UNAUTHORIZED,
            Some(CODE_NO_API_ACCESS),
            "the user has no REST API access",
        );
    }
    let login = user.user.login.clone();
    Json(s.issue_tokens(&login)).into_response()
}

async fn refresh(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get("token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            None,
            "the `token` header is required",
        );
    };
    let mut s = lock(&state);
    // A refresh token works once.
    match s.refresh.remove(&token) {
        Some(t) if t.expires > SystemTime::now() => Json(s.issue_tokens(&t.login)).into_response(),
        Some(_) => error(StatusCode::UNAUTHORIZED, None, "refresh token expired"),
        None => error(StatusCode::UNAUTHORIZED, None, "refresh token invalid"),
    }
}

fn verification(t: Option<&OneTimeToken>) -> Value {
    match t {
        Some(t) if !t.expired && !t.used => json!({"login": t.login, "isExpired": false}),
        Some(t) => json!({"login": t.login, "isExpired": true}),
        None => json!({"login": null, "isExpired": true}),
    }
}

async fn verify_one_time(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let token = tri!(str_field(&m, "token"));
        let answer = verification(s.one_time.get(token));
        if let Some(t) = s.one_time.get_mut(token) {
            t.used = true;
        }
        Json(answer).into_response()
    })
}

async fn verify_pfix(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(token) = headers.get("token").and_then(|v| v.to_str().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            None,
            "the `token` header is required",
        );
    };
    Json(verification(lock(&state).pfix.get(token))).into_response()
}

fn settings_json(s: &Sandbox) -> Value {
    json!({
        "accessTokenLifeTime": s.config.access_lifetime.as_secs().max(1),
        "refreshTokenLifeTime": s.config.refresh_lifetime.as_secs().max(1),
    })
}

async fn get_settings(State(state): State<Shared>, headers: HeaderMap) -> Response {
    with_auth(&state, &headers, |s, _| {
        Json(settings_json(s)).into_response()
    })
}

async fn patch_settings(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let secs = |key: &str| -> Result<Option<Duration>, Response> {
            match m.get(key) {
                None => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(n) if n > 0 => Ok(Some(Duration::from_secs(n))),
                    _ => Err(not_acceptable(&format!(
                        "`{key}` must be a positive number of seconds"
                    ))),
                },
            }
        };
        let access = tri!(secs("accessTokenLifeTime"));
        let refresh = tri!(secs("refreshTokenLifeTime"));
        if let Some(a) = access {
            s.config.access_lifetime = a;
        }
        if let Some(r) = refresh {
            s.config.refresh_lifetime = r;
        }
        Json(settings_json(s)).into_response()
    })
}

async fn create_user(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let login = tri!(str_field(&m, "login")).to_string();
        let password = tri!(str_field(&m, "password")).to_string();
        let email = tri!(str_field(&m, "email")).to_string();
        let first_name = tri!(str_field(&m, "firstName")).to_string();
        let last_name = tri!(str_field(&m, "lastName")).to_string();
        let user_group = tri!(int_field(&m, "userGroup"));
        tri!(allowed_password(s, &password));
        if s.user_by_login(&login).is_some() {
            return not_acceptable(&format!("login `{login}` is taken"));
        }
        let id = s.new_id();
        let user = User {
            login,
            password,
            email,
            first_name,
            last_name,
            user_group,
            api_access: true,
        };
        s.users.insert(id, UserRec { id, user });
        let mut first_account = None;
        for a in m
            .get("accounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = a
                .get("accountName")
                .and_then(Value::as_str)
                .unwrap_or("main")
                .to_string();
            let account = s.create_account(name, id, USD);
            first_account.get_or_insert(account);
        }
        Json(json!({"id": id, "accountId": first_account})).into_response()
    })
}

async fn find_users(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        // Public client code sends `login='abc'` (a filter literal, `'` doubled inside); a
        // bare value is accepted too.
        let wanted =
            q.get("login").map(
                |l| match l.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')) {
                    Some(inner) => inner.replace("''", "'"),
                    None => l.clone(),
                },
            );
        let users: Vec<Value> = s
            .users
            .values()
            .filter(|u| wanted.as_ref().is_none_or(|w| &u.user.login == w))
            .map(user_json)
            .collect();
        Json(users).into_response()
    })
}

async fn get_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    with_auth(&state, &headers, |s, _| match s.users.get(&id) {
        Some(u) => Json(user_json(u)).into_response(),
        None => not_found("user"),
    })
}

async fn delete_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        if s.users.remove(&id).is_none() {
            return not_found("user");
        }
        let gone: Vec<i64> = s
            .accounts
            .values()
            .filter(|a| a.user_id == id)
            .map(|a| a.id)
            .collect();
        for a in gone {
            s.accounts.remove(&a);
            s.balances.retain(|_, b| b.account_id != a);
            s.positions.retain(|_, p| p.account_id != a);
            s.orders.retain(|o| o.account_id != a);
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn reset_password(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let serial = s.new_id();
        match s.users.get_mut(&id) {
            Some(u) => {
                u.user.password = format!("reset-{serial}");
                StatusCode::OK.into_response()
            }
            None => not_found("user"),
        }
    })
}

async fn change_password(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let new = tri!(str_field(&m, "newPassword")).to_string();
        if new.len() < 6 {
            return not_acceptable("the password is too short");
        }
        tri!(allowed_password(s, &new));
        match s.users.get_mut(&id) {
            Some(u) => {
                u.user.password = new;
                StatusCode::NO_CONTENT.into_response()
            }
            None => not_found("user"),
        }
    })
}

/// 406 when `password` is on the blacklist.
fn allowed_password(s: &Sandbox, password: &str) -> Result<(), Response> {
    if s.password_blacklist.iter().any(|p| p == password) {
        Err(not_acceptable("the password is blacklisted"))
    } else {
        Ok(())
    }
}

async fn list_blacklist(State(state): State<Shared>, headers: HeaderMap) -> Response {
    with_auth(&state, &headers, |s, _| {
        let list: Vec<Value> = s
            .password_blacklist
            .iter()
            .map(|p| json!({ "password": p }))
            .collect();
        Json(list).into_response()
    })
}

async fn add_to_blacklist(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let password = tri!(str_field(&m, "password")).to_string();
        if !s.password_blacklist.contains(&password) {
            s.password_blacklist.push(password);
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn user_accounts(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        if !s.users.contains_key(&id) {
            return not_found("user");
        }
        let list: Vec<Value> = s
            .accounts
            .values()
            .filter(|a| a.user_id == id)
            .map(|a| s.account_json(a))
            .collect();
        Json(list).into_response()
    })
}

async fn create_account(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let name = tri!(str_field(&m, "accountName")).to_string();
        let user_id = tri!(int_field(&m, "userId"));
        if !s.users.contains_key(&user_id) {
            return not_acceptable("unknown user");
        }
        let currency = m.get("currencyId").and_then(Value::as_i64).unwrap_or(USD);
        if !s.assets.contains_key(&currency) {
            return not_acceptable("unknown currency");
        }
        let id = s.create_account(name, user_id, currency);
        if let Some(a) = s.accounts.get_mut(&id) {
            for (key, field) in [
                ("type", &mut a.kind),
                ("status", &mut a.status),
                ("mode", &mut a.mode),
            ] {
                if let Some(v) = m.get(key).and_then(Value::as_i64) {
                    *field = v;
                }
            }
        }
        Json(json!({"id": id})).into_response()
    })
}

async fn list_accounts(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let limit = tri!(query_i64(&q, "limit")).unwrap_or(i64::MAX).max(0) as usize;
        let offset = tri!(query_i64(&q, "offset")).unwrap_or(0).max(0) as usize;
        let list: Vec<Value> = s
            .accounts
            .values()
            .skip(offset)
            .take(limit)
            .map(|a| s.account_json(a))
            .collect();
        Json(list).into_response()
    })
}

async fn get_account(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    with_auth(&state, &headers, |s, _| match s.accounts.get(&id) {
        Some(a) => Json(s.account_json(a)).into_response(),
        None => not_found("account"),
    })
}

async fn delete_account(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        if s.accounts.remove(&id).is_none() {
            return not_found("account");
        }
        s.balances.retain(|_, b| b.account_id != id);
        s.positions.retain(|_, p| p.account_id != id);
        s.orders.retain(|o| o.account_id != id);
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn close_account(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let id = tri!(int_field(&m, "accountId"));
        match s.accounts.get_mut(&id) {
            None => not_found("account"),
            Some(a) if a.status == ACCOUNT_STATUS_CLOSED => {
                not_acceptable("the account is already closed")
            }
            Some(a) => {
                a.status = ACCOUNT_STATUS_CLOSED;
                StatusCode::NO_CONTENT.into_response()
            }
        }
    })
}

async fn delete_position(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    with_auth(&state, &headers, |s, _| match s.positions.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found("position"),
    })
}

async fn list_orders(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let account = tri!(query_i64(&q, "accountId"));
        let limit = tri!(query_i64(&q, "limit")).unwrap_or(i64::MAX).max(0) as usize;
        let offset = tri!(query_i64(&q, "offset")).unwrap_or(0).max(0) as usize;
        let list: Vec<Value> = s
            .orders
            .iter()
            .filter(|o| account.is_none_or(|a| o.account_id == a))
            .skip(offset)
            .take(limit)
            .map(order_json)
            .collect();
        Json(list).into_response()
    })
}

async fn account_details(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let wanted = tri!(query_i64(&q, "accountId"));
        let list: Vec<Value> = s
            .accounts
            .values()
            .filter(|a| wanted.is_none_or(|w| a.id == w))
            .map(|a| json!({"accountId": a.id, "balance": num(s.account_balance(a)), "currencyId": a.currency_id}))
            .collect();
        Json(list).into_response()
    })
}

async fn list_presets(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let currency = tri!(query_i64(&q, "presetCurrency"));
        let name = q.get("presetName");
        let list: Vec<Value> = s
            .presets
            .iter()
            .filter(|(_, n, c)| {
                currency.is_none_or(|w| *c == Some(w)) && name.is_none_or(|w| n == w)
            })
            .map(|(id, n, _)| json!({"presetId": id, "presetName": n}))
            .collect();
        Json(list).into_response()
    })
}

async fn create_preset(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let name = tri!(str_field(&m, "presetName")).to_string();
        let currency = m.get("presetCurrency").and_then(Value::as_i64);
        let id = s.new_id();
        s.presets.push((id, name, currency));
        Json(json!({"id": id})).into_response()
    })
}

/// Moves `amount` (signed) on an asset balance, refusing to go below zero.
fn apply(balance: &mut AssetBalanceRec, amount: Decimal) -> Result<(), Response> {
    let after = balance.balance + amount;
    if after < Decimal::ZERO {
        return Err(not_acceptable(&format!(
            "insufficient funds: balance {} is less than {}",
            balance.balance, -amount
        )));
    }
    balance.balance = after;
    Ok(())
}

async fn create_operation(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let m = tri!(object(&body));
        let account_id = tri!(int_field(&m, "accountId"));
        let type_id = tri!(int_field(&m, "operationTypeId"));
        let Some(amount) = m.get("amount").and_then(decimal) else {
            return not_acceptable("`amount` must be a number");
        };
        let comment = m
            .get("frontendComment")
            .and_then(Value::as_str)
            .map(str::to_string);
        if comment.as_ref().is_some_and(|c| c.chars().count() > 128) {
            return not_acceptable("`frontendComment` is longer than 128 characters");
        }
        let Some(currency_id) = s.accounts.get(&account_id).map(|a| a.currency_id) else {
            return not_acceptable("unknown account");
        };
        if s.accounts.get(&account_id).map(|a| a.status) == Some(ACCOUNT_STATUS_CLOSED) {
            return not_acceptable("the account is closed");
        }
        let Some(balance) = s.main_balance(account_id) else {
            return not_acceptable("unknown account");
        };
        tri!(apply(balance, amount));
        let id = s.new_id();
        s.operations.push(OperationRec {
            id,
            account_id,
            amount,
            type_id,
            comment,
            currency_id,
            date_ms: now_ms(),
        });
        Json(json!({"id": id})).into_response()
    })
}

async fn list_operations(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let settled = match q.get("isSettled").map(String::as_str) {
            Some("true") => true,
            Some("false") => false,
            _ => return not_acceptable("`isSettled` must be \"true\" or \"false\""),
        };
        let account = tri!(query_i64(&q, "accountId"));
        let kind = tri!(query_i64(&q, "operationTypeId"));
        let currency = tri!(query_i64(&q, "currencyId"));
        let name_account = q
            .get("accountName")
            .map(|n| s.accounts.values().find(|a| &a.name == n).map(|a| a.id));
        let mut list: Vec<&OperationRec> = s
            .operations
            .iter()
            .filter(|_| settled)
            .filter(|o| account.is_none_or(|a| o.account_id == a))
            .filter(|o| name_account.is_none_or(|a| Some(o.account_id) == a))
            .filter(|o| kind.is_none_or(|k| o.type_id == k))
            .filter(|o| currency.is_none_or(|c| o.currency_id == c))
            .collect();
        if q.get("sort")
            .is_some_and(|v| v.to_ascii_lowercase().contains("desc"))
        {
            list.reverse();
        }
        Json(list.into_iter().map(operation_json).collect::<Vec<_>>()).into_response()
    })
}

async fn list_assets(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let limit = tri!(query_i64(&q, "limit")).unwrap_or(i64::MAX).max(0) as usize;
        let list: Vec<Value> = s
            .assets
            .iter()
            .take(limit)
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        Json(list).into_response()
    })
}

async fn list_balances(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let account = tri!(query_i64(&q, "accountId"));
        let list: Vec<Value> = s
            .balances
            .values()
            .filter(|b| account.is_none_or(|a| b.account_id == a))
            .map(balance_json)
            .collect();
        Json(list).into_response()
    })
}

fn move_balance(
    state: &Shared,
    headers: &HeaderMap,
    id: i64,
    body: &Bytes,
    sign: Decimal,
) -> Response {
    with_auth(state, headers, |s, _| {
        let m = tri!(object(body));
        let amount = match m.get("amount").and_then(decimal) {
            Some(a) if a > Decimal::ZERO => a,
            _ => return not_acceptable("`amount` must be a positive number"),
        };
        let Some(balance) = s.balances.get_mut(&id) else {
            return not_found("asset balance");
        };
        tri!(apply(balance, amount * sign));
        Json(balance_json(balance)).into_response()
    })
}

async fn deposit_balance(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    move_balance(&state, &headers, id, &body, Decimal::ONE)
}

async fn withdraw_balance(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    move_balance(&state, &headers, id, &body, Decimal::NEGATIVE_ONE)
}

async fn list_reports(State(state): State<Shared>, headers: HeaderMap) -> Response {
    with_auth(&state, &headers, |_, _| {
        Json(json!([
            {"id": REPORT_ACCOUNT_STATEMENT, "name": "Account Statement Report"},
            {"id": REPORT_ACCOUNT_OPERATIONS, "name": "Account Operations Report"},
            {"id": REPORT_USERS, "name": "Users Report"},
        ]))
        .into_response()
    })
}

async fn report_functions(State(state): State<Shared>, headers: HeaderMap) -> Response {
    with_auth(&state, &headers, |_, _| {
        Json(json!([
            {"name": "INTEGER", "description": "A whole number."},
            {"name": "DECIMAL", "description": "An exact decimal number."},
            {"name": "TIMESTAMP", "description": "Milliseconds since the Unix epoch."},
            {"name": "POSITION(...)", "description": "A position attribute."},
        ]))
        .into_response()
    })
}

async fn run_report(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |s, _| {
        let account = tri!(query_i64(&q, "accountId"));
        let start = tri!(query_i64(&q, "startDate")).unwrap_or(i64::MIN);
        let end = tri!(query_i64(&q, "endDate")).unwrap_or(i64::MAX);
        let limit = tri!(query_i64(&q, "limit")).unwrap_or(i64::MAX).max(0) as usize;
        let asset = q.get("assetName");
        match id {
            // Needs an account; ignores the date range. Rows are arrays of cells.
            REPORT_ACCOUNT_STATEMENT => {
                let Some(account) = account else {
                    return error(
                        StatusCode::NOT_ACCEPTABLE,
                        Some(CODE_REPORT_FILTER_MISSING),
                        "report filter accountId is empty",
                    );
                };
                let Some(a) = s.accounts.get(&account) else {
                    return not_found("account");
                };
                let rows: Vec<Value> = s
                    .balances
                    .values()
                    .filter(|b| b.account_id == account && asset.is_none_or(|n| &b.asset == n))
                    .take(limit)
                    .map(|b| json!([a.id, a.name, b.asset, num(b.balance)]))
                    .collect();
                Json(
                    json!({"headers": ["Account Id", "Account", "Asset", "Balance"], "data": rows}),
                )
                .into_response()
            }
            // Date range and optional account. Rows are objects keyed by column name.
            REPORT_ACCOUNT_OPERATIONS => {
                let rows: Vec<Value> = s
                    .operations
                    .iter()
                    .filter(|o| {
                        account.is_none_or(|a| o.account_id == a)
                            && o.date_ms >= start
                            && o.date_ms <= end
                    })
                    .take(limit)
                    .map(|o| {
                        json!({
                            "Operation Id": o.id, "Account Id": o.account_id, "Type": o.type_id,
                            "Amount": num(o.amount), "Comment": o.comment, "Date": o.date_ms,
                        })
                    })
                    .collect();
                let headers = [
                    "Operation Id",
                    "Account Id",
                    "Type",
                    "Amount",
                    "Comment",
                    "Date",
                ];
                Json(json!({"headers": headers, "data": rows})).into_response()
            }
            REPORT_USERS => {
                let rows: Vec<Value> = s
                    .users
                    .values()
                    .take(limit)
                    .map(|u| json!([u.id, u.user.login, u.user.email]))
                    .collect();
                Json(json!({"headers": ["Id", "Login", "Email"], "data": rows})).into_response()
            }
            _ => not_found("report"),
        }
    })
}

async fn describe_error(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    with_auth(&state, &headers, |_, _| {
        let Some(code) = q.get("errorId") else {
            return not_acceptable("`errorId` is required");
        };
        let description = match code.as_str() {
            CODE_BAD_CREDENTIALS => "AUTH / TOKEN / CREDENTIALS / INVALID",
            CODE_NO_API_ACCESS => "ACCESS / REST_API / USER / DENIED",
            CODE_REPORT_FILTER_MISSING => "PARAM / REPORT_REQUEST / FILTER_TYPE / EMPTY",
            CODE_RATE_LIMITED => "LIMIT / REQUESTS / TOKEN / EXCEEDED",
            _ => return not_found("error code"),
        };
        Json(json!({"errorId": code, "description": description})).into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn operations_move_balances_and_a_debit_beyond_the_balance_is_refused() {
        let server = start(Config::default()).await.unwrap();
        let http = brokerkit_runtime::tls::client_builder().build().unwrap();
        let base = server.base_url();
        let tokens: Value = http
            .post(format!("{base}/auth/token"))
            .json(&json!({"login": "admin", "password": "admin-pass"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", tokens["accessToken"].as_str().unwrap());
        let op = |amount: &str| {
            http.post(format!("{base}/accountOperations"))
                .header("authorization", &bearer)
                .body(format!(
                    r#"{{"accountId": 3243753, "amount": {amount}, "operationTypeId": 2}}"#
                ))
                .send()
        };
        assert_eq!(op("100.25").await.unwrap().status(), 200);
        assert_eq!(op("-0.25").await.unwrap().status(), 200);
        assert_eq!(server.balance(3_243_753), Some(Decimal::new(100, 0)));
        let refused = op("-100.01").await.unwrap();
        assert_eq!(refused.status(), 406);
        assert_eq!(server.balance(3_243_753), Some(Decimal::new(100, 0)));
    }
}
