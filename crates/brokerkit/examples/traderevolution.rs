//! TraderEvolution BackOffice: `cargo run -p brokerkit --example traderevolution`.
//!
//! Runs against the embedded sandbox, or against a real BackOffice when
//! `BROKERKIT_TRADEREVOLUTION_URL` (e.g. `https://host:8443/proftrading/rest`),
//! `BROKERKIT_TRADEREVOLUTION_LOGIN` and `BROKERKIT_TRADEREVOLUTION_PASSWORD` are set. It only
//! reads against a real server (the BackOffice API does not trade).

use brokerkit::traderevolution::Session;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn demo() -> Result<Vec<String>, BoxError> {
    let mut report = Vec::new();
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
            (
                Some(sandbox),
                url,
                "admin".to_string(),
                "admin-pass".to_string(),
            )
        }
    };
    report.push(format!("server {url}"));
    let session = Session::login(&url, &login, password.as_str()).await?;
    let accounts = session
        .call(|c| c.list_accounts().limit(10u32).send())
        .await?;
    report.push(format!("{} trading accounts", accounts.len()));
    let Some(account_id) = accounts.first().map(|a| a.id) else {
        report.push("no account to show".into());
        return Ok(report);
    };
    report.push(format!(
        "account {account_id}: balance {:?}",
        session.account_balance(account_id).await?
    ));
    if real.is_none() {
        session
            .deposit(
                account_id,
                rust_decimal::Decimal::new(10_000, 2),
                Some("quickstart"),
            )
            .await?;
        report.push(format!(
            "deposited 100.00 -> balance {:?}",
            session.account_balance(account_id).await?
        ));
    }
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
