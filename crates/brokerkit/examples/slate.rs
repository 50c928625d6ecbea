//! Slate Labs customer session: `cargo run -p brokerkit --example slate`.
//!
//! Runs against the embedded sandbox, or against a real broker when `BROKERKIT_SLATE_URL`
//! (`https://api.{your-broker}.slate-labs.com`), `BROKERKIT_SLATE_EMAIL` and
//! `BROKERKIT_SLATE_PASSWORD` are set. It only reads and runs an order preflight.

#[path = "support/mod.rs"]
mod support;

use brokerkit::slate::{types, Session, TokenType};
use support::{money, BoxError, Report};

const TITLE: &str = "Slate Labs";

async fn demo() -> Result<Report, BoxError> {
    let (sandbox, url, email, password) = match std::env::var("BROKERKIT_SLATE_URL") {
        Ok(url) => {
            let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
            (
                None,
                url,
                var("BROKERKIT_SLATE_EMAIL")?,
                var("BROKERKIT_SLATE_PASSWORD")?,
            )
        }
        Err(_) => {
            let sandbox = brokerkit_mock::slate::start(Default::default()).await?;
            let url = sandbox.base_url();
            let customer = &brokerkit_mock::slate::Config::default().customers[0];
            let (email, password) = (customer.email.clone(), customer.password.clone());
            (Some(sandbox), url, email, password)
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
    let session = Session::new(&url);
    let login = session.login(&email, password.as_str()).await?;
    let kind = match &login.claims.token_type {
        Some(TokenType::Customer) => "customer".to_string(),
        Some(TokenType::User) => "staff".to_string(),
        Some(TokenType::Other(t)) => t.clone(),
        None => "untyped".to_string(),
        Some(_) => "other".to_string(),
    };
    report.row(
        "login",
        format!("{email}, {kind} token (claims read without verifying the signature)"),
    );
    let account = session
        .primary_login()
        .ok_or("the token names no primary account")?;
    let summary = session.account_summary(Some(&account)).await?;
    let balance = summary.balance.map_or("not given".into(), |b| {
        money(b, summary.currency.as_deref())
    });
    report.row("account", format!("{account}, balance {balance}"));

    let check = types::PreflightRequest {
        symbol: "EURUSD".parse()?,
        action: types::PreflightActionString::Open.into(),
        requested_at: None,
    };
    let reply = session
        .call(|c| {
            let body = check.clone();
            async move { c.preflight_order().body(body).send().await }
        })
        .await?;
    let verdict = match &reply.value.block {
        None => "allowed".to_string(),
        Some(block) => format!("blocked ({block})"),
    };
    let left = reply
        .rate_limit
        .remaining
        .map_or(String::new(), |n| format!("; {n} calls left this minute"));
    report.row("preflight", format!("open EURUSD: {verdict}{left}"));
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
