use brokerkit::tradelocker::{Credentials, Environment, Session};
use brokerkit::{BrokerError, ClientConfig};
use brokerkit_mock::Fault;

/// What a bot does after a failed call, whichever broker it talks to.
fn next_step(e: &impl BrokerError) -> &'static str {
    if e.may_have_executed() {
        "read orders back before sending again"
    } else if let Some(wait) = e.rate_limit().and_then(|r| r.retry_after) {
        if wait.as_secs() < 60 {
            "wait, then retry"
        } else {
            "back off"
        }
    } else if e.login_required() {
        "log in again"
    } else if e.is_transient() {
        "retry later"
    } else {
        "report it"
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = brokerkit_mock::tradelocker::start(Default::default()).await?;
    let creds = Credentials::new("trader@example.com", "demo-password", "OSP-DEMO");
    let session = Session::builder(Environment::Custom(sandbox.base_url()))
        .config(ClientConfig::default().retry(brokerkit::runtime::call::Retry::off()))
        .login(&creds)
        .await?;
    session.select_account(&session.accounts().await?[0]);

    // The sandbox refuses the next quote with a 429 and `Retry-After: 2`.
    let refusal = Fault::RateLimited {
        retry_after_secs: 2,
        body: "{}".into(),
    };
    sandbox
        .faults
        .inject_times("GET", "/trade/quotes", refusal, 1);
    let err = session.quote(278, 948734).await.unwrap_err();
    println!("{err}\n-> {}", next_step(&err));
    Ok(())
}
