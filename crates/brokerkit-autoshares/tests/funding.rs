//! Account funding against the sandbox: ACH relationships (instant and micro-deposit
//! approval, default, unlinking) and ACH transfers that settle into the balance.

mod common;

use brokerkit_autoshares::{types, Error, ListQuery, Session};
use brokerkit_mock::autoshares::MICRO_DEPOSITS;
use common::*;
use futures::{StreamExt, TryStreamExt};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn bank(
    number: &str,
    method: types::AchApprovalMethodString,
) -> types::CreateAchRelationshipResource {
    types::CreateAchRelationshipResource {
        routing_number: Some("011000015".into()),
        account_number: Some(number.into()),
        account_owner_name: Some("Trader Sandbox".into()),
        name: Some("First Sandbox Bank".into()),
        approval_method: Some(method.into()),
        bank_account_type: Some("Checking".into()),
    }
}

async fn link(
    session: &Session,
    number: &str,
    method: types::AchApprovalMethodString,
) -> Result<types::AchRelationshipResource, Error> {
    session
        .call(|c| {
            c.create_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .body(bank(number, method))
                .send()
        })
        .await
        .map(|r| r.value)
}

fn status(s: types::AchRelationshipStatusString) -> Option<types::AchRelationshipStatus> {
    Some(s.into())
}

#[tokio::test]
async fn a_manual_relationship_is_approved_with_its_micro_deposits() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let manual = link(
        &session,
        "000123456789",
        types::AchApprovalMethodString::Manual,
    )
    .await
    .unwrap();
    assert_eq!(
        manual.status,
        status(types::AchRelationshipStatusString::Pending)
    );
    assert_eq!(manual.display_account_number.as_deref(), Some("****6789"));
    assert_eq!(manual.default, Some(true), "the first link is the default");
    let id = manual.id.unwrap();

    // A transfer needs an approved relationship.
    let deposit = types::AchTransferEditableResource {
        ach_relationship_id: Some(id.to_string()),
        amount: Some(dec!(250).into()),
        is_incoming: Some(true),
        ..Default::default()
    };
    let err = session
        .call(|c| {
            c.send_ach_transfer()
                .account_id(TRADER_ACCOUNT)
                .body(deposit.clone())
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    // Wrong amounts are refused; the right ones in any order approve.
    let approve = |a: Decimal, b: Decimal| types::ApproveAchRelationshipResource {
        amount1: Some(a.into()),
        amount2: Some(b.into()),
        amount3: None,
    };
    let err = session
        .call(|c| {
            c.approve_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .id(id)
                .body(approve(dec!(0.01), dec!(0.02)))
                .send()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { message: Some(m), .. } if m.contains("micro-deposits")),
        "{err:?}"
    );
    let approved = session
        .call(|c| {
            c.approve_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .id(id)
                .body(approve(MICRO_DEPOSITS[1], MICRO_DEPOSITS[0]))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        approved.value.status,
        status(types::AchRelationshipStatusString::Approved)
    );
    // Approving twice is a conflict.
    let err = session
        .call(|c| {
            c.approve_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .id(id)
                .body(approve(MICRO_DEPOSITS[0], MICRO_DEPOSITS[1]))
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    let sent = session
        .call(|c| {
            c.send_ach_transfer()
                .account_id(TRADER_ACCOUNT)
                .body(deposit)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(sent.is_deposit, Some(true));
    assert_eq!(sent.amount.map(|a| a.into_inner()), Some(dec!(250)));
}

#[tokio::test]
async fn relationships_list_lazily_and_the_default_follows_changes() {
    let server = sandbox().await;
    let session = trader(&server).await;
    let err = session
        .call(|c| {
            c.get_default_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let mut ids = Vec::new();
    for n in 1..=5 {
        let r = link(
            &session,
            &format!("00000000{n}"),
            types::AchApprovalMethodString::Instant,
        )
        .await
        .unwrap();
        ids.push(r.id.unwrap());
    }
    let err = link(
        &session,
        "000000003",
        types::AchApprovalMethodString::Instant,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { .. }),
        "the same bank account twice: {err:?}"
    );

    let first_two: Vec<_> = session
        .ach_relationships(TRADER_ACCOUNT, ListQuery::new().page_size(2))
        .take(2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(
        server
            .hits
            .get("GET", "/v1.0/accounts/2001/ach-relationships"),
        1
    );
    let all: Vec<_> = session
        .ach_relationships(
            TRADER_ACCOUNT,
            ListQuery::new().page_size(2).sort("AccountNumber", true),
        )
        .try_collect()
        .await
        .unwrap();
    let numbers: Vec<_> = all
        .iter()
        .filter_map(|r| r.account_number.as_deref())
        .collect();
    assert_eq!(
        numbers,
        [
            "000000005",
            "000000004",
            "000000003",
            "000000002",
            "000000001"
        ]
    );

    // Making the third the default moves the flag.
    session
        .call(|c| {
            c.set_default_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .id(ids[2])
                .send()
        })
        .await
        .unwrap();
    let default = session
        .call(|c| {
            c.get_default_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(default.id, Some(ids[2]));
    let defaults = session
        .ach_relationships(TRADER_ACCOUNT, ListQuery::new())
        .filter(|r| std::future::ready(r.as_ref().is_ok_and(|r| r.default == Some(true))))
        .count()
        .await;
    assert_eq!(defaults, 1);

    // Unlinking keeps the relationship, canceled, with the reason; it is no longer the default.
    let canceled = session
        .call(|c| {
            c.delete_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .id(ids[2])
                .reason("account closed")
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        canceled.value.status,
        status(types::AchRelationshipStatusString::Canceled)
    );
    assert_eq!(canceled.cancel_reason.as_deref(), Some("account closed"));
    assert!(canceled.cancel_date.is_some());
    let err = session
        .call(|c| {
            c.get_default_ach_relationship()
                .account_id(TRADER_ACCOUNT)
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let page = session
        .call(|c| {
            c.get_ach_relationships()
                .account_id(TRADER_ACCOUNT)
                .page_number(0)
                .page_size(10u32)
                .sort_by("CreatedAt")
                .is_desc(false)
                .status(types::AchRelationshipStatusString::Canceled)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(page.total_count, Some(1));
    // The same bank account can be linked again once the old link is canceled.
    link(
        &session,
        "000000003",
        types::AchApprovalMethodString::Instant,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn transfers_settle_into_the_balance_and_can_be_canceled_before() {
    let server = sandbox().await;
    let session = trader(&server).await;

    let relationship = link(
        &session,
        "000123456789",
        types::AchApprovalMethodString::Instant,
    )
    .await
    .unwrap()
    .id
    .unwrap()
    .to_string();
    let session = &session;
    let send = |amount: Decimal, incoming: bool| {
        let body = types::AchTransferEditableResource {
            ach_relationship_id: Some(relationship.clone()),
            amount: Some(amount.into()),
            is_incoming: Some(incoming),
            ..Default::default()
        };
        async move {
            session
                .call(|c| {
                    c.send_ach_transfer()
                        .account_id(TRADER_ACCOUNT)
                        .body(body)
                        .send()
                })
                .await
                .map(|r| r.value)
        }
    };
    let cash = |s: &brokerkit_mock::autoshares::Server| s.cash(TRADER_ACCOUNT).unwrap();
    let start = cash(&server);

    let deposit = send(dec!(1500.25), true).await.unwrap();
    assert_eq!(deposit.status.as_deref(), Some("Submitted"));
    assert_eq!(deposit.created_by.as_deref(), Some("trader"));
    let withdrawal = send(dec!(400), false).await.unwrap();
    // More than the cash (counting the pending withdrawal) is refused.
    let err = send(start - dec!(399), false).await.unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { message: Some(m), .. } if m.contains("Insufficient")),
        "{err:?}"
    );
    // A non-positive amount is a validation error.
    let err = send(Decimal::ZERO, true).await.unwrap_err();
    assert!(
        matches!(&err, Error::Validation { fields, .. } if fields.contains_key("model.Amount")),
        "{err:?}"
    );
    assert_eq!(cash(&server), start, "nothing moves before settlement");

    session
        .call(|c| {
            c.cancel_transfer()
                .account_id(TRADER_ACCOUNT)
                .transfer_id(withdrawal.id.unwrap())
                .comment("not needed")
                .send()
        })
        .await
        .unwrap();
    assert_eq!(server.complete_transfers(), 1);
    assert_eq!(cash(&server), start + dec!(1500.25));
    let balance = session.balance(TRADER_ACCOUNT).await.unwrap();
    assert_eq!(
        balance.cash.map(|c| c.into_inner()),
        Some(start + dec!(1500.25))
    );
    // A settled transfer can no longer be canceled.
    let err = session
        .call(|c| {
            c.cancel_transfer()
                .account_id(TRADER_ACCOUNT)
                .transfer_id(deposit.id.unwrap())
                .comment("too late")
                .send()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    let transfers: Vec<_> = session
        .transfers(
            TRADER_ACCOUNT,
            ListQuery::new().page_size(1).sort("Amount", false),
        )
        .try_collect()
        .await
        .unwrap();
    let seen: Vec<_> = transfers
        .iter()
        .map(|t| (t.amount.unwrap().into_inner(), t.status.clone().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            (dec!(400), "Canceled".to_string()),
            (dec!(1500.25), "Complete".to_string())
        ]
    );
    assert_eq!(server.hits.get("GET", "/v1.0/accounts/2001/transfers"), 2);
}
