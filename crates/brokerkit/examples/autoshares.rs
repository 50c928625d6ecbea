//! AutoShares with a two-factor login: `cargo run -p brokerkit --example autoshares`.
//!
//! Runs against the embedded sandbox (whose user `twofactor` gets an e-mailed code, `845213`),
//! or against a real AutoShares / ETNA backend when `BROKERKIT_AUTOSHARES_URL`
//! (`https://<environment>.etnasoft.us/api`), `BROKERKIT_AUTOSHARES_APP_KEY`,
//! `BROKERKIT_AUTOSHARES_USERNAME` and `BROKERKIT_AUTOSHARES_PASSWORD` are set; a second factor
//! is then read from `BROKERKIT_AUTOSHARES_CODE`. Against a real backend it only previews an
//! order; in the sandbox it also places one and sells it back.

use brokerkit::autoshares::orders::{OrderRequest, Side};
use brokerkit::autoshares::prelude::*;
use rust_decimal::Decimal;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn demo() -> Result<Vec<String>, BoxError> {
    let mut report = Vec::new();
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
            let url = sandbox.base_url();
            (
                Some(sandbox),
                url,
                "sandbox-app-key".into(),
                "twofactor".into(),
                "twofactor-pass".into(),
            )
        }
    };
    report.push(format!("server {url}"));
    let api = AutoShares::new(url, key)?;
    let session = match api.login(&user, password.as_str()).await? {
        Login::Session(session) => session,
        Login::Challenge(challenge) => {
            report.push(format!(
                "two-factor challenge: the server asks for {}",
                challenge.step()
            ));
            let code = if real.is_some() {
                var("BROKERKIT_AUTOSHARES_CODE")?
            } else {
                "845213".into()
            };
            challenge.answer(code).await?.into_session()?
        }
    };
    let accounts = session.accounts().await?;
    let account = accounts.first().and_then(|a| a.id).ok_or("no account")?;
    report.push(format!("{} accounts; using {account}", accounts.len()));

    let equity = session
        .call(|c| c.get_equity().id_or_symbol("AAPL").send())
        .await?;
    report.push(format!(
        "instrument {:?}: {:?} on {:?}",
        equity.symbol, equity.description, equity.exchange
    ));

    let order = OrderRequest::market("AAPL", Side::Buy, Decimal::from(2));
    let preview = session.preview_order(account, &order).await?;
    report.push(format!(
        "preview: buy 2 AAPL costs {:?} (commission {:?})",
        preview.total_cost, preview.commission
    ));
    if real.is_none() {
        let placed = session.place_order(account, &order).await?;
        report.push(format!("placed order {} -> {:?}", placed.id, placed.status));
        let sell = OrderRequest::market("AAPL", Side::Sell, Decimal::from(2));
        let closed = session.place_order(account, &sell).await?;
        report.push(format!(
            "sold back with order {} -> {:?}",
            closed.id, closed.status
        ));
    }
    session.logout().await?;
    report.push("logged out".into());
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
