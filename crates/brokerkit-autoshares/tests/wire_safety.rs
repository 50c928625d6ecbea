//! Faults a careful user tries before trusting the client with real money: a re-login that
//! keeps failing under load, an answer lost after the order executed, off-schema token answers,
//! undecodable answers.

mod common;

use brokerkit_autoshares::orders::{OrderRequest, Side};
use brokerkit_autoshares::Error;
use brokerkit_autoshares::{BrokerError, Failure};
use brokerkit_mock::Fault;
use common::*;
use rust_decimal_macros::dec;

#[tokio::test]
async fn a_failing_relogin_is_tried_at_most_twice_for_a_thousand_callers() {
    let server = sandbox().await;
    let session = trader(&server).await;
    // A wrong password: every password login is refused, the thing that locks accounts.
    session.relogin_with_password("not-the-password");
    server.expire_tokens();
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.user_info().await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::Failure(Failure::Renewal(e)) if e.status == Some(401)),
            "{err:?}"
        );
    }
    let relogins = server.hits.get("POST", "/token") - 1;
    assert!(relogins <= 2, "{relogins} password logins");
}

#[tokio::test]
async fn an_order_whose_answer_is_lost_is_not_resent_and_says_so() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let path = format!("/v1.0/accounts/{TRADER_ACCOUNT}/orders");
    server
        .faults
        .inject_times("POST", &path, Fault::ExecuteThenDrop, 1);
    let order = OrderRequest::market("AAPL", Side::Buy, dec!(10));
    let err = session
        .place_order(TRADER_ACCOUNT, &order)
        .await
        .unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(server.hits.get("POST", &path), 1, "sent exactly once");
    assert_eq!(
        server.position(TRADER_ACCOUNT, "AAPL"),
        dec!(10),
        "it did execute"
    );
}

#[tokio::test]
async fn an_undecodable_success_keeps_its_status() {
    let server = sandbox().await;
    let session = trader(&server).await;
    server
        .faults
        .inject("/v1.0/users/@me/info", Fault::Malformed);
    match session.user_info().await.unwrap_err() {
        Error::Failure(Failure::Decode { status, .. }) => assert_eq!(status, Some(200)),
        other => panic!("{other:?}"),
    }
}

const ACCESS: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.bGVha2VkLWFjY2Vzcw";

#[tokio::test]
async fn off_schema_token_answers_never_print_the_token() {
    let server = sandbox().await;
    let api = api(&server);
    let mut failed = 0;
    for body in [
        format!(r#"{{"State":"Succeeded","Token":{{"nested":"{ACCESS}"}}}}"#),
        format!(r#"{{"State":7,"Token":"{ACCESS}"}}"#),
        format!(r#"{{"token":"{ACCESS}","refresh_token":"opaque-refresh-value"}}"#),
        format!(r#"[{{"AccessToken":"{ACCESS}"}}]"#),
    ] {
        server.faults.clear();
        server
            .faults
            .inject("/token", Fault::Respond { status: 200, body });
        let Err(err) = api.login(TRADER.0, TRADER.1).await else {
            continue;
        };
        failed += 1;
        let printed = format!("{err} {err:?}");
        assert!(!printed.contains("bGVha2Vk"), "{printed}");
        assert!(!printed.contains("opaque-refresh-value"), "{printed}");
    }
    assert!(
        failed >= 3,
        "only {failed} of the off-schema answers failed to decode"
    );
}
