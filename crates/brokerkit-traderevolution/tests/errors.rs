//! Every error shape over real HTTP: the vendor's JSON error with a dotted code, a code under
//! another key, a body that is not JSON on a documented and an undocumented status, a malformed
//! or incomplete success body, a dropped connection, and fields the spec does not know.

use brokerkit_mock::traderevolution::{self as mock, Config};
use brokerkit_mock::Fault;
use brokerkit_traderevolution::{BrokerError, Failure};
use brokerkit_traderevolution::{Error, KnownCode, Session};

const ACCOUNT: i64 = 3_243_753;
const ACCOUNT_PATH: &str = "/accounts/3243753";

async fn setup() -> (mock::Server, Session) {
    let server = mock::start(Config::default()).await.unwrap();
    let session = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    (server, session)
}

fn respond(status: u16, body: &str) -> Fault {
    Fault::Respond {
        status,
        body: body.to_string(),
    }
}

#[tokio::test]
async fn a_code_under_another_key_is_still_found() {
    let (server, session) = setup().await;
    server.faults.inject(
        ACCOUNT_PATH,
        respond(
            406,
            r#"{"status":406,"details":{"code":"1.6.2.2"},"errorMessage":"filter empty"}"#,
        ),
    );
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected Api, got {err:?}")
    };
    assert_eq!(
        api.code.as_ref().and_then(|c| c.known()),
        Some(KnownCode::ReportFilterMissing)
    );
    assert_eq!(api.message.as_deref(), Some("filter empty"));
    // The raw body is kept whole, including fields the spec does not model.
    assert!(
        api.http.body_text().contains("\"details\""),
        "{}",
        api.http.body_text()
    );
}

#[tokio::test]
async fn a_non_json_body_on_a_documented_error_status_keeps_status_and_body() {
    let (server, session) = setup().await;
    server.faults.inject(
        ACCOUNT_PATH,
        respond(500, "<html>Internal failure 2.147.1.27</html>"),
    );
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected Api, got {err:?}")
    };
    assert_eq!(api.status, 500);
    assert_eq!(
        api.http.body_text(),
        "<html>Internal failure 2.147.1.27</html>"
    );
    assert_eq!(
        api.code.as_ref().map(|c| c.as_str()),
        Some("2.147.1.27"),
        "a code in plain text is found too"
    );
    assert!(api.message.is_none());
}

#[tokio::test]
async fn an_undocumented_status_is_an_api_error_and_transient() {
    let (server, session) = setup().await;
    server
        .faults
        .inject(ACCOUNT_PATH, respond(503, r#"{"message":"maintenance"}"#));
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_transient());
    assert!(err.to_string().contains("maintenance"), "{err}");
}

#[tokio::test]
async fn a_429_from_any_source_is_rate_limited_with_retry_after() {
    let (server, session) = setup().await;
    let body = r#"{"errorCode":"2.147.1.27","message":"too many requests"}"#.to_string();
    server.faults.inject_times(
        "GET",
        ACCOUNT_PATH,
        Fault::RateLimited {
            retry_after_secs: 300,
            body,
        },
        1,
    );
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    let Error::RateLimited(rl) = &err else {
        panic!("expected RateLimited, got {err:?}")
    };
    assert_eq!(rl.retry_after, Some(std::time::Duration::from_secs(300)));
    assert!(err.to_string().contains("wait 300 s"), "{err}");
    // The fault was one-shot: the next call succeeds.
    session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error_with_its_status() {
    let (server, session) = setup().await;
    server.faults.inject(ACCOUNT_PATH, Fault::Malformed);
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    let Error::Failure(Failure::Decode { status, body, .. }) = &err else {
        panic!("expected Decode, got {err:?}")
    };
    assert_eq!(*status, Some(200));
    assert!(!body.is_empty());
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_success_body_missing_a_required_field_is_a_decode_error() {
    let (server, session) = setup().await;
    server.faults.inject(
        ACCOUNT_PATH,
        respond(200, r#"{"accountName":"no id here"}"#),
    );
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    let Error::Failure(Failure::Decode { message, .. }) = &err else {
        panic!("expected Decode, got {err:?}")
    };
    assert!(message.contains("id"), "{message}");
}

#[tokio::test]
async fn a_malformed_token_response_fails_login_without_printing_it() {
    let server = mock::start(Config::default()).await.unwrap();
    server.faults.inject(
        "/auth/token",
        respond(200, r#"{"accessToken":"tok-SECRET-1","refreshToken":42}"#),
    );
    let err = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::Decode {
                status: Some(200),
                ..
            })
        ),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("tok-SECRET-1") && !text.contains("admin-pass"),
        "{text}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_a_transient_connection_error() {
    let (server, session) = setup().await;
    server.faults.inject(ACCOUNT_PATH, Fault::Drop);
    let err = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Connection(_))),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn unknown_fields_are_tolerated() {
    let (server, session) = setup().await;
    let body = r#"{"id":3243753,"accountName":"x","balance":"12.50","newVendorField":{"nested":[1,2]},"riskPlan":"gold"}"#;
    server.faults.inject(ACCOUNT_PATH, respond(200, body));
    let account = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(account.id, ACCOUNT);
    assert_eq!(
        account.balance.map(|b| b.into_inner()),
        Some(rust_decimal::Decimal::new(1250, 2))
    );
}

#[tokio::test]
async fn a_server_that_is_gone_is_a_connection_error() {
    let (server, session) = setup().await;
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let err = session.call(|c| c.list_assets().send()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::Connection(_)) | Error::Failure(Failure::Timeout(_))
        ),
        "{err:?}"
    );
}
