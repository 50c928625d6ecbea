//! Faults a careful user tries before trusting the client with real money: a renewal that
//! keeps failing under load, an answer lost after the money moved, off-schema token answers,
//! undecodable answers, a login that tries to add a filter condition.

use brokerkit_mock::traderevolution::{self as mock, Config};
use brokerkit_mock::Fault;
use brokerkit_traderevolution::{BrokerError, Failure};
use brokerkit_traderevolution::{Error, Session};
use rust_decimal::Decimal;

const ACCOUNT: i64 = 3_243_753;

async fn admin(server: &mock::Server) -> Session {
    Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .expect("login")
}

#[tokio::test]
async fn a_failing_renewal_is_tried_at_most_twice_for_a_thousand_callers() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    // The refresh token is refused and logging in again fails too: the worst case, since each
    // attempt is a refresh plus a password login.
    server
        .faults
        .inject("/auth/token/refresh", Fault::ServerError(500));
    server.revoke_access_tokens();
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.call(|c| c.list_assets().send()).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::Failure(Failure::Renewal(e)) if e.status == Some(500)),
            "{err:?}"
        );
    }
    let renewals = server.hits.get("GET", "/auth/token/refresh");
    assert!(renewals <= 2, "{renewals} renewal requests");
    assert_eq!(
        server.hits.get("POST", "/auth/token"),
        1,
        "no password logins"
    );
}

#[tokio::test]
async fn a_refused_refresh_and_a_failing_login_are_not_repeated_per_caller() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    server.expire_refresh_tokens();
    server.revoke_access_tokens();
    server
        .faults
        .inject_times("POST", "/auth/token", Fault::ServerError(503), 100);
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.call(|c| c.list_assets().send()).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Failure(Failure::Renewal(_))),
            "{err:?}"
        );
    }
    let logins = server.hits.get("POST", "/auth/token") - 1;
    let refreshes = server.hits.get("GET", "/auth/token/refresh");
    assert!(
        logins <= 2 && refreshes <= 2,
        "{refreshes} refreshes, {logins} logins"
    );
}

#[tokio::test]
async fn a_deposit_whose_answer_is_lost_is_not_resent_and_says_so() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    let before = server.balance(ACCOUNT).unwrap();
    server
        .faults
        .inject_times("POST", "/accountOperations", Fault::ExecuteThenDrop, 1);
    let err = session
        .deposit(ACCOUNT, Decimal::new(2500, 2), None)
        .await
        .unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(
        server.hits.get("POST", "/accountOperations"),
        1,
        "sent once"
    );
    assert_eq!(
        server.balance(ACCOUNT).unwrap(),
        before + Decimal::new(2500, 2),
        "the money moved"
    );
}

#[tokio::test]
async fn an_undecodable_success_keeps_its_status() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    server.faults.inject("/assets", Fault::Malformed);
    match session.call(|c| c.list_assets().send()).await.unwrap_err() {
        Error::Failure(Failure::Decode { status, .. }) => assert_eq!(status, Some(200)),
        other => panic!("{other:?}"),
    }
}

const ACCESS: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.bGVha2VkLWFjY2Vzcw";

#[tokio::test]
async fn off_schema_token_answers_never_print_the_tokens() {
    let server = mock::start(Config::default()).await.unwrap();
    for body in [
        format!(r#"{{"accessToken":"{ACCESS}"}}"#),
        format!(r#"{{"accessToken":"{ACCESS}","refreshToken":7}}"#),
        format!(r#"{{"token":"{ACCESS}","refresh":"opaque-refresh-value"}}"#),
    ] {
        server.faults.clear();
        server
            .faults
            .inject("/auth/token", Fault::Respond { status: 200, body });
        let err = Session::login(&server.base_url(), "admin", "admin-pass")
            .await
            .unwrap_err();
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
        assert!(!printed.contains("opaque-refresh-value"), "{printed}");
    }
}

#[tokio::test]
async fn a_login_cannot_add_a_filter_condition() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    let found = session
        .find_user_by_login("nobody' or login='admin")
        .await
        .unwrap();
    assert!(found.is_none(), "{found:?}");
    assert!(matches!(
        session.find_user_by_login("a\\b").await,
        Err(Error::Failure(Failure::InvalidRequest(_)))
    ));
}
