//! The README's main job: `cargo run -p brokerkit --example quickstart`.
//!
//! Starts a sandbox of every vendor in this process (no network needed), logs in to each with
//! its own crate (the one step whose shape differs), then runs the same tour through the
//! unified layer (`brokerkit::unified`) on all four: accounts, balance, a quote, a limit order
//! placed and cancelled, a market order opened and closed, money in and out — each step only
//! where the broker's capability map says it can — and prints one comparable table per broker.
//!
//! Set a vendor's `BROKERKIT_<VENDOR>_URL` and credentials (the same variables as the vendor's
//! own example in this folder) to run the tour against that real broker instead: it then only
//! reads (no order, no money movement).

#[path = "support/mod.rs"]
mod support;

use brokerkit::unified::prelude::*;
use brokerkit::unified::{self, Capability, OrderRequest, Side, TransferRequest};
use rust_decimal::Decimal;
use std::any::Any;
use std::process::ExitCode;
use std::time::Instant;
use support::{count, money, BoxError, Report};

/// A logged-in broker, the sandbox behind it (kept alive), and what the tour should use.
struct Connected {
    broker: Box<dyn Broker>,
    _sandbox: Option<Box<dyn Any + Send>>,
    server: String,
    who: String,
    symbol: &'static str,
    quantity: Decimal,
    /// For brokers without quotes: a limit price far below the market.
    far_limit: Decimal,
    /// The approved ACH relationship money moves through, where the broker needs one.
    bank_link: Option<String>,
}

fn var(k: &str) -> Result<String, BoxError> {
    std::env::var(k).map_err(|_| format!("{k} is not set").into())
}

fn place(sandbox: bool, url: &str) -> String {
    format!("{} {url}", if sandbox { "sandbox" } else { "server" })
}

async fn tradelocker() -> Result<Connected, BoxError> {
    use brokerkit::tradelocker::{Credentials, Environment, Session};
    let (sandbox, url, email, password, server) = match std::env::var("BROKERKIT_TRADELOCKER_URL") {
        Ok(url) => (
            None,
            url,
            var("BROKERKIT_TRADELOCKER_EMAIL")?,
            var("BROKERKIT_TRADELOCKER_PASSWORD")?,
            var("BROKERKIT_TRADELOCKER_SERVER")?,
        ),
        Err(_) => {
            let s = brokerkit_mock::tradelocker::start(Default::default()).await?;
            let u = &brokerkit_mock::tradelocker::Config::default().users[0];
            let url = s.base_url();
            let sandbox: Box<dyn Any + Send> = Box::new(s);
            (
                Some(sandbox),
                url,
                u.email.clone(),
                u.password.clone(),
                u.server.clone(),
            )
        }
    };
    let creds = Credentials::new(email.as_str(), password.as_str(), server.as_str());
    let session = Session::login(Environment::Custom(url.clone()), &creds).await?;
    Ok(Connected {
        broker: Box::new(unified::TradeLocker::new(session)),
        server: place(sandbox.is_some(), &url),
        _sandbox: sandbox,
        who: format!("{email} on server {server}"),
        symbol: "EURUSD",
        quantity: Decimal::new(1, 2),
        far_limit: Decimal::ONE,
        bank_link: None,
    })
}

async fn autoshares() -> Result<Connected, BoxError> {
    use brokerkit::autoshares::{types, AutoShares};
    let (sandbox, url, key, user, password) = match std::env::var("BROKERKIT_AUTOSHARES_URL") {
        Ok(url) => (
            None,
            url,
            var("BROKERKIT_AUTOSHARES_APP_KEY")?,
            var("BROKERKIT_AUTOSHARES_USERNAME")?,
            var("BROKERKIT_AUTOSHARES_PASSWORD")?,
        ),
        Err(_) => {
            let s = brokerkit_mock::autoshares::start(Default::default()).await?;
            let config = brokerkit_mock::autoshares::Config::default();
            // The user without a second factor (the `autoshares` example shows the two-factor one).
            let u = config
                .users
                .iter()
                .find(|u| u.second_factor.is_none())
                .ok_or("the sandbox has no single-factor user")?;
            let url = s.base_url();
            let sandbox: Box<dyn Any + Send> = Box::new(s);
            (
                Some(sandbox),
                url,
                config.app_key,
                u.login.clone(),
                u.password.clone(),
            )
        }
    };
    let session = AutoShares::new(url.clone(), key)?
        .login_single_factor(&user, password.as_str())
        .await?;
    let broker = unified::AutoShares::new(session);
    // In the sandbox, link a bank account (instant approval) so money can move by ACH.
    let mut bank_link = None;
    if sandbox.is_some() {
        let account: i32 = broker
            .accounts()
            .await?
            .first()
            .ok_or("no account")?
            .id
            .parse()?;
        let body = types::CreateAchRelationshipResource {
            account_number: Some("000123456789".into()),
            account_owner_name: Some("Sandbox Trader".into()),
            approval_method: Some(types::AchApprovalMethodString::Instant.into()),
            bank_account_type: Some("Checking".into()),
            name: Some("Sandbox Bank".into()),
            routing_number: Some("021000021".into()),
        };
        let link = broker
            .session()
            .call(|c| {
                c.create_ach_relationship()
                    .account_id(account)
                    .body(body.clone())
                    .send()
            })
            .await?;
        bank_link = link.into_inner().id.map(|id| id.to_string());
    }
    Ok(Connected {
        broker: Box::new(broker),
        server: place(sandbox.is_some(), &url),
        _sandbox: sandbox,
        who: user,
        symbol: "AAPL",
        quantity: Decimal::ONE,
        far_limit: Decimal::ONE,
        bank_link,
    })
}

async fn traderevolution() -> Result<Connected, BoxError> {
    let (sandbox, url, login, password) = match std::env::var("BROKERKIT_TRADEREVOLUTION_URL") {
        Ok(url) => (
            None,
            url,
            var("BROKERKIT_TRADEREVOLUTION_LOGIN")?,
            var("BROKERKIT_TRADEREVOLUTION_PASSWORD")?,
        ),
        Err(_) => {
            let s = brokerkit_mock::traderevolution::start(Default::default()).await?;
            let admin = &brokerkit_mock::traderevolution::Config::default().users[0];
            let url = s.base_url();
            let sandbox: Box<dyn Any + Send> = Box::new(s);
            (
                Some(sandbox),
                url,
                admin.login.clone(),
                admin.password.clone(),
            )
        }
    };
    let session = brokerkit::traderevolution::Session::builder(url.clone())
        .login(&login, password.as_str())
        .await?;
    Ok(Connected {
        broker: Box::new(unified::TraderEvolution::new(session)),
        server: place(sandbox.is_some(), &url),
        _sandbox: sandbox,
        who: format!("{login} (back office)"),
        symbol: "",
        quantity: Decimal::ONE,
        far_limit: Decimal::ONE,
        bank_link: None,
    })
}

async fn slate() -> Result<Connected, BoxError> {
    let (sandbox, url, email, password) = match std::env::var("BROKERKIT_SLATE_URL") {
        Ok(url) => (
            None,
            url,
            var("BROKERKIT_SLATE_EMAIL")?,
            var("BROKERKIT_SLATE_PASSWORD")?,
        ),
        Err(_) => {
            let s = brokerkit_mock::slate::start(Default::default()).await?;
            let c = &brokerkit_mock::slate::Config::default().customers[0];
            let url = s.base_url();
            let sandbox: Box<dyn Any + Send> = Box::new(s);
            (Some(sandbox), url, c.email.clone(), c.password.clone())
        }
    };
    let session = brokerkit::slate::Session::builder(url.clone()).build()?;
    session.login(&email, password.as_str()).await?;
    Ok(Connected {
        broker: Box::new(unified::Slate::new(session)),
        server: place(sandbox.is_some(), &url),
        _sandbox: sandbox,
        who: format!("{email} (customer)"),
        symbol: "EURUSD",
        quantity: Decimal::new(1, 2),
        far_limit: Decimal::ONE,
        bank_link: None,
    })
}

const NOT_OFFERED: &str = "not offered by this broker";

/// The same steps for every broker, through `&dyn Broker` only.
async fn tour(c: &Connected) -> Result<Report, BoxError> {
    let b = c.broker.as_ref();
    let caps = b.capabilities();
    let sandbox = c._sandbox.is_some();
    let mut report = Report::new(c.server.clone());
    report.row("login", c.who.clone());

    let accounts = b.accounts().await?;
    let account = accounts.first().ok_or("no account")?;
    report.row(
        "accounts",
        format!(
            "{}; using {}",
            count(accounts.len(), "account", "accounts"),
            account.id
        ),
    );
    let before = b.balance(&account.id).await?;
    let cur = Some(before.cash.currency.as_str());
    report.row("balance", money(before.cash.amount, cur));

    let (mut instrument, mut name) = (c.symbol.to_string(), c.symbol.to_string());
    if caps.has(Capability::Instruments) {
        let list = b.instruments(&account.id).await?;
        let found = list
            .iter()
            .find(|i| i.symbol == c.symbol)
            .or(list.first())
            .ok_or("no instrument")?;
        (instrument, name) = (found.id.clone(), found.symbol.clone());
    }
    let mut limit = c.far_limit;
    if caps.has(Capability::Quotes) {
        let q = b.quote(&account.id, &instrument).await?;
        let (bid, ask) = (q.bid.ok_or("no bid")?, q.ask.ok_or("no ask")?);
        limit = (bid * Decimal::new(9, 1)).round_dp(4);
        report.row("quote", format!("{name} bid {bid}, ask {ask}"));
    } else {
        report.row("quote", NOT_OFFERED);
    }

    let trades = caps.has(Capability::LimitOrders) || caps.has(Capability::MarketOrders);
    if !trades {
        report.row("limit order", NOT_OFFERED);
        report.row("market order", NOT_OFFERED);
    } else if !sandbox {
        report.row("limit order", "skipped against a real server");
        report.row("market order", "skipped against a real server");
    } else {
        if caps.has(Capability::LimitOrders) && caps.has(Capability::CancelOrder) {
            let order = OrderRequest::limit(&instrument, Side::Buy, c.quantity, limit);
            let id = b.place_order(&account.id, &order).await?;
            let working = b
                .working_orders(&account.id)
                .await?
                .iter()
                .any(|o| o.id == id);
            b.cancel_order(&account.id, &id).await?;
            report.row(
                "limit order",
                format!(
                    "buy {} at {limit}: order {id}, {}, cancelled",
                    c.quantity,
                    if working { "working" } else { "not listed" }
                ),
            );
        } else {
            report.row(
                "limit order",
                "not placed (this broker cannot cancel orders)",
            );
        }
        let order = OrderRequest::market(&instrument, Side::Buy, c.quantity);
        let id = b.place_order(&account.id, &order).await?;
        let position = b
            .positions(&account.id)
            .await?
            .into_iter()
            .find(|p| p.instrument_id == instrument)
            .ok_or("the order opened no position")?;
        let closed = if caps.has(Capability::ClosePosition) {
            b.close_position(&account.id, &position.id).await?;
            "closed"
        } else {
            // No close call: sell it back with an opposite market order.
            let back = OrderRequest::market(&instrument, Side::Sell, position.quantity);
            b.place_order(&account.id, &back).await?;
            "sold back"
        };
        let after = b.balance(&account.id).await?;
        report.row(
            "market order",
            format!(
                "buy {}: order {id}, position {} at {}, {closed}; balance {}",
                c.quantity,
                position.id,
                position.average_price.map_or("?".into(), |p| p.to_string()),
                money(after.cash.amount, cur)
            ),
        );
    }

    if !caps.has(Capability::Deposit) {
        report.row("money in/out", NOT_OFFERED);
    } else if !sandbox {
        report.row("money in/out", "skipped against a real server");
    } else {
        let mut request = TransferRequest::new(Decimal::new(2_500, 2)).comment("quickstart");
        if let Some(link) = &c.bank_link {
            request = request.bank_link(link);
        }
        let deposit = b.deposit(&account.id, &request).await?;
        let withdrawal = b.withdraw(&account.id, &request).await?;
        let status = |s: &Option<String>| s.clone().unwrap_or_else(|| "booked".into());
        report.row(
            "money in/out",
            format!(
                "deposit {} ({}), withdrawal {} ({})",
                money(deposit.amount.amount, Some(&deposit.amount.currency)),
                status(&deposit.status),
                money(withdrawal.amount.amount, Some(&withdrawal.amount.currency)),
                status(&withdrawal.status)
            ),
        );
    }
    // Whichever list is shorter: what it does, or what it does not.
    let (does, lacks): (Vec<&str>, Vec<&str>) = (
        caps.supported().map(Capability::name).collect(),
        caps.unsupported().map(Capability::name).collect(),
    );
    let of = format!("{} of {}", does.len(), Capability::ALL.len());
    report.row(
        "capabilities",
        if does.len() <= lacks.len() {
            format!("{of}: {}", does.join(", "))
        } else {
            format!("{of}; not: {}", lacks.join(", "))
        },
    );
    Ok(report)
}

async fn run<F>(title: &str, connect: F) -> Result<String, String>
where
    F: std::future::Future<Output = Result<Connected, BoxError>>,
{
    support::render(title, async {
        let connected = connect.await?;
        tour(&connected).await
    })
    .await
}

/// With the `streams` feature: TradeLocker's Streams API subscribed before an order is placed,
/// printing the order, position and account events that order causes (and its close).
// The stream example is included whole (it runs alone too), with its own copy of `support`.
#[cfg(feature = "streams")]
#[allow(clippy::duplicate_mod)]
#[path = "tradelocker_stream.rs"]
mod tradelocker_stream;

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    #[allow(unused_mut)] // one more table with `streams`
    let mut tables = vec![
        run("TradeLocker", tradelocker()).await,
        run("AutoShares", autoshares()).await,
        run("TraderEvolution BackOffice", traderevolution()).await,
        run("Slate Labs", slate()).await,
    ];
    #[cfg(feature = "streams")]
    tables.push(tradelocker_stream::run().await);
    #[cfg(not(feature = "streams"))]
    println!(
        "(the live events these orders cause: `cargo run -p brokerkit --example quickstart --features streams`)\n"
    );
    let mut failed = 0;
    for table in &tables {
        match table {
            Ok(table) => println!("{table}"),
            Err(e) => {
                failed += 1;
                println!("FAILED {e}\n");
            }
        }
    }
    let ms = started.elapsed().as_millis();
    let n = tables.len();
    if failed == 0 {
        println!("{n} tables, all ok, in {ms} ms");
        ExitCode::SUCCESS
    } else {
        println!("{n} tables, {failed} failed, in {ms} ms");
        ExitCode::FAILURE
    }
}
