//! A path parameter never changes the target: every hostile id reaches the intended route as
//! one segment holding exactly the id, or is refused with `Error::Path` before sending.

mod common;

use brokerkit_mock::hostile;
use brokerkit_slate::Error;
use brokerkit_slate::Failure;
use common::{customer, sandbox, staff};

fn refused<T>(result: &Result<T, Error>) -> Option<&'static str> {
    match result {
        Err(Error::Failure(Failure::Path(e))) => Some(e.refused().value()),
        _ => None,
    }
}

#[tokio::test]
async fn hostile_logins_never_read_another_account() {
    let server = sandbox().await;
    let trader = customer(&server).await;
    // 100002 is another customer's account: `x\..\100002` once read it.
    for id in hostile::ids("100002") {
        let before = server.hits.snapshot();
        let result = trader.account_summary(Some(&id)).await;
        let sent = hostile::new_requests(&before, &server.hits.snapshot());
        let outcome = hostile::judge(&sent, &id, "GET /accounts/", "/state", refused(&result));
        assert!(result.is_err(), "{id:?} read an account");
        println!("slate account_summary {id:?}: {outcome}");
    }
    assert_eq!(trader.account_summary(None).await.unwrap().login, "100001");
}

#[tokio::test]
async fn hostile_symbols_in_a_generated_call_stay_one_segment() {
    let server = sandbox().await;
    let staff = staff(&server).await;
    for id in hostile::ids("EURUSD") {
        let before = server.hits.snapshot();
        let symbol = id.clone();
        let result = staff
            .call(|c| {
                let symbol = symbol.clone();
                async move { c.get_instrument().symbol(symbol).send().await }
            })
            .await;
        let sent = hostile::new_requests(&before, &server.hits.snapshot());
        let outcome = hostile::judge(&sent, &id, "GET /instruments/", "", refused(&result));
        assert!(result.is_err(), "{id:?} found an instrument");
        println!("slate get_instrument {id:?}: {outcome}");
    }
}
