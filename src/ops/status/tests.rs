use super::*;

/// A named way to make a ready status not ready.
type Breaker = (&'static str, fn(&Status));

fn ready_status() -> Status {
    let s = Status::new("ordersDB", "ordersDB_backup");
    s.set_phase(Phase::Tailing);
    s.set_up(Side::Source, true);
    s.set_up(Side::Target, true);
    s.set_stream_open(true);
    s
}

#[test]
fn fresh_status_has_every_field_with_empty_values() {
    let v = Status::new("ordersDB", "ordersDB_backup").to_json();
    assert_eq!(v["phase"], "starting");
    assert_eq!(v["source"], json!({ "database": "ordersDB" }));
    assert_eq!(v["target"], json!({ "database": "ordersDB_backup" }));
    assert_eq!(
        v["events_applied"],
        json!({ "insert": 0, "update": 0, "replace": 0, "delete": 0, "ddl": 0 })
    );
    for key in [
        "last_applied_cluster_time",
        "last_applied_wall_time",
        "last_checkpoint_time",
        "last_error",
    ] {
        assert!(v[key].is_null(), "{key} = {}", v[key]);
    }
    assert_eq!(v["lag_seconds"], 0.0);
    assert_eq!(v["up"], json!({ "source": false, "target": false }));
    assert_eq!(v["stream_open"], false);
    assert_eq!(v["stalled"], false);
    assert_eq!(v["ready"], false);
    assert_eq!(v["pending_indexes"], json!([]));
}

#[test]
fn updates_show_in_json() {
    let s = ready_status();
    s.add_applied(Op::Insert, 5);
    s.add_applied(Op::Insert, 2);
    s.add_applied(Op::Delete, 1);
    s.set_last_applied(
        Some(bson::Timestamp {
            time: 1_700_000_000,
            increment: 7,
        }),
        Some(1_700_000_000_123),
    );
    s.set_lag_seconds(1.5);
    s.set_checkpoint_now();
    s.set_error("target", "write failed: timeout");
    s.set_pending_indexes(vec!["orders.email_1".into()]);
    let v = s.to_json();
    assert_eq!(v["phase"], "tailing");
    assert_eq!(v["events_applied"]["insert"], 7);
    assert_eq!(v["events_applied"]["delete"], 1);
    assert_eq!(v["events_applied"]["update"], 0);
    assert_eq!(
        v["last_applied_cluster_time"],
        json!({ "t": 1_700_000_000u32, "i": 7 })
    );
    assert_eq!(v["last_applied_wall_time"], "2023-11-14T22:13:20.123Z");
    assert_eq!(v["lag_seconds"], 1.5);
    let checkpoint = v["last_checkpoint_time"]
        .as_str()
        .expect("checkpoint time is a string");
    assert!(
        bson::DateTime::parse_rfc3339_str(checkpoint).is_ok(),
        "{checkpoint}"
    );
    assert_eq!(v["last_error"]["kind"], "target");
    assert_eq!(v["last_error"]["message"], "write failed: timeout");
    assert!(bson::DateTime::parse_rfc3339_str(v["last_error"]["at"].as_str().unwrap()).is_ok());
    assert_eq!(v["up"], json!({ "source": true, "target": true }));
    assert_eq!(v["stream_open"], true);
    assert_eq!(v["ready"], true);
    assert_eq!(v["pending_indexes"], json!(["orders.email_1"]));
}

#[test]
fn clones_share_state() {
    let a = Status::new("a", "b");
    let b = a.clone();
    b.set_phase(Phase::Copying);
    assert_eq!(a.phase(), Phase::Copying);
}

#[test]
fn ready_needs_both_sides_an_open_stream_no_stall_and_no_stop() {
    assert!(ready_status().ready());
    assert_eq!(ready_status().not_ready_reason(), None);

    let cases: [Breaker; 5] = [
        ("source unreachable", |s| s.set_up(Side::Source, false)),
        ("target unreachable", |s| s.set_up(Side::Target, false)),
        ("change stream not open", |s| s.set_stream_open(false)),
        ("stalled", |s| s.set_stalled(true)),
        ("stopping", |s| s.set_phase(Phase::Stopped)),
    ];
    for (reason, break_it) in cases {
        let s = ready_status();
        break_it(&s);
        assert!(!s.ready(), "{reason}");
        let line = s.not_ready_reason().expect("a reason");
        assert!(line.contains(reason), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
        assert_eq!(s.to_json()["ready"], false);
    }
}

#[test]
fn only_database_names_appear() {
    let s = Status::new("ordersDB", "ordersDB_backup");
    let text = s.to_json().to_string();
    assert!(!text.contains("mongodb://"), "{text}");
}
