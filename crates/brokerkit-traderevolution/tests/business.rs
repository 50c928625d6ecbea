//! One business flow per tag, over real HTTP against the stateful sandbox: users, accounts,
//! presets, account operations (exact balances), assets, reports, error lookup, settings.

use brokerkit_mock::traderevolution::{
    self as mock, Config, REPORT_ACCOUNT_OPERATIONS, REPORT_ACCOUNT_STATEMENT, REPORT_USERS,
};
use brokerkit_traderevolution::{
    types, Error, ErrorCode, KnownCode, NewOperation, OperationType, ReportQuery, Secret, Session,
};
use brokerkit_traderevolution::{BrokerError, Failure};
use rust_decimal_macros::dec;
use std::time::{Duration, SystemTime};

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

#[tokio::test]
async fn users_are_created_found_reset_and_deleted() {
    let (server, session) = setup().await;
    let body = types::CreateUserRequest {
        login: "newbie".into(),
        password: Secret::new("first-pass"),
        email: "newbie@example.com".into(),
        first_name: "New".into(),
        last_name: "Bie".into(),
        user_group: 12,
        accounts: vec![types::NewUserAccount {
            account_name: "newbie-main".into(),
            preset_id: Some(7),
        }],
    };
    let created = session
        .call(|c| c.create_user().body(body).send())
        .await
        .unwrap();
    let (user_id, account_id) = (created.id.unwrap(), created.account_id.unwrap());

    let found = session
        .find_user_by_login("newbie")
        .await
        .unwrap()
        .expect("found by login");
    assert_eq!(found.id, Some(user_id));
    assert_eq!(found.email.as_deref(), Some("newbie@example.com"));
    assert!(session
        .find_user_by_login("nobody")
        .await
        .unwrap()
        .is_none());
    let user = session
        .call(|c| c.get_user().user_id(user_id).send())
        .await
        .unwrap();
    assert_eq!(
        (user.login.as_deref(), user.user_group),
        (Some("newbie"), Some(12))
    );
    let accounts = session
        .call(|c| c.list_user_accounts().user_id(user_id).send())
        .await
        .unwrap();
    assert_eq!(
        accounts.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![account_id]
    );
    assert_eq!(accounts[0].account_name.as_deref(), Some("newbie-main"));

    // The new user can log in; after a password change only the new password works.
    Session::login(&server.base_url(), "newbie", "first-pass")
        .await
        .unwrap();
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
    Session::login(&server.base_url(), "newbie", "second-pass")
        .await
        .unwrap();
    let old = Session::login(&server.base_url(), "newbie", "first-pass")
        .await
        .unwrap_err();
    assert_eq!(
        old.code().and_then(ErrorCode::known),
        Some(KnownCode::BadCredentials)
    );
    session
        .call(|c| c.reset_user_password().user_id(user_id).send())
        .await
        .unwrap();
    assert!(Session::login(&server.base_url(), "newbie", "second-pass")
        .await
        .is_err());

    session
        .call(|c| c.delete_user().user_id(user_id).send())
        .await
        .unwrap();
    let gone = session
        .call(|c| c.get_user().user_id(user_id).send())
        .await
        .unwrap_err();
    assert_eq!(status(&gone), Some(404));
    assert!(gone.to_string().contains("user not found"), "{gone}");
}

#[tokio::test]
async fn accounts_are_created_listed_detailed_and_deleted() {
    let (_server, session) = setup().await;
    let me = session
        .find_user_by_login("trader01")
        .await
        .unwrap()
        .unwrap();
    let body = types::CreateAccountRequest {
        account_name: "1234acc".into(),
        user_id: me.id.unwrap(),
        currency_id: None,
        mode: None,
        preset_id: None,
        status: None,
        type_: None,
    };
    let id = session
        .call(|c| c.create_account().body(body).send())
        .await
        .unwrap()
        .id
        .unwrap();
    let account = session
        .call(|c| c.get_account().account_id(id).send())
        .await
        .unwrap()
        .value;
    assert_eq!(account.account_name.as_deref(), Some("1234acc"));
    // Defaults: single account, active, live.
    assert_eq!(
        (account.type_, account.status, account.mode),
        (Some(0), Some(0), Some(1))
    );
    assert_eq!(account.balance.map(|b| b.into_inner()), Some(dec!(0)));

    let all = session.call(|c| c.list_accounts().send()).await.unwrap();
    assert_eq!(all.len(), 2);
    let second = session
        .call(|c| c.list_accounts().limit(1u32).offset(1u32).send())
        .await
        .unwrap();
    assert_eq!(
        second.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![all[1].id]
    );
    let details = session
        .call(|c| c.get_account_details().account_id(id).send())
        .await
        .unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].account_id, Some(id));

    session
        .call(|c| c.delete_account().account_id(id).send())
        .await
        .unwrap();
    let err = session
        .call(|c| c.get_account().account_id(id).send())
        .await
        .unwrap_err();
    let Error::Api(api) = err else {
        panic!("expected Api")
    };
    assert_eq!(api.status, 404);
    assert_eq!(api.message.as_deref(), Some("account not found"));
}

#[tokio::test]
async fn presets_are_created_and_filtered() {
    let (_server, session) = setup().await;
    let body = types::CreateAccountPresetRequest {
        preset_name: "CAD retail".into(),
        preset_currency: Some(4803),
    };
    let id = session
        .call(|c| c.create_account_preset().body(body).send())
        .await
        .unwrap()
        .id
        .unwrap();
    let cad = session
        .call(|c| c.list_account_presets().preset_currency(4803).send())
        .await
        .unwrap();
    assert_eq!(
        cad.iter()
            .map(|p| (p.preset_id, p.preset_name.as_str()))
            .collect::<Vec<_>>(),
        vec![(id, "CAD retail")]
    );
    let all = session
        .call(|c| c.list_account_presets().send())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn account_operations_move_the_balance_exactly() {
    let (server, session) = setup().await;
    let deposit = session
        .deposit(ACCOUNT, dec!(1000.10), Some("Welcome bonus"))
        .await
        .unwrap();
    assert!(deposit.is_some());
    session.withdraw(ACCOUNT, dec!(0.30), None).await.unwrap();
    session
        .create_operation(&NewOperation::new(
            ACCOUNT,
            OperationType::Adjustment,
            dec!(-0.70),
        ))
        .await
        .unwrap();
    session
        .create_operation(
            &NewOperation::new(ACCOUNT, OperationType::Transfer, dec!(0.01))
                .with_comment("from savings"),
        )
        .await
        .unwrap();
    // An id the guide does not name is sent and listed as is.
    session
        .create_operation(&NewOperation::new(
            ACCOUNT,
            OperationType::Other(99),
            dec!(0.02),
        ))
        .await
        .unwrap();
    assert_eq!(
        session.account_balance(ACCOUNT).await.unwrap(),
        Some(dec!(999.13))
    );
    assert_eq!(server.balance(ACCOUNT), Some(dec!(999.13)));

    let ops = session.settled_operations(ACCOUNT).await.unwrap();
    let summary: Vec<_> = ops.iter().map(|o| (o.kind, o.amount)).collect();
    assert_eq!(
        summary,
        vec![
            (Some(OperationType::Deposit), Some(dec!(1000.10))),
            (Some(OperationType::Withdrawal), Some(dec!(-0.30))),
            (Some(OperationType::Adjustment), Some(dec!(-0.70))),
            (Some(OperationType::Transfer), Some(dec!(0.01))),
            (Some(OperationType::Other(99)), Some(dec!(0.02))),
        ]
    );
    assert_eq!(ops[0].comment.as_deref(), Some("Welcome bonus"));
    assert_eq!(ops[0].settled, Some(true));

    // Filtering by type through the generated builder.
    let withdrawals = session
        .call(|c| {
            c.list_account_operations()
                .is_settled(types::SettledFlag::from(types::SettledFlagString::True))
                .operation_type_id(OperationType::Withdrawal.id())
                .send()
        })
        .await
        .unwrap();
    assert_eq!(withdrawals.len(), 1);

    // A debit beyond the balance is refused and changes nothing.
    let refused = session
        .withdraw(ACCOUNT, dec!(1000), None)
        .await
        .unwrap_err();
    assert_eq!(status(&refused), Some(406));
    assert!(
        refused.to_string().contains("insufficient funds"),
        "{refused}"
    );
    assert_eq!(server.balance(ACCOUNT), Some(dec!(999.13)));

    // A comment over 128 characters is refused before anything is sent.
    let before = server.hits.get("POST", "/accountOperations");
    let long =
        NewOperation::new(ACCOUNT, OperationType::Deposit, dec!(1)).with_comment("x".repeat(129));
    let err = session.create_operation(&long).await.unwrap_err();
    assert!(
        matches!(err, Error::Failure(Failure::InvalidRequest(_))),
        "{err:?}"
    );
    assert_eq!(server.hits.get("POST", "/accountOperations"), before);
}

#[tokio::test]
async fn assets_and_asset_balances_move_with_deposits_and_withdrawals() {
    let (server, session) = setup().await;
    let assets = session
        .call(|c| c.list_assets().limit(2u32).send())
        .await
        .unwrap();
    assert_eq!(
        assets.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        vec!["USD", "EUR"]
    );
    let balances = session
        .call(|c| c.list_asset_balances().account_id(ACCOUNT).send())
        .await
        .unwrap();
    assert_eq!(balances.len(), 1);
    let usd = balances[0].id.unwrap();
    assert_eq!(balances[0].asset_name.as_deref(), Some("USD"));

    let body = types::AssetBalanceChange {
        amount: dec!(250.25).into(),
        comment: Some("Wire 42".into()),
    };
    let after = session
        .call(|c| {
            c.deposit_asset_balance()
                .asset_balance_id(usd)
                .body(body)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(after.balance.map(|b| b.into_inner()), Some(dec!(250.25)));
    let body = types::AssetBalanceChange {
        amount: dec!(0.05).into(),
        comment: None,
    };
    let after = session
        .call(|c| {
            c.withdraw_asset_balance()
                .asset_balance_id(usd)
                .body(body)
                .send()
        })
        .await
        .unwrap();
    assert_eq!(after.balance.map(|b| b.into_inner()), Some(dec!(250.20)));
    // The account's own currency balance is the account balance.
    assert_eq!(server.balance(ACCOUNT), Some(dec!(250.20)));

    let body = types::AssetBalanceChange {
        amount: dec!(1).into(),
        comment: None,
    };
    let err = session
        .call(|c| {
            c.deposit_asset_balance()
                .asset_balance_id(999)
                .body(body)
                .send()
        })
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(404));
}

#[tokio::test]
async fn reports_run_as_tables_and_a_missing_filter_is_1_6_2_2() {
    let (_server, session) = setup().await;
    let reports = session.call(|c| c.list_reports().send()).await.unwrap();
    assert!(reports
        .iter()
        .any(|r| r.id == REPORT_ACCOUNT_STATEMENT && r.name == "Account Statement Report"));
    let functions = session
        .call(|c| c.list_report_functions().send())
        .await
        .unwrap();
    assert!(functions.iter().any(|f| f.name == "TIMESTAMP"));

    let err = session
        .run_report(&ReportQuery::new(REPORT_ACCOUNT_STATEMENT))
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected Api, got {err:?}")
    };
    assert_eq!(api.status, 406);
    assert_eq!(
        api.code.as_ref().and_then(ErrorCode::known),
        Some(KnownCode::ReportFilterMissing)
    );
    assert!(err.to_string().contains("pass the filter"), "{err}");

    session.deposit(ACCOUNT, dec!(12.34), None).await.unwrap();
    // Array rows.
    let statement = session
        .run_report(
            &ReportQuery::new(REPORT_ACCOUNT_STATEMENT)
                .account(ACCOUNT)
                .asset("USD"),
        )
        .await
        .unwrap();
    assert_eq!(
        statement.headers,
        vec!["Account Id", "Account", "Asset", "Balance"]
    );
    assert_eq!(statement.len(), 1);
    assert_eq!(statement.decimal(0, "Balance").unwrap(), Some(dec!(12.34)));
    assert_eq!(
        statement.text(0, "Account").as_deref(),
        Some("trader01-main")
    );

    // Object rows, filtered by period.
    let now = SystemTime::now();
    let query = ReportQuery::new(REPORT_ACCOUNT_OPERATIONS)
        .period(now - Duration::from_secs(60), now + Duration::from_secs(60));
    let ops = session.run_report(&query).await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops.decimal(0, "Amount").unwrap(), Some(dec!(12.34)));
    assert_eq!(ops.cell(0, "Type"), Some(&serde_json::json!(2)));
    let past = ReportQuery::new(REPORT_ACCOUNT_OPERATIONS).period(
        now - Duration::from_secs(7200),
        now - Duration::from_secs(3600),
    );
    assert!(session.run_report(&past).await.unwrap().is_empty());

    let users = session
        .run_report(&ReportQuery::new(REPORT_USERS).limit(2))
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    let unknown = session
        .run_report(&ReportQuery::new(4242))
        .await
        .unwrap_err();
    assert_eq!(status(&unknown), Some(404));
}

#[tokio::test]
async fn error_codes_are_described_by_the_server() {
    let (_server, session) = setup().await;
    let code = ErrorCode::from(KnownCode::ReportFilterMissing);
    assert_eq!(
        session.describe_error(&code).await.unwrap(),
        "PARAM / REPORT_REQUEST / FILTER_TYPE / EMPTY"
    );
    let unknown = ErrorCode::parse("9.9.9.9").unwrap();
    assert_eq!(
        status(&session.describe_error(&unknown).await.unwrap_err()),
        Some(404)
    );
}

#[tokio::test]
async fn connector_settings_set_the_lifetime_of_new_tokens() {
    let (server, session) = setup().await;
    let settings = session
        .call(|c| c.get_connector_settings().send())
        .await
        .unwrap();
    assert_eq!(
        (
            settings.access_token_life_time,
            settings.refresh_token_life_time
        ),
        (Some(300), Some(3600))
    );
    let body = types::ConnectorSettings {
        access_token_life_time: Some(900),
        refresh_token_life_time: None,
    };
    session
        .call(|c| c.update_connector_settings().body(body).send())
        .await
        .unwrap();
    session.refresh().await.unwrap();
    assert_eq!(
        session.token_lifetimes().unwrap().access,
        Duration::from_secs(900)
    );
    let bad = types::ConnectorSettings {
        access_token_life_time: Some(0),
        refresh_token_life_time: None,
    };
    let err = session
        .call(|c| c.update_connector_settings().body(bad).send())
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(406));
    assert_eq!(server.hits.get("PATCH", "/connectors/settings"), 2);
}
