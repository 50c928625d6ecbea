//! Faults a careful user tries before trusting the client with real money: a re-login that
//! keeps failing under load, direct client calls after expiry, a withdrawal whose answer is
//! lost, the autologin token in a URL, off-schema login answers.

mod common;

use brokerkit_mock::Fault;
use brokerkit_slate::{BrokerError, Failure};
use brokerkit_slate::{Error, Session};
use common::*;
use rust_decimal::Decimal;

#[tokio::test]
async fn a_failing_relogin_is_tried_at_most_twice_for_a_thousand_callers() {
    let server = sandbox().await;
    let session = customer(&server).await;
    server
        .faults
        .inject("/customers/login", Fault::ServerError(500));
    server.expire_all_tokens();
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.me().await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::Failure(Failure::Renewal(e)) if e.status == Some(500)),
            "{err:?}"
        );
    }
    let relogins = server.hits.get("POST", "/customers/login") - 1;
    assert!(relogins <= 2, "{relogins} password logins");
}

#[tokio::test]
async fn direct_client_calls_renew_on_a_401_too() {
    let server = sandbox().await;
    let session = customer(&server).await;
    server.expire_all_tokens();
    let me = session.client().get_me().send().await.unwrap().into_inner();
    assert_eq!(me.email, EMAIL);
    assert_eq!(
        server.hits.get("POST", "/customers/login"),
        2,
        "one re-login"
    );
}

#[tokio::test]
async fn a_withdrawal_whose_answer_is_lost_is_not_resent_and_says_so() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let before = session
        .call(|c| async move { c.list_my_transactions().send().await })
        .await
        .unwrap()
        .value
        .len();
    server
        .faults
        .inject_times("POST", "/customers/me/withdraw", Fault::ExecuteThenDrop, 1);
    let err = session
        .withdraw(Decimal::new(1010, 2), Default::default(), None)
        .await
        .unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(
        server.hits.get("POST", "/customers/me/withdraw"),
        1,
        "sent once"
    );
    let after = session
        .call(|c| async move { c.list_my_transactions().send().await })
        .await
        .unwrap()
        .value
        .len();
    assert_eq!(after, before + 1, "the withdrawal was filed");
}

#[tokio::test]
async fn the_autologin_token_never_shows_in_an_error() {
    const ONE_TIME: &str = "al_0123456789abcdef0123456789abcdef";
    let server = sandbox().await;
    for fault in [Some(Fault::Drop), Some(Fault::Malformed), None] {
        server.faults.clear();
        if let Some(fault) = fault {
            server.faults.inject("/auth/autologin", fault);
        }
        let session = Session::new(&server.base_url());
        let err = session.autologin(ONE_TIME).await.unwrap_err();
        let printed = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
        assert!(!printed.contains(ONE_TIME), "{printed}");
    }
    // Nor when the server cannot be reached at all.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let session = Session::new(&format!("http://127.0.0.1:{port}"));
    let err = session.autologin(ONE_TIME).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Connection(_))),
        "{err:?}"
    );
    let printed = format!("{err} {err:?} {:?}", std::error::Error::source(&err));
    assert!(!printed.contains(ONE_TIME), "{printed}");
}

const ACCESS: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.bGVha2VkLWFjY2Vzcw";

#[tokio::test]
async fn off_schema_login_answers_never_print_the_token() {
    let server = sandbox().await;
    for body in [
        format!(r#"{{"access_token":"{ACCESS}"}}"#),
        format!(r#"{{"access_token":"{ACCESS}","customer":7}}"#),
        format!(r#"{{"token":"{ACCESS}","customer":{{}}}}"#),
    ] {
        server.faults.clear();
        server
            .faults
            .inject("/customers/login", Fault::Respond { status: 200, body });
        let session = Session::new(&server.base_url());
        let err = session.login(EMAIL, PASSWORD).await.unwrap_err();
        let printed = format!("{err} {err:?}");
        assert!(
            matches!(
                err,
                Error::Failure(Failure::Decode {
                    status: Some(200),
                    ..
                })
            ),
            "{printed}"
        );
        assert!(!printed.contains("bGVha2Vk"), "{printed}");
        assert!(!printed.contains(PASSWORD), "{printed}");
    }
}
