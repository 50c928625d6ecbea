//! The Slate sandbox cannot drift from `specs/slate.yaml`: every operation is exercised
//! (successes, business rejections and HTTP errors, with customer, staff and API tokens) and
//! every answer is validated against the schema the spec documents for its status.

mod support;

use brokerkit_mock::slate::{self as sandbox, Config};
use brokerkit_slate::{types, Error, Secret, Session};
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;

const EMAIL: &str = "trader@example.com";
const PASSWORD: &str = "correct horse";
const STAFF_EMAIL: &str = "admin@example.com";
const STAFF_PASSWORD: &str = "admin password";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// The vendor's machine-readable `error` code of a failed call.
fn code(e: &Error) -> Option<&str> {
    match e {
        Error::Unauthorized(a)
        | Error::Forbidden(a)
        | Error::NotFound(a)
        | Error::Conflict(a)
        | Error::RateLimited(a)
        | Error::Api(a) => a.code.as_deref(),
        _ => None,
    }
}

/// The wire form of a (possibly open) enum value (a macro: the `Serialize` bound would need
/// `serde` as a dependency).
macro_rules! wire {
    ($v:expr) => {
        serde_json::to_value(&$v)
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
}

#[tokio::test]
async fn every_sandbox_answer_matches_the_spec() {
    let spec = support::Spec::load("slate");
    let server = sandbox::start(Config::default()).await.unwrap();
    server.recorder.start();
    let base = server.base_url();
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let anonymous = Session::new(&base);
    let raw = anonymous.client().clone();

    // ---- Authentication errors: wrong password, invalid body (422), no token.
    let wrong = Session::new(&base).login(EMAIL, "wrong").await.unwrap_err();
    assert_eq!(code(&wrong), Some("invalid_credentials"));
    let invalid = http
        .post(format!("{base}/customers/login"))
        .json(&json!({"email": EMAIL}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let no_token = http
        .get(format!("{base}/customers/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);

    // ---- Customer: profile, accounts, state, deposit, withdrawals, transactions.
    let trader = Session::new(&base);
    let login = trader.login(EMAIL, PASSWORD).await.unwrap();
    assert_eq!(login.claims.primary_login.as_deref(), Some("100001"));
    assert_eq!(trader.me().await.unwrap().email, EMAIL);
    let mine = trader
        .call(|c| async move { c.list_my_accounts().send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(mine.len(), 2);
    let group = mine[0].group_id.expect("accounts belong to a group");
    let summary = trader.account_summary(None).await.unwrap();
    assert_eq!(summary.balance, Some(d("1000")));
    let missing_account = trader.account_summary(Some("999999")).await.unwrap_err();
    assert!(
        matches!(missing_account, Error::NotFound(_)),
        "{missing_account:?}"
    );
    let deposit = trader.deposit(d("250.75"), Some("USD")).await.unwrap();
    assert_eq!(deposit.status, 201);
    let too_small = trader.deposit(d("0.001"), None).await.unwrap_err();
    assert!(
        matches!(&too_small, Error::Validation(v) if v.status == 422),
        "{too_small:?}"
    );
    let mut bank = serde_json::Map::new();
    bank.insert("iban".into(), json!("GB33BUKB20201555555555"));
    let receipt = trader
        .withdraw(d("100.10"), bank.clone(), Some("Monthly payout"))
        .await
        .unwrap();
    assert_eq!(receipt.max_withdrawable.amount, d("899.90"));
    let too_much = trader.withdraw(d("900"), bank, None).await.unwrap_err();
    assert_eq!(code(&too_much), Some("insufficient_funds"));
    // A payout detail that is not an object is a 422, as FastAPI's `dict` field makes it.
    let not_an_object = http
        .post(format!("{base}/customers/me/withdraw"))
        .bearer_auth(trader.access_token().unwrap().expose())
        .json(&json!({"amount": 1, "payment_data": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_object.status(), 422);
    let history = trader
        .call(|c| async move { c.list_my_transactions().send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(history.len(), 2);
    assert_eq!(wire!(history[0].type_), "WITHDRAWAL");
    let withdrawal = history[0].id;

    // ---- The guide's token-pair customer login and refresh rotation.
    let creds = types::CustomerLoginRequest {
        email: EMAIL.into(),
        password: Secret::new(PASSWORD),
    };
    let pair = raw
        .customer_login_token_pair()
        .body(creds)
        .send()
        .await
        .unwrap()
        .into_inner();
    let refresh = pair.refresh_token.expect("a refresh token");
    let rotated = raw
        .refresh_token()
        .body(types::RefreshRequest {
            refresh_token: refresh.clone(),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.refresh_token.as_ref(), Some(&refresh));
    let reused = raw
        .refresh_token()
        .body(types::RefreshRequest {
            refresh_token: refresh,
        })
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        Error::from_progenitor(reused).await,
        Error::Unauthorized(_)
    ));
    let bad_pair = raw
        .customer_login_token_pair()
        .body(types::CustomerLoginRequest {
            email: EMAIL.into(),
            password: Secret::new("wrong"),
        })
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        Error::from_progenitor(bad_pair).await,
        Error::Unauthorized(_)
    ));

    // ---- Registration, autologin once, duplicate email.
    let registration: types::RegisterCustomerRequest = serde_json::from_value(json!({
        "email": "new@example.com", "phone": "+447700900555", "password": "long enough",
        "first_name": "Nia", "country": "GB", "source": "promo"
    }))
    .unwrap();
    let registered = anonymous
        .call(|c| {
            let body = registration.clone();
            async move { c.register_customer().body(body).send().await }
        })
        .await
        .unwrap();
    assert_eq!(registered.status, 201);
    let newcomer = registered.value.customer.unwrap();
    let one_time = registered.value.autologin_token.unwrap();
    let new_session = Session::new(&base);
    new_session.autologin(one_time.clone()).await.unwrap();
    let again = Session::new(&base).autologin(one_time).await.unwrap_err();
    assert_eq!(code(&again), Some("invalid_autologin_token"));
    let dup = anonymous
        .call(|c| {
            let body = registration.clone();
            async move { c.register_customer().body(body).send().await }
        })
        .await
        .unwrap_err();
    assert_eq!(code(&dup), Some("duplicate_email"));
    let newcomer_login = new_session.primary_login().unwrap();

    // ---- Staff: TOTP challenge, wrong code, then the CRM.
    let totp = |code: Option<&str>| types::StaffLoginRequest {
        email: "secure@example.com".into(),
        password: Secret::new(STAFF_PASSWORD),
        totp_code: code.map(Secret::new),
    };
    let challenge = raw.staff_login().body(totp(None)).send().await.unwrap();
    assert_eq!(challenge.status().as_u16(), 202);
    let wrong_code = raw
        .staff_login()
        .body(totp(Some("000000")))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        Error::from_progenitor(wrong_code).await,
        Error::Unauthorized(_)
    ));
    let staff = Session::new(&base);
    staff
        .login_staff(STAFF_EMAIL, STAFF_PASSWORD, None)
        .await
        .unwrap();
    let forbidden = trader
        .call(|c| async move { c.list_customers().send().await })
        .await
        .unwrap_err();
    assert_eq!(code(&forbidden), Some("token_type_mismatch"));

    let page = staff
        .call(|c| async move {
            c.list_customers()
                .country(vec!["GB".to_string()])
                .page(1u64)
                .page_size(10u64)
                .send()
                .await
        })
        .await
        .unwrap()
        .value;
    assert_eq!(page.total, Some(2));
    let customer_id = login.customer.id;
    let fetched = staff
        .call(|c| async move { c.get_customer().customer_id(customer_id).send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(fetched.email, EMAIL);
    let nobody = staff
        .call(|c| async move {
            c.get_customer()
                .customer_id("00000000-0000-4000-8000-000000000000")
                .send()
                .await
        })
        .await
        .unwrap_err();
    assert!(matches!(nobody, Error::NotFound(_)), "{nobody:?}");
    let staff_bearer = staff.access_token().unwrap();
    let not_a_uuid = http
        .get(format!("{base}/customers/not-a-uuid"))
        .bearer_auth(staff_bearer.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_uuid.status(), 422);
    let patch: types::CustomerUpdateRequest = serde_json::from_value(
        json!({"phone": "+447700900556", "owner_id": "3c90c3cc-0d44-4b50-8888-8dd25736052b", "sales_status_id": 4}),
    )
    .unwrap();
    let updated = staff
        .call(|c| {
            let body = patch.clone();
            async move {
                c.update_customer()
                    .customer_id(customer_id)
                    .body(body)
                    .send()
                    .await
            }
        })
        .await
        .unwrap()
        .value;
    assert_eq!(updated.sales_status_id, Some(4));
    let bad_owner = http
        .patch(format!("{base}/customers/{customer_id}"))
        .bearer_auth(staff_bearer.expose())
        .json(&json!({"owner_id": "x".repeat(36)}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_owner.status(), 422);
    let risk = staff
        .call(|c| async move {
            c.get_customer_risk_profile()
                .customer_id(customer_id)
                .send()
                .await
        })
        .await
        .unwrap()
        .value;
    assert_eq!(risk.classification, "normal");
    let no_risk = staff
        .call(|c| async move {
            c.get_customer_risk_profile()
                .customer_id(newcomer.id)
                .send()
                .await
        })
        .await;
    assert!(no_risk.is_ok(), "every customer has a profile");

    // ---- API tokens: create (and a 422), use, list, rotate, revoke, unknown and bad ids.
    let request: types::ApiTokenCreateRequest = serde_json::from_value(
        json!({"name": "bi-pipeline", "scopes": ["customers:read"], "expiry": "30d", "rate_limit": 600}),
    )
    .unwrap();
    let issued = staff.create_api_token(request).await.unwrap().value;
    let no_scopes = http
        .post(format!("{base}/api-tokens"))
        .bearer_auth(staff_bearer.expose())
        .json(&json!({"name": "empty", "scopes": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_scopes.status(), 422);
    let integration = Session::with_token(&base, issued.token.clone());
    integration
        .call(|c| async move { c.list_customers().send().await })
        .await
        .unwrap();
    let listed = staff
        .call(|c| async move { c.list_api_tokens().send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(listed.len(), 1);
    let rotated = staff.rotate_api_token(issued.id).await.unwrap().value;
    assert_ne!(rotated.token, issued.token);
    let stale = integration
        .call(|c| async move { c.list_customers().send().await })
        .await
        .unwrap_err();
    assert_eq!(code(&stale), Some("invalid_token"));
    let unknown_token = staff.rotate_api_token(999).await.unwrap_err();
    assert!(matches!(unknown_token, Error::NotFound(_)));
    // Python ints are unbounded: an id beyond i64 is a valid integer that matches nothing.
    for (method, path, want) in [
        (
            reqwest::Method::DELETE,
            "/api-tokens/9223372036854775808",
            404,
        ),
        (
            reqwest::Method::POST,
            "/api-tokens/9223372036854775808/rotate",
            404,
        ),
        (reqwest::Method::DELETE, "/api-tokens/abc", 422),
        (reqwest::Method::POST, "/api-tokens/abc/rotate", 422),
    ] {
        let r = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(staff_bearer.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{path}");
    }
    let id = issued.id;
    let revoked = staff
        .call(|c| async move { c.revoke_api_token().token_id(id).send().await })
        .await
        .unwrap();
    assert_eq!(revoked.status, 204);
    let revoke_unknown = staff
        .call(|c| async move { c.revoke_api_token().token_id(999).send().await })
        .await
        .unwrap_err();
    assert!(matches!(revoke_unknown, Error::NotFound(_)));

    // ---- Accounts: list, close, close again (409), reopen, a login that is not an integer.
    let accounts = staff
        .call(|c| async move {
            c.list_accounts()
                .currency(vec!["USD".to_string()])
                .balance_min(d("0"))
                .send()
                .await
        })
        .await
        .unwrap()
        .value;
    assert_eq!(accounts.items.len(), 2);
    let reason: types::CloseAccountRequest =
        serde_json::from_value(json!({"reason": "customer asked"})).unwrap();
    let close = |login: i64| {
        let body = reason.clone();
        let staff = staff.clone();
        async move {
            staff
                .call(|c| {
                    let body = body.clone();
                    async move { c.close_account().login(login).body(body).send().await }
                })
                .await
        }
    };
    assert_eq!(close(100002).await.unwrap().value.is_active, Some(false));
    assert_eq!(
        code(&close(100002).await.unwrap_err()),
        Some("state_mismatch")
    );
    assert!(matches!(close(1).await.unwrap_err(), Error::NotFound(_)));
    let reopen = types::ReopenAccountRequest {
        reason: "KYC refreshed".parse().unwrap(),
        force: false,
    };
    let reopened = staff
        .call(|c| {
            let body = reopen.clone();
            async move { c.reopen_account().login(100002).body(body).send().await }
        })
        .await
        .unwrap()
        .value;
    assert_eq!(reopened.is_active, Some(true));
    let not_int = http
        .post(format!("{base}/accounts/abc/reopen"))
        .bearer_auth(staff_bearer.expose())
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_int.status(), 422);

    // ---- Orders: preflight, market and limit orders, rejections, positions, closes.
    let preflight = |symbol: &'static str| {
        let body = types::PreflightRequest {
            symbol: symbol.parse().unwrap(),
            action: types::PreflightActionString::Open.into(),
            requested_at: None,
        };
        let trader = trader.clone();
        async move {
            trader
                .call(|c| {
                    let body = body.clone();
                    async move { c.preflight_order().body(body).send().await }
                })
                .await
        }
    };
    assert_eq!(preflight("EURUSD").await.unwrap().value.block, None);
    assert_eq!(
        preflight("BTCUSD").await.unwrap().value.block.as_deref(),
        Some("maintenance")
    );
    assert!(matches!(
        preflight("XAUUSD").await.unwrap_err(),
        Error::NotFound(_)
    ));
    let order = |symbol: &str,
                 side: types::OrderSideString,
                 kind: types::OrderTypeString,
                 volume: &str,
                 price: Option<&str>| {
        types::PlaceOrderRequest {
            symbol: symbol.into(),
            side: side.into(),
            order_type: kind.into(),
            volume: d(volume).into(),
            price: price.map(|p| d(p).into()),
            stop_loss: None,
            take_profit: None,
        }
    };
    let place = |session: &Session, login: Option<&str>, body: types::PlaceOrderRequest| {
        let session = session.clone();
        let login = login.map(str::to_owned);
        async move {
            session
                .call(|c| {
                    let body = body.clone();
                    let login = login.clone();
                    async move {
                        let b = c.place_order().body(body);
                        match login {
                            Some(l) => b.x_customer_login(l).send().await,
                            None => b.send().await,
                        }
                    }
                })
                .await
        }
    };
    use types::{OrderSideString::*, OrderTypeString::*};
    let filled = place(&trader, None, order("EURUSD", Buy, Market, "0.1", None))
        .await
        .unwrap()
        .value;
    assert_eq!(filled.status.as_deref(), Some("filled"));
    assert_eq!(
        filled.price.map(|p| p.into_inner()),
        Some(d("1.08519")),
        "bought at the ask"
    );
    assert!(
        filled.id.parse::<u64>().unwrap() > 1 << 53,
        "ids past 2^53 stay exact"
    );
    let pending = place(
        &trader,
        None,
        order("EURUSD", Sell, Limit, "0.2", Some("1.1")),
    )
    .await
    .unwrap()
    .value;
    assert_eq!(pending.status.as_deref(), Some("pending"));
    for (body, want) in [
        (order("EURUSD", Buy, Market, "1000", None), "invalid_volume"),
        (
            order("EURUSD", Buy, Market, "10", None),
            "insufficient_margin",
        ),
        (order("BTCUSD", Buy, Market, "0.1", None), "trading_blocked"),
        (order("XAUUSD", Buy, Market, "0.1", None), "not_found"),
    ] {
        let err = place(&trader, None, body).await.unwrap_err();
        assert_eq!(code(&err), Some(want), "{err:?}");
    }
    let no_price = place(&trader, None, order("EURUSD", Buy, Limit, "0.1", None))
        .await
        .unwrap_err();
    assert_eq!(
        no_price.field_errors()[0].path(),
        "body.price",
        "{no_price:?}"
    );
    let not_mine = place(
        &trader,
        Some(&newcomer_login),
        order("EURUSD", Buy, Market, "0.1", None),
    )
    .await
    .unwrap_err();
    assert!(matches!(not_mine, Error::Forbidden(_)), "{not_mine:?}");
    let staff_needs_login = place(&staff, None, order("EURUSD", Buy, Market, "0.1", None))
        .await
        .unwrap_err();
    assert_eq!(code(&staff_needs_login), Some("login_required"));
    // Staff trade for an account named in X-Customer-Login.
    place(
        &staff,
        Some("100002"),
        order("EURUSD", Sell, Market, "0.1", None),
    )
    .await
    .unwrap();
    let orders = trader
        .call(|c| async move { c.list_orders().send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(
        orders.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        [pending.id.as_str(), filled.id.as_str()]
    );
    let positions = trader
        .call(|c| async move { c.list_positions().x_customer_login("100001").send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(positions.len(), 1);
    let position = positions[0].id.clone();
    assert_eq!(
        positions[0].current_price.map(|p| p.into_inner()),
        Some(d("1.08512"))
    );
    // Bought at 1.08519, valued at the bid 1.08512: 0.1 lot x 100000 x -0.00007.
    assert_eq!(
        positions[0].profit.map(|p| p.into_inner()),
        Some(d("-0.70"))
    );
    let state = trader.account_summary(None).await.unwrap();
    assert_eq!(state.open_positions, Some(1));
    let close_position = |id: String, volume: Option<&str>| {
        let body = types::ClosePositionRequest {
            volume: volume.map(|v| d(v).into()),
        };
        let trader = trader.clone();
        async move {
            trader
                .call(|c| {
                    let (id, body) = (id.clone(), body.clone());
                    async move { c.close_position().position_id(id).body(body).send().await }
                })
                .await
        }
    };
    let part = close_position(position.clone(), Some("0.04"))
        .await
        .unwrap()
        .value;
    assert_eq!(part.volume.map(|v| v.into_inner()), Some(d("0.04")));
    let too_much = close_position(position.clone(), Some("1"))
        .await
        .unwrap_err();
    assert_eq!(code(&too_much), Some("invalid_volume"));
    let rest = close_position(position.clone(), None).await.unwrap().value;
    assert_eq!(rest.volume.map(|v| v.into_inner()), Some(d("0.06")));
    let gone = close_position(position, None).await.unwrap_err();
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");
    // -0.28 and -0.42 realized on 1000.
    assert_eq!(server.balance("100001"), Some(d("999.30")));

    // ---- Instruments and group terms.
    let instruments = trader
        .call(|c| async move { c.list_available_instruments().send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(instruments.len(), 2);
    let eurusd = trader
        .call(|c| async move { c.get_instrument().symbol("EURUSD").send().await })
        .await
        .unwrap()
        .value;
    assert_eq!(eurusd.last_bid.map(|b| b.into_inner()), Some(d("1.08512")));
    let unknown_symbol = trader
        .call(|c| async move { c.get_instrument().symbol("XAUUSD").send().await })
        .await
        .unwrap_err();
    assert!(matches!(unknown_symbol, Error::NotFound(_)));
    let create: types::InstrumentCreateRequest = serde_json::from_value(json!({
        "symbol": "GBPUSD", "display_name": "Pound / Dollar", "category": "forex", "base_currency": "GBP",
        "quote_currency": "USD", "pip_size": 0.0001, "margin_rate": 0.02, "digits": 5
    }))
    .unwrap();
    let add = || {
        let body = create.clone();
        let staff = staff.clone();
        async move {
            staff
                .call(|c| {
                    let body = body.clone();
                    async move { c.create_instrument().body(body).send().await }
                })
                .await
        }
    };
    let created = add().await.unwrap().value;
    assert_eq!(created.contract_size, Some(100000));
    assert_eq!(code(&add().await.unwrap_err()), Some("duplicate_symbol"));
    let wrong_types = http
        .post(format!("{base}/instruments"))
        .bearer_auth(staff_bearer.expose())
        .json(
            &json!({"symbol": "X", "display_name": "X", "category": "x", "base_currency": "X",
            "quote_currency": "Y", "pip_size": 1, "margin_rate": 1, "digits": "five"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_types.status(), 422);
    // A new instrument has no quote yet: a market order cannot fill.
    let unquoted = place(&trader, None, order("GBPUSD", Buy, Market, "0.1", None))
        .await
        .unwrap_err();
    assert_eq!(code(&unquoted), Some("no_quote"));

    let terms = types::GroupInstrumentUpsertRequest {
        swap_long: Some(d("-3.2").into()),
        commission_value: Some(d("3.5").into()),
        ..Default::default()
    };
    let upsert = |symbol: &'static str, body: types::GroupInstrumentUpsertRequest| {
        let staff = staff.clone();
        async move {
            staff
                .call(|c| {
                    let body = body.clone();
                    async move {
                        c.upsert_group_instrument()
                            .group_id(group)
                            .symbol(symbol)
                            .body(body)
                            .send()
                            .await
                    }
                })
                .await
        }
    };
    let row = upsert("EURUSD", terms.clone()).await.unwrap().value;
    assert_eq!(row.instrument_id, eurusd.id);
    let out_of_range = types::GroupInstrumentUpsertRequest {
        margin_rate: Some(d("2").into()),
        ..Default::default()
    };
    let err = upsert("EURUSD", out_of_range).await.unwrap_err();
    assert_eq!(err.field_errors()[0].path(), "body.margin_rate");
    assert!(matches!(
        upsert("XAUUSD", terms.clone()).await.unwrap_err(),
        Error::NotFound(_)
    ));
    let bulk = |symbols: Vec<&str>| {
        let body = types::GroupInstrumentBulkRequest {
            symbols: symbols.into_iter().map(str::to_owned).collect(),
            patch: types::GroupInstrumentUpsertRequest {
                margin_rate: Some(d("0.05").into()),
                ..Default::default()
            },
        };
        let staff = staff.clone();
        async move {
            staff
                .call(|c| {
                    let body = body.clone();
                    async move {
                        c.bulk_upsert_group_instruments()
                            .group_id(group)
                            .body(body)
                            .send()
                            .await
                    }
                })
                .await
        }
    };
    let rows = bulk(vec!["EURUSD", "BTCUSD"]).await.unwrap().value;
    assert_eq!(rows.len(), 2);
    let empty = bulk(vec![]).await.unwrap_err();
    assert_eq!(empty.field_errors()[0].path(), "body.symbols");
    assert!(matches!(
        bulk(vec!["XAUUSD"]).await.unwrap_err(),
        Error::NotFound(_)
    ));
    let rates = staff
        .call(|c| async move { c.get_group_swap_rates().group_id(group).send().await })
        .await
        .unwrap()
        .value;
    let e = rates
        .instruments
        .iter()
        .find(|r| r.symbol == "EURUSD")
        .unwrap();
    assert_eq!(e.effective_long.into_inner(), d("-4.8"), "-3.2 x 1.5");
    let other_group = staff
        .call(|c| async move {
            c.get_group_swap_rates()
                .group_id("00000000-0000-4000-8000-000000000000")
                .send()
                .await
        })
        .await
        .unwrap_err();
    assert!(matches!(other_group, Error::NotFound(_)));

    // ---- Transactions: approve the withdrawal, twice; manual; decline; transfers.
    let approve = |tx| {
        let staff = staff.clone();
        async move {
            staff
                .call(|c| async move {
                    c.approve_transaction()
                        .tx_id(tx)
                        .body(types::ApproveTransactionRequest {
                            comment: Some("paid".into()),
                        })
                        .send()
                        .await
                })
                .await
        }
    };
    let approved = approve(withdrawal).await.unwrap().value;
    assert_eq!(wire!(approved.status), "APPROVED");
    assert_eq!(
        code(&approve(withdrawal).await.unwrap_err()),
        Some("state_mismatch")
    );
    assert_eq!(server.balance("100001"), Some(d("899.20")));
    let listed = staff
        .call(|c| async move {
            c.list_transactions()
                .status(vec![types::TransactionStatusString::Pending.into()])
                .limit(10u64)
                .send()
                .await
        })
        .await
        .unwrap()
        .value;
    assert_eq!(listed.len(), 1, "the pending deposit");
    let account = mine[0].id.unwrap();
    let manual: types::ManualTransactionRequest = serde_json::from_value(json!({
        "account_id": account, "amount": 5, "payment_data": {"ref": "WIRE-1"}, "comment": "wire"
    }))
    .unwrap();
    let recorded = staff
        .call(|c| {
            let body = manual.clone();
            async move { c.create_manual_transaction().body(body).send().await }
        })
        .await
        .unwrap()
        .value;
    assert_eq!(wire!(recorded.status), "PENDING");
    let declined = staff
        .call(|c| async move {
            c.decline_transaction()
                .tx_id(recorded.id)
                .body(types::DeclineTransactionRequest {
                    comment: Some("no proof".into()),
                })
                .send()
                .await
        })
        .await
        .unwrap()
        .value;
    assert_eq!(wire!(declined.status), "DECLINED");
    let unknown_tx = staff
        .call(|c| async move {
            c.decline_transaction()
                .tx_id("00000000-0000-4000-8000-000000000000")
                .body(types::DeclineTransactionRequest { comment: None })
                .send()
                .await
        })
        .await
        .unwrap_err();
    assert!(matches!(unknown_tx, Error::NotFound(_)));
    let transfer = |from: &str, amount: &str| {
        let body = types::TransferRequest {
            from_login: from.into(),
            to_login: "100002".into(),
            amount: d(amount).into(),
            note: Some("rebalance".into()),
        };
        let staff = staff.clone();
        async move {
            staff
                .call(|c| {
                    let body = body.clone();
                    async move { c.create_crm_transfer().body(body).send().await }
                })
                .await
        }
    };
    let moved = transfer("100001", "108").await.unwrap().value;
    assert_eq!(moved.converted_amount.into_inner(), d("100"));
    assert_eq!(
        code(&transfer("100002", "1").await.unwrap_err()),
        Some("same_account")
    );
    assert_eq!(
        code(&transfer("100001", "100000").await.unwrap_err()),
        Some("insufficient_funds")
    );

    // ---- Sessions: revoke, then the token is refused; an unknown session is a 404.
    let sid = trader.claims().unwrap().session_id.unwrap();
    let trader_token = trader.access_token().unwrap();
    let done = trader
        .call(|c| {
            let sid = sid.clone();
            async move { c.revoke_session().session_id(sid).send().await }
        })
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    let unknown_sid = staff
        .call(|c| async move { c.revoke_session().session_id("nope").send().await })
        .await
        .unwrap_err();
    assert!(matches!(unknown_sid, Error::NotFound(_)));
    let revoked = http
        .get(format!("{base}/customers/me"))
        .bearer_auth(trader_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    let mut exchanges = server.recorder.take();

    // ---- Rate limiting: a sandbox allowing 2 calls a minute answers the third with 429.
    let limited = sandbox::start(Config {
        rate_limit_per_minute: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    // Outside the spec, so before recording: an unroutable path gets FastAPI's JSON 404.
    let nowhere = http
        .get(format!("{}/nowhere", limited.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
    assert_eq!(
        nowhere.json::<serde_json::Value>().await.unwrap()["detail"],
        "Not Found"
    );
    limited.recorder.start();
    let trader = Session::new(&limited.base_url());
    trader.login(EMAIL, PASSWORD).await.unwrap();
    let mut limited_err = None;
    for _ in 0..10 {
        if let Err(e) = trader.me().await {
            limited_err = Some(e);
            break;
        }
    }
    let limited_err = limited_err.expect("the third call in a minute is refused");
    assert!(
        matches!(&limited_err, Error::RateLimited(a) if a.code.as_deref() == Some("rate_limited")),
        "{limited_err:?}"
    );
    exchanges.extend(limited.recorder.take());

    let covered = spec.check_all(&exchanges);
    let missing: Vec<_> = spec.operation_ids().difference(&covered).cloned().collect();
    assert!(
        missing.is_empty(),
        "operations never exercised: {missing:?}"
    );
    let statuses: std::collections::BTreeSet<u16> = exchanges.iter().map(|e| e.status).collect();
    for s in [200, 201, 202, 204, 400, 401, 403, 404, 409, 422, 429] {
        assert!(
            statuses.contains(&s),
            "no answer with status {s}: {statuses:?}"
        );
    }
}

/// The `X-RateLimit-*` headers a documented response declares (resolved through `$ref`s),
/// lower-cased, with whether each is declared required.
fn declared_rate_headers(
    doc: &serde_json::Value,
    response: &serde_json::Value,
) -> Vec<(String, bool)> {
    fn resolve<'a>(
        doc: &'a serde_json::Value,
        mut v: &'a serde_json::Value,
    ) -> &'a serde_json::Value {
        while let Some(r) = v.get("$ref").and_then(serde_json::Value::as_str) {
            match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(t) => v = t,
                None => break,
            }
        }
        v
    }
    let response = resolve(doc, response);
    let mut out: Vec<(String, bool)> = response
        .get("headers")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-ratelimit-"))
        .map(|(name, h)| {
            let h = resolve(doc, h);
            (
                name.to_ascii_lowercase(),
                h.get("required") == Some(&serde_json::Value::Bool(true)),
            )
        })
        .collect();
    out.sort();
    out
}

/// One operation of the spec: method, path template, whether it takes a token, responses,
/// request-body example.
struct SpecOp {
    id: String,
    method: String,
    template: String,
    public: bool,
    responses: serde_json::Map<String, serde_json::Value>,
    example: Option<serde_json::Value>,
    query: Vec<(String, String)>,
}

fn spec_ops(doc: &serde_json::Value) -> Vec<SpecOp> {
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        let mut v = v.clone();
        while let Some(r) = v.get("$ref").and_then(serde_json::Value::as_str) {
            match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(t) => v = t.clone(),
                None => break,
            }
        }
        v
    };
    let mut ops = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(id) = op.get("operationId").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let example = op
                .get("requestBody")
                .map(resolve)
                .and_then(|b| b.pointer("/content/application~1json/example").cloned());
            let query = op
                .get("parameters")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .map(resolve)
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        "unknown".to_string(),
                    )
                })
                .collect();
            ops.push(SpecOp {
                id: id.to_string(),
                method: method.to_ascii_uppercase(),
                template: template.clone(),
                public: op.get("security") == Some(&json!([])),
                responses: op["responses"].as_object().cloned().unwrap_or_default(),
                example,
                query,
            });
        }
    }
    ops
}

/// Every answer of the sandbox carries the `X-RateLimit-*` headers exactly when the spec
/// declares them on the response it documents for that status (issue 13.16): the successes and
/// the post-authentication errors of authenticated calls and every 429 carry them; a refused
/// token's 401/403 and the unauthenticated calls do not. Every operation is called (with real
/// ids where the sandbox has them, the spec's request example as the body, a staff token and,
/// where that is the wrong kind, a customer token), plus calls without a token and a 429.
#[tokio::test]
async fn rate_limit_headers_are_sent_exactly_where_the_spec_declares_them() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/slate.yaml");
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ops = spec_ops(&doc);
    let server = sandbox::start(Config::default()).await.unwrap();
    let base = server.base_url();
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let post = |url: String, body: serde_json::Value| http.post(url).json(&body).send();

    // Tokens and real ids.
    let login: serde_json::Value = post(
        format!("{base}/customers/login"),
        json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let customer_token = login["access_token"].as_str().unwrap().to_string();
    let staff: serde_json::Value = post(
        format!("{base}/api/admin/users/login"),
        json!({"email": STAFF_EMAIL, "password": STAFF_PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let staff_token = staff["access_token"].as_str().unwrap().to_string();
    let get_json = |url: String, token: &str| {
        let req = http.get(url).bearer_auth(token);
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    http.post(format!("{base}/customers/me/deposit"))
        .bearer_auth(&customer_token)
        .json(&json!({"amount": 10}))
        .send()
        .await
        .unwrap();
    let mine = get_json(format!("{base}/customers/me/accounts"), &customer_token).await;
    let txs = get_json(format!("{base}/customers/me/transactions"), &customer_token).await;
    let instruments = get_json(format!("{base}/broker/instruments/available"), &staff_token).await;
    let mut ids: std::collections::HashMap<&str, String> = [
        (
            "customer_id",
            login["customer"]["id"].as_str().unwrap().to_string(),
        ),
        ("login", "100001".to_string()),
        (
            "group_id",
            mine[0]["group_id"].as_str().unwrap().to_string(),
        ),
        ("tx_id", txs[0]["id"].as_str().unwrap().to_string()),
        (
            "symbol",
            instruments[0]["symbol"].as_str().unwrap().to_string(),
        ),
        // An unknown session: a post-authentication 404 (revoking ours would end the test).
        (
            "session_id",
            "3c90c3cc-0d44-4b50-8888-8dd25736052a".to_string(),
        ),
        ("token_id", "999".to_string()),
        (
            "position_id",
            "3c90c3cc-0d44-4b50-8888-8dd25736052a".to_string(),
        ),
    ]
    .into_iter()
    .collect();

    let limit_names: Vec<&str> = vec![
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ];
    let mut failures = Vec::new();
    let mut seen: std::collections::BTreeSet<(String, u16, bool)> = Default::default();
    let mut check = |op: &SpecOp, r: &reqwest::Response| {
        let status = r.status().as_u16();
        let at = format!("{} {} -> {status} ({})", op.method, op.template, op.id);
        let Some(response) = op.responses.get(&status.to_string()) else {
            failures.push(format!("{at}: status not documented"));
            return;
        };
        let declared = declared_rate_headers(&doc, response);
        let present: Vec<&str> = limit_names
            .iter()
            .copied()
            .filter(|n| r.headers().contains_key(*n))
            .collect();
        let declared_names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
        if declared_names != present {
            failures.push(format!(
                "{at}: spec declares {declared_names:?}, the answer carries {present:?}"
            ));
        }
        if declared.iter().any(|(_, required)| !required) {
            failures.push(format!(
                "{at}: a declared rate-limit header is not required"
            ));
        }
        for n in &present {
            let v = r.headers()[*n].to_str().unwrap_or_default();
            if v.parse::<u64>().is_err() {
                failures.push(format!("{at}: {n} is not an integer: {v:?}"));
            }
        }
        seen.insert((op.id.clone(), status, !present.is_empty()));
    };

    for op in &ops {
        let mut path = op.template.clone();
        for (name, value) in &ids {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let url = format!("{base}{path}");
        let send = |token: Option<&str>| {
            let mut req = http
                .request(
                    reqwest::Method::from_bytes(op.method.as_bytes()).unwrap(),
                    &url,
                )
                .query(&op.query)
                .header("X-Customer-Login", "100001");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(body) = &op.example {
                req = req.json(body);
            }
            req.send()
        };
        // Without a token: an authenticated call's 401 carries no rate-limit headers.
        let anonymous = send(None).await.unwrap();
        check(op, &anonymous);
        if op.public {
            continue;
        }
        let as_staff = send(Some(&staff_token)).await.unwrap();
        let staff_status = as_staff.status().as_u16();
        check(op, &as_staff);
        let answer = if staff_status == 403 {
            let as_customer = send(Some(&customer_token)).await.unwrap();
            check(op, &as_customer);
            as_customer
        } else {
            as_staff
        };
        // Ids created along the way make the later calls succeed.
        if answer.status().is_success() {
            let body: serde_json::Value = answer.json().await.unwrap_or_default();
            match op.id.as_str() {
                "createApiToken" => {
                    ids.insert("token_id", body["id"].to_string());
                }
                "listPositions" => {
                    if let Some(id) = body
                        .as_array()
                        .or_else(|| body["items"].as_array())
                        .and_then(|l| l.first())
                        .and_then(|p| p["id"].as_str())
                    {
                        ids.insert("position_id", id.to_string());
                    }
                }
                _ => {}
            }
        }
    }

    // A 422 after authentication carries them; a 422 of an unauthenticated call does not.
    let op = |id: &str| ops.iter().find(|o| o.id == id).unwrap();
    let invalid = http
        .post(format!("{base}/customers/me/withdraw"))
        .bearer_auth(&customer_token)
        .json(&json!({"amount": 1, "payment_data": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    check(op("customerRequestWithdrawal"), &invalid);
    let invalid = post(format!("{base}/customers/login"), json!({"email": EMAIL}))
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    check(op("customerLogin"), &invalid);
    let logged_in = post(
        format!("{base}/customers/login"),
        json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(logged_in.status(), 200);
    check(op("customerLogin"), &logged_in);

    // A 429 (on a sandbox that allows 2 calls a minute) carries them; so does every answer
    // before it.
    let limited = sandbox::start(Config {
        rate_limit_per_minute: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    let lbase = limited.base_url();
    let token: serde_json::Value = post(
        format!("{lbase}/customers/login"),
        json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let me = op("getMe");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http
            .get(format!("{lbase}/customers/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        check(me, &r);
    }
    assert_eq!(statuses, vec![200, 200, 429]);

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every operation was answered, and both directions were exercised on many statuses.
    let answered: std::collections::BTreeSet<&str> =
        seen.iter().map(|(id, _, _)| id.as_str()).collect();
    for op in &ops {
        assert!(
            answered.contains(op.id.as_str()),
            "{} never answered",
            op.id
        );
    }
    let with: std::collections::BTreeSet<u16> = seen.iter().filter(|s| s.2).map(|s| s.1).collect();
    let without: std::collections::BTreeSet<u16> =
        seen.iter().filter(|s| !s.2).map(|s| s.1).collect();
    for s in [200, 201, 204, 404, 422, 429] {
        assert!(with.contains(&s), "no metered {s} seen: {with:?}");
    }
    for s in [200, 401, 403, 422] {
        assert!(without.contains(&s), "no unmetered {s} seen: {without:?}");
    }
}
