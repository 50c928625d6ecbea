//! Login (single- and two-factor), app key, expiry, re-login and logout over real HTTP.

mod common;

use brokerkit_autoshares::{AutoShares, ChallengeStep, Error, Login};
use brokerkit_autoshares::{BrokerError, Failure};
use brokerkit_mock::autoshares::Config;
use common::*;
use std::time::Duration;

#[tokio::test]
async fn login_without_second_factor_gives_a_session_whose_calls_carry_the_headers() {
    let server = sandbox().await;
    let login = api(&server).login(TRADER.0, TRADER.1).await.unwrap();
    let Login::Session(session) = login else {
        panic!("expected a session, got {login:?}")
    };
    // The sandbox answers these only with the right app key and a live bearer token.
    let me = session.user_info().await.unwrap();
    assert_eq!(me.user_id, Some(1045));
    assert_eq!(me.login.as_deref(), Some("trader"));
    let accounts = session.accounts().await.unwrap();
    assert_eq!(
        accounts.iter().filter_map(|a| a.id).collect::<Vec<_>>(),
        vec![TRADER_ACCOUNT]
    );
    assert_eq!(server.hits.get("POST", "/token"), 1);
}

#[tokio::test]
async fn two_factor_login_answers_the_verification_code_challenge() {
    let server = sandbox().await;
    let login = api(&server)
        .login(TWO_FACTOR.0, TWO_FACTOR.1)
        .await
        .unwrap();
    let Login::Challenge(challenge) = login else {
        panic!("expected a challenge, got {login:?}")
    };
    assert_eq!(challenge.step(), &ChallengeStep::VerificationCode);
    assert_eq!(challenge.reason(), Some("Expecting confirmation code"));
    // The second call only succeeds if it carries the interim token as a bearer.
    let session = challenge
        .answer(TWO_FACTOR_CODE)
        .await
        .unwrap()
        .into_session()
        .unwrap();
    assert_eq!(session.user_info().await.unwrap().user_id, Some(1046));
    assert_eq!(server.hits.get("POST", "/token"), 2);
}

#[tokio::test]
async fn a_wrong_verification_code_is_a_typed_login_failure() {
    let server = sandbox().await;
    let Login::Challenge(challenge) = api(&server)
        .login(TWO_FACTOR.0, TWO_FACTOR.1)
        .await
        .unwrap()
    else {
        panic!()
    };
    let err = challenge.answer("000000").await.unwrap_err();
    match &err {
        Error::LoginFailed {
            step,
            reason,
            failure,
        } => {
            assert_eq!(step.as_deref(), Some("VerificationCode"));
            assert_eq!(reason.as_deref(), Some("Invalid verification code"));
            assert_eq!(failure.status, 401);
            assert!(failure.body_text().contains("\"State\":\"Failed\""));
        }
        other => panic!("expected LoginFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn pin_challenge_wrong_pin_fails_and_right_pin_logs_in() {
    let server = sandbox().await;
    let Login::Challenge(challenge) = api(&server).login(PIN_USER.0, PIN_USER.1).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(challenge.step(), &ChallengeStep::SecurityPin);
    let err = challenge.answer("9999").await.unwrap_err();
    assert!(
        matches!(&err, Error::LoginFailed { step: Some(s), reason: Some(r), .. } if s == "SecutityPin" && r == "Invalid pin"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(401));

    let Login::Challenge(challenge) = api(&server).login(PIN_USER.0, PIN_USER.1).await.unwrap()
    else {
        panic!()
    };
    let session = challenge.answer(PIN).await.unwrap().into_session().unwrap();
    assert_eq!(session.user_info().await.unwrap().user_id, Some(1047));
}

#[tokio::test]
async fn bad_credentials_are_a_401_login_failure_with_the_body_kept() {
    let server = sandbox().await;
    let err = api(&server)
        .login("trader", "wrong-password")
        .await
        .unwrap_err();
    let Error::LoginFailed {
        step,
        reason,
        failure,
    } = &err
    else {
        panic!("expected LoginFailed, got {err:?}")
    };
    assert_eq!(step.as_deref(), Some("BaseAuthentication"));
    assert_eq!(reason.as_deref(), Some("Invalid credentials"));
    assert_eq!(failure.status, 401);
    // Compared as JSON: the sandbox's key order depends on serde_json features the whole
    // workspace build unifies.
    let kept: serde_json::Value = serde_json::from_slice(err.body().unwrap()).unwrap();
    assert_eq!(
        kept,
        serde_json::json!({"Reason": "Invalid credentials", "State": "Failed", "Step": "BaseAuthentication"})
    );
    // Neither the password nor anything like it in the messages.
    assert!(!format!("{err} {err:?}").contains("wrong-password"));
}

#[tokio::test]
async fn a_single_factor_login_refuses_a_challenge_with_a_typed_error() {
    let server = sandbox().await;
    let err = api(&server)
        .login_single_factor(TWO_FACTOR.0, TWO_FACTOR.1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::SecondFactorRequired { step } if step == "VerificationCode"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_app_key_is_refused() {
    let server = sandbox().await;
    let wrong = AutoShares::new(server.base_url(), "not-the-key").unwrap();
    let err = wrong.login(TRADER.0, TRADER.1).await.unwrap_err();
    match &err {
        Error::AppKey { message, failure } => {
            assert_eq!(failure.status, 403);
            assert_eq!(message, "Application key is not defined or does not exist");
        }
        other => panic!("expected AppKey, got {other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains("not-the-key"));

    // An empty key is refused before anything is sent.
    let hits = server.hits.total();
    let err = AutoShares::new(server.base_url(), "").unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::InvalidRequest(_))),
        "{err:?}"
    );
    assert_eq!(server.hits.total(), hits);

    // Deployments that answer 401 for a bad key (per the 2026 pages) give the same variant.
    let server = sandbox_with(Config {
        app_key_status: 401,
        ..Config::default()
    })
    .await;
    let err = AutoShares::new(server.base_url(), "nope")
        .unwrap()
        .login(TRADER.0, TRADER.1)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::AppKey { failure, .. } if failure.status == 401),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_expired_token_is_a_typed_error() {
    // The server forgets the token: its 401 becomes Error::Unauthorized with the body kept.
    let server = sandbox().await;
    let session = trader(&server).await;
    server.expire_tokens();
    let err = session.user_info().await.unwrap_err();
    match &err {
        Error::Unauthorized { message, failure } => {
            assert_eq!(message, "Authorization has been denied for this request.");
            assert_eq!(failure.status, 401);
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    // Past the client-side lifetime nothing is sent at all.
    let short = AutoShares::builder(server.base_url(), server.app_key())
        .token_lifetime(Duration::from_millis(50))
        .build()
        .unwrap();
    let session = short.login_single_factor(TRADER.0, TRADER.1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    let before = server.hits.get("GET", "/v1.0/users/@me/info");
    let err = session.user_info().await.unwrap_err();
    assert!(
        matches!(&err, Error::Failure(Failure::Renewal(e)) if e.message.contains("24 hours")),
        "{err:?}"
    );
    assert!(err.login_required());
    assert_eq!(server.hits.get("GET", "/v1.0/users/@me/info"), before);
}

#[tokio::test]
async fn a_relogin_hook_renews_a_refused_token_once_and_retries() {
    let server = sandbox_with(Config {
        token_lifetime: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let session = trader(&server).await;
    session.relogin_with_password(TRADER.1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    // The server refuses the old token; the hook logs in again and the call is retried.
    let me = session.user_info().await.unwrap();
    assert_eq!(me.user_id, Some(1045));
    assert_eq!(session.renewals(), 1);
    assert_eq!(server.hits.get("POST", "/token"), 2);
    assert_eq!(server.hits.get("GET", "/v1.0/users/@me/info"), 2);

    // Concurrent refusals share one re-login.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let calls: Vec<_> = (0..5).map(|_| session.user_info()).collect();
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().user_id, Some(1045));
    }
    assert_eq!(session.renewals(), 2);
}

#[tokio::test]
async fn a_failing_relogin_hook_reports_its_own_failure() {
    let server = sandbox().await;
    let session = trader(&server).await;
    session.relogin_with_password("not-the-password");
    server.expire_tokens();
    let err = session.user_info().await.unwrap_err();
    assert!(
        matches!(&err, Error::Failure(Failure::Renewal(e)) if e.status == Some(401) && e.message.contains("Invalid credentials")),
        "the re-login's own refusal, not the 401 that prompted it: {err:?}"
    );
    assert!(!format!("{err:?}").contains("not-the-password"));
}

#[tokio::test]
async fn logout_ends_the_session_on_both_sides() {
    let server = sandbox().await;
    let session = trader(&server).await;
    assert_eq!(server.live_tokens(), 1);
    session.logout().await.unwrap();
    assert_eq!(server.live_tokens(), 0);
    let hits = server.hits.total();
    let err = session.user_info().await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::NotLoggedIn(_))),
        "{err:?}"
    );
    assert_eq!(server.hits.total(), hits, "nothing sent without a token");
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    let server = sandbox().await;
    let api = api(&server);
    let Login::Challenge(challenge) = api.login(TWO_FACTOR.0, TWO_FACTOR.1).await.unwrap() else {
        panic!()
    };
    let challenge_dbg = format!("{challenge:?}");
    let session = challenge
        .answer(TWO_FACTOR_CODE)
        .await
        .unwrap()
        .into_session()
        .unwrap();
    let text = format!("{api:?} {challenge_dbg} {session:?}");
    for secret in [
        TWO_FACTOR.1,
        TWO_FACTOR_CODE,
        server.app_key().as_str(),
        "tok-",
        "interim-",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked in {text}");
    }
    assert!(
        text.contains("twofactor"),
        "the user name is not a secret: {text}"
    );
}
