// The README's Slate Labs example: `cargo run -p brokerkit --example readme_slate`.
use brokerkit::slate::{types, Error, Session, TokenType};
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The loopback sandbox and its customer. For a real broker, its own host
    // (https://api.{your-broker}.slate-labs.com) and your e-mail and password.
    let sandbox = brokerkit_mock::slate::start(Default::default()).await?;
    let session = Session::new(&sandbox.base_url());
    let login = session.login("trader@example.com", "correct horse").await?;

    // Claims are read from the JWT WITHOUT checking its signature: use them for routing only.
    assert_eq!(login.claims.token_type, Some(TokenType::Customer));
    let account = session
        .primary_login()
        .ok_or("the token names no primary account")?;

    // Exact decimals in and out.
    let summary = session.account_summary(Some(&account)).await?;
    let (balance, currency) = (
        summary.balance.unwrap_or_default(),
        summary.currency.unwrap_or_default(),
    );
    println!("account {account}: {balance} {currency}");
    let receipt = session
        .withdraw(Decimal::new(2550, 2), Default::default(), Some("payout"))
        .await?;
    println!(
        "{} requested, {} still withdrawable",
        receipt.amount, receipt.max_withdrawable
    );

    // Any generated operation: bearer token, renewal on expiry, rate-limit headers of the answer.
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
    let verdict = reply
        .value
        .block
        .map_or("allowed".into(), |b| format!("blocked ({b})"));
    let left = reply.rate_limit.remaining.unwrap_or_default();
    println!("opening EURUSD is {verdict}; {left} calls left this minute");

    // FastAPI's 422 is typed: every invalid field with its location.
    // (Zero or less never leaves the client: that is `Error::Amount`.)
    match session
        .withdraw(Decimal::new(1, 3), Default::default(), None)
        .await
    {
        Err(Error::Validation(v)) => {
            for e in &v.errors {
                println!("{}: {}", e.path(), e.message); // body.amount: Input should be greater than or equal to 0.01
            }
        }
        Ok(_) => println!("the server accepted a withdrawal of 0.001"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
