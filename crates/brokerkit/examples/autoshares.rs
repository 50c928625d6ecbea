//! AutoShares with a two-factor login: `cargo run -p brokerkit --example autoshares`.
//!
//! Runs against the embedded sandbox (whose user `twofactor` gets an e-mailed code), or against
//! a real AutoShares / ETNA backend when `BROKERKIT_AUTOSHARES_URL`
//! (`https://<environment>.etnasoft.us/api`), `BROKERKIT_AUTOSHARES_APP_KEY`,
//! `BROKERKIT_AUTOSHARES_USERNAME` and `BROKERKIT_AUTOSHARES_PASSWORD` are set; a second factor
//! is then read from `BROKERKIT_AUTOSHARES_CODE`. Against a real backend it only previews an
//! order; in the sandbox it also places one and sells it back.

#[path = "support/mod.rs"]
mod support;

use brokerkit::autoshares::orders::{OrderRequest, Side};
use brokerkit::autoshares::prelude::*;
use brokerkit_mock::autoshares::SecondFactor;
use rust_decimal::Decimal;
use support::{count, money, BoxError, Report};

const TITLE: &str = "AutoShares (two-factor login)";

async fn demo() -> Result<Report, BoxError> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let real = std::env::var("BROKERKIT_AUTOSHARES_URL").ok();
    let (_sandbox, url, key, user, password, code) = match real.clone() {
        Some(url) => (
            None,
            url,
            var("BROKERKIT_AUTOSHARES_APP_KEY")?,
            var("BROKERKIT_AUTOSHARES_USERNAME")?,
            var("BROKERKIT_AUTOSHARES_PASSWORD")?,
            std::env::var("BROKERKIT_AUTOSHARES_CODE").ok(),
        ),
        None => {
            let sandbox = brokerkit_mock::autoshares::start(Default::default()).await?;
            let url = sandbox.base_url();
            // The sandbox's user with an e-mailed code, as its own configuration has it.
            let config = brokerkit_mock::autoshares::Config::default();
            let u = config
                .users
                .iter()
                .find(|u| matches!(u.second_factor, Some(SecondFactor::VerificationCode(_))))
                .ok_or("the sandbox has no two-factor user")?;
            let Some(SecondFactor::VerificationCode(code)) = u.second_factor.clone() else {
                unreachable!("found above")
            };
            let (login, password) = (u.login.clone(), u.password.clone());
            (
                Some(sandbox),
                url,
                config.app_key,
                login,
                password,
                Some(code),
            )
        }
    };
    let mut report = Report::new(format!(
        "{} {url}",
        if real.is_none() { "sandbox" } else { "server" }
    ));
    let api = AutoShares::new(url, key)?;
    let session = match api.login(&user, password.as_str()).await? {
        Login::Session(session) => {
            report.row("login", format!("{user}, no second factor asked"));
            session
        }
        Login::Challenge(challenge) => {
            let step = match challenge.step() {
                ChallengeStep::VerificationCode => "the e-mailed code".to_string(),
                ChallengeStep::SecurityPin => "the PIN".to_string(),
                other => format!("step {other}"),
            };
            let code =
                code.ok_or("the server asks for a second factor: set BROKERKIT_AUTOSHARES_CODE")?;
            let session = challenge.answer(code).await?.into_session()?;
            report.row("login", format!("{user}, second factor ({step}) answered"));
            session
        }
    };
    let accounts = session.accounts().await?;
    let first = accounts.first().ok_or("no account")?;
    let account = first.id.ok_or("the account has no id")?;
    let currency = first.currency.clone();
    let currency = currency.as_deref();
    report.row(
        "accounts",
        format!(
            "{}; using {account}",
            count(accounts.len(), "account", "accounts")
        ),
    );

    let equity = session
        .call(|c| c.get_equity().id_or_symbol("AAPL").send())
        .await?;
    report.row(
        "security",
        format!(
            "{}: {} on {}",
            equity.symbol.as_deref().unwrap_or("AAPL"),
            equity.description.as_deref().unwrap_or("(no description)"),
            equity.exchange.as_deref().unwrap_or("an unnamed exchange"),
        ),
    );

    let qty = Decimal::from(2);
    let order = OrderRequest::market("AAPL", Side::Buy, qty);
    let preview = session.preview_order(account, &order).await?;
    let amount = |d: Option<Decimal>| d.map_or("not given".into(), |d| money(d, currency));
    report.row(
        "preview",
        format!(
            "buy {qty} AAPL: {} including {} commission",
            amount(preview.total_cost),
            amount(preview.commission)
        ),
    );
    if real.is_none() {
        let status = |s: Option<String>| s.unwrap_or_else(|| "status not given".into());
        let placed = session.place_order(account, &order).await?;
        report.row(
            "buy",
            format!("order {}: {}", placed.id, status(placed.status)),
        );
        let sell = OrderRequest::market("AAPL", Side::Sell, qty);
        let closed = session.place_order(account, &sell).await?;
        report.row(
            "sell",
            format!("order {}: {}", closed.id, status(closed.status)),
        );
    }
    session.logout().await?;
    report.row("logout", "token revoked");
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
