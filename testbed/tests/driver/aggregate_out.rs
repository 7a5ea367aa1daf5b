//! Aggregation writing stages (`$out`, `$merge`) and database-level aggregates (`$documents`,
//! `$listLocalSessions`), through the official driver.

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::Collection;

async fn all(coll: &Collection<Document>) -> Vec<Document> {
    coll.find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn out_replaces_the_target_and_keeps_its_indexes() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("agg");
    let src = db.collection::<Document>("src");
    src.insert_many(vec![
        doc! {"_id": 1, "x": 11},
        doc! {"_id": 2, "x": 22},
        doc! {"_id": 3, "x": 33},
    ])
    .await
    .unwrap();
    let dst = db.collection::<Document>("dst");
    dst.insert_one(doc! {"_id": 99, "old": true}).await.unwrap();
    dst.create_index(mongodb::IndexModel::builder().keys(doc! {"x": 1}).build())
        .await
        .unwrap();
    let out: Vec<Document> = src
        .aggregate(vec![
            doc! {"$match": {"_id": {"$gt": 1}}},
            doc! {"$out": "dst"},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(out.is_empty(), "$out returns no documents");
    assert_eq!(
        all(&dst).await,
        vec![doc! {"_id": 2, "x": 22}, doc! {"_id": 3, "x": 33}]
    );
    let names = dst.list_index_names().await.unwrap();
    assert!(names.contains(&"x_1".to_string()), "{names:?}");
    let colls = db.list_collection_names().await.unwrap();
    assert!(colls.iter().all(|c| !c.starts_with("tmp.")), "{colls:?}");
}

#[tokio::test]
async fn merge_modes_and_duplicate_key_reply() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("agg");
    let dst = db.collection::<Document>("dst");
    dst.insert_many(vec![
        doc! {"_id": 1, "a": 1, "keep": true},
        doc! {"_id": 2, "a": 2},
    ])
    .await
    .unwrap();
    let run = |pipeline: Vec<Document>| {
        let db = db.clone();
        async move {
            db.run_command(doc! {"aggregate": 1, "pipeline": pipeline, "cursor": {}})
                .await
        }
    };
    // Default: whenMatched merge, whenNotMatched insert.
    run(vec![
        doc! {"$documents": [{"_id": 1, "a": 10}, {"_id": 3, "a": 30}]},
        doc! {"$merge": {"into": "dst"}},
    ])
    .await
    .unwrap();
    assert_eq!(
        all(&dst).await,
        vec![
            doc! {"_id": 1, "a": 10, "keep": true},
            doc! {"_id": 2, "a": 2},
            doc! {"_id": 3, "a": 30}
        ]
    );
    run(vec![
        doc! {"$documents": [{"_id": 1, "b": 1}, {"_id": 4}]},
        doc! {"$merge": {"into": "dst", "whenMatched": "replace", "whenNotMatched": "discard"}},
    ])
    .await
    .unwrap();
    assert_eq!(all(&dst).await[0], doc! {"_id": 1, "b": 1});
    assert_eq!(all(&dst).await.len(), 3, "discarded _id 4");
    let err = run(vec![
        doc! {"$documents": [{"_id": 5}]},
        doc! {"$merge": {"into": "dst", "whenNotMatched": "fail"}},
    ])
    .await
    .unwrap_err();
    assert!(
        matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 13113),
        "{err:?}"
    );

    let reply = crate::support::raw_command(
        tb.addr(),
        "agg",
        doc! {"aggregate": 1, "cursor": {}, "pipeline": [
            {"$documents": [{"_id": 2, "x": 1}]},
            {"$merge": {"into": "dst", "whenMatched": "fail"}},
        ]},
    )
    .await;
    assert_eq!(reply.get_i32("code"), Ok(11000), "{reply}");
    assert_eq!(reply.get_document("keyPattern").unwrap(), &doc! {"_id": 1});
    assert_eq!(reply.get_document("keyValue").unwrap(), &doc! {"_id": 2});
}

#[tokio::test]
async fn out_and_merge_must_be_last_and_not_linearizable() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("agg");
    let coll = db.collection::<Document>("src");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let err = coll
        .aggregate(vec![doc! {"$out": "x"}, doc! {"$match": {}}])
        .await
        .unwrap_err();
    assert!(
        matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 40601),
        "{err:?}"
    );
    let err = db
        .run_command(
            doc! {"aggregate": "src", "pipeline": [{"$out": "x"}], "cursor": {},
            "readConcern": {"level": "linearizable"}},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 72),
        "{err:?}"
    );
}

#[tokio::test]
async fn database_level_sources() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("agg");
    let docs: Vec<Document> = db
        .aggregate(vec![
            doc! {"$documents": [{"a": 1}, {"a": 2}]},
            doc! {"$match": {"a": 2}},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(docs, vec![doc! {"a": 2}]);

    let mut session = client.start_session().await.unwrap();
    db.run_command(doc! {"ping": 1})
        .session(&mut session)
        .await
        .unwrap();
    let id = session.id().get("id").cloned().unwrap();
    let sessions: Vec<Document> = db
        .aggregate(vec![doc! {"$listLocalSessions": {}}])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        sessions
            .iter()
            .any(|s| s.get_document("_id").unwrap().get("id") == Some(&id)),
        "a session that ran a command is listed: {sessions:?}"
    );
    for s in &sessions {
        assert!(s.get_document("_id").unwrap().contains_key("uid"));
        assert!(s.get_datetime("lastUse").is_ok());
    }

    let err = db.aggregate(vec![doc! {"$match": {}}]).await.unwrap_err();
    assert!(
        matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 73),
        "{err:?}"
    );
}
