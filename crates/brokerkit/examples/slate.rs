//! Slate Labs customer session: `cargo run -p brokerkit --example slate`.
//!
//! Runs against the embedded sandbox, or against a real broker when `BROKERKIT_SLATE_URL`
//! (`https://api.{your-broker}.slate-labs.com`), `BROKERKIT_SLATE_EMAIL` and
//! `BROKERKIT_SLATE_PASSWORD` are set. It only reads and runs an order preflight.

use brokerkit::slate::{types, Session};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn demo() -> Result<Vec<String>, BoxError> {
    let mut report = Vec::new();
    let (_sandbox, url, email, password) = match std::env::var("BROKERKIT_SLATE_URL") {
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
            (
                Some(sandbox),
                url,
                "trader@example.com".to_string(),
                "correct horse".to_string(),
            )
        }
    };
    report.push(format!("server {url}"));
    let session = Session::new(&url);
    let login = session.login(&email, password.as_str()).await?;
    report.push(format!(
        "logged in; token type {:?} (claims read without verifying the signature)",
        login.claims.token_type
    ));
    let account = session
        .primary_login()
        .ok_or("the token names no primary account")?;
    let summary = session.account_summary(Some(&account)).await?;
    report.push(format!(
        "account {account}: balance {:?} {:?}",
        summary.balance, summary.currency
    ));
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
    report.push(format!(
        "preflight EURUSD open: block {:?}; {:?} calls left this minute",
        reply.value.block, reply.rate_limit.remaining
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
