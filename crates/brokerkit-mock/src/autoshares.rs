//! An AutoShares (ETNA Trader) sandbox, written from `specs/autoshares.yaml`.
//!
//! Stateful: users (single-factor, e-mailed code, PIN), trading accounts with cash and
//! positions, a small securities master with last prices and listed options, orders that fill
//! at the last price when marketable and rest otherwise (the `/orders` and `/syncorders`
//! families share them), transactions, watchlists, price alerts, ACH relationships (instant, or
//! approved with the [`MICRO_DEPOSITS`]) and ACH transfers that settle into the cash with
//! [`Server::complete_transfers`]. It checks `Et-App-Key` on every call and the bearer token
//! on the secured ones, pages lists the AutoShares way, and evaluates the SQL-like `filter`
//! parameter with a real parser, so that a filter injection would show in the results.
//!
//! Error shapes as the reference describes them: `{"error":…}` (app key, 403 by default),
//! `{"Message":…}` (401, 400, 404, 409), `{"Message":…,"ModelState":{…}}` (422, and 400 for a
//! body that is not JSON), `{"message":…,"error":…}` (500), `{"State":"Failed",…}` (login
//! 401), `{"Errors":[…],"Reason":…}` (registration 409), and HTTP-200 failures
//! (`IsSuccessful: false` on order verification, `IsSucceed: false` on password reset).
//! Every operation of the spec has a route (the operations beyond the core flow live in
//! `autoshares/extra.rs`); any other URI or method answers ETNA's 404 `{"Message":"No HTTP
//! resource was found that matches the request URI '…'."}`, marked with [`NO_ROUTE_HEADER`].

#[path = "autoshares_stream.rs"]
pub mod stream;

mod extra;
pub use extra::{RESET_CODE, SECRET_QUESTION};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The path prefix of the API (`https://<env>.etnasoft.us/api`).
pub const PREFIX: &str = "/api";

/// The second factor a user must give after the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code "sent by e-mail or SMS" (step `VerificationCode`).
    VerificationCode(String),
    /// The user's PIN (step `SecutityPin`).
    Pin(String),
}

/// A sandbox user and the trading accounts it owns.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i32,
    pub login: String,
    pub password: String,
    pub email: String,
    pub second_factor: Option<SecondFactor>,
    /// Trading account ids and their starting cash.
    pub accounts: Vec<(i32, Decimal)>,
}

/// Sandbox settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The only `Et-App-Key` accepted.
    pub app_key: String,
    /// Status of an app-key refusal: 403 (published API, default) or 401 (2026 pages).
    pub app_key_status: u16,
    pub users: Vec<User>,
    /// How long a token is accepted.
    pub token_lifetime: Duration,
    /// Commission of every order.
    pub commission: Decimal,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            app_key: "sandbox-app-key".into(),
            app_key_status: 403,
            users: vec![
                User {
                    id: 1045,
                    login: "trader".into(),
                    password: "trader-pass".into(),
                    email: "trader@example.com".into(),
                    second_factor: None,
                    accounts: vec![(2001, Decimal::new(100_000, 0))],
                },
                User {
                    id: 1046,
                    login: "twofactor".into(),
                    password: "twofactor-pass".into(),
                    email: "twofactor@example.com".into(),
                    second_factor: Some(SecondFactor::VerificationCode("845213".into())),
                    accounts: vec![(2002, Decimal::new(50_000, 0))],
                },
                User {
                    id: 1047,
                    login: "pinuser".into(),
                    password: "pinuser-pass".into(),
                    email: "pinuser@example.com".into(),
                    second_factor: Some(SecondFactor::Pin("4321".into())),
                    accounts: vec![(2003, Decimal::new(10_000, 0))],
                },
            ],
            token_lifetime: Duration::from_secs(24 * 60 * 60),
            commission: Decimal::new(495, 2),
        }
    }
}

#[derive(Clone, Debug)]
struct Security {
    id: i32,
    symbol: String,
    description: String,
    exchange: String,
    currency: String,
    kind: &'static str,
    last: Decimal,
    allow_short: bool,
}

#[derive(Clone, Debug)]
struct Account {
    id: i32,
    user_id: i32,
    clearing: String,
    cash: Decimal,
    positions: BTreeMap<i32, Position>,
}

#[derive(Clone, Debug)]
struct Position {
    id: i32,
    security_id: i32,
    quantity: Decimal,
    average_price: Decimal,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct Order {
    id: i32,
    account_id: i32,
    user_id: i32,
    security_id: i32,
    symbol: String,
    side: String,
    kind: String,
    quantity: Decimal,
    price: Option<Decimal>,
    stop_price: Option<Decimal>,
    tif: String,
    status: &'static str,
    executed: Decimal,
    average_price: Option<Decimal>,
    created: DateTime<Utc>,
    description: Option<String>,
    client_id: Option<String>,
}

#[derive(Clone, Debug)]
struct Transaction {
    id: i32,
    account_id: i32,
    order_id: i32,
    security_id: i32,
    symbol: String,
    kind: &'static str,
    date: DateTime<Utc>,
    value: Decimal,
    quantity: Decimal,
    price: Decimal,
}

#[derive(Clone, Debug)]
struct Alert {
    id: i32,
    user_id: i32,
    state: String,
    operator: String,
    security_id: i32,
    field: String,
    argument: Decimal,
    expiration: i64,
    created: i64,
}

#[derive(Clone, Debug)]
struct Watchlist {
    id: i32,
    user_id: i32,
    name: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    securities: Vec<i32>,
}

#[derive(Clone, Debug)]
struct OptionContract {
    id: i32,
    symbol: String,
    underlying: String,
    call: bool,
    strike: Decimal,
    expiration: DateTime<Utc>,
    series: i32,
}

#[derive(Clone, Debug)]
struct AchRelationship {
    id: String,
    account_id: i32,
    routing: String,
    account_number: String,
    owner: String,
    bank: String,
    bank_account_type: Option<String>,
    approval: String,
    status: &'static str,
    created: DateTime<Utc>,
    cancelled: Option<(DateTime<Utc>, String)>,
    default: bool,
}

#[derive(Clone, Debug)]
struct Transfer {
    id: String,
    account_id: i32,
    /// `ACH`, `Wire`, `Check` or `Zelle`.
    mechanism: &'static str,
    deposit: bool,
    amount: Decimal,
    status: &'static str,
    comment: Option<String>,
    created: DateTime<Utc>,
    clearing: String,
    created_by: String,
}

struct Session {
    user_id: i32,
    issued: Instant,
}

struct Interim {
    user_id: i32,
}

struct Sandbox {
    config: Config,
    securities: Vec<Security>,
    accounts: Vec<Account>,
    orders: Vec<Order>,
    transactions: Vec<Transaction>,
    alerts: Vec<Alert>,
    watchlists: Vec<Watchlist>,
    options: Vec<OptionContract>,
    ach: Vec<AchRelationship>,
    transfers: Vec<Transfer>,
    tokens: HashMap<String, Session>,
    interim: HashMap<String, Interim>,
    serial: u64,
    next_id: i32,
    extra: extra::Extra,
}

type Shared = Arc<Mutex<Sandbox>>;
type Answer = Result<Response, Response>;

fn lock(state: &Shared) -> MutexGuard<'_, Sandbox> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------- error shapes

fn respond(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn message(status: StatusCode, text: &str) -> Response {
    respond(status, json!({ "Message": text }))
}

fn denied() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "Authorization has been denied for this request.",
    )
}

fn invalid() -> Response {
    message(StatusCode::BAD_REQUEST, "The request is invalid.")
}

fn server_error() -> Response {
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "An error occurred while processing your request", "error": "Unexpected server error"}),
    )
}

fn validation(fields: &[(&str, &str)]) -> Response {
    validation_owned(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn validation_owned(fields: Vec<(String, String)>) -> Response {
    let mut state: Map<String, Value> = Map::new();
    for (k, v) in fields {
        match state.get_mut(&k).and_then(Value::as_array_mut) {
            Some(list) => list.push(Value::String(v)),
            None => {
                state.insert(k, json!([v]));
            }
        }
    }
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"Message": "Validation error occured while processing entity", "ModelState": state}),
    )
}

/// ETNA's answer to a URI no route matches (also to a missing required query parameter, and
/// to every operation this sandbox does not serve). `uri` is relative to [`PREFIX`].
fn no_route(uri: &Uri) -> Response {
    message(
        StatusCode::NOT_FOUND,
        &format!(
            "No HTTP resource was found that matches the request URI 'http://localhost{PREFIX}{uri}'."
        ),
    )
}

fn login_failed(step: &str, reason: &str) -> Response {
    respond(
        StatusCode::UNAUTHORIZED,
        json!({"State": "Failed", "Step": step, "Reason": reason}),
    )
}

/// Decimals go out as JSON numbers, as the spec declares.
fn num(d: Decimal) -> Value {
    serde_json::from_str::<Value>(&d.normalize().to_string()).unwrap_or(Value::Null)
}

fn opt_num(d: Option<Decimal>) -> Value {
    d.map(num).unwrap_or(Value::Null)
}

fn date(d: DateTime<Utc>) -> Value {
    Value::String(d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string())
            .ok()
            .or_else(|| n.as_f64().and_then(|f| Decimal::try_from(f).ok())),
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}

/// A body that is not JSON: Web API's formatter leaves the model unbound and the answer is the
/// framework's invalid-request body with the parse error in `ModelState`.
fn parse_body(body: &Bytes) -> Result<Value, Response> {
    crate::exact::from_slice(body).map_err(|e| {
        respond(
            StatusCode::BAD_REQUEST,
            json!({
                "Message": "The request is invalid.",
                "ModelState": {"model": [format!("Unexpected character encountered while parsing the body: {e}.")]},
            }),
        )
    })
}

/// A body the model binder may leave empty: no body binds as an empty model, whose missing
/// fields the handler then reports the vendor's way.
fn parse_body_or_empty(body: &Bytes) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    parse_body(body)
}

// ---------------------------------------------------------------- the sandbox

impl Sandbox {
    fn token(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!(
            "{prefix}{:016x}{:08x}",
            self.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            self.serial
        )
    }

    fn id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }

    /// A fresh UUID (version 4 layout, deterministic).
    fn uuid(&mut self) -> String {
        self.serial += 1;
        let h = self.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (h >> 32) as u32,
            (h >> 16) as u16,
            (h & 0xfff) as u16,
            (self.serial >> 12) & 0xfff,
            self.serial & 0xffff_ffff_ffff
        )
    }

    /// Every call: the app key.
    fn app_key(&self, headers: &HeaderMap) -> Result<(), Response> {
        if header(headers, "et-app-key") == Some(self.config.app_key.as_str()) {
            return Ok(());
        }
        let status =
            StatusCode::from_u16(self.config.app_key_status).unwrap_or(StatusCode::FORBIDDEN);
        Err(respond(
            status,
            json!({"error": "Application key is not defined or does not exist"}),
        ))
    }

    /// Secured calls: the app key and a live bearer token. Returns the user id.
    fn auth(&self, headers: &HeaderMap) -> Result<i32, Response> {
        self.app_key(headers)?;
        let token = header(headers, "authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(denied)?;
        let session = self.tokens.get(token).ok_or_else(denied)?;
        if session.issued.elapsed() >= self.config.token_lifetime {
            return Err(denied());
        }
        Ok(session.user_id)
    }

    fn user(&self, id: i32) -> Option<&User> {
        self.config.users.iter().find(|u| u.id == id)
    }

    /// `{userId}`: `@me` or the token's own id (other users are refused).
    fn user_param(&self, me: i32, raw: &str) -> Result<i32, Response> {
        if raw == "@me" {
            return Ok(me);
        }
        match raw.parse::<i32>() {
            Ok(id) if id == me => Ok(id),
            Ok(_) => Err(denied()),
            Err(_) => Err(invalid()),
        }
    }

    /// `{accountId}`: one of the token user's accounts. `@me` is invalid; a user id where an
    /// account id belongs fails inside the server (500), another user's account is 401.
    fn account_param(&self, me: i32, raw: &str) -> Result<usize, Response> {
        let id: i32 = raw.parse().map_err(|_| invalid())?;
        match self.accounts.iter().position(|a| a.id == id) {
            Some(i) if self.accounts[i].user_id == me => Ok(i),
            Some(_) => Err(denied()),
            None if self.config.users.iter().any(|u| u.id == id) => Err(server_error()),
            None => Err(invalid()),
        }
    }

    fn security(&self, symbol: &str) -> Option<&Security> {
        self.securities
            .iter()
            .find(|s| s.symbol.eq_ignore_ascii_case(symbol))
    }

    fn security_by_id(&self, id: i32) -> Option<&Security> {
        self.securities.iter().find(|s| s.id == id)
    }

    fn market_value(&self, account: &Account) -> Decimal {
        account
            .positions
            .values()
            .map(|p| {
                p.quantity
                    * self
                        .security_by_id(p.security_id)
                        .map(|s| s.last)
                        .unwrap_or_default()
            })
            .sum()
    }

    fn working_cost(&self, account_id: i32) -> Decimal {
        self.orders
            .iter()
            .filter(|o| {
                o.account_id == account_id
                    && matches!(o.status, "New" | "PartiallyFilled")
                    && o.side == "Buy"
            })
            .map(|o| (o.quantity - o.executed) * o.price.unwrap_or_default())
            .sum()
    }

    fn buying_power(&self, account: &Account) -> Decimal {
        account.cash - self.working_cost(account.id)
    }
}

// ---------------------------------------------------------------- the filter language

#[derive(Clone, Debug, PartialEq)]
enum FVal {
    Num(Decimal),
    Str(String),
    Date(DateTime<Utc>),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Lit(FVal),
    Op(String),
    LParen,
    RParen,
    Comma,
}

#[derive(Clone, Debug)]
enum Cond {
    Cmp(String, String, FVal),
    Between(String, FVal, FVal),
    In(String, Vec<FVal>),
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim_end_matches('Z');
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .map(|n| n.and_utc())
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                out.push(Tok::Op("=".into()));
                i += 1;
            }
            '<' | '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::Op(format!("{c}=")));
                    i += 2;
                } else {
                    out.push(Tok::Op(c.to_string()));
                    i += 1;
                }
            }
            '\'' => {
                // A string literal; `''` is a quote inside it.
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Lit(FVal::Str(s)));
            }
            '#' => {
                let end = chars[i + 1..].iter().position(|c| *c == '#')? + i + 1;
                let text: String = chars[i + 1..end].iter().collect();
                out.push(Tok::Lit(FVal::Date(parse_date(&text)?)));
                i = end + 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Tok::Lit(FVal::Num(Decimal::from_str(&text).ok()?)));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.to_ascii_lowercase().as_str() {
                    "true" => out.push(Tok::Lit(FVal::Bool(true))),
                    "false" => out.push(Tok::Lit(FVal::Bool(false))),
                    _ => out.push(Tok::Ident(word)),
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(kw))
}

fn parse_filter(text: &str) -> Option<Vec<Cond>> {
    let toks = tokenize(text)?;
    let mut i = 0;
    let mut conds = Vec::new();
    let lit = |t: Option<&Tok>| match t {
        Some(Tok::Lit(v)) => Some(v.clone()),
        _ => None,
    };
    loop {
        let Some(Tok::Ident(field)) = toks.get(i) else {
            return None;
        };
        let field = field.clone();
        i += 1;
        match toks.get(i) {
            Some(Tok::Op(op)) => {
                conds.push(Cond::Cmp(field, op.clone(), lit(toks.get(i + 1))?));
                i += 2;
            }
            t if is_kw(t, "between") => {
                let a = lit(toks.get(i + 1))?;
                if !is_kw(toks.get(i + 2), "and") {
                    return None;
                }
                let b = lit(toks.get(i + 3))?;
                conds.push(Cond::Between(field, a, b));
                i += 4;
            }
            t if is_kw(t, "in") => {
                if toks.get(i + 1) != Some(&Tok::LParen) {
                    return None;
                }
                i += 2;
                let mut values = vec![lit(toks.get(i))?];
                i += 1;
                while toks.get(i) == Some(&Tok::Comma) {
                    values.push(lit(toks.get(i + 1))?);
                    i += 2;
                }
                if toks.get(i) != Some(&Tok::RParen) {
                    return None;
                }
                i += 1;
                conds.push(Cond::In(field, values));
            }
            _ => return None,
        }
        if i == toks.len() {
            return Some(conds);
        }
        if !is_kw(toks.get(i), "and") {
            return None;
        }
        i += 1;
    }
}

fn cmp(a: &FVal, b: &FVal) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (FVal::Num(x), FVal::Num(y)) => Some(x.cmp(y)),
        (FVal::Str(x), FVal::Str(y)) => Some(x.cmp(y)),
        (FVal::Date(x), FVal::Date(y)) => Some(x.cmp(y)),
        (FVal::Bool(x), FVal::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Applies a filter to rows exposing `fields`; an unknown field or bad syntax is a 400.
fn apply_filter<T>(
    rows: Vec<T>,
    filter: Option<&String>,
    fields: impl Fn(&T, &str) -> Option<FVal>,
) -> Result<Vec<T>, Response> {
    let Some(text) = filter.filter(|f| !f.trim().is_empty()) else {
        return Ok(rows);
    };
    let bad = || {
        message(
            StatusCode::BAD_REQUEST,
            "Filter query is invalid or contains unsupported operations.",
        )
    };
    let conds = parse_filter(text).ok_or_else(bad)?;
    let mut out = Vec::new();
    for row in rows {
        let mut keep = true;
        for c in &conds {
            let name = match c {
                Cond::Cmp(f, ..) | Cond::Between(f, ..) | Cond::In(f, ..) => f,
            };
            let v = fields(&row, name).ok_or_else(bad)?;
            let ok = match c {
                Cond::Cmp(_, op, lit) => match (op.as_str(), cmp(&v, lit)) {
                    ("=", Some(o)) => o.is_eq(),
                    ("<", Some(o)) => o.is_lt(),
                    (">", Some(o)) => o.is_gt(),
                    ("<=", Some(o)) => o.is_le(),
                    (">=", Some(o)) => o.is_ge(),
                    _ => false,
                },
                Cond::Between(_, a, b) => {
                    cmp(&v, a).is_some_and(|o| o.is_ge()) && cmp(&v, b).is_some_and(|o| o.is_le())
                }
                Cond::In(_, values) => values.iter().any(|x| cmp(&v, x).is_some_and(|o| o.is_eq())),
            };
            keep &= ok;
        }
        if keep {
            out.push(row);
        }
    }
    Ok(out)
}

const ORDER_STATUSES: &[&str] = &[
    "New",
    "PartiallyFilled",
    "Filled",
    "DoneForDay",
    "Canceled",
    "Replaced",
    "PendingCancel",
    "Stopped",
    "Rejected",
    "Suspended",
    "PendingNew",
    "Calculated",
    "Expired",
    "AcceptedForBidding",
    "PendingReplace",
    "Error",
    "Held",
];
const SIDES: &[&str] = &["Buy", "Sell", "SellShort", "BuyToCover"];
/// Every order type, in ordinal order (filters compare ordinals).
const ORDER_TYPE_NAMES: &[&str] = &[
    "Market",
    "Limit",
    "Stop",
    "StopLimit",
    "Pegged",
    "TrailingStop",
    "TrailingStopLimit",
    "OneCancelOther",
    "OneTriggerOther",
    "OneTriggerOneCancelOther",
    "External",
    "MutualFundsExchange",
    "StagingBlotter",
];
const TIME_IN_FORCE: &[&str] = &[
    "Day",
    "GoodTillCancel",
    "AtTheOpening",
    "ImmediateOrCancel",
    "FillOrKill",
    "GoodTillCrossing",
    "GoodTillDate",
    "AtTheClose",
    "GoodTillTime",
    "GoodTillCancelPlus",
    "GoodTillDatePlus",
];

fn ordinal(list: &[&str], v: &str) -> FVal {
    FVal::Num(Decimal::from(
        list.iter().position(|x| *x == v).unwrap_or(99) as i64,
    ))
}

// ---------------------------------------------------------------- paging

fn required<'a>(
    q: &'a HashMap<String, String>,
    name: &str,
    uri: &Uri,
) -> Result<&'a str, Response> {
    q.get(name).map(String::as_str).ok_or_else(|| no_route(uri))
}

fn paging(
    q: &HashMap<String, String>,
    uri: &Uri,
    number: &str,
) -> Result<(usize, usize), Response> {
    let page: usize = required(q, number, uri)?.parse().map_err(|_| invalid())?;
    let size: usize = required(q, "pageSize", uri)?
        .parse()
        .map_err(|_| invalid())?;
    if size == 0 || size > 100 {
        return Err(validation(&[(
            "pageSize",
            "The page size must be between 1 and 100.",
        )]));
    }
    Ok((page, size))
}

fn page(items: Vec<Value>, page: usize, size: usize, uri: &Uri) -> Value {
    let total = items.len();
    let rows: Vec<Value> = items.into_iter().skip(page * size).take(size).collect();
    let link = |n: usize| {
        let path = uri.path();
        Value::String(format!("{path}?pageNumber={n}&pageSize={size}"))
    };
    json!({
        "Result": rows,
        "NextPageLink": if (page + 1) * size < total { link(page + 1) } else { Value::Null },
        "PreviousPageLink": if page > 0 { link(page - 1) } else { Value::Null },
        "TotalCount": total,
    })
}

fn sort_rows(rows: &mut [Value], q: &HashMap<String, String>, field_param: &str, desc_param: &str) {
    let Some(field) = q.get(field_param) else {
        return;
    };
    let desc = q.get(desc_param).is_some_and(|v| v == "true");
    rows.sort_by(|a, b| {
        let (x, y) = (&a[field.as_str()], &b[field.as_str()]);
        let o = match (x, y) {
            (Value::Number(m), Value::Number(n)) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            _ => x.to_string().cmp(&y.to_string()),
        };
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

// ---------------------------------------------------------------- JSON views

fn order_json(o: &Order) -> Value {
    json!({
        "Id": o.id, "AccountId": o.account_id, "UserId": o.user_id, "SecurityId": o.security_id,
        "Symbol": o.symbol, "Currency": "USD", "SecurityType": "CommonStock",
        "Side": o.side, "Type": o.kind, "InitialType": o.kind, "TimeInForce": o.tif,
        "Quantity": num(o.quantity), "Price": opt_num(o.price), "StopPrice": opt_num(o.stop_price),
        "ExecutedQuantity": num(o.executed), "LeavesQuantity": num(if matches!(o.status, "New" | "PartiallyFilled" | "PendingNew") { o.quantity - o.executed } else { Decimal::ZERO }),
        "AveragePrice": opt_num(o.average_price), "LastPrice": opt_num(o.average_price),
        "Status": o.status, "ExecutionStatus": o.status,
        "RequestStatus": if o.status == "Rejected" { "Rejected" } else { "Complete" },
        "Description": o.description, "ClientId": o.client_id, "ParentId": -1,
        "ExecInst": 0,
        "CreateDate": date(o.created), "Date": date(o.created), "Legs": [],
    })
}

fn position_json(s: &Sandbox, account: &Account, p: &Position) -> Value {
    let sec = s.security_by_id(p.security_id);
    let last = sec.map(|s| s.last).unwrap_or_default();
    json!({
        "Id": p.id, "AccountId": account.id, "SecurityId": p.security_id,
        "Symbol": sec.map(|s| s.symbol.clone()), "Name": sec.map(|s| s.description.clone()),
        "SecurityCurrency": "USD", "SecurityType": "CommonStock", "ContractSize": 1,
        "Quantity": num(p.quantity), "AverageOpenPrice": num(p.average_price),
        "CostBasis": num(p.quantity * p.average_price),
        "UnrealizedProfitLoss": num((last - p.average_price) * p.quantity),
        "MarginType": "Cash", "CreateDate": date(p.created), "ModifyDate": date(p.modified),
        "ClearingAccount": account.clearing, "Currency": "USD",
    })
}

fn security_json(s: &Security) -> Value {
    json!({
        "Id": s.id, "Symbol": s.symbol, "Description": s.description, "Exchange": s.exchange,
        "Currency": s.currency, "Type": s.kind, "Precision": 2, "VolumePrecision": 0,
        "TickSize": 0.01, "ContractSize": 1, "Enabled": true, "AllowTrade": true,
        "AllowMargin": true, "AllowShort": s.allow_short,
    })
}

fn transaction_json(t: &Transaction) -> Value {
    json!({
        "Id": t.id, "AccountId": t.account_id, "OrderId": t.order_id, "SecurityId": t.security_id,
        "Symbol": t.symbol, "Type": t.kind, "Date": date(t.date), "SettlementDate": date(t.date),
        "Value": num(t.value), "Quantity": num(t.quantity), "Price": num(t.price), "IsDayTrade": false,
    })
}

fn user_json(u: &User) -> Value {
    json!({
        "UserId": u.id, "FirstName": u.login, "MiddleName": "", "LastName": "Sandbox",
        "Login": u.login, "Email": u.email, "Role": 1, "AddedDate": "2020-07-30T10:00:00.000Z",
        "Salutation": "NoSalutation", "Suffix": "NoSuffix",
    })
}

// ---------------------------------------------------------------- handlers: login

async fn token(State(st): State<Shared>, headers: HeaderMap) -> Answer {
    let mut s = lock(&st);
    s.app_key(&headers)?;
    let username = header(&headers, "username").unwrap_or_default().to_string();
    let password = header(&headers, "password").unwrap_or_default().to_string();
    let Some(user) = s
        .config
        .users
        .iter()
        .find(|u| u.login == username && u.password == password)
        .cloned()
    else {
        return Err(login_failed("BaseAuthentication", "Invalid credentials"));
    };
    let interim = header(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let code = header(&headers, "verificationcode").filter(|v| !v.is_empty());
    let pin = header(&headers, "pincode").filter(|v| !v.is_empty());
    let issue = |s: &mut Sandbox| {
        let t = s.token("tok-");
        s.tokens.insert(
            t.clone(),
            Session {
                user_id: user.id,
                issued: Instant::now(),
            },
        );
        t
    };
    let Some(factor) = user.second_factor.clone() else {
        let t = issue(&mut s);
        return Ok(respond(
            StatusCode::OK,
            json!({"State": "Succeeded", "Token": t}),
        ));
    };
    let (step, expected, given) = match &factor {
        SecondFactor::VerificationCode(c) => ("VerificationCode", c, code),
        SecondFactor::Pin(p) => ("SecutityPin", p, pin),
    };
    let Some(given) = given else {
        // First step: hand out an interim token and ask for the factor.
        let t = s.token("interim-");
        s.interim.insert(t.clone(), Interim { user_id: user.id });
        let reason = if step == "VerificationCode" {
            "Expecting confirmation code"
        } else {
            "Expecting pin"
        };
        return Ok(respond(
            StatusCode::ACCEPTED,
            json!({"State": "Expecting", "Step": step, "Reason": reason, "Token": t}),
        ));
    };
    let valid_interim = interim
        .as_ref()
        .and_then(|t| s.interim.get(t))
        .is_some_and(|i| i.user_id == user.id);
    if !valid_interim {
        return Err(login_failed(step, "Corrupted ticket"));
    }
    if given != expected {
        let reason = if step == "VerificationCode" {
            "Invalid verification code"
        } else {
            "Invalid pin"
        };
        return Err(login_failed(step, reason));
    }
    if let Some(t) = interim {
        s.interim.remove(&t);
    }
    let t = issue(&mut s);
    Ok(respond(
        StatusCode::OK,
        json!({"State": "Succeeded", "Token": t}),
    ))
}

async fn logout(State(st): State<Shared>, headers: HeaderMap) -> Answer {
    let mut s = lock(&st);
    s.auth(&headers)?;
    if let Some(t) = header(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string)
    {
        s.tokens.remove(&t);
    }
    Ok(StatusCode::OK.into_response())
}

// ---------------------------------------------------------------- handlers: users, accounts

async fn user_info(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.user_param(me, &user)?;
    let u = s.user(id).ok_or_else(invalid)?;
    Ok(respond(StatusCode::OK, s.extra.profile(u.id, user_json(u))))
}

async fn user_accounts(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.user_param(me, &user)?;
    let rows: Vec<Value> = s
        .accounts
        .iter()
        .filter(|a| a.user_id == id)
        .map(|a| {
            json!({"Id": a.id, "ClearingAccount": a.clearing, "AccessType": "Owner", "MarginType": "Cash",
                   "OwnerType": "IndividualCustomer", "Enabled": true, "Currency": "USD",
                   "Alias": s.extra.alias(a.id)})
        })
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

async fn balance(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    let mv = s.market_value(a);
    let cost: Decimal = a
        .positions
        .values()
        .map(|p| p.quantity * p.average_price)
        .sum();
    let pending = s
        .orders
        .iter()
        .filter(|o| o.account_id == a.id && matches!(o.status, "New" | "PartiallyFilled"))
        .count();
    Ok(respond(
        StatusCode::OK,
        json!({
            "cash": num(a.cash), "netCash": num(a.cash), "equityTotal": num(a.cash + mv), "netLiquidity": num(a.cash + mv),
            "marketValue": num(mv), "stockLongMarketValue": num(mv), "stockBuyingPower": num(s.buying_power(a)),
            "pendingOrdersCount": pending, "dayTrades": 0, "openPL": num(mv - cost), "closePL": 0,
        }),
    ))
}

fn account_model_json(s: &Sandbox, a: &Account) -> Value {
    let mv = s.market_value(a);
    let owner = s.user(a.user_id);
    json!({
        "Id": a.id, "ClearingAccount": a.clearing, "UserId": a.user_id,
        "Login": owner.map(|u| u.login.clone()), "Email": owner.map(|u| u.email.clone()),
        "Enabled": true, "Cash": num(a.cash), "Currency": "USD", "Status": "Approved",
        "MarginType": "Cash", "OwnerType": "IndividualCustomer", "MarketValue": num(mv),
        "EquityTotal": num(a.cash + mv), "AvailableToWithdraw": num(s.buying_power(a)),
        "AccountName": format!("{} cash account", owner.map(|u| u.login.as_str()).unwrap_or("sandbox")),
    })
}

/// The published API answers a list (of the one account).
async fn account_by_id(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    Ok(respond(StatusCode::OK, json!([account_model_json(&s, a)])))
}

/// The accounts the token may see (a user token: its own), paged; `mask` searches the
/// clearing number, `propertyName` sorts, `isAscending` (default true) orders.
async fn all_accounts(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    let ascending = match q.get("isAscending") {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(invalid()),
    };
    let mask = q
        .get("mask")
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_default();
    let mine: Vec<Account> = s
        .accounts
        .iter()
        .filter(|a| a.user_id == me && a.clearing.to_ascii_uppercase().contains(&mask))
        .cloned()
        .collect();
    let rows = apply_filter(mine, q.get("filter"), |a, f| match f {
        "Id" => Some(FVal::Num(a.id.into())),
        "ClearingAccount" => Some(FVal::Str(a.clearing.clone())),
        "Cash" => Some(FVal::Num(a.cash)),
        "Currency" => Some(FVal::Str("USD".into())),
        "Enabled" => Some(FVal::Bool(true)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = rows.iter().map(|a| account_model_json(&s, a)).collect();
    let mut order = q.clone();
    order.insert("__desc".into(), (!ascending).to_string());
    order
        .entry("propertyName".into())
        .or_insert_with(|| "Id".into());
    sort_rows(&mut rows, &order, "propertyName", "__desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

async fn user_exchanges(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    s.user_param(me, &user)?;
    Ok(respond(
        StatusCode::OK,
        json!(["NYSE", "NSDQ", "ARCA", "BATS", "EDGX", "Auto"]),
    ))
}

// ---------------------------------------------------------------- handlers: securities

fn equity_field(sec: &Security, f: &str) -> Option<FVal> {
    match f {
        "Id" => Some(FVal::Num(sec.id.into())),
        "Symbol" => Some(FVal::Str(sec.symbol.clone())),
        "Description" => Some(FVal::Str(sec.description.clone())),
        "Exchange" => Some(FVal::Str(sec.exchange.clone())),
        "Currency" => Some(FVal::Str(sec.currency.clone())),
        "Enabled" | "AllowTrade" | "AllowMargin" => Some(FVal::Bool(true)),
        "AllowShort" => Some(FVal::Bool(sec.allow_short)),
        _ => None,
    }
}

async fn equities(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortField", &uri)?;
    flag(&q, "desc", &uri)?;
    let rows = apply_filter(s.securities.clone(), q.get("filter"), equity_field)?;
    let mut rows: Vec<Value> = rows.iter().map(security_json).collect();
    sort_rows(&mut rows, &q, "sortField", "desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

/// Equities whose symbol starts with the mask, or whose description or exchange contains it.
async fn equities_by_mask(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let mask = required(&q, "mask", &uri)?.to_ascii_uppercase();
    let count: i32 = required(&q, "count", &uri)?
        .parse()
        .map_err(|_| invalid())?;
    let hits: Vec<Security> = s
        .securities
        .iter()
        .filter(|sec| {
            sec.symbol.starts_with(&mask)
                || sec.description.to_ascii_uppercase().contains(&mask)
                || sec.exchange.to_ascii_uppercase() == mask
        })
        .cloned()
        .collect();
    let rows = apply_filter(hits, q.get("filter"), equity_field)?;
    let rows: Vec<Value> = rows
        .iter()
        .take(count.max(0) as usize)
        .map(security_json)
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

fn option_json(o: &OptionContract) -> Value {
    let kind = if o.call { "Call" } else { "Put" };
    json!({
        "Id": o.id, "Symbol": o.symbol,
        "Name": format!("{} {} {} {}", o.underlying, o.expiration.format("%b %d %Y"), o.strike.normalize(), kind),
        "Description": format!("{} option", o.underlying), "Exchange": "OPRA", "Currency": "USD",
        "Type": "Option", "Precision": 2, "VolumePrecision": 0, "TickSize": 0.01, "Enabled": true,
        "AllowTrade": true, "AllowMargin": false, "AllowShort": false, "OptionType": kind,
        "ExpirationType": "Regular", "ExpirationDate": date(o.expiration), "StrikePrice": num(o.strike),
        "SeriesId": o.series, "UnderlyingAssetSymbol": o.underlying, "ContractSize": 100,
    })
}

fn option_field(o: &OptionContract, f: &str) -> Option<FVal> {
    match f {
        "Id" => Some(FVal::Num(o.id.into())),
        "Symbol" => Some(FVal::Str(o.symbol.clone())),
        "UnderlyingAssetSymbol" | "Underlying" => Some(FVal::Str(o.underlying.clone())),
        "OptionType" => Some(FVal::Num(if o.call { 0.into() } else { 1.into() })),
        "StrikePrice" => Some(FVal::Num(o.strike)),
        "ExpirationDate" | "Expiration" => Some(FVal::Date(o.expiration)),
        "ExpirationType" => Some(FVal::Num(Decimal::ZERO)),
        "SeriesId" => Some(FVal::Num(o.series.into())),
        _ => None,
    }
}

async fn list_options(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortField", &uri)?;
    flag(&q, "desc", &uri)?;
    let rows = apply_filter(s.options.clone(), q.get("filter"), option_field)?;
    let mut rows: Vec<Value> = rows.iter().map(option_json).collect();
    sort_rows(&mut rows, &q, "sortField", "desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

async fn option(State(st): State<Shared>, headers: HeaderMap, Path(key): Path<String>) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let found = match key.parse::<i32>() {
        Ok(id) => s.options.iter().find(|o| o.id == id),
        Err(_) => s
            .options
            .iter()
            .find(|o| o.symbol.eq_ignore_ascii_case(&key)),
    };
    let o = found
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))?;
    Ok(respond(StatusCode::OK, option_json(o)))
}

async fn option_expirations(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let underlying = required(&q, "underlying", &uri)?;
    let mut seen: Vec<(i32, DateTime<Utc>)> = Vec::new();
    for o in s
        .options
        .iter()
        .filter(|o| o.underlying.eq_ignore_ascii_case(underlying))
    {
        if !seen.iter().any(|(series, _)| *series == o.series) {
            seen.push((o.series, o.expiration));
        }
    }
    seen.sort_by_key(|(_, d)| *d);
    let rows: Vec<Value> = seen
        .iter()
        .map(|(series, d)| {
            json!({"SeriesId": series, "SeriesType": "Standard", "ExpirationDate": date(*d), "ExpirationType": "Regular"})
        })
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

async fn equity(State(st): State<Shared>, headers: HeaderMap, Path(key): Path<String>) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let sec = match key.parse::<i32>() {
        Ok(id) => s.security_by_id(id),
        Err(_) => s.security(&key),
    };
    let sec =
        sec.ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))?;
    Ok(respond(StatusCode::OK, security_json(sec)))
}

// ---------------------------------------------------------------- handlers: orders

struct Check {
    ok: bool,
    code: &'static str,
    text: String,
    args: Vec<String>,
    cost: Decimal,
}

impl Sandbox {
    /// Validates an order body (422 for a malformed one) and prices it.
    fn check_order(
        &self,
        account: &Account,
        body: &Value,
    ) -> Result<(Check, Option<Security>), Response> {
        let symbol = body["Symbol"].as_str().unwrap_or_default();
        let qty = decimal_of(&body["Quantity"]);
        let mut missing = Vec::new();
        if symbol.is_empty() {
            missing.push((
                "placeParams.Symbol".to_string(),
                "The Symbol field is required.".to_string(),
            ));
        }
        if qty.is_none() {
            missing.push((
                "placeParams.Quantity".to_string(),
                "The Quantity field is required.".to_string(),
            ));
        }
        // Enumerations bind by name; anything else is a model-state error.
        enum_param(body, "placeParams", "Side", SIDES, true, &mut missing);
        enum_param(
            body,
            "placeParams",
            "Type",
            ORDER_TYPE_NAMES,
            false,
            &mut missing,
        );
        enum_param(
            body,
            "placeParams",
            "TimeInforce",
            TIME_IN_FORCE,
            false,
            &mut missing,
        );
        enum_param(
            body,
            "placeParams",
            "TimeInForce",
            TIME_IN_FORCE,
            false,
            &mut missing,
        );
        if !missing.is_empty() {
            return Err(validation_owned(missing));
        }
        let qty = qty.unwrap_or_default();
        let kind = body["Type"].as_str().unwrap_or("Market");
        let side = body["Side"].as_str().unwrap_or("Buy");
        let price = decimal_of(&body["Price"]);
        let reject = |code: &'static str, text: &str, args: Vec<String>| Check {
            ok: false,
            code,
            text: text.into(),
            args,
            cost: Decimal::ZERO,
        };
        let Some(sec) = self.security(symbol).cloned() else {
            return Ok((
                reject(
                    "SymbolNotFound",
                    "Symbol not found",
                    vec![symbol.to_string()],
                ),
                None,
            ));
        };
        if qty <= Decimal::ZERO {
            return Ok((
                reject(
                    "InvalidQuantity",
                    "Quantity must be positive",
                    vec![qty.to_string()],
                ),
                Some(sec),
            ));
        }
        if matches!(kind, "Limit" | "StopLimit") && price.is_none_or(|p| p <= Decimal::ZERO) {
            return Ok((
                reject(
                    "QuotePriceIsInvalid",
                    "Quote price is invalid",
                    vec![opt_num(price).to_string()],
                ),
                Some(sec),
            ));
        }
        let unit = if kind == "Market" {
            sec.last
        } else {
            price.unwrap_or(sec.last)
        };
        let cost = unit * qty;
        if side == "Buy" {
            let power = self.buying_power(account);
            if cost + self.config.commission > power {
                return Ok((
                    Check {
                        ok: false,
                        code: "DayTradingBuyingPowerExceeded",
                        text: "Day trading buying power exceeded".into(),
                        args: vec![
                            (cost + self.config.commission).normalize().to_string(),
                            power.normalize().to_string(),
                        ],
                        cost,
                    },
                    Some(sec),
                ));
            }
        } else {
            let held = account
                .positions
                .get(&sec.id)
                .map(|p| p.quantity)
                .unwrap_or_default();
            if held < qty {
                return Ok((
                    reject(
                        "InsufficientShares",
                        "Insufficient shares",
                        vec![qty.to_string(), held.to_string()],
                    ),
                    Some(sec),
                ));
            }
        }
        Ok((
            Check {
                ok: true,
                code: "",
                text: String::new(),
                args: Vec::new(),
                cost,
            },
            Some(sec),
        ))
    }

    fn preview_json(&self, c: &Check, order_id: Option<i32>) -> Value {
        let mut v = json!({"IsSuccessful": c.ok, "Commission": num(self.config.commission), "Cost": num(c.cost),
            "NetCost": num(c.cost), "TotalCost": num(c.cost + self.config.commission), "MarginChange": 0,
            "Commissions": {"Per Trade Commission": num(self.config.commission)}, "Quotes": []});
        if !c.ok {
            v["ErrorDescription"] = json!(c.code);
            v["ErrorDescriptionText"] = json!(c.text);
            v["ErrorDescriptionArgs"] = json!(c.args);
        }
        if let Some(id) = order_id {
            v["OrderId"] = json!(id);
        }
        v
    }

    /// Fills a working order at the last price if it is marketable now.
    fn try_fill(&mut self, idx: usize) {
        let o = self.orders[idx].clone();
        if !matches!(o.status, "New" | "PendingNew" | "PartiallyFilled") {
            return;
        }
        let Some(sec) = self.security_by_id(o.security_id).cloned() else {
            return;
        };
        let buy = o.side == "Buy" || o.side == "BuyToCover";
        let marketable = match (o.kind.as_str(), o.price) {
            ("Market", _) => true,
            ("Limit", Some(p)) => {
                if buy {
                    sec.last <= p
                } else {
                    sec.last >= p
                }
            }
            _ => false,
        };
        if !marketable {
            if o.status == "PendingNew" {
                self.orders[idx].status = "New";
            }
            return;
        }
        let qty = o.quantity - o.executed;
        let price = sec.last;
        let commission = self.config.commission;
        let now = Utc::now();
        let Some(ai) = self.accounts.iter().position(|a| a.id == o.account_id) else {
            return;
        };
        let pos_id = self.id();
        let account = &mut self.accounts[ai];
        let signed = if buy { qty } else { -qty };
        account.cash -= signed * price + commission;
        let pos = account.positions.entry(sec.id).or_insert(Position {
            id: pos_id,
            security_id: sec.id,
            quantity: Decimal::ZERO,
            average_price: Decimal::ZERO,
            created: now,
            modified: now,
        });
        if buy && pos.quantity + qty != Decimal::ZERO {
            pos.average_price =
                (pos.average_price * pos.quantity + price * qty) / (pos.quantity + qty);
        }
        pos.quantity += signed;
        pos.modified = now;
        if pos.quantity == Decimal::ZERO {
            account.positions.remove(&sec.id);
        }
        let order = &mut self.orders[idx];
        order.executed = order.quantity;
        order.average_price = Some(price);
        order.status = "Filled";
        let (t1, t2) = (self.id(), self.id());
        self.transactions.push(Transaction {
            id: t1,
            account_id: o.account_id,
            order_id: o.id,
            security_id: sec.id,
            symbol: sec.symbol.clone(),
            kind: "OrderExecution",
            date: now,
            value: -signed * price,
            quantity: qty,
            price,
        });
        self.transactions.push(Transaction {
            id: t2,
            account_id: o.account_id,
            order_id: o.id,
            security_id: sec.id,
            symbol: sec.symbol,
            kind: "Commission",
            date: now,
            value: -commission,
            quantity: Decimal::ZERO,
            price: Decimal::ZERO,
        });
    }
}

async fn preview_order(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let body = parse_body(&body)?;
    let (check, _) = s.check_order(&s.accounts[ai], &body)?;
    Ok(respond(StatusCode::OK, s.preview_json(&check, None)))
}

async fn place_order(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let body = parse_body(&body)?;
    let (check, sec) = s.check_order(&s.accounts[ai], &body)?;
    let id = s.id();
    let order = Order {
        id,
        account_id: s.accounts[ai].id,
        user_id: me,
        security_id: sec.as_ref().map(|s| s.id).unwrap_or(-1),
        symbol: body["Symbol"].as_str().unwrap_or_default().to_string(),
        side: body["Side"].as_str().unwrap_or("Buy").to_string(),
        kind: body["Type"].as_str().unwrap_or("Market").to_string(),
        quantity: decimal_of(&body["Quantity"]).unwrap_or_default(),
        price: decimal_of(&body["Price"]),
        stop_price: decimal_of(&body["StopPrice"]),
        tif: body["TimeInforce"]
            .as_str()
            .or(body["TimeInForce"].as_str())
            .unwrap_or("Day")
            .to_string(),
        // Placement answers 200 even for an order the platform refuses: watch Status.
        status: if check.ok { "PendingNew" } else { "Rejected" },
        executed: Decimal::ZERO,
        average_price: None,
        created: Utc::now(),
        description: (!check.ok).then(|| check.code.to_string()),
        client_id: body["ClientId"].as_str().map(str::to_string),
    };
    s.orders.push(order);
    let idx = s.orders.len() - 1;
    s.try_fill(idx);
    Ok(respond(StatusCode::OK, order_json(&s.orders[idx])))
}

fn order_index(s: &Sandbox, account_id: i32, raw: &str) -> Result<usize, Response> {
    let id: i32 = raw.parse().map_err(|_| invalid())?;
    s.orders
        .iter()
        .position(|o| o.id == id && o.account_id == account_id)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Order not found."))
}

async fn get_order(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, order)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let oi = order_index(&s, s.accounts[ai].id, &order)?;
    Ok(respond(StatusCode::OK, order_json(&s.orders[oi])))
}

fn modification(s: &Sandbox, idx: usize, body: &Value) -> Result<Order, Response> {
    let mut errors = Vec::new();
    if body["Id"].as_i64().is_none() {
        errors.push((
            "modifyParams.Id".to_string(),
            "The Id field is required.".to_string(),
        ));
    }
    enum_param(
        body,
        "modifyParams",
        "Type",
        ORDER_TYPE_NAMES,
        false,
        &mut errors,
    );
    enum_param(
        body,
        "modifyParams",
        "TimeInForce",
        TIME_IN_FORCE,
        false,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let mut o = s.orders[idx].clone();
    if let Some(q) = decimal_of(&body["Quantity"]) {
        o.quantity = q;
    }
    if let Some(p) = decimal_of(&body["Price"]) {
        o.price = Some(p);
    }
    if let Some(p) = decimal_of(&body["StopPrice"]) {
        o.stop_price = Some(p);
    }
    if let Some(t) = body["Type"].as_str() {
        o.kind = t.to_string();
    }
    Ok(o)
}

async fn preview_replace(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, order)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let oi = order_index(&s, s.accounts[ai].id, &order)?;
    let body = parse_body(&body)?;
    let changed = modification(&s, oi, &body)?;
    let o = &s.orders[oi];
    let check = if !matches!(o.status, "New" | "PartiallyFilled") {
        Check {
            ok: false,
            code: "OrderIsNotWorking",
            text: "The order cannot be replaced in its current state".into(),
            args: vec![o.status.into()],
            cost: Decimal::ZERO,
        }
    } else if changed.kind == "Limit" && changed.price.is_none_or(|p| p <= Decimal::ZERO) {
        Check {
            ok: false,
            code: "QuotePriceIsInvalid",
            text: "Quote price is invalid".into(),
            args: vec![opt_num(changed.price).to_string()],
            cost: Decimal::ZERO,
        }
    } else {
        let cost = changed.quantity * changed.price.unwrap_or_default();
        Check {
            ok: true,
            code: "",
            text: String::new(),
            args: Vec::new(),
            cost,
        }
    };
    Ok(respond(StatusCode::OK, s.preview_json(&check, Some(o.id))))
}

async fn replace_order(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, order)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let oi = order_index(&s, s.accounts[ai].id, &order)?;
    let body = parse_body(&body)?;
    let changed = modification(&s, oi, &body)?;
    if !matches!(s.orders[oi].status, "New" | "PartiallyFilled") {
        return Err(message(
            StatusCode::CONFLICT,
            "Failed to replace the order: it is not working.",
        ));
    }
    // The old order is replaced by a new one carrying the changes.
    s.orders[oi].status = "Replaced";
    let id = s.id();
    let mut new = changed;
    new.id = id;
    new.status = "New";
    new.created = Utc::now();
    s.orders.push(new);
    let idx = s.orders.len() - 1;
    s.try_fill(idx);
    Ok(respond(StatusCode::OK, order_json(&s.orders[idx])))
}

async fn cancel_order(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, order)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let oi = order_index(&s, s.accounts[ai].id, &order)?;
    if !matches!(
        s.orders[oi].status,
        "New" | "PartiallyFilled" | "PendingNew"
    ) {
        return Err(message(
            StatusCode::CONFLICT,
            "A conflict has occurred while attempting to cancel the order.",
        ));
    }
    s.orders[oi].status = "Canceled";
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_orders(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    let account_id = s.accounts[ai].id;
    let mine: Vec<Order> = s
        .orders
        .iter()
        .filter(|o| o.account_id == account_id)
        .cloned()
        .collect();
    let rows = apply_filter(mine, q.get("filter"), |o, f| match f {
        "Id" => Some(FVal::Num(o.id.into())),
        "SecurityId" => Some(FVal::Num(o.security_id.into())),
        "Symbol" => Some(FVal::Str(o.symbol.clone())),
        "Status" | "ExecutionStatus" => Some(ordinal(ORDER_STATUSES, o.status)),
        "Side" => Some(ordinal(SIDES, &o.side)),
        "Type" => Some(ordinal(ORDER_TYPE_NAMES, &o.kind)),
        "Quantity" => Some(FVal::Num(o.quantity)),
        "Price" => o.price.map(FVal::Num),
        "CreateDate" | "Date" => Some(FVal::Date(o.created)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = rows.iter().map(order_json).collect();
    sort_rows(&mut rows, &q, "sortField", "desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

// ---------------------------------------------------------------- handlers: positions, transactions

async fn positions(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortField", &uri)?;
    required(&q, "desc", &uri)?;
    let a = &s.accounts[ai];
    let list: Vec<Position> = a.positions.values().cloned().collect();
    let rows = apply_filter(list, q.get("filter"), |pos, f| match f {
        "Id" => Some(FVal::Num(pos.id.into())),
        "SecurityId" => Some(FVal::Num(pos.security_id.into())),
        "Symbol" => s
            .security_by_id(pos.security_id)
            .map(|x| FVal::Str(x.symbol.clone())),
        "Quantity" => Some(FVal::Num(pos.quantity)),
        "CreateDate" => Some(FVal::Date(pos.created)),
        "ModifyDate" => Some(FVal::Date(pos.modified)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = rows.iter().map(|pos| position_json(&s, a, pos)).collect();
    sort_rows(&mut rows, &q, "sortField", "desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

async fn transactions(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortBy", &uri)?;
    required(&q, "isDesc", &uri)?;
    let account_id = s.accounts[ai].id;
    let list: Vec<Transaction> = s
        .transactions
        .iter()
        .filter(|t| t.account_id == account_id)
        .cloned()
        .collect();
    let rows = apply_filter(list, q.get("filter"), |t, f| match f {
        "Id" => Some(FVal::Num(t.id.into())),
        "SecurityId" => Some(FVal::Num(t.security_id.into())),
        "Symbol" => Some(FVal::Str(t.symbol.clone())),
        "Date" => Some(FVal::Date(t.date)),
        "Value" => Some(FVal::Num(t.value)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = rows.iter().map(transaction_json).collect();
    sort_rows(&mut rows, &q, "sortBy", "isDesc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

// ---------------------------------------------------------------- handlers: price alerts

const ALERT_OPERATORS: &[&str] = &["GTEQ", "LTEQ"];
const ALERT_FIELDS: &[&str] = &["Ask", "Bid", "Last"];
const ALERT_STATES: &[&str] = &["New", "Expired", "Completed", "Stopped"];

fn alert_json(s: &Sandbox, a: &Alert) -> Value {
    json!({
        "Id": a.id, "State": a.state, "CreatedDate": a.created, "Operator": a.operator,
        "SecurityId": a.security_id,
        "Symbol": s.security_by_id(a.security_id).map(|x| x.symbol.clone()),
        "Field": a.field, "Argument": num(a.argument), "ExpirationDate": a.expiration,
    })
}

/// A string field bound to an enumeration: missing (when required) or unknown values are
/// model-state errors, as .NET's binder reports them.
fn enum_field(
    body: &Value,
    name: &str,
    allowed: &[&str],
    required: bool,
    errors: &mut Vec<(String, String)>,
) -> Option<String> {
    enum_param(body, "model", name, allowed, required, errors)
}

/// [`enum_field`] for a body bound to the parameter `param` (`placeParams.Side`, …).
fn enum_param(
    body: &Value,
    param: &str,
    name: &str,
    allowed: &[&str],
    required: bool,
    errors: &mut Vec<(String, String)>,
) -> Option<String> {
    match &body[name] {
        Value::Null if required => {
            errors.push((
                format!("{param}.{name}"),
                format!("The {name} field is required."),
            ));
            None
        }
        Value::Null => None,
        Value::String(v) if allowed.contains(&v.as_str()) => Some(v.clone()),
        other => {
            errors.push((
                format!("{param}.{name}"),
                format!("The value {other} is not valid for {name}."),
            ));
            None
        }
    }
}

/// Reads a `PriceAlertEditableModel` into `alert` (422 for a malformed one, 409 for an
/// unknown security).
fn read_alert(s: &Sandbox, body: &Value, alert: &mut Alert) -> Result<(), Response> {
    let mut errors = Vec::new();
    let operator = enum_field(body, "Operator", ALERT_OPERATORS, true, &mut errors);
    let field = enum_field(body, "Field", ALERT_FIELDS, true, &mut errors);
    let state = enum_field(body, "State", ALERT_STATES, false, &mut errors);
    let expiration = match &body["ExpirationDate"] {
        Value::Null => {
            errors.push((
                "model.ExpirationDate".into(),
                "The ExpirationDate field is required.".into(),
            ));
            None
        }
        v => v.as_i64().or_else(|| {
            errors.push((
                "model.ExpirationDate".into(),
                "The ExpirationDate field is not a valid date.".into(),
            ));
            None
        }),
    };
    let argument = match &body["Argument"] {
        Value::Null => Some(Decimal::ZERO),
        v => decimal_of(v).filter(|d| *d >= Decimal::ZERO).or_else(|| {
            errors.push((
                "model.Argument".into(),
                "The Argument must be a non-negative number.".into(),
            ));
            None
        }),
    };
    let security_id = match &body["SecurityId"] {
        Value::Null => Some(0),
        v => v.as_i64().and_then(|i| i32::try_from(i).ok()).or_else(|| {
            errors.push((
                "model.SecurityId".into(),
                "The SecurityId field is not a valid id.".into(),
            ));
            None
        }),
    };
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let security_id = security_id.unwrap_or_default();
    if s.security_by_id(security_id).is_none() {
        return Err(message(
            StatusCode::CONFLICT,
            "The price alert could not be saved: unknown security.",
        ));
    }
    alert.operator = operator.unwrap_or_default();
    alert.field = field.unwrap_or_default();
    if let Some(state) = state {
        alert.state = state;
    }
    alert.expiration = expiration.unwrap_or_default();
    alert.argument = argument.unwrap_or_default();
    alert.security_id = security_id;
    Ok(())
}

fn alert_index(s: &Sandbox, user_id: i32, raw: &str) -> Result<usize, Response> {
    let id: i32 = raw.parse().map_err(|_| invalid())?;
    s.alerts
        .iter()
        .position(|a| a.id == id && a.user_id == user_id)
        .ok_or_else(invalid)
}

async fn create_alert(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let body = parse_body(&body)?;
    let mut alert = Alert {
        id: 0,
        user_id: uid,
        state: "New".into(),
        operator: String::new(),
        security_id: 0,
        field: String::new(),
        argument: Decimal::ZERO,
        expiration: 0,
        created: Utc::now().timestamp(),
    };
    read_alert(&s, &body, &mut alert)?;
    alert.id = s.id();
    let out = alert_json(&s, &alert);
    s.alerts.push(alert);
    Ok(respond(StatusCode::OK, out))
}

async fn list_alerts(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortBy", &uri)?;
    flag(&q, "isDesc", &uri)?;
    let mut rows: Vec<Value> = s
        .alerts
        .iter()
        .filter(|a| a.user_id == uid)
        .map(|a| alert_json(&s, a))
        .collect();
    sort_rows(&mut rows, &q, "sortBy", "isDesc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

async fn get_alert(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, alert)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = alert_index(&s, uid, &alert)?;
    Ok(respond(StatusCode::OK, alert_json(&s, &s.alerts[i])))
}

async fn modify_alert(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, alert)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = alert_index(&s, uid, &alert)?;
    let body = parse_body(&body)?;
    let mut changed = s.alerts[i].clone();
    read_alert(&s, &body, &mut changed)?;
    s.alerts[i] = changed;
    Ok(respond(StatusCode::OK, alert_json(&s, &s.alerts[i])))
}

async fn delete_alert(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, alert)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = alert_index(&s, uid, &alert)?;
    s.alerts.remove(i);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- handlers: watchlists

fn security_model_json(s: &Security) -> Value {
    json!({
        "Id": s.id, "Symbol": s.symbol, "Description": s.description, "Exchange": s.exchange,
        "Currency": s.currency, "Type": s.kind, "Precision": 2, "VolumePrecision": 0,
        "TickSize": 0.01, "ContractSize": 1,
    })
}

fn watchlist_json(s: &Sandbox, w: &Watchlist, with_securities: bool) -> Value {
    let mut v = json!({
        "Id": w.id, "Name": w.name, "Description": Value::Null, "Type": "UserList",
        "CreateDate": date(w.created), "ModifyDate": date(w.modified), "ReadOnly": false,
    });
    if with_securities {
        v["SecurityList"] = w
            .securities
            .iter()
            .filter_map(|id| s.security_by_id(*id))
            .map(security_model_json)
            .collect();
    }
    v
}

/// A required boolean query parameter (missing: no route; not a boolean: invalid).
fn flag(q: &HashMap<String, String>, name: &str, uri: &Uri) -> Result<bool, Response> {
    let v = required(q, name, uri)?;
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid())
    }
}

fn watchlist_index(s: &Sandbox, user_id: i32, raw: &str) -> Result<usize, Response> {
    let id: i32 = raw.parse().map_err(|_| invalid())?;
    s.watchlists
        .iter()
        .position(|w| w.id == id && w.user_id == user_id)
        .ok_or_else(invalid)
}

fn unknown_security() -> Response {
    message(
        StatusCode::CONFLICT,
        "The security could not be found or added to the watchlist.",
    )
}

/// A `SecuritySignature` body resolved to a security id.
fn signature(s: &Sandbox, body: &Value) -> Result<i32, Response> {
    let Some(symbol) = body["Symbol"].as_str().filter(|v| !v.is_empty()) else {
        return Err(validation(&[(
            "signature.Symbol",
            "The Symbol field is required.",
        )]));
    };
    let sec = s.security(symbol).ok_or_else(unknown_security)?;
    let matches = |field: &str, value: &str| {
        body[field]
            .as_str()
            .is_none_or(|v| v.is_empty() || v.eq_ignore_ascii_case(value))
    };
    if !matches("Exchange", &sec.exchange) || !matches("Currency", &sec.currency) {
        return Err(unknown_security());
    }
    Ok(sec.id)
}

async fn list_watchlists(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let with = flag(&q, "includeSecurities", &uri)?;
    let rows: Vec<Value> = s
        .watchlists
        .iter()
        .filter(|w| w.user_id == uid)
        .map(|w| watchlist_json(&s, w, with))
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

async fn create_watchlist(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let with = flag(&q, "resultIncludeSecurities", &uri)?;
    let body = parse_body(&body)?;
    let Some(name) = body["Name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    else {
        return Err(validation(&[("model.Name", "The Name field is required.")]));
    };
    let ids: Vec<i64> = match &body["Securities"] {
        Value::Null => Vec::new(),
        Value::Array(items) => match items.iter().map(Value::as_i64).collect::<Option<_>>() {
            Some(ids) => ids,
            None => {
                return Err(validation(&[(
                    "model.Securities",
                    "The Securities field must list security ids.",
                )]))
            }
        },
        _ => {
            return Err(validation(&[(
                "model.Securities",
                "The Securities field must list security ids.",
            )]))
        }
    };
    if let Some(existing) = s
        .watchlists
        .iter()
        .find(|w| w.user_id == uid && w.name.eq_ignore_ascii_case(name))
    {
        return Err(respond(
            StatusCode::CONFLICT,
            watchlist_json(&s, existing, with),
        ));
    }
    let mut securities = Vec::new();
    let mut refused = false;
    for id in ids {
        match i32::try_from(id).ok().and_then(|i| s.security_by_id(i)) {
            Some(sec) if !securities.contains(&sec.id) => securities.push(sec.id),
            Some(_) => {}
            None => refused = true,
        }
    }
    let now = Utc::now();
    let list = Watchlist {
        id: s.id(),
        user_id: uid,
        name: name.to_string(),
        created: now,
        modified: now,
        securities,
    };
    let out = watchlist_json(&s, &list, with);
    s.watchlists.push(list);
    // A security that could not be added: 409 with the watchlist as it was left.
    let status = if refused {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    Ok(respond(status, out))
}

async fn get_watchlist(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, list)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = watchlist_index(&s, uid, &list)?;
    let with = flag(&q, "includeSecurities", &uri)?;
    Ok(respond(
        StatusCode::OK,
        watchlist_json(&s, &s.watchlists[i], with),
    ))
}

async fn delete_watchlist(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, list)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = watchlist_index(&s, uid, &list)?;
    s.watchlists.remove(i);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Adds (`add`) or removes a security; answers the watchlist after the change.
fn change_watchlist(s: &mut Sandbox, i: usize, security: i32, add: bool) -> Response {
    let list = &mut s.watchlists[i];
    let present = list.securities.contains(&security);
    if add && !present {
        list.securities.push(security);
        list.modified = Utc::now();
    } else if !add && present {
        list.securities.retain(|x| *x != security);
        list.modified = Utc::now();
    }
    respond(StatusCode::OK, watchlist_json(s, &s.watchlists[i], true))
}

async fn watchlist_symbol(
    State(st): State<Shared>,
    headers: HeaderMap,
    method: axum::http::Method,
    Path((user, list)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = watchlist_index(&s, uid, &list)?;
    let body = parse_body(&body)?;
    let security = signature(&s, &body)?;
    Ok(change_watchlist(
        &mut s,
        i,
        security,
        method == axum::http::Method::PUT,
    ))
}

async fn watchlist_security(
    State(st): State<Shared>,
    headers: HeaderMap,
    method: axum::http::Method,
    Path((user, list, security)): Path<(String, String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = watchlist_index(&s, uid, &list)?;
    let id: i32 = security.parse().map_err(|_| invalid())?;
    if s.security_by_id(id).is_none() {
        return Err(unknown_security());
    }
    Ok(change_watchlist(
        &mut s,
        i,
        id,
        method == axum::http::Method::PUT,
    ))
}

async fn rename_watchlist(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, list)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let i = watchlist_index(&s, uid, &list)?;
    let name = required(&q, "name", &uri)?.trim().to_string();
    if name.is_empty() {
        return Err(validation(&[("name", "The name must not be empty.")]));
    }
    let id = s.watchlists[i].id;
    if s.watchlists
        .iter()
        .any(|w| w.user_id == uid && w.id != id && w.name.eq_ignore_ascii_case(&name))
    {
        return Err(message(
            StatusCode::CONFLICT,
            "A watchlist with this name already exists.",
        ));
    }
    s.watchlists[i].name = name.clone();
    s.watchlists[i].modified = Utc::now();
    Ok(respond(
        StatusCode::OK,
        json!({"m_Item1": id, "m_Item2": name}),
    ))
}

// ---------------------------------------------------------------- handlers: account funding

/// The two micro-deposits the sandbox "sends" to every bank account linked with the `Manual`
/// method: $0.11 and $0.07 (approve with both, in any order).
pub const MICRO_DEPOSITS: [Decimal; 2] = [
    Decimal::from_parts(11, 0, 0, false, 2),
    Decimal::from_parts(7, 0, 0, false, 2),
];

fn ach_json(r: &AchRelationship) -> Value {
    let tail: String = r
        .account_number
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    json!({
        "Id": r.id, "AccountId": r.account_id, "RoutingNumber": r.routing,
        "AccountNumber": r.account_number, "DisplayAccountNumber": format!("****{tail}"),
        "AccountOwnerName": r.owner, "Name": r.bank, "Status": r.status,
        "CreatedAt": date(r.created), "CancelDate": r.cancelled.as_ref().map(|(d, _)| date(*d)),
        "CancelReason": r.cancelled.as_ref().map(|(_, why)| why.clone()),
        "ApprovalMethod": r.approval, "Default": r.default, "BankAccountType": r.bank_account_type,
    })
}

fn transfer_json(t: &Transfer) -> Value {
    json!({
        "Id": t.id, "AccountId": t.account_id, "Mechanism": t.mechanism, "IsDeposit": t.deposit,
        "Status": t.status, "Comment": t.comment, "Amount": num(t.amount), "TotalAmount": num(t.amount),
        "TransferDate": date(t.created), "CreatedAt": date(t.created),
        "ClearingAccountNumber": t.clearing, "CreatedBy": t.created_by,
    })
}

fn ach_index(s: &Sandbox, account_id: i32, raw: &str) -> Result<usize, Response> {
    s.ach
        .iter()
        .position(|r| r.id.eq_ignore_ascii_case(raw) && r.account_id == account_id)
        .ok_or_else(invalid)
}

fn ach_conflict(text: &str) -> Response {
    message(StatusCode::CONFLICT, text)
}

/// A money movement's `Amount`: required and greater than zero, as ETNA validates it.
fn positive_amount(body: &Value, errors: &mut Vec<(String, String)>) -> Option<Decimal> {
    let amount = decimal_of(&body["Amount"]);
    match amount {
        None => errors.push((
            "model.Amount".into(),
            "The Amount field is required.".into(),
        )),
        Some(a) if a <= Decimal::ZERO => {
            errors.push(("model.Amount".into(), "The Amount must be positive.".into()))
        }
        _ => {}
    }
    amount
}

fn text_field<'a>(
    body: &'a Value,
    name: &str,
    errors: &mut Vec<(String, String)>,
) -> Option<&'a str> {
    let v = body[name].as_str().map(str::trim).filter(|v| !v.is_empty());
    if v.is_none() {
        errors.push((
            format!("model.{name}"),
            format!("The {name} field is required."),
        ));
    }
    v
}

async fn create_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let body = parse_body(&body)?;
    let mut errors = Vec::new();
    let routing = text_field(&body, "RoutingNumber", &mut errors);
    let number = text_field(&body, "AccountNumber", &mut errors);
    let owner = text_field(&body, "AccountOwnerName", &mut errors);
    let bank = text_field(&body, "Name", &mut errors);
    let approval = enum_field(
        &body,
        "ApprovalMethod",
        &["Instant", "Manual"],
        true,
        &mut errors,
    );
    if routing.is_some_and(|r| r.len() != 9 || !r.bytes().all(|b| b.is_ascii_digit())) {
        errors.push((
            "model.RoutingNumber".into(),
            "The RoutingNumber must be 9 digits.".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let (routing, number) = (
        routing.unwrap_or_default().to_string(),
        number.unwrap_or_default().to_string(),
    );
    let active = |r: &&AchRelationship| r.account_id == account_id && r.status != "Canceled";
    if s.ach
        .iter()
        .filter(active)
        .any(|r| r.routing == routing && r.account_number == number)
    {
        return Err(ach_conflict(
            "An ACH relationship with this bank account already exists.",
        ));
    }
    let first = !s.ach.iter().filter(active).any(|r| r.default);
    let approval = approval.unwrap_or_default();
    let relationship = AchRelationship {
        id: s.uuid(),
        account_id,
        routing,
        account_number: number,
        owner: owner.unwrap_or_default().to_string(),
        bank: bank.unwrap_or_default().to_string(),
        bank_account_type: body["BankAccountType"].as_str().map(str::to_string),
        status: if approval == "Instant" {
            "Approved"
        } else {
            "Pending"
        },
        approval,
        created: Utc::now(),
        cancelled: None,
        default: first,
    };
    let out = ach_json(&relationship);
    s.ach.push(relationship);
    Ok(respond(StatusCode::OK, out))
}

async fn list_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortBy", &uri)?;
    flag(&q, "isDesc", &uri)?;
    const STATUSES: &[&str] = &[
        "Pending",
        "Approved",
        "Canceled",
        "Error",
        "PendingCancel",
        "PendingApproval",
    ];
    let status = match q.get("status") {
        Some(v) => Some(
            *STATUSES
                .iter()
                .find(|x| x.eq_ignore_ascii_case(v))
                .ok_or_else(invalid)?,
        ),
        None => None,
    };
    let account_id = s.accounts[ai].id;
    let mut rows: Vec<Value> = s
        .ach
        .iter()
        .filter(|r| r.account_id == account_id && status.is_none_or(|x| r.status == x))
        .map(ach_json)
        .collect();
    sort_rows(&mut rows, &q, "sortBy", "isDesc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

async fn get_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let i = ach_index(&s, s.accounts[ai].id, &id)?;
    Ok(respond(StatusCode::OK, ach_json(&s.ach[i])))
}

async fn default_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let r = s
        .ach
        .iter()
        .find(|r| r.account_id == account_id && r.default && r.status != "Canceled")
        .ok_or_else(|| {
            message(
                StatusCode::NOT_FOUND,
                "The account has no default ACH relationship.",
            )
        })?;
    Ok(respond(StatusCode::OK, ach_json(r)))
}

async fn modify_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let i = ach_index(&s, s.accounts[ai].id, &id)?;
    let body = parse_body(&body)?;
    let mut errors = Vec::new();
    let name = text_field(&body, "Name", &mut errors).map(str::to_string);
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    if s.ach[i].status == "Canceled" {
        return Err(ach_conflict("The ACH relationship is canceled."));
    }
    s.ach[i].bank = name.unwrap_or_default();
    Ok(respond(StatusCode::OK, ach_json(&s.ach[i])))
}

async fn delete_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let i = ach_index(&s, s.accounts[ai].id, &id)?;
    let reason = required(&q, "reason", &uri)?.to_string();
    if s.ach[i].status == "Canceled" {
        return Err(ach_conflict("The ACH relationship is already canceled."));
    }
    let r = &mut s.ach[i];
    r.status = "Canceled";
    r.default = false;
    r.cancelled = Some((Utc::now(), reason));
    Ok(respond(StatusCode::OK, ach_json(&s.ach[i])))
}

async fn approve_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let i = ach_index(&s, s.accounts[ai].id, &id)?;
    let body = parse_body(&body)?;
    let mut errors = Vec::new();
    let mut amount = |name: &str| {
        let v = decimal_of(&body[name]);
        if v.is_none() {
            errors.push((
                format!("model.{name}"),
                format!("The {name} field is required."),
            ));
        }
        v
    };
    let (a, b) = (amount("Amount1"), amount("Amount2"));
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    if s.ach[i].status != "Pending" {
        return Err(ach_conflict(
            "The ACH relationship is not waiting for micro-deposit approval.",
        ));
    }
    let mut given = [a.unwrap_or_default(), b.unwrap_or_default()];
    let mut expected = MICRO_DEPOSITS;
    given.sort();
    expected.sort();
    if given != expected {
        return Err(ach_conflict("The amounts do not match the micro-deposits."));
    }
    s.ach[i].status = "Approved";
    Ok(respond(StatusCode::OK, ach_json(&s.ach[i])))
}

async fn set_default_ach(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let i = ach_index(&s, account_id, &id)?;
    if s.ach[i].status != "Approved" {
        return Err(ach_conflict(
            "Only an approved ACH relationship can be the default.",
        ));
    }
    for r in s.ach.iter_mut().filter(|r| r.account_id == account_id) {
        r.default = false;
    }
    s.ach[i].default = true;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn send_ach_transfer(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let body = parse_body(&body)?;
    let mut errors = Vec::new();
    let relationship = text_field(&body, "AchRelationshipId", &mut errors).map(str::to_string);
    let amount = positive_amount(&body, &mut errors);
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let amount = amount.unwrap_or_default();
    let relationship = relationship.unwrap_or_default();
    let deposit = body["IsIncoming"].as_bool().unwrap_or(false);
    if !s.ach.iter().any(|r| {
        r.account_id == account_id
            && r.id.eq_ignore_ascii_case(&relationship)
            && r.status == "Approved"
    }) {
        return Err(ach_conflict(
            "The transfer needs an approved ACH relationship of this account.",
        ));
    }
    if !deposit {
        let pending: Decimal = s
            .transfers
            .iter()
            .filter(|t| t.account_id == account_id && !t.deposit && t.status == "Submitted")
            .map(|t| t.amount)
            .sum();
        if amount + pending > s.accounts[ai].cash {
            return Err(ach_conflict("Insufficient funds available to withdraw."));
        }
    }
    let created_by = s.user(me).map(|u| u.login.clone()).unwrap_or_default();
    let transfer = Transfer {
        id: s.uuid(),
        account_id,
        mechanism: "ACH",
        deposit,
        amount,
        status: "Submitted",
        comment: body["Comment"].as_str().map(str::to_string),
        created: Utc::now(),
        clearing: s.accounts[ai].clearing.clone(),
        created_by,
    };
    let out = transfer_json(&transfer);
    s.transfers.push(transfer);
    Ok(respond(StatusCode::OK, out))
}

async fn list_transfers(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortBy", &uri)?;
    flag(&q, "isDesc", &uri)?;
    let account_id = s.accounts[ai].id;
    let mut rows: Vec<Value> = s
        .transfers
        .iter()
        .filter(|t| t.account_id == account_id)
        .map(transfer_json)
        .collect();
    sort_rows(&mut rows, &q, "sortBy", "isDesc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

async fn cancel_transfer(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let i = s
        .transfers
        .iter()
        .position(|t| t.account_id == account_id && t.id.eq_ignore_ascii_case(&id))
        .ok_or_else(invalid)?;
    let comment = required(&q, "comment", &uri)?.to_string();
    if s.transfers[i].status != "Submitted" {
        return Err(ach_conflict("The transfer can no longer be canceled."));
    }
    s.transfers[i].status = "Canceled";
    s.transfers[i].comment = Some(comment);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- handlers: registration, password reset

async fn register(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let mut s = lock(&st);
    s.app_key(&headers)?;
    if header(&headers, "origin").is_none() {
        return Err(invalid());
    }
    let body = parse_body_or_empty(&body)?;
    let creds = &body["Credentials"];
    let mut errors = Vec::new();
    if creds["Login"].as_str().is_none_or(str::is_empty) {
        errors.push("Login was not set.");
    }
    if creds["Email"].as_str().is_none_or(str::is_empty) {
        errors.push("Email was not set.");
    }
    if creds["Password"].as_str().is_none_or(str::is_empty) {
        errors.push("Password was not set.");
    }
    if !errors.is_empty() {
        return Err(respond(
            StatusCode::CONFLICT,
            json!({"Errors": errors, "Reason": "SchemaValidationFail"}),
        ));
    }
    let login = creds["Login"].as_str().unwrap_or_default().to_string();
    if s.config.users.iter().any(|u| u.login == login) {
        return Err(respond(
            StatusCode::CONFLICT,
            json!({"Errors": ["Login is already taken."], "Reason": "UserManagerRules"}),
        ));
    }
    let id = 1100 + s.config.users.len() as i32;
    let user = User {
        id,
        login,
        password: creds["Password"].as_str().unwrap_or_default().to_string(),
        email: creds["Email"].as_str().unwrap_or_default().to_string(),
        second_factor: None,
        accounts: Vec::new(),
    };
    let out = user_json(&user);
    s.config.users.push(user);
    Ok(respond(StatusCode::OK, out))
}

async fn password_reset(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let mut s = lock(&st);
    s.app_key(&headers)?;
    let body = parse_body_or_empty(&body)?;
    let login = body["User"].as_str().unwrap_or_default();
    let Some(user) = s
        .config
        .users
        .iter()
        .find(|u| u.login == login)
        .map(|u| u.id)
    else {
        return Ok(respond(
            StatusCode::OK,
            json!({"Errors": ["User not found."], "ErrorsCode": ["ErrorUserNotFound"], "IsSucceed": false}),
        ));
    };
    // Every sandbox user has the secret answer `blue`.
    if body["SecretQuestionAnswer"].as_str() != Some("blue") {
        return Ok(respond(
            StatusCode::OK,
            json!({"Errors": ["Answer is incorrect, try again."], "ErrorsCode": ["ErrorIncorrectAnswer"], "IsSucceed": false}),
        ));
    }
    // The code "e-mailed" for the next step.
    s.extra.issue_reset_code(user);
    Ok(respond(
        StatusCode::OK,
        json!({"Errors": [], "IsSucceed": true}),
    ))
}

/// Set on the answers of the router's own fallback (and its 404 / 405), never on a handler's
/// no-route 404 for a missing query parameter: the body is ETNA's either way, the header tells
/// a test that no route exists.
pub const NO_ROUTE_HEADER: &str = "x-sandbox-no-route";

fn unrouted(uri: &Uri) -> Response {
    let mut response = no_route(uri);
    response.headers_mut().insert(
        NO_ROUTE_HEADER,
        axum::http::HeaderValue::from_static("true"),
    );
    response
}

async fn fallback(uri: Uri) -> Response {
    unrouted(&uri)
}

/// axum answers what its extractors reject (and unmatched routes) in plain text; ETNA's Web
/// API answers every error in JSON: a bad path or query value is `{"Message":"The request is
/// invalid."}`, an unmatched URI the no-route 404, anything else the generic 500 body.
async fn json_rejections(uri: Uri, response: Response) -> Response {
    match crate::rejections::plain_error(response).await {
        Ok(response) => response,
        Err(e) => match e.status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => unrouted(&uri),
            s if s.is_client_error() => invalid(),
            _ => server_error(),
        },
    }
}

// ---------------------------------------------------------------- server

fn securities() -> Vec<Security> {
    let list: &[(&str, &str, &str, i64, bool)] = &[
        ("AAPL", "Apple Inc.", "NSDQ", 15030, true),
        ("MSFT", "Microsoft Corporation", "NSDQ", 20470, true),
        ("GOOG", "Alphabet Inc.", "NSDQ", 149_120, true),
        ("AMZN", "Amazon.com Inc.", "NSDQ", 305_800, true),
        ("TSLA", "Tesla Inc.", "NSDQ", 28_650, true),
        (
            "IBM",
            "International Business Machines",
            "NYSE",
            12_310,
            true,
        ),
        ("ORCL", "Oracle Corporation", "NYSE", 5_120, true),
        ("INTC", "Intel Corporation", "NSDQ", 4_800, true),
        ("ORLY", "O'Reilly Automotive Inc.", "NSDQ", 79_511, false),
        ("KO", "The Coca-Cola Company", "NYSE", 4_655, true),
        ("SPY", "SPDR S&P 500 ETF Trust", "ARCA", 32_150, true),
        ("T", "AT&T Inc.", "NYSE", 2_980, true),
    ];
    list.iter()
        .enumerate()
        .map(|(i, (sym, desc, ex, cents, short))| Security {
            id: i as i32 + 1,
            symbol: (*sym).into(),
            description: (*desc).into(),
            exchange: (*ex).into(),
            currency: "USD".into(),
            kind: if *sym == "SPY" { "ETF" } else { "CommonStock" },
            last: Decimal::new(*cents, 2),
            allow_short: *short,
        })
        .collect()
}

/// Listed options: AAPL calls and puts at three strikes for two expirations, MSFT at two
/// strikes for one; OSI symbols (root padded to six characters).
fn options() -> Vec<OptionContract> {
    let day = |y, m, d| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc())
            .unwrap_or_default()
    };
    let series: [(&str, i32, DateTime<Utc>, &[i64]); 3] = [
        ("AAPL", 501, day(2030, 1, 18), &[140, 150, 160]),
        ("AAPL", 502, day(2030, 6, 21), &[140, 150, 160]),
        ("MSFT", 503, day(2030, 1, 18), &[200, 210]),
    ];
    let mut out = Vec::new();
    for (underlying, id, expiration, strikes) in series {
        for strike in strikes {
            for call in [true, false] {
                let symbol = format!(
                    "{underlying:<6}{}{}{:08}",
                    expiration.format("%y%m%d"),
                    if call { 'C' } else { 'P' },
                    strike * 1000
                );
                out.push(OptionContract {
                    id: 101 + out.len() as i32,
                    symbol,
                    underlying: underlying.into(),
                    call,
                    strike: Decimal::from(*strike),
                    expiration,
                    series: id,
                });
            }
        }
    }
    out
}

/// A running AutoShares sandbox.
pub struct Server {
    pub running: crate::Running,
    /// The quote and data streamers of this sandbox.
    pub streamers: stream::Hub,
    state: Shared,
}

impl std::ops::Deref for Server {
    type Target = crate::Running;
    fn deref(&self) -> &crate::Running {
        &self.running
    }
}

impl Server {
    /// The app key the sandbox accepts.
    pub fn app_key(&self) -> String {
        lock(&self.state).config.app_key.clone()
    }

    /// Makes every token issued so far invalid (as if their 24 hours were over).
    pub fn expire_tokens(&self) {
        lock(&self.state).tokens.clear();
    }

    /// How many live tokens the sandbox has issued (logout removes one).
    pub fn live_tokens(&self) -> usize {
        lock(&self.state).tokens.len()
    }

    /// Sets a security's last price (fills and values follow); resting orders that become
    /// marketable fill.
    pub fn set_last_price(&self, symbol: &str, price: Decimal) {
        let mut s = lock(&self.state);
        if let Some(sec) = s.securities.iter_mut().find(|x| x.symbol == symbol) {
            sec.last = price;
        }
        for i in 0..s.orders.len() {
            s.try_fill(i);
        }
    }

    /// Cash of an account.
    pub fn cash(&self, account_id: i32) -> Option<Decimal> {
        lock(&self.state)
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .map(|a| a.cash)
    }

    /// `(quantity, price, stop price)` of every order the sandbox holds, as it read them.
    pub fn order_amounts(&self) -> Vec<(Decimal, Option<Decimal>, Option<Decimal>)> {
        lock(&self.state)
            .orders
            .iter()
            .map(|o| (o.quantity, o.price, o.stop_price))
            .collect()
    }

    /// Quantity held of `symbol` in an account.
    pub fn position(&self, account_id: i32, symbol: &str) -> Decimal {
        let s = lock(&self.state);
        let Some(sec) = s.security(symbol).map(|x| x.id) else {
            return Decimal::ZERO;
        };
        s.accounts
            .iter()
            .find(|a| a.id == account_id)
            .and_then(|a| a.positions.get(&sec))
            .map(|p| p.quantity)
            .unwrap_or_default()
    }

    /// Status of an order.
    pub fn order_status(&self, order_id: i32) -> Option<String> {
        lock(&self.state)
            .orders
            .iter()
            .find(|o| o.id == order_id)
            .map(|o| o.status.to_string())
    }

    /// Settles every `Submitted` transfer: it becomes `Complete` and moves the account's cash.
    /// Returns how many were settled.
    pub fn complete_transfers(&self) -> usize {
        let mut s = lock(&self.state);
        let mut settled = Vec::new();
        for t in s.transfers.iter_mut().filter(|t| t.status == "Submitted") {
            t.status = "Complete";
            let signed = if t.deposit { t.amount } else { -t.amount };
            settled.push((t.account_id, signed));
        }
        for (account_id, signed) in &settled {
            if let Some(a) = s.accounts.iter_mut().find(|a| a.id == *account_id) {
                a.cash += *signed;
            }
        }
        settled.len()
    }

    /// Settles every working mutual-fund order at its fund's NAV (holdings and cash move).
    /// Returns how many settled.
    pub fn settle_mutual_funds(&self) -> usize {
        extra::settle_funds(&mut lock(&self.state))
    }

    /// Mutual-fund shares of `symbol` held in an account.
    pub fn fund_holding(&self, account_id: i32, symbol: &str) -> Decimal {
        lock(&self.state)
            .extra
            .holdings
            .get(&(account_id, symbol.to_ascii_uppercase()))
            .copied()
            .unwrap_or_default()
    }

    /// The account a user last selected (selectAccount), if any.
    pub fn selected_account(&self, user_id: i32) -> Option<i32> {
        extra::selected(&lock(&self.state), user_id)
    }

    /// The user's password now (after a change or a reset).
    pub fn password(&self, login: &str) -> Option<String> {
        lock(&self.state)
            .config
            .users
            .iter()
            .find(|u| u.login == login)
            .map(|u| u.password.clone())
    }

    /// Number of orders placed (any status).
    pub fn order_count(&self) -> usize {
        lock(&self.state).orders.len()
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
    let accounts = config
        .users
        .iter()
        .flat_map(|u| {
            u.accounts.iter().map(move |(id, cash)| Account {
                id: *id,
                user_id: u.id,
                clearing: format!("5AB{id:05}"),
                cash: *cash,
                positions: BTreeMap::new(),
            })
        })
        .collect();
    let sandbox = Sandbox {
        config,
        securities: securities(),
        accounts,
        orders: Vec::new(),
        transactions: Vec::new(),
        alerts: Vec::new(),
        watchlists: Vec::new(),
        options: options(),
        ach: Vec::new(),
        transfers: Vec::new(),
        tokens: HashMap::new(),
        interim: HashMap::new(),
        serial: 0,
        next_id: 9000,
        extra: Default::default(),
    };
    let state = Arc::new(Mutex::new(sandbox));
    let streamers = stream::Hub::new(state.clone());
    let notify = streamers.clone();
    // After every request that may change state, the data streamers compare and send.
    let rest = stream::rest_routes(streamers.clone())
        .merge(router(state.clone()))
        .layer(axum::middleware::from_fn(
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
    let ws = stream::ws_routes(streamers.clone());
    let running = crate::serve_with(rest, PREFIX, port, |app| app.merge(ws)).await?;
    stream::watch_faults(&streamers, running.faults.clone());
    Ok(Server {
        running,
        streamers,
        state,
    })
}

fn router(state: Shared) -> Router {
    let core = Router::new()
        .route("/token", post(token))
        .route("/logout", post(logout))
        .route("/v1.0/registration/", post(register))
        .route("/v1.0/users/password/reset", post(password_reset))
        .route("/v1.0/users/{user}/info", get(user_info))
        .route("/v1.0/users/{user}/accounts", get(user_accounts))
        .route("/v1.0/users/{user}/exchanges", get(user_exchanges))
        .route(
            "/v1.0/users/{user}/pricealerts",
            post(create_alert).get(list_alerts),
        )
        .route(
            "/v1.0/users/{user}/pricealerts/{alert}",
            get(get_alert).put(modify_alert).delete(delete_alert),
        )
        .route(
            "/v1.0/users/{user}/watchlists",
            get(list_watchlists).post(create_watchlist),
        )
        .route(
            "/v1.0/users/{user}/watchlists/{list}",
            get(get_watchlist).delete(delete_watchlist),
        )
        .route(
            "/v1.0/users/{user}/watchlists/{list}/securities",
            put(watchlist_symbol).delete(watchlist_symbol),
        )
        .route(
            "/v1.0/users/{user}/watchlists/{list}/securities/{security}",
            put(watchlist_security).delete(watchlist_security),
        )
        .route(
            "/v1.0/users/{user}/watchlists/{list}/name",
            put(rename_watchlist),
        )
        .route("/v1.0/accounts/all", get(all_accounts))
        .route("/v1.0/accounts/{account}", get(account_by_id))
        .route("/v1.0/accounts/{account}/info", get(balance))
        .route(
            "/v1.0/accounts/{account}/preview/orders",
            post(preview_order),
        )
        .route(
            "/v1.0/accounts/{account}/preview/orders/{order}",
            put(preview_replace),
        )
        .route(
            "/v1.0/accounts/{account}/orders",
            post(place_order).get(list_orders),
        )
        .route(
            "/v1.0/accounts/{account}/orders/{order}",
            get(get_order).put(replace_order).delete(cancel_order),
        )
        // The slow family, validated by the execution venue too: the same orders here.
        .route(
            "/v1.0/accounts/{account}/preview/syncorders",
            post(preview_order),
        )
        .route(
            "/v1.0/accounts/{account}/preview/syncorders/{order}",
            put(preview_replace),
        )
        .route(
            "/v1.0/accounts/{account}/syncorders",
            post(place_order).get(list_orders),
        )
        .route(
            "/v1.0/accounts/{account}/syncorders/{order}",
            get(get_order).put(replace_order).delete(cancel_order),
        )
        .route("/v1.0/accounts/{account}/positions", get(positions))
        .route("/v1.0/accounts/{account}/transactions", get(transactions))
        .route(
            "/v1.0/accounts/{account}/ach-relationships",
            post(create_ach).get(list_ach),
        )
        .route(
            "/v1.0/accounts/{account}/ach-relationships/default",
            get(default_ach),
        )
        .route(
            "/v1.0/accounts/{account}/ach-relationships/{id}",
            get(get_ach).put(modify_ach).delete(delete_ach),
        )
        .route(
            "/v1.0/accounts/{account}/ach-relationships/{id}/approve",
            post(approve_ach),
        )
        .route(
            "/v1.0/accounts/{account}/ach-relationships/{id}/default",
            post(set_default_ach),
        )
        .route(
            "/v1.0/accounts/{account}/transfers/ach",
            post(send_ach_transfer),
        )
        .route("/v1.0/accounts/{account}/transfers", get(list_transfers))
        .route(
            "/v1.0/accounts/{account}/transfers/{transfer}",
            axum::routing::delete(cancel_transfer),
        )
        .route("/v1.0/equities", get(equities))
        .route("/v1.0/equities/lookup", get(equities_by_mask))
        .route("/v1.0/equities/{key}", get(equity))
        .route("/v1.0/options", get(list_options))
        .route("/v1.0/options/expirations", get(option_expirations))
        .route("/v1.0/options/{key}", get(option));
    extra::routes(core)
        .fallback(fallback)
        .layer(axum::middleware::map_response(json_rejections))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_quotes_dates_and_lists() {
        let c = parse_filter("Symbol = 'O''Reilly' and Status in (0, 1,2) and CreateDate >= #2019-03-13T18:31:42# and Quantity between 1 and 10").unwrap();
        assert_eq!(c.len(), 4);
        assert!(
            matches!(&c[0], Cond::Cmp(f, op, FVal::Str(s)) if f == "Symbol" && op == "=" && s == "O'Reilly")
        );
        assert!(matches!(&c[1], Cond::In(_, v) if v.len() == 3));
        // An injection attempt stays one literal.
        let c = parse_filter("Symbol = 'x'' or Symbol = ''MSFT'").unwrap();
        assert!(matches!(&c[..], [Cond::Cmp(_, _, FVal::Str(s))] if s == "x' or Symbol = 'MSFT"));
        assert!(parse_filter("Symbol = 'unterminated").is_none());
        assert!(
            parse_filter("Symbol = 'a' or Symbol = 'b'").is_none(),
            "`or` is not in the language"
        );
    }
}
