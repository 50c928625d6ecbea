//! TraderEvolution's path parameters are all int64 in the spec (user, account, asset balance,
//! report ids), so no text can be passed; what can be passed must still reach the intended
//! route as one segment, through the same checked path building as every vendor.

use brokerkit_mock::hostile;
use brokerkit_mock::traderevolution::{self as mock, Config};
use brokerkit_traderevolution::Session;

#[tokio::test]
async fn every_integer_user_id_is_one_segment_of_the_users_route() {
    let server = mock::start(Config::default()).await.unwrap();
    let session = Session::login(&server.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    for id in [i64::MIN, -1, 0, 1, i64::MAX] {
        let before = server.hits.snapshot();
        let result = session.call(|c| c.delete_user().user_id(id).send()).await;
        let sent = hostile::new_requests(&before, &server.hits.snapshot());
        let outcome = hostile::judge(&sent, &id.to_string(), "DELETE /users/", "", None);
        assert!(result.is_err(), "user {id} does not exist");
        println!("traderevolution delete_user {id}: {outcome}");
    }
}
