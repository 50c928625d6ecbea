//! TradeLocker end to end: `cargo run -p brokerkit --example tradelocker`.
//!
//! Runs against the embedded sandbox, or against a real TradeLocker server when
//! `BROKERKIT_TRADELOCKER_URL` (e.g. `https://demo.tradelocker.com/backend-api`),
//! `BROKERKIT_TRADELOCKER_EMAIL`, `BROKERKIT_TRADELOCKER_PASSWORD` and
//! `BROKERKIT_TRADELOCKER_SERVER` are set. Against a real server it places and closes a real
//! 0.01-lot order: use a demo account.

use brokerkit::tradelocker::{orders, Credentials, Environment, InstrumentRoutes, Session};
use rust_decimal::Decimal;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn demo() -> Result<Vec<String>, BoxError> {
    let mut report = Vec::new();
    let (_sandbox, url, creds) = match std::env::var("BROKERKIT_TRADELOCKER_URL") {
        Ok(url) => {
            let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
            let creds = Credentials::new(
                var("BROKERKIT_TRADELOCKER_EMAIL")?,
                var("BROKERKIT_TRADELOCKER_PASSWORD")?,
                var("BROKERKIT_TRADELOCKER_SERVER")?,
            );
            (None, url, creds)
        }
        Err(_) => {
            let sandbox = brokerkit_mock::tradelocker::start(Default::default()).await?;
            let url = sandbox.base_url();
            (
                Some(sandbox),
                url,
                Credentials::new("trader@example.com", "demo-password", "OSP-DEMO"),
            )
        }
    };
    report.push(format!("server {url}"));

    let session = Session::login(Environment::Custom(url), &creds).await?;
    let accounts = session.accounts().await?;
    let account = accounts.first().ok_or("no account")?;
    session.select_account(account);
    report.push(format!(
        "{} accounts; using #{} ({}), balance {:?}",
        accounts.len(),
        account.acc_num,
        account.id,
        account.balance
    ));

    let instruments = session.instruments().await?;
    let instrument = instruments
        .iter()
        .find(|i| i.name.starts_with("EURUSD"))
        .or(instruments.first())
        .ok_or("no instrument")?;
    let (info, trade) = (
        instrument.info_route().ok_or("no INFO route")?,
        instrument.trade_route().ok_or("no TRADE route")?,
    );
    let quote = session
        .quote(instrument.tradable_instrument_id, info)
        .await?;
    report.push(format!(
        "{}: bid {} ask {}",
        instrument.name, quote.bp, quote.ap
    ));

    let order = orders::market(
        instrument.tradable_instrument_id,
        trade,
        orders::Direction::Buy,
        Decimal::new(1, 2),
    );
    let order_id = session.place_order(&order).await?;
    let positions = session.positions().await?;
    let position = positions
        .iter()
        .find(|p| p.tradable_instrument_id == instrument.tradable_instrument_id)
        .ok_or("the order opened no position")?;
    report.push(format!(
        "bought 0.01 lots (order {order_id}) -> position {} at {}",
        position.id, position.avg_price
    ));
    session.close_position(&position.id, None).await?;
    let state = session.account_state().await?;
    report.push(format!(
        "closed; balance now {:?}, open positions {:?}",
        state.balance, state.positions_count
    ));
    Ok(report)
}

#[allow(dead_code)] // unused when quickstart includes this file as a module
#[tokio::main]
async fn main() -> Result<(), BoxError> {
    for line in demo().await? {
        println!("{line}");
    }
    Ok(())
}
