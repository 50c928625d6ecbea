//! A path parameter never changes the target: every hostile id reaches the intended route as
//! one segment holding exactly the id, or is refused with `Error::Path` before sending.

use brokerkit_mock::hostile;
use brokerkit_mock::tradelocker::{self as sandbox, Config};
use brokerkit_tradelocker::Failure;
use brokerkit_tradelocker::{orders, Credentials, Environment, Error, Session};
use rust_decimal::Decimal;
use std::str::FromStr;

const EURUSD: i64 = 278;
const TRADE: i64 = 948735;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A session with one working order and one open position on the selected account.
async fn trading() -> (sandbox::Server, Session, String) {
    let server = sandbox::start(Config::default()).await.unwrap();
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let session = Session::login(Environment::Custom(server.base_url()), &creds)
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    session
        .place_order(&orders::limit(
            EURUSD,
            TRADE,
            orders::Direction::Buy,
            d("1"),
            d("1.05"),
        ))
        .await
        .unwrap();
    session
        .place_order(&orders::market(
            EURUSD,
            TRADE,
            orders::Direction::Buy,
            d("0.5"),
        ))
        .await
        .unwrap();
    (server, session, account.id)
}

/// What one hostile id did, checked against the sandbox's record of raw request paths.
fn judge(
    server: &sandbox::Server,
    before: &std::collections::HashMap<String, usize>,
    id: &str,
    route: &str,
    result: Result<(), Error>,
) -> &'static str {
    let sent = hostile::new_requests(before, &server.hits.snapshot());
    let refused = match &result {
        Err(Error::Failure(Failure::Path(e))) => Some(e.refused().value()),
        _ => None,
    };
    hostile::judge(&sent, id, route, "", refused)
}

#[tokio::test]
async fn hostile_order_ids_never_cancel_other_orders() {
    let (server, session, account) = trading().await;
    let working = session.orders().await.unwrap();
    assert_eq!(working.len(), 1);
    for id in hostile::ids(&account) {
        let before = server.hits.snapshot();
        let result = session.cancel_order(&id).await;
        let outcome = judge(&server, &before, &id, "DELETE /trade/orders/", result);
        println!("tradelocker cancel_order {id:?}: {outcome}");
    }
    assert_eq!(
        session.orders().await.unwrap(),
        working,
        "no order was cancelled"
    );
    assert_eq!(session.positions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn hostile_position_ids_never_close_other_positions() {
    let (server, session, account) = trading().await;
    let open = session.positions().await.unwrap();
    assert_eq!(open.len(), 1);
    for id in hostile::ids(&account) {
        let before = server.hits.snapshot();
        let result = session.close_position(&id, None).await;
        let outcome = judge(&server, &before, &id, "DELETE /trade/positions/", result);
        println!("tradelocker close_position {id:?}: {outcome}");
    }
    assert_eq!(
        session.positions().await.unwrap(),
        open,
        "no position was closed"
    );
    assert_eq!(session.orders().await.unwrap().len(), 1);
}
