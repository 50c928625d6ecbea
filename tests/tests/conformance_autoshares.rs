//! The AutoShares sandbox cannot drift from `specs/autoshares.yaml`: every operation it serves
//! is exercised through `brokerkit-autoshares` or raw HTTP (successes, HTTP-200 rejections
//! and HTTP errors), it serves every operation of the spec, and every answer is validated
//! against the schema the spec documents for its status.

mod support;

use brokerkit_autoshares::filter::{field, Filter};
use brokerkit_autoshares::orders::{OrderRequest, ReplaceRequest, Side};
use brokerkit_autoshares::prelude::TryStreamExt;
use brokerkit_autoshares::{types, AutoShares, Error, ListQuery, Login, Session};
use brokerkit_autoshares::{BrokerError, Failure};
use brokerkit_mock::autoshares as sandbox;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeSet;

const ACCOUNT: i32 = 2001;
/// The account of another sandbox user.
const OTHERS: i32 = 2002;
const NOBODYS: i32 = 99_999;
/// A user id, which the server cannot take for an account id (500).
const USER_ID: i32 = 1045;

/// Raw HTTP for what the typed client cannot send (a missing header or query parameter, a
/// body that is not JSON).
struct Raw {
    http: reqwest::Client,
    base: String,
    key: String,
    token: Option<String>,
}

impl Raw {
    async fn send(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Et-App-Key", &self.key);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let res = self
            .http
            .post(format!("{}/token", self.base))
            .header("Et-App-Key", &self.key)
            .header("Username", user)
            .header("Password", password)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["Token"].as_str().unwrap().to_string()
    }
}

#[track_caller]
fn expect_status<T: std::fmt::Debug>(result: Result<T, Error>, code: u16) -> Error {
    let err = result.expect_err("the call must fail");
    assert_eq!(err.status(), Some(code), "{err:?}");
    err
}

#[tokio::test]
async fn every_sandbox_answer_matches_the_spec() {
    let spec = support::Spec::load("autoshares");
    let server = sandbox::start(Default::default()).await.unwrap();
    server.recorder.start();
    let base = server.base_url();
    let api = AutoShares::new(base.clone(), server.app_key()).unwrap();
    let mut raw = Raw {
        http: brokerkit_runtime::tls::client_builder().build().unwrap(),
        base: base.clone(),
        key: server.app_key(),
        token: None,
    };

    // ---- login: wrong password, wrong app key, the two-factor challenge, then the trader.
    let err = api.login("trader", "nope").await.unwrap_err();
    assert!(matches!(err, Error::LoginFailed { .. }), "{err:?}");
    let err = AutoShares::new(base.clone(), "wrong-key")
        .unwrap()
        .login("trader", "trader-pass")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AppKey { .. }), "{err:?}");
    let Login::Challenge(challenge) = api.login("twofactor", "twofactor-pass").await.unwrap()
    else {
        panic!("the two-factor user gets a challenge")
    };
    let err = challenge.answer("000000").await.unwrap_err();
    assert!(matches!(err, Error::LoginFailed { .. }), "{err:?}");
    let Login::Challenge(challenge) = api.login("twofactor", "twofactor-pass").await.unwrap()
    else {
        panic!("the two-factor user gets a challenge")
    };
    challenge
        .answer("845213")
        .await
        .unwrap()
        .into_session()
        .unwrap();
    let session = api
        .login_single_factor("trader", "trader-pass")
        .await
        .unwrap();
    // No token at all.
    let (code, body) = raw.send("GET", "/v1.0/users/@me/info", None).await;
    assert_eq!(code, 401, "{body}");
    raw.token = Some(raw.login("trader", "trader-pass").await);

    users_and_registration(&api, &session, &raw).await;
    accounts(&session, &raw).await;
    orders(&session).await;
    sync_orders(&session).await;
    positions_and_transactions(&session, &raw).await;
    securities(&session, &raw).await;
    watchlists(&session, &raw).await;
    price_alerts(&session, &raw).await;
    funding(&session, &raw, &server).await;

    // ---- logout: the token is gone afterwards.
    let other = api
        .login_single_factor("trader", "trader-pass")
        .await
        .unwrap();
    other.logout().await.unwrap();
    assert!(matches!(
        other.user_info().await,
        Err(Error::Failure(Failure::NotLoggedIn(_)))
    ));
    let revoked = Raw {
        http: raw.http.clone(),
        base: base.clone(),
        key: raw.key.clone(),
        token: Some(raw.login("trader", "trader-pass").await),
    };
    assert_eq!(revoked.send("POST", "/logout", None).await.0, 200);
    let (code, _) = revoked.send("GET", "/v1.0/users/@me/info", None).await;
    assert_eq!(code, 401, "the server revoked the token");
    assert_eq!(revoked.send("POST", "/logout", None).await.0, 401);

    // ---- the streamers' REST helpers (the websockets: crates/brokerkit-autoshares/tests/stream.rs).
    let streamers = session
        .call(|c| c.get_streamers().send())
        .await
        .unwrap()
        .value;
    assert_eq!(streamers.quote_addresses.len(), 1);
    assert_eq!(streamers.data_addresses.len(), 1);
    for kind in [0, 1] {
        session
            .call(|c| c.recover_streamer_session().session_type(kind).send())
            .await
            .unwrap();
    }
    let (code, _) = raw
        .send("PUT", "/v1.0/streamers/session/recover", None)
        .await;
    assert_eq!(code, 404, "sessionType is required");

    // ---- the operations beyond the core flow.
    everything_else(&session, &raw, &server).await;

    let covered = spec.check_all(&server.recorder.take());
    let missing: Vec<_> = spec.operation_ids().difference(&covered).cloned().collect();
    assert!(missing.is_empty(), "never exercised: {missing:?}");
}

async fn users_and_registration(api: &AutoShares, session: &Session, raw: &Raw) {
    let me = session.user_info().await.unwrap();
    assert_eq!(me.login.as_deref(), Some("trader"));
    expect_status(
        session
            .call(|c| c.get_user_info().user_id("1046").send())
            .await,
        401,
    );
    expect_status(
        session
            .call(|c| c.get_user_info().user_id("abc").send())
            .await,
        400,
    );
    let accounts = session.accounts().await.unwrap();
    assert_eq!(accounts[0].id, Some(ACCOUNT));
    let exchanges = session
        .call(|c| c.get_user_exchanges().user_id("@me").send())
        .await
        .unwrap();
    assert!(exchanges.iter().any(|e| e == "Auto"), "{exchanges:?}");
    expect_status(
        session
            .call(|c| c.get_user_exchanges().user_id("x").send())
            .await,
        400,
    );

    // Registration: success, refusals (409) and a missing origin or a body that is not JSON (400).
    let request = |login: &str, email: Option<&str>| types::RegistrationRequest {
        credentials: Some(types::RegistrationCredentials {
            login: Some(login.into()),
            email: email.map(Into::into),
            password: Some("pw-12345".into()),
        }),
        ..Default::default()
    };
    let user = api
        .register(
            "https://broker.example.com",
            request("newbie", Some("newbie@example.com")),
        )
        .await
        .unwrap();
    assert_eq!(user.login.as_deref(), Some("newbie"));
    let err = api
        .register("https://broker.example.com", request("other", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RegistrationFailed { reason, .. } if reason.as_deref() == Some("SchemaValidationFail")),
        "{err:?}"
    );
    let err = api
        .register(
            "https://broker.example.com",
            request("newbie", Some("n@example.com")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RegistrationFailed { reason, .. } if reason.as_deref() == Some("UserManagerRules")),
        "{err:?}"
    );
    let (code, _) = raw
        .send("POST", "/v1.0/registration/", Some(r#"{"Credentials":{}}"#))
        .await;
    assert_eq!(code, 400, "no origin header");

    // Password reset: accepted, refused at HTTP 200, a body that is not JSON.
    api.request_password_reset("trader", Some("blue".into()))
        .await
        .unwrap();
    let err = api
        .request_password_reset("trader", Some("red".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Refused { codes, status: 200, .. } if codes == &["ErrorIncorrectAnswer"]),
        "{err:?}"
    );
    let (code, body) = raw
        .send("POST", "/v1.0/users/password/reset", Some("{not json"))
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body["ModelState"].is_object(), "{body}");
}

async fn accounts(session: &Session, raw: &Raw) {
    let balance = session.balance(ACCOUNT).await.unwrap();
    assert_eq!(
        balance.cash.map(|d| d.into_inner()),
        Some(Decimal::from(100_000))
    );
    expect_status(session.balance(NOBODYS).await, 400);
    expect_status(session.balance(OTHERS).await, 401);
    expect_status(session.balance(USER_ID).await, 500);

    let one = session
        .call(|c| c.get_account_by_id().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].clearing_account.as_deref(), Some("5AB02001"));
    expect_status(
        session
            .call(|c| c.get_account_by_id().account_id(OTHERS).send())
            .await,
        401,
    );
    expect_status(
        session
            .call(|c| c.get_account_by_id().account_id(NOBODYS).send())
            .await,
        400,
    );

    let all: Vec<_> = session
        .all_accounts(ListQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|a| a.id).collect::<Vec<_>>(),
        [Some(ACCOUNT)]
    );
    let masked = session
        .call(|c| {
            c.get_all_accounts()
                .page_number(0)
                .page_size(10u32)
                .mask("nothing-like-it")
                .send()
        })
        .await
        .unwrap();
    assert_eq!(masked.total_count, Some(0));
    let err = session
        .all_accounts(ListQuery::new().filter(field("Colour").eq(1)))
        .try_collect::<Vec<_>>()
        .await;
    expect_status(err, 400);
    let (code, _) = raw
        .send("GET", "/v1.0/accounts/all?pageNumber=0&pageSize=500", None)
        .await;
    assert_eq!(code, 422, "page size above 100");
}

async fn orders(session: &Session) {
    let buy = OrderRequest::market("AAPL", Side::Buy, Decimal::from(10));
    let (preview, filled) = session.submit_order(ACCOUNT, &buy).await.unwrap();
    assert!(preview.total_cost.is_some());
    assert_eq!(filled.status.as_deref(), Some("Filled"));
    // A business rejection at HTTP 200.
    let err = session
        .preview_order(
            ACCOUNT,
            &OrderRequest::market("AMZN", Side::Buy, Decimal::from(1000)),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Rejected(r) if r.code == "DayTradingBuyingPowerExceeded"));
    // A malformed body: 422 with the fields.
    let err = session
        .call(|c| {
            c.preview_order()
                .account_id(ACCOUNT)
                .body(types::CreateOrderResource::default())
                .send()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { fields, .. } if fields.contains_key("placeParams.Symbol"))
    );
    // Placement answers 200 even for a refused order.
    let refused = session
        .place_order(
            ACCOUNT,
            &OrderRequest::market("NOPE", Side::Buy, Decimal::ONE),
        )
        .await
        .unwrap();
    assert_eq!(refused.status.as_deref(), Some("Rejected"));
    expect_status(session.place_order(OTHERS, &buy).await, 401);

    let resting = session
        .place_order(
            ACCOUNT,
            &OrderRequest::limit("INTC", Side::Buy, Decimal::from(5), Decimal::from(40)),
        )
        .await
        .unwrap();
    assert_eq!(resting.status.as_deref(), Some("New"));
    let listed: Vec<_> = session
        .orders(ACCOUNT, ListQuery::new().filter(field("Symbol").eq("INTC")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    expect_status(
        session
            .orders(ACCOUNT, ListQuery::new().filter(field("Colour").eq(1)))
            .try_collect::<Vec<_>>()
            .await,
        400,
    );
    assert_eq!(
        session.order(ACCOUNT, resting.id).await.unwrap().id,
        resting.id
    );
    expect_status(session.order(ACCOUNT, 1).await, 404);

    let cheaper = ReplaceRequest {
        price: Some(Decimal::from(39)),
        ..Default::default()
    };
    session
        .preview_replace(ACCOUNT, resting.id, &cheaper)
        .await
        .unwrap();
    let err = session
        .preview_replace(ACCOUNT, filled.id, &cheaper)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Rejected(r) if r.code == "OrderIsNotWorking"));
    expect_status(
        session.replace_order(ACCOUNT, filled.id, &cheaper).await,
        409,
    );
    let replaced = session
        .replace_order(ACCOUNT, resting.id, &cheaper)
        .await
        .unwrap();
    assert_eq!(replaced.price, Some(Decimal::from(39)));
    session.cancel_order(ACCOUNT, replaced.id).await.unwrap();
    expect_status(session.cancel_order(ACCOUNT, replaced.id).await, 409);
    expect_status(session.cancel_order(ACCOUNT, 1).await, 404);
}

async fn sync_orders(session: &Session) {
    let body = |symbol: &str, price: Option<i64>| {
        OrderRequest::limit(
            symbol,
            Side::Buy,
            Decimal::from(3),
            Decimal::from(price.unwrap_or(1)),
        )
        .to_resource()
    };
    let preview = session
        .call(|c| {
            c.preview_sync_order()
                .account_id(ACCOUNT)
                .body(body("KO", Some(40)))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(preview.is_successful, Some(true));
    let rejected = session
        .call(|c| {
            c.preview_sync_order()
                .account_id(ACCOUNT)
                .body(body("NOPE", Some(40)))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(rejected.is_successful, Some(false), "rejected at HTTP 200");
    expect_status(
        session
            .call(|c| {
                c.preview_sync_order()
                    .account_id(NOBODYS)
                    .body(body("KO", Some(40)))
                    .send()
            })
            .await,
        400,
    );
    let placed = session
        .call(|c| {
            c.place_sync_order()
                .account_id(ACCOUNT)
                .body(body("KO", Some(40)))
                .send()
        })
        .await
        .unwrap();
    let id = placed.id.unwrap();
    expect_status(
        session
            .call(|c| {
                c.place_sync_order()
                    .account_id(ACCOUNT)
                    .body(types::CreateOrderResource::default())
                    .send()
            })
            .await,
        422,
    );
    let listed: Vec<_> = session
        .sync_orders(ACCOUNT, ListQuery::new().page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert!(listed.iter().any(|o| o.id == id), "{listed:?}");
    let got = session
        .call(|c| c.get_sync_order().account_id(ACCOUNT).order_id(id).send())
        .await
        .unwrap();
    assert_eq!(got.symbol.as_deref(), Some("KO"));
    expect_status(
        session
            .call(|c| c.get_sync_order().account_id(ACCOUNT).order_id(1).send())
            .await,
        404,
    );
    let change = ReplaceRequest {
        quantity: Some(Decimal::from(4)),
        ..Default::default()
    }
    .to_resource(id)
    .unwrap();
    let verified = session
        .call(|c| {
            c.preview_replace_sync_order()
                .account_id(ACCOUNT)
                .order_id(id)
                .body(change.clone())
                .send()
        })
        .await
        .unwrap();
    assert_eq!(verified.order_id, Some(id));
    let replaced = session
        .call(|c| {
            c.replace_sync_order()
                .account_id(ACCOUNT)
                .order_id(id)
                .body(change.clone())
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| {
                c.replace_sync_order()
                    .account_id(ACCOUNT)
                    .order_id(id)
                    .body(change)
                    .send()
            })
            .await,
        409,
    );
    let new_id = replaced.id.unwrap();
    session
        .call(|c| {
            c.cancel_sync_order()
                .account_id(ACCOUNT)
                .order_id(new_id)
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| {
                c.cancel_sync_order()
                    .account_id(ACCOUNT)
                    .order_id(new_id)
                    .send()
            })
            .await,
        409,
    );
}

async fn positions_and_transactions(session: &Session, raw: &Raw) {
    let positions: Vec<_> = session
        .positions(ACCOUNT, ListQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(positions.len(), 1, "the 10 AAPL bought above");
    assert_eq!(positions[0].symbol.as_deref(), Some("AAPL"));
    expect_status(
        session
            .positions(ACCOUNT, ListQuery::new().filter(field("Colour").eq(1)))
            .try_collect::<Vec<_>>()
            .await,
        400,
    );
    let (code, body) = raw
        .send(
            "GET",
            "/v1.0/accounts/2001/positions?pageNumber=0&pageSize=10",
            None,
        )
        .await;
    assert_eq!(code, 404, "a missing required query parameter: no route");
    assert!(body["Message"]
        .as_str()
        .unwrap()
        .starts_with("No HTTP resource"));

    let transactions: Vec<_> = session
        .transactions(ACCOUNT, ListQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert!(transactions.len() >= 2, "execution and commission");
    expect_status(
        session
            .transactions(OTHERS, ListQuery::new())
            .try_collect::<Vec<_>>()
            .await,
        401,
    );
}

async fn securities(session: &Session, raw: &Raw) {
    let equities: Vec<_> = session
        .equities(ListQuery::new().page_size(5))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(equities.len(), 12);
    expect_status(
        session
            .equities(ListQuery::new().filter(field("Colour").eq(1)))
            .try_collect::<Vec<_>>()
            .await,
        400,
    );
    let aapl = session
        .call(|c| c.get_equity().id_or_symbol("AAPL").send())
        .await
        .unwrap();
    session
        .call(|c| {
            c.get_equity()
                .id_or_symbol(aapl.id.unwrap().to_string())
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| c.get_equity().id_or_symbol("NOPE").send())
            .await,
        404,
    );
    let found = session
        .call(|c| c.get_equities_by_mask().mask("int").count(5).send())
        .await
        .unwrap();
    let symbols: Vec<_> = found.iter().filter_map(|e| e.symbol.as_deref()).collect();
    assert_eq!(symbols, ["IBM", "INTC"], "by description, by symbol");
    expect_status(
        session
            .call(|c| {
                c.get_equities_by_mask()
                    .mask("int")
                    .count(5)
                    .filter("AllowShort")
                    .send()
            })
            .await,
        400,
    );
    let (code, _) = raw.send("GET", "/v1.0/equities/lookup?mask=A", None).await;
    assert_eq!(code, 404, "count is required");

    let calls: Vec<_> = session
        .options(
            ListQuery::new().page_size(4).filter(
                Filter::new()
                    .and(field("UnderlyingAssetSymbol").eq("AAPL"))
                    .and(field("OptionType").eq(0)),
            ),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(calls.len(), 6);
    expect_status(
        session
            .options(ListQuery::new().filter(field("Strike").eq(1)))
            .try_collect::<Vec<_>>()
            .await,
        400,
    );
    let osi = calls[0].symbol.clone().unwrap();
    let by_symbol = session
        .call(|c| c.get_option().id_or_symbol(osi.clone()).send())
        .await
        .unwrap();
    assert_eq!(by_symbol.id, calls[0].id);
    session
        .call(|c| {
            c.get_option()
                .id_or_symbol(calls[0].id.unwrap().to_string())
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| c.get_option().id_or_symbol("AAPL  200117C00001000").send())
            .await,
        404,
    );
    let expirations = session
        .call(|c| c.get_option_expirations().underlying("AAPL").send())
        .await
        .unwrap();
    assert_eq!(expirations.len(), 2);
    let (code, _) = raw.send("GET", "/v1.0/options/expirations", None).await;
    assert_eq!(code, 404, "underlying is required");
}

async fn watchlists(session: &Session, raw: &Raw) {
    let create = |name: &str, securities: Vec<i32>| types::CreateWatchlistModel {
        name: Some(name.into()),
        securities,
    };
    let tech = session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(true)
                .body(create("Tech", vec![1, 2]))
                .send()
        })
        .await
        .unwrap();
    let id = tech.id.unwrap();
    assert_eq!(tech.security_list.as_ref().map(Vec::len), Some(2));
    // The same name again, or a security that does not exist: 409 with the watchlist.
    let err = session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(false)
                .body(create("tech", vec![]))
                .send()
        })
        .await
        .unwrap_err();
    let Error::Conflict { failure, .. } = &err else {
        panic!("expected Conflict, got {err:?}")
    };
    assert!(failure.body_text().contains("\"Tech\""));
    expect_status(
        session
            .call(|c| {
                c.create_watchlist()
                    .user_id("@me")
                    .result_include_securities(true)
                    .body(create("Odd", vec![9999]))
                    .send()
            })
            .await,
        409,
    );
    expect_status(
        session
            .call(|c| {
                c.create_watchlist()
                    .user_id("@me")
                    .result_include_securities(true)
                    .body(types::CreateWatchlistModel::default())
                    .send()
            })
            .await,
        422,
    );
    let lists = session
        .call(|c| {
            c.get_watchlists()
                .user_id("@me")
                .include_securities(false)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(lists.len(), 2, "Tech and Odd");
    let got = session
        .call(|c| {
            c.get_watchlist()
                .user_id("@me")
                .watchlist_id(id)
                .include_securities(true)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(got.name.as_deref(), Some("Tech"));

    let signature = |symbol: &str| types::SecuritySignature {
        symbol: Some(symbol.into()),
        exchange: None,
        currency: Some("USD".into()),
    };
    let after = session
        .call(|c| {
            c.add_security_to_watchlist_by_symbol()
                .user_id("@me")
                .watchlist_id(id)
                .body(signature("IBM"))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(after.security_list.as_ref().map(Vec::len), Some(3));
    expect_status(
        session
            .call(|c| {
                c.add_security_to_watchlist_by_symbol()
                    .user_id("@me")
                    .watchlist_id(id)
                    .body(signature("NOPE"))
                    .send()
            })
            .await,
        409,
    );
    let after = session
        .call(|c| {
            c.remove_security_from_watchlist_by_symbol()
                .user_id("@me")
                .watchlist_id(id)
                .body(signature("IBM"))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(after.security_list.as_ref().map(Vec::len), Some(2));
    let after = session
        .call(|c| {
            c.add_security_to_watchlist_by_id()
                .user_id("@me")
                .watchlist_id(id)
                .security_id(10)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(after.security_list.as_ref().map(Vec::len), Some(3));
    let after = session
        .call(|c| {
            c.remove_security_from_watchlist_by_id()
                .user_id("@me")
                .watchlist_id(id)
                .security_id(1)
                .send()
        })
        .await
        .unwrap();
    let ids: Vec<_> = after
        .value
        .security_list
        .unwrap()
        .iter()
        .map(|s| s.id.unwrap())
        .collect();
    assert_eq!(ids, [2, 10]);
    expect_status(
        session
            .call(|c| {
                c.remove_security_from_watchlist_by_id()
                    .user_id("@me")
                    .watchlist_id(id)
                    .security_id(9999)
                    .send()
            })
            .await,
        409,
    );
    let renamed = session
        .call(|c| {
            c.rename_watchlist()
                .user_id("@me")
                .watchlist_id(id)
                .name("Big tech")
                .send()
        })
        .await
        .unwrap();
    assert_eq!(renamed.m_item1, Some(id));
    assert_eq!(renamed.m_item2.as_deref(), Some("Big tech"));
    expect_status(
        session
            .call(|c| {
                c.rename_watchlist()
                    .user_id("@me")
                    .watchlist_id(id)
                    .name("odd")
                    .send()
            })
            .await,
        409,
    );
    let (code, _) = raw
        .send(
            "PUT",
            &format!("/v1.0/users/@me/watchlists/{id}/name"),
            None,
        )
        .await;
    assert_eq!(code, 404, "name is required");
    session
        .call(|c| c.delete_watchlist().user_id("@me").watchlist_id(id).send())
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| {
                c.get_watchlist()
                    .user_id("@me")
                    .watchlist_id(id)
                    .include_securities(false)
                    .send()
            })
            .await,
        400,
    );
    expect_status(
        session
            .call(|c| c.delete_watchlist().user_id("1046").watchlist_id(id).send())
            .await,
        401,
    );
}

async fn price_alerts(session: &Session, raw: &Raw) {
    let alert = |security: i32, price: i64| types::PriceAlertEditableModel {
        operator: types::PriceAlertOperatorString::Gteq.into(),
        field: types::PriceAlertFieldString::Last.into(),
        expiration_date: 1_900_000_000,
        security_id: Some(security),
        argument: Some(Decimal::from(price).into()),
        state: None,
    };
    let created = session
        .call(|c| {
            c.create_price_alert()
                .user_id("@me")
                .body(alert(1, 200))
                .send()
        })
        .await
        .unwrap();
    let id = created.id.unwrap();
    assert_eq!(created.symbol.as_deref(), Some("AAPL"));
    expect_status(
        session
            .call(|c| {
                c.create_price_alert()
                    .user_id("@me")
                    .body(alert(9999, 1))
                    .send()
            })
            .await,
        409,
    );
    let (code, body) = raw
        .send(
            "POST",
            "/v1.0/users/@me/pricealerts",
            Some(r#"{"Operator":"ABOUT","SecurityId":1}"#),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(body["ModelState"]["model.Field"].is_array(), "{body}");
    let alerts: Vec<_> = session
        .price_alerts(ListQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1);
    let got = session
        .call(|c| c.get_price_alert().user_id("@me").alert_id(id).send())
        .await
        .unwrap();
    assert_eq!(
        got.argument.map(|a| a.into_inner()),
        Some(Decimal::from(200))
    );
    let mut stopped = alert(2, 250);
    stopped.state = Some(types::PriceAlertStateString::Stopped.into());
    let modified = session
        .call(|c| {
            c.modify_price_alert()
                .user_id("@me")
                .alert_id(id)
                .body(stopped)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(modified.symbol.as_deref(), Some("MSFT"));
    assert_eq!(modified.created_date, created.created_date);
    expect_status(
        session
            .call(|c| {
                c.modify_price_alert()
                    .user_id("@me")
                    .alert_id(id)
                    .body(alert(9999, 1))
                    .send()
            })
            .await,
        409,
    );
    session
        .call(|c| c.delete_price_alert().user_id("@me").alert_id(id).send())
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| c.get_price_alert().user_id("@me").alert_id(id).send())
            .await,
        400,
    );
    expect_status(
        session
            .call(|c| c.delete_price_alert().user_id("@me").alert_id(id).send())
            .await,
        400,
    );
}

async fn funding(session: &Session, raw: &Raw, server: &sandbox::Server) {
    expect_status(
        session
            .call(|c| c.get_default_ach_relationship().account_id(ACCOUNT).send())
            .await,
        404,
    );
    let link = |number: &str, method: types::AchApprovalMethodString| {
        types::CreateAchRelationshipResource {
            routing_number: Some("011000015".into()),
            account_number: Some(number.into()),
            account_owner_name: Some("Trader Sandbox".into()),
            name: Some("First Sandbox Bank".into()),
            approval_method: Some(method.into()),
            bank_account_type: Some("Checking".into()),
        }
    };
    let manual = session
        .call(|c| {
            c.create_ach_relationship()
                .account_id(ACCOUNT)
                .body(link("000123456789", types::AchApprovalMethodString::Manual))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        manual.value.status,
        Some(types::AchRelationshipStatusString::Pending.into())
    );
    let instant = session
        .call(|c| {
            c.create_ach_relationship()
                .account_id(ACCOUNT)
                .body(link(
                    "000987654321",
                    types::AchApprovalMethodString::Instant,
                ))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        instant.value.status,
        Some(types::AchRelationshipStatusString::Approved.into())
    );
    expect_status(
        session
            .call(|c| {
                c.create_ach_relationship()
                    .account_id(ACCOUNT)
                    .body(link("000123456789", types::AchApprovalMethodString::Manual))
                    .send()
            })
            .await,
        409,
    );
    let mut bad = link("1", types::AchApprovalMethodString::Manual);
    bad.routing_number = Some("12".into());
    expect_status(
        session
            .call(|c| {
                c.create_ach_relationship()
                    .account_id(ACCOUNT)
                    .body(bad)
                    .send()
            })
            .await,
        422,
    );
    let (manual_id, instant_id) = (manual.id.unwrap(), instant.id.unwrap());
    let listed: Vec<_> = session
        .ach_relationships(ACCOUNT, ListQuery::new().page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    let default = session
        .call(|c| c.get_default_ach_relationship().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(default.id, Some(manual_id), "the first one linked");
    session
        .call(|c| {
            c.get_ach_relationship()
                .account_id(ACCOUNT)
                .id(instant_id)
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| {
                c.get_ach_relationship()
                    .account_id(OTHERS)
                    .id(instant_id)
                    .send()
            })
            .await,
        401,
    );
    let renamed = session
        .call(|c| {
            c.modify_ach_relationship()
                .account_id(ACCOUNT)
                .id(instant_id)
                .body(types::UpdateAchRelationshipResource {
                    name: Some("Renamed Bank".into()),
                })
                .send()
        })
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Renamed Bank"));
    expect_status(
        session
            .call(|c| {
                c.modify_ach_relationship()
                    .account_id(ACCOUNT)
                    .id(instant_id)
                    .body(types::UpdateAchRelationshipResource::default())
                    .send()
            })
            .await,
        422,
    );
    // Micro-deposits: wrong amounts, then the right ones in the other order.
    let amounts = |a: &str, b: &str| types::ApproveAchRelationshipResource {
        amount1: Some(a.parse::<Decimal>().unwrap().into()),
        amount2: Some(b.parse::<Decimal>().unwrap().into()),
        amount3: None,
    };
    expect_status(
        session
            .call(|c| {
                c.approve_ach_relationship()
                    .account_id(ACCOUNT)
                    .id(manual_id)
                    .body(amounts("0.10", "0.07"))
                    .send()
            })
            .await,
        409,
    );
    let approved = session
        .call(|c| {
            c.approve_ach_relationship()
                .account_id(ACCOUNT)
                .id(manual_id)
                .body(amounts("0.07", "0.11"))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        approved.value.status,
        Some(types::AchRelationshipStatusString::Approved.into())
    );
    session
        .call(|c| {
            c.set_default_ach_relationship()
                .account_id(ACCOUNT)
                .id(instant_id)
                .send()
        })
        .await
        .unwrap();

    // Transfers: a deposit, a withdrawal beyond the cash, a cancellation.
    let transfer =
        |relationship: String, amount: i64, incoming: bool| types::AchTransferEditableResource {
            ach_relationship_id: Some(relationship),
            amount: Some(Decimal::from(amount).into()),
            is_incoming: Some(incoming),
            ..Default::default()
        };
    let deposit = session
        .call(|c| {
            c.send_ach_transfer()
                .account_id(ACCOUNT)
                .body(transfer(instant_id.to_string(), 2500, true))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(deposit.value.status.as_deref(), Some("Submitted"));
    let withdrawal = session
        .call(|c| {
            c.send_ach_transfer()
                .account_id(ACCOUNT)
                .body(transfer(instant_id.to_string(), 100, false))
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| {
                c.send_ach_transfer()
                    .account_id(ACCOUNT)
                    .body(transfer(instant_id.to_string(), 10_000_000, false))
                    .send()
            })
            .await,
        409,
    );
    expect_status(
        session
            .call(|c| {
                c.send_ach_transfer()
                    .account_id(ACCOUNT)
                    .body(types::AchTransferEditableResource::default())
                    .send()
            })
            .await,
        422,
    );
    let transfers: Vec<_> = session
        .transfers(ACCOUNT, ListQuery::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(transfers.len(), 2);
    let withdrawal_id = withdrawal.id.unwrap();
    let (code, _) = raw
        .send(
            "DELETE",
            &format!("/v1.0/accounts/2001/transfers/{withdrawal_id}"),
            None,
        )
        .await;
    assert_eq!(code, 404, "comment is required");
    session
        .call(|c| {
            c.cancel_transfer()
                .account_id(ACCOUNT)
                .transfer_id(withdrawal_id)
                .comment("changed my mind")
                .send()
        })
        .await
        .unwrap();
    expect_status(
        session
            .call(|c| {
                c.cancel_transfer()
                    .account_id(ACCOUNT)
                    .transfer_id(withdrawal_id)
                    .comment("again")
                    .send()
            })
            .await,
        409,
    );
    let before = server.cash(ACCOUNT).unwrap();
    assert_eq!(server.complete_transfers(), 1, "only the deposit is left");
    assert_eq!(server.cash(ACCOUNT).unwrap() - before, Decimal::from(2500));

    // Unlinking: 200 with the relationship, then 409; an unknown id is 400.
    let deleted = session
        .call(|c| {
            c.delete_ach_relationship()
                .account_id(ACCOUNT)
                .id(manual_id)
                .reason("closed")
                .send()
        })
        .await
        .unwrap();
    assert_eq!(deleted.cancel_reason.as_deref(), Some("closed"));
    expect_status(
        session
            .call(|c| {
                c.delete_ach_relationship()
                    .account_id(ACCOUNT)
                    .id(manual_id)
                    .reason("closed")
                    .send()
            })
            .await,
        409,
    );
    expect_status(
        session
            .call(|c| {
                c.set_default_ach_relationship()
                    .account_id(ACCOUNT)
                    .id(manual_id)
                    .send()
            })
            .await,
        409,
    );
    expect_status(
        session
            .call(|c| {
                c.get_ach_relationship()
                    .account_id(ACCOUNT)
                    .id(deposit.id.unwrap())
                    .send()
            })
            .await,
        400,
    );
}

fn spec_doc() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/autoshares.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resolved<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(v),
        None => v,
    }
}

/// The operations only the 2020 GitBook documents (reference §20.3) carry `x-source: gitbook`,
/// and every error answer of theirs is a guess, flagged `x-unverified` with an `Unverified:`
/// description; the only exception is the registration refusal the GitBook does show.
#[test]
fn gitbook_only_operations_flag_their_guessed_errors() {
    const DOCUMENTED: &[(&str, &str)] = &[("registerUser", "409")];
    let doc = spec_doc();
    let mut gitbook = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if op["x-source"].as_str() != Some("gitbook") {
                continue;
            }
            let id = op["operationId"].as_str().unwrap();
            gitbook.insert(id.to_string());
            for (code, response) in op["responses"].as_object().unwrap() {
                if !code.starts_with(['4', '5']) || DOCUMENTED.contains(&(id, code.as_str())) {
                    continue;
                }
                let r = resolved(&doc, response);
                assert_eq!(r["x-unverified"], Value::Bool(true), "{id} {code}");
                assert!(
                    r["description"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("Unverified:")),
                    "{id} {code}: {r}"
                );
            }
        }
    }
    let expected: BTreeSet<String> = [
        "getRegistrationSchema",
        "registerUser",
        "getMobileAppSettings",
        "getUserExchanges",
        "openAccount",
        "requestPasswordReset",
        "getSecretQuestion",
        "acceptPasswordResetCode",
        "resetPassword",
        "submitFeedback",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(gitbook, expected);
}

/// The price-alert dates are "ticks" in the published API and Unix seconds in the GitBook
/// examples: the unit is a guess, and says so.
#[test]
fn price_alert_dates_flag_the_unit_guess() {
    let doc = spec_doc();
    for model in ["PriceAlertInfoModel", "PriceAlertEditableModel"] {
        let props = &doc["components"]["schemas"][model]["properties"];
        let fields: &[&str] = if model == "PriceAlertInfoModel" {
            &["CreatedDate", "ExpirationDate"]
        } else {
            &["ExpirationDate"]
        };
        for field in fields {
            let p = &props[*field];
            assert_eq!(p["x-unverified"], Value::Bool(true), "{model}.{field}");
            let d = p["description"].as_str().unwrap_or_default();
            assert!(
                d.starts_with("Unverified:") && d.contains("seconds"),
                "{model}.{field}: {d}"
            );
        }
    }
}

/// One request per operation of the spec: its path parameters, required query parameters and
/// example body filled in. Returns `(operationId, method, url, body)`.
fn sample_requests(doc: &Value) -> Vec<(String, String, String, Option<String>)> {
    let sample = |p: &Value| -> String {
        let schema = resolved(doc, &p["schema"]);
        match (
            p["name"].as_str().unwrap_or_default(),
            schema["type"].as_str(),
            schema["format"].as_str(),
        ) {
            ("userId", ..) => "@me".into(),
            ("accountId", ..) => ACCOUNT.to_string(),
            ("clearingNumber", ..) => "5AB02001".into(),
            (_, _, Some("uuid")) => "9b2f6d3e-1c4a-4e7b-8f0a-2d3c4b5a6e7f".into(),
            (_, Some("integer"), _) => "1".into(),
            (_, Some("boolean"), _) => "true".into(),
            (_, _, Some("date-time")) => "2020-01-01T00:00:00Z".into(),
            _ => match schema["enum"].get(0).and_then(Value::as_str) {
                Some(first) => first.into(),
                None => "AAPL".into(),
            },
        }
    };
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let mut url = template.clone();
            let mut query = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = resolved(doc, p);
                match p["in"].as_str() {
                    Some("path") => {
                        url =
                            url.replace(&format!("{{{}}}", p["name"].as_str().unwrap()), &sample(p))
                    }
                    Some("query") if p["required"] == Value::Bool(true) => {
                        query.push(format!("{}={}", p["name"].as_str().unwrap(), sample(p)))
                    }
                    _ => {}
                }
            }
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|m| {
                    m.get("example")
                        .cloned()
                        .unwrap_or(Value::Object(Default::default()))
                })
                .map(|v| v.to_string());
            out.push((id.to_string(), method.to_ascii_uppercase(), url, body));
        }
    }
    out
}

/// Operations of the spec the sandbox has no route for yet (issue 13.15 closes the gap).
const NOT_ROUTED_YET: &[&str] = &[];

/// Every operation of the spec reaches a handler of the sandbox: a request to it is not
/// answered by the router's own fallback (marked with [`sandbox::NO_ROUTE_HEADER`]; a
/// handler's no-route 404 for a missing query parameter does not carry it).
#[tokio::test]
async fn every_spec_operation_has_a_sandbox_route() {
    let doc = spec_doc();
    let server = sandbox::start(Default::default()).await.unwrap();
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let base = server.base_url();
    let raw = Raw {
        http: http.clone(),
        base: base.clone(),
        key: server.app_key(),
        token: None,
    };
    let token = raw.login("trader", "trader-pass").await;
    // The fallback is recognisable: an unknown path carries the marker.
    let res = http
        .get(format!("{base}/v1.0/no/such/route"))
        .header("Et-App-Key", server.app_key())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    assert!(res.headers().contains_key(sandbox::NO_ROUTE_HEADER));
    let requests = sample_requests(&doc);
    assert_eq!(requests.len(), 129, "the spec's operations");
    let mut unrouted = BTreeSet::new();
    for (id, method, url, body) in requests {
        let mut req = http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{base}{url}"),
            )
            .header("Et-App-Key", server.app_key())
            .bearer_auth(&token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let res = req.send().await.unwrap();
        if res.headers().contains_key(sandbox::NO_ROUTE_HEADER) {
            unrouted.insert(id);
        }
    }
    let expected: BTreeSet<String> = NOT_ROUTED_YET.iter().map(|s| s.to_string()).collect();
    assert_eq!(unrouted, expected, "operations without a sandbox route");
}

/// Every operation beyond the core flow, with the state changes it makes (raw HTTP, recorded
/// and validated like the rest; a few through the typed client).
async fn everything_else(session: &Session, raw: &Raw, server: &sandbox::Server) {
    let a = |path: &str| format!("/v1.0/accounts/{ACCOUNT}{path}");
    // ---- user settings: the change is what the next read returns.
    let settings = session
        .call(|c| c.get_user_trading_settings().user_id("@me").send())
        .await
        .unwrap();
    assert_eq!(settings.max_stocks_quantity, Some(10000));
    let (code, body) = raw
        .send(
            "PUT",
            "/v1.0/users/@me/settings/trading",
            Some(r#"{"SkipVerifyOrder":"DoNotShow","MaxStocksQuantity":5000}"#),
        )
        .await;
    assert_eq!(
        (code, body["MaxStocksQuantity"].as_i64()),
        (200, Some(5000)),
        "{body}"
    );
    let settings = session
        .call(|c| c.get_user_trading_settings().user_id("@me").send())
        .await
        .unwrap();
    assert_eq!(settings.max_stocks_quantity, Some(5000));
    assert_eq!(
        settings.max_options_quantity,
        Some(100),
        "untouched fields stay"
    );
    let (code, _) = raw
        .send(
            "PUT",
            "/v1.0/users/@me/settings/trading",
            Some(r#"{"SkipVerifyOrder":"Never"}"#),
        )
        .await;
    assert_eq!(code, 422);
    assert_eq!(
        raw.send("GET", "/v1.0/users/1046/settings/trading", None)
            .await
            .0,
        401
    );
    let (code, body) = raw
        .send("GET", "/v1.0/applications/mobile/settings", None)
        .await;
    assert_eq!(code, 200);
    assert!(body["Settings"]["defaultLoginMode"].is_string());

    // ---- profile, PIN, pro group, agreements.
    let (code, body) = raw
        .send(
            "PATCH",
            "/v1.0/users/@me",
            Some(r#"{"FirstName":"Ada","Salutation":"Dr","Address":{"City":"Boston","State":22}}"#),
        )
        .await;
    assert_eq!(
        (code, body["FirstName"].as_str()),
        (200, Some("Ada")),
        "{body}"
    );
    assert_eq!(body["Address"]["City"], "Boston");
    let me = session.user_info().await.unwrap();
    assert_eq!(
        me.first_name.as_deref(),
        Some("Ada"),
        "getUserInfo shows the change"
    );
    assert_eq!(
        raw.send("PATCH", "/v1.0/users/@me", Some(r#"{"Suffix":"Esq"}"#))
            .await
            .0,
        422
    );
    let (code, body) = raw
        .send(
            "POST",
            "/v1.0/users/info",
            Some(r#"{"Email":"trader@example.com"}"#),
        )
        .await;
    assert_eq!((code, body["UserId"].as_i64()), (200, Some(1045)));
    assert_eq!(
        raw.send(
            "POST",
            "/v1.0/users/info",
            Some(r#"{"Email":"twofactor@example.com"}"#)
        )
        .await
        .0,
        401
    );
    assert_eq!(
        raw.send(
            "POST",
            "/v1.0/users/info",
            Some(r#"{"Email":"nobody@example.com"}"#)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        raw.send("POST", "/v1.0/users/@me/pincode", None).await.0,
        200
    );
    assert_eq!(
        raw.send("POST", "/v1.0/users/@me/group?confirmationToken=abc", None)
            .await
            .0,
        200
    );
    assert_eq!(
        raw.send("POST", "/v1.0/users/@me/group?confirmationToken=abc", None)
            .await
            .0,
        409
    );
    assert_eq!(raw.send("POST", "/v1.0/users/@me/group", None).await.0, 404);
    let (code, body) = raw.send("GET", "/v1.0/users/@me/agreements", None).await;
    assert_eq!((code, body.as_array().map(Vec::len)), (200, Some(2)));
    assert_eq!(
        raw.send("POST", "/v1.0/users/@me/agreements/Platform/sign", None)
            .await
            .0,
        200
    );
    let (_, body) = raw.send("GET", "/v1.0/users/@me/agreements", None).await;
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(1),
        "signed: no longer listed"
    );
    assert_eq!(
        raw.send("POST", "/v1.0/users/@me/agreements/Nope/sign", None)
            .await
            .0,
        400
    );
    let (code, body) = raw.send("GET", "/v1.0/users/@me/balance-info", None).await;
    assert_eq!(code, 200);
    assert!(body["equityTotal"].is_number());

    // ---- password change: the old one stops working, the new one logs in.
    let (code, _) = raw
        .send(
            "PUT",
            "/v1.0/users/@me/password/change",
            Some(r#"{"OldPassword":"wrong","Password":"n3w-pass","PasswordConfirm":"n3w-pass"}"#),
        )
        .await;
    assert_eq!(code, 409);
    let (code, _) = raw
        .send(
            "PUT",
            "/v1.0/users/@me/password/change",
            Some(r#"{"Password":"n3w-pass"}"#),
        )
        .await;
    assert_eq!(code, 422);
    let (code, _) = raw
        .send("PUT", "/v1.0/users/@me/password/change", Some(r#"{"OldPassword":"trader-pass","Password":"n3w-pass","PasswordConfirm":"n3w-pass"}"#))
        .await;
    assert_eq!(code, 200);
    assert_eq!(server.password("trader").as_deref(), Some("n3w-pass"));

    // ---- password reset, the four steps: the new password is in force afterwards.
    let (code, body) = raw
        .send(
            "GET",
            "/v1.0/users/password/secret-question?username=trader",
            None,
        )
        .await;
    assert_eq!(
        (code, body["Model"].as_str()),
        (200, Some(sandbox::SECRET_QUESTION))
    );
    let (_, body) = raw
        .send(
            "GET",
            "/v1.0/users/password/secret-question?username=ghost",
            None,
        )
        .await;
    assert_eq!(body["IsSucceed"], false);
    assert_eq!(
        raw.send("GET", "/v1.0/users/password/secret-question", None)
            .await
            .0,
        404
    );
    let (_, body) = raw
        .send(
            "POST",
            "/v1.0/users/password/reset/code",
            Some(r#"{"Code":"000000"}"#),
        )
        .await;
    assert_eq!(body["IsSucceed"], false, "no code was sent yet");
    let (_, body) = raw
        .send(
            "POST",
            "/v1.0/users/password/reset",
            Some(r#"{"User":"trader","SecretQuestionAnswer":"blue"}"#),
        )
        .await;
    assert_eq!(body["IsSucceed"], true);
    let (_, body) = raw
        .send(
            "POST",
            "/v1.0/users/password/reset/code",
            Some(&format!(r#"{{"Code":"{}"}}"#, sandbox::RESET_CODE)),
        )
        .await;
    let reset_token = body["Model"].as_str().unwrap().to_string();
    let (_, body) = raw
        .send(
            "PUT",
            "/v1.0/users/passwords/reset/",
            Some(&format!(
                r#"{{"Token":"{reset_token}","Password":"a","PasswordConfirmation":"b"}}"#
            )),
        )
        .await;
    assert_eq!(body["IsSucceed"], false);
    let (_, body) = raw
        .send("PUT", "/v1.0/users/passwords/reset/", Some(&format!(r#"{{"Token":"{reset_token}","Password":"trader-pass","PasswordConfirmation":"trader-pass"}}"#)))
        .await;
    assert_eq!(body["IsSucceed"], true, "{body}");
    assert_eq!(server.password("trader").as_deref(), Some("trader-pass"));
    let (_, body) = raw
        .send(
            "PUT",
            "/v1.0/users/passwords/reset/",
            Some(&format!(
                r#"{{"Token":"{reset_token}","Password":"x","PasswordConfirmation":"x"}}"#
            )),
        )
        .await;
    assert_eq!(body["IsSucceed"], false, "a reset token is good once");
    let (code, body) = raw.send("GET", "/v1.0/registration/schema", None).await;
    assert_eq!(
        (code, body[0]["UnitName"].as_str()),
        (200, Some("Credentials"))
    );

    // ---- account opening: a paper-trading request opens an account the user then lists.
    let before = session
        .call(|c| c.get_user_accounts().user_id("@me").send())
        .await
        .unwrap()
        .len();
    let request = session
        .call(|c| {
            c.open_account()
                .user_id("@me")
                .body(types::CreateOpenAccountRequestResource {
                    form_type: Some("Direct".into()),
                    account_provider: Some("PaperTrading".into()),
                    account_opening_provider_name: None,
                })
                .send()
        })
        .await
        .unwrap();
    assert_eq!(request.value.status.as_deref(), Some("Completed"));
    let accounts = session
        .call(|c| c.get_user_accounts().user_id("@me").send())
        .await
        .unwrap();
    assert_eq!(accounts.len(), before + 1);
    let paper = accounts
        .iter()
        .find(|x| x.clearing_account.as_deref() == request.account_number.as_deref())
        .and_then(|x| x.id)
        .unwrap();
    let (code, body) = raw
        .send("GET", &format!("/v1.0/accounts/{paper}/details"), None)
        .await;
    assert_eq!(
        (code, body["AccountProvider"].as_str()),
        (200, Some("PaperTrading"))
    );
    let (code, body) = raw
        .send(
            "POST",
            "/v1.0/user/@me/account-requests/open",
            Some(r#"{"FormType":"JotForm","AccountProvider":"Apex"}"#),
        )
        .await;
    assert_eq!((code, body["Status"].as_str()), (200, Some("New")));
    assert_eq!(
        raw.send(
            "POST",
            "/v1.0/user/@me/account-requests/open",
            Some(r#"{"FormType":"JotForm","AccountProvider":"Apex"}"#)
        )
        .await
        .0,
        409
    );
    assert_eq!(
        raw.send("POST", "/v1.0/user/@me/account-requests/open", Some("{}"))
            .await
            .0,
        500
    );
    assert_eq!(
        raw.send(
            "POST",
            "/v1.0/user/@me/account-requests/open",
            Some(r#"{"FormType":"Direct","AccountProvider":"Acme"}"#)
        )
        .await
        .0,
        400
    );

    // ---- account administration.
    let (code, body) = raw
        .send(
            "GET",
            &a("/history?startDate=2024-01-01T00:00:00Z&endDate=2024-01-03T00:00:00Z&step=1"),
            None,
        )
        .await;
    assert_eq!((code, body.as_array().map(Vec::len)), (200, Some(3)));
    assert_eq!(
        raw.send("GET", &a("/history?startDate=2024-01-01T00:00:00Z"), None)
            .await
            .0,
        404
    );
    let (code, body) = raw.send("GET", &a("/users"), None).await;
    assert_eq!(
        (code, body["AccountAccessType"].as_str()),
        (200, Some("Owner"))
    );
    let (code, body) = raw.send("GET", &a("/details"), None).await;
    assert_eq!(
        (code, body["ClearingAccountNumber"].as_str()),
        (200, Some("5AB02001"))
    );
    assert_eq!(raw.send("PUT", &a("/select"), None).await.0, 200);
    assert_eq!(server.selected_account(USER_ID), Some(ACCOUNT));
    assert_eq!(
        raw.send("PUT", &format!("/v1.0/accounts/{OTHERS}/select"), None)
            .await
            .0,
        401
    );
    assert_eq!(raw.send("PUT", &a("/alias/Main"), None).await.0, 200);
    let alias = |accounts: &Vec<types::UserAccountModel>| {
        accounts
            .iter()
            .find(|x| x.id == Some(ACCOUNT))
            .and_then(|x| x.alias.clone())
    };
    let accounts = session
        .call(|c| c.get_user_accounts().user_id("@me").send())
        .await
        .unwrap();
    assert_eq!(alias(&accounts).as_deref(), Some("Main"));
    assert_eq!(raw.send("DELETE", &a("/alias"), None).await.0, 200);
    let accounts = session
        .call(|c| c.get_user_accounts().user_id("@me").send())
        .await
        .unwrap();
    assert_eq!(alias(&accounts), None);
    let (code, body) = raw
        .send("PUT", &a("/users/1046?accessType=ReadOnly"), None)
        .await;
    assert_eq!(
        (code, body["AccountAccessType"].as_str()),
        (200, Some("ReadOnly")),
        "{body}"
    );
    let (code, body) = raw
        .send("PUT", &a("/username/pinuser?accessType=Full"), None)
        .await;
    assert_eq!(
        (code, body["UserModel"]["UserId"].as_i64()),
        (200, Some(1047))
    );
    assert_eq!(
        raw.send("PUT", &a("/users/1045?accessType=Full"), None)
            .await
            .0,
        400,
        "the owner has the account already"
    );
    assert_eq!(raw.send("PUT", &a("/users/1046"), None).await.0, 404);
    let (code, body) = raw.send("DELETE", &a("/users/1046"), None).await;
    assert_eq!(
        (code, body.as_array().map(Vec::len)),
        (200, Some(2)),
        "the owner and pinuser remain"
    );
    assert_eq!(raw.send("DELETE", &a("/users/1046"), None).await.0, 400);
    assert_eq!(
        raw.send("DELETE", &a("/users/1045"), None).await.0,
        400,
        "not the owner"
    );
    let ids = format!("[{ACCOUNT},{paper}]");
    let (code, body) = raw
        .send("POST", "/v1.0/accounts/balance/consolidated", Some(&ids))
        .await;
    assert_eq!(code, 200);
    let single = raw.send("GET", &a("/info"), None).await.1;
    assert_eq!(
        body["cash"].as_f64().unwrap(),
        single["cash"].as_f64().unwrap() + 100_000.0,
        "the paper account's cash adds up"
    );
    assert_eq!(
        raw.send(
            "POST",
            "/v1.0/accounts/balance/consolidated",
            Some(&format!("[{OTHERS}]"))
        )
        .await
        .0,
        401
    );
    let (code, _) = raw
        .send(
            "POST",
            "/v1.0/accounts/history?startDate=2024-01-01&endDate=2024-01-02",
            Some(&ids),
        )
        .await;
    assert_eq!(code, 200);

    // ---- funding beyond ACH: withdrawals land in the transfer list; Plaid links instantly.
    let (code, body) = raw
        .send("POST", &a("/ach-relationships/plaid"), Some(r#"{"Accounts":["plaid-1","plaid-2"],"BankName":"Chase","PublicToken":"public-sandbox-1"}"#))
        .await;
    assert_eq!(
        (code, body.as_array().map(Vec::len)),
        (200, Some(2)),
        "{body}"
    );
    assert_eq!(body[0]["Status"], "Approved");
    assert_eq!(
        raw.send(
            "POST",
            &a("/ach-relationships/plaid"),
            Some(r#"{"Accounts":["plaid-1"],"BankName":"Chase","PublicToken":"t"}"#)
        )
        .await
        .0,
        409
    );
    assert_eq!(
        raw.send(
            "POST",
            &a("/ach-relationships/plaid"),
            Some(r#"{"BankName":"Chase"}"#)
        )
        .await
        .0,
        422
    );
    let transfers = || {
        let url = a("/transfers?pageSize=100&pageNumber=0&sortBy=CreatedAt&isDesc=false");
        async move {
            raw.send("GET", &url, None).await.1["TotalCount"]
                .as_i64()
                .unwrap()
        }
    };
    let count = transfers().await;
    let (code, wire) = raw
        .send("POST", &a("/transfers/wire"), Some(r#"{"IsDomesticWire":true,"BankName":"Chase","RoutingNumber":"021000021","Name":"Jane Doe","AccountNumber":"123456789","Amount":100}"#))
        .await;
    assert_eq!(
        (code, wire["Mechanism"].as_str()),
        (200, Some("Wire")),
        "{wire}"
    );
    let (code, body) = raw
        .send(
            "POST",
            &a("/transfers/check"),
            Some(r#"{"DeliveryMethod":"Standard","Amount":50}"#),
        )
        .await;
    assert_eq!((code, body["Mechanism"].as_str()), (200, Some("Check")));
    let (code, body) = raw
        .send(
            "POST",
            &a("/transfers/zelle"),
            Some(r#"{"Name":"Jane Doe","Email":"jane@example.com","Amount":25}"#),
        )
        .await;
    assert_eq!((code, body["Mechanism"].as_str()), (200, Some("Zelle")));
    assert_eq!(transfers().await, count + 3);
    assert_eq!(
        raw.send(
            "POST",
            &a("/transfers/zelle"),
            Some(r#"{"Name":"Jane","Amount":1e12}"#)
        )
        .await
        .0,
        409
    );
    assert_eq!(
        raw.send("POST", &a("/transfers/wire"), Some(r#"{"Amount":10}"#))
            .await
            .0,
        422
    );
    let wire_id = wire["Id"].as_str().unwrap();
    let (code, body) = raw
        .send("GET", &a(&format!("/transfers/{wire_id}/fees")), None)
        .await;
    assert_eq!(
        (code, body[0]["CustomerDebitAmount"].as_f64()),
        (200, Some(25.0))
    );
    let (code, body) = raw
        .send("GET", &a("/transfers/ira_constraints/ACH/true"), None)
        .await;
    assert_eq!(
        (code, body["IsRetirementAccount"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(
        raw.send("GET", &a("/transfers/ira_constraints/Pigeon/true"), None)
            .await
            .0,
        400
    );

    // ---- order views.
    let (_, order) = raw
        .send("POST", &a("/orders"), Some(r#"{"Symbol":"IBM","Type":"Limit","Side":"Buy","Quantity":1,"Price":1,"TimeInforce":"Day"}"#))
        .await;
    let order_id = order["Id"].as_i64().unwrap();
    let (code, body) = raw
        .send("GET", &a(&format!("/orders/{order_id}/details")), None)
        .await;
    assert_eq!((code, body[0]["Id"].as_i64()), (200, Some(order_id)));
    let (code, body) = raw
        .send("GET", &a(&format!("/verified/orders/{order_id}")), None)
        .await;
    assert_eq!(
        (
            code,
            body["OrderId"].as_i64(),
            body["IsSuccessful"].as_bool()
        ),
        (200, Some(order_id), Some(true))
    );
    assert_eq!(raw.send("GET", &a("/verified/orders/1"), None).await.0, 404);
    let (code, body) = raw
        .send("GET", &a("/preview/limits/AAPL?price=100"), None)
        .await;
    assert_eq!((code, body["Symbol"].as_str()), (200, Some("AAPL")));
    assert!(body["BuyLimit"].as_f64().unwrap() > 0.0);
    assert_eq!(
        raw.send("GET", &a("/preview/limits/NOPE"), None).await.0,
        404
    );
    let query = format!(
        r#"{{"AccountIds":[{ACCOUNT}],"PageNumber":0,"PageSize":100,"SortField":"Id","Desc":true}}"#
    );
    let (code, body) = raw
        .send("POST", "/v1.0/orders/consolidated", Some(&query))
        .await;
    assert_eq!(
        (code, body["Result"][0]["Id"].as_i64()),
        (200, Some(order_id))
    );
    let (code, _) = raw
        .send(
            "POST",
            "/v1.0/orders/consolidated?filter=Nope%20%3D%201",
            Some(&query),
        )
        .await;
    assert_eq!(code, 400);

    // ---- mutual funds: a buy waits for the NAV, can be canceled, settles into holdings.
    let mf = |path: &str| format!("/v1.0/accounts/5AB02001{path}");
    let (code, body) = raw
        .send(
            "POST",
            &mf("/preview/orders/mutual-funds/buy"),
            Some(r#"{"Symbol":"VFIAX","Quantity":2}"#),
        )
        .await;
    assert_eq!((code, body["IsSuccessful"].as_bool()), (200, Some(true)));
    let (_, body) = raw
        .send(
            "POST",
            &mf("/preview/orders/mutual-funds/sell"),
            Some(r#"{"Symbol":"VFIAX","Quantity":1}"#),
        )
        .await;
    assert_eq!(body["ErrorDescription"], "InsufficientShares");
    let (_, body) = raw
        .send(
            "POST",
            &mf("/orders/mutual-funds/buy"),
            Some(r#"{"Symbol":"VFIAX","Quantity":1}"#),
        )
        .await;
    let cancel = body["Id"].as_i64().unwrap();
    assert_eq!(body["Status"], "New");
    assert_eq!(
        raw.send(
            "DELETE",
            &mf(&format!("/orders/mutual-funds/{cancel}")),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        raw.send(
            "DELETE",
            &mf(&format!("/orders/mutual-funds/{cancel}")),
            None
        )
        .await
        .0,
        409
    );
    raw.send(
        "POST",
        &mf("/orders/mutual-funds/buy"),
        Some(r#"{"Symbol":"VFIAX","Quantity":2}"#),
    )
    .await;
    assert_eq!(server.settle_mutual_funds(), 1);
    assert_eq!(server.fund_holding(ACCOUNT, "VFIAX"), Decimal::from(2));
    let (_, body) = raw
        .send(
            "POST",
            &mf("/orders/mutual-funds/sell"),
            Some(r#"{"Symbol":"VFIAX","Quantity":1}"#),
        )
        .await;
    assert_eq!(body["Status"], "New");
    let (_, body) = raw
        .send(
            "POST",
            &mf("/preview/orders/mutual-funds/exchange"),
            Some(r#"{"SourceSymbol":"VFIAX","TargetSymbol":"FXAIX"}"#),
        )
        .await;
    assert_eq!(body["IsSuccessful"], true);
    let (_, body) = raw
        .send(
            "POST",
            &mf("/orders/mutual-funds/exchange"),
            Some(r#"{"SourceSymbol":"FXAIX","TargetSymbol":"VFIAX"}"#),
        )
        .await;
    assert_eq!(body["Status"], "Rejected", "nothing of FXAIX is held");
    let (_, body) = raw
        .send(
            "POST",
            &mf("/preview/orders/mutual-funds/liquidate"),
            Some(r#"{"Symbol":"VFIAX"}"#),
        )
        .await;
    assert_eq!(body["IsSuccessful"], true);
    let (code, _) = raw
        .send(
            "POST",
            &mf("/orders/mutual-funds/liquidate"),
            Some(r#"{"Symbol":"VFIAX"}"#),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(server.settle_mutual_funds(), 2);
    assert_eq!(server.fund_holding(ACCOUNT, "VFIAX"), Decimal::ZERO);
    assert_eq!(
        raw.send(
            "POST",
            "/v1.0/accounts/5AB02002/orders/mutual-funds/buy",
            Some(r#"{"Symbol":"VFIAX","Quantity":1}"#)
        )
        .await
        .0,
        401
    );
    assert_eq!(
        raw.send(
            "POST",
            &mf("/orders/mutual-funds/buy"),
            Some(r#"{"Symbol":"VFIAX"}"#)
        )
        .await
        .0,
        422
    );

    // ---- positions.
    let (code, body) = raw.send("GET", &a("/positions/groups"), None).await;
    assert_eq!(code, 200);
    assert!(body.as_array().unwrap().iter().any(|g| g["Name"] == "Cash"));
    let (code, top) = raw.send("GET", &a("/positions/top?count=1"), None).await;
    assert_eq!(code, 200);
    assert!(top.as_array().unwrap().len() <= 1);
    let (code, body) = raw.send("GET", &a("/positions/AAPL"), None).await;
    assert_eq!(code, 200);
    assert!(body
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["Symbol"] == "AAPL"));
    assert_eq!(raw.send("GET", &a("/positions/NOPE"), None).await.0, 404);
    let (code, body) = raw
        .send("POST", "/v1.0/positions/consolidated", Some(&query))
        .await;
    assert_eq!(code, 200);
    assert!(body["TotalCount"].is_number());

    // ---- securities and market data.
    let res = raw
        .http
        .get(format!("{}/v1.0/equities/AAPL/logo", raw.base))
        .header("Et-App-Key", &raw.key)
        .bearer_auth(raw.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.bytes().await.unwrap().starts_with(b"\x89PNG"));
    assert_eq!(
        raw.send("GET", "/v1.0/equities/NOPE/logo", None).await.0,
        404
    );
    let (code, body) = raw
        .send(
            "GET",
            "/v1.0/currencyRate?currency=USD&targetCurrency=EUR",
            None,
        )
        .await;
    assert_eq!((code, body["Last"].as_f64()), (200, Some(0.92)));
    assert_eq!(
        raw.send(
            "GET",
            "/v1.0/currencyRate?currency=USD&targetCurrency=XXX",
            None
        )
        .await
        .0,
        404
    );
    let (code, body) = raw
        .send("GET", "/v1.0/options/optionChain/AAPL", None)
        .await;
    assert_eq!(
        (code, body["Expirations"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    let (_, body) = raw.send("GET", "/v1.0/options/optionChain/AAPL?filter=Range%20%3D%200%20and%20Expiration%20%3D%20%232030-01-18T00%3A00%3A00%23", None).await;
    assert_eq!(
        body["Expirations"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(
        body["Expirations"][0]["Options"].as_array().map(Vec::len),
        Some(2),
        "the central strike's call and put"
    );
    let (code, body) = raw
        .send("PUT", "/v1.0/history/compare", Some(r#"{"Securities":[{"Symbol":"AAPL"},{"Symbol":"MSFT"}],"SecuritiesHistorySettings":{"CandlesCount":5,"Period":"1D"}}"#))
        .await;
    assert_eq!(
        (
            code,
            body.as_array().map(Vec::len),
            body[0].as_array().map(Vec::len)
        ),
        (200, Some(2), Some(5))
    );
    let (code, body) = raw
        .send("PUT", "/v1.0/history/symbols", Some(r#"{"Security":{"Symbol":"AAPL"},"SecurityHistorySettings":{"CandlesCount":3},"IndicatorsHistorySettings":[{"Signature":"SMA|1D|false|5"}]}"#))
        .await;
    assert_eq!(
        (code, body["SecurityHistory"][0].as_array().map(Vec::len)),
        (200, Some(3))
    );
    assert_eq!(
        raw.send(
            "PUT",
            "/v1.0/history/symbols",
            Some(r#"{"Security":{"Symbol":"NOPE"}}"#)
        )
        .await
        .0,
        404
    );
    let res = raw
        .http
        .post(format!("{}/v1.0/history/export", raw.base))
        .header("Et-App-Key", &raw.key)
        .bearer_auth(raw.token.as_deref().unwrap())
        .header("content-type", "application/json")
        .body(r#"{"Securities":[1],"DefaultFileName":"aapl"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.bytes().await.unwrap().starts_with(b"PK"));
    let (code, body) = raw.send("GET", "/v1.0/news?symbol=AAPL", None).await;
    assert_eq!((code, body[0]["Key"].as_str()), (200, Some("AAPL")));
    assert_eq!(raw.send("GET", "/v1.0/news", None).await.0, 404);
    let (code, body) = raw
        .send("GET", "/v1.0/news/corporate-actions?symbol=T", None)
        .await;
    assert_eq!(
        (code, body[0]["Type"].as_str()),
        (200, Some("CashDividend"))
    );
    let (code, body) = raw
        .send("POST", "/v1.0/feedbacks", Some(r#"{"Subject":"Hi","Comment":"Nice","ImagesToUpload":[{"Name":"a","Type":"png","Data":"iVBORw0KGgo="}]}"#))
        .await;
    assert_eq!((code, body["Subject"].as_str()), (200, Some("Hi")));

    // ---- activity and reports.
    let (code, body) = raw
        .send(
            "GET",
            &a("/activity?pageSize=10&pageNumber=0&sortBy=Date&isAsc=true"),
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        body["TotalCount"].as_i64().unwrap() > 0,
        "the fills of the orders above"
    );
    let (code, body) = raw
        .send(
            "GET",
            &a("/activity/report?sortBy=Date&isAsc=true&reportEnum=CsvReport"),
            None,
        )
        .await;
    assert_eq!(
        (code, body[0].as_str()),
        (200, Some("Date,Type,Symbol,Quantity,Price,Amount"))
    );
    let (code, _) = raw
        .send(
            "GET",
            &a("/transaction/report?sortBy=Date&isDesc=true&reportEnum=PdfReport"),
            None,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        raw.send(
            "GET",
            &a("/transaction/report?sortBy=Date&isDesc=true&reportEnum=Doc"),
            None
        )
        .await
        .0,
        400
    );
    for path in ["/activity/allowed-types", "/transactions/allowed-types"] {
        let (code, body) = raw.send("GET", &a(path), None).await;
        assert_eq!(code, 200);
        assert!(body.as_array().unwrap().iter().any(|t| t == "Commission"));
    }
    let (code, body) = raw
        .send("POST", "/v1.0/transactions/consolidated", Some(&query))
        .await;
    assert_eq!(code, 200);
    assert!(body["TotalCount"].as_i64().unwrap() > 0);

    // ---- IPO: subscribing shows in the offerings, twice is a conflict.
    let (code, body) = raw.send("GET", "/v1.0/ipo/industries", None).await;
    assert_eq!((code, body.as_array().map(Vec::len)), (200, Some(2)));
    let (code, body) = raw.send("GET", "/v1.0/ipo/security-info", None).await;
    assert_eq!(code, 200);
    assert!(body.as_str().unwrap().contains("NEWCO"));
    let offerings = format!("/v1.0/ipo/accounts/{ACCOUNT}/offerings");
    let subscribed = || {
        let url = format!("{offerings}/active?page=0&pageSize=10");
        async move { raw.send("GET", &url, None).await.1["Items"][0]["IsSubscribed"].as_bool() }
    };
    assert_eq!(subscribed().await, Some(false));
    assert_eq!(
        raw.send(
            "POST",
            &format!("{offerings}/IPO-NEWCO-2030/subscribe"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(subscribed().await, Some(true));
    assert_eq!(
        raw.send(
            "POST",
            &format!("{offerings}/IPO-NEWCO-2030/subscribe"),
            None
        )
        .await
        .0,
        409
    );
    assert_eq!(
        raw.send(
            "POST",
            &format!("{offerings}/IPO-NEWCO-2030/unsubscribe"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(subscribed().await, Some(false));
    assert_eq!(
        raw.send("POST", &format!("{offerings}/IPO-NONE/subscribe"), None)
            .await
            .0,
        400
    );
}
