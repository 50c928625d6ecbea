//! Money is exact on the wire and signs are never flipped: a 19-digit limit price reaches the
//! sandbox's order book unchanged; a quantity or price at or below zero is a typed error and
//! nothing is sent.

mod common;

use brokerkit_autoshares::orders::{OrderRequest, ReplaceRequest, Side, TimeInForce};
use brokerkit_autoshares::Error;
use brokerkit_autoshares::Failure;
use brokerkit_runtime::amount::Rule;
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[tokio::test]
async fn a_nineteen_digit_limit_price_reaches_the_order_book_unchanged() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let price = dec!(123.4567890123456789);
    let order = OrderRequest::limit("MSFT", Side::Buy, dec!(5), price)
        .time_in_force(TimeInForce::GoodTillCancel);
    session.place_order(TRADER_ACCOUNT, &order).await.unwrap();
    assert_eq!(server.order_amounts(), vec![(dec!(5), Some(price), None)]);
}

#[tokio::test]
async fn quantities_and_prices_at_or_below_zero_are_refused_before_sending() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let sent = server.hits.total();
    let cases = [
        (
            OrderRequest::market("AAPL", Side::Buy, dec!(-10)),
            "quantity",
            dec!(-10),
        ),
        (
            OrderRequest::market("AAPL", Side::Sell, Decimal::ZERO),
            "quantity",
            Decimal::ZERO,
        ),
        (
            OrderRequest::limit("AAPL", Side::Buy, dec!(1), dec!(-150)),
            "price",
            dec!(-150),
        ),
        (
            OrderRequest::stop("AAPL", Side::Sell, dec!(1), Decimal::ZERO),
            "stop_price",
            Decimal::ZERO,
        ),
    ];
    for (order, field, value) in cases {
        for e in [
            session
                .place_order(TRADER_ACCOUNT, &order)
                .await
                .unwrap_err(),
            session
                .preview_order(TRADER_ACCOUNT, &order)
                .await
                .unwrap_err(),
            session
                .submit_order(TRADER_ACCOUNT, &order)
                .await
                .unwrap_err(),
        ] {
            match e {
                Error::Failure(Failure::Amount(a)) => {
                    assert_eq!((a.field, a.value, a.rule), (field, value, Rule::Positive))
                }
                other => panic!("{field}: not an amount error: {other:?}"),
            }
        }
    }
    let change = ReplaceRequest {
        quantity: Some(dec!(-3)),
        ..Default::default()
    };
    match session
        .replace_order(TRADER_ACCOUNT, 1, &change)
        .await
        .unwrap_err()
    {
        Error::Failure(Failure::Amount(a)) => assert_eq!(a.field, "quantity"),
        other => panic!("not an amount error: {other:?}"),
    }
    assert_eq!(server.hits.total(), sent, "nothing reached the sandbox");
    assert!(server.order_amounts().is_empty());
}
