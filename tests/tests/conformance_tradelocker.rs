//! The TradeLocker sandbox cannot drift from `specs/tradelocker.yaml`: every operation is
//! exercised (successes, rejections and HTTP errors) and every answer is validated against
//! the schema the spec documents for its status.

mod support;

use brokerkit_mock::tradelocker as sandbox;
use brokerkit_tradelocker::{orders, types, Credentials, Environment, Session};
use rust_decimal::Decimal;

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;

#[tokio::test]
async fn every_sandbox_answer_matches_the_spec() {
    let spec = support::Spec::load("tradelocker");
    let server = sandbox::start(Default::default()).await.unwrap();
    server.recorder.start();
    let base = server.base_url();
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");

    // Errors first: wrong login, calls without a token or account.
    let bad = Credentials::new("trader@example.com", "nope", "OSP-DEMO");
    assert!(Session::login(Environment::Custom(base.clone()), &bad)
        .await
        .is_err());
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let unauth = http
        .get(format!("{base}/auth/jwt/all-accounts"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);

    let session = Session::login(Environment::Custom(base.clone()), &creds)
        .await
        .unwrap();
    let accounts = session.accounts().await.unwrap();
    session.select_account(&accounts[0]);
    let c = session.client();

    session.config().await.unwrap();
    c.get_accounts().send().await.unwrap();
    session.account_state().await.unwrap();
    session.instruments().await.unwrap();
    session.instrument_details(EURUSD, INFO).await.unwrap();
    c.get_session_details().session_id(1).send().await.unwrap();
    c.get_session_status()
        .session_status_id(2)
        .send()
        .await
        .unwrap();
    session.quote(EURUSD, INFO).await.unwrap();
    c.get_daily_bar()
        .tradable_instrument_id(EURUSD)
        .route_id(INFO)
        .bar_type(types::BarTypeString::Ask)
        .send()
        .await
        .unwrap();
    c.get_depth()
        .tradable_instrument_id(EURUSD)
        .route_id(INFO)
        .send()
        .await
        .unwrap();
    let hour = types::Resolution::SubMonthResolution(types::SubMonthResolutionString::X1h.into());
    session
        .history(
            EURUSD,
            INFO,
            hour.clone(),
            1_700_000_000_000,
            1_700_036_000_000,
        )
        .await
        .unwrap();
    session
        .history(EURUSD, INFO, hour, 1_700_000_000_000, 1_700_000_000_000)
        .await
        .unwrap(); // no_data

    let qty = Decimal::new(5, 2);
    session
        .place_order(&orders::market(EURUSD, TRADE, orders::Direction::Buy, qty))
        .await
        .unwrap();
    assert!(session
        .place_order(&orders::market(
            EURUSD,
            TRADE,
            orders::Direction::Buy,
            Decimal::new(1, 3)
        ))
        .await
        .is_err());
    let limit = session
        .place_order(&orders::limit(
            EURUSD,
            TRADE,
            orders::Direction::Sell,
            qty,
            Decimal::new(12, 1),
        ))
        .await
        .unwrap();
    session.orders().await.unwrap();
    session
        .modify_order(
            &limit,
            &types::ModifyOrderRequest {
                price: Some(Decimal::new(13, 1).into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    session.cancel_order(&limit).await.unwrap();
    assert!(
        session.cancel_order(&limit).await.is_err(),
        "second cancel is an in-band rejection"
    );
    session
        .place_order(&orders::limit(
            EURUSD,
            TRADE,
            orders::Direction::Sell,
            qty,
            Decimal::new(12, 1),
        ))
        .await
        .unwrap();
    session.cancel_all_orders().await.unwrap();
    let position = session.positions().await.unwrap().remove(0);
    session
        .modify_position(
            &position.id,
            &types::ModifyPositionRequest {
                take_profit: Some(Decimal::new(12, 1).into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    session
        .close_position(&position.id, Some(Decimal::new(2, 2)))
        .await
        .unwrap();
    session.close_all_positions().await.unwrap();
    session.orders_history(None, None).await.unwrap();
    session.executions().await.unwrap();
    session.refresh().await.unwrap();
    c.get_stream_account_tokens()
        .body(types::JwtCredentials {
            email: creds.email.clone(),
            password: creds.password.clone(),
            server: creds.server.clone(),
        })
        .send()
        .await
        .unwrap();
    // A wrong account id in the path.
    assert!(c.get_positions().account_id("1").send().await.is_err());

    let covered = spec.check_all(&server.recorder.take());
    let missing: Vec<_> = spec.operation_ids().difference(&covered).cloned().collect();
    assert!(
        missing.is_empty(),
        "operations never exercised: {missing:?}"
    );
}
