use super::*;
use bson::doc;

fn key(i: i32) -> Document {
    doc! {"_id": i}
}

#[test]
fn a_parked_document_counts_its_waiting_events_and_others_pass() {
    let mut p = Parked::default();
    let now = Instant::now();
    p.refused("users", &key(2), Some(11000), "duplicate key", now)
        .unwrap();
    assert!(p.wait_behind("users", &DocKey::of(&key(2))));
    assert!(p.wait_behind("users", &DocKey::of(&key(2))));
    assert!(
        !p.wait_behind("users", &DocKey::of(&key(3))),
        "another document flows"
    );
    assert!(
        !p.wait_behind("orders", &DocKey::of(&key(2))),
        "same _id elsewhere flows"
    );
    let e = &p.entries()[0];
    assert_eq!((e.attempts, e.waiting, e.code), (1, 2, Some(11000)));
}

#[test]
fn past_the_bound_the_refusal_names_the_key_and_the_setting() {
    let mut p = Parked::default();
    p.configure(OnRefused::Park, 1);
    let now = Instant::now();
    p.refused("users", &key(1), None, "r", now).unwrap();
    p.refused("users", &key(1), None, "again", now)
        .expect("the same document again is not one more");
    let err = p.refused("users", &key(7), None, "r", now).unwrap_err();
    assert!(
        err.contains("apply.max_parked_documents") && err.contains(r#"{"$numberInt":"7"}"#),
        "{err}"
    );
}

#[test]
fn retries_back_off_to_minutes_and_a_request_makes_them_due() {
    assert_eq!(retry_delay(1), FIRST_RETRY_DELAY);
    assert_eq!(retry_delay(2), FIRST_RETRY_DELAY * 2);
    assert_eq!(retry_delay(100), MAX_RETRY_DELAY);
    let mut p = Parked::default();
    let now = Instant::now();
    p.refused("users", &key(1), None, "r", now).unwrap();
    p.refused("users", &key(2), None, "r", now).unwrap();
    assert!(p.due(now, |_, _| true).is_empty());
    let one = Selector::One {
        collection: "users".into(),
        id: Bson::Int32(2),
    };
    assert_eq!(p.request_retry(&one, now), 1);
    assert_eq!(p.due(now, |_, _| true), vec![("users".to_string(), key(2))]);
    assert!(
        p.due(now, |_, k| k != &key(2)).is_empty(),
        "another partition's"
    );
    assert_eq!(p.due(now + MAX_RETRY_DELAY, |_, _| true).len(), 2);
    let wrong_type = Selector::One {
        collection: "users".into(),
        id: Bson::Int64(1),
    };
    assert_eq!(p.skip(&wrong_type), 0, "_id types differ");
    assert_eq!(p.skip(&Selector::All), 2);
    assert!(p.is_empty());
}

#[test]
fn the_listing_shows_ids_as_canonical_extended_json_and_survives_a_restore() {
    let mut p = Parked::default();
    p.refused(
        "users",
        &doc! {"_id": "a"},
        Some(13),
        "not authorized",
        Instant::now(),
    )
    .unwrap();
    let mut q = Parked::default();
    q.restore(&p.entries(), Instant::now());
    let v = q.to_json();
    assert_eq!(v["count"], 1);
    assert_eq!(v["documents"][0]["id"], "a");
    assert_eq!(v["documents"][0]["code"], 13);
    assert_eq!(q.entries(), p.entries());
}

/// The continuous verifier reports parked and skipped documents as known, never repairs them.
#[test]
fn parked_and_skipped_documents_are_known_others_are_not() {
    let mut p = Parked::default();
    let now = Instant::now();
    p.refused("users", &key(1), None, "r", now).unwrap();
    p.refused("users", &key(2), None, "r", now).unwrap();
    p.skip(&Selector::One {
        collection: "users".into(),
        id: Bson::Int32(2),
    });
    assert!(p.knows("users", &key(1)), "parked");
    assert!(p.knows("users", &key(2)), "skipped");
    assert!(!p.knows("users", &key(3)));
    assert!(!p.knows("orders", &key(1)), "same _id elsewhere");
}

/// Ending an exception (a newer write, a resync) must reach the checkpoint like a skip does:
/// a `verify` reading it would otherwise keep counting a resynced document as known (CI: the
/// `control::cli_failed` end-to-end test passed damage to a resynced document as "known").
#[test]
fn ending_an_exception_is_saved_like_a_skip() {
    let mut p = Parked::default();
    let now = Instant::now();
    for i in [1, 2] {
        p.refused("users", &key(i), None, "r", now).unwrap();
    }
    p.skip(&Selector::All);
    assert!(p.take_unsaved_skip(), "a skip is saved");
    assert!(
        !p.end_skip("users", &DocKey::of(&key(3))),
        "not an exception"
    );
    assert!(!p.take_unsaved_skip(), "nothing changed, nothing to save");
    assert!(p.end_skip("users", &DocKey::of(&key(1))));
    assert!(p.take_unsaved_skip(), "an ended exception is saved");
    p.end_skips_of("users");
    assert!(p.take_unsaved_skip(), "a resync ending the rest is saved");
    p.end_skips_of("users");
    assert!(!p.take_unsaved_skip());
}
