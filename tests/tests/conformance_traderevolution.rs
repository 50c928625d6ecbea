//! The TraderEvolution BackOffice sandbox cannot drift from `specs/traderevolution.yaml`: every
//! operation is exercised (successes, business rejections and HTTP errors) and every answer is
//! validated against the schema the spec documents for its status.

mod support;

use brokerkit_mock::traderevolution::{
    self as sandbox, Config, REPORT_ACCOUNT_OPERATIONS, REPORT_ACCOUNT_STATEMENT, REPORT_USERS,
};
use brokerkit_traderevolution::BrokerError;
use brokerkit_traderevolution::{
    types, verify_pfix_token, Client, Error, ErrorCode, KnownCode, NewOperation, OperationType,
    ReportQuery, Secret, Session,
};
use rust_decimal::Decimal;
use std::time::{Duration, SystemTime};

const ACCOUNT: i64 = 3_243_753;

fn status(e: &Error) -> Option<u16> {
    e.status()
}

#[tokio::test]
async fn every_sandbox_answer_matches_the_spec() {
    let spec = support::Spec::load("traderevolution");
    let server = sandbox::start(Config::default()).await.unwrap();
    server.recorder.start();
    let base = server.base_url();
    let http = brokerkit_runtime::tls::client_builder().build().unwrap();

    // ---- Auth: wrong credentials, a user without API access, a malformed body, no token.
    let bad = Session::login(&base, "admin", "nope").await.unwrap_err();
    assert_eq!(status(&bad), Some(401));
    assert_eq!(
        bad.code().and_then(ErrorCode::known),
        Some(KnownCode::BadCredentials)
    );
    let no_api = Session::login(&base, "noapi", "noapi-pass")
        .await
        .unwrap_err();
    assert_eq!(
        no_api.code().and_then(ErrorCode::known),
        Some(KnownCode::NoApiAccess)
    );
    let malformed = http
        .post(format!("{base}/auth/token"))
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let unauth = http.get(format!("{base}/accounts")).send().await.unwrap();
    assert_eq!(unauth.status(), 401);

    let session = Session::login(&base, "admin", "admin-pass").await.unwrap();
    // A bearer for the raw requests below that no typed call can make.
    let pair: serde_json::Value = http
        .post(format!("{base}/auth/token"))
        .json(&serde_json::json!({"login": "admin", "password": "admin-pass"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = pair["accessToken"].as_str().unwrap().to_string();

    // Refresh: through the session, then a refresh token that no longer exists.
    session.refresh().await.unwrap();
    assert_eq!(session.renewals(), 1);
    let plain = Client::new(&base, Default::default());
    let stale = plain
        .refresh_token()
        .token("not-a-refresh-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(stale.status().map(|s| s.as_u16()), Some(401));

    // One-time and PFIX tokens: valid, used twice, expired.
    let ott = Secret::new(server.issue_one_time_token("trader01"));
    assert_eq!(
        session.verify_one_time_token(&ott).await.unwrap(),
        "trader01"
    );
    assert!(matches!(
        session.verify_one_time_token(&ott).await,
        Err(Error::InvalidToken)
    ));
    let pfix = Secret::new(server.issue_pfix_token("trader01", false));
    assert_eq!(verify_pfix_token(&plain, &pfix).await.unwrap(), "trader01");
    let expired = Secret::new(server.issue_pfix_token("trader01", true));
    assert!(matches!(
        session.verify_pfix_token(&expired).await,
        Err(Error::InvalidToken)
    ));

    // ---- Settings.
    let settings = session
        .call(|c| c.get_connector_settings().send())
        .await
        .unwrap();
    assert_eq!(settings.access_token_life_time, Some(300));
    let longer = types::ConnectorSettings {
        access_token_life_time: Some(600),
        refresh_token_life_time: Some(7200),
    };
    let changed = session
        .call(|c| c.update_connector_settings().body(longer).send())
        .await
        .unwrap();
    assert_eq!(changed.refresh_token_life_time, Some(7200));
    let zero = types::ConnectorSettings {
        access_token_life_time: Some(0),
        refresh_token_life_time: None,
    };
    let refused = session
        .call(|c| c.update_connector_settings().body(zero).send())
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(406));

    // ---- Users.
    let body = types::CreateUserRequest {
        login: "conformance".into(),
        password: Secret::new("first-pass"),
        email: "conformance@example.com".into(),
        first_name: "Con".into(),
        last_name: "Formance".into(),
        user_group: 12,
        accounts: vec![types::NewUserAccount {
            account_name: "conformance-main".into(),
            preset_id: Some(7),
        }],
    };
    let created = session
        .call(|c| c.create_user().body(body.clone()).send())
        .await
        .unwrap();
    let (user_id, first_account) = (created.id.unwrap(), created.account_id.unwrap());
    let taken = session
        .call(|c| c.create_user().body(body).send())
        .await
        .unwrap_err();
    assert_eq!(status(&taken), Some(406), "a taken login is refused");
    let found = session.find_user_by_login("conformance").await.unwrap();
    assert_eq!(found.and_then(|u| u.id), Some(user_id));
    let user = session
        .call(|c| c.get_user().user_id(user_id).send())
        .await
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("conformance@example.com"));
    let accounts = session
        .call(|c| c.list_user_accounts().user_id(user_id).send())
        .await
        .unwrap();
    assert_eq!(
        accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![first_account]
    );
    let short = types::ChangePasswordRequest {
        new_password: Secret::new("abc"),
    };
    let too_short = session
        .call(|c| c.change_user_password().user_id(user_id).body(short).send())
        .await
        .unwrap_err();
    assert_eq!(status(&too_short), Some(406));
    let change = types::ChangePasswordRequest {
        new_password: Secret::new("second-pass"),
    };
    session
        .call(|c| {
            c.change_user_password()
                .user_id(user_id)
                .body(change)
                .send()
        })
        .await
        .unwrap();
    session
        .call(|c| c.reset_user_password().user_id(user_id).send())
        .await
        .unwrap();

    // ---- Accounts.
    let new_account = types::CreateAccountRequest {
        account_name: "conformance-second".into(),
        user_id,
        currency_id: Some(2),
        mode: None,
        preset_id: None,
        status: None,
        type_: None,
    };
    let second = session
        .call(|c| c.create_account().body(new_account.clone()).send())
        .await
        .unwrap()
        .id
        .unwrap();
    let orphan = types::CreateAccountRequest {
        user_id: 1,
        ..new_account
    };
    let unknown_user = session
        .call(|c| c.create_account().body(orphan).send())
        .await
        .unwrap_err();
    assert_eq!(status(&unknown_user), Some(406));
    let listed = session
        .call(|c| c.list_accounts().limit(10u32).offset(0u32).send())
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    let account = session
        .call(|c| c.get_account().account_id(second).send())
        .await
        .unwrap();
    assert_eq!(account.currency_id, Some(2));
    let details = session
        .call(|c| c.get_account_details().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(details.len(), 1);

    // ---- Presets.
    let preset = types::CreateAccountPresetRequest {
        preset_name: "CAD retail".into(),
        preset_currency: Some(4803),
    };
    let preset_id = session
        .call(|c| c.create_account_preset().body(preset).send())
        .await
        .unwrap()
        .id;
    let cad = session
        .call(|c| c.list_account_presets().preset_currency(4803).send())
        .await
        .unwrap();
    assert_eq!(
        cad.iter().map(|p| Some(p.preset_id)).collect::<Vec<_>>(),
        vec![preset_id]
    );

    // ---- Account operations: a deposit, a refused debit, the settled list.
    session
        .deposit(ACCOUNT, Decimal::new(100025, 2), Some("Welcome bonus"))
        .await
        .unwrap();
    let beyond = session
        .withdraw(ACCOUNT, Decimal::new(2000, 0), None)
        .await
        .unwrap_err();
    assert_eq!(status(&beyond), Some(406));
    session
        .create_operation(
            &NewOperation::new(ACCOUNT, OperationType::Adjustment, Decimal::new(-25, 2))
                .with_comment("fee"),
        )
        .await
        .unwrap();
    let ops = session.settled_operations(ACCOUNT).await.unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        session.account_balance(ACCOUNT).await.unwrap(),
        Some(Decimal::new(1000, 0))
    );
    let not_a_flag = http
        .get(format!("{base}/accountOperations?isSettled=maybe"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_flag.status(), 406);

    // ---- Assets and asset balances.
    let assets = session
        .call(|c| c.list_assets().limit(3u32).send())
        .await
        .unwrap();
    assert_eq!(assets.len(), 3);
    let balances = session
        .call(|c| c.list_asset_balances().account_id(ACCOUNT).send())
        .await
        .unwrap();
    let usd = balances[0].id.unwrap();
    let change = |amount: i64| types::AssetBalanceChange {
        amount: Decimal::new(amount, 2).into(),
        comment: Some("Wire 42".into()),
    };
    let after = session
        .call(|c| {
            c.deposit_asset_balance()
                .asset_balance_id(usd)
                .body(change(5000))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        after.balance.map(|b| b.into_inner()),
        Some(Decimal::new(1050, 0))
    );
    let after = session
        .call(|c| {
            c.withdraw_asset_balance()
                .asset_balance_id(usd)
                .body(change(25))
                .send()
        })
        .await
        .unwrap();
    assert_eq!(
        after.balance.map(|b| b.into_inner()),
        Some(Decimal::new(104975, 2))
    );
    let overdrawn = session
        .call(|c| {
            c.withdraw_asset_balance()
                .asset_balance_id(usd)
                .body(change(10_000_000))
                .send()
        })
        .await
        .unwrap_err();
    assert_eq!(status(&overdrawn), Some(406));
    let missing = session
        .call(|c| {
            c.deposit_asset_balance()
                .asset_balance_id(1)
                .body(change(1))
                .send()
        })
        .await
        .unwrap_err();
    assert_eq!(status(&missing), Some(404));

    // ---- Reports: both row shapes, a missing filter (1.6.2.2), an unknown report.
    let reports = session.call(|c| c.list_reports().send()).await.unwrap();
    assert_eq!(reports.len(), 3);
    let functions = session
        .call(|c| c.list_report_functions().send())
        .await
        .unwrap();
    assert!(functions.iter().any(|f| f.name == "TIMESTAMP"));
    let statement = session
        .run_report(&ReportQuery::new(REPORT_ACCOUNT_STATEMENT).account(ACCOUNT))
        .await
        .unwrap();
    assert_eq!(statement.len(), 1);
    let now = SystemTime::now();
    let ops_report = session
        .run_report(
            &ReportQuery::new(REPORT_ACCOUNT_OPERATIONS)
                .period(now - Duration::from_secs(60), now + Duration::from_secs(60))
                .limit(10),
        )
        .await
        .unwrap();
    assert_eq!(ops_report.len(), 2);
    session
        .run_report(&ReportQuery::new(REPORT_USERS))
        .await
        .unwrap();
    let no_filter = session
        .run_report(&ReportQuery::new(REPORT_ACCOUNT_STATEMENT))
        .await
        .unwrap_err();
    assert_eq!(
        no_filter.code().and_then(ErrorCode::known),
        Some(KnownCode::ReportFilterMissing)
    );
    let unknown_report = session
        .run_report(&ReportQuery::new(4242))
        .await
        .unwrap_err();
    assert_eq!(status(&unknown_report), Some(404));

    // ---- Error lookup.
    let described = session
        .describe_error(&ErrorCode::from(KnownCode::RateLimited))
        .await
        .unwrap();
    assert_eq!(described, "LIMIT / REQUESTS / TOKEN / EXCEEDED");
    let unknown_code = session
        .describe_error(&ErrorCode::parse("9.9.9.9").unwrap())
        .await
        .unwrap_err();
    assert_eq!(status(&unknown_code), Some(404));

    // ---- Ids beyond int64 in the path: the BackOffice's JSON 400, not axum's plain text.
    for path in [
        "/users/9223372036854775808",
        "/accounts/9223372036854775808",
        "/reports/9223372036854775808",
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }

    // ---- The routes the reference names by path only (issue 13.14): the password blacklist
    // (listed, added to, enforced), closing an account (readable as closed, a second close and
    // an unknown account refused), orders, and a position rollback (a repeat is 404).
    session.blacklist_password("Summer2026!").await.unwrap();
    let blacklist = session
        .call(|c| c.list_password_blacklist().send())
        .await
        .unwrap();
    assert_eq!(blacklist.len(), 2);
    let blacklisted = types::ChangePasswordRequest {
        new_password: Secret::new("Summer2026!"),
    };
    let refused = session
        .call(|c| {
            c.change_user_password()
                .user_id(user_id)
                .body(blacklisted)
                .send()
        })
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(406));
    let empty = session.blacklist_password("").await.unwrap_err();
    assert_eq!(status(&empty), Some(406));
    session.close_account(second).await.unwrap();
    let closed = session
        .call(|c| c.get_account().account_id(second).send())
        .await
        .unwrap();
    assert_eq!(
        closed.value.status,
        Some(sandbox::ACCOUNT_STATUS_CLOSED as i32)
    );
    let twice = session.close_account(second).await.unwrap_err();
    assert_eq!(status(&twice), Some(406));
    let nowhere = session.close_account(1).await.unwrap_err();
    assert_eq!(status(&nowhere), Some(404));
    let orders = session
        .call(|c| c.list_orders().account_id(ACCOUNT).limit(10u32).send())
        .await
        .unwrap();
    assert_eq!(orders.len(), 2);
    let position = sandbox::seed_position_id(0);
    session.roll_back_position(&position).await.unwrap();
    let gone = session.roll_back_position(&position).await.unwrap_err();
    assert_eq!(status(&gone), Some(404));

    // ---- Deletes last: the account, the user (and its accounts), then 404s.
    session
        .call(|c| c.delete_account().account_id(second).send())
        .await
        .unwrap();
    let gone = session
        .call(|c| c.get_account().account_id(second).send())
        .await
        .unwrap_err();
    assert_eq!(status(&gone), Some(404));
    let again = session
        .call(|c| c.delete_account().account_id(second).send())
        .await
        .unwrap_err();
    assert_eq!(status(&again), Some(404));
    session
        .call(|c| c.delete_user().user_id(user_id).send())
        .await
        .unwrap();
    for e in [
        session
            .call(|c| c.get_user().user_id(user_id).send())
            .await
            .unwrap_err(),
        session
            .call(|c| c.delete_user().user_id(user_id).send())
            .await
            .unwrap_err(),
        session
            .call(|c| c.list_user_accounts().user_id(user_id).send())
            .await
            .unwrap_err(),
        session
            .call(|c| c.reset_user_password().user_id(user_id).send())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status(&e), Some(404), "{e:?}");
    }
    let mut exchanges = server.recorder.take();

    // ---- Rate limiting (429 with 2.147.1.27) on a sandbox that allows 2 calls a second.
    let limited = sandbox::start(Config {
        rate_limit_per_second: Some(2),
        ..Config::default()
    })
    .await
    .unwrap();
    limited.recorder.start();
    let session = Session::login(&limited.base_url(), "admin", "admin-pass")
        .await
        .unwrap();
    let mut rate_limited = None;
    for _ in 0..20 {
        if let Err(e) = session.call(|c| c.list_reports().send()).await {
            rate_limited = Some(e);
            break;
        }
    }
    let rate_limited = rate_limited.expect("the third call in a second is refused");
    assert_eq!(status(&rate_limited), Some(429));
    assert_eq!(
        rate_limited.code().and_then(ErrorCode::known),
        Some(KnownCode::RateLimited)
    );
    exchanges.extend(limited.recorder.take());

    let covered = spec.check_all(&exchanges);
    let missing: Vec<_> = spec.operation_ids().difference(&covered).cloned().collect();
    assert!(
        missing.is_empty(),
        "operations never exercised: {missing:?}"
    );
    // Every documented status family the sandbox can produce was seen.
    let statuses: std::collections::BTreeSet<u16> = exchanges.iter().map(|e| e.status).collect();
    for s in [200, 204, 400, 401, 404, 406, 429] {
        assert!(
            statuses.contains(&s),
            "no answer with status {s}: {statuses:?}"
        );
    }
}
