//! TradeLocker's live Streams API: `cargo run -p brokerkit --features streams --example tradelocker_stream`.
//!
//! Opens the account stream, reads the snapshot up to `SyncEnd`, places a 0.01-lot market order
//! and closes it over REST, and prints the events those two orders cause (order, position,
//! account; order, closed position, account), then unsubscribes. Runs against the embedded
//! sandbox, or against a real TradeLocker server when `BROKERKIT_TRADELOCKER_URL`,
//! `BROKERKIT_TRADELOCKER_EMAIL`, `BROKERKIT_TRADELOCKER_PASSWORD`,
//! `BROKERKIT_TRADELOCKER_SERVER` and `BROKERKIT_TRADELOCKER_DEVELOPER_KEY` are set
//! (`BROKERKIT_TRADELOCKER_STREAMS_URL` overrides the Streams API origin). Against a real
//! server the order is real: use a demo account.

#[path = "support/mod.rs"]
mod support;

use brokerkit::tradelocker::stream::{self, AccountStream, StreamBuilder, StreamEvent};
use brokerkit::tradelocker::stream_types::{OrderStatus, Side};
use brokerkit::tradelocker::{orders, Credentials, Environment, InstrumentRoutes, Session};
use futures::StreamExt;
use rust_decimal::Decimal;
use std::time::Duration;
use support::{BoxError, Report};

const TITLE: &str = "TradeLocker Streams API";

/// One line for an event.
pub fn describe(event: &StreamEvent) -> String {
    match event {
        StreamEvent::Subscribed { account_id } => format!("subscribed account {account_id}"),
        StreamEvent::Account(a) => format!(
            "account {}: balance {}, equity {}",
            a.account_id,
            a.balance.map_or("-".into(), |b| b.to_string()),
            a.equity.map_or("-".into(), |b| b.to_string())
        ),
        StreamEvent::Position(p) => format!(
            "position {} {} {} lots at {}",
            p.position_id,
            p.instrument.as_deref().unwrap_or("?"),
            p.lots.map_or("-".into(), |l| l.to_string()),
            p.open_price.map_or("-".into(), |l| l.to_string())
        ),
        StreamEvent::PositionClosed(p) => format!(
            "position {} closed at {}",
            p.position_id,
            p.close_price.map_or("-".into(), |l| l.to_string())
        ),
        StreamEvent::Order(o) => format!(
            "order {} {} {} lots: {}",
            o.order_id,
            match &o.side {
                Some(Side::String(s)) => s.to_string(),
                Some(Side::Other(s)) => s.clone(),
                None => "?".into(),
            },
            o.amount.map_or("-".into(), |l| l.to_string()),
            match &o.status {
                Some(OrderStatus::String(s)) => s.to_string(),
                Some(OrderStatus::Other(s)) => s.clone(),
                None => "?".into(),
            }
        ),
        StreamEvent::SyncEnd { .. } => "SyncEnd (snapshot complete)".into(),
        StreamEvent::Resync { reason, .. } => format!("resync ({reason:?}): a snapshot follows"),
        StreamEvent::Lagged { dropped } => format!("lagged: {dropped} events dropped"),
        StreamEvent::Unsubscribed { account_id } => format!("unsubscribed account {account_id}"),
        other => format!("{other:?}"),
    }
}

/// Reads events until `done` says so (or 10 s pass), one line each.
pub async fn read_until(
    events: &mut AccountStream,
    mut done: impl FnMut(&StreamEvent) -> bool,
) -> Result<Vec<String>, BoxError> {
    let mut lines = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .map_err(|_| "no stream event within 10 s")?
            .ok_or("the stream ended")??;
        lines.push(describe(&event));
        if done(&event) {
            return Ok(lines);
        }
    }
}

async fn demo() -> Result<Report, BoxError> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let (_sandbox, url, email, password, server, key) =
        match std::env::var("BROKERKIT_TRADELOCKER_URL") {
            Ok(url) => (
                None,
                url,
                var("BROKERKIT_TRADELOCKER_EMAIL")?,
                var("BROKERKIT_TRADELOCKER_PASSWORD")?,
                var("BROKERKIT_TRADELOCKER_SERVER")?,
                var("BROKERKIT_TRADELOCKER_DEVELOPER_KEY")?,
            ),
            Err(_) => {
                let sandbox = brokerkit_mock::tradelocker::start(Default::default()).await?;
                let url = sandbox.base_url();
                let user = &brokerkit_mock::tradelocker::Config::default().users[0];
                (
                    Some(sandbox),
                    url,
                    user.email.clone(),
                    user.password.clone(),
                    user.server.clone(),
                    brokerkit_mock::tradelocker::stream::DEVELOPER_API_KEY.to_string(),
                )
            }
        };
    let origin = std::env::var("BROKERKIT_TRADELOCKER_STREAMS_URL")
        .unwrap_or_else(|_| stream::origin_for(&url));
    let mut report = Report::new(format!("streams {origin}"));

    let creds = Credentials::new(email.as_str(), password.as_str(), server.as_str());
    let session = Session::login(Environment::Custom(url.clone()), &creds).await?;
    let account = session.accounts().await?.remove(0);
    session.select_account(&account);

    let tokens = stream::account_tokens(&url, creds);
    let mut events = StreamBuilder::new(origin, key, server.as_str(), tokens)
        .account(account.id.clone())
        .connect()
        .await?;
    let snapshot = read_until(&mut events, |e| matches!(e, StreamEvent::SyncEnd { .. })).await?;
    report.row(
        "snapshot",
        format!("{} events, then SyncEnd", snapshot.len() - 1),
    );

    let instrument = session
        .instruments()
        .await?
        .into_iter()
        .find(|i| i.name.starts_with("EURUSD"))
        .ok_or("no EURUSD")?;
    let trade = instrument.trade_route().ok_or("no TRADE route")?;
    let order = orders::market(
        instrument.tradable_instrument_id,
        trade,
        orders::Direction::Buy,
        Decimal::new(1, 2),
    );
    session.place_order(&order).await?;
    let mut saw = (false, false);
    for line in read_until(&mut events, |e| {
        saw.0 |= matches!(e, StreamEvent::Position(_));
        saw.1 |= saw.0 && matches!(e, StreamEvent::Account(_));
        saw.1
    })
    .await?
    {
        report.row("buy →", line);
    }

    let position = session
        .positions()
        .await?
        .into_iter()
        .find(|p| p.tradable_instrument_id == instrument.tradable_instrument_id)
        .ok_or("no position")?;
    session.close_position(&position.id, None).await?;
    let mut closed = false;
    for line in read_until(&mut events, |e| {
        closed |= matches!(e, StreamEvent::PositionClosed(_));
        closed && matches!(e, StreamEvent::Account(_))
    })
    .await?
    {
        report.row("close →", line);
    }

    events.handle().unsubscribe(account.id.clone()).await?;
    let last = read_until(&mut events, |e| {
        matches!(e, StreamEvent::Unsubscribed { .. })
    })
    .await?;
    report.row("unsubscribe", last.last().cloned().unwrap_or_default());
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
