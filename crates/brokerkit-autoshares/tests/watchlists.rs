//! Watchlists and price alerts against the sandbox.

mod common;

use brokerkit_autoshares::{types, Error};
use common::*;
use rust_decimal_macros::dec;

fn symbols(w: &types::WatchlistModel) -> Vec<String> {
    w.security_list
        .iter()
        .flatten()
        .filter_map(|s| s.symbol.clone())
        .collect()
}

#[tokio::test]
async fn a_watchlist_keeps_its_securities_in_order_and_its_name_unique() {
    let server = sandbox().await;
    let session = trader(&server).await;

    let create = |name: &str, ids: Vec<i32>| types::CreateWatchlistModel {
        name: Some(name.into()),
        securities: ids,
    };
    // Security 1 is AAPL, 2 MSFT, 10 KO.
    let list = session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(true)
                .body(create("Morning", vec![2, 1, 2]))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(symbols(&list), ["MSFT", "AAPL"], "duplicates dropped");
    let id = list.id.unwrap();

    let sig = |symbol: &str, exchange: Option<&str>| types::SecuritySignature {
        symbol: Some(symbol.into()),
        exchange: exchange.map(Into::into),
        currency: None,
    };
    let by_symbol = session
        .call(|c| {
            c.add_security_to_watchlist_by_symbol()
                .user_id("@me")
                .watchlist_id(id)
                .body(sig("ko", Some("NYSE")))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(symbols(&by_symbol), ["MSFT", "AAPL", "KO"]);
    // The wrong exchange names no security.
    let err = session
        .call(|c| {
            c.add_security_to_watchlist_by_symbol()
                .user_id("@me")
                .watchlist_id(id)
                .body(sig("KO", Some("NSDQ")))
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let removed = session
        .call(|c| {
            c.remove_security_from_watchlist_by_id()
                .user_id("@me")
                .watchlist_id(id)
                .security_id(2)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(symbols(&removed), ["AAPL", "KO"]);

    // Without securities on request.
    let bare = session
        .call(|c| {
            c.get_watchlist()
                .user_id("@me")
                .watchlist_id(id)
                .include_securities(false)
                .send()
        })
        .await
        .unwrap();
    assert!(bare.security_list.is_none());
    assert_eq!(
        bare.type_,
        Some(types::WatchlistTypeString::UserList.into())
    );

    // A second list cannot take the first one's name, by creation or by renaming.
    let err = session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(true)
                .body(create("MORNING", vec![]))
                .send()
        })
        .await
        .unwrap_err();
    let Error::Conflict { failure, .. } = &err else {
        panic!("expected Conflict, got {err:?}")
    };
    let existing: types::WatchlistModel = serde_json::from_slice(&failure.body).unwrap();
    assert_eq!(existing.id, Some(id), "409 answers the existing watchlist");
    let evening = session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(false)
                .body(create("Evening", vec![]))
                .send()
        })
        .await
        .unwrap();
    let err = session
        .call(|c| {
            c.rename_watchlist()
                .user_id("@me")
                .watchlist_id(evening.id.unwrap())
                .name("morning")
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    let all = session
        .call(|c| {
            c.get_watchlists()
                .user_id("@me")
                .include_securities(true)
                .send()
        })
        .await
        .unwrap();
    let names: Vec<_> = all.iter().filter_map(|w| w.name.as_deref()).collect();
    assert_eq!(names, ["Morning", "Evening"]);

    // Another user's lists are not ours to read.
    let err = session
        .call(|c| {
            c.get_watchlists()
                .user_id("1046")
                .include_securities(true)
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn a_price_alert_is_changed_and_deleted() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let body = types::PriceAlertEditableModel {
        operator: types::PriceAlertOperatorString::Lteq.into(),
        field: types::PriceAlertFieldString::Bid.into(),
        expiration_date: 1_900_000_000,
        security_id: Some(6),
        argument: Some(dec!(99.5).into()),
        state: None,
    };
    let alert = session
        .call(|c| {
            c.create_price_alert()
                .user_id("@me")
                .body(body.clone())
                .send()
        })
        .await
        .unwrap();
    assert_eq!(alert.symbol.as_deref(), Some("IBM"));
    assert_eq!(alert.state, Some(types::PriceAlertStateString::New.into()));
    let id = alert.id.unwrap();

    let mut change = body;
    change.argument = Some(dec!(101).into());
    change.state = Some(types::PriceAlertStateString::Stopped.into());
    let changed = session
        .call(|c| {
            c.modify_price_alert()
                .user_id("@me")
                .alert_id(id)
                .body(change)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(changed.argument.map(|a| a.into_inner()), Some(dec!(101)));
    assert_eq!(
        changed.state,
        Some(types::PriceAlertStateString::Stopped.into())
    );
    let read = session
        .call(|c| c.get_price_alert().user_id("@me").alert_id(id).send())
        .await
        .unwrap();
    assert_eq!(read.value, changed.value);

    session
        .call(|c| c.delete_price_alert().user_id("@me").alert_id(id).send())
        .await
        .unwrap();
    let err = session
        .call(|c| c.get_price_alert().user_id("@me").alert_id(id).send())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadRequest { .. }), "{err:?}");
}
