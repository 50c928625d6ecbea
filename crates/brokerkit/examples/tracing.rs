//! Seeing what the client does: `cargo run -p brokerkit --example tracing`.
//!
//! Every call goes through one pipeline that opens a `tracing` span named `brokerkit.call`
//! with the operation id, method, status, attempt count and elapsed milliseconds — never a
//! URL, a query or a header, so tokens and account ids stay out of your logs. Any subscriber
//! shows them; this one prints each span as it closes. Runs against the embedded TradeLocker
//! sandbox, with a 429 on the first quote to show a retry (attempt=2).

use brokerkit::tradelocker::{Credentials, Environment, Session};
use brokerkit::ClientConfig;
use brokerkit_mock::Fault;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // brokerkit's own spans and events only, not the HTTP stack's.
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_span_events(FmtSpan::CLOSE)
                .with_target(false)
                .with_ansi(false)
                .without_time(),
        )
        .with(Targets::new().with_target("brokerkit_runtime", tracing::Level::DEBUG))
        .init();

    let sandbox = brokerkit_mock::tradelocker::start(Default::default()).await?;
    let session = Session::builder(Environment::Custom(sandbox.base_url()))
        .config(ClientConfig::default().user_agent("tracing-example/1"))
        .login(&Credentials::new(
            "trader@example.com",
            "demo-password",
            "OSP-DEMO",
        ))
        .await?;
    let account = session.accounts().await?.remove(0);
    session.select_account(&account);

    sandbox.faults.inject_times(
        "GET",
        "/trade/quotes",
        Fault::RateLimited {
            retry_after_secs: 0,
            body: "{}".into(),
        },
        1,
    );
    let quote = session.quote(278, 948734).await?;
    println!("EURUSD bid {} ask {}", quote.bp, quote.ap);
    Ok(())
}
