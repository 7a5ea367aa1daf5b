//! `clusteredIndex` on `create` (accepted, listed as mongod lists it) and the options the
//! testbed refuses rather than ignores (`timeseries`, `expireAfterSeconds`).

use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;

fn code_of(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(e) => Some(e.code),
        _ => None,
    }
}

#[tokio::test]
async fn clustered_collections_are_listed_and_bad_options_refused() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("cl");
    db.run_command(doc! {"create": "c", "clusteredIndex": {"key": {"_id": 1}, "unique": true}})
        .await
        .unwrap();
    let info = crate::support::collection_info(&db, "c").await;
    assert_eq!(
        info.get_document("options").unwrap(),
        &doc! {"clusteredIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_", "unique": true}}
    );
    assert!(!info.contains_key("idIndex"), "{info}");
    let c = db.collection::<Document>("c");
    c.insert_one(doc! {"_id": 1}).await.unwrap();
    let specs: Vec<Document> = db
        .run_command(doc! {"listIndexes": "c"})
        .await
        .map(|r| {
            let batch = r
                .get_document("cursor")
                .unwrap()
                .get_array("firstBatch")
                .unwrap();
            batch
                .iter()
                .map(|d| d.as_document().unwrap().clone())
                .collect()
        })
        .unwrap();
    assert_eq!(
        specs,
        [doc! {"v": 2, "key": {"_id": 1}, "name": "_id_", "unique": true, "clustered": true}]
    );
    let refused = [
        (
            doc! {"create": "x", "clusteredIndex": {"key": {"a": 1}, "unique": true}},
            72,
        ),
        (
            doc! {"create": "x", "clusteredIndex": {"key": {"_id": 1}, "unique": false}},
            72,
        ),
        (
            doc! {"create": "x", "clusteredIndex": {"key": {"_id": 1}}},
            40414,
        ),
        (doc! {"create": "x", "clusteredIndex": 1}, 5979702),
        (
            doc! {"create": "x", "clusteredIndex": true, "size": 10},
            6049200,
        ),
        (doc! {"create": "x", "expireAfterSeconds": 10i64}, 72),
        (
            doc! {"create": "x", "clusteredIndex": true, "expireAfterSeconds": 10i64},
            72,
        ),
        (doc! {"create": "x", "timeseries": {"timeField": "t"}}, 72),
    ];
    for (cmd, want) in refused {
        let err = db.run_command(cmd.clone()).await.unwrap_err();
        assert_eq!(code_of(&err), Some(want), "{cmd}: {err:?}");
    }
    let names: Vec<String> = db.list_collection_names().await.unwrap();
    assert_eq!(names, ["c"]);
    let all = crate::support::collection_specs(&db).await;
    assert!(all[0].options.clustered_index.is_some());
}
