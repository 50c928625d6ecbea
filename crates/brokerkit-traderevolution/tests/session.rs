//! Session behaviour over real HTTP against the loopback sandbox: login, token lifetimes,
//! refresh before expiry and on 401 (single-flight), re-login, token verification, rate limits.

use brokerkit_mock::traderevolution::{self as mock, Config};
use brokerkit_traderevolution::{types, Error, KnownCode, Secret, Session};
use brokerkit_traderevolution::{BrokerError, Failure};
use std::time::Duration;

const ACCOUNT: i64 = 3_243_753;

async fn admin(server: &mock::Server) -> Session {
    Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .expect("login")
}

fn short_lived(access_secs: u64, refresh_secs: u64) -> Config {
    Config {
        access_lifetime: Duration::from_secs(access_secs),
        refresh_lifetime: Duration::from_secs(refresh_secs),
        ..Config::default()
    }
}

#[tokio::test]
async fn login_keeps_the_pair_and_its_lifetimes_and_hides_them() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    let lifetimes = session.token_lifetimes().unwrap();
    assert_eq!(
        (lifetimes.access, lifetimes.refresh),
        (Duration::from_secs(300), Duration::from_secs(3600))
    );
    assert_eq!(session.login_count(), 1);
    assert_eq!(session.renewals(), 0);
    let renewal = session.expires_at().unwrap();
    let ahead = renewal
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(
        ahead > Duration::from_secs(260) && ahead <= Duration::from_secs(270),
        "renews 30 s before expiry: {ahead:?}"
    );
    let debug = format!("{session:?}");
    assert!(
        debug.contains("admin") && !debug.contains("admin-pass") && !debug.contains("eyJ"),
        "{debug}"
    );
    // The bearer token works on a secured call.
    let account = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(account.id, ACCOUNT);
    assert_eq!(server.hits.get("POST", "/auth/token"), 1);
}

#[tokio::test]
async fn wrong_password_is_a_typed_error_with_code_1_2_0_11() {
    let server = mock::start(Config::default()).await.unwrap();
    let err = Session::login(&server.base_url(), "admin", "not-the-password")
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected Api, got {err:?}")
    };
    assert_eq!(api.status, 401);
    assert_eq!(
        api.code.as_ref().and_then(|c| c.known()),
        Some(KnownCode::BadCredentials)
    );
    assert_eq!(api.message.as_deref(), Some("wrong login or password"));
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("1.2.0.11") && text.contains("check the login and password"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
}

#[tokio::test]
async fn a_user_without_api_access_gets_2_0_2_4() {
    let server = mock::start(Config::default()).await.unwrap();
    let err = Session::login(&server.base_url(), "noapi", "noapi-pass")
        .await
        .unwrap_err();
    assert_eq!(
        err.code().and_then(|c| c.known()),
        Some(KnownCode::NoApiAccess)
    );
    assert!(err.to_string().contains("no REST API access"), "{err}");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_the_call() {
    let server = mock::start(short_lived(1, 3600)).await.unwrap();
    let session = admin(&server).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let account = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(account.id, ACCOUNT);
    assert_eq!(server.hits.get("GET", "/auth/token/refresh"), 1);
    // Renewed ahead: the business call went out once, never answered 401.
    assert_eq!(server.hits.get("GET", &format!("/accounts/{ACCOUNT}")), 1);
    assert_eq!(session.renewals(), 1);
    assert_eq!(session.login_count(), 1);
}

#[tokio::test]
async fn many_concurrent_calls_on_an_expired_token_cause_exactly_one_refresh() {
    let server = mock::start(short_lived(1, 3600)).await.unwrap();
    let session = admin(&server).await;
    // Through the API: tokens issued from now on live an hour.
    let body = types::ConnectorSettings {
        access_token_life_time: Some(3600),
        refresh_token_life_time: Some(7200),
    };
    let settings = session
        .call(|c| c.update_connector_settings().body(body).send())
        .await
        .unwrap();
    assert_eq!(settings.access_token_life_time, Some(3600));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move {
                s.call(|c| c.get_account().account_id(ACCOUNT).send())
                    .await
                    .map(|a| a.id)
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), ACCOUNT);
    }
    assert_eq!(
        server.hits.get("GET", "/auth/token/refresh"),
        1,
        "single-flight refresh"
    );
    assert_eq!(server.hits.get("GET", &format!("/accounts/{ACCOUNT}")), 32);
    assert_eq!(
        session.token_lifetimes().unwrap().access,
        Duration::from_secs(3600)
    );
}

#[tokio::test]
async fn a_401_under_many_concurrent_calls_causes_one_refresh_and_retries() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    server.revoke_access_tokens();
    let calls: Vec<_> = (0..24)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.call(|c| c.list_assets().send()).await.map(|a| a.len()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 3);
    }
    assert_eq!(
        server.hits.get("GET", "/auth/token/refresh"),
        1,
        "single-flight refresh"
    );
    assert_eq!(
        server.hits.get("GET", "/assets"),
        48,
        "each call: one 401, one retry"
    );
    assert_eq!(session.login_count(), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_falls_back_to_logging_in_again() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    server.revoke_access_tokens();
    server.expire_refresh_tokens();
    let reports = session.call(|c| c.list_reports().send()).await.unwrap();
    assert_eq!(reports.len(), 3);
    assert_eq!(server.hits.get("GET", "/auth/token/refresh"), 1);
    assert_eq!(server.hits.get("POST", "/auth/token"), 2);
    assert_eq!(session.login_count(), 2);
}

#[tokio::test]
async fn when_neither_refresh_nor_login_works_the_error_is_typed_and_secret_free() {
    let server = mock::start(short_lived(1, 1)).await.unwrap();
    let session = admin(&server).await;
    // Change the session user's own password behind its back.
    let me = session.find_user_by_login("admin").await.unwrap().unwrap();
    let body = types::ChangePasswordRequest {
        new_password: Secret::new("brand-new-pass"),
    };
    session
        .call(|c| {
            c.change_user_password()
                .user_id(me.id.unwrap())
                .body(body)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        server.password_of("admin").as_deref(),
        Some("brand-new-pass")
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = session.call(|c| c.list_assets().send()).await.unwrap_err();
    let Error::Failure(Failure::Renewal(refresh)) = &err else {
        panic!("expected Refresh, got {err:?}")
    };
    assert_eq!(refresh.status, Some(401));
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("1.2.0.11") && text.contains("log in again"),
        "{text}"
    );
    assert!(
        !text.contains("admin-pass") && !text.contains("brand-new-pass") && !text.contains("eyJ"),
        "{text}"
    );
    assert_eq!(
        server.hits.get("GET", "/assets"),
        0,
        "nothing sent without a token"
    );
}

#[tokio::test]
async fn forced_refresh_rotates_the_pair_and_logout_stops_secured_calls() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    session.refresh().await.unwrap();
    session.refresh().await.unwrap();
    assert_eq!(
        server.hits.get("GET", "/auth/token/refresh"),
        2,
        "each refresh used the newest refresh token"
    );
    session.call(|c| c.list_assets().send()).await.unwrap();
    session.logout().await.unwrap();
    let err = session.call(|c| c.list_assets().send()).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::NotLoggedIn(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("Session::login"), "{err}");
    assert_eq!(server.hits.get("GET", "/assets"), 1);
}

#[tokio::test]
async fn one_time_tokens_verify_once_and_pfix_tokens_resolve_to_their_login() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = admin(&server).await;
    let ott = Secret::new(server.issue_one_time_token("trader01"));
    assert_eq!(
        session.verify_one_time_token(&ott).await.unwrap(),
        "trader01"
    );
    let again = session.verify_one_time_token(&ott).await.unwrap_err();
    assert!(
        matches!(again, Error::InvalidToken),
        "a one-time token works once: {again:?}"
    );
    assert!(matches!(
        session.verify_one_time_token(&Secret::new("nope")).await,
        Err(Error::InvalidToken)
    ));

    let pfix = Secret::new(server.issue_pfix_token("trader01", false));
    assert_eq!(session.verify_pfix_token(&pfix).await.unwrap(), "trader01");
    let expired = Secret::new(server.issue_pfix_token("trader01", true));
    assert!(matches!(
        session.verify_pfix_token(&expired).await,
        Err(Error::InvalidToken)
    ));
    // No session needed: the PFIX endpoint takes no Bearer token.
    let bare = brokerkit_traderevolution::Client::new(&server.base_url(), Default::default());
    assert_eq!(
        brokerkit_traderevolution::verify_pfix_token(&bare, &pfix)
            .await
            .unwrap(),
        "trader01"
    );
}

#[tokio::test]
async fn a_429_is_a_typed_rate_limit_error() {
    let config = Config {
        rate_limit_per_second: Some(3),
        ..Config::default()
    };
    let server = mock::start(config).await.unwrap();
    let session = admin(&server).await;
    let mut limited = None;
    for _ in 0..6 {
        if let Err(e) = session.call(|c| c.list_assets().send()).await {
            limited = Some(e);
            break;
        }
    }
    let err = limited.expect("the fourth call within a second is refused");
    let Error::RateLimited(rl) = &err else {
        panic!("expected RateLimited, got {err:?}")
    };
    assert_eq!(
        rl.code.as_ref().and_then(|c| c.known()),
        Some(KnownCode::RateLimited)
    );
    assert_eq!(rl.http.status, 429);
    assert!(err.is_transient());
    assert!(err.to_string().contains("2.147.1.27"), "{err}");
    // After the window the token works again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    session.call(|c| c.list_assets().send()).await.unwrap();
}
