//! AutoShares' streamers: `cargo run -p brokerkit --features streams --example autoshares_stream`.
//!
//! Opens the quote streamer on AAPL and prints a few quotes as they move, then opens the data
//! streamer on the trading account, buys one share over REST (in the sandbox) and prints the
//! order, position and balance events it causes. Runs against the embedded sandbox, or against
//! a real AutoShares / ETNA backend when `BROKERKIT_AUTOSHARES_URL`,
//! `BROKERKIT_AUTOSHARES_APP_KEY`, `BROKERKIT_AUTOSHARES_USERNAME` and
//! `BROKERKIT_AUTOSHARES_PASSWORD` are set (single-factor login; `BROKERKIT_AUTOSHARES_SECURITY`
//! picks the security id to quote). Against a real backend it places no order.

#[path = "support/mod.rs"]
mod support;

use brokerkit::autoshares::orders::{OrderRequest, Side};
use brokerkit::autoshares::stream::{EntityType, StreamerEvent, StreamerStream};
use brokerkit::autoshares::AutoShares;
use futures::StreamExt;
use rust_decimal::Decimal;
use std::time::Duration;
use support::{BoxError, Report};

const TITLE: &str = "AutoShares streamers";

async fn next(s: &mut StreamerStream) -> Result<StreamerEvent, BoxError> {
    Ok(tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .map_err(|_| "no streamer event within 10 s")?
        .ok_or("the stream ended")??)
}

fn describe(e: &StreamerEvent) -> String {
    match e {
        StreamerEvent::Quote(q) => format!(
            "quote {}: bid {} ask {} last {}",
            q.key,
            q.bid.map_or("-".into(), |v| v.to_string()),
            q.ask.map_or("-".into(), |v| v.to_string()),
            q.last.map_or("-".into(), |v| v.to_string())
        ),
        StreamerEvent::Order(o) => format!(
            "order {} {} {} {}: {}",
            o.id,
            o.side.as_deref().unwrap_or("?"),
            o.quantity.map_or("-".into(), |v| v.to_string()),
            o.symbol.as_deref().unwrap_or("?"),
            o.status.as_deref().unwrap_or("?")
        ),
        StreamerEvent::Position(p) => format!(
            "position {}: {} shares",
            p.symbol.as_deref().unwrap_or("?"),
            p.quantity.map_or("-".into(), |v| v.to_string())
        ),
        StreamerEvent::Balance(b) => format!(
            "balance of account {}: cash {}",
            b.account_id,
            b.cash_balance.map_or("-".into(), |v| v.to_string())
        ),
        StreamerEvent::Subscribed { entity, keys } => format!("subscribed {entity:?} {keys:?}"),
        other => format!("{other:?}"),
    }
}

async fn demo() -> Result<Report, BoxError> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let real = std::env::var("BROKERKIT_AUTOSHARES_URL").ok();
    let (_sandbox, url, key, user, password) = match real.clone() {
        Some(url) => (
            None,
            url,
            var("BROKERKIT_AUTOSHARES_APP_KEY")?,
            var("BROKERKIT_AUTOSHARES_USERNAME")?,
            var("BROKERKIT_AUTOSHARES_PASSWORD")?,
        ),
        None => {
            let sandbox = brokerkit_mock::autoshares::start(Default::default()).await?;
            sandbox
                .streamers
                .set_quote_interval(Duration::from_millis(20));
            let url = sandbox.base_url();
            let config = brokerkit_mock::autoshares::Config::default();
            let u = config
                .users
                .iter()
                .find(|u| u.second_factor.is_none())
                .ok_or("no single-factor user")?;
            (
                Some(sandbox),
                url,
                config.app_key.clone(),
                u.login.clone(),
                u.password.clone(),
            )
        }
    };
    let mut report = Report::new(format!(
        "{} {url}",
        if real.is_none() { "sandbox" } else { "server" }
    ));
    let session = AutoShares::new(url, key)?
        .login_single_factor(&user, password.as_str())
        .await?;

    let security = std::env::var("BROKERKIT_AUTOSHARES_SECURITY").unwrap_or_else(|_| "1".into());
    let mut quotes = session
        .quote_stream()
        .subscribe(EntityType::Quote, [security.clone()])
        .connect()
        .await?;
    let mut shown = 0;
    while shown < 3 {
        let e = next(&mut quotes).await?;
        if matches!(e, StreamerEvent::Quote(_)) {
            report.row("quotes", describe(&e));
            shown += 1;
        }
    }
    quotes.handle().close().await;

    let account = session
        .accounts()
        .await?
        .into_iter()
        .find_map(|a| a.id)
        .ok_or("no trading account")?;
    let keys = [account.to_string()];
    let mut data = session
        .data_stream()
        .subscribe(EntityType::Order, keys.clone())
        .subscribe(EntityType::Position, keys.clone())
        .subscribe(EntityType::AccountBalance, keys)
        .connect()
        .await?;
    let mut subscribed = 0;
    let mut snapshot = 0;
    while subscribed < 3 {
        match next(&mut data).await? {
            StreamerEvent::Subscribed { .. } => subscribed += 1,
            _ => snapshot += 1,
        }
    }
    report.row(
        "data",
        format!("account {account}: {snapshot} snapshot events"),
    );
    if real.is_none() {
        session
            .place_order(
                account,
                &OrderRequest::market("AAPL", Side::Buy, Decimal::ONE),
            )
            .await?;
        loop {
            let e = next(&mut data).await?;
            report.row("buy →", describe(&e));
            if matches!(e, StreamerEvent::Balance(_)) {
                break;
            }
        }
    }
    data.handle().close().await;
    Ok(report)
}

/// The table this demo prints, or the error.
pub async fn run() -> Result<String, String> {
    support::render(TITLE, demo()).await
}

#[allow(dead_code)] // unused when another example includes this file as a module
#[tokio::main]
async fn main() -> std::process::ExitCode {
    support::exit(run().await)
}
