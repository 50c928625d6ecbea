//! The operations of `specs/autoshares.yaml` beyond the core trading flow: user settings and
//! profile, agreements, account opening and account administration, the password-reset
//! steps after the first, the other transfer mechanisms, order and position views,
//! consolidated queries, mutual funds, market data (logos, currency rates, option chains,
//! charts, news), feedback, activity reports and IPO offerings.
//!
//! Stateful where the API is: trading settings, profile changes, password and PIN changes,
//! signed agreements, aliases, the selected account, account sharing, account-opening requests
//! (a paper-trading request opens an account at once), reset codes and tokens, wire / check /
//! Zelle withdrawals (into the same transfer list as ACH), mutual-fund orders and holdings
//! (settled with [`super::Server::settle_mutual_funds`]), feedback and IPO subscriptions.
//! Everything else is computed from the sandbox's accounts, orders and securities.

use super::*;
use std::collections::BTreeSet;

/// The code the sandbox "e-mails" after a successful password-reset request.
pub const RESET_CODE: &str = "246810";
/// The secret question of every sandbox user (the answer is `blue`).
pub const SECRET_QUESTION: &str = "What is your favourite colour?";
/// The agreements every sandbox user starts without.
const AGREEMENTS: &[(&str, bool)] = &[("Platform", false), ("Quotemedia", true)];

/// A mutual fund of the sandbox: symbol, name, NAV.
const FUNDS: &[(&str, &str, i64)] = &[
    ("VFIAX", "Vanguard 500 Index Admiral", 45_012),
    ("FXAIX", "Fidelity 500 Index", 19_055),
];

#[derive(Clone, Debug)]
pub(super) struct FundOrder {
    pub id: i32,
    pub account_id: i32,
    pub symbol: String,
    /// Shares to buy, or negative to sell; `None` for "all" (liquidation, exchange source).
    pub shares: Option<Decimal>,
    /// Dollars to invest (an `EvenDollar` / `GrossDollar` buy).
    pub dollars: Option<Decimal>,
    /// For an exchange: the fund bought with the proceeds.
    pub target: Option<String>,
    pub status: &'static str,
    pub executed: Decimal,
    pub description: String,
}

#[derive(Clone, Debug)]
pub(super) struct AccountRequest {
    pub id: String,
    pub user_id: i32,
    pub status: &'static str,
    pub form_type: String,
    pub provider: String,
    pub provider_name: Option<String>,
    pub account: Option<i32>,
    pub created: DateTime<Utc>,
}

/// The state these operations add to the sandbox.
#[derive(Default)]
pub(super) struct Extra {
    settings: HashMap<i32, Map<String, Value>>,
    profiles: HashMap<i32, Map<String, Value>>,
    signed: BTreeSet<(i32, String)>,
    aliases: HashMap<i32, String>,
    selected: HashMap<i32, i32>,
    /// `(account, user, access)` besides the owners.
    shared: Vec<(i32, i32, String)>,
    pub requests: Vec<AccountRequest>,
    reset_codes: HashMap<String, i32>,
    reset_tokens: HashMap<String, i32>,
    pub fund_orders: Vec<FundOrder>,
    pub holdings: BTreeMap<(i32, String), Decimal>,
    subscriptions: BTreeSet<(i32, String)>,
    feedback: Vec<Value>,
    pins: HashMap<i32, u32>,
    pro: BTreeSet<i32>,
}

impl Extra {
    /// Overlays the profile changes of `patchUser` on a `UserInfoModel`.
    pub(super) fn profile(&self, user: i32, mut v: Value) -> Value {
        if let Some(p) = self.profiles.get(&user) {
            for (k, val) in p {
                let key = if k == "Middle" { "MiddleName" } else { k };
                if v.get(key).is_some() {
                    v[key] = val.clone();
                }
            }
        }
        v
    }

    pub(super) fn alias(&self, account: i32) -> Option<&String> {
        self.aliases.get(&account)
    }

    /// A reset code for the user (after a successful request).
    pub(super) fn issue_reset_code(&mut self, user: i32) {
        self.reset_codes.insert(RESET_CODE.to_string(), user);
    }
}

fn ok_empty() -> Answer {
    Ok(StatusCode::OK.into_response())
}

fn fund_nav(symbol: &str) -> Option<(&'static str, &'static str, Decimal)> {
    FUNDS
        .iter()
        .find(|(s, ..)| s.eq_ignore_ascii_case(symbol))
        .map(|(s, n, c)| (*s, *n, Decimal::new(*c, 2)))
}

fn resource_ok(model: Option<Value>) -> Value {
    let mut v = json!({"Errors": [], "IsSucceed": true, "StatusCode": "OK"});
    if let Some(m) = model {
        v["Model"] = m;
    }
    v
}

fn resource_failed(text: &str, code: &str) -> Value {
    json!({"Errors": [text], "ErrorsCode": [code], "IsSucceed": false, "StatusCode": "BadRequest"})
}

fn ms(d: DateTime<Utc>) -> i64 {
    d.timestamp_millis()
}

// ---------------------------------------------------------------- users

fn default_settings() -> Map<String, Value> {
    let v = json!({
        "Instruments": {
            "Stocks": {"OrderType": "Limit", "Quantity": 100, "DurationType": "Day", "ExchangeType": "Auto", "ExtendedHoursType": "REG", "AON": false},
            "Options": {"OrderType": "Limit", "Quantity": 1, "DurationType": "Day", "ExchangeType": "Auto", "ExtendedHoursType": "REG", "AON": false, "Spreads": 0},
            "Forex": {"OrderType": "Market", "Quantity": 1000, "DurationType": "Day", "ExchangeType": "Auto", "ExtendedHoursType": "REG", "AON": false},
        },
        "QuantityStepIncrementMultiplier": 1, "PriceStepIncrementMultiplier": 1,
        "DoNotCloseTradePopupOnOrderPlacement": false,
        "SkipVerifyOrder": "ShowIfAnError", "SkipVerifyCancelOrder": "Show",
        "SkipVerifyClosingPosition": "Show", "SkipVerifyOrderReplace": "Show",
        "SkipPlaceOrderStatus": "Show", "SkipCancelOrderStatus": "Show",
        "SkipClosingPositionStatus": "Show", "SkipOrderReplaceStatus": "Show",
        "MaxStocksQuantity": 10000, "MaxOptionsQuantity": 100,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

const SKIP_SETTINGS: &[&str] = &["Show", "DoNotShow", "ShowIfAnError"];

pub(super) async fn trading_settings(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let settings = s
        .extra
        .settings
        .get(&uid)
        .cloned()
        .unwrap_or_else(default_settings);
    Ok(respond(StatusCode::OK, Value::Object(settings)))
}

/// Changes the fields the body gives; the answer is the settings now in force.
pub(super) async fn set_trading_settings(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let body = parse_body(&body)?;
    let Value::Object(changes) = body else {
        return Err(invalid());
    };
    let mut errors = Vec::new();
    for (k, v) in &changes {
        if k.starts_with("Skip") {
            enum_param(
                &changes_value(&changes),
                "settings",
                k,
                SKIP_SETTINGS,
                false,
                &mut errors,
            );
        } else if k.starts_with("Max") || k.ends_with("Multiplier") {
            if v.as_i64().is_none_or(|n| n < 0 || n > i64::from(i32::MAX)) {
                errors.push((
                    format!("settings.{k}"),
                    format!("The value {v} is not valid for {k}."),
                ));
            }
        } else if (k == "DoNotCloseTradePopupOnOrderPlacement" && !v.is_boolean())
            || (k == "Instruments" && !v.is_object())
        {
            errors.push((
                format!("settings.{k}"),
                format!("The value {v} is not valid for {k}."),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let known = default_settings();
    let current = s.extra.settings.entry(uid).or_insert_with(default_settings);
    for (k, v) in changes {
        if known.contains_key(&k) && !v.is_null() {
            current.insert(k, v);
        }
    }
    let out = Value::Object(current.clone());
    Ok(respond(StatusCode::OK, out))
}

fn changes_value(m: &Map<String, Value>) -> Value {
    Value::Object(m.clone())
}

pub(super) async fn mobile_settings(State(st): State<Shared>, headers: HeaderMap) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    Ok(respond(
        StatusCode::OK,
        json!({"Settings": {
            "defaultLoginMode": "Password", "enableTouchID": "true", "enableSignUpButton": "true",
            "enablePaperTradingBanner": "true", "defaultOrdersPageSize": "25",
            "enableTrailingOrders": "true", "PinEnabled": false, "maxNumberOrderLegs": "4",
        }}),
    ))
}

/// Checks the old password, that the two new ones agree, and changes it: the next login needs
/// the new one.
pub(super) async fn change_password(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let body = parse_body(&body)?;
    let mut errors = Vec::new();
    for f in ["OldPassword", "Password", "PasswordConfirm"] {
        if body[f].as_str().is_none_or(str::is_empty) {
            errors.push((
                format!("userPassword.{f}"),
                format!("The {f} field is required."),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let new = body["Password"].as_str().unwrap_or_default().to_string();
    if body["PasswordConfirm"].as_str() != Some(new.as_str()) {
        return Err(validation(&[(
            "userPassword.PasswordConfirm",
            "The password and its confirmation do not match.",
        )]));
    }
    let Some(u) = s.config.users.iter_mut().find(|u| u.id == uid) else {
        return Err(invalid());
    };
    if body["OldPassword"].as_str() != Some(u.password.as_str()) {
        return Err(message(
            StatusCode::CONFLICT,
            "The old password is incorrect.",
        ));
    }
    u.password = new;
    ok_empty()
}

fn accounts_balance(s: &Sandbox, accounts: &[usize]) -> Value {
    let (mut cash, mut mv, mut cost, mut power) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut pending = 0;
    for &i in accounts {
        let a = &s.accounts[i];
        cash += a.cash;
        mv += s.market_value(a);
        cost += a
            .positions
            .values()
            .map(|p| p.quantity * p.average_price)
            .sum::<Decimal>();
        power += s.buying_power(a);
        pending += s
            .orders
            .iter()
            .filter(|o| o.account_id == a.id && matches!(o.status, "New" | "PartiallyFilled"))
            .count();
    }
    json!({
        "cash": num(cash), "netCash": num(cash), "equityTotal": num(cash + mv), "netLiquidity": num(cash + mv),
        "marketValue": num(mv), "stockLongMarketValue": num(mv), "stockBuyingPower": num(power),
        "pendingOrdersCount": pending, "dayTrades": 0, "openPL": num(mv - cost), "closePL": 0,
    })
}

fn user_accounts_of(s: &Sandbox, uid: i32) -> Vec<usize> {
    (0..s.accounts.len())
        .filter(|&i| s.accounts[i].user_id == uid)
        .collect()
}

pub(super) async fn user_balance(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    Ok(respond(
        StatusCode::OK,
        accounts_balance(&s, &user_accounts_of(&s, uid)),
    ))
}

/// A user found by e-mail: only the token's own user may be looked up (others are 401, an
/// unknown address 404).
pub(super) async fn user_by_email(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let body = parse_body(&body)?;
    let Some(email) = body["Email"].as_str().filter(|e| !e.is_empty()) else {
        return Err(validation(&[(
            "filter.Email",
            "The Email field is required.",
        )]));
    };
    let u = s
        .config
        .users
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(email))
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "User not found."))?;
    if u.id != me {
        return Err(denied());
    }
    Ok(respond(StatusCode::OK, s.extra.profile(u.id, user_json(u))))
}

/// "Resets" the PIN: a new one is e-mailed (the sandbox counts the resets).
pub(super) async fn reset_pin(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    *s.extra.pins.entry(uid).or_default() += 1;
    ok_empty()
}

pub(super) async fn pro_group(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let token = required(&q, "confirmationToken", &uri)?;
    if token.trim().is_empty() {
        return Err(invalid());
    }
    if !s.extra.pro.insert(uid) {
        return Err(message(
            StatusCode::CONFLICT,
            "The user is already in the professional group.",
        ));
    }
    ok_empty()
}

fn user_model(s: &Sandbox, u: &User) -> Value {
    let p = s.extra.profiles.get(&u.id);
    let get = |k: &str, default: Value| p.and_then(|p| p.get(k)).cloned().unwrap_or(default);
    json!({
        "Id": u.id, "FirstName": get("FirstName", json!(u.login)), "Middle": get("Middle", json!("")),
        "LastName": get("LastName", json!("Sandbox")), "EmailAddress": u.email, "Login": u.login,
        "Salutation": get("Salutation", json!("NoSalutation")), "Suffix": get("Suffix", json!("NoSuffix")),
        "Address": get("Address", json!({"StreetAddress1": null, "City": null, "State": 0, "PostalCode": null, "CountryId": 0})),
        "AddedDate": "2020-07-30T10:00:00.000Z", "Enabled": true, "Deleted": false,
        "TimeZoneInfoId": get("TimeZoneInfoId", json!("Eastern Standard Time")),
    })
}

const SALUTATIONS: &[&str] = &["NoSalutation", "Mr", "Mrs", "Ms", "Dr", "Sir", "Madam"];
const SUFFIXES: &[&str] = &["NoSuffix", "Jr", "Sr", "Second", "Third", "Fourth"];

pub(super) async fn patch_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let body = parse_body(&body)?;
    if !body.is_object() {
        return Err(invalid());
    }
    let mut errors = Vec::new();
    enum_param(
        &body,
        "model",
        "Salutation",
        SALUTATIONS,
        false,
        &mut errors,
    );
    enum_param(&body, "model", "Suffix", SUFFIXES, false, &mut errors);
    for f in ["FirstName", "Middle", "LastName", "TimeZoneInfoId"] {
        if !(body[f].is_null() || body[f].is_string()) {
            errors.push((format!("model.{f}"), format!("The {f} field must be text.")));
        }
    }
    if !(body["Address"].is_null() || body["Address"].is_object()) {
        errors.push((
            "model.Address".into(),
            "The Address field is invalid.".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let Some(u) = s.user(uid).cloned() else {
        return Err(invalid());
    };
    let current = s.extra.profiles.entry(uid).or_default();
    for f in [
        "FirstName",
        "Middle",
        "LastName",
        "Salutation",
        "Suffix",
        "TimeZoneInfoId",
    ] {
        if let Some(v) = body[f].as_str() {
            current.insert(f.into(), json!(v));
        }
    }
    if let Value::Object(addr) = &body["Address"] {
        let mut merged = json!({"StreetAddress1": null, "StreetAddress2": null, "City": null, "State": 0, "PostalCode": null, "CountryId": 0});
        if let Some(Value::Object(old)) = current.get("Address") {
            for (k, v) in old {
                merged[k] = v.clone();
            }
        }
        for (k, v) in addr {
            let ok = match k.as_str() {
                "State" | "CountryId" => v.as_i64().and_then(|n| i32::try_from(n).ok()).is_some(),
                "StreetAddress1" | "StreetAddress2" | "City" | "PostalCode" => v.is_string(),
                _ => false,
            };
            if ok {
                merged[k] = v.clone();
            }
        }
        current.insert("Address".into(), merged);
    }
    Ok(respond(StatusCode::OK, user_model(&s, &u)))
}

pub(super) async fn agreements(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let rows: Vec<Value> = AGREEMENTS
        .iter()
        .filter(|(t, _)| !s.extra.signed.contains(&(uid, t.to_string())))
        .map(|(t, skip)| json!({"Type": t, "CanSkip": skip}))
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

/// Signs an agreement (by type name or 1-based index): it leaves the unsigned list.
pub(super) async fn sign_agreement(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((user, agreement)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let kind = AGREEMENTS
        .iter()
        .enumerate()
        .find(|(i, (t, _))| t.eq_ignore_ascii_case(&agreement) || (i + 1).to_string() == agreement)
        .map(|(_, (t, _))| t.to_string())
        .ok_or_else(invalid)?;
    s.extra.signed.insert((uid, kind));
    ok_empty()
}

// ---------------------------------------------------------------- accounts

fn date_param(
    q: &HashMap<String, String>,
    name: &str,
    uri: &Uri,
) -> Result<DateTime<Utc>, Response> {
    parse_date(required(q, name, uri)?).ok_or_else(invalid)
}

fn history_points(
    s: &Sandbox,
    accounts: &[usize],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Value, Response> {
    if to < from {
        return Err(invalid());
    }
    let value: Decimal = accounts
        .iter()
        .map(|&i| s.accounts[i].cash + s.market_value(&s.accounts[i]))
        .sum();
    let days = (to - from).num_days().min(366);
    let rows: Vec<Value> = (0..=days)
        .map(|d| json!({"Date": date(from + chrono::Duration::days(d)), "Value": num(value)}))
        .collect();
    Ok(Value::Array(rows))
}

pub(super) async fn account_history(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let from = date_param(&q, "startDate", &uri)?;
    let to = date_param(&q, "endDate", &uri)?;
    // `step` is required and ignored by the server.
    required(&q, "step", &uri)?
        .parse::<i32>()
        .map_err(|_| invalid())?;
    Ok(respond(
        StatusCode::OK,
        history_points(&s, &[ai], from, to)?,
    ))
}

/// Account ids of a consolidated body: all the token user's, or 401.
fn own_accounts(s: &Sandbox, me: i32, ids: &Value) -> Result<Vec<usize>, Response> {
    let Some(items) = ids.as_array() else {
        return Err(invalid());
    };
    items
        .iter()
        .map(|v| {
            let id = v.as_i64().ok_or_else(invalid)?;
            s.account_param(me, &id.to_string())
        })
        .collect()
}

pub(super) async fn consolidated_balance(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let body = parse_body(&body)?;
    let accounts = own_accounts(&s, me, &body)?;
    Ok(respond(StatusCode::OK, accounts_balance(&s, &accounts)))
}

pub(super) async fn accounts_history(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let from = date_param(&q, "startDate", &uri)?;
    let to = date_param(&q, "endDate", &uri)?;
    let body = parse_body(&body)?;
    let accounts = own_accounts(&s, me, &body)?;
    Ok(respond(
        StatusCode::OK,
        history_points(&s, &accounts, from, to)?,
    ))
}

fn relation(s: &Sandbox, user: i32, access: &str) -> Value {
    json!({
        "UserModel": s.user(user).map(|u| s.extra.profile(u.id, user_json(u))),
        "AccountAccessType": access,
    })
}

fn relations(s: &Sandbox, account: i32, owner: i32) -> Vec<Value> {
    std::iter::once(relation(s, owner, "Owner"))
        .chain(
            s.extra
                .shared
                .iter()
                .filter(|(a, ..)| *a == account)
                .map(|(_, u, access)| relation(s, *u, access)),
        )
        .collect()
}

/// The published API answers one relation: the owner's.
pub(super) async fn account_users(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    Ok(respond(StatusCode::OK, relation(&s, a.user_id, "Owner")))
}

pub(super) async fn account_details(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    let request = s.extra.requests.iter().find(|r| r.account == Some(a.id));
    let owner = s.user(a.user_id).map(|u| u.login.clone());
    let out = match request {
        Some(r) => json!({
            "Id": r.id, "CreatedAt": date(r.created), "AccountProvider": r.provider,
            "FormType": r.form_type, "User": owner, "ClearingAccountNumber": a.clearing,
            "IsOpened": true, "CustomerType": "Individual", "AdditionalInfo": {},
        }),
        None => json!({
            "Id": format!("00000000-0000-4000-8000-{:012}", a.id), "CreatedAt": "2020-07-30T10:00:00.000Z",
            "AccountProvider": "EtnaClearing", "FormType": "Direct", "User": owner,
            "ClearingAccountNumber": a.clearing, "IsOpened": true, "CustomerType": "Individual",
            "AdditionalInfo": {},
        }),
    };
    Ok(respond(StatusCode::OK, out))
}

/// Makes the account the user's current one (the answer is an empty object).
pub(super) async fn select_account(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    s.extra.selected.insert(me, id);
    Ok(respond(StatusCode::OK, json!({})))
}

/// The selected account of a user, if one was selected.
pub(super) fn selected(s: &Sandbox, user: i32) -> Option<i32> {
    s.extra.selected.get(&user).copied()
}

pub(super) async fn set_alias(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, alias)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    let alias = alias.trim();
    if alias.is_empty() || alias.len() > 64 {
        return Err(invalid());
    }
    s.extra.aliases.insert(id, alias.to_string());
    ok_empty()
}

pub(super) async fn delete_alias(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    s.extra.aliases.remove(&id);
    ok_empty()
}

const ACCESS: &[&str] = &["Full", "ReadOnly", "ClosePositionsOnly"];

fn share(
    s: &mut Sandbox,
    me: i32,
    account: &str,
    user: i32,
    q: &HashMap<String, String>,
    uri: &Uri,
) -> Result<Value, Response> {
    let a = s.account_param(me, account)?;
    let (account_id, owner) = (s.accounts[a].id, s.accounts[a].user_id);
    let access = required(q, "accessType", uri)?;
    let access = *ACCESS
        .iter()
        .find(|x| x.eq_ignore_ascii_case(access))
        .ok_or_else(invalid)?;
    if s.user(user).is_none() {
        return Err(invalid());
    }
    // The owner already has the account (the published API lists no 409 here).
    if user == owner {
        return Err(invalid());
    }
    s.extra
        .shared
        .retain(|(a, u, _)| !(*a == account_id && *u == user));
    s.extra.shared.push((account_id, user, access.to_string()));
    Ok(relation(s, user, access))
}

/// Shares one of the token user's accounts with another user.
pub(super) async fn add_account_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, user)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = if user == "@me" {
        me
    } else {
        user.parse().map_err(|_| invalid())?
    };
    Ok(respond(
        StatusCode::OK,
        share(&mut s, me, &account, uid, &q, &uri)?,
    ))
}

pub(super) async fn add_account_username(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, username)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s
        .config
        .users
        .iter()
        .find(|u| u.login == username)
        .map(|u| u.id)
        .ok_or_else(invalid)?;
    Ok(respond(
        StatusCode::OK,
        share(&mut s, me, &account, uid, &q, &uri)?,
    ))
}

/// Stops sharing; the answer lists who still has access.
pub(super) async fn remove_account_user(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, user)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let a = s.account_param(me, &account)?;
    let (account_id, owner) = (s.accounts[a].id, s.accounts[a].user_id);
    let uid: i32 = if user == "@me" {
        me
    } else {
        user.parse().map_err(|_| invalid())?
    };
    // The owner cannot be removed (the published API lists no 409 here).
    if uid == owner {
        return Err(invalid());
    }
    let before = s.extra.shared.len();
    s.extra
        .shared
        .retain(|(a, u, _)| !(*a == account_id && *u == uid));
    if s.extra.shared.len() == before {
        return Err(invalid());
    }
    Ok(respond(
        StatusCode::OK,
        Value::Array(relations(&s, account_id, owner)),
    ))
}

fn request_json(s: &Sandbox, r: &AccountRequest) -> Value {
    let u = s.user(r.user_id);
    json!({
        "Id": r.id, "UserId": r.user_id.to_string(), "Email": u.map(|u| u.email.clone()),
        "Status": r.status, "FormType": r.form_type, "RequestType": "Open",
        "AccountProvider": r.provider, "AccountCustomerType": "Individual",
        "CreatedAt": date(r.created), "AccountOpeningProviderName": r.provider_name,
        "AccountNumber": r.account.and_then(|id| s.accounts.iter().find(|a| a.id == id)).map(|a| a.clearing.clone()),
        "ClientName": u.map(|u| u.login.clone()),
    })
}

const PROVIDERS: &[&str] = &[
    "PaperTrading",
    "Apex",
    "Apex1",
    "Apex2",
    "FcStone",
    "Axos",
    "Velox",
    "Siebert",
    "InteliClear",
    "EtnaClearing",
    "Fidelity",
    "TradeUp",
];
const FORM_TYPES: &[&str] = &[
    "JotForm",
    "Direct",
    "FcStone",
    "FidelityWindow",
    "FidelityForm",
];

/// An account-opening request. A paper-trading one (`Direct` form) opens a $100,000 account at
/// once (status `Completed`, its clearing number in `AccountNumber`, listed by getUserAccounts);
/// any other stays `New` for the back office. A missing field fails inside the server (500),
/// as the GitBook reports; an unknown provider or form type is an invalid request.
pub(super) async fn open_account(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let uid = s.user_param(me, &user)?;
    let body = parse_body_or_empty(&body)?;
    let (Some(form), Some(provider)) =
        (body["FormType"].as_str(), body["AccountProvider"].as_str())
    else {
        return Err(server_error());
    };
    let form = *FORM_TYPES
        .iter()
        .find(|x| x.eq_ignore_ascii_case(form))
        .ok_or_else(invalid)?;
    let provider = *PROVIDERS
        .iter()
        .find(|x| x.eq_ignore_ascii_case(provider))
        .ok_or_else(invalid)?;
    if s.extra
        .requests
        .iter()
        .any(|r| r.user_id == uid && r.provider == provider && r.status == "New")
    {
        return Err(message(
            StatusCode::CONFLICT,
            "An account request of this provider is already pending.",
        ));
    }
    let mut request = AccountRequest {
        id: s.uuid(),
        user_id: uid,
        status: "New",
        form_type: form.to_string(),
        provider: provider.to_string(),
        provider_name: body["AccountOpeningProviderName"]
            .as_str()
            .map(str::to_string),
        account: None,
        created: Utc::now(),
    };
    if provider == "PaperTrading" && form == "Direct" {
        let id = s
            .accounts
            .iter()
            .map(|a| a.id)
            .max()
            .unwrap_or(3000)
            .max(3000)
            + 1;
        s.accounts.push(Account {
            id,
            user_id: uid,
            clearing: format!("5PT{id:05}"),
            cash: Decimal::new(100_000, 0),
            positions: BTreeMap::new(),
        });
        request.account = Some(id);
        request.status = "Completed";
    }
    let out = request_json(&s, &request);
    s.extra.requests.push(request);
    Ok(respond(StatusCode::OK, out))
}

// ---------------------------------------------------------------- password reset

pub(super) async fn secret_question(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.app_key(&headers)?;
    let name = required(&q, "username", &uri)?;
    let known = s
        .config
        .users
        .iter()
        .any(|u| u.login == name || u.email.eq_ignore_ascii_case(name));
    Ok(respond(
        StatusCode::OK,
        if known {
            resource_ok(Some(json!(SECRET_QUESTION)))
        } else {
            resource_failed("User not found.", "ErrorUserNotFound")
        },
    ))
}

/// The e-mailed code for a reset token (one use).
pub(super) async fn accept_reset_code(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    s.app_key(&headers)?;
    let body = parse_body_or_empty(&body)?;
    let code = body["Code"].as_str().unwrap_or_default();
    let Some(user) = s.extra.reset_codes.remove(code) else {
        return Ok(respond(
            StatusCode::OK,
            resource_failed("The code is invalid or expired.", "ErrorInvalidCode"),
        ));
    };
    let token = s.uuid();
    s.extra.reset_tokens.insert(token.clone(), user);
    Ok(respond(StatusCode::OK, resource_ok(Some(json!(token)))))
}

/// The new password for a reset token: the next login needs it.
pub(super) async fn reset_password(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut s = lock(&st);
    s.app_key(&headers)?;
    let body = parse_body_or_empty(&body)?;
    let token = body["Token"].as_str().unwrap_or_default();
    let password = body["Password"].as_str().unwrap_or_default().to_string();
    if password.is_empty() || body["PasswordConfirmation"].as_str() != Some(password.as_str()) {
        return Ok(respond(
            StatusCode::OK,
            resource_failed(
                "The password and its confirmation do not match.",
                "ErrorPasswordMismatch",
            ),
        ));
    }
    let Some(user) = s.extra.reset_tokens.remove(token) else {
        return Ok(respond(
            StatusCode::OK,
            resource_failed(
                "The reset token is invalid or expired.",
                "ErrorInvalidToken",
            ),
        ));
    };
    if let Some(u) = s.config.users.iter_mut().find(|u| u.id == user) {
        u.password = password;
    }
    Ok(respond(StatusCode::OK, resource_ok(None)))
}

// ---------------------------------------------------------------- funding

/// Links the Plaid accounts of a public token: one instantly approved relationship each.
pub(super) async fn plaid(
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
    text_field(&body, "PublicToken", &mut errors);
    let bank = text_field(&body, "BankName", &mut errors).map(str::to_string);
    let mut ids: Vec<String> = body["Accounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        if let Some(one) = body["AccountId"].as_str().filter(|v| !v.is_empty()) {
            ids.push(one.to_string());
        }
    }
    if ids.is_empty() {
        errors.push((
            "model.Accounts".into(),
            "The Accounts field is required.".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let owner = s.user(me).map(|u| u.login.clone()).unwrap_or_default();
    let mut out = Vec::new();
    for plaid_id in ids {
        if s.ach.iter().any(|r| {
            r.account_id == account_id && r.status != "Canceled" && r.account_number == plaid_id
        }) {
            return Err(ach_conflict(
                "An ACH relationship with this bank account already exists.",
            ));
        }
        let first = !s
            .ach
            .iter()
            .any(|r| r.account_id == account_id && r.status != "Canceled" && r.default);
        let r = AchRelationship {
            id: s.uuid(),
            account_id,
            routing: "021000021".into(),
            account_number: plaid_id,
            owner: owner.clone(),
            bank: bank.clone().unwrap_or_default(),
            bank_account_type: Some("Checking".into()),
            approval: "Instant".into(),
            status: "Approved",
            created: Utc::now(),
            cancelled: None,
            default: first,
        };
        out.push(ach_json(&r));
        s.ach.push(r);
    }
    Ok(respond(StatusCode::OK, Value::Array(out)))
}

/// A withdrawal by wire, check or Zelle: into the transfer list, `Submitted`, settled (and
/// the cash moved) by [`super::Server::complete_transfers`] like an ACH one.
async fn withdraw(
    st: Shared,
    headers: HeaderMap,
    account: String,
    body: Bytes,
    mechanism: &'static str,
    required_fields: &[&str],
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let body = parse_body(&body)?;
    let mut errors = Vec::new();
    for f in required_fields {
        text_field(&body, f, &mut errors);
    }
    let amount = positive_amount(&body, &mut errors);
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let amount = amount.unwrap_or_default();
    let pending: Decimal = s
        .transfers
        .iter()
        .filter(|t| t.account_id == account_id && !t.deposit && t.status == "Submitted")
        .map(|t| t.amount)
        .sum();
    if amount + pending > s.accounts[ai].cash {
        return Err(ach_conflict("Insufficient funds available to withdraw."));
    }
    let created_by = s.user(me).map(|u| u.login.clone()).unwrap_or_default();
    let transfer = Transfer {
        id: s.uuid(),
        account_id,
        mechanism,
        deposit: false,
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

pub(super) async fn wire(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    withdraw(
        st,
        headers,
        account,
        body,
        "Wire",
        &["BankName", "RoutingNumber", "Name", "AccountNumber"],
    )
    .await
}

pub(super) async fn check(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    withdraw(st, headers, account, body, "Check", &[]).await
}

pub(super) async fn zelle(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: Bytes,
) -> Answer {
    withdraw(st, headers, account, body, "Zelle", &["Name"]).await
}

/// The fee of a wire is $25, of an overnight check $15; ACH and Zelle are free.
pub(super) async fn transfer_fees(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, id)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let account_id = s.accounts[ai].id;
    let t = s
        .transfers
        .iter()
        .find(|t| t.account_id == account_id && t.id.eq_ignore_ascii_case(&id))
        .ok_or_else(invalid)?;
    let fee = match t.mechanism {
        "Wire" => Some(Decimal::new(25, 0)),
        "Check" => Some(Decimal::new(15, 0)),
        _ => None,
    };
    let rows: Vec<Value> = fee
        .into_iter()
        .map(|f| {
            json!({"Type": format!("{}Fee", t.mechanism), "CustomerDebitAmount": num(f), "FirmCreditAmount": num(f), "CorrespondentNetAmount": 0})
        })
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

/// The sandbox's accounts are not retirement accounts: no contribution or distribution rules.
pub(super) async fn ira_constraints(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, mechanism, deposit)): Path<(String, String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    s.account_param(me, &account)?;
    if !["ACH", "Check", "Wire", "Zelle"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(&mechanism))
        || !["true", "false"].contains(&deposit.to_ascii_lowercase().as_str())
    {
        return Err(invalid());
    }
    Ok(respond(
        StatusCode::OK,
        json!({
            "IsRetirementAccount": false,
            "ContributionConstraints": {"OnlyAllowCurrentYearContribution": false, "ValidContributions": []},
            "DistributionConstraints": {"TotalDistributionAllowed": false, "ValidDistributionReasons": {}},
        }),
    ))
}

// ---------------------------------------------------------------- orders

fn order_item(s: &Sandbox, o: &Order) -> Value {
    let working = matches!(o.status, "New" | "PartiallyFilled" | "PendingNew");
    json!({
        "Id": o.id, "SecurityId": o.security_id, "Symbol": o.symbol, "Status": o.status,
        "CreateDate": ms(o.created), "Date": ms(o.created), "Currency": "USD",
        "TimeInForce": o.tif, "Price": opt_num(o.price), "StopPrice": opt_num(o.stop_price),
        "Type": o.kind, "InitialType": o.kind, "Quantity": num(o.quantity), "Side": o.side,
        "Legs": [], "ParentId": -1, "SecurityType": "CommonStock", "ExecInst": 0,
        "AveragePrice": opt_num(o.average_price), "ExecutedQuantity": num(o.executed),
        "LeavesQuantity": num(if working { o.quantity - o.executed } else { Decimal::ZERO }),
        "IsRequest": false, "UserId": o.user_id,
        "Login": s.user(o.user_id).map(|u| u.login.clone()), "ClientId": o.client_id,
        "RequestStatus": if o.status == "Rejected" { "Rejected" } else { "Complete" },
        "ExecutionStatus": o.status, "OrderStatusDescription": o.description,
        "ParentRequestId": -1, "IsCompleted": !working,
    })
}

pub(super) async fn order_details(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, order)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let oi = order_index(&s, s.accounts[ai].id, &order)?;
    Ok(respond(
        StatusCode::OK,
        json!([order_item(&s, &s.orders[oi])]),
    ))
}

/// The verification of an order as placed: successful unless the platform rejected it.
pub(super) async fn verified_order(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, order)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = s.account_param(me, &account)?;
    let oi = order_index(&s, s.accounts[ai].id, &order)?;
    let o = &s.orders[oi];
    let unit = o
        .price
        .or(o.average_price)
        .or_else(|| s.security_by_id(o.security_id).map(|x| x.last))
        .unwrap_or_default();
    let ok = o.status != "Rejected";
    let check = Check {
        ok,
        code: if ok { "" } else { "OrderRejected" },
        text: o.description.clone().unwrap_or_default(),
        args: Vec::new(),
        cost: if ok { unit * o.quantity } else { Decimal::ZERO },
    };
    Ok(respond(StatusCode::OK, s.preview_json(&check, Some(o.id))))
}

/// How much of `symbol` the account can buy (cash / price) and sell (the position).
pub(super) async fn order_limits(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, symbol)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    let sec = s
        .security(&symbol)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))?;
    let price = match q.get("price") {
        Some(p) => Decimal::from_str(p)
            .ok()
            .filter(|p| *p > Decimal::ZERO)
            .ok_or_else(invalid)?,
        None => sec.last,
    };
    let power = s.buying_power(a) - s.config.commission;
    let buy = if power > Decimal::ZERO {
        (power / price).floor()
    } else {
        Decimal::ZERO
    };
    let held = a
        .positions
        .get(&sec.id)
        .map(|p| p.quantity)
        .unwrap_or_default();
    Ok(respond(
        StatusCode::OK,
        json!({
            "BuyPrice": num(price), "SellPrice": num(price), "BuyLimit": num(buy),
            "SellLimit": num(held.max(Decimal::ZERO)), "AccountId": a.id, "Symbol": sec.symbol,
        }),
    ))
}

/// The paging fields of a `ConsolidatedQueryDto`.
fn consolidated_query(
    s: &Sandbox,
    me: i32,
    body: &Value,
) -> Result<(Vec<usize>, usize, usize), Response> {
    let accounts = own_accounts(s, me, &body["AccountIds"])?;
    let page = body["PageNumber"].as_u64().unwrap_or(0) as usize;
    let size = body["PageSize"].as_u64().unwrap_or(25) as usize;
    if size == 0 || size > 100 {
        return Err(validation(&[(
            "query.PageSize",
            "The page size must be between 1 and 100.",
        )]));
    }
    Ok((accounts, page, size))
}

fn sort_by_body(rows: &mut [Value], body: &Value) {
    let mut q = HashMap::new();
    if let Some(f) = body["SortField"].as_str() {
        q.insert("f".to_string(), f.to_string());
    }
    q.insert(
        "d".to_string(),
        body["Desc"].as_bool().unwrap_or(false).to_string(),
    );
    sort_rows(rows, &q, "f", "d");
}

pub(super) async fn consolidated_orders(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let body = parse_body(&body)?;
    let (accounts, p, size) = consolidated_query(&s, me, &body)?;
    let ids: Vec<i32> = accounts.iter().map(|&i| s.accounts[i].id).collect();
    let mine: Vec<Order> = s
        .orders
        .iter()
        .filter(|o| ids.contains(&o.account_id))
        .cloned()
        .collect();
    let rows = apply_filter(mine, q.get("filter"), |o, f| match f {
        "Id" => Some(FVal::Num(o.id.into())),
        "AccountId" => Some(FVal::Num(o.account_id.into())),
        "Symbol" => Some(FVal::Str(o.symbol.clone())),
        "Status" => Some(ordinal(ORDER_STATUSES, o.status)),
        "CreateDate" => Some(FVal::Date(o.created)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = rows.iter().map(order_json).collect();
    sort_by_body(&mut rows, &body);
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

// ---------------------------------------------------------------- mutual funds

/// `{clearingNumber}`: one of the token user's accounts by clearing number.
fn clearing_param(s: &Sandbox, me: i32, raw: &str) -> Result<usize, Response> {
    match s
        .accounts
        .iter()
        .position(|a| a.clearing.eq_ignore_ascii_case(raw))
    {
        Some(i) if s.accounts[i].user_id == me => Ok(i),
        Some(_) => Err(denied()),
        None => Err(invalid()),
    }
}

/// A mutual-fund order's check: `Err((code, argument))` for a business rejection.
type Verdict = Result<(), (&'static str, String)>;

#[derive(Clone, Copy, PartialEq)]
enum FundAction {
    Buy,
    Sell,
    Exchange,
    Liquidate,
}

/// Reads a mutual-fund body into an order (422 for a malformed one) and checks it: `Err` text
/// for a business rejection.
fn fund_order(
    s: &Sandbox,
    ai: usize,
    action: FundAction,
    body: &Value,
) -> Result<(FundOrder, Verdict), Response> {
    let account = &s.accounts[ai];
    let mut errors = Vec::new();
    let symbol_field = if action == FundAction::Exchange {
        "SourceSymbol"
    } else {
        "Symbol"
    };
    let symbol = text_field(body, symbol_field, &mut errors)
        .unwrap_or_default()
        .to_string();
    let target = if action == FundAction::Exchange {
        text_field(body, "TargetSymbol", &mut errors).map(str::to_string)
    } else {
        None
    };
    let qualifier = enum_field(
        body,
        "QuantityQualifier",
        &[
            "Shares",
            "EvenDollar",
            "GrossDollar",
            "MinusRounding",
            "PlusRounding",
        ],
        false,
        &mut errors,
    );
    let quantity = match action {
        FundAction::Buy | FundAction::Sell => match decimal_of(&body["Quantity"]) {
            Some(q) => Some(q),
            None => {
                errors.push((
                    "model.Quantity".into(),
                    "The Quantity field is required.".into(),
                ));
                None
            }
        },
        _ => None,
    };
    if !errors.is_empty() {
        return Err(validation_owned(errors));
    }
    let dollars = matches!(qualifier.as_deref(), Some("EvenDollar" | "GrossDollar"));
    let held = |sym: &str| {
        s.extra
            .holdings
            .get(&(account.id, sym.to_ascii_uppercase()))
            .copied()
            .unwrap_or_default()
    };
    let mut order = FundOrder {
        id: 0,
        account_id: account.id,
        symbol: symbol.to_ascii_uppercase(),
        shares: None,
        dollars: None,
        target: target.as_ref().map(|t| t.to_ascii_uppercase()),
        status: "New",
        executed: Decimal::ZERO,
        description: String::new(),
    };
    let verdict = (|| {
        let (_, _, nav) = fund_nav(&symbol).ok_or(("SymbolNotFound", symbol.clone()))?;
        if let Some(t) = &target {
            fund_nav(t).ok_or(("SymbolNotFound", t.clone()))?;
        }
        match action {
            FundAction::Buy => {
                let q = quantity.unwrap_or_default();
                if q <= Decimal::ZERO {
                    return Err(("InvalidQuantity", q.to_string()));
                }
                let cost = if dollars { q } else { q * nav };
                if cost > s.buying_power(account) {
                    return Err(("BuyingPowerExceeded", cost.to_string()));
                }
                if dollars {
                    order.dollars = Some(q);
                } else {
                    order.shares = Some(q);
                }
            }
            FundAction::Sell => {
                let q = quantity.unwrap_or_default();
                let shares = if dollars { q / nav } else { q };
                if q <= Decimal::ZERO {
                    return Err(("InvalidQuantity", q.to_string()));
                }
                if shares > held(&symbol) {
                    return Err(("InsufficientShares", symbol.clone()));
                }
                order.shares = Some(-shares);
            }
            FundAction::Exchange | FundAction::Liquidate => {
                if held(&symbol) <= Decimal::ZERO {
                    return Err(("InsufficientShares", symbol.clone()));
                }
            }
        }
        Ok(())
    })();
    Ok((order, verdict))
}

fn fund_preview(verdict: &Verdict) -> Value {
    match verdict {
        Ok(()) => json!({"IsSuccessful": true, "ErrorDescriptionArgs": []}),
        Err((code, arg)) => json!({
            "IsSuccessful": false, "ErrorDescription": code,
            "ErrorDescriptionText": format!("The mutual-fund order was refused: {code}."),
            "ErrorDescriptionArgs": [arg],
        }),
    }
}

fn fund_json(o: &FundOrder) -> Value {
    let quantity = o.shares.map(|q| q.abs()).or(o.dollars);
    json!({
        "Id": o.id, "Status": o.status, "ExecutionStatus": o.status,
        "Description": if o.description.is_empty() { Value::Null } else { json!(o.description) },
        "ExecutedQuantity": num(o.executed), "Quantity": opt_num(quantity),
    })
}

async fn fund(
    st: Shared,
    headers: HeaderMap,
    clearing: String,
    body: Bytes,
    action: FundAction,
    place: bool,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = clearing_param(&s, me, &clearing)?;
    let body = parse_body(&body)?;
    let (mut order, verdict) = fund_order(&s, ai, action, &body)?;
    if !place {
        return Ok(respond(StatusCode::OK, fund_preview(&verdict)));
    }
    // Placement answers 200 for a refused order too: watch Status.
    if let Err((code, _)) = &verdict {
        order.status = "Rejected";
        order.description = code.to_string();
    }
    order.id = s.id();
    let out = fund_json(&order);
    s.extra.fund_orders.push(order);
    Ok(respond(StatusCode::OK, out))
}

macro_rules! fund_handler {
    ($name:ident, $action:expr, $place:expr) => {
        pub(super) async fn $name(
            State(st): State<Shared>,
            headers: HeaderMap,
            Path(clearing): Path<String>,
            body: Bytes,
        ) -> Answer {
            fund(st, headers, clearing, body, $action, $place).await
        }
    };
}

fund_handler!(fund_buy, FundAction::Buy, true);
fund_handler!(fund_sell, FundAction::Sell, true);
fund_handler!(fund_exchange, FundAction::Exchange, true);
fund_handler!(fund_liquidate, FundAction::Liquidate, true);
fund_handler!(preview_fund_buy, FundAction::Buy, false);
fund_handler!(preview_fund_sell, FundAction::Sell, false);
fund_handler!(preview_fund_exchange, FundAction::Exchange, false);
fund_handler!(preview_fund_liquidate, FundAction::Liquidate, false);

/// Cancels a mutual-fund order that has not been settled (204); a settled or refused one is a
/// conflict.
pub(super) async fn cancel_fund(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((clearing, order)): Path<(String, String)>,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let ai = clearing_param(&s, me, &clearing)?;
    let account_id = s.accounts[ai].id;
    let id: i32 = order.parse().map_err(|_| invalid())?;
    let o = s
        .extra
        .fund_orders
        .iter_mut()
        .find(|o| o.id == id && o.account_id == account_id)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Order not found."))?;
    if o.status != "New" {
        return Err(message(
            StatusCode::CONFLICT,
            "A conflict has occurred while attempting to cancel the order.",
        ));
    }
    o.status = "Canceled";
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Settles every `New` mutual-fund order at its fund's NAV. Returns how many settled.
pub(super) fn settle_funds(s: &mut Sandbox) -> usize {
    let mut settled = 0;
    for i in 0..s.extra.fund_orders.len() {
        let o = s.extra.fund_orders[i].clone();
        if o.status != "New" {
            continue;
        }
        let Some(ai) = s.accounts.iter().position(|a| a.id == o.account_id) else {
            continue;
        };
        let Some((_, _, nav)) = fund_nav(&o.symbol) else {
            continue;
        };
        let key = (o.account_id, o.symbol.clone());
        let held = s.extra.holdings.get(&key).copied().unwrap_or_default();
        let shares = match (o.shares, o.dollars, &o.target) {
            (Some(q), ..) => q,
            (None, Some(d), _) => (d / nav).round_dp(3),
            (None, None, _) => -held,
        };
        if held + shares < Decimal::ZERO || s.accounts[ai].cash < shares * nav {
            s.extra.fund_orders[i].status = "Rejected";
            continue;
        }
        let proceeds = -shares * nav;
        s.extra.holdings.insert(key, held + shares);
        s.accounts[ai].cash += proceeds;
        if let Some((target, _, tnav)) = o.target.as_deref().and_then(fund_nav) {
            let bought = (proceeds / tnav).round_dp(3);
            *s.extra
                .holdings
                .entry((o.account_id, target.to_string()))
                .or_default() += bought;
            s.accounts[ai].cash -= proceeds;
        }
        let f = &mut s.extra.fund_orders[i];
        f.status = "Filled";
        f.executed = shares.abs();
        settled += 1;
    }
    settled
}

// ---------------------------------------------------------------- positions

pub(super) async fn positions_by_symbol(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, symbol)): Path<(String, String)>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    let sec = s
        .security(&symbol)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))?;
    let rows: Vec<Value> = a
        .positions
        .values()
        .filter(|p| p.security_id == sec.id)
        .map(|p| position_json(&s, a, p))
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

fn position_value(s: &Sandbox, p: &Position) -> Decimal {
    p.quantity
        * s.security_by_id(p.security_id)
            .map(|x| x.last)
            .unwrap_or_default()
}

/// Market value by group: equities (and ETFs) and cash, plus the mutual funds held.
pub(super) async fn position_groups(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    let equity: Decimal = a.positions.values().map(|p| position_value(&s, p)).sum();
    let funds: Decimal = s
        .extra
        .holdings
        .iter()
        .filter(|((acc, _), _)| *acc == a.id)
        .filter_map(|((_, sym), q)| fund_nav(sym).map(|(_, _, nav)| *q * nav))
        .sum();
    let mut rows = vec![json!({"Name": "Equity", "MarketValue": num(equity)})];
    if funds > Decimal::ZERO {
        rows.push(json!({"Name": "Other", "MarketValue": num(funds)}));
    }
    rows.push(json!({"Name": "Cash", "MarketValue": num(a.cash)}));
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

/// The `count` (default 5) largest positions by market value.
pub(super) async fn top_positions(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let a = &s.accounts[s.account_param(me, &account)?];
    let count: usize = match q.get("count") {
        Some(c) => c.parse().map_err(|_| invalid())?,
        None => 5,
    };
    let mut rows: Vec<(Decimal, String)> = a
        .positions
        .values()
        .map(|p| {
            (
                position_value(&s, p),
                s.security_by_id(p.security_id)
                    .map(|x| x.symbol.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    rows.sort_by_key(|x| std::cmp::Reverse(x.0));
    let rows: Vec<Value> = rows
        .into_iter()
        .take(count)
        .map(|(v, name)| json!({"Name": name, "MarketValue": num(v)}))
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

pub(super) async fn consolidated_positions(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let body = parse_body(&body)?;
    let (accounts, p, size) = consolidated_query(&s, me, &body)?;
    let list: Vec<(usize, Position)> = accounts
        .iter()
        .flat_map(|&i| {
            s.accounts[i]
                .positions
                .values()
                .map(move |p| (i, p.clone()))
        })
        .collect();
    let list = apply_filter(list, q.get("filter"), |(_, pos), f| match f {
        "SecurityId" => Some(FVal::Num(pos.security_id.into())),
        "Symbol" => s
            .security_by_id(pos.security_id)
            .map(|x| FVal::Str(x.symbol.clone())),
        "Quantity" => Some(FVal::Num(pos.quantity)),
        _ => None,
    })?;
    let mut rows: Vec<Value> = list
        .iter()
        .map(|(i, pos)| position_json(&s, &s.accounts[*i], pos))
        .collect();
    sort_by_body(&mut rows, &body);
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

// ---------------------------------------------------------------- securities, market data

/// A 1×1 PNG.
const LOGO: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

pub(super) async fn logo(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(symbol): Path<String>,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    s.security(&symbol)
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "image/png")], LOGO).into_response())
}

/// Rates against USD (units of the currency per dollar).
const RATES: &[(&str, i64)] = &[
    ("USD", 10_000),
    ("EUR", 9_200),
    ("GBP", 7_900),
    ("CAD", 13_600),
];

pub(super) async fn currency_rate(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let rate = |c: &str| {
        RATES
            .iter()
            .find(|(x, _)| x.eq_ignore_ascii_case(c))
            .map(|(_, r)| Decimal::new(*r, 4))
    };
    let from = rate(required(&q, "currency", &uri)?);
    let to = rate(required(&q, "targetCurrency", &uri)?);
    let (Some(from), Some(to)) = (from, to) else {
        return Err(message(StatusCode::NOT_FOUND, "Currency rate not found."));
    };
    let last = (to / from).round_dp(6);
    let spread = Decimal::new(1, 4);
    Ok(respond(
        StatusCode::OK,
        json!({"Bid": num(last - spread), "Ask": num(last + spread), "Last": num(last), "Date": date(Utc::now())}),
    ))
}

/// The options of an underlying by expiration. `filter` takes `Expiration = #…#`,
/// `ExpirationType = n` and `Range = n` (n strikes each side of the central one).
pub(super) async fn option_chain(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(symbol): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let Some(sec) = s.security(&symbol) else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "Enquired security is non-existent.",
        ));
    };
    let mut range = None;
    let mut rest = Vec::new();
    if let Some(f) = q.get("filter").filter(|f| !f.trim().is_empty()) {
        let bad = || {
            message(
                StatusCode::BAD_REQUEST,
                "Filter query is invalid or contains unsupported operations.",
            )
        };
        for c in parse_filter(f).ok_or_else(bad)? {
            match &c {
                Cond::Cmp(name, op, FVal::Num(n)) if name == "Range" && op == "=" => {
                    range = Some(n.to_string().parse::<usize>().map_err(|_| bad())?)
                }
                _ => rest.push(c),
            }
        }
    }
    let mut expirations: Vec<DateTime<Utc>> = s
        .options
        .iter()
        .filter(|o| o.underlying.eq_ignore_ascii_case(&sec.symbol))
        .map(|o| o.expiration)
        .collect();
    expirations.sort();
    expirations.dedup();
    let mut out = Vec::new();
    for e in expirations {
        let matches = rest.iter().all(|c| match c {
            Cond::Cmp(name, op, FVal::Date(d)) if name == "Expiration" && op == "=" => *d == e,
            Cond::Cmp(name, op, FVal::Num(n)) if name == "ExpirationType" && op == "=" => {
                n.is_zero()
            }
            _ => false,
        });
        if !matches {
            if rest.iter().any(
                |c| !matches!(c, Cond::Cmp(n, ..) if n == "Expiration" || n == "ExpirationType"),
            ) {
                return Err(message(
                    StatusCode::BAD_REQUEST,
                    "Filter query is invalid or contains unsupported operations.",
                ));
            }
            continue;
        }
        let mut strikes: Vec<Decimal> = s
            .options
            .iter()
            .filter(|o| o.underlying.eq_ignore_ascii_case(&sec.symbol) && o.expiration == e)
            .map(|o| o.strike)
            .collect();
        strikes.sort();
        strikes.dedup();
        let central_at = strikes
            .iter()
            .enumerate()
            .min_by_key(|(_, k)| (**k - sec.last).abs())
            .map(|(i, _)| i)
            .unwrap_or(0);
        let central = strikes.get(central_at).copied().unwrap_or_default();
        let kept: Vec<Decimal> = match range {
            Some(n) => strikes
                .iter()
                .enumerate()
                .filter(|(i, _)| i.abs_diff(central_at) <= n)
                .map(|(_, k)| *k)
                .collect(),
            None => strikes,
        };
        let options: Vec<Value> = s
            .options
            .iter()
            .filter(|o| {
                o.underlying.eq_ignore_ascii_case(&sec.symbol)
                    && o.expiration == e
                    && kept.contains(&o.strike)
            })
            .map(option_json)
            .collect();
        out.push(json!({"Expiration": date(e), "CentralStrike": num(central), "Options": options}));
    }
    Ok(respond(StatusCode::OK, json!({"Expirations": out})))
}

/// Candles of a security: `count` daily candles ending today, around its last price.
fn candles(sec: &Security, count: usize, base: Option<Decimal>) -> Vec<Value> {
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or_default();
    (0..count)
        .map(|i| {
            let back = (count - 1 - i) as i64;
            let t = today - chrono::Duration::days(back);
            // A gentle deterministic wave: ±1% around the last price.
            let wiggle = Decimal::new(((i as i64 * 7) % 5) - 2, 3);
            let close = (sec.last * (Decimal::ONE + wiggle)).round_dp(2);
            let open = (close * Decimal::new(9_995, 4)).round_dp(2);
            let mut v = json!({
                "IsMarket": true, "Volume": 1_000_000 + (i as i64) * 1_000, "OpenInterest": 0,
                "Time": t.timestamp(), "DateTime": date(t), "Open": num(open),
                "High": num(close.max(open) + Decimal::new(25, 2)),
                "Low": num(close.min(open) - Decimal::new(25, 2)), "Close": num(close),
            });
            if let Some(b) = base.filter(|b| !b.is_zero()) {
                v["Price"] = num(close);
                v["Difference"] = num(((close - b) / b * Decimal::ONE_HUNDRED).round_dp(4));
            }
            v
        })
        .collect()
}

fn candle_count(settings: &Value) -> usize {
    match settings["CandlesCount"].as_i64() {
        Some(n) if n > 0 => (n as usize).min(500),
        _ => 10,
    }
}

fn resolve_signature(s: &Sandbox, v: &Value) -> Result<Security, Response> {
    let by_id = v["Id"]
        .as_i64()
        .and_then(|i| i32::try_from(i).ok())
        .and_then(|i| s.security_by_id(i));
    let by_symbol = v["Symbol"].as_str().and_then(|sym| s.security(sym));
    by_id
        .or(by_symbol)
        .cloned()
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))
}

pub(super) async fn compare_chart(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let body = parse_body(&body)?;
    let Some(list) = body["Securities"].as_array().filter(|l| !l.is_empty()) else {
        return Err(validation(&[(
            "model.Securities",
            "The Securities field is required.",
        )]));
    };
    let count = candle_count(&body["SecuritiesHistorySettings"]);
    let mut out = Vec::new();
    for v in list {
        let sec = resolve_signature(&s, v)?;
        let first = candles(&sec, count, None)
            .first()
            .and_then(|c| decimal_of(&c["Close"]));
        out.push(Value::Array(candles(&sec, count, first)));
    }
    Ok(respond(StatusCode::OK, Value::Array(out)))
}

pub(super) async fn chart_history(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let body = parse_body(&body)?;
    if body["Security"].is_null() {
        return Err(validation(&[(
            "model.Security",
            "The Security field is required.",
        )]));
    }
    let sec = resolve_signature(&s, &body["Security"])?;
    let count = candle_count(&body["SecurityHistorySettings"]);
    let series = candles(&sec, count, None);
    let indicators: Vec<Value> = body["IndicatorsHistorySettings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|_| {
            Value::Array(
                series
                    .iter()
                    .map(|c| json!({"Date": c["Time"], "Values": [c["Close"]]}))
                    .collect(),
            )
        })
        .collect();
    let low = (sec.last * Decimal::new(97, 2)).round_dp(2);
    let high = (sec.last * Decimal::new(103, 2)).round_dp(2);
    Ok(respond(
        StatusCode::OK,
        json!({
            "SecurityHistory": [series], "IndicatorsHistory": indicators,
            "SupportResistanceHistory": {"SupportPrice": num(low), "ResistancePrice": num(high), "Levels": []},
        }),
    ))
}

/// The export is a spreadsheet; the sandbox sends a minimal ZIP container (an empty archive)
/// with the spreadsheet media type.
pub(super) async fn export_chart(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let body = parse_body(&body)?;
    for id in body["Securities"].as_array().into_iter().flatten() {
        let id = id
            .as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .ok_or_else(invalid)?;
        s.security_by_id(id)
            .ok_or_else(|| message(StatusCode::NOT_FOUND, "Enquired security is non-existent."))?;
    }
    let name = body["DefaultFileName"].as_str().unwrap_or("export");
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let empty_zip: &[u8] = &[
        0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}.xlsx\"",
                    if safe.is_empty() { "export" } else { &safe }
                ),
            ),
        ],
        empty_zip,
    )
        .into_response())
}

pub(super) async fn news(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let symbol = required(&q, "symbol", &uri)?;
    let Some(sec) = s.security(symbol) else {
        return Ok(respond(StatusCode::OK, json!([])));
    };
    let now = Utc::now().timestamp();
    let rows: Vec<Value> = (0..2)
        .map(|i| {
            json!({
                "NewsId": sec.id * 100 + i, "Key": sec.symbol, "Date": now - i64::from(i) * 3600,
                "Source": "Sandbox Wire",
                "Header": format!("{} {}", sec.description, if i == 0 { "shares active in early trading" } else { "to report quarterly results" }),
                "Attachment": Value::Null,
                "Content": format!("{} ({}) last traded at {}.", sec.description, sec.symbol, sec.last),
            })
        })
        .collect();
    Ok(respond(StatusCode::OK, Value::Array(rows)))
}

pub(super) async fn corporate_actions(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let symbol = required(&q, "symbol", &uri)?;
    let sec = s.security(symbol).ok_or_else(|| no_route(&uri))?;
    Ok(respond(
        StatusCode::OK,
        json!([{
            "Id": sec.id * 10, "CorporateActionEventId": sec.id * 10 + 1, "Completed": true,
            "CompleteDate": "2024-02-16T00:00:00.000Z", "UniqueId": format!("DIV-{}-2024Q1", sec.symbol),
            "SecurityId": sec.id, "Date": "2024-02-09T00:00:00.000Z", "Type": "CashDividend",
            "IsCancel": false, "Data": {"Rate": "0.24", "Currency": "USD"},
        }]),
    ))
}

/// Records the feedback; the answer echoes it.
pub(super) async fn feedback(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let mut s = lock(&st);
    s.auth(&headers)?;
    let body = parse_body(&body)?;
    let Value::Object(mut fields) = body else {
        return Err(invalid());
    };
    let images = fields
        .get("ImagesToUpload")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if images > 5 {
        return Err(message(
            StatusCode::CONFLICT,
            "At most five images can be attached.",
        ));
    }
    for f in ["BuildVersion", "Comment", "Contacts", "Subject"] {
        if fields
            .get(f)
            .is_some_and(|v| !(v.is_string() || v.is_null()))
        {
            return Err(invalid());
        }
    }
    fields.retain(|k, _| {
        matches!(
            k.as_str(),
            "BuildVersion" | "Comment" | "Contacts" | "Subject" | "ImagesToUpload"
        )
    });
    let out = Value::Object(fields);
    s.extra.feedback.push(out.clone());
    Ok(respond(StatusCode::OK, out))
}

// ---------------------------------------------------------------- activity

fn activity_json(s: &Sandbox, t: &Transaction) -> Value {
    let clearing = s
        .accounts
        .iter()
        .find(|a| a.id == t.account_id)
        .map(|a| a.clearing.clone());
    json!({
        "AccountNumber": clearing, "ActivityType": t.kind, "Date": date(t.date),
        "SettlementDate": date(t.date), "Symbol": t.symbol, "Description": format!("{} {}", t.kind, t.symbol),
        "Quantity": num(t.quantity), "Price": num(t.price), "NetAmount": num(t.value),
        "Fees": 0, "Commissions": if t.kind == "Commission" { num(-t.value) } else { json!(0) },
        "MarginType": "Cash", "CurrencyCode": "USD",
    })
}

fn activity_rows(
    s: &Sandbox,
    accounts: &[i32],
    filter: Option<&String>,
) -> Result<Vec<Value>, Response> {
    let list: Vec<Transaction> = s
        .transactions
        .iter()
        .filter(|t| accounts.contains(&t.account_id))
        .cloned()
        .collect();
    let rows = apply_filter(list, filter, |t, f| match f {
        "Symbol" => Some(FVal::Str(t.symbol.clone())),
        "Date" => Some(FVal::Date(t.date)),
        "NetAmount" | "Value" => Some(FVal::Num(t.value)),
        _ => None,
    })?;
    Ok(rows.iter().map(|t| activity_json(s, t)).collect())
}

fn ascending_flag(q: &HashMap<String, String>, name: &str, uri: &Uri) -> Result<bool, Response> {
    flag(q, name, uri)
}

pub(super) async fn activity(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    let (p, size) = paging(&q, &uri, "pageNumber")?;
    required(&q, "sortBy", &uri)?;
    let asc = ascending_flag(&q, "isAsc", &uri)?;
    let mut rows = activity_rows(&s, &[id], q.get("filter"))?;
    let mut order = q.clone();
    order.insert("__desc".into(), (!asc).to_string());
    sort_rows(&mut rows, &order, "sortBy", "__desc");
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

const REPORTS: &[&str] = &["NotReport", "CsvReport", "PdfReport"];

/// A report as lines of text (a CSV report: a header and one line per row).
fn report(q: &HashMap<String, String>, uri: &Uri, rows: &[Value]) -> Result<Value, Response> {
    let kind = required(q, "reportEnum", uri)?;
    if !REPORTS.iter().any(|r| r.eq_ignore_ascii_case(kind)) {
        return Err(invalid());
    }
    let mut lines = vec!["Date,Type,Symbol,Quantity,Price,Amount".to_string()];
    for r in rows {
        let text = |k: &str| match &r[k] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
        lines.push(
            [
                text("Date"),
                text("ActivityType"),
                text("Symbol"),
                text("Quantity"),
                text("Price"),
                text("NetAmount"),
            ]
            .join(","),
        );
    }
    Ok(json!(lines))
}

pub(super) async fn activity_report(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    required(&q, "sortBy", &uri)?;
    ascending_flag(&q, "isAsc", &uri)?;
    let rows = activity_rows(&s, &[id], q.get("filter"))?;
    Ok(respond(StatusCode::OK, report(&q, &uri, &rows)?))
}

pub(super) async fn transaction_report(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    required(&q, "sortBy", &uri)?;
    flag(&q, "isDesc", &uri)?;
    let rows = activity_rows(&s, &[id], q.get("filter"))?;
    Ok(respond(StatusCode::OK, report(&q, &uri, &rows)?))
}

const TRANSACTION_TYPES: &[&str] = &[
    "Commission",
    "OrderExecution",
    "OptionExpiration",
    "Payment",
    "ManualManipulation",
    "Clearing",
    "Rpl",
];

pub(super) async fn allowed_types(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    s.account_param(me, &account)?;
    Ok(respond(StatusCode::OK, json!(TRANSACTION_TYPES)))
}

pub(super) async fn consolidated_transactions(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
    body: Bytes,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let body = parse_body(&body)?;
    let (accounts, p, size) = consolidated_query(&s, me, &body)?;
    let ids: Vec<i32> = accounts.iter().map(|&i| s.accounts[i].id).collect();
    let mut rows = activity_rows(&s, &ids, q.get("filter"))?;
    sort_by_body(&mut rows, &body);
    Ok(respond(StatusCode::OK, page(rows, p, size, &uri)))
}

// ---------------------------------------------------------------- IPO

/// The sandbox's IPO offerings: reference, name, ticker, industry.
const OFFERINGS: &[(&str, &str, &str, &str)] = &[
    ("IPO-NEWCO-2030", "NewCo Holdings", "NEWCO", "Technology"),
    (
        "IPO-GRNE-2030",
        "Green Energy Partners",
        "GRNE",
        "Utilities",
    ),
];

pub(super) async fn ipo_industries(State(st): State<Shared>, headers: HeaderMap) -> Answer {
    let s = lock(&st);
    s.auth(&headers)?;
    let mut list: Vec<&str> = OFFERINGS.iter().map(|o| o.3).collect();
    list.sort_unstable();
    list.dedup();
    Ok(respond(StatusCode::OK, json!(list)))
}

/// Public (app key only): the offerings as one JSON string.
pub(super) async fn ipo_security_info(State(st): State<Shared>, headers: HeaderMap) -> Answer {
    let s = lock(&st);
    s.app_key(&headers)?;
    let list: Vec<Value> = OFFERINGS
        .iter()
        .map(|(_, name, ticker, _)| json!({"Symbol": ticker, "Name": name}))
        .collect();
    Ok(respond(
        StatusCode::OK,
        Value::String(Value::Array(list).to_string()),
    ))
}

fn offering_json(account: i32, subscribed: bool, o: &(&str, &str, &str, &str)) -> Value {
    json!({
        "OfferingReference": o.0, "Name": o.1, "TickerSymbol": o.2, "Industry": o.3,
        "Description": format!("Initial public offering of {}.", o.1), "OfferingTypeName": "IPO",
        "Underwriter": [{"ExecutingBrokerMpid": "SBOX", "ExecutingBrokerName": "Sandbox Securities", "Display": true, "Lead": true}],
        "AvailableToOrder": 1, "AnticipatedShares": "10,000,000", "MinPrice": 18, "MaxPrice": 21,
        "TradeDate": "2030-03-01T00:00:00.000Z", "SettlementDate": "2030-03-03T00:00:00.000Z",
        "ActiveWindow": 1, "UnitIncrement": 1, "OrdrDollarShare": 0, "MinTicketSize": 100, "MaxTicketSize": 250_000,
        "HasOrder": subscribed, "IsSubscribed": subscribed,
        "ClientOrderId": if subscribed { json!(format!("{account}-{}", o.0)) } else { Value::Null },
    })
}

pub(super) async fn ipo_offerings(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Answer {
    let s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    let (p, size) = paging(&q, &uri, "page")?;
    let rows: Vec<Value> = OFFERINGS
        .iter()
        .map(|o| {
            offering_json(
                id,
                s.extra.subscriptions.contains(&(id, o.0.to_string())),
                o,
            )
        })
        .collect();
    let total = rows.len();
    let items: Vec<Value> = rows.into_iter().skip(p * size).take(size).collect();
    Ok(respond(
        StatusCode::OK,
        json!({"Items": items, "PageNumber": p, "PageSize": size, "TotalCount": total, "TotalPage": total.div_ceil(size)}),
    ))
}

async fn ipo_subscription(
    st: Shared,
    headers: HeaderMap,
    account: String,
    reference: String,
    on: bool,
) -> Answer {
    let mut s = lock(&st);
    let me = s.auth(&headers)?;
    let id = s.accounts[s.account_param(me, &account)?].id;
    let Some(o) = OFFERINGS.iter().find(|o| o.0 == reference) else {
        return Err(invalid());
    };
    let key = (id, o.0.to_string());
    let changed = if on {
        s.extra.subscriptions.insert(key)
    } else {
        s.extra.subscriptions.remove(&key)
    };
    if !changed {
        return Err(message(
            StatusCode::CONFLICT,
            if on {
                "The account is already subscribed."
            } else {
                "The account is not subscribed."
            },
        ));
    }
    ok_empty()
}

pub(super) async fn ipo_subscribe(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, reference)): Path<(String, String)>,
) -> Answer {
    ipo_subscription(st, headers, account, reference, true).await
}

pub(super) async fn ipo_unsubscribe(
    State(st): State<Shared>,
    headers: HeaderMap,
    Path((account, reference)): Path<(String, String)>,
) -> Answer {
    ipo_subscription(st, headers, account, reference, false).await
}

// ---------------------------------------------------------------- registration

pub(super) async fn registration_schema(State(st): State<Shared>, headers: HeaderMap) -> Answer {
    let s = lock(&st);
    s.app_key(&headers)?;
    Ok(respond(
        StatusCode::OK,
        json!([
            {"UnitName": "Credentials", "Fields": [
                {"FieldName": "Login", "Required": true}, {"FieldName": "Email", "Required": true},
                {"FieldName": "Password", "Required": true}]},
            {"UnitName": "Name", "Fields": [
                {"FieldName": "FirstName", "Required": true}, {"FieldName": "LastName", "Required": true},
                {"FieldName": "MiddleName", "Required": false},
                {"FieldName": "Suffix", "Required": false, "Options": SUFFIXES}]},
        ]),
    ))
}

/// The routes of this module.
pub(super) fn routes(r: Router<Shared>) -> Router<Shared> {
    use axum::routing::{delete, patch};
    r.route("/v1.0/registration/schema", get(registration_schema))
        .route(
            "/v1.0/users/{user}/settings/trading",
            get(trading_settings).put(set_trading_settings),
        )
        .route("/v1.0/applications/mobile/settings", get(mobile_settings))
        .route("/v1.0/users/{user}/password/change", put(change_password))
        .route("/v1.0/users/{user}/balance-info", get(user_balance))
        .route("/v1.0/users/info", post(user_by_email))
        .route("/v1.0/users/{user}/pincode", post(reset_pin))
        .route("/v1.0/users/{user}/group", post(pro_group))
        .route("/v1.0/users/{user}", patch(patch_user))
        .route("/v1.0/users/{user}/agreements", get(agreements))
        .route(
            "/v1.0/users/{user}/agreements/{agreement}/sign",
            post(sign_agreement),
        )
        .route("/v1.0/accounts/{account}/history", get(account_history))
        .route(
            "/v1.0/user/{user}/account-requests/open",
            post(open_account),
        )
        .route("/v1.0/accounts/{account}/users", get(account_users))
        .route("/v1.0/accounts/{account}/details", get(account_details))
        .route("/v1.0/accounts/{account}/select", put(select_account))
        .route("/v1.0/accounts/{account}/alias/{alias}", put(set_alias))
        .route("/v1.0/accounts/{account}/alias", delete(delete_alias))
        .route(
            "/v1.0/accounts/{account}/users/{user}",
            put(add_account_user).delete(remove_account_user),
        )
        .route(
            "/v1.0/accounts/{account}/username/{username}",
            put(add_account_username),
        )
        .route(
            "/v1.0/accounts/balance/consolidated",
            post(consolidated_balance),
        )
        .route("/v1.0/accounts/history", post(accounts_history))
        .route("/v1.0/users/password/secret-question", get(secret_question))
        .route("/v1.0/users/password/reset/code", post(accept_reset_code))
        .route("/v1.0/users/passwords/reset/", put(reset_password))
        .route(
            "/v1.0/accounts/{account}/ach-relationships/plaid",
            post(plaid),
        )
        .route("/v1.0/accounts/{account}/transfers/wire", post(wire))
        .route("/v1.0/accounts/{account}/transfers/check", post(check))
        .route("/v1.0/accounts/{account}/transfers/zelle", post(zelle))
        .route(
            "/v1.0/accounts/{account}/transfers/{transfer}/fees",
            get(transfer_fees),
        )
        .route(
            "/v1.0/accounts/{account}/transfers/ira_constraints/{mechanism}/{deposit}",
            get(ira_constraints),
        )
        .route(
            "/v1.0/accounts/{account}/orders/{order}/details",
            get(order_details),
        )
        .route(
            "/v1.0/accounts/{account}/verified/orders/{order}",
            get(verified_order),
        )
        .route(
            "/v1.0/accounts/{account}/preview/limits/{symbol}",
            get(order_limits),
        )
        .route("/v1.0/orders/consolidated", post(consolidated_orders))
        .route(
            "/v1.0/accounts/{account}/orders/mutual-funds/buy",
            post(fund_buy),
        )
        .route(
            "/v1.0/accounts/{account}/orders/mutual-funds/sell",
            post(fund_sell),
        )
        .route(
            "/v1.0/accounts/{account}/orders/mutual-funds/exchange",
            post(fund_exchange),
        )
        .route(
            "/v1.0/accounts/{account}/orders/mutual-funds/liquidate",
            post(fund_liquidate),
        )
        .route(
            "/v1.0/accounts/{account}/preview/orders/mutual-funds/buy",
            post(preview_fund_buy),
        )
        .route(
            "/v1.0/accounts/{account}/preview/orders/mutual-funds/sell",
            post(preview_fund_sell),
        )
        .route(
            "/v1.0/accounts/{account}/preview/orders/mutual-funds/exchange",
            post(preview_fund_exchange),
        )
        .route(
            "/v1.0/accounts/{account}/preview/orders/mutual-funds/liquidate",
            post(preview_fund_liquidate),
        )
        .route(
            "/v1.0/accounts/{account}/orders/mutual-funds/{order}",
            delete(cancel_fund),
        )
        .route(
            "/v1.0/accounts/{account}/positions/groups",
            get(position_groups),
        )
        .route("/v1.0/accounts/{account}/positions/top", get(top_positions))
        .route(
            "/v1.0/accounts/{account}/positions/{symbol}",
            get(positions_by_symbol),
        )
        .route("/v1.0/positions/consolidated", post(consolidated_positions))
        .route("/v1.0/equities/{key}/logo", get(logo))
        .route("/v1.0/currencyRate", get(currency_rate))
        .route("/v1.0/options/optionChain/{symbol}", get(option_chain))
        .route("/v1.0/history/compare", put(compare_chart))
        .route("/v1.0/history/symbols", put(chart_history))
        .route("/v1.0/history/export", post(export_chart))
        .route("/v1.0/news", get(news))
        .route("/v1.0/news/corporate-actions", get(corporate_actions))
        .route("/v1.0/feedbacks", post(feedback))
        .route("/v1.0/accounts/{account}/activity", get(activity))
        .route(
            "/v1.0/accounts/{account}/activity/report",
            get(activity_report),
        )
        .route(
            "/v1.0/accounts/{account}/transaction/report",
            get(transaction_report),
        )
        .route(
            "/v1.0/accounts/{account}/activity/allowed-types",
            get(allowed_types),
        )
        .route(
            "/v1.0/accounts/{account}/transactions/allowed-types",
            get(allowed_types),
        )
        .route(
            "/v1.0/transactions/consolidated",
            post(consolidated_transactions),
        )
        .route("/v1.0/ipo/industries", get(ipo_industries))
        .route("/v1.0/ipo/security-info", get(ipo_security_info))
        .route(
            "/v1.0/ipo/accounts/{account}/offerings/active",
            get(ipo_offerings),
        )
        .route(
            "/v1.0/ipo/accounts/{account}/offerings/{offering}/subscribe",
            post(ipo_subscribe),
        )
        .route(
            "/v1.0/ipo/accounts/{account}/offerings/{offering}/unsubscribe",
            post(ipo_unsubscribe),
        )
}
