// The README's unified example: `cargo run -p brokerkit --example readme_unified`.
use brokerkit::unified::prelude::*;
use brokerkit::unified::{self, reconcile, Capability, Error, OrderRequest, Outcome, Side, Window};
use brokerkit_mock::Fault;
use rust_decimal::Decimal;

/// The same code for every broker: what it can do, its balance, and an order where it trades.
async fn summary(broker: &dyn Broker) -> Result<(), Error> {
    let caps = broker.capabilities();
    let account = broker.accounts().await?.remove(0);
    let balance = broker.balance(&account.id).await?;
    println!(
        "{} account {}: {}",
        broker.vendor(),
        account.id,
        balance.cash
    );
    let missing: Vec<_> = caps.unsupported().map(Capability::name).collect();
    println!("  cannot: {}", missing.join(", "));
    if caps.has(Capability::LimitOrders) && caps.has(Capability::CancelOrder) {
        let instrument = broker.instruments(&account.id).await?.remove(0);
        let order =
            OrderRequest::limit(&instrument.id, Side::Buy, Decimal::new(1, 2), Decimal::ONE);
        let id = broker.place_order(&account.id, &order).await?;
        broker.cancel_order(&account.id, &id).await?;
        println!("  placed and cancelled order {id} on {}", instrument.symbol);
    }
    // Unsupported is an error, never a panic or a silent no-op.
    if let Err(e) = broker.events(&account.id).await {
        println!("  {e}");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two sandboxes; for real brokers, log in to their URLs with your credentials.
    let tl = brokerkit_mock::tradelocker::start(Default::default()).await?;
    let te = brokerkit_mock::traderevolution::start(Default::default()).await?;
    let creds =
        brokerkit::tradelocker::Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let env = brokerkit::tradelocker::Environment::Custom(tl.base_url());
    let tradelocker =
        unified::TradeLocker::new(brokerkit::tradelocker::Session::login(env, &creds).await?);
    let session = brokerkit::traderevolution::Session::builder(te.base_url());
    let backoffice = unified::TraderEvolution::new(session.login("admin", "admin-pass").await?);
    for broker in [&tradelocker as &dyn Broker, &backoffice] {
        summary(broker).await?;
    }

    // An order whose answer is lost is never resent: find out whether it was placed.
    let account = tradelocker.accounts().await?.remove(0).id;
    let orders = format!("/trade/accounts/{account}/orders");
    tl.faults
        .inject_times("POST", &orders, Fault::ExecuteThenDrop, 1);
    let order = OrderRequest::limit("278", Side::Buy, Decimal::new(1, 2), Decimal::ONE);
    let window = Window::before(&tradelocker, &account).await?; // what was there before
    let err = tradelocker.place_order(&account, &order).await.unwrap_err();
    assert!(err.may_have_executed());
    match reconcile(&tradelocker, &account, &order, window).await? {
        Outcome::Placed(o) => println!("the lost order was placed: {} ({:?})", o.id, o.status),
        Outcome::NotFound => println!("not placed: safe to send again"),
        other => println!("decide by hand: {other:?}"),
    }
    Ok(())
}
