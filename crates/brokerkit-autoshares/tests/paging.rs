//! Paged lists as lazy streams, and the filter builder's escaping, against the sandbox.

mod common;

use brokerkit_autoshares::filter::{field, Filter, FilterError};
use brokerkit_autoshares::orders::{OrderRequest, Side};
use brokerkit_autoshares::{Error, ListQuery};
use common::*;
use futures::{StreamExt, TryStreamExt};
use rust_decimal_macros::dec;

#[tokio::test]
async fn orders_stream_across_several_pages_lazily() {
    let server = sandbox().await;
    let session = trader(&server).await;
    for i in 0..7 {
        // Resting limit orders (below the last price), distinct quantities.
        let order = OrderRequest::limit(
            "INTC",
            Side::Buy,
            dec!(1) + rust_decimal::Decimal::from(i),
            dec!(40),
        );
        session.place_order(TRADER_ACCOUNT, &order).await.unwrap();
    }
    let query = ListQuery::new().page_size(3).sort("Quantity", false);
    let all: Vec<_> = session
        .orders(TRADER_ACCOUNT, query.clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    let quantities: Vec<_> = all.iter().map(|o| o.quantity.unwrap()).collect();
    assert_eq!(
        quantities,
        (1..=7).map(rust_decimal::Decimal::from).collect::<Vec<_>>()
    );
    assert_eq!(
        server.hits.get("GET", "/v1.0/accounts/2001/orders"),
        3,
        "pages of 3, 3 and 1"
    );

    // Reading only two items fetches only the first page.
    let before = server.hits.get("GET", "/v1.0/accounts/2001/orders");
    let first_two: Vec<_> = session
        .orders(TRADER_ACCOUNT, query)
        .take(2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(
        server.hits.get("GET", "/v1.0/accounts/2001/orders") - before,
        1
    );
}

#[tokio::test]
async fn equities_positions_and_transactions_stream_too() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let equities: Vec<_> = session
        .equities(ListQuery::new().page_size(5))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(equities.len(), 12);
    assert_eq!(server.hits.get("GET", "/v1.0/equities"), 3);
    assert_eq!(
        equities[0].symbol.as_deref(),
        Some("AAPL"),
        "sorted by Symbol by default"
    );

    for sym in ["AAPL", "KO", "T"] {
        session
            .place_order(
                TRADER_ACCOUNT,
                &OrderRequest::market(sym, Side::Buy, dec!(2)),
            )
            .await
            .unwrap();
    }
    let positions: Vec<_> = session
        .positions(TRADER_ACCOUNT, ListQuery::new().page_size(2))
        .try_collect()
        .await
        .unwrap();
    let symbols: Vec<_> = positions.iter().filter_map(|p| p.symbol.clone()).collect();
    assert_eq!(symbols, ["AAPL", "KO", "T"]);
    assert_eq!(positions[1].quantity.map(|q| q.into_inner()), Some(dec!(2)));
    assert_eq!(
        positions[1].average_open_price.map(|q| q.into_inner()),
        Some(dec!(46.55))
    );

    // Each fill books an execution and a commission.
    let transactions: Vec<_> = session
        .transactions(TRADER_ACCOUNT, ListQuery::new().page_size(4))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(transactions.len(), 6);
    assert_eq!(
        server.hits.get("GET", "/v1.0/accounts/2001/transactions"),
        2
    );
}

#[tokio::test]
async fn filters_select_on_the_server_and_hostile_values_stay_literals() {
    let server = sandbox().await;
    let session = trader(&server).await;

    // A quote inside a value is escaped and matches the one company that has it.
    let query = ListQuery::new().filter(field("Description").eq("O'Reilly Automotive Inc."));
    let found: Vec<_> = session.equities(query).try_collect().await.unwrap();
    assert_eq!(
        found
            .iter()
            .filter_map(|e| e.symbol.clone())
            .collect::<Vec<_>>(),
        ["ORLY"]
    );

    // An injection attempt is one (non-matching) literal, not a second condition.
    let hostile = ListQuery::new().filter(field("Symbol").eq("NOPE' or Symbol = 'MSFT"));
    let found: Vec<_> = session.equities(hostile).try_collect().await.unwrap();
    assert!(
        found.is_empty(),
        "the filter was changed by its value: {found:?}"
    );

    // in, between and and together.
    let filter = Filter::new()
        .and(field("Exchange").is_in(["NYSE", "ARCA"]))
        .and(field("AllowShort").eq(true))
        .and(field("Id").between(6, 12));
    let found: Vec<_> = session
        .equities(ListQuery::new().filter(filter))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        found
            .iter()
            .filter_map(|e| e.symbol.clone())
            .collect::<Vec<_>>(),
        ["IBM", "KO", "ORCL", "SPY", "T"]
    );

    // Order status by ordinal (Filled = 2).
    session
        .place_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("KO", Side::Buy, dec!(1)),
        )
        .await
        .unwrap();
    session
        .place_order(
            TRADER_ACCOUNT,
            &OrderRequest::limit("KO", Side::Buy, dec!(1), dec!(10)),
        )
        .await
        .unwrap();
    let filled: Vec<_> = session
        .orders(
            TRADER_ACCOUNT,
            ListQuery::new().filter(
                Filter::new()
                    .and(field("Status").eq(2))
                    .and(field("Symbol").eq("KO")),
            ),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filled.len(), 1);
    assert_eq!(filled[0].status.as_deref(), Some("Filled"));
}

#[tokio::test]
async fn an_unsafe_filter_value_is_refused_before_sending() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let hits = server.hits.total();
    let query = ListQuery::new().filter(field("Symbol").eq("A\\' or 1=1"));
    let err = session
        .equities(query)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Filter(FilterError::UnsafeValue)),
        "{err:?}"
    );
    let err = session
        .equities(ListQuery::new().filter(field("Symbol) or (1").eq(1)))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Filter(FilterError::InvalidField(_))),
        "{err:?}"
    );
    assert_eq!(server.hits.total(), hits);
}

#[tokio::test]
async fn a_filter_the_server_cannot_use_is_a_bad_request() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let err = session
        .equities(ListQuery::new().filter(field("NoSuchField").eq(1)))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let Error::BadRequest { message, failure } = &err else {
        panic!("expected BadRequest, got {err:?}")
    };
    assert_eq!(
        message,
        "Filter query is invalid or contains unsupported operations."
    );
    assert_eq!(failure.status, 400);
}

#[tokio::test]
async fn price_alerts_created_through_the_generated_client_stream_back() {
    use brokerkit_autoshares::types;
    let server = sandbox().await;
    let session = trader(&server).await;
    for (i, price) in [dec!(160.5), dec!(170.25), dec!(180)]
        .into_iter()
        .enumerate()
    {
        let alert = types::PriceAlertEditableModel {
            operator: types::PriceAlertOperatorString::Gteq.into(),
            field: types::PriceAlertFieldString::Last.into(),
            expiration_date: 1_900_000_000 + i as i64,
            security_id: Some(1),
            argument: Some(price.into()),
            state: Some(types::PriceAlertStateString::New.into()),
        };
        let created = session
            .call(|c| c.create_price_alert().user_id("@me").body(alert).send())
            .await
            .unwrap();
        assert_eq!(created.symbol.as_deref(), Some("AAPL"));
    }
    let alerts: Vec<_> = session
        .price_alerts(ListQuery::new().page_size(2).sort("Argument", true))
        .try_collect()
        .await
        .unwrap();
    let prices: Vec<_> = alerts
        .iter()
        .map(|a| a.argument.unwrap().into_inner())
        .collect();
    assert_eq!(prices, [dec!(180), dec!(170.25), dec!(160.5)]);
    assert_eq!(server.hits.get("GET", "/v1.0/users/@me/pricealerts"), 2);
}

#[tokio::test]
async fn sync_orders_stream_the_same_orders_page_by_page() {
    let server = sandbox().await;
    let session = trader(&server).await;
    // Orders placed through either family are the account's orders.
    for qty in 1..=3 {
        session
            .place_order(
                TRADER_ACCOUNT,
                &OrderRequest::limit("KO", Side::Buy, rust_decimal::Decimal::from(qty), dec!(10)),
            )
            .await
            .unwrap();
    }
    let via_sync = session
        .call(|c| {
            c.place_sync_order()
                .account_id(TRADER_ACCOUNT)
                .body(OrderRequest::limit("T", Side::Buy, dec!(4), dec!(10)).to_resource())
                .send()
        })
        .await
        .unwrap();
    let query = ListQuery::new()
        .page_size(2)
        .sort("Quantity", true)
        .filter(field("Status").eq(0));
    let orders: Vec<_> = session
        .sync_orders(TRADER_ACCOUNT, query.clone())
        .try_collect()
        .await
        .unwrap();
    let quantities: Vec<_> = orders.iter().map(|o| o.quantity.unwrap()).collect();
    assert_eq!(quantities, [dec!(4), dec!(3), dec!(2), dec!(1)]);
    assert_eq!(orders[0].id, via_sync.id.unwrap());
    assert_eq!(
        server.hits.get("GET", "/v1.0/accounts/2001/syncorders"),
        2,
        "two full pages; the total says there is no third"
    );
    assert_eq!(server.hits.get("GET", "/v1.0/accounts/2001/orders"), 0);

    // Lazy: the first item costs one page.
    let first: Vec<_> = session
        .sync_orders(TRADER_ACCOUNT, query)
        .take(1)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(server.hits.get("GET", "/v1.0/accounts/2001/syncorders"), 3);

    // Another user's account is refused on the first page.
    let err = session
        .sync_orders(2002, ListQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn options_stream_filtered_by_underlying_type_and_strike() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let all: Vec<_> = session
        .options(ListQuery::new().page_size(5))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 16, "12 AAPL and 4 MSFT contracts");
    assert_eq!(server.hits.get("GET", "/v1.0/options"), 4, "5 + 5 + 5 + 1");
    assert!(
        all.windows(2).all(|w| w[0].symbol <= w[1].symbol),
        "sorted by Symbol by default"
    );

    // AAPL puts struck at 150 or above (OptionType ordinal: Call 0, Put 1).
    let filter = Filter::new()
        .and(field("UnderlyingAssetSymbol").eq("AAPL"))
        .and(field("OptionType").eq(1))
        .and(field("StrikePrice").ge(150));
    let puts: Vec<_> = session
        .options(ListQuery::new().filter(filter).sort("StrikePrice", true))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(puts.len(), 4, "two strikes, two expirations");
    assert!(puts.iter().all(|o| o
        .symbol
        .as_deref()
        .is_some_and(|s| s.starts_with("AAPL  ") && s.chars().nth(12) == Some('P'))));
    assert_eq!(
        puts[0].strike_price.map(|p| p.into_inner()),
        Some(dec!(160))
    );
    assert_eq!(
        puts[0].contract_size.map(|p| p.into_inner()),
        Some(dec!(100))
    );

    // The OSI symbol (with its spaces) finds the same contract.
    let osi = puts[0].symbol.clone().unwrap();
    let one = session
        .call(|c| c.get_option().id_or_symbol(osi).send())
        .await
        .unwrap()
        .value;
    assert_eq!(one.id, puts[0].id);
}
