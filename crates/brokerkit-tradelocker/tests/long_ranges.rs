//! Ranges longer than one answer: `/trade/history` beyond `QUOTES_HISTORY_BARS` and
//! `ordersHistory` over several `hasMore` pages (issue 13 items 3, 5, 8, 9), against the
//! sandbox over loopback.

use brokerkit_mock::tradelocker::{self as sandbox, Config};
use brokerkit_tradelocker::{orders, types, Credentials, Environment, Error, Resolution, Session};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use std::time::Duration;

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;
const MINUTE: i64 = 60_000;
/// An hour boundary, so bar opens are easy to count.
const T0: i64 = 1_700_002_800_000;

async fn logged_in(config: Config) -> (sandbox::Server, Session) {
    let server = sandbox::start(config).await.unwrap();
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let session = Session::login(Environment::Custom(server.base_url()), &creds)
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    (server, session)
}

/// One `/trade/history` request of `minutes` one-minute bars from `T0`, past the session's
/// splitting.
async fn one_request(session: &Session, minutes: i64) -> types::HistoryEnvelope {
    session
        .client()
        .get_history()
        .tradable_instrument_id(EURUSD)
        .route_id(INFO)
        .resolution(Resolution::Minute)
        .from(T0)
        .to(T0 + minutes * MINUTE)
        .send()
        .await
        .unwrap()
        .into_inner()
}

fn small_caps() -> Config {
    Config {
        quotes_history_bars: 50,
        orders_history_page: 3,
        ..Config::default()
    }
}

#[tokio::test]
async fn the_sandbox_refuses_a_history_range_beyond_its_cap_in_band() {
    let (_server, session) = logged_in(small_caps()).await;
    assert_eq!(session.history_bars_cap().await.unwrap(), 50);
    let answer = one_request(&session, 51).await;
    assert_eq!(
        answer.s,
        types::EnvelopeStatus::from(types::EnvelopeStatusString::Error)
    );
    assert!(answer.d.is_none(), "no bars, not the first 50");
    let errmsg = answer.errmsg.unwrap_or_default();
    assert!(errmsg.contains("QUOTES_HISTORY_BARS"), "{errmsg}");

    // Exactly the cap is served.
    let answer = one_request(&session, 50).await;
    assert_eq!(
        answer.s,
        types::EnvelopeStatus::from(types::EnvelopeStatusString::Ok)
    );
    assert_eq!(answer.d.unwrap().bar_details.len(), 50);
}

#[tokio::test]
async fn a_long_history_range_is_asked_for_within_the_cap_and_joined() {
    let (server, session) = logged_in(small_caps()).await;
    server.recorder.start();
    // 175 minutes from an unaligned start: bars open at T0+1m … T0+175m.
    let from = T0 + 17_000;
    let to = T0 + 175 * MINUTE + 17_000;
    let bars = session
        .history(EURUSD, INFO, Resolution::Minute, from, to)
        .await
        .unwrap();
    assert_eq!(bars.len(), 175);
    assert_eq!(bars[0].t, T0 + MINUTE);
    assert!(
        bars.windows(2).all(|w| w[1].t - w[0].t == MINUTE),
        "no gap and no bar twice"
    );
    let answers: Vec<_> = server
        .recorder
        .take()
        .into_iter()
        .filter(|e| e.path == "/trade/history")
        .collect();
    assert_eq!(answers.len(), 4, "ceil(175 / 50) requests");
    for a in &answers {
        let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(body["s"], "ok", "nothing the server had to refuse was sent");
    }

    // Within the cap: one request, as before.
    server.recorder.start();
    let bars = session
        .history(EURUSD, INFO, Resolution::Minute, T0, T0 + 50 * MINUTE)
        .await
        .unwrap();
    assert_eq!(bars.len(), 50);
    assert_eq!(server.recorder.take().len(), 1);
}

async fn market_buys(session: &Session, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let order = orders::market(EURUSD, TRADE, orders::Direction::Buy, Decimal::new(1, 2));
        ids.push(session.place_order(&order).await.unwrap());
    }
    ids
}

#[tokio::test]
async fn orders_history_pages_with_has_more_oldest_first() {
    let (server, session) = logged_in(small_caps()).await;
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.extend(market_buys(&session, 1).await);
        server.advance_clock(Duration::from_millis(5));
    }
    let first = session.orders_history(None, None).await.unwrap();
    assert!(first.has_more);
    let ids: Vec<_> = first.orders.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids, placed[..3], "oldest first, one page");
    let from = first.orders.last().unwrap().created_date;
    let second = session.orders_history(from, None).await.unwrap();
    assert!(!second.has_more);
    let ids: Vec<_> = second.orders.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids, placed[2..], "the boundary millisecond is read again");
}

#[tokio::test]
async fn orders_history_all_reads_every_page_once_across_shared_milliseconds() {
    let (server, session) = logged_in(small_caps()).await;
    server.freeze_clock();
    // Two orders at T, two at T+1 ms, three at T+2 ms: pages of 3 end inside a millisecond.
    let mut placed = Vec::new();
    for burst in [2, 2, 3] {
        placed.extend(market_buys(&session, burst).await);
        server.advance_clock(Duration::from_millis(1));
    }
    let all: Vec<_> = session
        .orders_history_all(None, None)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|o| o.id.clone()).collect();
    assert_eq!(ids, placed, "every order once, in order");
    assert!(all.iter().all(|o| o.status == "Filled"));
}

#[tokio::test]
async fn orders_history_all_ends_with_a_typed_stall_instead_of_looping() {
    let (server, session) = logged_in(small_caps()).await;
    server.freeze_clock();
    let placed = market_buys(&session, 4).await;
    let mut stream = std::pin::pin!(session.orders_history_all(None, None));
    let mut got = Vec::new();
    let err = loop {
        match stream.try_next().await {
            Ok(Some(order)) => got.push(order.id),
            Ok(None) => panic!("the stream ended without the fourth order"),
            Err(e) => break e,
        }
    };
    assert_eq!(got, placed[..3]);
    assert!(
        matches!(err, Error::PagingStalled { from: Some(_) }),
        "{err:?}"
    );
    assert!(stream.try_next().await.unwrap().is_none(), "then it ends");
}
