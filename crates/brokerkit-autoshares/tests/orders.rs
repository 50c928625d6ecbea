//! Orders over real HTTP: verify, place, replace, cancel, and rejections that arrive as 200.

mod common;

use brokerkit_autoshares::orders::{OrderRequest, ReplaceRequest, Side, TimeInForce};
use brokerkit_autoshares::{types, Error};
use brokerkit_autoshares::{BrokerError, Failure};
use common::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[tokio::test]
async fn verify_then_place_a_market_order_that_fills() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let order = OrderRequest::market("AAPL", Side::Buy, dec!(10));
    let preview = session.preview_order(TRADER_ACCOUNT, &order).await.unwrap();
    // AAPL last 150.30 × 10, commission 4.95, exactly.
    assert_eq!(preview.cost, Some(dec!(1503)));
    assert_eq!(preview.commission, Some(dec!(4.95)));
    assert_eq!(preview.total_cost, Some(dec!(1507.95)));
    assert_eq!(
        preview.commissions.get("Per Trade Commission"),
        Some(&dec!(4.95))
    );

    let (_, placed) = session.submit_order(TRADER_ACCOUNT, &order).await.unwrap();
    assert_eq!(placed.status.as_deref(), Some("Filled"));
    assert_eq!(placed.executed_quantity, Some(dec!(10)));
    assert_eq!(placed.average_price, Some(dec!(150.3)));
    assert_eq!(server.position(TRADER_ACCOUNT, "AAPL"), dec!(10));
    assert_eq!(
        server.cash(TRADER_ACCOUNT),
        Some(dec!(100000) - dec!(1503) - dec!(4.95))
    );

    // Read back through the API: the balance is exact too.
    let balance = session.balance(TRADER_ACCOUNT).await.unwrap();
    assert_eq!(balance.cash.map(|d| d.into_inner()), Some(dec!(98492.05)));
    let again = session.order(TRADER_ACCOUNT, placed.id).await.unwrap();
    assert_eq!(again, placed);
}

#[tokio::test]
async fn a_resting_limit_order_is_replaced_then_cancelled() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let order = OrderRequest::limit("MSFT", Side::Buy, dec!(5), dec!(190.5))
        .time_in_force(TimeInForce::GoodTillCancel);
    let (_, placed) = session.submit_order(TRADER_ACCOUNT, &order).await.unwrap();
    assert_eq!(
        placed.status.as_deref(),
        Some("New"),
        "below the last price (204.70) it rests"
    );
    assert!(placed.is_working());
    assert_eq!(placed.leaves_quantity, Some(dec!(5)));

    let change = ReplaceRequest {
        price: Some(dec!(191.25)),
        quantity: Some(dec!(7)),
        ..Default::default()
    };
    let preview = session
        .preview_replace(TRADER_ACCOUNT, placed.id, &change)
        .await
        .unwrap();
    assert_eq!(preview.order_id, Some(placed.id));
    assert_eq!(preview.cost, Some(dec!(1338.75)));
    let replaced = session
        .replace_order(TRADER_ACCOUNT, placed.id, &change)
        .await
        .unwrap();
    assert_ne!(replaced.id, placed.id);
    assert_eq!(replaced.price, Some(dec!(191.25)));
    assert_eq!(replaced.quantity, Some(dec!(7)));
    assert_eq!(server.order_status(placed.id).as_deref(), Some("Replaced"));

    session
        .cancel_order(TRADER_ACCOUNT, replaced.id)
        .await
        .unwrap();
    assert_eq!(
        session
            .order(TRADER_ACCOUNT, replaced.id)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("Canceled")
    );

    // Cancelling again: the platform refuses with 409, typed.
    let err = session
        .cancel_order(TRADER_ACCOUNT, replaced.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { message: Some(m), .. } if m.contains("cancel")),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(409));
}

#[tokio::test]
async fn a_resting_order_fills_when_the_price_comes() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let (_, placed) = session
        .submit_order(
            TRADER_ACCOUNT,
            &OrderRequest::limit("IBM", Side::Buy, dec!(3), dec!(120)),
        )
        .await
        .unwrap();
    assert_eq!(placed.status.as_deref(), Some("New"));
    server.set_last_price("IBM", dec!(119.99));
    let now = session.order(TRADER_ACCOUNT, placed.id).await.unwrap();
    assert_eq!(now.status.as_deref(), Some("Filled"));
    assert_eq!(now.average_price, Some(dec!(119.99)));
}

#[tokio::test]
async fn a_business_rejection_at_http_200_is_an_error_and_nothing_is_placed() {
    let server = sandbox().await;
    let session = trader(&server).await;
    // 1,000 AMZN at 3,058.00 is far beyond the 100,000 of cash.
    let order = OrderRequest::market("AMZN", Side::Buy, dec!(1000));
    let err = session
        .submit_order(TRADER_ACCOUNT, &order)
        .await
        .unwrap_err();
    let Error::Rejected(r) = &err else {
        panic!("expected Rejected, got {err:?}")
    };
    assert_eq!(r.code, "DayTradingBuyingPowerExceeded");
    assert_eq!(r.text.as_deref(), Some("Day trading buying power exceeded"));
    assert_eq!(r.args, vec!["3058004.95".to_string(), "100000".to_string()]);
    assert_eq!(r.status, 200);
    assert_eq!(err.status(), Some(200));
    assert_eq!(
        server.order_count(),
        0,
        "a refused verification places nothing"
    );

    // Selling what the account does not hold.
    let err = session
        .preview_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("TSLA", Side::Sell, dec!(1)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected(r) if r.code == "InsufficientShares"),
        "{err:?}"
    );

    // A limit order without a usable price never leaves the client (tests/amounts.rs).
    let err = session
        .preview_order(
            TRADER_ACCOUNT,
            &OrderRequest::limit("KO", Side::Buy, dec!(1), Decimal::ZERO),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Failure(Failure::Amount(a)) if a.field == "price"),
        "{err:?}"
    );
}

#[tokio::test]
async fn placing_without_verification_reports_the_refusal_in_the_order_status() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let placed = session
        .place_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("NOPE", Side::Buy, dec!(1)),
        )
        .await
        .unwrap();
    assert_eq!(placed.status.as_deref(), Some("Rejected"));
    assert_eq!(placed.description.as_deref(), Some("SymbolNotFound"));
    assert!(!placed.is_working());
}

#[tokio::test]
async fn a_replacement_of_a_filled_order_is_rejected_at_200_and_refused_with_409() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let (_, filled) = session
        .submit_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("KO", Side::Buy, dec!(2)),
        )
        .await
        .unwrap();
    let change = ReplaceRequest {
        price: Some(dec!(40)),
        ..Default::default()
    };
    let err = session
        .preview_replace(TRADER_ACCOUNT, filled.id, &change)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected(r) if r.code == "OrderIsNotWorking" && r.args == ["Filled"]),
        "{err:?}"
    );
    let err = session
        .replace_order(TRADER_ACCOUNT, filled.id, &change)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    // Not a valid order id: refused before sending.
    let err = session
        .replace_order(TRADER_ACCOUNT, 0, &change)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::InvalidRequest(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_malformed_order_body_is_a_validation_error_with_its_fields() {
    let server = sandbox().await;
    let session = trader(&server).await;
    // Through the generated client: an order without symbol and side.
    let body = types::CreateOrderResource {
        quantity: Some(dec!(1).into()),
        ..Default::default()
    };
    let err = session
        .call(|c| {
            c.preview_order()
                .account_id(TRADER_ACCOUNT)
                .body(body)
                .send()
        })
        .await
        .unwrap_err();
    let Error::Validation {
        fields, failure, ..
    } = &err
    else {
        panic!("expected Validation, got {err:?}")
    };
    assert_eq!(failure.status, 422);
    assert_eq!(
        fields["placeParams.Symbol"],
        vec!["The Symbol field is required.".to_string()]
    );
    assert!(fields.contains_key("placeParams.Side"));
    assert!(!fields.contains_key("placeParams.Quantity"));
}

#[tokio::test]
async fn unknown_enumeration_values_do_not_fail_a_response() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let (_, placed) = session
        .submit_order(
            TRADER_ACCOUNT,
            &OrderRequest::limit("KO", Side::Buy, dec!(1), dec!(10)),
        )
        .await
        .unwrap();
    // A newer server sends values this client has never heard of.
    let body = serde_json::json!({
        "Id": placed.id, "AccountId": TRADER_ACCOUNT, "Symbol": "KO", "Side": "BuyToOpen", "Type": "Iceberg",
        "Status": "Quarantined", "ExecutionStatus": "Quarantined", "TimeInForce": "GoodTillMoon",
        "SecurityType": "SpaceBond", "ExecInst": 65536, "Quantity": "1.5", "Price": 10.25
    });
    server.faults.inject_times(
        "GET",
        &format!("/v1.0/accounts/{TRADER_ACCOUNT}/orders/{}", placed.id),
        brokerkit_mock::Fault::Respond {
            status: 200,
            body: body.to_string(),
        },
        1,
    );
    let order = session.order(TRADER_ACCOUNT, placed.id).await.unwrap();
    assert_eq!(order.status.as_deref(), Some("Quarantined"));
    assert_eq!(order.side.as_deref(), Some("BuyToOpen"));
    assert_eq!(order.order_type.as_deref(), Some("Iceberg"));
    assert_eq!(
        order.quantity,
        Some(dec!(1.5)),
        "a decimal sent as a string reads exactly"
    );
    assert_eq!(order.price, Some(dec!(10.25)));
    assert!(!order.is_working());
}
