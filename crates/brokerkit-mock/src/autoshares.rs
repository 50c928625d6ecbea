//! An AutoShares (ETNA Trader) sandbox, written from `specs/autoshares.yaml`.
//!
//! Stateful: users (single-factor, e-mailed code, PIN), trading accounts with cash and
//! positions, a small securities master with last prices, orders that fill at the last price
//! when marketable and rest otherwise, transactions, price alerts. It checks `Et-App-Key` on
//! every call and the bearer token on the secured ones, pages lists the AutoShares way, and
//! evaluates the SQL-like `filter` parameter with a real parser, so that a filter injection
//! would show in the results.
//!
//! Error shapes as the reference describes them: `{"error":…}` (app key, 403 by default),
//! `{"Message":…}` (401, 400, 404, 409), `{"Message":…,"ModelState":{…}}` (422),
//! `{"message":…,"error":…}` (500), `{"State":"Failed",…}` (login 401),
//! `{"Errors":[…],"Reason":…}` (registration 409), and HTTP-200 failures
//! (`IsSuccessful: false` on order verification, `IsSucceed: false` on password reset).

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
    body: Value,
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
    tokens: HashMap<String, Session>,
    interim: HashMap<String, Interim>,
    serial: u64,
    next_id: i32,
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
    let state: Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    respond(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"Message": "Validation error occured while processing entity", "ModelState": state}),
    )
}

fn no_route(uri: &Uri) -> Response {
    message(
        StatusCode::NOT_FOUND,
        &format!(
            "No HTTP resource was found that matches the request URI 'http://localhost{uri}'."
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

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| server_error())
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
const ORDER_TYPES: &[&str] = &["Market", "Limit", "Stop", "StopLimit"];

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
    Ok(respond(StatusCode::OK, user_json(u)))
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
                   "OwnerType": "IndividualCustomer", "Enabled": true, "Currency": "USD"})
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

// ---------------------------------------------------------------- handlers: securities

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
    let rows = apply_filter(s.securities.clone(), q.get("filter"), |sec, f| match f {
        "Id" => Some(FVal::Num(sec.id.into())),
        "Symbol" => Some(FVal::Str(sec.symbol.clone())),
        "Description" => Some(FVal::Str(sec.description.clone())),
        "Exchange" => Some(FVal::Str(sec.exchange.clone())),
        "Currency" => Some(FVal::Str(sec.currency.clone())),
        "Enabled" | "AllowTrade" | "AllowMargin" => Some(FVal::Bool(true)),
        "AllowShort" => Some(FVal::Bool(sec.allow_short)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = rows.iter().map(security_json).collect();
    sort_rows(&mut rows, &q, "sortField", "desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
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
            missing.push(("placeParams.Symbol", "The Symbol field is required."));
        }
        if qty.is_none() {
            missing.push(("placeParams.Quantity", "The Quantity field is required."));
        }
        if body["Side"].as_str().is_none() {
            missing.push(("placeParams.Side", "The Side field is required."));
        }
        if !missing.is_empty() {
            return Err(validation(&missing));
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
    if body["Id"].as_i64().is_none() {
        return Err(validation(&[(
            "modifyParams.Id",
            "The Id field is required.",
        )]));
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
        "Type" => Some(ordinal(ORDER_TYPES, &o.kind)),
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

async fn create_alert(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let mut body = parse_body(&body)?;
    let mut missing = Vec::new();
    for (k, m) in [
        ("Operator", "The Operator field is required."),
        ("Field", "The Field field is required."),
        ("ExpirationDate", "The ExpirationDate field is required."),
    ] {
        if body[k].is_null() {
            missing.push((k, m));
        }
    }
    if !missing.is_empty() {
        let named: Vec<(String, &str)> = missing
            .iter()
            .map(|(k, m)| (format!("model.{k}"), *m))
            .collect();
        let refs: Vec<(&str, &str)> = named.iter().map(|(k, m)| (k.as_str(), *m)).collect();
        return Err(validation(&refs));
    }
    let id = s.id();
    let symbol = body["SecurityId"]
        .as_i64()
        .and_then(|i| s.security_by_id(i as i32))
        .map(|x| x.symbol.clone());
    body["Id"] = json!(id);
    body["Symbol"] = json!(symbol);
    body["CreatedDate"] = json!(Utc::now().timestamp());
    if body["State"].is_null() {
        body["State"] = json!("New");
    }
    s.alerts.push(Alert {
        id,
        user_id: uid,
        body: body.clone(),
    });
    Ok(respond(StatusCode::OK, body))
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
    required(&q, "isDesc", &uri)?;
    let mut rows: Vec<Value> = s
        .alerts
        .iter()
        .filter(|a| a.user_id == uid)
        .map(|a| a.body.clone())
        .collect();
    sort_rows(&mut rows, &q, "sortBy", "isDesc");
    let _ = s.alerts.iter().map(|a| a.id).max();
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

// ---------------------------------------------------------------- handlers: registration, password reset

async fn register(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let mut s = lock(&st);
    s.app_key(&headers)?;
    if header(&headers, "origin").is_none() {
        return Err(invalid());
    }
    let body = parse_body(&body)?;
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
    let s = lock(&st);
    s.app_key(&headers)?;
    let body = parse_body(&body)?;
    let login = body["User"].as_str().unwrap_or_default();
    if !s.config.users.iter().any(|u| u.login == login) {
        return Ok(respond(
            StatusCode::OK,
            json!({"Errors": ["User not found."], "ErrorsCode": ["ErrorUserNotFound"], "IsSucceed": false}),
        ));
    }
    // Every sandbox user has the secret answer `blue`.
    if body["SecretQuestionAnswer"].as_str() != Some("blue") {
        return Ok(respond(
            StatusCode::OK,
            json!({"Errors": ["Answer is incorrect, try again."], "ErrorsCode": ["ErrorIncorrectAnswer"], "IsSucceed": false}),
        ));
    }
    Ok(respond(
        StatusCode::OK,
        json!({"Errors": [], "IsSucceed": true}),
    ))
}

async fn fallback(uri: Uri) -> Response {
    no_route(&uri)
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

/// A running AutoShares sandbox.
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
        tokens: HashMap::new(),
        interim: HashMap::new(),
        serial: 0,
        next_id: 9000,
    };
    let state = Arc::new(Mutex::new(sandbox));
    let running = crate::serve(router(state.clone()), PREFIX, port).await?;
    Ok(Server { running, state })
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/logout", post(logout))
        .route("/v1.0/registration/", post(register))
        .route("/v1.0/users/password/reset", post(password_reset))
        .route("/v1.0/users/{user}/info", get(user_info))
        .route("/v1.0/users/{user}/accounts", get(user_accounts))
        .route(
            "/v1.0/users/{user}/pricealerts",
            post(create_alert).get(list_alerts),
        )
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
        .route("/v1.0/accounts/{account}/positions", get(positions))
        .route("/v1.0/accounts/{account}/transactions", get(transactions))
        .route("/v1.0/equities", get(equities))
        .route("/v1.0/equities/{key}", get(equity))
        .fallback(fallback)
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
