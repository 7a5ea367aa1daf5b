//! `[ha]` validation: every problem names its key.

use mongo_replicator::config::{CheckpointStoreKind, Config};

fn problems(mutate: impl FnOnce(&mut Config)) -> String {
    let mut c = Config::default();
    c.ha.enabled = true;
    mutate(&mut c);
    c.validate()
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn ha_needs_the_target_store_and_says_so_naming_both_keys() {
    let msg = problems(|c| {
        c.checkpoint.store = CheckpointStoreKind::File;
        c.checkpoint.path = Some("/tmp/x.json".into());
    });
    assert!(
        msg.contains("ha.enabled") && msg.contains("checkpoint.store"),
        "{msg}"
    );
    assert_eq!(problems(|_| {}), "", "the defaults with ha on are valid");
}

#[test]
fn lease_seconds_and_name_are_bounded() {
    for bad in [0, 1, 301] {
        let msg = problems(|c| c.ha.lease_seconds = bad);
        assert!(msg.contains(&format!("ha.lease_seconds = {bad}")), "{msg}");
    }
    assert_eq!(problems(|c| c.ha.lease_seconds = 2), "");
    for bad in ["", "  ", "a\nb"] {
        let msg = problems(|c| c.ha.name = bad.to_string());
        assert!(msg.contains("ha.name"), "{bad:?}: {msg}");
    }
    assert!(problems(|c| c.ha.name = "x".repeat(129)).contains("ha.name"));
    let mut off = Config::default();
    off.ha.lease_seconds = 0;
    assert!(off.validate().is_ok(), "[ha] is not checked while disabled");
}

#[test]
fn prefer_local_primary_needs_a_local_uri() {
    let msg = problems(|c| c.ha.prefer_local_primary = true);
    assert!(
        msg.contains("ha.prefer_local_primary") && msg.contains("ha.local_uri"),
        "{msg}"
    );
    let msg = problems(|c| {
        c.ha.local_uri = Some(mongo_replicator::config::ConnectionString::new(
            "localhost:27017",
        ))
    });
    assert!(msg.contains("ha.local_uri"), "{msg}");
    assert_eq!(
        problems(|c| {
            c.ha.prefer_local_primary = true;
            c.ha.local_uri = Some(mongo_replicator::config::ConnectionString::new(
                "mongodb://localhost:27017/?directConnection=true",
            ));
        }),
        ""
    );
}
