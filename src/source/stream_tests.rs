//! The change-stream pipeline: the server-side collection filter (issue 11 item 18) keeps the
//! listed collections' document events and every other event, checked with the testbed's
//! matcher (the same `$match` semantics the server applies).

use super::*;
use mongo_testbed::matcher::Matcher;

fn listed() -> Vec<String> {
    vec!["orders".to_string(), "users".to_string()]
}

fn doc_event(op: &str, coll: &str) -> Document {
    doc! {"_id": {"_data": "1"}, "operationType": op, "ns": {"db": "shop", "coll": coll}, "documentKey": {"_id": 1}}
}

/// The `$match` of the pipeline, if any, and whether it lets `event` through.
fn passes(stages: &[Document], event: &Document) -> bool {
    stages
        .iter()
        .filter_map(|s| s.get_document("$match").ok())
        .all(|filter| Matcher::new(filter).expect("a valid filter").matches(event))
}

#[test]
fn without_collections_nothing_is_filtered_and_splitting_comes_last() {
    assert_eq!(pipeline(None, false), Vec::<Document>::new());
    assert_eq!(
        pipeline(None, true),
        vec![doc! {"$changeStreamSplitLargeEvent": {}}]
    );
    let stages = pipeline(Some(&listed()), true);
    assert_eq!(stages.len(), 2);
    assert!(stages[0].contains_key("$match"));
    assert_eq!(stages[1], doc! {"$changeStreamSplitLargeEvent": {}});
}

#[test]
fn document_events_of_unlisted_collections_are_filtered_on_the_server() {
    let stages = pipeline(Some(&listed()), false);
    assert!(
        stages.iter().any(|s| s.contains_key("$match")),
        "{stages:?}"
    );
    for op in DOCUMENT_EVENTS {
        assert!(
            passes(&stages, &doc_event(op, "orders")),
            "{op} of a listed collection"
        );
        assert!(
            !passes(&stages, &doc_event(op, "audit")),
            "{op} of an unlisted one"
        );
    }
}

#[test]
fn ddl_events_pass_the_filter_whatever_their_collection() {
    let stages = pipeline(Some(&listed()), true);
    let rename_in = doc! {"_id": {"_data": "1"}, "operationType": "rename",
    "ns": {"db": "shop", "coll": "staging"}, "to": {"db": "shop", "coll": "orders"}};
    let drop_database =
        doc! {"_id": {"_data": "2"}, "operationType": "dropDatabase", "ns": {"db": "shop"}};
    let invalidate = doc! {"_id": {"_data": "3"}, "operationType": "invalidate"};
    let mut events = vec![rename_in, drop_database, invalidate];
    for op in [
        "drop",
        "create",
        "createIndexes",
        "dropIndexes",
        "modify",
        "rename",
    ] {
        events.push(doc_event(op, "audit"));
    }
    for event in events {
        assert!(passes(&stages, &event), "{event:?}");
    }
}
