// The README's AutoShares example: `cargo run -p brokerkit --example readme_autoshares`.
use brokerkit::autoshares::filter::{field, Filter};
use brokerkit::autoshares::orders::{OrderRequest, Side};
use brokerkit::autoshares::prelude::*;
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The loopback sandbox, its app key and its two-factor user. For a real backend:
    // etna_base_url("<environment>"), your app key, user name and password.
    let sandbox = brokerkit_mock::autoshares::start(Default::default()).await?;
    let api = AutoShares::new(sandbox.base_url(), "sandbox-app-key")?;
    let session = match api.login("twofactor", "twofactor-pass").await? {
        Login::Session(session) => session,
        // Two-factor users answer the step the server names (e-mailed code or PIN).
        Login::Challenge(challenge) => {
            println!("AutoShares asks for {}", challenge.step());
            let code = "845213"; // the code the sandbox "e-mails"
            challenge.answer(code).await?.into_session()?
        }
    };
    let account = session.accounts().await?[0].id.ok_or("no account id")?;

    // Verify, then place; a refusal (HTTP 200, IsSuccessful false) is Error::Rejected.
    let limit: Decimal = "151.00".parse()?;
    let order = OrderRequest::limit("AAPL", Side::Buy, Decimal::from(10), limit);
    match session.submit_order(account, &order).await {
        Ok((preview, placed)) => {
            let commission = preview.commission.unwrap_or_default();
            println!("order {} placed, commission {commission} USD", placed.id);
        }
        Err(Error::Rejected(r)) => println!("refused: {} {}", r.code, r.args.join(", ")),
        Err(e) => return Err(e.into()),
    }

    // Pages are fetched as the stream is read; filter values are escaped.
    let filled = Filter::new()
        .and(field("Symbol").eq("AAPL"))
        .and(field("Status").eq(2));
    let orders: Vec<_> = session
        .orders(account, ListQuery::new().filter(filled))
        .try_collect()
        .await?;
    println!("filled AAPL orders: {}", orders.len());

    // Any of the 129 operations: app key and token are added, errors are typed.
    let aapl = session
        .call(|c| c.get_equity().id_or_symbol("AAPL").send())
        .await?
        .value;
    println!(
        "{} trades on {}",
        aapl.symbol.unwrap_or_default(),
        aapl.exchange.unwrap_or_default()
    );
    session.logout().await?;
    Ok(())
}
