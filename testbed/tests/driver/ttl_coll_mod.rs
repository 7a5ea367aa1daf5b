//! The TTL monitor (a pass every `ttlMonitorSleepSecs`, settable by `setParameter` and at
//! startup; expired documents deleted as ordinary deletes, visible in change streams) and
//! `collMod` of an index (`expireAfterSeconds`, `hidden`, with `_old`/`_new` in the reply) and of
//! `changeStreamPreAndPostImages`, with the `modify` event of each.

use futures::TryStreamExt;
use mongo_testbed::TestbedOptions;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};
use std::time::Duration;

fn ago(secs: i64) -> DateTime {
    DateTime::from_millis(DateTime::now().timestamp_millis() - secs * 1000)
}

#[tokio::test]
async fn ttl_monitor_deletes_expired_documents_as_ordinary_deletes() {
    let tb = crate::support::start_with(TestbedOptions {
        ttl_monitor_sleep_secs: 1,
        ..TestbedOptions::default()
    })
    .await;
    let client = crate::support::client(&tb).await;
    let admin = client.database("admin");
    let params = admin
        .run_command(doc! {"getParameter": 1, "ttlMonitorSleepSecs": 1})
        .await
        .unwrap();
    assert_eq!(params.get_i32("ttlMonitorSleepSecs"), Ok(1), "{params}");
    let db = client.database("ttl");
    let coll = db.collection::<Document>("c");
    db.run_command(doc! {"createIndexes": "c", "indexes": [{"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 60}]})
        .await
        .unwrap();
    let mut stream = coll.watch().await.unwrap();
    coll.insert_many([
        doc! {"_id": "old", "at": ago(3600)},
        doc! {"_id": "fresh", "at": DateTime::now()},
        doc! {"_id": "array", "at": [DateTime::now(), ago(7200)]},
        doc! {"_id": "no-date", "at": "yesterday"},
        doc! {"_id": "missing"},
    ])
    .await
    .unwrap();
    let gone = crate::support::wait_until(Duration::from_secs(10), || async {
        coll.count_documents(doc! {}).await.unwrap() == 3
    })
    .await;
    assert!(
        gone,
        "the expired and the array with an old date are deleted"
    );
    let mut left: Vec<String> = coll
        .find(doc! {})
        .await
        .unwrap()
        .try_collect::<Vec<Document>>()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_str("_id").unwrap().to_string())
        .collect();
    left.sort();
    assert_eq!(left, ["fresh", "missing", "no-date"]);
    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        let e: ChangeStreamEvent<Document> =
            tokio::time::timeout(Duration::from_secs(10), stream.try_next())
                .await
                .expect("a delete event")
                .unwrap()
                .unwrap();
        if e.operation_type == OperationType::Delete {
            deleted.push(e.document_key.unwrap().get_str("_id").unwrap().to_string());
        }
    }
    deleted.sort();
    assert_eq!(deleted, ["array", "old"]);
}

#[tokio::test]
async fn ttl_monitor_sleep_is_settable_at_runtime_and_startup() {
    let tb = crate::support::start().await; // 60 s: no pass during this test unless changed
    let client = crate::support::client(&tb).await;
    let coll = client.database("ttl2").collection::<Document>("c");
    client
        .database("ttl2")
        .run_command(doc! {"createIndexes": "c", "indexes": [{"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 0}]})
        .await
        .unwrap();
    coll.insert_one(doc! {"_id": 1, "at": ago(10)})
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        coll.count_documents(doc! {}).await.unwrap(),
        1,
        "default 60 s"
    );
    let err = client
        .database("ttl2")
        .run_command(doc! {"setParameter": 1, "ttlMonitorSleepSecs": 1})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("admin"), "{err}");
    let reply = client
        .database("admin")
        .run_command(doc! {"setParameter": 1, "ttlMonitorSleepSecs": 1})
        .await
        .unwrap();
    assert_eq!(reply.get("was"), Some(&Bson::Int32(60)), "{reply}");
    let gone = crate::support::wait_until(Duration::from_secs(10), || async {
        coll.count_documents(doc! {}).await.unwrap() == 0
    })
    .await;
    assert!(gone, "a pass runs once the sleep is 1 s");

    let off = crate::support::start_with(TestbedOptions {
        set_parameters: vec![
            "ttlMonitorSleepSecs=1".into(),
            "ttlMonitorEnabled=false".into(),
        ],
        ..TestbedOptions::default()
    })
    .await;
    let client = crate::support::client(&off).await;
    let reply = client
        .database("admin")
        .run_command(doc! {"getParameter": 1, "ttlMonitorSleepSecs": 1, "ttlMonitorEnabled": 1})
        .await
        .unwrap();
    assert_eq!(reply.get_i32("ttlMonitorSleepSecs"), Ok(1), "{reply}");
    assert_eq!(reply.get_bool("ttlMonitorEnabled"), Ok(false), "{reply}");
    assert!(mongo_testbed::Testbed::start(TestbedOptions {
        set_parameters: vec!["noSuchParameter=1".into()],
        ..TestbedOptions::default()
    })
    .await
    .is_err());
}

#[tokio::test]
async fn coll_mod_changes_index_ttl_and_hidden_and_pre_images_with_modify_events() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("cm");
    db.run_command(doc! {"createIndexes": "c", "indexes": [
        {"key": {"at": 1}, "name": "at_1", "expireAfterSeconds": 3600},
        {"key": {"x": 1}, "name": "x_1"},
    ]})
    .await
    .unwrap();
    let mut stream = db
        .collection::<Document>("c")
        .watch()
        .show_expanded_events(true)
        .await
        .unwrap()
        .with_type::<Document>();
    let reply = db
        .run_command(
            doc! {"collMod": "c", "index": {"keyPattern": {"at": 1}, "expireAfterSeconds": 60}},
        )
        .await
        .unwrap();
    assert_eq!(reply.get_i32("expireAfterSeconds_old"), Ok(3600), "{reply}");
    assert_eq!(reply.get_i32("expireAfterSeconds_new"), Ok(60), "{reply}");
    let reply = db
        .run_command(doc! {"collMod": "c", "index": {"name": "x_1", "hidden": true}})
        .await
        .unwrap();
    assert_eq!(reply.get_bool("hidden_old"), Ok(false), "{reply}");
    assert_eq!(reply.get_bool("hidden_new"), Ok(true), "{reply}");
    db.run_command(doc! {"collMod": "c", "changeStreamPreAndPostImages": {"enabled": true}})
        .await
        .unwrap();
    let err = db
        .run_command(doc! {"collMod": "c", "index": {"name": "nope", "hidden": true}})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("IndexNotFound"), "{err}");

    let specs: Vec<Document> = db
        .collection::<Document>("c")
        .list_indexes()
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|m| mongodb::bson::to_document(&m).unwrap())
        .collect();
    let at = specs
        .iter()
        .find(|s| s.get_str("name") == Ok("at_1"))
        .unwrap();
    assert_eq!(at.get_i32("expireAfterSeconds"), Ok(60), "{at}");
    let x = specs
        .iter()
        .find(|s| s.get_str("name") == Ok("x_1"))
        .unwrap();
    assert_eq!(x.get_bool("hidden"), Ok(true), "{x}");
    let info = db
        .run_command(doc! {"listCollections": 1, "filter": {"name": "c"}})
        .await
        .unwrap();
    let options = info
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map(|b| {
            b[0].as_document()
                .unwrap()
                .get_document("options")
                .unwrap()
                .clone()
        })
        .unwrap();
    assert_eq!(
        options.get_document("changeStreamPreAndPostImages"),
        Ok(&doc! {"enabled": true})
    );

    let mut events = Vec::new();
    while events.len() < 3 {
        let e = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("a modify event")
            .unwrap()
            .unwrap();
        assert_eq!(e.get_str("operationType"), Ok("modify"), "{e}");
        events.push(e);
    }
    let desc = |i: usize| {
        events[i]
            .get_document("operationDescription")
            .unwrap()
            .clone()
    };
    let before = |i: usize| events[i].get_document("stateBeforeChange").unwrap().clone();
    assert_eq!(
        desc(0),
        doc! {"index": {"name": "at_1", "expireAfterSeconds": 60}}
    );
    assert_eq!(
        before(0).get_document("indexOptions"),
        Ok(&doc! {"expireAfterSeconds": 3600})
    );
    assert!(before(0)
        .get_document("collectionOptions")
        .unwrap()
        .contains_key("uuid"));
    assert_eq!(desc(1), doc! {"index": {"name": "x_1", "hidden": true}});
    assert_eq!(
        before(1).get_document("indexOptions"),
        Ok(&doc! {"hidden": false})
    );
    assert_eq!(
        desc(2),
        doc! {"changeStreamPreAndPostImages": {"enabled": true}}
    );
}
