// The README's TraderEvolution example: `cargo run -p brokerkit --example readme_traderevolution`.
use brokerkit::traderevolution::{
    Error, KnownCode, NewOperation, OperationType, ReportQuery, Session,
};
use rust_decimal::Decimal;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The loopback sandbox and its administrator. For a real BackOffice:
    // server_url("<your host>") and your own login and password.
    let sandbox = brokerkit_mock::traderevolution::start(Default::default()).await?;
    let session = Session::login(&sandbox.base_url(), "admin", "admin-pass").await?;

    // Money movements with exact decimals; the sign selects credit or debit.
    let account_id = 3243753; // the sandbox's trading account
    session
        .deposit(account_id, Decimal::new(100010, 2), Some("Welcome bonus"))
        .await?;
    let adjustment = NewOperation::new(account_id, OperationType::Adjustment, Decimal::new(-10, 2));
    session.create_operation(&adjustment).await?;
    let balance = session
        .account_balance(account_id)
        .await?
        .unwrap_or_default();
    println!("balance {balance}"); // 1000

    // Any generated operation, with the session's token.
    let accounts = session
        .call(|c| c.list_accounts().limit(10u32).send())
        .await?;
    println!("trading accounts: {}", accounts.len());

    // Reports come back as a table of named columns.
    let statement = session
        .run_report(&ReportQuery::new(119).account(account_id))
        .await?;
    let closing = statement.decimal(0, "Balance")?.unwrap_or_default();
    println!("statement rows: {}, balance {closing}", statement.len());

    // Dotted error codes are typed.
    match session.run_report(&ReportQuery::new(119)).await {
        Err(Error::Api(e))
            if e.code.as_ref().and_then(|c| c.known()) == Some(KnownCode::ReportFilterMissing) =>
        {
            println!("this report needs an account filter (code 1.6.2.2)")
        }
        Ok(_) => println!("the report ran without an account filter"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
