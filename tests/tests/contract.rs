//! The unified layer's contract: one scenario, written once against the traits, run against
//! every vendor's sandbox over loopback. It logs in, lists accounts and reads balances; where
//! the broker trades, places a limit order, sees it working, replaces and cancels it, places a
//! market order, sees the position, closes it and sees the balance move; where it streams, hears
//! that market order's order and position events live; where it moves money,
//! deposits and withdraws and finds both in the history. Every capability the broker claims
//! must have been exercised and have worked; every one it does not claim must answer
//! `Unsupported` without sending anything.
//!
//! The reconcile tests arm `ExecuteThenDrop` (the order is carried out, the answer is cut) and
//! `Drop` (the answer is cut before anything happens) on order placement and check that
//! `reconcile` tells the two apart, by client order id or by the order's fields.

use brokerkit::unified::prelude::*;
use brokerkit::unified::{
    self, reconcile, Capabilities, Capability, Direction, Error, Event, OrderKind, OrderRequest,
    OrderStatus, Outcome, Replacement, Side, TransferRequest, Window,
};
use brokerkit_mock::Fault;
use futures::StreamExt;
use rust_decimal::Decimal;
use std::collections::BTreeSet;

/// What differs between vendors in the scenario: which instrument, how much, and for
/// AutoShares the ACH relationship money moves through.
struct Plan {
    symbol: &'static str,
    quantity: Decimal,
    /// A limit price far from the market, for brokers without quotes.
    far_limit: Decimal,
    bank_link: Option<String>,
    deposit: Decimal,
    withdrawal: Decimal,
}

/// Requests the sandbox has seen so far (to prove an unsupported call sent nothing).
type Hits<'a> = &'a (dyn Fn() -> usize + Sync);

#[derive(Default)]
struct Worked(BTreeSet<Capability>);

impl Worked {
    fn add(&mut self, c: Capability) {
        self.0.insert(c);
    }
}

fn far_below(price: Decimal) -> Decimal {
    (price * Decimal::new(9, 1)).round_dp(4)
}

async fn scenario(broker: &dyn Broker, plan: &Plan, hits: Hits<'_>) -> Worked {
    let caps = broker.capabilities();
    let vendor = broker.vendor();
    let mut worked = Worked::default();

    // Accounts and balances: every broker.
    let accounts = broker.accounts().await.unwrap();
    assert!(!accounts.is_empty(), "{vendor}: no account");
    assert!(accounts.iter().all(|a| !a.id.is_empty()));
    worked.add(Capability::Accounts);
    let account = accounts[0].id.clone();
    let before = broker.balance(&account).await.unwrap();
    assert_eq!(before.account_id, account);
    assert!(!before.cash.currency.is_empty(), "{vendor}: {before:?}");
    assert!(before.cash.amount >= Decimal::ZERO, "{vendor}: {before:?}");
    worked.add(Capability::Balances);

    // Instruments and quotes.
    let mut instrument = plan.symbol.to_string();
    if caps.has(Capability::Instruments) {
        let list = broker.instruments(&account).await.unwrap();
        let found = list
            .iter()
            .find(|i| i.symbol == plan.symbol)
            .unwrap_or_else(|| panic!("{vendor}: no {} in {list:?}", plan.symbol));
        instrument = found.id.clone();
        worked.add(Capability::Instruments);
    }
    let mut limit_price = plan.far_limit;
    if caps.has(Capability::Quotes) {
        let q = broker.quote(&account, &instrument).await.unwrap();
        let (bid, ask) = (q.bid.unwrap(), q.ask.unwrap());
        assert!(bid > Decimal::ZERO && bid <= ask, "{vendor}: {q:?}");
        limit_price = far_below(bid);
        worked.add(Capability::Quotes);
    }

    // A limit order far from the market: working, replaced, cancelled.
    if caps.has(Capability::LimitOrders) {
        let mut order = OrderRequest::limit(&instrument, Side::Buy, plan.quantity, limit_price);
        if caps.has(Capability::ClientOrderId) {
            order = order.client_order_id(format!("contract-{vendor}"));
        }
        let mut id = broker.place_order(&account, &order).await.unwrap();
        assert!(!id.is_empty());
        worked.add(Capability::LimitOrders);
        if caps.has(Capability::WorkingOrders) {
            let working = broker.working_orders(&account).await.unwrap();
            let o = working
                .iter()
                .find(|o| o.id == id)
                .unwrap_or_else(|| panic!("{vendor}: order {id} not working: {working:?}"));
            assert_eq!(o.status, OrderStatus::Working);
            assert_eq!(o.kind, Some(OrderKind::Limit { price: limit_price }));
            assert_eq!((o.side, o.quantity), (Some(Side::Buy), plan.quantity));
            assert_eq!(o.instrument_id, instrument);
            worked.add(Capability::WorkingOrders);
            if caps.has(Capability::ClientOrderId) {
                assert_eq!(o.client_order_id, order.client_order_id, "{vendor}");
                worked.add(Capability::ClientOrderId);
            }
        }
        if caps.has(Capability::ReplaceOrder) {
            let lower = far_below(limit_price);
            id = broker
                .replace_order(&account, &id, &Replacement::new().price(lower))
                .await
                .unwrap();
            let working = broker.working_orders(&account).await.unwrap();
            let o = working.iter().find(|o| o.id == id).unwrap();
            assert_eq!(o.price, Some(lower), "{vendor}: {o:?}");
            worked.add(Capability::ReplaceOrder);
        }
        if caps.has(Capability::CancelOrder) {
            broker.cancel_order(&account, &id).await.unwrap();
            let working = broker.working_orders(&account).await.unwrap();
            assert!(
                working.iter().all(|o| o.id != id),
                "{vendor}: still working"
            );
            worked.add(Capability::CancelOrder);
            if caps.has(Capability::OrderHistory) {
                let history = broker.order_history(&account).await.unwrap();
                let o = history
                    .iter()
                    .find(|o| o.id == id)
                    .unwrap_or_else(|| panic!("{vendor}: {id} not in {history:?}"));
                assert_eq!(o.status, OrderStatus::Cancelled, "{vendor}");
                worked.add(Capability::OrderHistory);
            }
        }
    }

    // A market order: a position, closed; the balance moved.
    if caps.has(Capability::MarketOrders) {
        let mut events = match caps.has(Capability::Streaming) {
            true => Some(broker.events(&account).await.unwrap()),
            false => None,
        };
        let order = OrderRequest::market(&instrument, Side::Buy, plan.quantity);
        let id = broker.place_order(&account, &order).await.unwrap();
        worked.add(Capability::MarketOrders);
        if let Some(events) = events.as_mut() {
            let (mut order_seen, mut position_seen) = (false, false);
            while !(order_seen && position_seen) {
                let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
                    .await
                    .unwrap_or_else(|_| panic!("{vendor}: no order and position event in 10 s"))
                    .unwrap_or_else(|| panic!("{vendor}: the stream ended"))
                    .unwrap();
                match event {
                    Event::Order(o) if o.id == id => order_seen = true,
                    Event::Position(p) if p.instrument_id == instrument => {
                        assert!(p.quantity >= plan.quantity, "{vendor}: {p:?}");
                        position_seen = true;
                    }
                    _ => {}
                }
            }
            worked.add(Capability::Streaming);
        }
        if caps.has(Capability::OrderHistory) {
            let history = broker.order_history(&account).await.unwrap();
            let o = history
                .iter()
                .find(|o| o.id == id)
                .unwrap_or_else(|| panic!("{vendor}: filled {id} not in {history:?}"));
            assert_eq!(o.status, OrderStatus::Filled, "{vendor}");
            worked.add(Capability::OrderHistory);
        }
        if caps.has(Capability::Positions) {
            let positions = broker.positions(&account).await.unwrap();
            let p = positions
                .iter()
                .find(|p| p.instrument_id == instrument)
                .unwrap_or_else(|| panic!("{vendor}: no position in {positions:?}"));
            assert_eq!(p.side, Some(Side::Buy));
            assert!(p.quantity >= plan.quantity, "{vendor}: {p:?}");
            worked.add(Capability::Positions);
            if caps.has(Capability::ClosePosition) {
                broker.close_position(&account, &p.id).await.unwrap();
                let after = broker.positions(&account).await.unwrap();
                assert!(after.iter().all(|q| q.id != p.id), "{vendor}: not closed");
                worked.add(Capability::ClosePosition);
            }
        }
        let after = broker.balance(&account).await.unwrap();
        assert_eq!(after.cash.currency, before.cash.currency);
        assert_ne!(
            after.cash.amount, before.cash.amount,
            "{vendor}: the balance did not move"
        );
    }

    // Money in and out.
    let mut moved = Vec::new();
    for (cap, direction, amount) in [
        (Capability::Deposit, Direction::Deposit, plan.deposit),
        (Capability::Withdraw, Direction::Withdrawal, plan.withdrawal),
    ] {
        if !caps.has(cap) {
            continue;
        }
        let mut request = TransferRequest::new(amount).comment("contract");
        if let Some(link) = &plan.bank_link {
            request = request.bank_link(link);
        }
        let t = match direction {
            Direction::Deposit => broker.deposit(&account, &request).await.unwrap(),
            Direction::Withdrawal => broker.withdraw(&account, &request).await.unwrap(),
        };
        assert_eq!(
            (t.direction, t.amount.amount),
            (direction, amount),
            "{vendor}"
        );
        assert_eq!(t.account_id, account);
        moved.push(t);
        worked.add(cap);
    }
    if caps.has(Capability::TransferHistory) {
        let history = broker.transfers(&account).await.unwrap();
        for t in &moved {
            assert!(
                history.iter().any(|h| h.direction == t.direction
                    && h.amount.amount == t.amount.amount
                    && (t.id.is_none() || h.id == t.id)),
                "{vendor}: {t:?} not in {history:?}"
            );
        }
        assert!(!moved.is_empty() || history.iter().all(|h| h.account_id == account));
        worked.add(Capability::TransferHistory);
    }

    // Whatever the broker does not claim answers Unsupported and sends nothing.
    for cap in caps.unsupported() {
        let sent = hits();
        let err = unsupported_call(broker, cap, &account, &instrument).await;
        // A broker that does not trade at all says so for a tagged order too.
        let expected = match cap {
            Capability::ClientOrderId if !caps.has(Capability::LimitOrders) => {
                Capability::LimitOrders
            }
            other => other,
        };
        assert!(err.is_unsupported(expected), "{vendor}: {cap}: {err:?}");
        assert_eq!(err.vendor(), vendor);
        assert!(!err.may_have_executed() && !err.is_transient());
        assert_eq!(hits(), sent, "{vendor}: {cap} sent a request");
    }
    worked
}

/// Calls the operation behind `cap`, expecting it to fail.
async fn unsupported_call(
    broker: &dyn Broker,
    cap: Capability,
    account: &str,
    instrument: &str,
) -> Error {
    let request = TransferRequest::new(Decimal::ONE);
    let market = OrderRequest::market(instrument, Side::Buy, Decimal::ONE);
    let limit = OrderRequest::limit(instrument, Side::Buy, Decimal::ONE, Decimal::ONE);
    let tagged =
        OrderRequest::limit(instrument, Side::Buy, Decimal::ONE, Decimal::ONE).client_order_id("x");
    let result: Result<(), Error> = match cap {
        Capability::Instruments => broker.instruments(account).await.map(drop),
        Capability::Quotes => broker.quote(account, instrument).await.map(drop),
        Capability::MarketOrders => broker.place_order(account, &market).await.map(drop),
        Capability::LimitOrders => broker.place_order(account, &limit).await.map(drop),
        Capability::ClientOrderId => broker.place_order(account, &tagged).await.map(drop),
        Capability::CancelOrder => broker.cancel_order(account, "1").await,
        Capability::ReplaceOrder => broker
            .replace_order(account, "1", &Replacement::new().price(Decimal::ONE))
            .await
            .map(drop),
        Capability::WorkingOrders => broker.working_orders(account).await.map(drop),
        Capability::OrderHistory => broker.order_history(account).await.map(drop),
        Capability::Positions => broker.positions(account).await.map(drop),
        Capability::ClosePosition => broker.close_position(account, "1").await,
        Capability::Deposit => broker.deposit(account, &request).await.map(drop),
        Capability::Withdraw => broker.withdraw(account, &request).await.map(drop),
        Capability::TransferHistory => broker.transfers(account).await.map(drop),
        Capability::Streaming => broker.events(account).await.map(drop),
        other => panic!("no call for {other}"),
    };
    match result {
        Ok(()) => panic!("{cap} is not claimed but worked"),
        Err(e) => e,
    }
}

fn matches_claims(worked: Worked, caps: Capabilities, vendor: unified::Vendor) {
    let claimed: BTreeSet<Capability> = caps.supported().collect();
    assert_eq!(worked.0, claimed, "{vendor}: claimed vs exercised");
    // The brokers that stream claim it (with the `streams` feature, as these tests build).
    let streams = matches!(
        vendor,
        unified::Vendor::TradeLocker | unified::Vendor::AutoShares
    );
    assert_eq!(caps.has(Capability::Streaming), streams, "{vendor}");
}

// ---------------------------------------------------------------- the four sandboxes

async fn tradelocker(server: &brokerkit_mock::tradelocker::Server) -> unified::TradeLocker {
    use brokerkit::tradelocker::{Credentials, Environment, Session};
    let session = Session::login(
        Environment::Custom(server.base_url()),
        &Credentials::new("trader@example.com", "demo-password", "OSP-DEMO"),
    )
    .await
    .unwrap();
    let base = server.base_url();
    let tokens = brokerkit::tradelocker::stream::account_tokens(
        &base,
        Credentials::new("trader@example.com", "demo-password", "OSP-DEMO"),
    );
    unified::TradeLocker::new(session).with_stream(
        brokerkit::tradelocker::stream::origin_for(&base),
        brokerkit_mock::tradelocker::stream::DEVELOPER_API_KEY,
        "OSP-DEMO",
        tokens,
    )
}

async fn autoshares(server: &brokerkit_mock::autoshares::Server) -> unified::AutoShares {
    let session = brokerkit::autoshares::AutoShares::new(server.base_url(), server.app_key())
        .unwrap()
        .login_single_factor("trader", "trader-pass")
        .await
        .unwrap();
    unified::AutoShares::new(session)
}

/// An approved ACH relationship, made with the vendor crate (the unified layer moves money, it
/// does not manage bank links).
async fn ach_relationship(broker: &unified::AutoShares, account: i32) -> String {
    use brokerkit::autoshares::types;
    let body = types::CreateAchRelationshipResource {
        account_number: Some("000123456789".into()),
        account_owner_name: Some("Tess Trader".into()),
        approval_method: Some(types::AchApprovalMethodString::Instant.into()),
        bank_account_type: Some("Checking".into()),
        name: Some("Sandbox Bank".into()),
        routing_number: Some("021000021".into()),
    };
    let r = broker
        .session()
        .call(|c| {
            c.create_ach_relationship()
                .account_id(account)
                .body(body.clone())
                .send()
        })
        .await
        .unwrap()
        .into_inner();
    r.id.unwrap().to_string()
}

#[tokio::test]
async fn tradelocker_keeps_the_contract() {
    let server = brokerkit_mock::tradelocker::start(Default::default())
        .await
        .unwrap();
    let broker = tradelocker(&server).await;
    let plan = Plan {
        symbol: "EURUSD",
        quantity: Decimal::new(1, 2),
        far_limit: Decimal::ONE,
        bank_link: None,
        deposit: Decimal::ZERO,
        withdrawal: Decimal::ZERO,
    };
    let worked = scenario(&broker, &plan, &|| server.hits.total()).await;
    matches_claims(worked, broker.capabilities(), broker.vendor());
}

#[tokio::test]
async fn autoshares_keeps_the_contract() {
    let server = brokerkit_mock::autoshares::start(Default::default())
        .await
        .unwrap();
    let broker = autoshares(&server).await;
    let plan = Plan {
        symbol: "AAPL",
        quantity: Decimal::ONE,
        far_limit: Decimal::new(100, 2),
        bank_link: Some(ach_relationship(&broker, 2001).await),
        deposit: Decimal::new(25_000, 2),
        withdrawal: Decimal::new(1_010, 2),
    };
    let worked = scenario(&broker, &plan, &|| server.hits.total()).await;
    matches_claims(worked, broker.capabilities(), broker.vendor());
}

#[tokio::test]
async fn traderevolution_keeps_the_contract() {
    let server = brokerkit_mock::traderevolution::start(Default::default())
        .await
        .unwrap();
    let session = brokerkit::traderevolution::Session::builder(server.base_url())
        .login("admin", "admin-pass")
        .await
        .unwrap();
    let broker = unified::TraderEvolution::new(session);
    let plan = Plan {
        symbol: "EURUSD",
        quantity: Decimal::ONE,
        far_limit: Decimal::ONE,
        bank_link: None,
        deposit: Decimal::new(2_500, 2),
        withdrawal: Decimal::new(1_000, 2),
    };
    let account = broker.accounts().await.unwrap().remove(0).id;
    let before = broker.balance(&account).await.unwrap().cash;
    let worked = scenario(&broker, &plan, &|| server.hits.total()).await;
    matches_claims(worked, broker.capabilities(), broker.vendor());
    // A back-office operation books at once: the balance moved by exactly deposit − withdrawal.
    let after = broker.balance(&account).await.unwrap().cash;
    assert_eq!(after.amount - before.amount, plan.deposit - plan.withdrawal);
    assert_eq!(after.currency, before.currency);
}

#[tokio::test]
async fn slate_keeps_the_contract() {
    let server = brokerkit_mock::slate::start(Default::default())
        .await
        .unwrap();
    let session = brokerkit::slate::Session::builder(server.base_url())
        .build()
        .unwrap();
    session
        .login("trader@example.com", "correct horse")
        .await
        .unwrap();
    let broker = unified::Slate::new(session);
    let plan = Plan {
        symbol: "EURUSD",
        quantity: Decimal::new(1, 2),
        far_limit: Decimal::ONE,
        bank_link: None,
        deposit: Decimal::new(5_000, 2),
        withdrawal: Decimal::new(1_010, 2),
    };
    let worked = scenario(&broker, &plan, &|| server.hits.total()).await;
    matches_claims(worked, broker.capabilities(), broker.vendor());
    let token = broker.session().access_token().unwrap();
    assert!(!format!("{broker:?}").contains(token.expose()));
    // Money moves on the primary account only: another account is refused before sending.
    let other = broker.accounts().await.unwrap().remove(1).id;
    let sent = server.hits.total();
    let err = broker
        .deposit(&other, &TransferRequest::new(Decimal::ONE))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    // (the check reads the account list; the deposit itself is never sent)
    assert_eq!(server.hits.get("POST", "/customers/me/deposit"), 1);
    assert!(server.hits.total() > sent);
}

// ---------------------------------------------------------------- reconcile

#[tokio::test]
async fn a_dropped_order_is_found_by_its_fields_and_a_lost_one_is_not() {
    let server = brokerkit_mock::tradelocker::start(Default::default())
        .await
        .unwrap();
    let broker = tradelocker(&server).await;
    let account = broker.accounts().await.unwrap().remove(0).id;
    let path = format!("/trade/accounts/{account}/orders");
    let instrument = "278";
    let bid = broker
        .quote(&account, instrument)
        .await
        .unwrap()
        .bid
        .unwrap();
    let limit = OrderRequest::limit(instrument, Side::Buy, Decimal::new(2, 2), far_below(bid));

    // Carried out, answer cut: found working, by its fields.
    server
        .faults
        .inject_times("POST", &path, Fault::ExecuteThenDrop, 1);
    let sent_at = chrono::Utc::now();
    let err = broker.place_order(&account, &limit).await.unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert_eq!(server.hits.get("POST", &path), 1, "sent once, never resent");
    match reconcile(&broker, &account, &limit, Window::around(sent_at))
        .await
        .unwrap()
    {
        Outcome::Placed(o) => {
            assert_eq!(o.status, OrderStatus::Working);
            assert_eq!(
                o.kind,
                limit.price().map(|price| OrderKind::Limit { price })
            );
        }
        other => panic!("{other:?}"),
    }

    // A market order carried out with its answer cut: found filled (history or position).
    let market = OrderRequest::market(instrument, Side::Sell, Decimal::new(3, 2));
    server
        .faults
        .inject_times("POST", &path, Fault::ExecuteThenDrop, 1);
    let sent_at = chrono::Utc::now();
    let err = broker.place_order(&account, &market).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    match reconcile(&broker, &account, &market, Window::around(sent_at))
        .await
        .unwrap()
    {
        Outcome::Placed(o) => assert_eq!(o.status, OrderStatus::Filled),
        Outcome::Opened(p) => assert_eq!(p.side, Some(Side::Sell)),
        other => panic!("{other:?}"),
    }

    // Cut before anything happened: nothing to find, so sending again is safe.
    let other = OrderRequest::limit(instrument, Side::Buy, Decimal::new(4, 2), far_below(bid));
    server.faults.inject_times("POST", &path, Fault::Drop, 1);
    let sent_at = chrono::Utc::now();
    let err = broker.place_order(&account, &other).await.unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert_eq!(
        reconcile(&broker, &account, &other, Window::around(sent_at))
            .await
            .unwrap(),
        Outcome::NotFound
    );

    // The same fields outside the window are not this order.
    let later = Window::around(sent_at + chrono::Duration::minutes(10));
    assert_eq!(
        reconcile(&broker, &account, &limit, later).await.unwrap(),
        Outcome::NotFound
    );

    // An identical order placed a moment before: the time window alone cannot tell them
    // apart (ambiguous, not a guess); what was on the books before sending can.
    let twin = OrderRequest::limit(instrument, Side::Buy, Decimal::new(5, 2), far_below(bid));
    let earlier = broker.place_order(&account, &twin).await.unwrap();
    let before = Window::before(&broker, &account).await.unwrap();
    assert!(before.known.contains(&earlier));
    server
        .faults
        .inject_times("POST", &path, Fault::ExecuteThenDrop, 1);
    let posts = server.hits.get("POST", &path);
    assert!(broker
        .place_order(&account, &twin)
        .await
        .unwrap_err()
        .may_have_executed());
    assert_eq!(server.hits.get("POST", &path), posts + 1);
    match reconcile(&broker, &account, &twin, Window::around(before.sent_at))
        .await
        .unwrap()
    {
        Outcome::Ambiguous(list) => assert_eq!(list.len(), 2),
        other => panic!("{other:?}"),
    }
    match reconcile(&broker, &account, &twin, before).await.unwrap() {
        Outcome::Placed(o) => assert_ne!(o.id, earlier),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_order_is_found_by_its_client_order_id() {
    let server = brokerkit_mock::autoshares::start(Default::default())
        .await
        .unwrap();
    let broker = autoshares(&server).await;
    let path = "/v1.0/accounts/2001/orders";
    let first =
        OrderRequest::limit("AAPL", Side::Buy, Decimal::ONE, Decimal::ONE).client_order_id("bot-1");
    let twin =
        OrderRequest::limit("AAPL", Side::Buy, Decimal::ONE, Decimal::ONE).client_order_id("bot-2");
    // An identical order (other client id) already works: fields alone would be ambiguous.
    let earlier = broker.place_order("2001", &first).await.unwrap();

    server
        .faults
        .inject_times("POST", path, Fault::ExecuteThenDrop, 1);
    let sent_at = chrono::Utc::now();
    let err = broker.place_order("2001", &twin).await.unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert_eq!(server.hits.get("POST", path), 2, "each order sent once");
    match reconcile(&broker, "2001", &twin, Window::around(sent_at))
        .await
        .unwrap()
    {
        Outcome::Placed(o) => {
            assert_eq!(o.client_order_id.as_deref(), Some("bot-2"));
            assert_ne!(o.id, earlier);
        }
        other => panic!("{other:?}"),
    }
    // Without the client id, the two are ambiguous: reconcile says so instead of guessing.
    let untagged = OrderRequest::limit("AAPL", Side::Buy, Decimal::ONE, Decimal::ONE);
    match reconcile(&broker, "2001", &untagged, Window::around(sent_at))
        .await
        .unwrap()
    {
        Outcome::Ambiguous(list) => assert_eq!(list.len(), 2),
        other => panic!("{other:?}"),
    }
    // A client id that was never sent is not found.
    let never =
        OrderRequest::limit("AAPL", Side::Buy, Decimal::ONE, Decimal::ONE).client_order_id("bot-3");
    assert_eq!(
        reconcile(&broker, "2001", &never, Window::around(sent_at))
            .await
            .unwrap(),
        Outcome::NotFound
    );
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn vendor_errors_arrive_as_the_one_error() {
    let server = brokerkit_mock::slate::start(Default::default())
        .await
        .unwrap();
    let session = brokerkit::slate::Session::builder(server.base_url())
        .build()
        .unwrap();
    session
        .login("trader@example.com", "correct horse")
        .await
        .unwrap();
    let broker = unified::Slate::new(session);
    let account = broker.accounts().await.unwrap().remove(0).id;

    // A refusal keeps the vendor's code and text.
    let err = broker
        .withdraw(&account, &TransferRequest::new(Decimal::from(1_000_000)))
        .await
        .unwrap_err();
    match &err {
        Error::Rejected {
            code,
            message,
            status,
            ..
        } => {
            assert_eq!(code.as_deref(), Some("insufficient_funds"));
            assert!(message.contains("withdrawable"), "{message}");
            assert_eq!(*status, Some(400));
        }
        other => panic!("{other:?}"),
    }

    // A 429 keeps the wait.
    server.faults.inject(
        "/positions",
        Fault::RateLimited {
            retry_after_secs: 7,
            body: r#"{"detail":"slow down"}"#.into(),
        },
    );
    let session = brokerkit::slate::Session::builder(server.base_url())
        .config(brokerkit::ClientConfig::default().retry(brokerkit::runtime::call::Retry::off()))
        .build()
        .unwrap();
    session
        .login("trader@example.com", "correct horse")
        .await
        .unwrap();
    let quick = unified::Slate::new(session);
    match quick.positions(&account).await.unwrap_err() {
        Error::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after, Some(std::time::Duration::from_secs(7)))
        }
        other => panic!("{other:?}"),
    }
    server.faults.clear();

    // A bad amount is refused before sending.
    let sent = server.hits.total();
    let err = broker
        .place_order(
            &account,
            &OrderRequest::market("EURUSD", Side::Buy, Decimal::ZERO),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(server.hits.total(), sent);

    // A cut connection on a money movement is an unknown outcome, sent once.
    let withdrawals = server.hits.get("POST", "/customers/me/withdraw");
    server
        .faults
        .inject_times("POST", "/customers/me/withdraw", Fault::ExecuteThenDrop, 1);
    let err = broker
        .withdraw(&account, &TransferRequest::new(Decimal::ONE))
        .await
        .unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert_eq!(
        server.hits.get("POST", "/customers/me/withdraw"),
        withdrawals + 1
    );

    // After logout: unauthorized, nothing sent; the message holds no token.
    broker.session().logout().await.unwrap();
    let sent = server.hits.total();
    let err = broker.positions(&account).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert_eq!(server.hits.total(), sent);
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("Bearer") && !shown.contains("eyJ"),
        "{shown}"
    );

    // A refused connection is a transport failure that may succeed later.
    let dead = brokerkit::slate::Session::builder("http://127.0.0.1:9")
        .build()
        .unwrap();
    let err = Error::from(dead.login("a@b.c", "x").await.unwrap_err());
    assert!(
        matches!(err, Error::Transport { .. }) && err.is_transient(),
        "{err:?}"
    );
}

#[tokio::test]
async fn each_vendor_refusal_arrives_as_rejected_with_its_code_and_text() {
    // AutoShares: placement answers 200 with the order `Rejected`; its code is kept.
    let server = brokerkit_mock::autoshares::start(Default::default())
        .await
        .unwrap();
    let broker = autoshares(&server).await;
    let huge = OrderRequest::market("AAPL", Side::Buy, Decimal::from(1_000_000));
    match broker.place_order("2001", &huge).await.unwrap_err() {
        Error::Rejected {
            vendor,
            code,
            message,
            ..
        } => {
            assert_eq!(vendor, unified::Vendor::AutoShares);
            assert!(code.as_deref().is_some_and(|c| !c.is_empty()), "{code:?}");
            assert!(message.contains("rejected"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // An ACH transfer without a bank link is refused before sending.
    let sent = server.hits.total();
    let err = broker
        .deposit("2001", &TransferRequest::new(Decimal::ONE))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(server.hits.total(), sent);

    // TraderEvolution: a withdrawal over the balance is the BackOffice's refusal.
    let server = brokerkit_mock::traderevolution::start(Default::default())
        .await
        .unwrap();
    let session = brokerkit::traderevolution::Session::builder(server.base_url())
        .login("admin", "admin-pass")
        .await
        .unwrap();
    let broker = unified::TraderEvolution::new(session);
    let err = broker
        .withdraw("3243753", &TransferRequest::new(Decimal::from(1_000_000)))
        .await
        .unwrap_err();
    match &err {
        Error::Rejected {
            vendor,
            status,
            message,
            ..
        } => {
            assert_eq!(*vendor, unified::Vendor::TraderEvolution);
            assert!(status.is_some_and(|s| (400..500).contains(&s)), "{err:?}");
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.may_have_executed() && !err.is_transient());
    // A wrong password is Unauthorized, whatever the vendor calls it.
    let refused = brokerkit::traderevolution::Session::builder(server.base_url())
        .login("admin", "hunter2-not-it")
        .await
        .unwrap_err();
    let err = Error::from(refused);
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let shown = format!("{err:?}");
    assert!(
        !shown.contains("hunter2"),
        "the password is not printed: {shown}"
    );

    // TradeLocker: an instrument the account does not have is refused before sending.
    let server = brokerkit_mock::tradelocker::start(Default::default())
        .await
        .unwrap();
    let broker = tradelocker(&server).await;
    let account = broker.accounts().await.unwrap().remove(0).id;
    let sent = server
        .hits
        .get("POST", &format!("/trade/accounts/{account}/orders"));
    let err = broker
        .place_order(
            &account,
            &OrderRequest::market("999999", Side::Buy, Decimal::ONE),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(
        server
            .hits
            .get("POST", &format!("/trade/accounts/{account}/orders")),
        sent
    );
}

/// Reads events until `Resynced`, failing after 10 s.
async fn until_resynced(events: &mut futures::stream::BoxStream<'_, unified::Result<Event>>) {
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .expect("no Resynced within 10 s of the drop")
            .expect("the stream ended instead of reconnecting")
            .unwrap();
        if event == Event::Resynced {
            return;
        }
    }
}

#[tokio::test]
async fn a_dropped_tradelocker_stream_comes_back_resynced_through_the_traits() {
    let server = brokerkit_mock::tradelocker::start(Default::default())
        .await
        .unwrap();
    let broker = tradelocker(&server).await;
    let account = broker.accounts().await.unwrap().remove(0).id;
    let mut events = broker.events(&account).await.unwrap();
    server
        .faults
        .inject_times("STREAM", "/streams-api", Fault::Drop, 1);
    until_resynced(&mut events).await;
}

#[tokio::test]
async fn a_dropped_autoshares_stream_comes_back_resynced_through_the_traits() {
    let server = brokerkit_mock::autoshares::start(Default::default())
        .await
        .unwrap();
    let broker = autoshares(&server).await;
    let account = broker.accounts().await.unwrap().remove(0).id;
    let mut events = broker.events(&account).await.unwrap();
    // Past the first subscription's state, then cut every streamer socket.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    server.streamers.drop_all();
    until_resynced(&mut events).await;
}
