// The README's TradeLocker example: `cargo run -p brokerkit --example readme_tradelocker`.
use brokerkit::tradelocker::{orders, Credentials, Environment, Error, InstrumentRoutes, Session};
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The loopback sandbox and its user. For a real account: Environment::Demo (or Live)
    // and your own e-mail, password and server name.
    let sandbox = brokerkit_mock::tradelocker::start(Default::default()).await?;
    let environment = Environment::Custom(sandbox.base_url());
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let session = Session::login(environment, &creds).await?;

    // Pick an account: from now on every /trade call carries its accNum.
    let account = session.accounts().await?.remove(0);
    session.select_account(&account);

    let instruments = session.instruments().await?;
    let eurusd = instruments
        .iter()
        .find(|i| i.name == "EURUSD")
        .ok_or("no EURUSD")?;
    let info = eurusd.info_route().ok_or("no INFO route")?;
    let quote = session.quote(eurusd.tradable_instrument_id, info).await?;
    println!("EURUSD bid {} ask {}", quote.bp, quote.ap);

    let trade = eurusd.trade_route().ok_or("no TRADE route")?;
    let lots = Decimal::new(1, 2); // 0.01 lots
    let order = orders::market(
        eurusd.tradable_instrument_id,
        trade,
        orders::Direction::Buy,
        lots,
    );
    match session.place_order(&order).await {
        Ok(id) => println!("order {id} placed"),
        // TradeLocker rejects at HTTP 200 with {"s":"error"}: that is an error here, never a success.
        Err(Error::Rejected { message, .. }) => println!("rejected: {message}"),
        Err(e) => return Err(e.into()),
    }
    for p in session.positions().await? {
        // Rows are decoded by column name; ids are exact strings, amounts exact decimals.
        println!("position {}: {} lots at {}", p.id, p.qty, p.avg_price);
    }
    Ok(())
}
