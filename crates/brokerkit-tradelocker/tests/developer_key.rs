//! The optional `developer-api-key`: on every call when configured (the official client's
//! behaviour), never on the stream-token exchange, never printed.

use brokerkit_mock::tradelocker as sandbox;
use brokerkit_tradelocker::{Credentials, Environment, Session};

const EURUSD: i64 = 278;
const INFO: i64 = 948734;
const KEY: &str = "tl-dev-key-0f9c2e71";

fn credentials() -> Credentials {
    Credentials::new("trader@example.com", "demo-password", "OSP-DEMO")
}

#[tokio::test]
async fn a_configured_key_goes_on_every_call_and_nowhere_visible() {
    let server = sandbox::start(Default::default()).await.unwrap();
    let session = Session::builder(Environment::Custom(server.base_url()))
        .developer_api_key(KEY)
        .login(&credentials())
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    session.quote(EURUSD, INFO).await.unwrap();
    session.positions().await.unwrap();
    session.refresh().await.unwrap();
    session
        .client()
        .get_stream_account_tokens()
        .body(brokerkit_tradelocker::types::JwtCredentials {
            email: "trader@example.com".into(),
            password: "demo-password".parse().unwrap(),
            server: "OSP-DEMO".into(),
        })
        .send()
        .await
        .unwrap();

    let seen = server.developer_keys();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    for expected in [
        "/auth/jwt/token",
        "/auth/jwt/all-accounts",
        "/trade/config",
        "/trade/quotes",
        "/auth/jwt/refresh",
        "/auth/jwt/accounts/tokens",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} not called: {paths:?}"
        );
    }
    for (path, key) in &seen {
        if path == "/auth/jwt/accounts/tokens" {
            assert_eq!(key, &None, "the stream-token exchange never gets the key");
        } else {
            assert_eq!(key.as_deref(), Some(KEY), "{path} without the key");
        }
    }
    assert_eq!(session.developer_api_key().map(|k| k.expose()), Some(KEY));
    let printed = format!("{session:?} {:?}", session.developer_api_key());
    assert!(!printed.contains(KEY), "{printed}");
}

#[tokio::test]
async fn without_a_key_none_is_sent() {
    let server = sandbox::start(Default::default()).await.unwrap();
    let session = Session::login(Environment::Custom(server.base_url()), &credentials())
        .await
        .unwrap();
    session.accounts().await.unwrap();
    assert!(session.developer_api_key().is_none());
    let seen = server.developer_keys();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.iter().all(|(_, key)| key.is_none()), "{seen:?}");
}
