//! Session behaviour over real HTTP against the loopback Slate sandbox: login and claims,
//! bearer on every call, renewal on expiry, and every error shape.

mod common;

use brokerkit_mock::slate::Config;
use brokerkit_mock::Fault;
use brokerkit_slate::{types, Error, LocSegment, Session, TokenType};
use brokerkit_slate::{BrokerError, ClientConfig, Failure};
use common::*;
use rust_decimal::Decimal;
use std::time::{Duration, SystemTime};

#[tokio::test]
async fn login_exposes_unverified_claims_and_the_full_customer_record() {
    let server = sandbox().await;
    let session = Session::new(&server.base_url());
    let login = session.login(EMAIL, PASSWORD).await.unwrap();

    assert_eq!(login.claims.token_type, Some(TokenType::Customer));
    assert_eq!(login.claims.primary_login.as_deref(), Some("100001"));
    assert_eq!(session.primary_login().as_deref(), Some("100001"));
    let id = server.customer_id(EMAIL).unwrap();
    assert_eq!(login.claims.subject.as_deref(), Some(id.as_str()));
    let exp = login.claims.expires_at.unwrap();
    assert!(
        exp > SystemTime::now() + Duration::from_secs(800),
        "15-minute token"
    );

    let c = &login.customer;
    assert_eq!(c.id.to_string(), id);
    assert_eq!(c.email, EMAIL);
    assert_eq!(c.first_name.as_deref(), Some("Tess"));
    assert_eq!(c.registration_source.as_deref(), Some("organic"));
    assert_eq!(c.force_password_change, Some(false));
    let accounts = c.trading_accounts.as_ref().unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[0].login.as_deref(), Some("100001"));
    assert_eq!(
        accounts[0].balance.map(|b| b.into_inner()),
        Some(Decimal::new(100_000, 2))
    );

    // The bearer goes on a secured call: /customers/me answers for this customer.
    let me = session.me().await.unwrap();
    assert_eq!(me.id.to_string(), id);
    assert_eq!(server.hits.get("GET", "/customers/me"), 1);
}

#[tokio::test]
async fn the_raw_client_of_a_session_carries_the_bearer_too() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let accounts = session
        .client()
        .list_my_accounts()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        accounts
            .iter()
            .filter_map(|a| a.login.clone())
            .collect::<Vec<_>>(),
        ["100001", "100002"]
    );
}

#[tokio::test]
async fn wrong_password_is_a_typed_401() {
    let server = sandbox().await;
    let err = Session::new(&server.base_url())
        .login(EMAIL, "nope")
        .await
        .unwrap_err();
    let Error::Unauthorized(a) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(a.status, 401);
    assert_eq!(a.code.as_deref(), Some("invalid_credentials"));
    assert_eq!(a.detail.as_deref(), Some("Invalid email or password"));
    assert!(err.to_string().contains("log in again"), "{err}");
}

#[tokio::test]
async fn a_secured_call_before_login_is_refused_without_sending() {
    let server = sandbox().await;
    let session = Session::new(&server.base_url());
    let err = session.me().await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::NotLoggedIn(_))),
        "{err:?}"
    );
    assert_eq!(server.hits.get("GET", "/customers/me"), 0);
}

#[tokio::test]
async fn an_expired_token_is_renewed_by_logging_in_again_then_the_call_is_retried() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let first = session.claims().unwrap();
    server.expire_all_tokens();

    let me = session.me().await.unwrap();
    assert_eq!(me.email, EMAIL);
    assert_eq!(server.logins(), 2, "one re-login");
    assert_eq!(session.renewals(), 1);
    assert_eq!(
        server.hits.get("GET", "/customers/me"),
        2,
        "401 then the retry"
    );
    let renewed = session.claims().unwrap();
    assert_ne!(
        renewed.session_id, first.session_id,
        "claims follow the new token"
    );
}

#[tokio::test]
async fn concurrent_calls_on_an_expired_token_log_in_again_once() {
    let server = sandbox().await;
    let session = customer(&server).await;
    server.expire_all_tokens();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.account_summary(None).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().login, "100001");
    }
    assert_eq!(server.logins(), 2, "single-flight renewal");
    assert_eq!(session.renewals(), 1);
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_the_call() {
    // A 2 s token is renewed once half its lifetime has passed (the 30 s skew is capped at
    // half the lifetime); by the time of the call the server would reject the old one.
    let server = sandbox_with(Config {
        token_lifetime: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    let session = customer(&server).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    session.me().await.unwrap();
    assert_eq!(server.logins(), 2, "renewed before sending");
    assert_eq!(
        server.hits.get("GET", "/customers/me"),
        1,
        "no 401 round trip"
    );
}

#[tokio::test]
async fn a_session_that_cannot_renew_reports_the_401() {
    let server = sandbox().await;
    let customer_session = customer(&server).await;
    let token = customer_session.access_token().unwrap();
    let fixed = Session::with_token(&server.base_url(), token);
    server.expire_all_tokens();
    let err = fixed.me().await.unwrap_err();
    let Error::Unauthorized(a) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(a.code.as_deref(), Some("token_expired"));
    assert_eq!(server.logins(), 1, "no credentials, no re-login");
}

#[tokio::test]
async fn a_422_names_every_invalid_field_with_its_location() {
    let server = sandbox().await;
    let session = customer(&server).await;
    // Positive, so the client sends it; the 0.01 minimum is the broker's to check.
    let err = session
        .withdraw(Decimal::new(1, 3), Default::default(), None)
        .await
        .unwrap_err();
    let Error::Validation(v) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(v.status, 422);
    assert_eq!(v.errors.len(), 1);
    assert_eq!(
        v.errors[0].location,
        [
            LocSegment::Field("body".into()),
            LocSegment::Field("amount".into())
        ]
    );
    assert_eq!(v.errors[0].kind, "greater_than_equal");
    assert!(
        v.errors[0].message.contains("0.01"),
        "{}",
        v.errors[0].message
    );
    assert!(
        err.to_string()
            .contains("body.amount: Input should be greater than or equal to 0.01"),
        "{err}"
    );
    assert_eq!(
        err.rate_limit().unwrap().limit,
        Some(300),
        "rate-limit headers are kept on errors too"
    );

    // Integer segments: the third symbol of the list is empty.
    let staff = staff(&server).await;
    let body = types::GroupInstrumentBulkRequest {
        symbols: vec!["EURUSD".into(), "BTCUSD".into(), String::new()],
        patch: types::GroupInstrumentUpsertRequest {
            margin_rate: Some(Decimal::new(2, 2).into()),
            ..Default::default()
        },
    };
    let group: uuid::Uuid = brokerkit_mock::slate::GROUP_ID.parse().unwrap();
    let err = staff
        .call(|c| {
            let body = body.clone();
            async move {
                c.bulk_upsert_group_instruments()
                    .group_id(group)
                    .body(body)
                    .send()
                    .await
            }
        })
        .await
        .unwrap_err();
    let errors = err.field_errors();
    assert_eq!(errors.len(), 1, "{err:?}");
    assert_eq!(errors[0].location[2], LocSegment::Index(2));
    assert_eq!(errors[0].path(), "body.symbols.2");
}

#[tokio::test]
async fn a_422_never_prints_the_echoed_password() {
    let server = sandbox().await;
    let body: types::RegisterCustomerRequest = serde_json::from_value(serde_json::json!({
        "email": "new@example.com", "phone": "+447700900999", "password": "hunter2"
    }))
    .unwrap();
    let session = Session::new(&server.base_url());
    let err = session.call(|c| {
        let body = body.clone();
        async move { c.register_customer().body(body).send().await }
    });
    let err = err.await.unwrap_err();
    let errors = err.field_errors();
    assert_eq!(errors.len(), 1, "{err:?}");
    assert!(errors[0].is_field("password"));
    assert_eq!(errors[0].kind, "string_too_short");
    assert_eq!(
        errors[0].input,
        Some(serde_json::json!("hunter2")),
        "the echo is still readable on purpose"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn rate_limit_headers_are_exposed_on_answers_and_on_the_429() {
    let server = sandbox().await;
    // The sandbox's window is the wall-clock minute: with retries on, the pipeline could wait
    // out a short Retry-After and the 429 would never reach this test.
    let session = Session::builder(server.base_url())
        .config(ClientConfig::default().retry(brokerkit_runtime::call::Retry::off()))
        .build()
        .unwrap();
    session.login(EMAIL, PASSWORD).await.unwrap();
    server.set_rate_limit(2);
    let first = session
        .call(|c| async move { c.get_me().send().await })
        .await
        .unwrap();
    assert_eq!(
        (first.rate_limit.limit, first.rate_limit.remaining),
        (Some(2), Some(1))
    );
    assert!(first.rate_limit.reset.is_some_and(|r| r <= 60));
    let second = session
        .call(|c| async move { c.get_me().send().await })
        .await
        .unwrap();
    assert_eq!(second.rate_limit.remaining, Some(0));

    let err = session.me().await.unwrap_err();
    let Error::RateLimited(a) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(a.status, 429);
    assert_eq!(a.code.as_deref(), Some("rate_limited"));
    assert_eq!(
        (a.rate_limit.limit, a.rate_limit.remaining),
        (Some(2), Some(0))
    );
    assert!(a.rate_limit.retry_after.is_some());
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_customer_token_on_a_crm_endpoint_is_forbidden() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let err = session
        .call(|c| async move { c.list_customers().send().await })
        .await
        .unwrap_err();
    let Error::Forbidden(a) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(a.code.as_deref(), Some("token_type_mismatch"));
}

#[tokio::test]
async fn not_found_and_conflict_are_typed() {
    let server = sandbox().await;
    let session = customer(&server).await;
    let err = session.account_summary(Some("999999")).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound(a) if a.code.as_deref() == Some("not_found")),
        "{err:?}"
    );

    let staff = staff(&server).await;
    let body = types::ReopenAccountRequest {
        reason: "retry".parse().unwrap(),
        force: false,
    };
    let err = staff
        .call(|c| {
            let body = body.clone();
            async move { c.reopen_account().login(100001).body(body).send().await }
        })
        .await
        .unwrap_err();
    let Error::Conflict(a) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(a.code.as_deref(), Some("state_mismatch"));
    assert_eq!(a.http.status, 409);
}

#[tokio::test]
async fn a_malformed_success_body_is_a_decode_error_that_keeps_the_body() {
    let server = sandbox().await;
    let session = customer(&server).await;
    server
        .faults
        .inject_times("GET", "/customers/me", Fault::Malformed, 1);
    let err = session.me().await.unwrap_err();
    let Error::Failure(Failure::Decode { body, .. }) = &err else {
        panic!("{err:?}")
    };
    assert!(!body.is_empty());
    assert!(
        err.to_string().starts_with("unexpected response body"),
        "{err}"
    );
    // The next call is fine again.
    assert_eq!(session.me().await.unwrap().email, EMAIL);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_typed_and_transient() {
    let server = sandbox().await;
    let session = customer(&server).await;
    server
        .faults
        .inject_times("GET", "/customers/me", Fault::ServerError(503), 3);
    let err = session.me().await.unwrap_err();
    assert!(matches!(&err, Error::Api(a) if a.status == 503), "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.http().is_some_and(|h| !h.body.is_empty()),
        "the body is kept"
    );

    server
        .faults
        .inject_times("GET", "/customers/me", Fault::Drop, 3);
    let err = session.me().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Failure(Failure::Connection(_)) | Error::Failure(Failure::Decode { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let server = sandbox().await;
    let session = Session::new(&server.base_url());
    let login = session.login(EMAIL, PASSWORD).await.unwrap();
    let token = session.access_token().unwrap();
    let shown = format!("{session:?} {login:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(!shown.contains(token.expose()), "{shown}");
    let err = Session::new(&server.base_url())
        .login(EMAIL, "wrong-secret-pw")
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("wrong-secret-pw"));
}

#[tokio::test]
async fn logout_forgets_the_token() {
    let server = sandbox().await;
    let session = customer(&server).await;
    session.logout().await.unwrap();
    assert!(session.claims().is_none());
    assert!(matches!(
        session.me().await.unwrap_err(),
        Error::Failure(Failure::NotLoggedIn(_))
    ));
}

#[tokio::test]
async fn a_staff_session_needs_its_totp_code_and_renews_through_refresh() {
    let server = sandbox().await;
    let session = Session::new(&server.base_url());
    let err = session
        .login_staff("secure@example.com", STAFF_PASSWORD, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TotpRequired), "{err:?}");
    assert_eq!(err.status(), Some(202));
    let err = session
        .login_staff("secure@example.com", STAFF_PASSWORD, Some("000000".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unauthorized(a) if a.code.as_deref() == Some("invalid_totp")),
        "{err:?}"
    );

    let claims = session
        .login_staff("secure@example.com", STAFF_PASSWORD, Some("123456".into()))
        .await
        .unwrap();
    assert_eq!(claims.token_type, Some(TokenType::User));
    assert_eq!(claims.primary_login, None);
    let before = session.access_token().unwrap();

    server.expire_all_tokens();
    let listed = session
        .call(|c| async move { c.list_api_tokens().send().await })
        .await
        .unwrap();
    assert_eq!(listed.status, 200);
    assert_eq!(
        server.hits.get("POST", "/auth/refresh"),
        1,
        "renewed with the refresh token"
    );
    assert_eq!(server.logins(), 1, "not by logging in again");
    assert_ne!(session.access_token().unwrap(), before);
    assert_eq!(session.renewals(), 1);
}
