//! Money is exact on the wire and signs are never flipped: a 19-digit deposit (under the 10,000,000 maximum) reaches the
//! sandbox's ledger unchanged; a negative or zero amount is a typed error and nothing is sent.

mod common;

use brokerkit_runtime::amount::Rule;
use brokerkit_slate::Error;
use brokerkit_slate::Failure;
use common::*;
use rust_decimal::Decimal;
use std::str::FromStr;

#[tokio::test]
async fn a_nineteen_digit_deposit_reaches_the_ledger_unchanged() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let amount = Decimal::from_str("1234567.123456789012").unwrap();
    session.deposit(amount, Some("USD")).await.unwrap();
    assert_eq!(server.transaction_amounts(), vec![amount]);
}

#[tokio::test]
async fn negative_and_zero_amounts_are_refused_before_sending() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let sent = server.hits.total();
    for amount in [Decimal::NEGATIVE_ONE, Decimal::ZERO] {
        for e in [
            session.deposit(amount, Some("USD")).await.unwrap_err(),
            session
                .withdraw(amount, Default::default(), None)
                .await
                .unwrap_err(),
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
    assert!(server.transaction_amounts().is_empty());
}
