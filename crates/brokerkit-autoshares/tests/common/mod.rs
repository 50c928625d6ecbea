#![allow(dead_code)]

use brokerkit_autoshares::{AutoShares, Session};
use brokerkit_mock::autoshares::{self, Config, Server};

pub const TRADER: (&str, &str) = ("trader", "trader-pass");
pub const TRADER_ACCOUNT: i32 = 2001;
pub const TWO_FACTOR: (&str, &str) = ("twofactor", "twofactor-pass");
pub const TWO_FACTOR_CODE: &str = "845213";
pub const PIN_USER: (&str, &str) = ("pinuser", "pinuser-pass");
pub const PIN: &str = "4321";

pub async fn sandbox() -> Server {
    sandbox_with(Config::default()).await
}

pub async fn sandbox_with(config: Config) -> Server {
    autoshares::start(config)
        .await
        .expect("the sandbox starts on loopback")
}

pub fn api(server: &Server) -> AutoShares {
    AutoShares::new(server.base_url(), server.app_key()).expect("client builds")
}

pub async fn trader(server: &Server) -> Session {
    api(server)
        .login_single_factor(TRADER.0, TRADER.1)
        .await
        .expect("the trader logs in")
}
