//! Every AutoShares error shape, over real HTTP, as one typed error that keeps status and body.

mod common;

use brokerkit_autoshares::{types, AutoShares, Error};
use brokerkit_autoshares::{BrokerError, ClientConfig, Failure};
use brokerkit_mock::Fault;
use common::*;
use std::time::Duration;

#[tokio::test]
async fn bad_request_not_found_and_server_error_shapes() {
    let server = sandbox().await;
    let session = trader(&server).await;

    // An account id that is nobody's: 400 {"Message": "The request is invalid."}.
    let err = session.balance(99_999).await.unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest { message, .. } if message == "The request is invalid."),
        "{err:?}"
    );
    assert_eq!(
        err.body().unwrap().as_ref(),
        br#"{"Message":"The request is invalid."}"#
    );

    // A user id where an account id belongs: 500 {"message": …, "error": …}.
    let err = session.balance(1045).await.unwrap_err();
    match &err {
        Error::Server { message, failure } => {
            assert_eq!(
                message.as_deref(),
                Some("An error occurred while processing your request")
            );
            assert_eq!(failure.status, 500);
            assert!(failure.body_text().contains("Unexpected server error"));
        }
        other => panic!("expected Server, got {other:?}"),
    }
    assert!(!err.is_transient());

    // Another user's account: 401.
    let err = session.balance(2002).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");

    // An unknown security: 404.
    let err = session
        .call(|c| c.get_equity().id_or_symbol("NOPE").send())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { message, .. } if message.contains("non-existent")),
        "{err:?}"
    );
    // ETNA's no-route 404 "No HTTP resource was found…" (the corporate actions of a symbol the
    // server does not know answer it), the raw body kept.
    let err = session
        .call(|c| c.get_corporate_actions().symbol("NOPE").send())
        .await
        .unwrap_err();
    match &err {
        Error::NotFound { message, failure } => {
            assert!(
                message.starts_with("No HTTP resource was found"),
                "{message}"
            );
            assert!(failure
                .body_text()
                .contains("/v1.0/news/corporate-actions?symbol=NOPE"));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    // The equity itself works, by ticker and by id (one merged path).
    let aapl = session
        .call(|c| c.get_equity().id_or_symbol("AAPL").send())
        .await
        .unwrap()
        .value;
    let by_id = session
        .call(|c| {
            c.get_equity()
                .id_or_symbol(aapl.id.unwrap().to_string())
                .send()
        })
        .await
        .unwrap()
        .value;
    assert_eq!(by_id.symbol.as_deref(), Some("AAPL"));
    assert_eq!(
        by_id.tick_size.map(|t| t.into_inner()),
        Some(rust_decimal_macros::dec!(0.01))
    );
}

#[tokio::test]
async fn registration_refusal_is_typed() {
    let server = sandbox().await;
    let api = api(&server);
    let request = types::RegistrationRequest {
        credentials: Some(types::RegistrationCredentials {
            login: Some("newbie".into()),
            email: None,
            password: Some("pw-12345".into()),
        }),
        ..Default::default()
    };
    let err = api
        .register("https://broker.example.com", request.clone())
        .await
        .unwrap_err();
    match &err {
        Error::RegistrationFailed {
            reason,
            errors,
            failure,
        } => {
            assert_eq!(reason.as_deref(), Some("SchemaValidationFail"));
            assert_eq!(errors, &vec!["Email was not set.".to_string()]);
            assert_eq!(failure.status, 409);
        }
        other => panic!("expected RegistrationFailed, got {other:?}"),
    }
    let mut ok = request;
    ok.credentials.as_mut().unwrap().email = Some("newbie@example.com".into());
    let user = api
        .register("https://broker.example.com", ok)
        .await
        .unwrap();
    assert_eq!(user.login.as_deref(), Some("newbie"));
    // And the new user can log in.
    api.login_single_factor("newbie", "pw-12345").await.unwrap();
}

#[tokio::test]
async fn password_reset_refusal_at_http_200_is_an_error() {
    let server = sandbox().await;
    let api = api(&server);
    let err = api
        .request_password_reset("trader", Some("green".into()))
        .await
        .unwrap_err();
    match &err {
        Error::Refused {
            errors,
            codes,
            status,
            body,
        } => {
            assert_eq!(errors, &vec!["Answer is incorrect, try again.".to_string()]);
            assert_eq!(codes, &vec!["ErrorIncorrectAnswer".to_string()]);
            assert_eq!(*status, 200);
            assert!(!body.is_empty());
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    api.request_password_reset("trader", Some("blue".into()))
        .await
        .unwrap();
    // The reset calls need no token and send none.
    assert_eq!(server.hits.get("POST", "/token"), 0);
}

#[tokio::test]
async fn rate_limits_server_faults_and_broken_bodies() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let path = "/v1.0/users/@me/info";

    server.faults.inject_times(
        "GET",
        path,
        Fault::RateLimited {
            // Longer than the pipeline waits by itself: the 429 comes back to the caller.
            retry_after_secs: 120,
            body: r#"{"Message":"Too many requests"}"#.into(),
        },
        1,
    );
    let err = session.user_info().await.unwrap_err();
    match &err {
        Error::Failure(Failure::RateLimited {
            rate_limit,
            failure,
        }) => {
            assert_eq!(rate_limit.retry_after, Some(Duration::from_secs(120)));
            assert_eq!(failure.status, 429);
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_transient());

    // A read is retried (3 attempts in all) before the 503 reaches the caller.
    server
        .faults
        .inject_times("GET", path, Fault::ServerError(503), 3);
    let err = session.user_info().await.unwrap_err();
    assert!(
        matches!(&err, Error::Server { failure, .. } if failure.status == 503)
            && err.is_transient(),
        "{err:?}"
    );

    server.faults.inject_times("GET", path, Fault::Malformed, 1);
    let err = session.user_info().await.unwrap_err();
    assert!(
        matches!(&err, Error::Failure(Failure::Decode { body, .. }) if !body.is_empty()),
        "{err:?}"
    );

    // A read is retried (3 attempts in all) before the drop reaches the caller.
    server.faults.inject_times("GET", path, Fault::Drop, 3);
    let err = session.user_info().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::Connection(_)) | Error::Failure(Failure::Decode { .. })
        ),
        "{err:?}"
    );

    // A documented status with an unexpected body: the status and the raw body survive.
    server.faults.inject_times(
        "GET",
        path,
        Fault::Respond {
            status: 500,
            body: "<html>oops</html>".into(),
        },
        1,
    );
    let err = session.user_info().await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.body().unwrap().as_ref(), b"<html>oops</html>");

    // After the faults the session still works.
    assert_eq!(session.user_info().await.unwrap().user_id, Some(1045));
}

#[tokio::test]
async fn a_slow_server_is_a_timeout() {
    let server = sandbox().await;
    let api = AutoShares::builder(server.base_url(), server.app_key())
        .config(ClientConfig::default().timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    server.faults.inject_times(
        "POST",
        "/token",
        Fault::Latency(Duration::from_millis(600)),
        1,
    );
    let err = api.login(TRADER.0, TRADER.1).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::Timeout(_))),
        "{err:?}"
    );
    assert!(err.is_transient());
}
