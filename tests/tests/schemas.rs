//! One insta snapshot per generated type of every vendor: a changed schema fails here until
//! its snapshot is reviewed (`cargo insta review`) as the API change it is.
//! CI never accepts snapshots (`INSTA_UPDATE=no`).

fn check(vendor: &str, schemas: Vec<(&'static str, schemars::schema::RootSchema)>) {
    assert!(!schemas.is_empty(), "{vendor} generated no types");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(format!("snapshots/{vendor}"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, schema) in schemas {
            insta::assert_json_snapshot!(name, schema);
        }
    });
}

#[test]
fn tradelocker() {
    check("tradelocker", brokerkit_tradelocker::type_schemas());
}

#[test]
fn traderevolution() {
    check("traderevolution", brokerkit_traderevolution::type_schemas());
}

#[test]
fn slate() {
    check("slate", brokerkit_slate::type_schemas());
}

#[test]
fn autoshares() {
    check("autoshares", brokerkit_autoshares::type_schemas());
}
