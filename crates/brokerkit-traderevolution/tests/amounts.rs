//! Money is exact on the wire and signs are never flipped: a 19-digit amount reaches the
//! sandbox's balance unchanged; a negative or zero amount is a typed error and nothing is sent.

use brokerkit_mock::traderevolution::{self as mock, Config};
use brokerkit_runtime::amount::Rule;
use brokerkit_traderevolution::Failure;
use brokerkit_traderevolution::{Error, Session};
use rust_decimal::Decimal;
use std::str::FromStr;

const ACCOUNT: i64 = 3_243_753;

async fn setup() -> (mock::Server, Session) {
    let server = mock::start(Config::default()).await.unwrap();
    let session = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    (server, session)
}

#[tokio::test]
async fn a_nineteen_digit_deposit_reaches_the_balance_unchanged() {
    let (server, session) = setup().await;
    let before = server.balance(ACCOUNT).unwrap();
    let amount = Decimal::from_str("1234567890.123456789").unwrap();
    session.deposit(ACCOUNT, amount, None).await.unwrap();
    assert_eq!(server.balance(ACCOUNT).unwrap() - before, amount);
    let small = Decimal::from_str("0.1234567890123456789").unwrap();
    session.withdraw(ACCOUNT, small, None).await.unwrap();
    assert_eq!(server.balance(ACCOUNT).unwrap() - before, amount - small);
}

#[tokio::test]
async fn negative_and_zero_amounts_are_refused_before_sending() {
    let (server, session) = setup().await;
    let before = server.balance(ACCOUNT);
    let sent = server.hits.total();
    for amount in [Decimal::NEGATIVE_ONE, Decimal::ZERO] {
        for e in [
            session.deposit(ACCOUNT, amount, None).await.unwrap_err(),
            session.withdraw(ACCOUNT, amount, None).await.unwrap_err(),
        ] {
            match e {
                Error::Failure(Failure::Amount(a)) => {
                    assert_eq!(
                        (a.field, a.value, a.rule),
                        ("amount", amount, Rule::Positive)
                    )
                }
                other => panic!("not an amount error: {other:?}"),
            }
        }
    }
    assert_eq!(server.hits.total(), sent, "nothing reached the sandbox");
    assert_eq!(server.balance(ACCOUNT), before);
}
