//! TradeLocker end to end: `cargo run -p brokerkit --example tradelocker`.
//!
//! Runs against the embedded sandbox, or against a real TradeLocker server when
//! `BROKERKIT_TRADELOCKER_URL` (e.g. `https://demo.tradelocker.com/backend-api`),
//! `BROKERKIT_TRADELOCKER_EMAIL`, `BROKERKIT_TRADELOCKER_PASSWORD` and
//! `BROKERKIT_TRADELOCKER_SERVER` are set. Against a real server it places and closes a real
//! 0.01-lot order: use a demo account.

#[path = "support/mod.rs"]
mod support;

use brokerkit::tradelocker::{orders, Credentials, Environment, InstrumentRoutes, Session};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use support::{count, money, BoxError, Report};

const TITLE: &str = "TradeLocker";

async fn demo() -> Result<Report, BoxError> {
    let (sandbox, url, email, password, server) = match std::env::var("BROKERKIT_TRADELOCKER_URL") {
        Ok(url) => {
            let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
            (
                None,
                url,
                var("BROKERKIT_TRADELOCKER_EMAIL")?,
                var("BROKERKIT_TRADELOCKER_PASSWORD")?,
                var("BROKERKIT_TRADELOCKER_SERVER")?,
            )
        }
        Err(_) => {
            let sandbox = brokerkit_mock::tradelocker::start(Default::default()).await?;
            let url = sandbox.base_url();
            let user = &brokerkit_mock::tradelocker::Config::default().users[0];
            let (email, password, server) = (
                user.email.clone(),
                user.password.clone(),
                user.server.clone(),
            );
            (Some(sandbox), url, email, password, server)
        }
    };
    let mut report = Report::new(format!(
        "{} {url}",
        if sandbox.is_some() {
            "sandbox"
        } else {
            "server"
        }
    ));

    let creds = Credentials::new(email.as_str(), password.as_str(), server.as_str());
    let session = Session::login(Environment::Custom(url), &creds).await?;
    report.row("login", format!("{email} on server {server}"));

    let accounts = session.accounts().await?;
    let account = accounts.first().ok_or("no account")?;
    session.select_account(account);
    let currency = account.currency.as_deref();
    let balance = account
        .balance
        .map_or("not given".into(), |b| money(b, currency));
    report.row(
        "accounts",
        format!(
            "{}; using #{} (id {}), balance {balance}",
            count(accounts.len(), "account", "accounts"),
            account.acc_num,
            account.id,
        ),
    );

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
    report.row(
        "quote",
        format!("{} bid {}, ask {}", instrument.name, quote.bp, quote.ap),
    );

    let lots = Decimal::new(1, 2);
    let order = orders::market(
        instrument.tradable_instrument_id,
        trade,
        orders::Direction::Buy,
        lots,
    );
    let order_id = session.place_order(&order).await?;
    let positions = session.positions().await?;
    let position = positions
        .iter()
        .find(|p| p.tradable_instrument_id == instrument.tradable_instrument_id)
        .ok_or("the order opened no position")?;
    report.row(
        "buy",
        format!(
            "{lots} lots at market: order {order_id}, position {} at {}",
            position.id, position.avg_price
        ),
    );

    session.close_position(&position.id, None).await?;
    let state = session.account_state().await?;
    let open = state
        .positions_count
        .and_then(|n| n.to_usize())
        .map_or("open positions not given".into(), |n| {
            count(n, "open position", "open positions")
        });
    let balance = state
        .balance
        .map_or("not given".into(), |b| money(b, currency));
    report.row("close", format!("balance {balance}, {open}"));
    Ok(report)
}

/// The table this demo prints (also what the quickstart shows), or the error.
pub async fn run() -> Result<String, String> {
    support::render(TITLE, demo()).await
}

#[allow(dead_code)] // unused when quickstart includes this file as a module
#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::exit(run().await)
}
