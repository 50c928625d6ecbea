//! TraderEvolution BackOffice: `cargo run -p brokerkit --example traderevolution`.
//!
//! Runs against the embedded sandbox, or against a real BackOffice when
//! `BROKERKIT_TRADEREVOLUTION_URL` (e.g. `https://host:8443/proftrading/rest`),
//! `BROKERKIT_TRADEREVOLUTION_LOGIN` and `BROKERKIT_TRADEREVOLUTION_PASSWORD` are set. It only
//! reads against a real server (the BackOffice API does not trade).

#[path = "support/mod.rs"]
mod support;

use brokerkit::traderevolution::Session;
use rust_decimal::Decimal;
use support::{count, money, BoxError, Report};

const TITLE: &str = "TraderEvolution BackOffice";

async fn demo() -> Result<Report, BoxError> {
    let real = std::env::var("BROKERKIT_TRADEREVOLUTION_URL").ok();
    let (_sandbox, url, login, password) = match real.clone() {
        Some(url) => {
            let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
            (
                None,
                url,
                var("BROKERKIT_TRADEREVOLUTION_LOGIN")?,
                var("BROKERKIT_TRADEREVOLUTION_PASSWORD")?,
            )
        }
        None => {
            let sandbox = brokerkit_mock::traderevolution::start(Default::default()).await?;
            let url = sandbox.base_url();
            let admin = &brokerkit_mock::traderevolution::Config::default().users[0];
            let (login, password) = (admin.login.clone(), admin.password.clone());
            (Some(sandbox), url, login, password)
        }
    };
    let mut report = Report::new(format!(
        "{} {url}",
        if real.is_none() { "sandbox" } else { "server" }
    ));
    let session = Session::login(&url, &login, password.as_str()).await?;
    report.row("login", login.to_string());

    let accounts = session
        .call(|c| c.list_accounts().limit(10u32).send())
        .await?;
    let Some(account) = accounts.first() else {
        report.row("accounts", "no trading accounts");
        return Ok(report);
    };
    let assets = session.call(|c| c.list_assets().send()).await?;
    let currency = assets
        .iter()
        .find(|a| a.id.is_some() && a.id == account.currency_id)
        .map(|a| a.name.clone());
    let currency = currency.as_deref();
    report.row(
        "accounts",
        format!(
            "{}; using {} ({})",
            count(accounts.len(), "trading account", "trading accounts"),
            account.id,
            account.account_name.as_deref().unwrap_or("unnamed"),
        ),
    );
    let balance = |b: Option<Decimal>| b.map_or("not given".into(), |b| money(b, currency));
    report.row(
        "balance",
        balance(session.account_balance(account.id).await?),
    );
    if real.is_none() {
        let amount = Decimal::new(10_000, 2);
        session
            .deposit(account.id, amount, Some("quickstart"))
            .await?;
        report.row(
            "deposit",
            format!(
                "{} -> balance {}",
                money(amount, currency),
                balance(session.account_balance(account.id).await?)
            ),
        );
    }
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
