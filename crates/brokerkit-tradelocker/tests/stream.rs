//! The Streams API end to end against the sandbox's Socket.IO server, over loopback: snapshot
//! then `SyncEnd`, REST orders arriving as order, position and account events in that order,
//! unsubscribe, reconnect after a forced drop with the resynced state equal to REST's, token
//! expiry and renewal, refused key and token, and a slow consumer that lags instead of growing.

use brokerkit_mock::tradelocker::{self as sandbox, stream::DEVELOPER_API_KEY, Config};
use brokerkit_mock::Fault;
use brokerkit_tradelocker::stream::{
    self, AccountStream, ResyncReason, StreamBuilder, StreamError, StreamEvent, StreamToken,
    TokenSource,
};
use brokerkit_tradelocker::stream_types::OrderStatusString;
use brokerkit_tradelocker::{orders, Account, Credentials, Environment, Session};
use futures::{FutureExt, StreamExt};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const EURUSD: i64 = 278;
const TRADE: i64 = 948735;
const TOKENS: &str = "/auth/jwt/accounts/tokens";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn creds() -> Credentials {
    Credentials::new("trader@example.com", "demo-password", "OSP-DEMO")
}

struct Fixture {
    server: sandbox::Server,
    session: Session,
    account: Account,
}

async fn fixture(config: Config) -> Fixture {
    let server = sandbox::start(config).await.unwrap();
    let session = Session::login(Environment::Custom(server.base_url()), &creds())
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    Fixture {
        server,
        session,
        account,
    }
}

impl Fixture {
    fn builder(&self) -> StreamBuilder {
        let tokens = stream::account_tokens(&self.server.base_url(), creds());
        StreamBuilder::new(
            stream::origin_for(&self.server.base_url()),
            DEVELOPER_API_KEY,
            "OSP-DEMO",
            tokens,
        )
        .account(self.account.id.clone())
        .reconnect_delay(Duration::from_millis(50), Duration::from_millis(200))
    }

    async fn buy(&self, lots: &str) {
        let order = orders::market(EURUSD, TRADE, orders::Direction::Buy, d(lots));
        self.session.place_order(&order).await.unwrap();
    }
}

/// The next event, failing the test after 10 s (a hang is a failure, not a pass).
async fn next(s: &mut AccountStream) -> StreamEvent {
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("no stream event within 10 s")
        .expect("the stream ended")
        .expect("the stream failed")
}

/// Events up to and including the next `SyncEnd`.
async fn until_sync_end(s: &mut AccountStream) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    loop {
        let e = next(s).await;
        let end = matches!(e, StreamEvent::SyncEnd { .. });
        out.push(e);
        if end {
            return out;
        }
    }
}

/// The account as the stream tells it: positions (id → lots, open price), working orders,
/// balance. A `Resync` clears it.
#[derive(Default, Debug, PartialEq)]
struct View {
    positions: BTreeMap<String, (Decimal, Decimal)>,
    working: BTreeMap<String, Decimal>,
    balance: Option<Decimal>,
}

impl View {
    fn apply(&mut self, e: &StreamEvent) {
        match e {
            StreamEvent::Resync { .. } => *self = View::default(),
            StreamEvent::Position(p) => {
                let fresh = self.positions.insert(
                    p.position_id.clone(),
                    (p.lots.unwrap().0, p.open_price.unwrap().0),
                );
                let _ = fresh;
            }
            StreamEvent::PositionClosed(p) => {
                self.positions.remove(&p.position_id);
            }
            StreamEvent::Order(o) => {
                if o.status == Some(OrderStatusString::Pending.into()) {
                    self.working.insert(o.order_id.clone(), o.amount.unwrap().0);
                } else {
                    self.working.remove(&o.order_id);
                }
            }
            StreamEvent::Account(a) => self.balance = a.balance.map(|b| b.0),
            _ => {}
        }
    }

    async fn from_rest(f: &Fixture) -> View {
        let positions = f
            .session
            .positions()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, (p.qty, p.avg_price)))
            .collect();
        let working = f
            .session
            .orders()
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.status == "New")
            .map(|o| (o.id, o.qty))
            .collect();
        let balance = f.session.account_state().await.unwrap().balance;
        View {
            positions,
            working,
            balance,
        }
    }
}

#[tokio::test]
async fn snapshot_then_sync_end_then_a_rest_order_arrives_as_order_position_account() {
    let f = fixture(Config::default()).await;
    f.buy("0.10").await;
    let limit = orders::limit(EURUSD, TRADE, orders::Direction::Buy, d("0.20"), d("1.0"));
    f.session.place_order(&limit).await.unwrap();
    let mut s = f.builder().connect().await.unwrap();

    let snapshot = until_sync_end(&mut s).await;
    assert!(
        matches!(&snapshot[0], StreamEvent::Subscribed { account_id } if *account_id == f.account.id),
        "{snapshot:?}"
    );
    let mut view = View::default();
    snapshot.iter().for_each(|e| view.apply(e));
    assert_eq!(
        view,
        View::from_rest(&f).await,
        "the snapshot is the REST state"
    );
    assert_eq!(view.positions.len(), 1);
    assert_eq!(
        view.working.len(),
        1,
        "the resting limit order is in the snapshot"
    );
    assert!(
        matches!(&snapshot[snapshot.len() - 1], StreamEvent::SyncEnd { account_id: Some(a) } if *a == f.account.id)
    );

    f.buy("0.30").await;
    let (order, position, account) = (next(&mut s).await, next(&mut s).await, next(&mut s).await);
    let StreamEvent::Order(order) = order else {
        panic!("expected the order first, got {order:?}")
    };
    assert_eq!(order.status, Some(OrderStatusString::Executed.into()));
    assert_eq!(order.amount.map(|a| a.0), Some(d("0.3")));
    let StreamEvent::Position(position) = position else {
        panic!("expected the position second, got {position:?}")
    };
    assert_eq!(position.lots.map(|a| a.0), Some(d("0.3")));
    assert!(
        !view.positions.contains_key(&position.position_id),
        "a new position"
    );
    let StreamEvent::Account(account) = account else {
        panic!("expected the account third, got {account:?}")
    };
    assert_eq!(account.account_id, f.account.id);
    assert_eq!(
        account.balance.map(|a| a.0),
        f.server.balance(&f.account.id)
    );
}

#[tokio::test]
async fn a_closed_position_arrives_as_order_close_and_account_with_the_new_balance() {
    let f = fixture(Config::default()).await;
    f.buy("0.10").await;
    let mut s = f.builder().connect().await.unwrap();
    until_sync_end(&mut s).await;
    f.server.set_mid_price(EURUSD, d("1.09640"));
    // The price move changes the equity: an account event.
    assert!(matches!(next(&mut s).await, StreamEvent::Account(_)));
    let id = f.session.positions().await.unwrap().remove(0).id;
    f.session.close_position(&id, None).await.unwrap();
    assert!(
        matches!(next(&mut s).await, StreamEvent::Order(o) if o.status == Some(OrderStatusString::Executed.into()))
    );
    let StreamEvent::PositionClosed(closed) = next(&mut s).await else {
        panic!("expected the close")
    };
    assert_eq!(closed.position_id, id);
    assert_eq!(closed.close_price.map(|a| a.0), Some(d("1.09638")));
    let StreamEvent::Account(a) = next(&mut s).await else {
        panic!("expected the account")
    };
    assert_eq!(a.balance.map(|b| b.0), f.server.balance(&f.account.id));
    assert!(
        a.balance.map(|b| b.0) > Some(d("100000")),
        "a profit was booked: {a:?}"
    );
}

#[tokio::test]
async fn unsubscribe_stops_the_account_and_the_server_forgets_it() {
    let f = fixture(Config::default()).await;
    let mut s = f.builder().connect().await.unwrap();
    until_sync_end(&mut s).await;
    assert_eq!(f.server.streams.subscriptions(), 1);
    let handle = s.handle();
    handle.unsubscribe(f.account.id.clone()).await.unwrap();
    assert_eq!(
        next(&mut s).await,
        StreamEvent::Unsubscribed {
            account_id: f.account.id.clone()
        }
    );
    assert_eq!(f.server.streams.subscriptions(), 0);
    // Subscribing again gives a fresh snapshot; the order placed meanwhile is in it, once.
    f.buy("0.10").await;
    handle.subscribe(f.account.id.clone()).await.unwrap();
    let snapshot = until_sync_end(&mut s).await;
    let positions = snapshot
        .iter()
        .filter(|e| matches!(e, StreamEvent::Position(_)))
        .count();
    assert_eq!(positions, 1, "{snapshot:?}");
}

#[tokio::test]
async fn after_a_forced_drop_it_reconnects_and_the_resynced_state_equals_rest() {
    let f = fixture(Config::default()).await;
    f.buy("0.10").await;
    let mut s = f.builder().connect().await.unwrap();
    let mut view = View::default();
    until_sync_end(&mut s)
        .await
        .iter()
        .for_each(|e| view.apply(e));

    // The reconnection's handshake is held half a second, so the changes below land while
    // the client is away (they take milliseconds).
    f.server.faults.inject_times(
        "STREAM",
        "/streams-api/connect",
        Fault::Latency(Duration::from_millis(500)),
        1,
    );
    f.server
        .faults
        .inject_times("STREAM", "/streams-api", Fault::Drop, 1);
    // While the client is away, the account changes.
    for _ in 0..400 {
        if f.server.streams.sockets() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    f.buy("0.20").await;
    let id = f.session.positions().await.unwrap()[0].id.clone();
    f.session.close_position(&id, None).await.unwrap();

    // Whatever arrives before the resync is applied too; the resync clears it.
    loop {
        let e = next(&mut s).await;
        view.apply(&e);
        if let StreamEvent::Resync { reason, account_id } = &e {
            assert_eq!(*reason, ResyncReason::Reconnected);
            assert_eq!(*account_id, f.account.id);
            break;
        }
    }
    let after = until_sync_end(&mut s).await;
    after.iter().for_each(|e| view.apply(e));
    let ids: Vec<&String> = after
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Position(p) => Some(&p.position_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "nothing doubled: {after:?}");
    assert_eq!(view, View::from_rest(&f).await, "nothing lost");
    assert_eq!(f.server.streams.sockets(), 1);
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_account_resynced() {
    let f = fixture(Config::default()).await;
    let mut s = f.builder().connect().await.unwrap();
    until_sync_end(&mut s).await;
    assert_eq!(f.server.hits.get("POST", TOKENS), 1);
    f.server.expire_access_tokens();
    assert_eq!(
        next(&mut s).await,
        StreamEvent::Resync {
            account_id: f.account.id.clone(),
            reason: ResyncReason::TokenRenewed
        }
    );
    assert!(matches!(next(&mut s).await, StreamEvent::Subscribed { .. }));
    until_sync_end(&mut s).await;
    assert_eq!(f.server.hits.get("POST", TOKENS), 2, "one renewal");
    // And the renewed subscription carries changes.
    f.buy("0.10").await;
    assert!(matches!(next(&mut s).await, StreamEvent::Order(_)));
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let config = Config {
        access_lifetime: Duration::from_secs(3),
        ..Config::default()
    };
    let f = fixture(config).await;
    let mut s = f
        .builder()
        .renew_before(Duration::from_millis(2_900))
        .connect()
        .await
        .unwrap();
    until_sync_end(&mut s).await;
    // Renewed about 100 ms in, well before the server would call it expired.
    assert_eq!(
        next(&mut s).await,
        StreamEvent::Resync {
            account_id: f.account.id.clone(),
            reason: ResyncReason::TokenRenewed
        }
    );
    assert!(f.server.hits.get("POST", TOKENS) >= 2);
}

#[tokio::test]
async fn a_token_the_server_refuses_after_a_renewal_is_a_typed_error() {
    let f = fixture(Config::default()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let account = f.account.id.clone();
    let tokens: TokenSource = {
        let calls = calls.clone();
        Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            let account = account.clone();
            async move {
                let token = StreamToken::new(account, "forged", None);
                Ok(vec![token])
            }
            .boxed()
        })
    };
    let err = StreamBuilder::new(
        stream::origin_for(&f.server.base_url()),
        DEVELOPER_API_KEY,
        "OSP-DEMO",
        tokens,
    )
    .account(f.account.id.clone())
    .connect()
    .await
    .err()
    .expect("a forged token is refused");
    let StreamError::TokenRefused {
        account_id, code, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*account_id, f.account.id);
    assert_eq!(code.as_deref(), Some("TOKEN_INVALID"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "renewed once, then gave up"
    );
    assert!(
        !err.to_string().contains("forged"),
        "no token in the message"
    );
}

#[tokio::test]
async fn a_wrong_developer_key_is_a_typed_error() {
    let f = fixture(Config::default()).await;
    let tokens = stream::account_tokens(&f.server.base_url(), creds());
    let err = StreamBuilder::new(
        stream::origin_for(&f.server.base_url()),
        "not-the-key",
        "OSP-DEMO",
        tokens,
    )
    .account(f.account.id.clone())
    .connect()
    .await
    .err()
    .expect("a wrong key is refused");
    assert!(
        matches!(&err, StreamError::KeyRefused { message } if message.contains("DEVELOPER_KEY_INVALID")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("not-the-key"));
    assert_eq!(f.server.streams.subscriptions(), 0);
}

#[tokio::test]
async fn a_slow_consumer_lags_instead_of_buffering_and_is_resynced() {
    let f = fixture(Config::default()).await;
    let capacity = 16;
    let mut s = f.builder().capacity(capacity).connect().await.unwrap();
    until_sync_end(&mut s).await;
    // The consumer reads nothing while 2,000 events are sent.
    f.server.streams.burst(&f.account.id, 2_000).await;
    let mut delivered = Vec::new();
    let dropped = loop {
        match next(&mut s).await {
            StreamEvent::Lagged { dropped } => break dropped,
            other => delivered.push(other),
        }
    };
    let delivered = delivered.len();
    assert!(
        delivered <= capacity,
        "at most the queue was kept: {delivered}"
    );
    assert!(dropped > 0);
    assert!(matches!(
        next(&mut s).await,
        StreamEvent::Resync {
            reason: ResyncReason::Lagged,
            ..
        }
    ));
    let mut view = View::default();
    until_sync_end(&mut s)
        .await
        .iter()
        .for_each(|e| view.apply(e));
    assert_eq!(view.balance, View::from_rest(&f).await.balance);
}

#[tokio::test]
async fn a_stalled_handshake_is_a_typed_timeout_not_a_hang() {
    let f = fixture(Config::default()).await;
    f.server.faults.inject_times(
        "STREAM",
        "/streams-api/connect",
        Fault::Latency(Duration::from_secs(5)),
        1,
    );
    let err = f
        .builder()
        .answer_timeout(Duration::from_millis(300))
        .connect()
        .await
        .err()
        .expect("the stalled handshake gives up");
    assert_eq!(err, StreamError::Timeout("the connection"));
}
