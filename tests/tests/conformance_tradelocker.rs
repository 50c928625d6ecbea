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
    let hour = brokerkit_tradelocker::Resolution::Hour;
    session
        .history(EURUSD, INFO, hour, 1_700_000_000_000, 1_700_036_000_000)
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

/// The spec audit of issue 13: the login/refresh 200 has no source beyond a docs example that
/// accepts any 2xx, so it is flagged; the optional `developer-api-key` is declared on every
/// operation but the stream-token exchange, which must not get it (reference §1.2, §2).
#[test]
fn the_audited_facts_are_declared_as_the_reference_has_them() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/tradelocker.yaml");
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for route in ["/auth/jwt/token", "/auth/jwt/refresh"] {
        let responses = &doc["paths"][route]["post"]["responses"];
        assert_eq!(responses["200"]["x-unverified"], true, "{route} 200");
        assert!(
            responses["201"].get("x-unverified").is_none(),
            "{route} 201 is documented"
        );
    }
    let key = "#/components/parameters/DeveloperApiKey";
    assert_eq!(
        doc["components"]["parameters"]["DeveloperApiKey"]["required"],
        false
    );
    for (route, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let declared = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["$ref"] == key));
            let wanted = route != "/auth/jwt/accounts/tokens";
            assert_eq!(declared, wanted, "{method} {route}");
        }
    }
    let status = &doc["components"]["schemas"]["SessionStatus"]["properties"];
    for (field, n) in [("allowedOperations", 3), ("allowedOrderTypes", 6)] {
        assert_eq!(status[field]["minItems"], n);
        assert_eq!(status[field]["maxItems"], n);
    }
}
