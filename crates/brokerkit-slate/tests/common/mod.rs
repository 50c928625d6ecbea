//! Helpers shared by the end-to-end tests: a sandbox and logged-in sessions.
#![allow(dead_code)]

use brokerkit_mock::slate::{self, Config, Server};
use brokerkit_slate::Session;

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

/// A staff session (user token pair) for the CRM operations.
pub async fn staff(server: &Server) -> Session {
    let session = Session::new(&server.base_url());
    session
        .login_staff(STAFF_EMAIL, STAFF_PASSWORD, None)
        .await
        .expect("staff login");
    session
}
