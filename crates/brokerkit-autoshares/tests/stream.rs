//! The streamers end to end against the sandbox's websockets, over loopback: quotes that move,
//! trades and depth; a REST order arriving as order, position and balance events in that order;
//! unsubscribe; a forced drop recovered with the resynced state equal to REST's; a refused
//! session; watchlists and price alerts; a slow consumer that lags instead of growing.

mod common;

use brokerkit_autoshares::orders::{OrderRequest, Side};
use brokerkit_autoshares::stream::{
    balance_items, EntityType, ResyncReason, StreamError, StreamerEvent, StreamerStream,
};
use brokerkit_autoshares::{types, ListQuery};
use brokerkit_mock::Fault;
use common::*;
use futures::StreamExt;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::BTreeMap;
use std::time::Duration;

const AAPL: &str = "1";
const RECOVER: &str = "/v1.0/streamers/session/recover";

async fn next(s: &mut StreamerStream) -> StreamerEvent {
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("no streamer event within 10 s")
        .expect("the stream ended")
        .expect("the stream failed")
}

/// Events up to and including the `n`th `Subscribed`.
async fn until_subscribed(s: &mut StreamerStream, n: usize) -> Vec<StreamerEvent> {
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < n {
        let e = next(s).await;
        if matches!(e, StreamerEvent::Subscribed { .. }) {
            seen += 1;
        }
        out.push(e);
    }
    out
}

/// The account as the data stream tells it: position quantities by symbol, order statuses by
/// id, cash. A `Resync` clears it.
#[derive(Default, Debug, PartialEq)]
struct View {
    positions: BTreeMap<String, Decimal>,
    orders: BTreeMap<String, String>,
    cash: Option<Decimal>,
}

impl View {
    fn apply(&mut self, e: &StreamerEvent) {
        match e {
            StreamerEvent::Resync { .. } => *self = View::default(),
            StreamerEvent::Position(p) => {
                let qty = p.quantity.unwrap().0;
                let symbol = p.symbol.clone().unwrap();
                if qty.is_zero() {
                    self.positions.remove(&symbol);
                } else {
                    self.positions.insert(symbol, qty);
                }
            }
            StreamerEvent::Order(o) => {
                self.orders.insert(o.id.clone(), o.status.clone().unwrap());
            }
            StreamerEvent::Balance(b) => self.cash = b.cash_balance.map(|c| c.0),
            _ => {}
        }
    }

    async fn from_rest(server: &brokerkit_mock::autoshares::Server) -> View {
        let session = trader(server).await;
        let positions: Vec<types::PositionResource> = session
            .positions(TRADER_ACCOUNT, ListQuery::new())
            .map(|p| p.unwrap())
            .collect()
            .await;
        let orders: Vec<_> = session
            .orders(TRADER_ACCOUNT, ListQuery::new())
            .map(|o| o.unwrap())
            .collect()
            .await;
        View {
            positions: positions
                .into_iter()
                .map(|p| (p.symbol.unwrap(), p.quantity.unwrap().0))
                .collect(),
            orders: orders
                .into_iter()
                .map(|o| (o.id.to_string(), o.status.unwrap()))
                .collect(),
            cash: server.cash(TRADER_ACCOUNT),
        }
    }
}

fn account() -> [String; 1] {
    [TRADER_ACCOUNT.to_string()]
}

#[tokio::test]
async fn quotes_arrive_first_as_the_current_quote_then_moving() {
    let server = sandbox().await;
    server
        .streamers
        .set_quote_interval(Duration::from_millis(5));
    let session = trader(&server).await;
    let mut s = session
        .quote_stream()
        .subscribe(EntityType::Quote, [AAPL])
        .subscribe(EntityType::Trade, [AAPL])
        .subscribe(EntityType::Level2, [AAPL])
        .connect()
        .await
        .unwrap();
    let StreamerEvent::Quote(first) = next(&mut s).await else {
        panic!("the current quote comes first")
    };
    assert_eq!(first.key, AAPL);
    assert!(first.bid.unwrap().0 < first.ask.unwrap().0);
    assert_eq!(
        next(&mut s).await,
        StreamerEvent::Subscribed {
            entity: EntityType::Quote,
            keys: vec![AAPL.into()]
        }
    );
    let mut lasts = std::collections::BTreeSet::new();
    let (mut trades, mut books) = (0, 0);
    while lasts.len() < 3 || trades == 0 || books == 0 {
        match next(&mut s).await {
            StreamerEvent::Quote(q) => {
                lasts.insert(q.last.unwrap().0);
            }
            StreamerEvent::Trade(t) => {
                assert_eq!(t.key, AAPL);
                trades += 1;
            }
            StreamerEvent::Depth(d) => {
                assert!(d.bids[0].price.unwrap().0 < d.asks[0].price.unwrap().0);
                books += 1;
            }
            _ => {}
        }
    }
    assert!(lasts.len() >= 3, "the price moves");
}

#[tokio::test]
async fn a_rest_order_arrives_as_order_position_and_balance_in_that_order() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let mut s = session
        .data_stream()
        .subscribe(EntityType::Order, account())
        .subscribe(EntityType::Position, account())
        .subscribe(EntityType::AccountBalance, account())
        .connect()
        .await
        .unwrap();
    let snapshot = until_subscribed(&mut s, 3).await;
    let mut view = View::default();
    snapshot.iter().for_each(|e| view.apply(e));
    assert_eq!(
        view,
        View::from_rest(&server).await,
        "the snapshot is the REST state"
    );

    let order = session
        .place_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("AAPL", Side::Buy, dec!(10)),
        )
        .await
        .unwrap();
    let StreamerEvent::Order(o) = next(&mut s).await else {
        panic!("the order first")
    };
    assert_eq!(o.id, order.id.to_string());
    assert_eq!(o.status.as_deref(), Some("Filled"));
    assert_eq!(o.quantity.map(|q| q.0), Some(dec!(10)));
    let StreamerEvent::Position(p) = next(&mut s).await else {
        panic!("the position second")
    };
    assert_eq!(p.symbol.as_deref(), Some("AAPL"));
    assert_eq!(p.quantity.map(|q| q.0), Some(dec!(10)));
    let StreamerEvent::Balance(b) = next(&mut s).await else {
        panic!("the balance third")
    };
    assert_eq!(b.cash_balance.map(|c| c.0), server.cash(TRADER_ACCOUNT));
    let items = balance_items(&b);
    assert!(
        items.iter().any(|(name, _)| name == "equityTotal"),
        "{items:?}"
    );
}

#[tokio::test]
async fn unsubscribed_entities_are_not_sent_any_more() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let mut s = session
        .data_stream()
        .subscribe(EntityType::Order, account())
        .subscribe(EntityType::Position, account())
        .connect()
        .await
        .unwrap();
    until_subscribed(&mut s, 2).await;
    s.handle()
        .unsubscribe(EntityType::Order, account())
        .await
        .unwrap();
    assert_eq!(
        next(&mut s).await,
        StreamerEvent::Unsubscribed {
            entity: EntityType::Order,
            keys: account().to_vec()
        }
    );
    session
        .place_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("MSFT", Side::Buy, dec!(5)),
        )
        .await
        .unwrap();
    // One fill's changes go out together: without the order subscription, the position is next.
    assert!(
        matches!(next(&mut s).await, StreamerEvent::Position(p) if p.symbol.as_deref() == Some("MSFT"))
    );
}

#[tokio::test]
async fn after_a_forced_drop_the_session_is_recovered_and_the_state_equals_rest() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let mut s = session
        .data_stream()
        .subscribe(EntityType::Order, account())
        .subscribe(EntityType::Position, account())
        .subscribe(EntityType::AccountBalance, account())
        .reconnect_delay(Duration::from_millis(20), Duration::from_millis(100))
        .connect()
        .await
        .unwrap();
    let mut view = View::default();
    until_subscribed(&mut s, 3)
        .await
        .iter()
        .for_each(|e| view.apply(e));
    // The reconnection's CreateSession is held half a second, so the order below lands while
    // the client is away.
    server.faults.inject_times(
        "STREAM",
        "/streamers/connect",
        Fault::Latency(Duration::from_millis(500)),
        1,
    );
    server
        .faults
        .inject_times("STREAM", "/streamers", Fault::Drop, 1);
    for _ in 0..400 {
        if server.streamers.connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    session
        .place_order(
            TRADER_ACCOUNT,
            &OrderRequest::market("KO", Side::Buy, dec!(7)),
        )
        .await
        .unwrap();
    loop {
        let e = next(&mut s).await;
        view.apply(&e);
        if e == (StreamerEvent::Resync {
            reason: ResyncReason::Reconnected,
        }) {
            break;
        }
    }
    let after = until_subscribed(&mut s, 3).await;
    after.iter().for_each(|e| view.apply(e));
    let balances = after
        .iter()
        .filter(|e| matches!(e, StreamerEvent::Balance(_)))
        .count();
    assert_eq!(balances, 1, "nothing doubled: {after:?}");
    assert_eq!(view, View::from_rest(&server).await, "nothing lost");
    assert_eq!(view.positions.get("KO"), Some(&dec!(7)));
    assert_eq!(
        server.hits.get("PUT", RECOVER),
        1,
        "the session was recovered"
    );
}

#[tokio::test]
async fn a_session_the_streamer_refuses_also_after_recovery_is_a_typed_error() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let refuse = Fault::Respond {
        status: 401,
        body: "refused".into(),
    };
    server
        .faults
        .inject_times("STREAM", "/streamers/connect", refuse, 2);
    let err = session
        .quote_stream()
        .subscribe(EntityType::Quote, [AAPL])
        .connect()
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, StreamError::SessionRefused { .. }), "{err:?}");
    assert_eq!(
        server.hits.get("PUT", RECOVER),
        1,
        "recovered once, then gave up"
    );
}

#[tokio::test]
async fn a_subscription_to_someone_elses_account_is_refused_and_typed() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let mut s = session
        .data_stream()
        .subscribe(EntityType::Order, ["2002"])
        .connect()
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, StreamError::SubscriptionRefused { entity: EntityType::Order, keys, .. } if keys == &["2002".to_string()]),
        "{err:?}"
    );
}

#[tokio::test]
async fn watchlists_and_price_alerts_stream_their_changes() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let me = session
        .user_info()
        .await
        .unwrap()
        .user_id
        .unwrap()
        .to_string();
    let mut s = session
        .data_stream()
        .subscribe(EntityType::Watchlist, [me.clone()])
        .subscribe(EntityType::PriceAlert, [me.clone()])
        .connect()
        .await
        .unwrap();
    until_subscribed(&mut s, 2).await;
    session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(true)
                .body(types::CreateWatchlistModel {
                    name: Some("Streamed".into()),
                    securities: vec![1],
                })
                .send()
        })
        .await
        .unwrap();
    let StreamerEvent::Watchlist(w) = next(&mut s).await else {
        panic!("a watchlist event")
    };
    assert_eq!(w.name.as_deref(), Some("Streamed"));
    assert_eq!(w.is_deleted.as_deref(), Some("false"));
    let body = types::PriceAlertEditableModel {
        operator: types::PriceAlertOperatorString::Lteq.into(),
        field: types::PriceAlertFieldString::Bid.into(),
        expiration_date: 1_900_000_000,
        security_id: Some(6),
        argument: Some(dec!(99.5).into()),
        state: None,
    };
    session
        .call(|c| c.create_price_alert().user_id("@me").body(body).send())
        .await
        .unwrap();
    let StreamerEvent::PriceAlert(a) = next(&mut s).await else {
        panic!("a price alert event")
    };
    assert_eq!(a.symbol.as_deref(), Some("IBM"));
    assert_eq!(a.argument.map(|x| x.0), Some(dec!(99.5)));
}

#[tokio::test]
async fn a_slow_consumer_lags_instead_of_buffering_and_is_resynced() {
    let server = sandbox().await;
    server.streamers.set_quote_interval(Duration::ZERO);
    let session = trader(&server).await;
    let capacity = 8;
    let mut s = session
        .quote_stream()
        .capacity(capacity)
        .subscribe(EntityType::Quote, [AAPL])
        .connect()
        .await
        .unwrap();
    // The consumer reads nothing while the streamer sends as fast as it can.
    for _ in 0..2_000 {
        if server.streamers.messages_sent() > 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(server.streamers.messages_sent() > 500);
    let mut delivered = 0;
    let dropped = loop {
        match next(&mut s).await {
            StreamerEvent::Lagged { dropped } => break dropped,
            _ => delivered += 1,
        }
    };
    assert!(
        delivered <= capacity,
        "at most the queue was kept: {delivered}"
    );
    assert!(dropped > 0);
    assert_eq!(
        next(&mut s).await,
        StreamerEvent::Resync {
            reason: ResyncReason::Lagged
        }
    );
}
