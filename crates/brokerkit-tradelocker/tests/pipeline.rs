//! The shared request pipeline, seen through TradeLocker: what is retried, what never is,
//! `Retry-After`, and the deadline over a whole operation.

use brokerkit_mock::tradelocker::{self as sandbox, Config};
use brokerkit_mock::Fault;
use brokerkit_runtime::call::Retry;
use brokerkit_tradelocker::{orders, Credentials, Environment, Error, SessionBuilder};
use brokerkit_tradelocker::{BrokerError, ClientConfig, Failure};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;

async fn session_with(
    configure: impl FnOnce(SessionBuilder) -> SessionBuilder,
) -> (sandbox::Server, brokerkit_tradelocker::Session, String) {
    let server = sandbox::start(Config::default()).await.unwrap();
    let builder = brokerkit_tradelocker::Session::builder(Environment::Custom(server.base_url()));
    let session = configure(builder)
        .login(&Credentials::new(
            "trader@example.com",
            "demo-password",
            "OSP-DEMO",
        ))
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    (server, session, account.id)
}

#[tokio::test]
async fn a_read_under_503_is_retried_until_it_succeeds() {
    let (server, session, _) = session_with(|b| b).await;
    server
        .faults
        .inject_times("GET", "/trade/quotes", Fault::ServerError(503), 2);
    session.quote(EURUSD, INFO).await.unwrap();
    assert_eq!(server.hits.get("GET", "/trade/quotes"), 3);
}

#[tokio::test]
async fn an_order_under_503_reaches_the_broker_exactly_once() {
    let (server, session, account) = session_with(|b| b).await;
    let path = format!("/trade/accounts/{account}/orders");
    server
        .faults
        .inject_times("POST", &path, Fault::ServerError(503), 1);
    let order = orders::market(EURUSD, TRADE, orders::Direction::Buy, Decimal::new(1, 2));
    let err = session.place_order(&order).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(server.hits.get("POST", &path), 1);
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_even_for_an_order() {
    let (server, session, account) = session_with(|b| b).await;
    let path = format!("/trade/accounts/{account}/orders");
    server.faults.inject_times(
        "POST",
        &path,
        Fault::RateLimited {
            retry_after_secs: 1,
            body: "{}".into(),
        },
        1,
    );
    let started = Instant::now();
    let order = orders::market(EURUSD, TRADE, orders::Direction::Buy, Decimal::new(1, 2));
    session.place_order(&order).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited as told"
    );
    assert_eq!(
        server.hits.get("POST", &path),
        2,
        "refused once, placed once"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_returned_to_the_caller() {
    let (server, session, _) = session_with(|b| b).await;
    server.faults.inject_times(
        "GET",
        "/trade/quotes",
        Fault::RateLimited {
            retry_after_secs: 3600,
            body: "{}".into(),
        },
        1,
    );
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    match err {
        Error::Failure(Failure::RateLimited { rate_limit, .. }) => {
            assert_eq!(rate_limit.retry_after, Some(Duration::from_secs(3600)))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits.get("GET", "/trade/quotes"), 1);
}

#[tokio::test]
async fn retries_can_be_switched_off() {
    let (server, session, _) =
        session_with(|b| b.config(ClientConfig::default().retry(Retry::off()))).await;
    server
        .faults
        .inject_times("GET", "/trade/quotes", Fault::ServerError(503), 1);
    assert_eq!(
        session.quote(EURUSD, INFO).await.unwrap_err().status(),
        Some(503)
    );
    assert_eq!(server.hits.get("GET", "/trade/quotes"), 1);
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_operation() {
    let (server, session, _) =
        session_with(|b| b.config(ClientConfig::default().deadline(Duration::from_millis(400))))
            .await;
    // Each attempt fails fast, so without a deadline three attempts and their backoff would run;
    // a slow answer then must be cut at the deadline.
    server
        .faults
        .inject("/trade/quotes", Fault::Latency(Duration::from_secs(3)));
    let started = Instant::now();
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Timeout(_))),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cut at the deadline"
    );
}

#[tokio::test]
async fn a_call_missing_a_required_value_names_it_and_sends_nothing() {
    let (server, session, _) = session_with(|b| b).await;
    let err = session
        .call(|c| c.get_quotes().route_id(INFO).send())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Failure(Failure::InvalidRequest(m)) if m == "tradable_instrument_id was not initialized"
        ),
        "{err:?}"
    );
    let err = session
        .call(|c| c.place_order().account_id("1").send())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Failure(Failure::InvalidRequest(m)) if m == "no value supplied for body"
        ),
        "{err:?}"
    );
    assert_eq!(server.hits.get("GET", "/trade/quotes"), 0);
    let quote = session
        .call(|c| {
            c.get_quotes()
                .route_id(INFO)
                .tradable_instrument_id(EURUSD)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(quote.status, 200);
    assert_eq!(server.hits.get("GET", "/trade/quotes"), 1);
}
