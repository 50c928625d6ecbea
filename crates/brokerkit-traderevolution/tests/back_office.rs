//! The four BackOffice routes the reference names by path only (issue 13.14), over real HTTP
//! against the stateful sandbox: the password blacklist, closing an account, rolling back a
//! position, listing orders; and token lifetimes read as the JSON numbers the source sends.

use brokerkit_mock::traderevolution::{self as mock, seed_position_id, Config};
use brokerkit_mock::Fault;
use brokerkit_traderevolution::{types, BrokerError, Error, Secret, Session};
use rust_decimal_macros::dec;
use std::time::Duration;

const ACCOUNT: i64 = 3_243_753;

async fn setup() -> (mock::Server, Session) {
    let server = mock::start(Config::default()).await.unwrap();
    let session = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    (server, session)
}

fn status(e: &Error) -> Option<u16> {
    e.status()
}

fn new_user(login: &str, password: &str) -> types::CreateUserRequest {
    types::CreateUserRequest {
        login: login.into(),
        password: Secret::new(password),
        email: format!("{login}@example.com"),
        first_name: "Black".into(),
        last_name: "List".into(),
        user_group: 12,
        accounts: vec![],
    }
}

#[tokio::test]
async fn a_blacklisted_password_is_listed_and_refused_for_new_users_and_changes() {
    let (server, session) = setup().await;
    let before = session.password_blacklist().await.unwrap();
    assert_eq!(
        before.iter().map(Secret::expose).collect::<Vec<_>>(),
        vec!["password"]
    );
    // A listed entry is a Secret: Debug does not print it.
    assert!(!format!("{before:?}").contains("password"), "{before:?}");

    session.blacklist_password("Summer2026!").await.unwrap();
    assert_eq!(server.password_blacklist(), vec!["password", "Summer2026!"]);
    let after = session
        .call(|c| c.list_password_blacklist().send())
        .await
        .unwrap();
    assert_eq!(after.status, 200);
    assert_eq!(after.value.len(), 2);
    assert_eq!(after.value[1].password.expose(), "Summer2026!");

    // The blacklist is enforced on user creation and on a password change.
    let refused = session
        .call(|c| {
            c.create_user()
                .body(new_user("blocked", "Summer2026!"))
                .send()
        })
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(406));
    assert!(session
        .find_user_by_login("blocked")
        .await
        .unwrap()
        .is_none());
    let user_id = session
        .call(|c| {
            c.create_user()
                .body(new_user("allowed", "fine-pass"))
                .send()
        })
        .await
        .unwrap()
        .value
        .id
        .unwrap();
    let change = types::ChangePasswordRequest {
        new_password: Secret::new("Summer2026!"),
    };
    let refused = session
        .call(|c| {
            c.change_user_password()
                .user_id(user_id)
                .body(change)
                .send()
        })
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(406));
    assert_eq!(server.password_of("allowed").as_deref(), Some("fine-pass"));

    // An entry without a password is a validation error, not a new entry.
    let empty = session.blacklist_password("").await.unwrap_err();
    assert_eq!(status(&empty), Some(406));
    assert_eq!(server.password_blacklist().len(), 2);
}

#[tokio::test]
async fn a_closed_account_stays_readable_as_closed_and_takes_no_more_money() {
    let (server, session) = setup().await;
    let open = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(open.value.status, Some(0));
    session
        .deposit(ACCOUNT, dec!(10), None)
        .await
        .expect("an open account takes a deposit");

    session.close_account(ACCOUNT).await.unwrap();
    assert_eq!(
        server.account_status(ACCOUNT),
        Some(mock::ACCOUNT_STATUS_CLOSED)
    );
    let closed = session
        .call(|c| c.get_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(
        closed.value.status,
        Some(mock::ACCOUNT_STATUS_CLOSED as i32)
    );
    let listed = session.call(|c| c.list_accounts().send()).await.unwrap();
    assert!(listed
        .iter()
        .any(|a| a.id == ACCOUNT && a.status == Some(1)));

    // Money no longer moves; the balance is what it was.
    let refused = session.deposit(ACCOUNT, dec!(5), None).await.unwrap_err();
    assert_eq!(status(&refused), Some(406));
    assert_eq!(
        session.account_balance(ACCOUNT).await.unwrap(),
        Some(dec!(10))
    );

    // A second close and an unknown account are refused.
    let again = session.close_account(ACCOUNT).await.unwrap_err();
    assert_eq!(status(&again), Some(406));
    let unknown = session.close_account(42).await.unwrap_err();
    assert_eq!(status(&unknown), Some(404));
}

#[tokio::test]
async fn a_rolled_back_position_is_gone_and_a_repeat_is_404() {
    let (server, session) = setup().await;
    let id = seed_position_id(0);
    assert_eq!(id, "9007199254740993", "beyond 2^53: kept as a string");
    assert_eq!(server.position_ids(), vec![id.clone()]);

    let reply = session
        .call(|c| c.delete_position().position_id(&id).send())
        .await
        .unwrap();
    assert!(matches!(reply.status, 200 | 204), "{}", reply.status);
    assert!(server.position_ids().is_empty(), "the exact id was removed");
    assert_eq!(server.hits.get("DELETE", &format!("/positions/{id}")), 1);

    let again = session.roll_back_position(&id).await.unwrap_err();
    assert_eq!(status(&again), Some(404));
    // A neighbouring id (what a float would have rounded to) never existed.
    let rounded = session
        .roll_back_position("9007199254740992")
        .await
        .unwrap_err();
    assert_eq!(status(&rounded), Some(404));
}

#[tokio::test]
async fn orders_are_listed_per_account_with_exact_ids_and_prices() {
    let (server, session) = setup().await;
    let orders = session.orders(Some(ACCOUNT)).await.unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].id, "9007199254741992");
    assert_eq!(orders[0].account_id, Some(ACCOUNT));
    assert_eq!(orders[0].price.map(|p| p.into_inner()), Some(dec!(1.0825)));
    assert_eq!(orders[0].qty.map(|q| q.into_inner()), Some(dec!(1.5)));
    assert_eq!(
        orders[0].side,
        Some(types::OrderSide::from(types::OrderSideString::Buy))
    );
    assert_eq!(orders[1].price, None, "a market order has no price");
    assert_eq!(orders[1].status.as_deref(), Some("filled"));

    assert!(session.orders(Some(42)).await.unwrap().is_empty());
    let page = session
        .call(|c| c.list_orders().offset(1u32).limit(5u32).send())
        .await
        .unwrap();
    assert_eq!(
        page.value.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        vec!["9007199254741993"]
    );

    // Deleting the account takes its orders and position with it.
    session
        .call(|c| c.delete_account().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert!(session.orders(None).await.unwrap().is_empty());
    assert!(server.position_ids().is_empty());
}

#[tokio::test]
async fn token_lifetimes_are_json_numbers_of_seconds_even_fractional_ones() {
    let server = mock::start(Config::default()).await.unwrap();
    server.faults.inject(
        "/auth/token",
        Fault::Respond {
            status: 200,
            body: r#"{"accessToken":"a1","refreshToken":"r1","accessTokenLifeTime":120.5,"refreshTokenLifeTime":7200}"#
                .into(),
        },
    );
    let session = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    let lifetimes = session.token_lifetimes().unwrap();
    assert_eq!(lifetimes.access, Duration::from_millis(120_500));
    assert_eq!(lifetimes.refresh, Duration::from_secs(7200));

    // A negative or absurd lifetime falls back to the defaults instead of failing.
    let server = mock::start(Config::default()).await.unwrap();
    server.faults.inject(
        "/auth/token",
        Fault::Respond {
            status: 200,
            body: r#"{"accessToken":"a1","refreshToken":"r1","accessTokenLifeTime":-3,"refreshTokenLifeTime":1e300}"#
                .into(),
        },
    );
    let session = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    let lifetimes = session.token_lifetimes().unwrap();
    assert_eq!(lifetimes.access, Duration::from_secs(300));
    assert_eq!(lifetimes.refresh, Duration::from_secs(3600));
}
