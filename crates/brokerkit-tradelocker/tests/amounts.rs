//! Money is exact on the wire and signs are never flipped: a 19-digit limit price reaches the
//! sandbox's order book unchanged; a quantity or price at or below zero is a typed error and
//! nothing is sent.

use brokerkit_mock::tradelocker::{self as sandbox, Config};
use brokerkit_runtime::amount::Rule;
use brokerkit_tradelocker::Failure;
use brokerkit_tradelocker::{orders, Credentials, Environment, Error, Session};
use rust_decimal::Decimal;
use std::str::FromStr;

const EURUSD: i64 = 278;
const TRADE: i64 = 948735;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

async fn logged_in() -> (sandbox::Server, Session) {
    let server = sandbox::start(Config::default()).await.unwrap();
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let session = Session::login(Environment::Custom(server.base_url()), &creds)
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    (server, session)
}

#[tokio::test]
async fn a_nineteen_digit_limit_price_reaches_the_order_book_unchanged() {
    let (server, session) = logged_in().await;
    let price = d("0.1234567890123456789");
    let order = orders::limit(EURUSD, TRADE, orders::Direction::Buy, d("0.62"), price);
    session.place_order(&order).await.unwrap();
    assert_eq!(server.order_amounts(), vec![(d("0.62"), Some(price))]);
}

#[tokio::test]
async fn quantities_and_prices_at_or_below_zero_are_refused_before_sending() {
    let (server, session) = logged_in().await;
    let sent = server.hits.total();
    let buy = orders::Direction::Buy;
    let cases = [
        (
            orders::market(EURUSD, TRADE, buy, d("-0.62")),
            "qty",
            d("-0.62"),
        ),
        (
            orders::market(EURUSD, TRADE, buy, Decimal::ZERO),
            "qty",
            Decimal::ZERO,
        ),
        (
            orders::limit(EURUSD, TRADE, buy, d("0.62"), d("-1.08")),
            "price",
            d("-1.08"),
        ),
        (
            orders::stop(EURUSD, TRADE, buy, d("0.62"), Decimal::ZERO),
            "stopPrice",
            Decimal::ZERO,
        ),
    ];
    for (order, field, value) in cases {
        match session.place_order(&order).await.unwrap_err() {
            Error::Failure(Failure::Amount(a)) => {
                assert_eq!((a.field, a.value, a.rule), (field, value, Rule::Positive))
            }
            other => panic!("{field}: not an amount error: {other:?}"),
        }
    }
    match session
        .close_position("1", Some(d("-1")))
        .await
        .unwrap_err()
    {
        Error::Failure(Failure::Amount(a)) => assert_eq!(a.field, "qty"),
        other => panic!("not an amount error: {other:?}"),
    }
    assert_eq!(server.hits.total(), sent, "nothing reached the sandbox");
    assert!(server.order_amounts().is_empty());
}
