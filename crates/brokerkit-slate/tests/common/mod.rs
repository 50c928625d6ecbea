//! Helpers shared by the end-to-end tests: a sandbox and logged-in sessions.
#![allow(dead_code)]

use brokerkit_mock::slate::{self, Config, Server};
use brokerkit_slate::{types, Secret, Session};

pub const EMAIL: &str = "trader@example.com";
pub const PASSWORD: &str = "correct horse";
pub const STAFF_EMAIL: &str = "admin@example.com";
pub const STAFF_PASSWORD: &str = "admin password";

pub async fn sandbox() -> Server {
    slate::start(Config::default())
        .await
        .expect("sandbox starts")
}

pub async fn sandbox_with(config: Config) -> Server {
    slate::start(config).await.expect("sandbox starts")
}

pub async fn customer(server: &Server) -> Session {
    let session = Session::new(&server.base_url());
    session
        .login(EMAIL, PASSWORD)
        .await
        .expect("customer login");
    session
}

/// Logs a staff user in through the generated client and wraps the token in a session.
pub async fn staff(server: &Server) -> Session {
    let raw = Session::new(&server.base_url());
    let body = types::StaffLoginRequest {
        email: STAFF_EMAIL.into(),
        password: Secret::new(STAFF_PASSWORD),
        totp_code: None,
    };
    let answer = raw
        .client()
        .staff_login()
        .body(body)
        .send()
        .await
        .expect("staff login")
        .into_inner();
    let types::StaffLoginSuccess::TokenPair(pair) = answer else {
        panic!("no TOTP for this user")
    };
    Session::with_token(&server.base_url(), pair.access_token)
}
