//! A path parameter never changes the target: every hostile id reaches the intended route as
//! one segment holding exactly the id, or is refused with `Error::Path` before sending.

mod common;

use brokerkit_autoshares::Failure;
use brokerkit_autoshares::{types, Error};
use brokerkit_mock::hostile;
use common::*;

fn refused<T>(result: &Result<T, Error>) -> Option<&'static str> {
    match result {
        Err(Error::Failure(Failure::Path(e))) => Some(e.refused().value()),
        _ => None,
    }
}

#[tokio::test]
async fn hostile_user_ids_never_delete_our_watchlist() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let _ = session.client();
    let body = types::CreateWatchlistModel {
        name: Some("Keep".into()),
        securities: vec![1],
    };
    let list = session
        .call(|c| {
            c.create_watchlist()
                .user_id("@me")
                .result_include_securities(false)
                .body(body)
                .send()
        })
        .await
        .unwrap();
    let list_id = list.id.unwrap();
    // `x\..\@me` once reached DELETE /v1.0/users/@me/watchlists/{id}.
    for id in hostile::ids("@me") {
        let before = server.hits.snapshot();
        let result = session
            .call(|c| {
                c.delete_watchlist()
                    .user_id(id.as_str())
                    .watchlist_id(list_id)
                    .send()
            })
            .await;
        let sent = hostile::new_requests(&before, &server.hits.snapshot());
        let suffix = format!("/watchlists/{list_id}");
        let outcome = hostile::judge(&sent, &id, "DELETE /v1.0/users/", &suffix, refused(&result));
        assert!(result.is_err(), "{id:?} deleted a watchlist");
        println!("autoshares delete_watchlist user_id {id:?}: {outcome}");
    }
    let kept = session
        .call(|c| {
            c.get_watchlist()
                .user_id("@me")
                .watchlist_id(list_id)
                .include_securities(false)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(kept.name.as_deref(), Some("Keep"));
}

#[tokio::test]
async fn hostile_symbols_stay_one_segment() {
    let server = sandbox().await;
    let session = trader(&server).await;
    // `/v1.0/equities/lookup` is a sibling route a traversal could reach.
    for id in hostile::ids("lookup") {
        let before = server.hits.snapshot();
        let result = session
            .call(|c| c.get_equity().id_or_symbol(id.as_str()).send())
            .await;
        let sent = hostile::new_requests(&before, &server.hits.snapshot());
        let outcome = hostile::judge(&sent, &id, "GET /v1.0/equities/", "", refused(&result));
        assert!(result.is_err(), "{id:?} found an equity");
        println!("autoshares get_equity {id:?}: {outcome}");
    }
}
