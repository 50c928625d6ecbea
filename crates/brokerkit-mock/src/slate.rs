//! Slate Labs sandbox: a small stateful broker back office that speaks `specs/slate.yaml`.
//!
//! State: customers with their trading accounts and balances, staff users, sessions (JWTs),
//! scoped API tokens, instruments and group overrides, orders and positions, and transactions
//! that move balances (a manual approved deposit credits, an approved withdrawal debits, a
//! transfer moves money between two accounts with a fixed conversion rate).
//!
//! Behaviour taken from the vendor's documentation:
//! - customer login returns a JWT (`header.payload.signature`, base64url) whose payload carries
//!   `type: "customer"`, `sub` (customer id), `login` (primary trading-account login), `sid`,
//!   `iat` and `exp`; the signature is a keyed hash, not a real HMAC: nobody should verify it;
//! - a staff login returns `type: "user"` tokens; staff with TOTP get 202 `TOTP_REQUIRED`
//!   without a code;
//! - customer endpoints (`/customers/me*`) take customer tokens only, CRM endpoints take user
//!   tokens or API tokens only: a mismatch is 403 `token_type_mismatch`;
//! - 422 bodies are FastAPI's `{"detail": [{"loc", "msg", "type", "input"}]}`; every other error
//!   is `{"detail", "error"}`; request fields are read with the types the spec declares (a wrong
//!   type is a 422, like FastAPI's models), so nothing a caller sends comes back off-schema;
//!   `int` and `UUID` path parameters are parsed like FastAPI does; unroutable requests get
//!   FastAPI's JSON `{"detail": "Not Found"}`;
//! - the guessed trading routes (`/orders`, `/positions`, `/positions/{id}/close`) and the
//!   guide's token-pair customer login (`/api/customer/login`) are served too: market orders
//!   fill at once at the ask or bid and open a position (with a free-margin check), limit and
//!   stop orders stay pending, closes book the realized profit on the account;
//! - every authenticated answer carries `X-RateLimit-Limit/Remaining/Reset`; past the limit the
//!   answer is 429 with the same headers and `Retry-After`.
//!
//! Test controls on [`Server`]: expire or revoke every token, read balances, count logins.

use crate::Running;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A customer the sandbox starts with.
#[derive(Clone, Debug)]
pub struct SeedCustomer {
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    /// The first account is the primary one (its login goes into the JWT).
    pub accounts: Vec<SeedAccount>,
}

/// A trading account the sandbox starts with.
#[derive(Clone, Debug)]
pub struct SeedAccount {
    pub login: String,
    pub currency: String,
    pub balance: Decimal,
}

/// A staff user.
#[derive(Clone, Debug)]
pub struct SeedStaff {
    pub email: String,
    pub password: String,
    /// When set, login without this code answers 202 `TOTP_REQUIRED`.
    pub totp_code: Option<String>,
}

/// How the sandbox starts.
#[derive(Clone, Debug)]
pub struct Config {
    pub customers: Vec<SeedCustomer>,
    pub staff: Vec<SeedStaff>,
    /// Access-token lifetime (the vendor's default is 15 minutes).
    pub token_lifetime: Duration,
    /// Requests per minute per token on authenticated endpoints (the vendor's is 300).
    pub rate_limit_per_minute: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            customers: vec![SeedCustomer {
                email: "trader@example.com".into(),
                password: "correct horse".into(),
                first_name: "Tess".into(),
                last_name: "Trader".into(),
                country: "GB".into(),
                accounts: vec![
                    SeedAccount {
                        login: "100001".into(),
                        currency: "USD".into(),
                        balance: Decimal::new(100_000, 2),
                    },
                    SeedAccount {
                        login: "100002".into(),
                        currency: "EUR".into(),
                        balance: Decimal::new(50_000, 2),
                    },
                ],
            }],
            staff: vec![
                SeedStaff {
                    email: "admin@example.com".into(),
                    password: "admin password".into(),
                    totp_code: None,
                },
                SeedStaff {
                    email: "secure@example.com".into(),
                    password: "admin password".into(),
                    totp_code: Some("123456".into()),
                },
            ],
            token_lifetime: Duration::from_secs(900),
            rate_limit_per_minute: 300,
        }
    }
}

#[derive(Clone, Debug)]
struct Customer {
    id: String,
    email: String,
    password: String,
    phone: Option<String>,
    country: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    owner_id: Option<String>,
    sales_status_id: Option<i64>,
    source: String,
    reg_time: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    is_active: bool,
}

#[derive(Clone, Debug)]
struct Account {
    id: String,
    login: String,
    customer_id: String,
    currency: String,
    balance: Decimal,
    is_active: bool,
    created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct Tx {
    id: String,
    source: String,
    customer_id: String,
    account_id: String,
    account_login: String,
    kind: String,
    status: String,
    amount: Decimal,
    currency: String,
    comment: Option<String>,
    payment_data: Value,
    create_time: DateTime<Utc>,
    approve_time: Option<DateTime<Utc>>,
    decline_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
struct OrderRec {
    id: String,
    login: String,
    symbol: String,
    side: String,
    order_type: String,
    volume: Decimal,
    price: Option<Decimal>,
    status: String,
    created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct PositionRec {
    id: String,
    login: String,
    symbol: String,
    side: String,
    volume: Decimal,
    open_price: Decimal,
    opened_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
enum Principal {
    Customer(String),
    Staff(String),
}

#[derive(Clone, Debug)]
struct SessionRec {
    principal: Principal,
    expires_at: i64,
    revoked: bool,
    sid: String,
}

#[derive(Clone, Debug)]
struct ApiTokenRec {
    id: i64,
    name: String,
    secret: String,
    scopes: Vec<String>,
    ip_allowlist: Option<Vec<String>>,
    rate_limit: Option<i64>,
    expires_at: Option<DateTime<Utc>>,
    status: String,
    created_by: String,
    created_at: DateTime<Utc>,
}

struct Sandbox {
    config: Config,
    customers: Vec<Customer>,
    accounts: Vec<Account>,
    transactions: Vec<Tx>,
    sessions: HashMap<String, SessionRec>,
    autologin: HashMap<String, String>,
    refresh_tokens: HashMap<String, Principal>,
    api_tokens: Vec<ApiTokenRec>,
    instruments: Vec<Map<String, Value>>,
    group_rows: HashMap<(String, String), Map<String, Value>>,
    orders: Vec<OrderRec>,
    positions: Vec<PositionRec>,
    rate: HashMap<String, (i64, u32)>,
    next_id: u64,
    /// Order and position ids: past 2^53, as the spec warns they may be.
    next_trade_id: u64,
    logins: usize,
}

type Shared = Arc<Mutex<Sandbox>>;

/// Group every seeded account belongs to.
pub const GROUP_ID: &str = "5b2e8f3a-1c4d-4e6f-8a9b-0c1d2e3f4a5b";
const GROUP_NAME: &str = "retail-usd";
const SIGNING_KEY: &str = "sandbox-signing-key";

impl Sandbox {
    fn new(config: Config) -> Self {
        let mut s = Sandbox {
            config: config.clone(),
            customers: vec![],
            accounts: vec![],
            transactions: vec![],
            sessions: HashMap::new(),
            autologin: HashMap::new(),
            refresh_tokens: HashMap::new(),
            api_tokens: vec![],
            instruments: vec![],
            group_rows: HashMap::new(),
            orders: vec![],
            positions: vec![],
            rate: HashMap::new(),
            next_id: 1,
            next_trade_id: 9_007_199_254_740_993,
            logins: 0,
        };
        for seed in &config.customers {
            let id = s.uuid();
            s.customers.push(Customer {
                id: id.clone(),
                email: seed.email.clone(),
                password: seed.password.clone(),
                phone: Some("+447700900123".into()),
                country: Some(seed.country.clone()),
                first_name: Some(seed.first_name.clone()),
                last_name: Some(seed.last_name.clone()),
                owner_id: None,
                sales_status_id: Some(1),
                source: "organic".into(),
                reg_time: Utc::now(),
                last_login_at: None,
                is_active: true,
            });
            for a in &seed.accounts {
                let account_id = s.uuid();
                s.accounts.push(Account {
                    id: account_id,
                    login: a.login.clone(),
                    customer_id: id.clone(),
                    currency: a.currency.clone(),
                    balance: a.balance,
                    is_active: true,
                    created_at: Utc::now(),
                });
            }
        }
        for (symbol, digits, bid, ask, category) in [
            ("EURUSD", 5, "1.08512", "1.08519", "forex"),
            ("BTCUSD", 2, "77261.70", "77275.10", "crypto"),
        ] {
            let id = s.uuid();
            let m = json!({
                "id": id, "symbol": symbol, "display_name": symbol, "category": category,
                "base_currency": &symbol[..3], "quote_currency": &symbol[3..], "unit_currency": "USD",
                "digits": digits, "pip_size": if digits == 5 { num("0.0001") } else { num("0.01") },
                "contract_size": if digits == 5 { 100000 } else { 1 }, "min_lot": num("0.01"), "max_lot": num("100"),
                "lot_step": num("0.01"), "margin_rate": num("0.01"), "spread": num("0"), "swap_type": "pips",
                "swap_long": num("-2.1"), "swap_short": num("0.4"), "stale_threshold_ms": 10000, "is_active": true,
                "is_enabled": true, "asset_class": category, "provider": "sandbox", "provider_symbol": symbol,
                "last_bid": num(bid), "last_ask": num(ask), "last_tick_at": Utc::now().to_rfc3339(),
            });
            s.instruments
                .push(m.as_object().cloned().unwrap_or_default());
        }
        s
    }

    fn uuid(&mut self) -> String {
        let n = self.next_id;
        self.next_id += 1;
        format!("5a7e0000-0000-4000-8000-{n:012x}")
    }

    fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    fn accounts_of(&self, customer_id: &str) -> Vec<&Account> {
        self.accounts
            .iter()
            .filter(|a| a.customer_id == customer_id)
            .collect()
    }

    fn issue_jwt(&mut self, principal: Principal) -> (String, SessionRec) {
        let now = Utc::now().timestamp();
        let exp = now + self.config.token_lifetime.as_secs() as i64;
        let sid = self.uuid();
        let mut claims = json!({"iat": now, "exp": exp, "sid": sid, "jti": self.uuid()});
        match &principal {
            Principal::Customer(id) => {
                claims["type"] = json!("customer");
                claims["sub"] = json!(id);
                if let Some(primary) = self.accounts_of(id).first() {
                    claims["login"] = json!(primary.login);
                }
            }
            Principal::Staff(email) => {
                claims["type"] = json!("user");
                claims["sub"] = json!(email);
            }
        }
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap_or_default());
        let signing_input = format!(
            "{}.{}",
            enc(&json!({"alg": "HS256", "typ": "JWT"})),
            enc(&claims)
        );
        let mut sig = Vec::with_capacity(32);
        for round in 0u8..4 {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (SIGNING_KEY, &signing_input, round).hash(&mut h);
            sig.extend_from_slice(&h.finish().to_be_bytes());
        }
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
        let rec = SessionRec {
            principal,
            expires_at: exp,
            revoked: false,
            sid,
        };
        self.sessions.insert(token.clone(), rec.clone());
        (token, rec)
    }

    fn customer_json(&self, c: &Customer) -> Value {
        let accounts: Vec<Value> = self
            .accounts_of(&c.id)
            .iter()
            .enumerate()
            .map(|(i, a)| account_json(a, i == 0))
            .collect();
        let deposits: Vec<&Tx> = self
            .transactions
            .iter()
            .filter(|t| t.customer_id == c.id && t.kind == "DEPOSIT" && t.status == "APPROVED")
            .collect();
        let full_name = match (&c.first_name, &c.last_name) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(f), None) => f.clone(),
            (None, Some(l)) => l.clone(),
            (None, None) => String::new(),
        };
        json!({
            "id": c.id, "email": c.email, "phone": c.phone,
            "phone_normalized": c.phone.as_ref().map(|p| p.trim_start_matches('+').to_string()),
            "country": c.country, "owner_id": c.owner_id, "sales_status_id": c.sales_status_id, "kyc_status_id": 1,
            "affiliate_id": null, "campaign_id": null, "funnel": null, "affiliate_lead_id": null,
            "manager_counter": i64::from(c.owner_id.is_some()), "reg_time": c.reg_time.to_rfc3339(),
            "last_login_at": c.last_login_at.map(|t| t.to_rfc3339()), "last_activity_at": c.last_login_at.map(|t| t.to_rfc3339()),
            "last_trade_at": null, "ftd_at": deposits.first().map(|t| t.create_time.to_rfc3339()),
            "is_deposited": !deposits.is_empty(), "is_active": c.is_active,
            "first_name": c.first_name, "last_name": c.last_name, "full_name": full_name,
            "ftd_sales_agent_id": null,
            "owner": c.owner_id.as_ref().map(|id| json!({"id": id, "first_name": "Ada", "last_name": "Agent",
                "full_name": "Ada Agent", "role_id": 4, "role_name": "Sales"})),
            "last_deposit_at": deposits.last().map(|t| t.create_time.to_rfc3339()),
            "retention_status": "new", "risk_classification": "normal", "compliance_status": "approved",
            "phone_country": c.country, "kyc_country": c.country, "kyc_provider": "sandbox",
            "kyc_completed_at": c.reg_time.to_rfc3339(), "reg_ip": "127.0.0.1", "registration_source": c.source,
            "force_password_change": false, "trading_accounts": accounts,
        })
    }

    /// Balance minus pending withdrawals.
    fn withdrawable(&self, account: &Account) -> Decimal {
        let pending: Decimal = self
            .transactions
            .iter()
            .filter(|t| {
                t.account_id == account.id && t.kind == "WITHDRAWAL" && t.status == "PENDING"
            })
            .map(|t| t.amount)
            .sum();
        account.balance - pending
    }
}

fn num(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

fn dec_num(d: Decimal) -> Value {
    num(&d.normalize().to_string())
}

fn account_json(a: &Account, primary: bool) -> Value {
    json!({
        "id": a.id, "login": a.login, "customer_id": a.customer_id, "group_id": GROUP_ID, "group_name": GROUP_NAME,
        "currency": a.currency, "account_type": "live", "is_active": a.is_active, "is_primary": primary,
        "balance": dec_num(a.balance), "equity": dec_num(a.balance), "leverage": 100, "created_at": a.created_at.to_rfc3339(),
    })
}

fn tx_json(t: &Tx) -> Value {
    json!({
        "id": t.id, "source": t.source, "cashier_id": null, "order_id": null, "customer_id": t.customer_id,
        "account_id": t.account_id, "account_login": t.account_login, "type": t.kind, "status": t.status,
        "amount": t.amount.to_string(), "currency": t.currency, "account_amount": t.amount.to_string(),
        "account_currency": t.currency, "usd_amount": null, "exchange_rate_usd": null, "payment_data": t.payment_data,
        "comment": t.comment, "customer_view": true, "create_time": t.create_time.to_rfc3339(),
        "update_time": t.approve_time.or(t.decline_time).unwrap_or(t.create_time).to_rfc3339(),
        "approve_time": t.approve_time.map(|x| x.to_rfc3339()), "decline_time": t.decline_time.map(|x| x.to_rfc3339()),
    })
}

fn api_token_json(t: &ApiTokenRec, with_secret: bool) -> Value {
    let mut v = json!({
        "id": t.id, "name": t.name, "token_prefix": "slt_live_", "token_last4": &t.secret[t.secret.len() - 4..],
        "scopes": t.scopes, "ip_allowlist": t.ip_allowlist, "rate_limit": t.rate_limit,
        "expires_at": t.expires_at.map(|x| x.to_rfc3339()), "status": t.status, "created_by": t.created_by,
        "created_at": t.created_at.to_rfc3339(), "last_used_at": null,
    });
    if with_secret {
        v["token"] = json!(t.secret);
    }
    v
}

// ---------------------------------------------------------------------------------- errors

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, detail: &str, code: &str) -> Response {
    json_response(status, json!({"detail": detail, "error": code}))
}

fn verr(loc: Vec<Value>, msg: &str, kind: &str, input: Option<&Value>) -> Value {
    let mut v = json!({"loc": loc, "msg": msg, "type": kind});
    if let Some(i) = input {
        v["input"] = i.clone();
    }
    v
}

fn unprocessable(errors: Vec<Value>) -> Response {
    json_response(StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": errors}))
}

/// Reads a JSON object body the way FastAPI does, with 422 on anything else.
fn body_object(bytes: &Bytes) -> Result<Map<String, Value>, Response> {
    match crate::exact::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(unprocessable(vec![verr(
            vec![json!("body")],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
            Some(&other),
        )])),
        Err(e) => Err(unprocessable(vec![verr(
            vec![json!("body"), json!(e.column())],
            "JSON decode error",
            "json_invalid",
            None,
        )])),
    }
}

/// An `int` path parameter the way FastAPI reads it: anything but an integer is a 422
/// `int_parsing`; Python integers are unbounded, so an integer beyond `i64` is valid and
/// simply matches nothing (`None`).
fn int_path(name: &str, raw: &str) -> Result<Option<i64>, Response> {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unprocessable(vec![verr(
            vec![json!("path"), json!(name)],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
            Some(&json!(raw)),
        )]));
    }
    Ok(raw.parse().ok())
}

/// axum answers unroutable requests and unparsable paths, queries and bodies in plain text (or
/// with no body); FastAPI answers every HTTP error as JSON `{"detail": ...}`.
async fn json_rejections(response: Response) -> Response {
    match crate::rejections::plain_error(response).await {
        Ok(response) => response,
        Err(e) => {
            let mut r = json_response(e.status, json!({ "detail": e.message }));
            // Keep what the handler set besides the body (e.g. rate-limit headers, `Allow`).
            r.headers_mut().extend(e.headers);
            r
        }
    }
}

/// Field checks that collect FastAPI-style errors.
struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl<'a> Fields<'a> {
    fn new(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            errors: vec![],
        }
    }

    fn loc(name: &str) -> Vec<Value> {
        vec![json!("body"), json!(name)]
    }

    fn missing(&mut self, name: &str) {
        self.errors.push(verr(
            Self::loc(name),
            "Field required",
            "missing",
            Some(&Value::Object(self.body.clone())),
        ));
    }

    fn string(&mut self, name: &str, required: bool, min: usize, max: usize) -> Option<String> {
        match self.body.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.missing(name);
                }
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n < min {
                    self.errors.push(verr(
                        Self::loc(name),
                        &format!("String should have at least {min} characters"),
                        "string_too_short",
                        Some(&json!(s)),
                    ));
                } else if n > max {
                    self.errors.push(verr(
                        Self::loc(name),
                        &format!("String should have at most {max} characters"),
                        "string_too_long",
                        Some(&json!(s)),
                    ));
                }
                Some(s.clone())
            }
            Some(other) => {
                self.errors.push(verr(
                    Self::loc(name),
                    "Input should be a valid string",
                    "string_type",
                    Some(other),
                ));
                None
            }
        }
    }

    fn decimal(
        &mut self,
        name: &str,
        required: bool,
        min: Option<Decimal>,
        max: Option<Decimal>,
    ) -> Option<Decimal> {
        let raw = match self.body.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.missing(name);
                }
                return None;
            }
            Some(v) => v.clone(),
        };
        let parsed = match &raw {
            Value::Number(n) => Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .ok(),
            Value::String(s) => Decimal::from_str(s.trim()).ok(),
            _ => None,
        };
        let Some(d) = parsed else {
            self.errors.push(verr(
                Self::loc(name),
                "Input should be a valid number",
                "decimal_parsing",
                Some(&raw),
            ));
            return None;
        };
        if let Some(m) = min.filter(|m| d < *m) {
            self.errors.push(verr(
                Self::loc(name),
                &format!("Input should be greater than or equal to {m}"),
                "greater_than_equal",
                Some(&raw),
            ));
        }
        if let Some(m) = max.filter(|m| d > *m) {
            self.errors.push(verr(
                Self::loc(name),
                &format!("Input should be less than or equal to {m}"),
                "less_than_equal",
                Some(&raw),
            ));
        }
        Some(d)
    }

    /// An optional integer with an optional lower bound.
    fn integer(&mut self, name: &str, min: Option<i64>) -> Option<i64> {
        match self.body.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(n) if min.is_some_and(|m| n < m) => {
                    self.errors.push(verr(
                        Self::loc(name),
                        &format!(
                            "Input should be greater than or equal to {}",
                            min.unwrap_or_default()
                        ),
                        "greater_than_equal",
                        Some(v),
                    ));
                    None
                }
                Some(n) => Some(n),
                None => {
                    self.errors.push(verr(
                        Self::loc(name),
                        "Input should be a valid integer",
                        "int_type",
                        Some(v),
                    ));
                    None
                }
            },
        }
    }

    /// An optional boolean.
    fn boolean(&mut self, name: &str) -> Option<bool> {
        match self.body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.errors.push(verr(
                    Self::loc(name),
                    "Input should be a valid boolean",
                    "bool_type",
                    Some(other),
                ));
                None
            }
        }
    }

    /// An optional JSON object (FastAPI `dict | None`): anything else is a 422 `dict_type`.
    fn object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => {
                self.errors.push(verr(
                    Self::loc(name),
                    "Input should be a valid dictionary",
                    "dict_type",
                    Some(other),
                ));
                None
            }
        }
    }

    fn finish(self) -> Result<(), Response> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(unprocessable(self.errors))
        }
    }
}

// ---------------------------------------------------------------------------------- auth

struct Authed {
    principal: Principal,
    limit: u32,
    remaining: u32,
    reset: i64,
}

impl Authed {
    /// A JSON answer with this caller's rate-limit headers.
    fn reply(&self, status: StatusCode, body: Value) -> Response {
        let mut r = json_response(status, body);
        self.headers(r.headers_mut());
        r
    }

    /// Adds this caller's rate-limit headers to an answer built elsewhere (e.g. a 422).
    fn wrap(&self, mut r: Response) -> Response {
        self.headers(r.headers_mut());
        r
    }

    fn headers(&self, h: &mut HeaderMap) {
        h.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(self.reset.max(0)));
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Need {
    Customer,
    Staff,
    Any,
}

fn authenticate(s: &mut Sandbox, headers: &HeaderMap, need: Need) -> Result<Authed, Response> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Not authenticated",
            "not_authenticated",
        ));
    };
    let principal = if let Some(rec) = s.sessions.get(token) {
        if rec.revoked {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "Session revoked",
                "session_revoked",
            ));
        }
        if rec.expires_at <= Utc::now().timestamp() {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "Token expired",
                "token_expired",
            ));
        }
        rec.principal.clone()
    } else if let Some(t) = s.api_tokens.iter().find(|t| t.secret == token) {
        if t.status != "active" {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "API token is not active",
                "token_inactive",
            ));
        }
        Principal::Staff(format!("api-token:{}", t.id))
    } else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Could not validate credentials",
            "invalid_token",
        ));
    };
    match (need, &principal) {
        (Need::Customer, Principal::Staff(_)) => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "Customer token required",
                "token_type_mismatch",
            ))
        }
        (Need::Staff, Principal::Customer(_)) => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "Staff or API token required",
                "token_type_mismatch",
            ))
        }
        _ => {}
    }
    let now = Utc::now().timestamp();
    let minute = now / 60;
    let limit = s.config.rate_limit_per_minute;
    let entry = s.rate.entry(token.to_string()).or_insert((minute, 0));
    if entry.0 != minute {
        *entry = (minute, 0);
    }
    let reset = (minute + 1) * 60 - now;
    if entry.1 >= limit {
        let a = Authed {
            principal,
            limit,
            remaining: 0,
            reset,
        };
        let mut r = a.reply(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "Rate limit exceeded", "error": "rate_limited"}),
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(reset.max(1)));
        return Err(r);
    }
    entry.1 += 1;
    Ok(Authed {
        principal,
        limit,
        remaining: limit - entry.1,
        reset,
    })
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Sandbox> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------- handlers

/// Checks customer credentials (both customer login routes) and records the login.
fn customer_credentials(s: &mut Sandbox, body: &Bytes) -> Result<Customer, Response> {
    let body = body_object(body)?;
    let mut f = Fields::new(&body);
    let email = f.string("email", true, 3, 320);
    let password = f.string("password", true, 1, 1000);
    f.finish()?;
    let (email, password) = (email.unwrap_or_default(), password.unwrap_or_default());
    let Some(c) = s
        .customers
        .iter()
        .find(|c| c.email.eq_ignore_ascii_case(&email) && c.password == password)
        .cloned()
    else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "Invalid email or password",
            "invalid_credentials",
        ));
    };
    if !c.is_active {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Customer is disabled",
            "customer_disabled",
        ));
    }
    s.logins += 1;
    if let Some(m) = s.customers.iter_mut().find(|m| m.id == c.id) {
        m.last_login_at = Some(Utc::now());
    }
    Ok(s.customer(&c.id).cloned().unwrap_or(c))
}

async fn customer_login(State(s): State<Shared>, body: Bytes) -> Response {
    let mut s = lock(&s);
    let c = match customer_credentials(&mut s, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (token, _) = s.issue_jwt(Principal::Customer(c.id.clone()));
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "customer": s.customer_json(&c)}),
    )
}

/// The guide's `/api/customer/login`: the same check, answered with a token pair like the staff
/// login (the refresh token works on `/auth/refresh`).
async fn customer_login_token_pair(State(s): State<Shared>, body: Bytes) -> Response {
    let mut s = lock(&s);
    let c = match customer_credentials(&mut s, &body) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let principal = Principal::Customer(c.id.clone());
    let (token, _) = s.issue_jwt(principal.clone());
    let refresh = format!("rt_{}", s.uuid().replace('-', ""));
    s.refresh_tokens.insert(refresh.clone(), principal);
    let lifetime = s.config.token_lifetime.as_secs();
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "refresh_token": refresh, "token_type": "bearer", "expires_in": lifetime}),
    )
}

async fn autologin(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(token) = q.get("token") else {
        return unprocessable(vec![verr(
            vec![json!("query"), json!("token")],
            "Field required",
            "missing",
            None,
        )]);
    };
    let mut s = lock(&s);
    let Some(customer_id) = s.autologin.remove(token) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid or already used autologin token",
            "invalid_autologin_token",
        );
    };
    let Some(c) = s.customer(&customer_id).cloned() else {
        return error(StatusCode::NOT_FOUND, "Customer not found", "not_found");
    };
    s.logins += 1;
    let (token, _) = s.issue_jwt(Principal::Customer(customer_id));
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "bearer", "customer": s.customer_json(&c)}),
    )
}

async fn register(State(s): State<Shared>, body: Bytes) -> Response {
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut f = Fields::new(&body);
    let email = f.string("email", true, 3, 320);
    let phone = f.string("phone", true, 1, 20);
    let password = f.string("password", false, 8, 72);
    let first_name = f.string("first_name", false, 0, 100);
    let last_name = f.string("last_name", false, 0, 100);
    let country = f.string("country", false, 2, 2);
    let source = f
        .string("source", false, 0, 50)
        .unwrap_or_else(|| "organic".into());
    if let Some(e) = email.as_ref().filter(|e| !e.contains('@')) {
        f.errors.push(verr(
            Fields::loc("email"),
            "value is not a valid email address",
            "value_error",
            Some(&json!(e)),
        ));
    }
    if let Err(r) = f.finish() {
        return r;
    }
    let email = email.unwrap_or_default();
    let mut s = lock(&s);
    if s.customers
        .iter()
        .any(|c| c.email.eq_ignore_ascii_case(&email))
    {
        return error(
            StatusCode::CONFLICT,
            "Email already registered",
            "duplicate_email",
        );
    }
    let id = s.uuid();
    let c = Customer {
        id: id.clone(),
        email,
        password: password.unwrap_or_default(),
        phone,
        country,
        first_name,
        last_name,
        owner_id: None,
        sales_status_id: Some(1),
        source,
        reg_time: Utc::now(),
        last_login_at: None,
        is_active: true,
    };
    s.customers.push(c.clone());
    let login = format!("{}", 200_000 + s.accounts.len());
    let account_id = s.uuid();
    s.accounts.push(Account {
        id: account_id,
        login,
        customer_id: id.clone(),
        currency: "USD".into(),
        balance: Decimal::ZERO,
        is_active: true,
        created_at: Utc::now(),
    });
    let autologin = format!("al_{}", s.uuid().replace('-', ""));
    s.autologin.insert(autologin.clone(), id);
    json_response(
        StatusCode::CREATED,
        json!({"customer": s.customer_json(&c), "autologin_token": autologin}),
    )
}

async fn me(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Customer) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Principal::Customer(id) = &a.principal else {
        return error(
            StatusCode::FORBIDDEN,
            "Customer token required",
            "token_type_mismatch",
        );
    };
    match s.customer(id).cloned() {
        Some(c) => a.reply(StatusCode::OK, s.customer_json(&c)),
        None => a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Customer not found", "error": "not_found"}),
        ),
    }
}

async fn my_accounts(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Customer) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Principal::Customer(id) = &a.principal else {
        return error(
            StatusCode::FORBIDDEN,
            "Customer token required",
            "token_type_mismatch",
        );
    };
    let list: Vec<Value> = s
        .accounts_of(id)
        .iter()
        .enumerate()
        .map(|(i, x)| account_json(x, i == 0))
        .collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

async fn my_transactions(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Customer) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Principal::Customer(id) = &a.principal else {
        return error(
            StatusCode::FORBIDDEN,
            "Customer token required",
            "token_type_mismatch",
        );
    };
    let list: Vec<Value> = s
        .transactions
        .iter()
        .rev()
        .filter(|t| &t.customer_id == id)
        .map(tx_json)
        .collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

async fn deposit(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Customer) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let amount = f.decimal(
        "amount",
        true,
        Some(Decimal::new(1, 2)),
        Some(Decimal::from(10_000_000)),
    );
    let currency = f.string("currency", false, 3, 3);
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let Principal::Customer(id) = a.principal.clone() else {
        return error(
            StatusCode::FORBIDDEN,
            "Customer token required",
            "token_type_mismatch",
        );
    };
    let Some(account) = s.accounts_of(&id).first().map(|x| (*x).clone()) else {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": "Customer has no trading account", "error": "no_account"}),
        );
    };
    let tx_id = s.uuid();
    let currency = currency.unwrap_or(account.currency.clone());
    s.transactions.push(Tx {
        id: tx_id.clone(),
        source: "cashier".into(),
        customer_id: id,
        account_id: account.id.clone(),
        account_login: account.login.clone(),
        kind: "DEPOSIT".into(),
        status: "PENDING".into(),
        amount: amount.unwrap_or_default(),
        currency: currency.clone(),
        comment: None,
        payment_data: json!({}),
        create_time: Utc::now(),
        approve_time: None,
        decline_time: None,
    });
    a.reply(
        StatusCode::CREATED,
        json!({
            "transaction_id": tx_id, "gateway": "sandbox-pay", "gateway_type": "iframe", "currency": currency,
            "cashier_token": format!("ct_{}", tx_id.replace('-', "")), "cashier_session_id": tx_id, "cashier_key": null,
            "script_url": null, "cashier_url": format!("https://cashier.invalid/session/{tx_id}"), "cashier_id": null,
            "redirect_url": null,
        }),
    )
}

async fn withdraw(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Customer) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let amount = f.decimal(
        "amount",
        true,
        Some(Decimal::new(1, 2)),
        Some(Decimal::from(10_000_000)),
    );
    let comment = f.string("comment", false, 0, 500);
    let payment_data = f.object("payment_data");
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let amount = amount.unwrap_or_default();
    let Principal::Customer(id) = a.principal.clone() else {
        return error(
            StatusCode::FORBIDDEN,
            "Customer token required",
            "token_type_mismatch",
        );
    };
    let Some(account) = s.accounts_of(&id).first().map(|x| (*x).clone()) else {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": "Customer has no trading account", "error": "no_account"}),
        );
    };
    let available = s.withdrawable(&account);
    if amount > available {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": format!("Amount exceeds the withdrawable balance of {available} {}", account.currency), "error": "insufficient_funds"}),
        );
    }
    let tx_id = s.uuid();
    let now = Utc::now();
    s.transactions.push(Tx {
        id: tx_id.clone(),
        source: "customer".into(),
        customer_id: id,
        account_id: account.id.clone(),
        account_login: account.login.clone(),
        kind: "WITHDRAWAL".into(),
        status: "PENDING".into(),
        amount,
        currency: account.currency.clone(),
        comment,
        payment_data: Value::Object(payment_data.unwrap_or_default()),
        create_time: now,
        approve_time: None,
        decline_time: None,
    });
    let remaining = available - amount;
    a.reply(
        StatusCode::CREATED,
        json!({
            "transaction_id": tx_id, "amount": amount.to_string(), "currency": account.currency, "status": "PENDING",
            "created_at": now.to_rfc3339(), "max_withdrawable": remaining.to_string(),
            "message": "Withdrawal request submitted for approval",
        }),
    )
}

async fn list_customers(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let countries: Vec<String> = q
        .iter()
        .filter(|(n, _)| n == "country")
        .map(|(_, v)| v.clone())
        .collect();
    let page: usize = get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let page_size: usize = get("page_size").and_then(|p| p.parse().ok()).unwrap_or(50);
    if page == 0 || page_size == 0 || page_size > 500 {
        let (name, input) = if page == 0 {
            ("page", get("page"))
        } else {
            ("page_size", get("page_size"))
        };
        return a.reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [verr(vec![json!("query"), json!(name)], "Input should be in range", "less_than_equal", input.map(Value::from).as_ref())]}),
        );
    }
    let search = get("search").map(|s| s.to_lowercase());
    let matching: Vec<Customer> = s
        .customers
        .iter()
        .filter(|c| {
            countries.is_empty() || c.country.as_ref().is_some_and(|x| countries.contains(x))
        })
        .filter(|c| {
            search
                .as_ref()
                .is_none_or(|q| c.email.to_lowercase().contains(q))
        })
        .cloned()
        .collect();
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|c| s.customer_json(c))
        .collect();
    a.reply(
        StatusCode::OK,
        json!({"items": items, "total": matching.len(), "page": page, "page_size": page_size}),
    )
}

async fn get_customer(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = uuid_path("customer_id", &id) {
        return a.wrap(r);
    }
    match s.customer(&id).cloned() {
        Some(c) => a.reply(StatusCode::OK, s.customer_json(&c)),
        None => a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Customer not found", "error": "not_found"}),
        ),
    }
}

async fn update_customer(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = uuid_path("customer_id", &id) {
        return a.wrap(r);
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let phone = f.string("phone", false, 1, 20);
    let country = f.string("country", false, 2, 2);
    let owner_id = f.string("owner_id", false, 36, 36);
    if let Some(o) = owner_id.as_ref().filter(|o| !is_uuid(o)) {
        f.errors.push(verr(
            Fields::loc("owner_id"),
            "Input should be a valid UUID",
            "uuid_parsing",
            Some(&json!(o)),
        ));
    }
    let sales = match body.get("sales_status_id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(other) => {
            f.errors.push(verr(
                Fields::loc("sales_status_id"),
                "Input should be a valid integer",
                "int_type",
                Some(other),
            ));
            None
        }
    };
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let Some(c) = s.customers.iter_mut().find(|c| c.id == id) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Customer not found", "error": "not_found"}),
        );
    };
    if phone.is_some() {
        c.phone = phone;
    }
    if country.is_some() {
        c.country = country;
    }
    if owner_id.is_some() {
        c.owner_id = owner_id;
    }
    if sales.is_some() {
        c.sales_status_id = sales;
    }
    let c = c.clone();
    a.reply(StatusCode::OK, s.customer_json(&c))
}

async fn list_accounts(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let currencies: Vec<String> = q
        .iter()
        .filter(|(n, _)| n == "currency")
        .map(|(_, v)| v.clone())
        .collect();
    let mut bad = vec![];
    let mut bound = |k: &str| {
        get(k).and_then(|v| match Decimal::from_str(&v) {
            Ok(d) => Some(d),
            Err(_) => {
                bad.push(verr(
                    vec![json!("query"), json!(k)],
                    "Input should be a valid number",
                    "float_parsing",
                    Some(&json!(v)),
                ));
                None
            }
        })
    };
    let (bmin, bmax) = (bound("balance_min"), bound("balance_max"));
    if !bad.is_empty() {
        return a.reply(StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": bad}));
    }
    let customer = get("customer_id");
    let items: Vec<Value> = s
        .accounts
        .iter()
        .filter(|x| customer.as_ref().is_none_or(|c| &x.customer_id == c))
        .filter(|x| currencies.is_empty() || currencies.contains(&x.currency))
        .filter(|x| bmin.is_none_or(|m| x.balance >= m) && bmax.is_none_or(|m| x.balance <= m))
        .map(|x| account_json(x, false))
        .collect();
    a.reply(
        StatusCode::OK,
        json!({"total": items.len(), "page": 1, "page_size": 50, "items": items}),
    )
}

async fn account_state(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(acc) = s.accounts.iter().find(|x| x.login == login).cloned() else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Account {login} not found"), "error": "not_found"}),
        );
    };
    if let Principal::Customer(id) = &a.principal {
        if &acc.customer_id != id {
            return a.reply(
                StatusCode::FORBIDDEN,
                json!({"detail": "Not your account", "error": "forbidden"}),
            );
        }
    }
    let open: Vec<&PositionRec> = s
        .positions
        .iter()
        .filter(|p| p.login == acc.login)
        .collect();
    let pnl: Decimal = open
        .iter()
        .filter_map(|p| {
            let inst = s
                .instruments
                .iter()
                .find(|i| i["symbol"] == json!(p.symbol))?;
            let contract = inst_dec(inst, "contract_size").unwrap_or(Decimal::ONE);
            Some(profit(p, p.volume, close_price(inst, &p.side)?, contract))
        })
        .sum();
    let margin = used_margin(&s, &acc.login).round_dp(2);
    let equity = acc.balance + pnl;
    let level =
        (!margin.is_zero()).then(|| dec_num((equity / margin * Decimal::ONE_HUNDRED).round_dp(2)));
    a.reply(
        StatusCode::OK,
        json!({
            "login": acc.login, "currency": acc.currency, "balance": dec_num(acc.balance), "equity": dec_num(equity),
            "margin": dec_num(margin), "free_margin": dec_num(equity - margin), "margin_level": level, "credit": 0,
            "unrealized_pnl": dec_num(pnl), "open_positions": open.len(),
        }),
    )
}

async fn set_account_active(
    s: Shared,
    headers: HeaderMap,
    login: String,
    body: Bytes,
    active: bool,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if login.parse::<i64>().is_err() {
        return a.reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [verr(vec![json!("path"), json!("login")], "Input should be a valid integer, unable to parse string as an integer", "int_parsing", Some(&json!(login)))]}),
        );
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    f.string("reason", true, 1, 1000);
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
    let Some(acc) = s.accounts.iter_mut().find(|x| x.login == login) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Account {login} not found"), "error": "not_found"}),
        );
    };
    if acc.is_active == active && !force {
        let state = if active { "open" } else { "closed" };
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": format!("Account is already {state}"), "error": "state_mismatch"}),
        );
    }
    acc.is_active = active;
    let message = if active {
        "Account reopened"
    } else {
        "Account closed"
    };
    a.reply(StatusCode::OK, json!({"login": login.parse::<i64>().unwrap_or_default(), "is_active": active, "message": message}))
}

async fn reopen_account(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(login): Path<String>,
    body: Bytes,
) -> Response {
    set_account_active(s, headers, login, body, true).await
}

async fn close_account(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(login): Path<String>,
    body: Bytes,
) -> Response {
    set_account_active(s, headers, login, body, false).await
}

async fn preflight(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let symbol = f.string("symbol", true, 1, 32);
    let action = f.string("action", true, 1, 20);
    if let Some(act) = action
        .as_ref()
        .filter(|x| !["open", "close", "trigger", "sl", "tp"].contains(&x.as_str()))
    {
        f.errors.push(verr(
            Fields::loc("action"),
            "String should match pattern '^(open|close|trigger|sl|tp)$'",
            "string_pattern_mismatch",
            Some(&json!(act)),
        ));
    }
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let symbol = symbol.unwrap_or_default();
    let Some(inst) = s.instruments.iter().find(|i| i["symbol"] == json!(symbol)) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Unknown symbol {symbol}"), "error": "not_found"}),
        );
    };
    // The sandbox blocks new crypto positions as if a maintenance window were on.
    if inst["category"] == json!("crypto") && action.as_deref() == Some("open") {
        let ends = Utc::now() + chrono::Duration::minutes(15);
        return a.reply(StatusCode::OK, json!({"block": "maintenance", "ends_at": ends.to_rfc3339(), "message": "Crypto opening paused"}));
    }
    a.reply(
        StatusCode::OK,
        json!({"block": null, "ends_at": null, "message": null}),
    )
}

async fn list_instruments(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let list: Vec<Value> = s.instruments.iter().cloned().map(Value::Object).collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

async fn get_instrument(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(symbol): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match s.instruments.iter().find(|i| i["symbol"] == json!(symbol)) {
        Some(i) => a.reply(StatusCode::OK, Value::Object(i.clone())),
        None => a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Unknown symbol {symbol}"), "error": "not_found"}),
        ),
    }
}

async fn create_instrument(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    // Every field is read with its declared type (and re-written in canonical form), so
    // nothing the caller sends can make a later answer break the `Instrument` schema.
    let mut f = Fields::new(&body);
    let mut m = Map::new();
    for (k, required, min, max) in [
        ("symbol", true, 1, 32),
        ("display_name", true, 1, 64),
        ("category", true, 1, 32),
        ("base_currency", true, 1, 8),
        ("quote_currency", true, 1, 8),
        ("unit_currency", false, 0, 8),
        ("swap_type", false, 0, 32),
        ("asset_class", false, 0, 32),
        ("provider", false, 0, 64),
        ("provider_symbol", false, 0, 64),
    ] {
        if let Some(v) = f.string(k, required, min, max) {
            m.insert(k.into(), json!(v));
        }
    }
    for (k, required) in [
        ("pip_size", true),
        ("margin_rate", true),
        ("min_lot", false),
        ("max_lot", false),
        ("lot_step", false),
        ("spread", false),
        ("swap_long", false),
        ("swap_short", false),
    ] {
        if let Some(d) = f.decimal(k, required, None, None) {
            m.insert(k.into(), dec_num(d));
        }
    }
    for (k, min) in [
        ("digits", Some(0)),
        ("contract_size", Some(1)),
        ("stale_threshold_ms", None),
    ] {
        if let Some(n) = f.integer(k, min) {
            m.insert(k.into(), json!(n));
        }
    }
    if let Some(b) = f.boolean("is_active") {
        m.insert("is_active".into(), json!(b));
    }
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let symbol = m["symbol"].as_str().unwrap_or_default().to_string();
    if s.instruments.iter().any(|i| i["symbol"] == json!(symbol)) {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": format!("Instrument {symbol} exists"), "error": "duplicate_symbol"}),
        );
    }
    let defaults = json!({
        "unit_currency": "USD", "digits": 5, "contract_size": 100000, "min_lot": 0.01, "max_lot": 100, "lot_step": 0.01,
        "spread": 0, "swap_type": "pips", "swap_long": 0, "swap_short": 0, "stale_threshold_ms": 10000, "is_active": true,
        "asset_class": "other", "provider": null, "provider_symbol": null,
    });
    for (k, v) in defaults.as_object().cloned().unwrap_or_default() {
        m.entry(k).or_insert(v);
    }
    m.insert("id".into(), json!(s.uuid()));
    m.insert("is_enabled".into(), json!(true));
    for k in ["last_bid", "last_ask", "last_tick_at"] {
        m.insert(k.into(), Value::Null);
    }
    s.instruments.push(m.clone());
    a.reply(StatusCode::OK, Value::Object(m))
}

fn group_row(
    s: &mut Sandbox,
    group: &str,
    symbol: &str,
    patch: &Map<String, Value>,
) -> Option<Value> {
    let inst = s
        .instruments
        .iter()
        .find(|i| i["symbol"] == json!(symbol))?
        .clone();
    let key = (group.to_string(), symbol.to_string());
    if !s.group_rows.contains_key(&key) {
        let mut row = Map::new();
        row.insert("id".into(), json!(s.uuid()));
        row.insert("group_id".into(), json!(group));
        row.insert("instrument_id".into(), inst["id"].clone());
        row.insert("symbol".into(), json!(symbol));
        for k in [
            "spread",
            "margin_rate",
            "swap_type",
            "swap_long",
            "swap_short",
            "min_lot",
            "max_lot",
            "lot_step",
        ] {
            row.insert(k.into(), inst.get(k).cloned().unwrap_or(Value::Null));
        }
        row.insert("tradeability".into(), json!("full"));
        row.insert("commission_type".into(), Value::Null);
        row.insert("commission_value".into(), Value::Null);
        row.insert("max_symbol_exposure".into(), Value::Null);
        s.group_rows.insert(key.clone(), row);
    }
    let row = s.group_rows.get_mut(&key)?;
    // Only the patchable terms, already checked by `check_group_patch`.
    for (k, v) in patch {
        if v.is_null() {
            continue;
        }
        if GROUP_TEXT_TERMS.contains(&k.as_str()) {
            row.insert(k.clone(), v.clone());
        } else if GROUP_NUMBER_TERMS.iter().any(|(n, _, _)| n == k) {
            let d = Decimal::from_str(&v.to_string())
                .or_else(|_| Decimal::from_scientific(&v.to_string()));
            if let Ok(d) = d {
                row.insert(k.clone(), dec_num(d));
            }
        }
    }
    Some(Value::Object(row.clone()))
}

/// The text terms of a group row.
const GROUP_TEXT_TERMS: [&str; 3] = ["tradeability", "swap_type", "commission_type"];

/// The numeric terms of a group row with their bounds (`GroupInstrumentUpsertRequest`).
const GROUP_NUMBER_TERMS: [(&str, &str, Option<&str>); 9] = [
    ("spread", "0", Some("100")),
    ("margin_rate", "0.001", Some("1")),
    ("swap_long", "-50", Some("50")),
    ("swap_short", "-50", Some("50")),
    ("commission_value", "0", Some("50")),
    ("min_lot", "0.001", Some("1000")),
    ("max_lot", "0.001", Some("10000")),
    ("lot_step", "0.001", Some("100")),
    ("max_symbol_exposure", "0", None),
];

fn check_group_patch(patch: &Map<String, Value>, prefix: &[&str]) -> Vec<Value> {
    let mut errors = vec![];
    let loc = |k: &str| -> Vec<Value> {
        let mut loc: Vec<Value> = prefix.iter().map(|p| json!(p)).collect();
        loc.push(json!(k));
        loc
    };
    for k in GROUP_TEXT_TERMS {
        if let Some(v) = patch.get(k).filter(|v| !v.is_null() && !v.is_string()) {
            errors.push(verr(
                loc(k),
                "Input should be a valid string",
                "string_type",
                Some(v),
            ));
        }
    }
    for (k, lo, hi) in GROUP_NUMBER_TERMS {
        let Some(v) = patch.get(k).filter(|v| !v.is_null()) else {
            continue;
        };
        let d = v
            .as_f64()
            .map(|f| f.to_string())
            .and_then(|t| Decimal::from_str(&t).ok());
        let lo = Decimal::from_str(lo).unwrap_or_default();
        let hi = hi.and_then(|h| Decimal::from_str(h).ok());
        match d {
            None => errors.push(verr(
                loc(k),
                "Input should be a valid number",
                "float_type",
                Some(v),
            )),
            Some(d) if d < lo => errors.push(verr(
                loc(k),
                &format!("Input should be greater than or equal to {lo}"),
                "greater_than_equal",
                Some(v),
            )),
            Some(d) if hi.is_some_and(|h| d > h) => errors.push(verr(
                loc(k),
                &format!(
                    "Input should be less than or equal to {}",
                    hi.unwrap_or_default()
                ),
                "less_than_equal",
                Some(v),
            )),
            _ => {}
        }
    }
    errors
}

/// Whether `raw` is a hyphenated UUID.
fn is_uuid(raw: &str) -> bool {
    let groups: Vec<&str> = raw.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `UUID` path parameter the way FastAPI reads it: anything else is a 422 `uuid_parsing`.
fn uuid_path(name: &str, raw: &str) -> Result<(), Response> {
    if is_uuid(raw) {
        Ok(())
    } else {
        Err(unprocessable(vec![verr(
            vec![json!("path"), json!(name)],
            "Input should be a valid UUID",
            "uuid_parsing",
            Some(&json!(raw)),
        )]))
    }
}

async fn upsert_group_instrument(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path((group, symbol)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = uuid_path("group_id", &group) {
        return a.wrap(r);
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let errors = check_group_patch(&body, &["body"]);
    if !errors.is_empty() {
        return a.reply(StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": errors}));
    }
    match group_row(&mut s, &group, &symbol, &body) {
        Some(row) => a.reply(StatusCode::OK, row),
        None => a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Unknown symbol {symbol}"), "error": "not_found"}),
        ),
    }
}

async fn bulk_upsert(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(group): Path<String>,
    body: Bytes,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = uuid_path("group_id", &group) {
        return a.wrap(r);
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let symbols: Vec<String> = body
        .get("symbols")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let patch = body.get("patch").and_then(Value::as_object).cloned();
    let mut errors = vec![];
    for (i, item) in body
        .get("symbols")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if item.as_str().is_none_or(str::is_empty) {
            errors.push(verr(
                vec![json!("body"), json!("symbols"), json!(i)],
                "String should have at least 1 character",
                "string_too_short",
                Some(item),
            ));
        }
    }
    if symbols.is_empty() {
        errors.push(verr(
            vec![json!("body"), json!("symbols")],
            "List should have at least 1 item after validation, not 0",
            "too_short",
            body.get("symbols"),
        ));
    }
    match &patch {
        None => errors.push(verr(
            vec![json!("body"), json!("patch")],
            "Field required",
            "missing",
            None,
        )),
        Some(p) => errors.extend(check_group_patch(p, &["body", "patch"])),
    }
    if !errors.is_empty() {
        return a.reply(StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": errors}));
    }
    let patch = patch.unwrap_or_default();
    let mut rows = vec![];
    for sym in &symbols {
        match group_row(&mut s, &group, sym, &patch) {
            Some(r) => rows.push(r),
            None => {
                return a.reply(
                    StatusCode::NOT_FOUND,
                    json!({"detail": format!("Unknown symbol {sym}"), "error": "not_found"}),
                )
            }
        }
    }
    a.reply(StatusCode::OK, Value::Array(rows))
}

async fn swap_rates(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(group): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if group != GROUP_ID {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Group not found", "error": "not_found"}),
        );
    }
    let multiplier = Decimal::new(15, 1);
    let rows: Vec<Value> = s
        .instruments
        .iter()
        .map(|i| {
            let sym = i["symbol"].as_str().unwrap_or_default().to_string();
            let row = s.group_rows.get(&(group.clone(), sym.clone()));
            let src = if row.is_some() { "group" } else { "instrument" };
            let pick = |k: &str| {
                let v = row.and_then(|r| r.get(k)).unwrap_or(&i[k]);
                Decimal::from_str(&v.to_string()).unwrap_or_default()
            };
            let (long, short) = (pick("swap_long"), pick("swap_short"));
            json!({"symbol": sym, "swap_type": "pips", "swap_long": dec_num(long), "swap_short": dec_num(short), "source": src,
                   "effective_long": dec_num(long * multiplier), "effective_short": dec_num(short * multiplier)})
        })
        .collect();
    a.reply(
        StatusCode::OK,
        json!({"group_id": group, "group_name": GROUP_NAME, "swap_free": false, "swap_multiplier": dec_num(multiplier), "instruments": rows}),
    )
}

async fn list_transactions(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let all = |k: &str| {
        q.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let (types, statuses) = (all("type"), all("status"));
    let limit: usize = get("limit").and_then(|v| v.parse().ok()).unwrap_or(100);
    let offset: usize = get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    if !(1..=1000).contains(&limit) {
        return a.reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [verr(vec![json!("query"), json!("limit")], "Input should be less than or equal to 1000", "less_than_equal", get("limit").map(Value::from).as_ref())]}),
        );
    }
    let account = get("account_id");
    let customer = get("customer_id");
    let list: Vec<Value> = s
        .transactions
        .iter()
        .rev()
        .filter(|t| account.as_ref().is_none_or(|x| &t.account_id == x))
        .filter(|t| customer.as_ref().is_none_or(|x| &t.customer_id == x))
        .filter(|t| types.is_empty() || types.contains(&t.kind))
        .filter(|t| statuses.is_empty() || statuses.contains(&t.status))
        .skip(offset)
        .take(limit)
        .map(tx_json)
        .collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

async fn manual_transaction(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let account_id = f.string("account_id", true, 36, 36);
    let amount = f.decimal("amount", true, None, None);
    let status = f
        .string("status", false, 1, 20)
        .unwrap_or_else(|| "PENDING".into());
    if !["PENDING", "APPROVED", "DECLINED"].contains(&status.as_str()) {
        f.errors.push(verr(
            Fields::loc("status"),
            "Input should be 'PENDING', 'APPROVED' or 'DECLINED'",
            "enum",
            Some(&json!(status)),
        ));
    }
    let comment = f.string("comment", false, 0, 1000);
    let payment_data = f.object("payment_data");
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let amount = amount.unwrap_or_default();
    let Some(acc) = s
        .accounts
        .iter()
        .find(|x| Some(&x.id) == account_id.as_ref())
        .cloned()
    else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Account not found", "error": "not_found"}),
        );
    };
    if acc.balance + amount < Decimal::ZERO && status == "APPROVED" {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": "Balance would become negative", "error": "insufficient_funds"}),
        );
    }
    let now = Utc::now();
    let id = s.uuid();
    let tx = Tx {
        id,
        source: "manual".into(),
        customer_id: acc.customer_id.clone(),
        account_id: acc.id.clone(),
        account_login: acc.login.clone(),
        kind: if amount < Decimal::ZERO {
            "WITHDRAWAL".into()
        } else {
            "DEPOSIT".into()
        },
        status: status.clone(),
        amount: amount.abs(),
        currency: body
            .get("currency")
            .and_then(Value::as_str)
            .unwrap_or(&acc.currency)
            .to_string(),
        comment,
        payment_data: Value::Object(payment_data.unwrap_or_default()),
        create_time: now,
        approve_time: (status == "APPROVED").then_some(now),
        decline_time: None,
    };
    if status == "APPROVED" {
        if let Some(x) = s.accounts.iter_mut().find(|x| x.id == acc.id) {
            x.balance += amount;
        }
    }
    let out = tx_json(&tx);
    s.transactions.push(tx);
    a.reply(StatusCode::OK, out)
}

async fn decide(
    s: Shared,
    headers: HeaderMap,
    tx_id: String,
    body: Bytes,
    approve: bool,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = uuid_path("tx_id", &tx_id) {
        return a.wrap(r);
    }
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let comment = body
        .get("comment")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(i) = s.transactions.iter().position(|t| t.id == tx_id) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Transaction not found", "error": "not_found"}),
        );
    };
    if s.transactions[i].status != "PENDING" {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": format!("Transaction is {}", s.transactions[i].status), "error": "state_mismatch"}),
        );
    }
    let tx = s.transactions[i].clone();
    if approve {
        let delta = if tx.kind == "WITHDRAWAL" {
            -tx.amount
        } else {
            tx.amount
        };
        let Some(acc) = s.accounts.iter_mut().find(|x| x.id == tx.account_id) else {
            return a.reply(
                StatusCode::NOT_FOUND,
                json!({"detail": "Account not found", "error": "not_found"}),
            );
        };
        if acc.balance + delta < Decimal::ZERO {
            return a.reply(
                StatusCode::BAD_REQUEST,
                json!({"detail": "Balance would become negative", "error": "insufficient_funds"}),
            );
        }
        acc.balance += delta;
    }
    let t = &mut s.transactions[i];
    let now = Utc::now();
    if approve {
        t.status = "APPROVED".into();
        t.approve_time = Some(now);
    } else {
        t.status = "DECLINED".into();
        t.decline_time = Some(now);
    }
    if comment.is_some() {
        t.comment = comment;
    }
    let out = tx_json(t);
    a.reply(StatusCode::OK, out)
}

async fn decline(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(s, headers, id, body, false).await
}

async fn approve(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(s, headers, id, body, true).await
}

/// Fixed sandbox rates: units of `to` per unit of `from`.
fn rate(from: &str, to: &str) -> Option<Decimal> {
    let usd = |c: &str| match c {
        "USD" => Some(Decimal::ONE),
        "EUR" => Some(Decimal::new(108, 2)),
        "GBP" => Some(Decimal::new(125, 2)),
        _ => None,
    };
    Some(usd(from)? / usd(to)?)
}

async fn transfer(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let from = f.string("from_login", true, 1, 32);
    let to = f.string("to_login", true, 1, 32);
    let amount = f.decimal("amount", true, None, Some(Decimal::from(10_000_000)));
    if amount.is_some_and(|x| x <= Decimal::ZERO) {
        f.errors.push(verr(
            Fields::loc("amount"),
            "Input should be greater than 0",
            "greater_than",
            body.get("amount"),
        ));
    }
    let note = f.string("note", false, 0, 1000);
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let (from, to, amount) = (
        from.unwrap_or_default(),
        to.unwrap_or_default(),
        amount.unwrap_or_default(),
    );
    let find = |login: &str| s.accounts.iter().find(|x| x.login == login).cloned();
    let (Some(src), Some(dst)) = (find(&from), find(&to)) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Account not found", "error": "not_found"}),
        );
    };
    if src.id == dst.id {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": "Cannot transfer to the same account", "error": "same_account"}),
        );
    }
    if s.withdrawable(&src) < amount {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": "Insufficient funds", "error": "insufficient_funds"}),
        );
    }
    let Some(fx) = rate(&src.currency, &dst.currency) else {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": "No conversion rate", "error": "no_rate"}),
        );
    };
    let converted = (amount * fx).round_dp(2);
    let now = Utc::now();
    let (out_id, in_id) = (s.uuid(), s.uuid());
    for acc in s.accounts.iter_mut() {
        if acc.id == src.id {
            acc.balance -= amount;
        } else if acc.id == dst.id {
            acc.balance += converted;
        }
    }
    for (id, acc, kind, amt) in [
        (&out_id, &src, "TRANSFER_OUT", amount),
        (&in_id, &dst, "TRANSFER_IN", converted),
    ] {
        s.transactions.push(Tx {
            id: id.clone(),
            source: "crm".into(),
            customer_id: acc.customer_id.clone(),
            account_id: acc.id.clone(),
            account_login: acc.login.clone(),
            kind: kind.into(),
            status: "APPROVED".into(),
            amount: amt,
            currency: acc.currency.clone(),
            comment: note.clone(),
            payment_data: json!({}),
            create_time: now,
            approve_time: Some(now),
            decline_time: None,
        });
    }
    let same = src.currency == dst.currency;
    a.reply(
        StatusCode::OK,
        json!({
            "transfer_out_id": out_id, "transfer_in_id": in_id, "from_login": from, "to_login": to,
            "amount": dec_num(amount), "from_currency": src.currency, "to_currency": dst.currency,
            "converted_amount": dec_num(converted), "status": "APPROVED", "source": "crm",
            "effective_rate": if same { Value::Null } else { dec_num(fx.round_dp(6)) },
        }),
    )
}

async fn risk_profile(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if let Err(r) = uuid_path("customer_id", &id) {
        return a.wrap(r);
    }
    if s.customer(&id).is_none() {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Customer not found", "error": "not_found"}),
        );
    }
    a.reply(
        StatusCode::OK,
        json!({
            "customer_id": id, "classification": "normal", "risk_flags": [], "classification_changed_at": null,
            "last_computed_at": Utc::now().to_rfc3339(),
            "metrics": {
                "trades_30d": {"total": 40, "winning": 22, "losing": 18, "win_rate": 0.55},
                "pnl_30d": {"total_usd": 312.4, "gross_wins_usd": 910.0, "gross_losses_usd": -597.6, "profit_factor": 1.52, "avg_trade_pnl_usd": 7.81},
                "timing_30d": {"avg_hold_seconds": 5400, "median_hold_seconds": 1800, "min_hold_seconds": 12},
                "latency_30d": {"trades_under_60s": 3, "trades_under_300s": 9, "pct_trades_under_60s": 0.075, "short_hold_win_rate": 0.66, "trades_around_news": 2},
                "concentration_30d": {"primary_symbol": "EURUSD", "primary_symbol_pct": 0.6, "symbol_count": 4},
                "lifetime": {"total_trades": 310, "total_pnl_usd": 1204.9, "win_rate": 0.52}
            },
            "rule_thresholds": {"min_trades_to_classify": 20, "watchlist": {"win_rate": 0.7}, "toxic": {"win_rate": 0.85}}
        }),
    )
}

async fn create_api_token(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let name = f.string("name", true, 1, 100);
    let scopes: Vec<String> = body
        .get("scopes")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if scopes.is_empty() {
        let kind = if body.contains_key("scopes") {
            "too_short"
        } else {
            "missing"
        };
        f.errors.push(verr(
            Fields::loc("scopes"),
            "List should have at least 1 item after validation, not 0",
            kind,
            body.get("scopes"),
        ));
    }
    let expiry = f
        .string("expiry", false, 1, 10)
        .unwrap_or_else(|| "90d".into());
    let days = match expiry.as_str() {
        "30d" => Some(30),
        "90d" => Some(90),
        "1y" => Some(365),
        "never" => None,
        other => {
            f.errors.push(verr(
                Fields::loc("expiry"),
                "Input should be '30d', '90d', '1y' or 'never'",
                "enum",
                Some(&json!(other)),
            ));
            None
        }
    };
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let Principal::Staff(created_by) = a.principal.clone() else {
        return error(
            StatusCode::FORBIDDEN,
            "Staff token required",
            "token_type_mismatch",
        );
    };
    let id = s.api_tokens.len() as i64 + 1;
    let secret = format!("slt_live_{}", s.uuid().replace('-', ""));
    let now = Utc::now();
    let rec = ApiTokenRec {
        id,
        name: name.unwrap_or_default(),
        secret,
        scopes,
        ip_allowlist: body
            .get("ip_allowlist")
            .and_then(|v| serde_json::from_value(v.clone()).ok()),
        rate_limit: body.get("rate_limit").and_then(Value::as_i64),
        expires_at: days.map(|d| now + chrono::Duration::days(d)),
        status: "active".into(),
        created_by,
        created_at: now,
    };
    let out = api_token_json(&rec, true);
    s.api_tokens.push(rec);
    a.reply(StatusCode::OK, out)
}

async fn list_api_tokens(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let list: Vec<Value> = s
        .api_tokens
        .iter()
        .map(|t| api_token_json(t, false))
        .collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

async fn rotate_api_token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = match int_path("token_id", &id) {
        Ok(id) => id,
        Err(r) => return a.wrap(r),
    };
    let secret = format!("slt_live_{}", s.uuid().replace('-', ""));
    let Some(t) = s.api_tokens.iter_mut().find(|t| Some(t.id) == id) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "API token not found", "error": "not_found"}),
        );
    };
    t.secret = secret;
    let out = api_token_json(t, true);
    a.reply(StatusCode::OK, out)
}

async fn revoke_api_token(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Staff) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = match int_path("token_id", &id) {
        Ok(id) => id,
        Err(r) => return a.wrap(r),
    };
    let Some(t) = s.api_tokens.iter_mut().find(|t| Some(t.id) == id) else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "API token not found", "error": "not_found"}),
        );
    };
    t.status = "revoked".into();
    let mut r = StatusCode::NO_CONTENT.into_response();
    a.headers(r.headers_mut());
    r
}

async fn staff_login(State(s): State<Shared>, body: Bytes) -> Response {
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut f = Fields::new(&body);
    let email = f.string("email", true, 3, 320).unwrap_or_default();
    let password = f.string("password", true, 1, 1000).unwrap_or_default();
    let totp = f.string("totp_code", false, 1, 64);
    if let Err(r) = f.finish() {
        return r;
    }
    let mut s = lock(&s);
    let Some(staff) = s
        .config
        .staff
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(&email) && u.password == password)
        .cloned()
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid email or password",
            "invalid_credentials",
        );
    };
    if let Some(code) = &staff.totp_code {
        match &totp {
            None => {
                return json_response(
                    StatusCode::ACCEPTED,
                    json!({"detail": "TOTP code required", "error": "TOTP_REQUIRED"}),
                )
            }
            Some(c) if c != code => {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "Invalid TOTP code",
                    "invalid_totp",
                )
            }
            _ => {}
        }
    }
    s.logins += 1;
    let principal = Principal::Staff(staff.email.clone());
    let (token, _) = s.issue_jwt(principal.clone());
    let refresh = format!("rt_{}", s.uuid().replace('-', ""));
    s.refresh_tokens.insert(refresh.clone(), principal);
    let lifetime = s.config.token_lifetime.as_secs();
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "refresh_token": refresh, "token_type": "bearer", "expires_in": lifetime}),
    )
}

async fn refresh(State(s): State<Shared>, body: Bytes) -> Response {
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut f = Fields::new(&body);
    let token = f.string("refresh_token", true, 1, 1000).unwrap_or_default();
    if let Err(r) = f.finish() {
        return r;
    }
    let mut s = lock(&s);
    // Single use: the old refresh token is burned.
    let Some(principal) = s.refresh_tokens.remove(&token) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid refresh token",
            "invalid_refresh_token",
        );
    };
    let (access, _) = s.issue_jwt(principal.clone());
    let next = format!("rt_{}", s.uuid().replace('-', ""));
    s.refresh_tokens.insert(next.clone(), principal);
    let lifetime = s.config.token_lifetime.as_secs();
    json_response(
        StatusCode::OK,
        json!({"access_token": access, "refresh_token": next, "token_type": "bearer", "expires_in": lifetime}),
    )
}

async fn revoke_session(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(sid): Path<String>,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut found = false;
    for rec in s.sessions.values_mut().filter(|r| r.sid == sid) {
        if matches!(&a.principal, Principal::Staff(_)) || rec.principal == a.principal {
            rec.revoked = true;
            found = true;
        }
    }
    if !found {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Session not found", "error": "not_found"}),
        );
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    a.headers(r.headers_mut());
    r
}

// ---------------------------------------------------------------------------------- trading
//
// The vendor's order and position routes are guessed (see the spec); the sandbox serves them so
// the spec can be exercised: market orders fill at once at the ask (buy) or bid (sell) and open
// a position, limit and stop orders stay pending. A customer token trades its primary account
// (or another of its own accounts named in `X-Customer-Login`); a staff or API token must name
// the account in `X-Customer-Login`.

/// The trading account a trading call acts on.
fn trading_account(s: &Sandbox, a: &Authed, headers: &HeaderMap) -> Result<Account, Response> {
    let named = headers
        .get("x-customer-login")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let account = match (&a.principal, named) {
        (Principal::Staff(_), None) => {
            return Err(a.reply(
                StatusCode::BAD_REQUEST,
                json!({"detail": "X-Customer-Login is required with a staff or API token", "error": "login_required"}),
            ))
        }
        (Principal::Customer(id), None) => s.accounts_of(id).first().map(|x| (*x).clone()),
        (_, Some(login)) => s.accounts.iter().find(|x| x.login == login).cloned(),
    };
    let Some(account) = account else {
        return Err(a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Account not found", "error": "not_found"}),
        ));
    };
    if let Principal::Customer(id) = &a.principal {
        if &account.customer_id != id {
            return Err(a.reply(
                StatusCode::FORBIDDEN,
                json!({"detail": "Not your account", "error": "forbidden"}),
            ));
        }
    }
    Ok(account)
}

/// A decimal field of an instrument.
fn inst_dec(inst: &Map<String, Value>, key: &str) -> Option<Decimal> {
    inst.get(key)
        .filter(|v| v.is_number())
        .and_then(|v| Decimal::from_str(&v.to_string()).ok())
}

/// The price a position of `side` closes at: the bid for a buy, the ask for a sell.
fn close_price(inst: &Map<String, Value>, side: &str) -> Option<Decimal> {
    inst_dec(
        inst,
        if side == "buy" {
            "last_bid"
        } else {
            "last_ask"
        },
    )
}

fn order_json(o: &OrderRec) -> Value {
    json!({
        "id": o.id, "login": o.login, "symbol": o.symbol, "side": o.side, "order_type": o.order_type,
        "volume": dec_num(o.volume), "price": o.price.map(dec_num), "status": o.status,
        "created_at": o.created_at.to_rfc3339(),
    })
}

/// Profit of `volume` lots of `p` closed at `price`, in the quote currency (2 decimals).
fn profit(p: &PositionRec, volume: Decimal, price: Decimal, contract: Decimal) -> Decimal {
    let sign = if p.side == "buy" {
        Decimal::ONE
    } else {
        Decimal::NEGATIVE_ONE
    };
    ((price - p.open_price) * volume * contract * sign).round_dp(2)
}

fn position_json(s: &Sandbox, p: &PositionRec, volume: Decimal) -> Value {
    let inst = s
        .instruments
        .iter()
        .find(|i| i["symbol"] == json!(p.symbol));
    let current = inst.and_then(|i| close_price(i, &p.side));
    let contract = inst
        .and_then(|i| inst_dec(i, "contract_size"))
        .unwrap_or(Decimal::ONE);
    json!({
        "id": p.id, "login": p.login, "symbol": p.symbol, "side": p.side, "volume": dec_num(volume),
        "open_price": dec_num(p.open_price), "current_price": current.map(dec_num),
        "profit": current.map(|c| dec_num(profit(p, volume, c, contract))),
        "opened_at": p.opened_at.to_rfc3339(),
    })
}

/// Margin held by the open positions of `login`.
fn used_margin(s: &Sandbox, login: &str) -> Decimal {
    s.positions
        .iter()
        .filter(|p| p.login == login)
        .map(|p| {
            let inst = s
                .instruments
                .iter()
                .find(|i| i["symbol"] == json!(p.symbol));
            let contract = inst
                .and_then(|i| inst_dec(i, "contract_size"))
                .unwrap_or(Decimal::ONE);
            let rate = inst
                .and_then(|i| inst_dec(i, "margin_rate"))
                .unwrap_or(Decimal::ONE);
            p.volume * contract * p.open_price * rate
        })
        .sum()
}

fn one_of(f: &mut Fields, name: &str, allowed: &[&str]) -> Option<String> {
    let v = f.string(name, true, 1, 20)?;
    if allowed.contains(&v.as_str()) {
        return Some(v);
    }
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    f.errors.push(verr(
        Fields::loc(name),
        &format!("Input should be {}", quoted.join(" or ")),
        "enum",
        Some(&json!(v)),
    ));
    None
}

async fn place_order(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let symbol = f.string("symbol", true, 1, 32);
    let side = one_of(&mut f, "side", &["buy", "sell"]);
    let order_type = one_of(&mut f, "order_type", &["market", "limit", "stop"]);
    let volume = f.decimal("volume", true, None, None);
    if let Some(v) = volume.filter(|v| *v <= Decimal::ZERO) {
        f.errors.push(verr(
            Fields::loc("volume"),
            "Input should be greater than 0",
            "greater_than",
            Some(&dec_num(v)),
        ));
    }
    let price = f.decimal("price", false, None, None);
    f.decimal("stop_loss", false, None, None);
    f.decimal("take_profit", false, None, None);
    if price.is_none() && order_type.as_deref().is_some_and(|t| t != "market") {
        f.errors.push(verr(
            Fields::loc("price"),
            "Field required for limit and stop orders",
            "missing",
            None,
        ));
    }
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let (symbol, side, order_type, volume) = (
        symbol.unwrap_or_default(),
        side.unwrap_or_default(),
        order_type.unwrap_or_default(),
        volume.unwrap_or_default(),
    );
    let account = match trading_account(&s, &a, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !account.is_active {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": format!("Account {} is closed", account.login), "error": "account_inactive"}),
        );
    }
    let Some(inst) = s
        .instruments
        .iter()
        .find(|i| i["symbol"] == json!(symbol))
        .cloned()
    else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Unknown symbol {symbol}"), "error": "not_found"}),
        );
    };
    let (min_lot, max_lot) = (inst_dec(&inst, "min_lot"), inst_dec(&inst, "max_lot"));
    if min_lot.is_some_and(|m| volume < m) || max_lot.is_some_and(|m| volume > m) {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": format!("Volume {volume} is outside the lot limits of {symbol}"), "error": "invalid_volume"}),
        );
    }
    // The same window `preflight` reports: no new crypto positions.
    if inst["category"] == json!("crypto") {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": "Crypto opening paused", "error": "trading_blocked"}),
        );
    }
    let id = s.next_trade_id.to_string();
    s.next_trade_id += 1;
    let now = Utc::now();
    let mut order = OrderRec {
        id,
        login: account.login.clone(),
        symbol: symbol.clone(),
        side: side.clone(),
        order_type: order_type.clone(),
        volume,
        price,
        status: "pending".into(),
        created_at: now,
    };
    if order_type == "market" {
        let fill = inst_dec(
            &inst,
            if side == "buy" {
                "last_ask"
            } else {
                "last_bid"
            },
        );
        let Some(fill) = fill else {
            return a.reply(
                StatusCode::CONFLICT,
                json!({"detail": format!("No price for {symbol}"), "error": "no_quote"}),
            );
        };
        let contract = inst_dec(&inst, "contract_size").unwrap_or(Decimal::ONE);
        let rate = inst_dec(&inst, "margin_rate").unwrap_or(Decimal::ONE);
        let needed = volume * contract * fill * rate;
        let free = account.balance - used_margin(&s, &account.login);
        if needed > free {
            return a.reply(
                StatusCode::BAD_REQUEST,
                json!({"detail": format!("Not enough free margin: {} needed, {} free", needed.round_dp(2), free.round_dp(2)), "error": "insufficient_margin"}),
            );
        }
        order.price = Some(fill);
        order.status = "filled".into();
        let position_id = s.next_trade_id.to_string();
        s.next_trade_id += 1;
        s.positions.push(PositionRec {
            id: position_id,
            login: account.login.clone(),
            symbol,
            side,
            volume,
            open_price: fill,
            opened_at: now,
        });
    }
    let out = order_json(&order);
    s.orders.push(order);
    a.reply(StatusCode::OK, out)
}

async fn list_orders(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let account = match trading_account(&s, &a, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let list: Vec<Value> = s
        .orders
        .iter()
        .rev()
        .filter(|o| o.login == account.login)
        .map(order_json)
        .collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

async fn list_positions(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let account = match trading_account(&s, &a, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let list: Vec<Value> = s
        .positions
        .iter()
        .filter(|p| p.login == account.login)
        .map(|p| position_json(&s, p, p.volume))
        .collect();
    a.reply(StatusCode::OK, Value::Array(list))
}

/// Closes all or part of a position at the current price and books the profit on the account.
/// Answers with the closed part (its volume and realized profit).
async fn close_position(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut s = lock(&s);
    let a = match authenticate(&mut s, &headers, Need::Any) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return a.wrap(r),
    };
    let mut f = Fields::new(&body);
    let volume = f.decimal("volume", false, None, None);
    if let Some(v) = volume.filter(|v| *v <= Decimal::ZERO) {
        f.errors.push(verr(
            Fields::loc("volume"),
            "Input should be greater than 0",
            "greater_than",
            Some(&dec_num(v)),
        ));
    }
    if let Err(r) = f.finish() {
        return a.wrap(r);
    }
    let account = match trading_account(&s, &a, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(i) = s
        .positions
        .iter()
        .position(|p| p.id == id && p.login == account.login)
    else {
        return a.reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "Position not found", "error": "not_found"}),
        );
    };
    let p = s.positions[i].clone();
    let volume = volume.unwrap_or(p.volume);
    if volume > p.volume {
        return a.reply(
            StatusCode::BAD_REQUEST,
            json!({"detail": format!("Volume {volume} exceeds the open volume {}", p.volume), "error": "invalid_volume"}),
        );
    }
    let inst = s
        .instruments
        .iter()
        .find(|x| x["symbol"] == json!(p.symbol))
        .cloned()
        .unwrap_or_default();
    let Some(price) = close_price(&inst, &p.side) else {
        return a.reply(
            StatusCode::CONFLICT,
            json!({"detail": format!("No price for {}", p.symbol), "error": "no_quote"}),
        );
    };
    let contract = inst_dec(&inst, "contract_size").unwrap_or(Decimal::ONE);
    let realized = profit(&p, volume, price, contract);
    let out = position_json(&s, &p, volume);
    if volume == p.volume {
        s.positions.remove(i);
    } else {
        s.positions[i].volume -= volume;
    }
    if let Some(acc) = s.accounts.iter_mut().find(|x| x.id == account.id) {
        acc.balance += realized;
    }
    a.reply(StatusCode::OK, out)
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/customers/login", post(customer_login))
        .route("/auth/autologin", get(autologin))
        .route("/auth/refresh", post(refresh))
        .route("/auth/sessions/{session_id}", delete(revoke_session))
        .route("/api/admin/users/login", post(staff_login))
        .route("/api/customer/login", post(customer_login_token_pair))
        .route("/customers/register", post(register))
        .route("/customers", get(list_customers))
        .route("/customers/me", get(me))
        .route("/customers/me/accounts", get(my_accounts))
        .route("/customers/me/transactions", get(my_transactions))
        .route("/customers/me/deposit", post(deposit))
        .route("/customers/me/withdraw", post(withdraw))
        .route(
            "/customers/{customer_id}",
            get(get_customer).patch(update_customer),
        )
        .route("/api-tokens", post(create_api_token).get(list_api_tokens))
        .route("/api-tokens/{token_id}/rotate", post(rotate_api_token))
        .route("/api-tokens/{token_id}", delete(revoke_api_token))
        .route("/accounts", get(list_accounts))
        .route("/accounts/{login}/state", get(account_state))
        .route("/accounts/{login}/reopen", post(reopen_account))
        .route("/accounts/{login}/close", post(close_account))
        .route("/orders/preflight", post(preflight))
        .route("/orders", post(place_order).get(list_orders))
        .route("/positions", get(list_positions))
        .route("/positions/{position_id}/close", post(close_position))
        .route("/instruments", post(create_instrument))
        .route("/instruments/{symbol}", get(get_instrument))
        .route("/broker/instruments/available", get(list_instruments))
        .route("/groups/{group_id}/instruments/bulk", put(bulk_upsert))
        .route(
            "/groups/{group_id}/instruments/{symbol}",
            put(upsert_group_instrument),
        )
        .route("/broker/groups/{group_id}/swap-rates", get(swap_rates))
        .route("/transactions", get(list_transactions))
        .route("/transactions/manual", post(manual_transaction))
        .route("/transactions/{tx_id}/decline", patch(decline))
        .route("/transactions/{tx_id}/approve", patch(approve))
        .route("/transactions/transfer", post(transfer))
        .route("/risk/customers/{customer_id}/profile", get(risk_profile))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state)
        .layer(axum::middleware::map_response(json_rejections))
}

/// A running Slate sandbox. Derefs to [`Running`] (`base_url()`, `faults`, `hits`).
pub struct Server {
    running: Running,
    state: Shared,
}

impl std::ops::Deref for Server {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Server {
    /// Makes every issued access token expired (the next call with one gets 401 `token_expired`).
    pub fn expire_all_tokens(&self) {
        let mut s = lock(&self.state);
        let past = Utc::now().timestamp() - 1;
        for rec in s.sessions.values_mut() {
            rec.expires_at = past;
        }
    }

    /// Balance of a trading account, by login.
    pub fn balance(&self, login: &str) -> Option<Decimal> {
        lock(&self.state)
            .accounts
            .iter()
            .find(|a| a.login == login)
            .map(|a| a.balance)
    }

    /// The amounts of every transaction (deposit, withdrawal, transfer) as the sandbox
    /// recorded them, oldest first.
    pub fn transaction_amounts(&self) -> Vec<Decimal> {
        lock(&self.state)
            .transactions
            .iter()
            .map(|t| t.amount)
            .collect()
    }

    /// How many successful logins (customer, autologin and staff) the sandbox has answered.
    pub fn logins(&self) -> usize {
        lock(&self.state).logins
    }

    /// The id of a customer, by email.
    pub fn customer_id(&self, email: &str) -> Option<String> {
        lock(&self.state)
            .customers
            .iter()
            .find(|c| c.email == email)
            .map(|c| c.id.clone())
    }

    /// The id of a trading account (uuid), by login.
    pub fn account_id(&self, login: &str) -> Option<String> {
        lock(&self.state)
            .accounts
            .iter()
            .find(|a| a.login == login)
            .map(|a| a.id.clone())
    }

    /// Changes the per-minute rate limit (applies from the next request).
    pub fn set_rate_limit(&self, per_minute: u32) {
        let mut s = lock(&self.state);
        s.config.rate_limit_per_minute = per_minute;
        s.rate.clear();
    }
}

/// Starts the sandbox on a free loopback port.
pub async fn start(config: Config) -> std::io::Result<Server> {
    serve_with(config, 0).await
}

/// Starts the sandbox with the default config on `port` (for the mock binary).
pub async fn serve_on(port: u16) -> std::io::Result<Server> {
    serve_with(Config::default(), port).await
}

async fn serve_with(config: Config, port: u16) -> std::io::Result<Server> {
    let state: Shared = Arc::new(Mutex::new(Sandbox::new(config)));
    let running = crate::serve(router(state.clone()), "", port).await?;
    Ok(Server { running, state })
}
