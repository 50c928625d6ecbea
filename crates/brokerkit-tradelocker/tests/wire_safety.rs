//! Faults a careful user tries before trusting the client with real money: a renewal endpoint
//! that fails under load, a dead refresh token, an answer lost after the order executed,
//! off-schema auth answers that carry tokens, undecodable and oversized answers.

use brokerkit_mock::tradelocker::{self as sandbox, Config};
use brokerkit_mock::Fault;
use brokerkit_tradelocker::{orders, Credentials, Environment, Error, Session};
use brokerkit_tradelocker::{BrokerError, ClientConfig, Failure};
use rust_decimal::Decimal;

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const TRADE: i64 = 948735;

fn creds() -> Credentials {
    Credentials::new("trader@example.com", "demo-password", "OSP-DEMO")
}

async fn logged_in(keep_credentials: bool) -> (sandbox::Server, Session) {
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::builder(Environment::Custom(server.base_url()))
        .keep_credentials(keep_credentials)
        .login(&creds())
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    (server, session)
}

#[tokio::test]
async fn a_failing_renewal_is_sent_once_for_a_thousand_callers() {
    let (server, session) = logged_in(true).await;
    server
        .faults
        .inject("/auth/jwt/refresh", Fault::ServerError(500));
    server.expire_access_tokens();
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let session = session.clone();
            tokio::spawn(async move { session.accounts().await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, Error::Failure(Failure::Renewal(e)) if e.status == Some(500)),
            "the renewal's own error, not the 401: {err:?}"
        );
    }
    let renewals = server.hits.get("POST", "/auth/jwt/refresh");
    assert!(renewals <= 2, "{renewals} renewal requests");
    assert_eq!(
        server.hits.get("POST", "/auth/jwt/token"),
        1,
        "no password logins"
    );
}

#[tokio::test]
async fn a_dead_refresh_token_logs_in_again_with_kept_credentials() {
    let (server, session) = logged_in(true).await;
    server.expire_access_tokens();
    server.expire_refresh_tokens();
    let accounts = session.accounts().await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(
        server.hits.get("POST", "/auth/jwt/token"),
        2,
        "one new login"
    );
}

#[tokio::test]
async fn without_credentials_a_dead_refresh_token_says_log_in_again() {
    let (server, session) = logged_in(false).await;
    server.expire_access_tokens();
    server.expire_refresh_tokens();
    let err = session.accounts().await.unwrap_err();
    assert!(err.login_required(), "{err:?}");
    assert!(err.to_string().contains("log in again"), "{err}");
    assert_eq!(server.hits.get("POST", "/auth/jwt/token"), 1);
}

#[tokio::test]
async fn an_order_whose_answer_is_lost_is_not_resent_and_says_so() {
    let (server, session) = logged_in(true).await;
    let account = session.accounts().await.unwrap().remove(0);
    let before = session.orders().await.unwrap().len();
    server.faults.inject_times(
        "POST",
        &format!("/trade/accounts/{}/orders", account.id),
        Fault::ExecuteThenDrop,
        1,
    );
    let order = orders::limit(
        EURUSD,
        TRADE,
        orders::Direction::Buy,
        Decimal::new(1, 2),
        Decimal::new(10, 1),
    );
    let err = session.place_order(&order).await.unwrap_err();
    assert!(err.may_have_executed(), "{err:?}");
    assert!(
        !err.is_transient(),
        "an unknown outcome is not a retry signal"
    );
    assert!(matches!(err, Error::Failure(Failure::OutcomeUnknown(_))));
    assert!(
        std::error::Error::source(&err).is_some(),
        "the transport error is kept"
    );
    assert_eq!(
        server
            .hits
            .get("POST", &format!("/trade/accounts/{}/orders", account.id)),
        1,
        "sent exactly once"
    );
    assert_eq!(
        session.orders().await.unwrap().len(),
        before + 1,
        "it did execute"
    );
}

#[tokio::test]
async fn a_read_whose_answer_is_cut_is_a_plain_connection_error() {
    let (server, session) = logged_in(true).await;
    server
        .faults
        .inject("/trade/quotes", Fault::ExecuteThenDrop);
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Connection(_))),
        "{err:?}"
    );
    assert!(!err.may_have_executed());
}

#[tokio::test]
async fn an_undecodable_success_keeps_its_status() {
    let (server, session) = logged_in(true).await;
    server.faults.inject("/trade/quotes", Fault::Malformed);
    match session.quote(EURUSD, INFO).await.unwrap_err() {
        Error::Failure(Failure::Decode { status, body, .. }) => {
            assert_eq!(status, Some(200));
            assert!(!body.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

const ACCESS: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.bGVha2VkLWFjY2Vzcw";
const REFRESH: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJyZWZyZXNoIn0.bGVha2VkLXJlZnJlc2g";

#[tokio::test]
async fn off_schema_auth_answers_never_print_their_tokens() {
    let server = sandbox::start(Config::default()).await.unwrap();
    let env = Environment::Custom(server.base_url());
    let bodies = [
        // expireDate missing / mistyped, or the tokens under other names.
        format!(r#"{{"accessToken":"{ACCESS}","refreshToken":"{REFRESH}"}}"#),
        format!(r#"{{"accessToken":"{ACCESS}","refreshToken":"{REFRESH}","expireDate":7}}"#),
        format!(
            r#"{{"access":"{ACCESS}","refresh":"{REFRESH}","expireDate":"2030-01-01T00:00:00Z"}}"#
        ),
        format!(r#"{ACCESS} {REFRESH}"#),
    ];
    for body in &bodies {
        server.faults.clear();
        server.faults.inject(
            "/auth/jwt/token",
            Fault::Respond {
                status: 201,
                body: body.clone(),
            },
        );
        let err = Session::login(env.clone(), &creds()).await.unwrap_err();
        let printed = format!("{err} {err:?}");
        for token in [ACCESS, REFRESH, "bGVha2Vk"] {
            assert!(!printed.contains(token), "login answer leaked: {printed}");
        }
        assert!(
            matches!(
                err,
                Error::Failure(Failure::Decode {
                    status: Some(201),
                    ..
                })
            ),
            "{err:?}"
        );
    }
    // The same through a refresh whose answer is off-schema.
    server.faults.clear();
    let session = Session::login(env, &creds()).await.unwrap();
    for body in &bodies {
        server.faults.clear();
        server.faults.inject(
            "/auth/jwt/refresh",
            Fault::Respond {
                status: 201,
                body: body.clone(),
            },
        );
        server.expire_access_tokens();
        let err = session.accounts().await.unwrap_err();
        let printed = format!("{err} {err:?}");
        for token in [ACCESS, REFRESH, "bGVha2Vk"] {
            assert!(!printed.contains(token), "refresh answer leaked: {printed}");
        }
    }
}

#[tokio::test]
async fn an_oversized_answer_is_a_typed_error() {
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::builder(Environment::Custom(server.base_url()))
        .config(ClientConfig::default().max_body(4 * 1024))
        .login(&creds())
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    server.faults.inject(
        "/trade/quotes",
        Fault::Respond {
            status: 200,
            body: format!(r#"{{"s":"ok","d":{{"pad":"{}"}}}}"#, "x".repeat(64 * 1024)),
        },
    );
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::TooLarge {
                status: Some(200),
                limit: 4096
            })
        ),
        "{err:?}"
    );
    // An error answer past the limit is cut too, never read whole.
    server.faults.clear();
    server.faults.inject(
        "/trade/quotes",
        Fault::Respond {
            status: 500,
            body: format!(r#"{{"pad":"{}"}}"#, "x".repeat(64 * 1024)),
        },
    );
    let err = session.quote(EURUSD, INFO).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::TooLarge {
                status: Some(500),
                ..
            })
        ),
        "{err:?}"
    );
}
