//! End-to-end: the TradeLocker client against the TradeLocker sandbox over loopback HTTP.

use brokerkit_mock::tradelocker::{self as sandbox, Config};
use brokerkit_mock::Fault;
use brokerkit_tradelocker::{
    orders, types, Credentials, Environment, Error, InstrumentRoutes, Session,
};
use brokerkit_tradelocker::{BrokerError, ClientConfig, Failure};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;
const PASSWORD: &str = "demo-password";

fn creds() -> Credentials {
    Credentials::new("trader@example.com", PASSWORD, "OSP-DEMO")
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn logged_in(config: Config) -> (sandbox::Server, Session) {
    logged_in_keeping(config, true).await
}

/// A session that keeps (or forgets) the credentials it could log in again with.
async fn logged_in_keeping(config: Config, keep: bool) -> (sandbox::Server, Session) {
    let server = sandbox::start(config).await.unwrap();
    let session = Session::builder(Environment::Custom(server.base_url()))
        .keep_credentials(keep)
        .login(&creds())
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    (server, session)
}

#[tokio::test]
async fn login_to_trade_to_close() {
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::login(Environment::Custom(server.base_url()), &creds())
        .await
        .unwrap();

    let accounts = session.accounts().await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0].acc_num, "1");
    assert_eq!(
        accounts[0].balance,
        Some(d("100000.00")),
        "the string balance is read exactly"
    );
    session.select_account(&accounts[0]);

    let config = session.config().await.unwrap();
    assert_eq!(config.positions_config.as_ref().unwrap().columns.len(), 11);

    let instruments = session.instruments().await.unwrap();
    let eurusd = instruments.iter().find(|i| i.name == "EURUSD").unwrap();
    assert_eq!(eurusd.tradable_instrument_id, EURUSD);
    assert_eq!(
        (eurusd.info_route(), eurusd.trade_route()),
        (Some(INFO), Some(TRADE))
    );

    let details = session.instrument_details(EURUSD, INFO).await.unwrap();
    assert_eq!(*details.lot_step, d("0.01"));

    let quote = session.quote(EURUSD, INFO).await.unwrap();
    assert_eq!((*quote.bp, *quote.ap), (d("1.08638"), d("1.08642")));

    let order_id = session
        .place_order(&orders::market(
            EURUSD,
            TRADE,
            orders::Direction::Buy,
            d("0.62"),
        ))
        .await
        .unwrap();
    assert_eq!(
        order_id.len(),
        19,
        "order ids beyond 2^53 arrive as exact strings"
    );

    let positions = session.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    let p = &positions[0];
    assert_eq!(
        (p.qty, p.avg_price, p.tradable_instrument_id),
        (d("0.62"), d("1.08642"), EURUSD)
    );
    assert!(p.id.parse::<u64>().unwrap() > (1u64 << 53));

    let state = session.account_state().await.unwrap();
    assert_eq!(state.positions_count, Some(Decimal::ONE));
    assert_eq!(state.balance, Some(d("100000")));

    // The price moves up 10 pips: the long position gains 0.001 * 0.62 lots * 100000 = 62.
    server.set_mid_price(EURUSD, d("1.08744"));
    session.close_position(&p.id, None).await.unwrap();
    assert!(session.positions().await.unwrap().is_empty());
    assert_eq!(server.balance(&accounts[0].id), Some(d("100062.00")));

    let history = session.orders_history(None, None).await.unwrap();
    assert_eq!(history.orders.len(), 2);
    assert!(history.orders.iter().all(|o| o.status == "Filled"));
    assert_eq!(
        history.orders[0].position_id.as_deref(),
        Some(p.id.as_str())
    );
    let executions = session.executions().await.unwrap();
    assert_eq!(executions.len(), 2);
    assert_eq!(executions[1].price, d("1.08742"));
}

#[tokio::test]
async fn working_orders_can_be_modified_and_cancelled() {
    let (_server, session) = logged_in(Config::default()).await;
    let id = session
        .place_order(&orders::limit(
            EURUSD,
            TRADE,
            orders::Direction::Buy,
            d("1"),
            d("1.05"),
        ))
        .await
        .unwrap();
    let working = session.orders().await.unwrap();
    assert_eq!((working.len(), working[0].price), (1, Some(d("1.05"))));

    let changes = types::ModifyOrderRequest {
        price: Some(d("1.06").into()),
        qty: Some(d("2").into()),
        ..Default::default()
    };
    session.modify_order(&id, &changes).await.unwrap();
    let working = session.orders().await.unwrap();
    assert_eq!(
        (working[0].price, working[0].qty),
        (Some(d("1.06")), d("2"))
    );

    session.cancel_order(&id).await.unwrap();
    assert!(session.orders().await.unwrap().is_empty());
    // Cancelling again is a business rejection at HTTP 200, not a success.
    match session.cancel_order(&id).await {
        Err(Error::Rejected {
            status: 200,
            message,
        }) => assert!(message.contains("Cancelled"), "{message}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn stop_loss_on_a_position_shows_up_as_an_order() {
    let (_server, session) = logged_in(Config::default()).await;
    session
        .place_order(&orders::market(
            EURUSD,
            TRADE,
            orders::Direction::Sell,
            d("1"),
        ))
        .await
        .unwrap();
    let p = session.positions().await.unwrap().remove(0);
    let sl = types::ModifyPositionRequest {
        stop_loss: Some(d("1.1").into()),
        ..Default::default()
    };
    session.modify_position(&p.id, &sl).await.unwrap();
    let p = session.positions().await.unwrap().remove(0);
    let orders = session.orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(Some(orders[0].id.clone()), p.stop_loss_id);
    assert_eq!(orders[0].stop_price, Some(d("1.1")));
    session.close_all_positions().await.unwrap();
    assert!(
        session.orders().await.unwrap().is_empty(),
        "the stop loss goes with the position"
    );
}

#[tokio::test]
async fn an_in_band_error_at_http_200_is_a_typed_rejection() {
    let (server, session) = logged_in(Config::default()).await;
    let err = session
        .place_order(&orders::market(
            EURUSD,
            TRADE,
            orders::Direction::Buy,
            d("0.001"),
        ))
        .await
        .unwrap_err();
    match &err {
        Error::Rejected { status, message } => {
            assert_eq!(*status, 200);
            assert!(message.starts_with("Invalid quantity 0.001"), "{message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.to_string().contains("Invalid quantity"));
    assert!(session.positions().await.unwrap().is_empty());
    assert_eq!(
        server
            .hits
            .get("POST", &format!("/trade/accounts/{}/orders", "2200767")),
        1,
        "never retried"
    );
}

#[tokio::test]
async fn a_token_the_server_stops_accepting_is_refreshed_once_under_50_concurrent_calls() {
    let (server, session) = logged_in(Config::default()).await;
    // The published rate limits are read first, so that the 401s below meet the quotes.
    session.config().await.unwrap();
    server.expire_access_tokens();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.quote(EURUSD, INFO).await })
        })
        .collect();
    for c in calls {
        c.await
            .unwrap()
            .expect("every call succeeds after the refresh");
    }
    assert_eq!(server.hits.get("POST", "/auth/jwt/refresh"), 1);
    assert_eq!(session.renewals(), 1);
    assert_eq!(
        server.hits.get("GET", "/trade/quotes"),
        100,
        "each call was sent, refused once, and retried once"
    );
}

#[tokio::test]
async fn a_token_near_its_expire_date_is_refreshed_before_use_once_under_50_concurrent_calls() {
    let config = Config {
        access_lifetime: Duration::from_millis(1200),
        ..Config::default()
    };
    let (server, session) = logged_in(config).await;
    tokio::time::sleep(Duration::from_millis(700)).await; // past half the lifetime
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.quote(EURUSD, INFO).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert_eq!(server.hits.get("POST", "/auth/jwt/refresh"), 1);
    assert_eq!(
        server.hits.get("GET", "/trade/quotes"),
        50,
        "no call was refused: the token was renewed first"
    );
}

#[tokio::test]
async fn a_dead_refresh_token_without_credentials_requires_a_new_login() {
    let (server, session) = logged_in_keeping(Config::default(), false).await;
    server.expire_access_tokens();
    server.expire_refresh_tokens();
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Renewal(ref e)) if e.login_required && e.status == Some(401)),
        "{err:?}"
    );
    assert!(err.to_string().contains("log in again"));
}

#[tokio::test]
async fn wrong_credentials_are_forbidden() {
    let server = sandbox::start(Config::default()).await.unwrap();
    let bad = Credentials::new("trader@example.com", "wrong", "OSP-DEMO");
    let err = Session::login(Environment::Custom(server.base_url()), &bad)
        .await
        .unwrap_err();
    match &err {
        Error::Forbidden(h) => assert!(h.body_text().contains("Invalid credentials")),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn a_429_keeps_retry_after_status_and_body() {
    let (server, session) = logged_in(Config::default()).await;
    // A field the spec does not know: the error must keep the body exactly as sent.
    let body = r#"{"timestamp":"2026-03-23T10:00:00.000+00:00","status":429,"error":"Too Many Requests","path":"/clientapi/v1/quotes","traceId":"a1"}"#;
    server.faults.inject(
        "/trade/quotes",
        Fault::RateLimited {
            retry_after_secs: 300,
            body: body.into(),
        },
    );
    match session.quote(EURUSD, INFO).await.unwrap_err() {
        Error::Failure(Failure::RateLimited {
            rate_limit,
            failure,
        }) => {
            assert_eq!(rate_limit.retry_after, Some(Duration::from_secs(300)));
            assert_eq!(failure.status, 429);
            assert_eq!(failure.body_text(), body);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_the_body() {
    let (server, session) = logged_in(Config::default()).await;
    server.faults.inject("/trade/quotes", Fault::Malformed);
    match session.quote(EURUSD, INFO).await.unwrap_err() {
        Error::Failure(Failure::Decode { body, .. }) => assert!(body.starts_with(b"{\"s\":\"ok\"")),
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_required_field_is_a_decode_error() {
    let (server, session) = logged_in(Config::default()).await;
    server.faults.inject(
        "/trade/quotes",
        Fault::Respond {
            status: 200,
            body: r#"{"s":"ok","d":{"ap":1.1}}"#.into(),
        },
    );
    match session.quote(EURUSD, INFO).await.unwrap_err() {
        Error::Failure(Failure::Decode { message, .. }) => {
            assert!(message.contains("missing field"), "{message}")
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::builder(Environment::Custom(server.base_url()))
        .config(ClientConfig::default().timeout(Duration::from_millis(300)))
        .login(&creds())
        .await
        .unwrap();
    server.faults.inject(
        "/auth/jwt/all-accounts",
        Fault::Latency(Duration::from_secs(2)),
    );
    let err = session.accounts().await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Timeout(_))),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_dropped_connection_is_a_connection_error() {
    let (server, session) = logged_in(Config::default()).await;
    server.faults.inject("/trade/quotes", Fault::Drop);
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Connection(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Session::login(
        Environment::Custom(format!("http://127.0.0.1:{port}/backend-api")),
        &creds(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Connection(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn empty_history_is_no_data_not_an_error() {
    let (_server, session) = logged_in(Config::default()).await;
    let minute = brokerkit_tradelocker::Resolution::Minute;
    let bars = session
        .history(EURUSD, INFO, minute, 1_700_000_000_000, 1_700_000_000_000)
        .await
        .unwrap();
    assert!(bars.is_empty());
    let bars = session
        .history(EURUSD, INFO, minute, 1_700_000_000_000, 1_700_000_600_000)
        .await
        .unwrap();
    assert_eq!(bars.len(), 10);
    assert!(bars.windows(2).all(|w| w[1].t - w[0].t == 60_000));
}

#[tokio::test]
async fn an_unknown_enum_value_does_not_fail_the_response() {
    let (server, session) = logged_in(Config::default()).await;
    let body = r#"{"s":"ok","d":{"instruments":[{"tradableInstrumentId":1,"id":2,"name":"X","routes":[{"id":3,"type":"SMART"}]}]}}"#;
    server.faults.inject(
        "/trade/accounts/*",
        Fault::Respond {
            status: 200,
            body: body.into(),
        },
    );
    let list = session.instruments().await.unwrap();
    assert!(matches!(&list[0].routes[0].type_, types::RouteType::Other(s) if s == "SMART"));
}

#[tokio::test]
async fn calls_without_an_account_are_refused_before_sending() {
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::login(Environment::Custom(server.base_url()), &creds())
        .await
        .unwrap();
    let before = server.hits.total();
    assert!(matches!(
        session.positions().await.unwrap_err(),
        Error::Failure(Failure::NotReady(_))
    ));
    let raw = session
        .client()
        .get_quotes()
        .tradable_instrument_id(EURUSD)
        .route_id(INFO)
        .send()
        .await;
    let err = Error::from_client(raw.unwrap_err()).await;
    assert!(err.to_string().contains("select_account"), "{err}");
    assert_eq!(server.hits.total(), before, "nothing was sent");
}

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let (server, session) = logged_in_keeping(Config::default(), false).await;
    let creds = creds();
    let token_sample = {
        // The raw client exposes the token type but Debug must still hide it.
        let t = session
            .client()
            .get_jwt_token()
            .body(types::JwtCredentials {
                email: creds.email.clone(),
                password: creds.password.clone(),
                server: creds.server.clone(),
            });
        t.send().await.unwrap().into_inner()
    };
    let texts = [
        format!("{creds:?}"),
        format!("{session:?}"),
        format!("{token_sample:?}"),
        format!("{:?}", Arc::new(session.clone())),
    ];
    server.expire_access_tokens();
    server.expire_refresh_tokens();
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    for text in texts
        .iter()
        .chain([format!("{err:?}"), err.to_string()].iter())
    {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(token_sample.access_token.expose()), "{text}");
        assert!(
            !text.contains(token_sample.refresh_token.expose()),
            "{text}"
        );
    }
}

/// Reference §3.7: a session status is three operation flags and six order-type flags; the
/// types say so, and an answer of another length is a typed decode error, not a silent guess.
#[tokio::test]
async fn session_status_flags_have_their_known_lengths() {
    let (server, session) = logged_in(Config::default()).await;
    let status = session
        .call(|c| c.get_session_status().session_status_id(1).send())
        .await
        .unwrap();
    let d = status.value.d.clone().unwrap();
    let (ops, kinds): ([i32; 3], [i32; 6]) = (d.allowed_operations, d.allowed_order_types);
    assert!(ops.iter().chain(&kinds).all(|f| *f == 0 || *f == 1));

    server.running.faults.inject(
        "/trade/sessionStatuses/*",
        brokerkit_mock::Fault::Respond {
            status: 200,
            body: r#"{"s":"ok","d":{"allowedOperations":[1,1],"allowedOrderTypes":[1,1,1,0,0,0]}}"#
                .into(),
        },
    );
    let err = session
        .call(|c| c.get_session_status().session_status_id(1).send())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::Decode {
                status: Some(200),
                ..
            })
        ),
        "{err:?}"
    );
}

/// Instruments by symbol and by id, from one read of the list per account.
#[tokio::test]
async fn instruments_are_found_by_symbol_and_id_without_rescanning() {
    let (server, session) = logged_in(Config::default()).await;
    let path = format!("/trade/accounts/{}/instruments", {
        session.accounts().await.unwrap().remove(0).id
    });
    let eurusd = session
        .instrument_by_symbol("EURUSD")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(eurusd.tradable_instrument_id, EURUSD);
    let by_id = session.instrument_by_id(EURUSD).await.unwrap().unwrap();
    assert_eq!(by_id.name, "EURUSD");
    assert!(session
        .instrument_by_symbol("NOPE")
        .await
        .unwrap()
        .is_none());
    assert!(
        session
            .instrument_by_symbol("eurusd")
            .await
            .unwrap()
            .is_none(),
        "exact names"
    );
    assert!(session.instrument_by_id(-1).await.unwrap().is_none());
    assert_eq!(server.hits.get("GET", &path), 1, "the list is read once");
    session.instruments().await.unwrap();
    assert_eq!(
        server.hits.get("GET", &path),
        2,
        "instruments() reads afresh"
    );
}

/// The sandbox's tokens are shaped as the vendor's (the seed's claims), and the session reads
/// the access token's own `exp`, as real clients do.
#[tokio::test]
async fn tokens_carry_the_vendors_claims_and_the_session_reads_exp() {
    use base64::Engine;
    let server = sandbox::start(Config::default()).await.unwrap();
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let tokens: serde_json::Value = http
        .post(format!("{}/auth/jwt/token", server.base_url()))
        .json(&serde_json::json!({"email": "trader@example.com", "password": "demo-password", "server": "OSP-DEMO"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = |token: &str| -> serde_json::Value {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let access = claims(tokens["accessToken"].as_str().unwrap());
    let refresh = claims(tokens["refreshToken"].as_str().unwrap());
    let mut keys: Vec<&str> = access
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["aud", "brand", "exp", "iat", "iss", "sub", "type", "uid"]
    );
    assert_eq!(access["type"], "access_token");
    assert_eq!(refresh["type"], "refresh_token");
    let (iat, exp) = (
        access["iat"].as_u64().unwrap(),
        access["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 3600, "the default access lifetime");
    assert!(
        refresh["exp"].as_u64().unwrap() > exp,
        "the refresh token lives longer"
    );

    let session = Session::login(Environment::Custom(server.base_url()), &creds())
        .await
        .unwrap();
    let expires = session
        .expires_at()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expires.abs_diff(exp) <= 2,
        "expires_at {expires} is the token's exp {exp}"
    );

    // Where the token's exp and expireDate disagree, the token is believed.
    let forged = |exp: u64| {
        let claims = serde_json::json!({"type": "access_token", "exp": exp}).to_string();
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"HS256"}"#), b64(&claims))
    };
    server.running.faults.inject(
        "/auth/jwt/token",
        brokerkit_mock::Fault::Respond {
            status: 201,
            body: serde_json::json!({
                "accessToken": forged(4_102_444_800),
                "refreshToken": forged(4_102_531_200),
                "expireDate": "2030-01-01T00:00:00.000Z",
            })
            .to_string(),
        },
    );
    let session = Session::login(Environment::Custom(server.base_url()), &creds())
        .await
        .unwrap();
    assert_eq!(
        session.expires_at(),
        Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_102_444_800))
    );
}

/// Reference §1.7: an account may list several INFO routes of which the first is dead. The
/// session falls back to the next one on the server's rejection and remembers it.
#[tokio::test]
async fn a_dead_info_route_is_skipped_once_and_the_working_one_remembered() {
    use brokerkit_tradelocker::InstrumentRoutes;
    let (server, session) = logged_in(Config::default()).await;
    let xau = session
        .instrument_by_symbol("XAUUSD")
        .await
        .unwrap()
        .unwrap();
    let (dead, live) = (xau.info_routes()[0], xau.info_routes()[1]);
    assert_eq!(
        xau.info_route(),
        Some(dead),
        "the dead route is listed first"
    );
    let err = session
        .quote(xau.tradable_instrument_id, dead)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }), "{err:?}");

    server.running.recorder.start();
    for _ in 0..3 {
        let q = session.quote_instrument(&xau).await.unwrap();
        assert!(q.ap.0 > q.bp.0);
    }
    assert_eq!(session.working_info_route(&xau).await.unwrap(), live);
    let quotes = server.running.recorder.take();
    let quotes: Vec<_> = quotes
        .iter()
        .filter(|e| e.path == "/trade/quotes")
        .collect();
    assert_eq!(
        quotes.len(),
        4,
        "one refused probe of the dead route, then three quotes"
    );
    assert!(String::from_utf8_lossy(&quotes[0].body).contains("\"error\""));
    assert!(quotes[1..]
        .iter()
        .all(|e| String::from_utf8_lossy(&e.body).contains("\"ok\"")));
}
