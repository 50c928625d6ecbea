//! One insta snapshot per generated type of every vendor (REST types, and the stream message
//! types of `specs/<vendor>.streams.yaml` under `snapshots/<vendor>-stream`): a changed schema fails here until
//! its snapshot is reviewed (`cargo insta review`) as the API change it is.
//! CI never accepts snapshots (`INSTA_UPDATE=no`).

fn check(vendor: &str, schemas: Vec<(&'static str, schemars::schema::RootSchema)>) {
    assert!(!schemas.is_empty(), "{vendor} generated no types");
    // A snapshot whose type is gone is a removed API: delete it as part of the review.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(vendor);
    let names: std::collections::BTreeSet<&str> = schemas.iter().map(|(n, _)| *n).collect();
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|f| f.strip_suffix(".snap").map(str::to_owned))
                .filter(|n| !names.contains(n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty(),
        "{vendor}: snapshots of types that no longer exist: {stale:?}"
    );
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

#[test]
fn tradelocker_stream() {
    check(
        "tradelocker-stream",
        brokerkit_tradelocker::stream_types::type_schemas(),
    );
}

#[test]
fn autoshares_stream() {
    check(
        "autoshares-stream",
        brokerkit_autoshares::stream_types::type_schemas(),
    );
}
