//! The four vendor crates share one session shape: a builder that takes the runtime's
//! `ClientConfig`, `call(|c| …)` returning a `Reply`, `renewals()`, `expires_at()`,
//! `logout()`, and errors read through the one `BrokerError` trait. Each check below is written
//! once, generically, and run against every vendor's sandbox over loopback.

use brokerkit_mock::Fault;
use brokerkit_runtime::call::Retry;
use brokerkit_runtime::{BrokerError, ClientConfig, Reply};
use rust_decimal::Decimal;
use std::time::Duration;

/// Retries off, so the sandbox's 429 reaches the caller instead of being waited out.
fn config() -> ClientConfig {
    ClientConfig::default().retry(Retry::off())
}

fn rate_limited(fault_retry_after: u64) -> Fault {
    Fault::RateLimited {
        retry_after_secs: fault_retry_after,
        body: r#"{"detail":"slow down"}"#.into(),
    }
}

fn answered<T>(reply: &Reply<T>) {
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.is_empty());
}

fn is_rate_limited(e: &impl BrokerError) {
    assert_eq!(e.status(), Some(429), "{e:?}");
    assert_eq!(
        e.rate_limit().and_then(|r| r.retry_after),
        Some(Duration::from_secs(7)),
        "{e:?}"
    );
    assert!(e.is_transient(), "{e:?}");
    assert!(!e.may_have_executed());
    assert!(!e.login_required());
    assert!(e
        .http()
        .is_some_and(|h| h.body_text().contains("slow down")));
}

fn is_unknown_outcome(e: &impl BrokerError) {
    assert!(e.may_have_executed(), "{e:?}");
    assert!(
        !e.is_transient(),
        "an unknown outcome is never 'just retry'"
    );
    assert_eq!(e.status(), None);
}

fn is_logged_out(e: &impl BrokerError) {
    assert!(e.login_required(), "{e:?}");
    assert!(!e.may_have_executed());
    assert!(e.http().is_none(), "nothing was sent, nothing answered");
}

#[tokio::test]
async fn tradelocker_has_the_shape() {
    use brokerkit_mock::tradelocker::{self as sandbox, Config};
    use brokerkit_tradelocker::{orders, Credentials, Environment, Session};
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::builder(Environment::Custom(server.base_url()))
        .config(config())
        .login(&Credentials::new(
            "trader@example.com",
            "demo-password",
            "OSP-DEMO",
        ))
        .await
        .unwrap();
    let account = session.accounts().await.unwrap().remove(0);
    session.select_account(&account);
    assert_eq!(session.renewals(), 0);
    assert!(session.expires_at().is_some());
    // A macro, not a closure in a `let`: as an argument the closure's borrow of the client
    // is tied to the session's lifetime.
    macro_rules! quote {
        () => {
            |c| {
                c.get_quotes()
                    .tradable_instrument_id(278)
                    .route_id(948734)
                    .send()
            }
        };
    }
    answered(&session.call(quote!()).await.unwrap());

    server.faults.inject("/trade/quotes", rate_limited(7));
    is_rate_limited(&session.call(quote!()).await.unwrap_err());
    server.faults.clear();

    let path = format!("/trade/accounts/{}/orders", account.id);
    server
        .faults
        .inject_times("POST", &path, Fault::ExecuteThenDrop, 1);
    let order = orders::market(278, 948735, orders::Direction::Buy, Decimal::new(1, 2));
    is_unknown_outcome(&session.place_order(&order).await.unwrap_err());
    assert_eq!(server.hits.get("POST", &path), 1);

    session.logout().await.unwrap();
    let before = server.hits.total();
    is_logged_out(&session.call(quote!()).await.unwrap_err());
    assert_eq!(server.hits.total(), before);
    assert!(session.expires_at().is_none());
}

#[tokio::test]
async fn autoshares_has_the_shape() {
    use brokerkit_autoshares::orders::{OrderRequest, Side};
    use brokerkit_autoshares::AutoShares;
    use brokerkit_mock::autoshares::{self as sandbox, Config};
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = AutoShares::builder(server.base_url(), server.app_key())
        .config(config())
        .build()
        .unwrap()
        .login_single_factor("trader", "trader-pass")
        .await
        .unwrap();
    assert_eq!(session.renewals(), 0);
    assert!(session.expires_at().is_some());
    macro_rules! me {
        () => {
            |c| c.get_user_info().user_id("@me").send()
        };
    }
    answered(&session.call(me!()).await.unwrap());

    server
        .faults
        .inject("/v1.0/users/@me/info", rate_limited(7));
    is_rate_limited(&session.call(me!()).await.unwrap_err());
    server.faults.clear();

    let path = "/v1.0/accounts/2001/orders";
    server
        .faults
        .inject_times("POST", path, Fault::ExecuteThenDrop, 1);
    let order = OrderRequest::market("AAPL", Side::Buy, Decimal::from(1));
    is_unknown_outcome(&session.place_order(2001, &order).await.unwrap_err());
    assert_eq!(server.hits.get("POST", path), 1);

    session.logout().await.unwrap();
    let before = server.hits.total();
    is_logged_out(&session.call(me!()).await.unwrap_err());
    assert_eq!(server.hits.total(), before);
}

#[tokio::test]
async fn traderevolution_has_the_shape() {
    use brokerkit_mock::traderevolution::{self as sandbox, Config};
    use brokerkit_traderevolution::Session;
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::builder(server.base_url())
        .config(config())
        .login("admin", "admin-pass")
        .await
        .unwrap();
    assert_eq!(session.renewals(), 0);
    assert!(session.expires_at().is_some());
    macro_rules! assets {
        () => {
            |c| c.list_assets().send()
        };
    }
    answered(&session.call(assets!()).await.unwrap());

    server.faults.inject("/assets", rate_limited(7));
    is_rate_limited(&session.call(assets!()).await.unwrap_err());
    server.faults.clear();

    server
        .faults
        .inject_times("POST", "/accountOperations", Fault::ExecuteThenDrop, 1);
    let err = session
        .deposit(3_243_753, Decimal::new(2500, 2), None)
        .await
        .unwrap_err();
    is_unknown_outcome(&err);
    assert_eq!(server.hits.get("POST", "/accountOperations"), 1);

    session.logout().await.unwrap();
    let before = server.hits.total();
    is_logged_out(&session.call(assets!()).await.unwrap_err());
    assert_eq!(server.hits.total(), before);
}

#[tokio::test]
async fn slate_has_the_shape() {
    use brokerkit_mock::slate::{self as sandbox, Config};
    use brokerkit_slate::Session;
    let server = sandbox::start(Config::default()).await.unwrap();
    let session = Session::builder(server.base_url())
        .config(config())
        .build()
        .unwrap();
    session
        .login("trader@example.com", "correct horse")
        .await
        .unwrap();
    assert_eq!(session.renewals(), 0);
    assert!(session.expires_at().is_some());
    macro_rules! me {
        () => {
            |c| c.get_me().send()
        };
    }
    answered(&session.call(me!()).await.unwrap());

    server.faults.inject("/customers/me", rate_limited(7));
    is_rate_limited(&session.call(me!()).await.unwrap_err());
    server.faults.clear();

    server
        .faults
        .inject_times("POST", "/customers/me/withdraw", Fault::ExecuteThenDrop, 1);
    let err = session
        .withdraw(Decimal::new(1010, 2), Default::default(), None)
        .await
        .unwrap_err();
    is_unknown_outcome(&err);
    assert_eq!(server.hits.get("POST", "/customers/me/withdraw"), 1);

    session.logout().await.unwrap();
    let before = server.hits.total();
    is_logged_out(&session.call(me!()).await.unwrap_err());
    assert_eq!(server.hits.total(), before);
}
