//! TradeLocker paces itself to the limits its server publishes, and retries only what the
//! operations table calls safe to repeat: against the sandbox over loopback, with the sandbox
//! holding every account to its published limits.

use brokerkit_mock::tradelocker::{self as sandbox, Config, Measure};
use brokerkit_mock::Fault;
use brokerkit_runtime::call::Retry;
use brokerkit_runtime::{ClientConfig, Limit, RateLimits};
use brokerkit_tradelocker::{orders, Credentials, Environment, Error, Session, SessionBuilder};
use brokerkit_tradelocker::{BrokerError, Failure};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;

/// A sandbox publishing `QUOTES` at `per_second` a second and enforcing every limit, and a
/// session on its first account.
async fn enforcing(
    per_second: u32,
    configure: impl FnOnce(SessionBuilder) -> SessionBuilder,
) -> (sandbox::Server, Session, String) {
    let config = Config::default()
        .rate_limit("QUOTES", Measure::Seconds, 1, per_second)
        .enforcing_rate_limits();
    let server = sandbox::start(config).await.unwrap();
    let builder = Session::builder(Environment::Custom(server.base_url()));
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

async fn fifty_concurrent_quotes(session: &Session) -> Vec<Result<(), Error>> {
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.quote(EURUSD, INFO).await.map(drop) })
        })
        .collect();
    let mut out = Vec::new();
    for c in calls {
        out.push(c.await.unwrap());
    }
    out
}

#[tokio::test]
async fn fifty_rapid_quotes_stay_under_the_published_limit() {
    let (server, session, _) = enforcing(20, |b| b).await;
    let started = Instant::now();
    let results = fifty_concurrent_quotes(&session).await;
    let elapsed = started.elapsed();
    println!("50 quotes at 20 a second: {elapsed:?}");

    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(server.rate_limited(), 0, "the sandbox sent no 429");
    assert_eq!(
        server.hits.get("GET", "/trade/quotes"),
        50,
        "each quote sent once: no 429 reached the client's retries either"
    );
    assert_eq!(
        session.rate_limits().get("QUOTES"),
        Limit::per_second(20),
        "the limit came from /trade/config"
    );
    // 20 a second: requests 21–40 cannot start before 1 s, 41–50 before 2 s.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    // The pace is one every 50 ms plus 5 % headroom: about 2.6 s for 49 gaps.
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
}

#[tokio::test]
async fn without_pacing_the_same_quotes_are_refused_by_the_sandbox() {
    // What the test above guards against: the sandbox does enforce its limits.
    let (server, session, _) = enforcing(20, |b| {
        b.config(
            ClientConfig::default()
                .rate_limits(RateLimits::off())
                .retry(Retry::off()),
        )
    })
    .await;
    let results = fifty_concurrent_quotes(&session).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Failure(Failure::RateLimited { rate_limit, .. })) if rate_limit.retry_after.is_some()))
        .count();
    assert!(refused > 0, "{results:?}");
    assert_eq!(server.rate_limited(), refused);
    assert_eq!(results.len() - refused, 20, "the window admits 20");
}

#[tokio::test]
async fn a_429_with_retry_after_1_succeeds_about_a_second_later() {
    // Pacing off, so the sandbox itself answers the second quote 429 with `Retry-After: 1`.
    let (server, session, _) = enforcing(1, |b| {
        b.config(ClientConfig::default().rate_limits(RateLimits::off()))
    })
    .await;
    session.quote(EURUSD, INFO).await.unwrap();
    let started = Instant::now();
    session.quote(EURUSD, INFO).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(server.rate_limited(), 1, "refused once");
    assert_eq!(server.hits.get("GET", "/trade/quotes"), 3);
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
}

#[tokio::test]
async fn a_post_under_503_reaches_the_sandbox_exactly_once() {
    let (server, session, account) = enforcing(20, |b| b).await;
    let path = format!("/trade/accounts/{account}/orders");
    server
        .faults
        .inject_times("POST", &path, Fault::ServerError(503), 1);
    let order = orders::market(EURUSD, TRADE, orders::Direction::Buy, Decimal::new(1, 2));
    let err = session.place_order(&order).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(server.hits.get("POST", &path), 1);
    assert!(session.positions().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delete_the_spec_calls_unsafe_is_not_retried_on_503_while_a_get_and_a_safe_delete_are() {
    let table = |id| brokerkit_tradelocker::operation(id).unwrap();
    assert!(!table("close_all_positions").idempotent);
    assert!(table("cancel_order").idempotent);
    assert_eq!(table("get_quotes").rate_class, Some("QUOTES"));

    let (server, session, account) = enforcing(20, |b| b).await;
    let positions = format!("/trade/accounts/{account}/positions");
    let order = orders::market(EURUSD, TRADE, orders::Direction::Buy, Decimal::new(1, 2));
    session.place_order(&order).await.unwrap();

    server
        .faults
        .inject_times("DELETE", &positions, Fault::ServerError(503), 1);
    let err = session.close_all_positions().await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(server.hits.get("DELETE", &positions), 1, "sent once");

    server
        .faults
        .inject_times("GET", &positions, Fault::ServerError(503), 1);
    assert_eq!(session.positions().await.unwrap().len(), 1, "still open");
    assert_eq!(server.hits.get("GET", &positions), 2, "retried once");

    let limit = orders::limit(
        EURUSD,
        TRADE,
        orders::Direction::Buy,
        Decimal::new(1, 2),
        Decimal::new(100, 2),
    );
    let id = session.place_order(&limit).await.unwrap();
    let cancel = format!("/trade/orders/{id}");
    server
        .faults
        .inject_times("DELETE", &cancel, Fault::ServerError(503), 1);
    session.cancel_order(&id).await.unwrap();
    assert_eq!(
        server.hits.get("DELETE", &cancel),
        2,
        "a cancel is repeated"
    );
    assert!(session.orders().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_call_before_an_account_is_chosen_does_not_keep_the_session_unpaced() {
    let server = sandbox::start(Config::default().rate_limit("QUOTES", Measure::Seconds, 1, 7))
        .await
        .unwrap();
    let session = Session::login(
        Environment::Custom(server.base_url()),
        &Credentials::new("trader@example.com", "demo-password", "OSP-DEMO"),
    )
    .await
    .unwrap();
    assert!(session.quote(EURUSD, INFO).await.is_err(), "no account yet");
    assert_eq!(session.rate_limits().get("QUOTES"), None);
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    session.quote(EURUSD, INFO).await.unwrap();
    assert_eq!(session.rate_limits().get("QUOTES"), Limit::per_second(7));
    assert_eq!(server.hits.get("GET", "/trade/config"), 1);
}

/// Issue 13.2: `/trade/config` publishes every route name of the reference (§4), each with its
/// interval, and an enforcing sandbox holds routes other than quotes to theirs too.
#[tokio::test]
async fn config_publishes_all_eighteen_route_limits_and_each_is_enforced() {
    let config = Config::default()
        .rate_limit("GET_POSITIONS", Measure::Minutes, 1, 2)
        .enforcing_rate_limits();
    let server = sandbox::start(config).await.unwrap();
    let credentials = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let login = |client_config: ClientConfig| {
        Session::builder(Environment::Custom(server.base_url()))
            .config(client_config)
            .login(&credentials)
    };
    let session = login(ClientConfig::default()).await.unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    let published = session.config().await.unwrap();
    let mut names: Vec<String> = published
        .rate_limits
        .iter()
        .map(|r| serde_json::to_value(&r.rate_limit_type).unwrap())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut wanted: Vec<String> = sandbox::RATE_LIMIT_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    wanted.sort();
    assert_eq!(names, wanted, "the 18 names of the reference");
    assert!(published.rate_limits.iter().all(|r| r.interval_num >= 1));
    assert_eq!(
        session.rate_limits().get("GET_POSITIONS"),
        Limit::per_minute(2),
        "the minute interval is read as published"
    );

    // Two positions reads a minute: a session that does not pace gets a 429 for the third.
    let unpaced = login(
        ClientConfig::default()
            .rate_limits(RateLimits::off())
            .retry(Retry::off()),
    )
    .await
    .unwrap();
    unpaced.select_account(&account);
    unpaced.positions().await.unwrap();
    unpaced.positions().await.unwrap();
    let third = unpaced.positions().await.unwrap_err();
    assert_eq!(third.status(), Some(429), "{third:?}");
    assert_eq!(server.rate_limited(), 1);
}
