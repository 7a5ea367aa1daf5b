//! CRUD through the official driver: round trips, bulk writes sent as document sequences,
//! unique indexes (E11000 with keyValue), cursors over many batches, catalog commands.

use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;
use std::time::Duration;

#[tokio::test]
async fn crud_round_trip() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("shop").collection::<Document>("orders");

    let id = coll
        .insert_one(doc! {"item": "a", "qty": 1})
        .await
        .unwrap()
        .inserted_id;
    assert!(id.as_object_id().is_some(), "server-side ObjectId _id");
    coll.insert_one(doc! {"_id": 2, "item": "b", "qty": 5})
        .await
        .unwrap();

    let found = coll.find_one(doc! {"_id": 2}).await.unwrap().unwrap();
    assert_eq!(found, doc! {"_id": 2, "item": "b", "qty": 5});

    let r = coll
        .update_one(doc! {"_id": 2}, doc! {"$inc": {"qty": 1}})
        .await
        .unwrap();
    assert_eq!((r.matched_count, r.modified_count), (1, 1));
    let r = coll
        .update_one(doc! {"_id": 3}, doc! {"$set": {"qty": 9}})
        .upsert(true)
        .await
        .unwrap();
    assert_eq!(r.upserted_id, Some(mongodb::bson::Bson::Int32(3)));
    let r = coll
        .replace_one(doc! {"_id": 3}, doc! {"item": "c"})
        .await
        .unwrap();
    assert_eq!(r.modified_count, 1);
    assert_eq!(
        coll.find_one(doc! {"_id": 3}).await.unwrap().unwrap(),
        doc! {"_id": 3, "item": "c"}
    );

    let r = coll
        .update_many(doc! {}, doc! {"$set": {"seen": true}})
        .await
        .unwrap();
    assert_eq!(r.matched_count, 3);
    assert_eq!(coll.count_documents(doc! {"seen": true}).await.unwrap(), 3);
    assert_eq!(coll.estimated_document_count().await.unwrap(), 3);

    let before = coll
        .find_one_and_update(doc! {"_id": 2}, doc! {"$set": {"qty": 0}})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.get_i32("qty").unwrap(), 6);

    let sorted: Vec<Document> = coll
        .find(doc! {})
        .sort(doc! {"_id": -1})
        .projection(doc! {"item": 1, "_id": 0})
        .skip(1)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sorted.len(), 2);
    // BSON order puts numbers before ObjectIds: descending is oid, 3, 2.
    assert_eq!(sorted[0], doc! {"item": "c"});

    let items = coll.distinct("item", doc! {}).await.unwrap();
    assert_eq!(items.len(), 3);

    assert_eq!(
        coll.delete_one(doc! {"_id": 3})
            .await
            .unwrap()
            .deleted_count,
        1
    );
    assert_eq!(coll.delete_many(doc! {}).await.unwrap().deleted_count, 2);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 0);
}

#[tokio::test]
async fn bulk_insert_uses_document_sequences_and_reports_write_errors() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("bulk").collection::<Document>("c");
    let docs: Vec<Document> = (0..5000)
        .map(|i| doc! {"_id": i, "pad": "x".repeat(100)})
        .collect();
    let r = coll.insert_many(docs).await.unwrap();
    assert_eq!(r.inserted_ids.len(), 5000);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 5000);

    // Unordered: the duplicate fails, the rest go in.
    let err = coll
        .insert_many(vec![
            doc! {"_id": 1},
            doc! {"_id": 9000},
            doc! {"_id": 9001},
        ])
        .ordered(false)
        .await
        .unwrap_err();
    match *err.kind {
        ErrorKind::InsertMany(ref e) => {
            let we = e.write_errors.as_ref().unwrap();
            assert_eq!((we.len(), we[0].index, we[0].code), (1, 0, 11000));
        }
        ref other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        coll.count_documents(doc! {"_id": {"$gte": 9000}})
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn unique_index_rejects_duplicates_with_key_value() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("u").collection::<Document>("users");
    let model = IndexModel::builder()
        .keys(doc! {"email": 1})
        .options(IndexOptions::builder().unique(true).build())
        .build();
    let created = coll.create_index(model).await.unwrap();
    assert_eq!(created.index_name, "email_1");
    coll.insert_one(doc! {"_id": 1, "email": "x@y"})
        .await
        .unwrap();
    let err = coll
        .insert_one(doc! {"_id": 2, "email": "x@y"})
        .await
        .unwrap_err();
    match *err.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref e)) => {
            assert_eq!(e.code, 11000);
            assert!(e.message.contains("E11000"), "{}", e.message);
        }
        ref other => panic!("unexpected {other:?}"),
    }
    // keyValue/keyPattern as the raw command reply carries them.
    let reply = client
        .database("u")
        .run_command(doc! {"insert": "users", "documents": [{"_id": 3, "email": "x@y"}]})
        .await
        .unwrap();
    let we = reply.get_array("writeErrors").unwrap()[0]
        .as_document()
        .unwrap()
        .clone();
    assert_eq!(we.get_i32("code").unwrap(), 11000);
    assert_eq!(we.get_document("keyValue").unwrap(), &doc! {"email": "x@y"});
    assert_eq!(we.get_document("keyPattern").unwrap(), &doc! {"email": 1});

    let names: Vec<String> = coll.list_index_names().await.unwrap();
    assert_eq!(names, vec!["_id_".to_string(), "email_1".to_string()]);
    coll.drop_index("email_1").await.unwrap();
    coll.insert_one(doc! {"_id": 4, "email": "x@y"})
        .await
        .expect("no longer unique");
}

#[tokio::test]
async fn cursors_span_many_batches_and_can_be_killed() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("cur").collection::<Document>("c");
    coll.insert_many((0..2500).map(|i| doc! {"_id": i}))
        .await
        .unwrap();

    let all: Vec<Document> = coll
        .find(doc! {})
        .batch_size(100)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2500);
    assert!(all
        .windows(2)
        .all(|w| w[0].get_i32("_id").unwrap() < w[1].get_i32("_id").unwrap()));

    let limited: Vec<Document> = coll
        .find(doc! {"_id": {"$gte": 100}})
        .limit(250)
        .batch_size(7)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(limited.len(), 250);

    // Raw protocol: first batch of 101, getMore, killCursors.
    let db = client.database("cur");
    let reply = db.run_command(doc! {"find": "c"}).await.unwrap();
    let cursor = reply.get_document("cursor").unwrap();
    assert_eq!(cursor.get_array("firstBatch").unwrap().len(), 101);
    assert_eq!(cursor.get_str("ns").unwrap(), "cur.c");
    let id = cursor.get_i64("id").unwrap();
    assert_ne!(id, 0);
    let more = db
        .run_command(doc! {"getMore": id, "collection": "c", "batchSize": 10})
        .await
        .unwrap();
    assert_eq!(
        more.get_document("cursor")
            .unwrap()
            .get_array("nextBatch")
            .unwrap()
            .len(),
        10
    );
    let killed = db
        .run_command(doc! {"killCursors": "c", "cursors": [id]})
        .await
        .unwrap();
    assert_eq!(killed.get_array("cursorsKilled").unwrap().len(), 1);
    let err = db
        .run_command(doc! {"getMore": id, "collection": "c"})
        .await
        .unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 43));

    let agg: Vec<Document> = coll
        .aggregate(vec![
            doc! {"$match": {"_id": {"$lt": 10}}},
            doc! {"$count": "n"},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(agg, vec![doc! {"n": 10}]);
}

#[tokio::test]
async fn catalog_commands() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("cat");
    db.create_collection("a").await.unwrap();
    let err = db.create_collection("a").await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::Command(ref e) if e.code == 48));
    db.collection::<Document>("b")
        .insert_one(doc! {"x": 1})
        .await
        .unwrap();

    let names = db.list_collection_names().await.unwrap();
    assert_eq!(names.len(), 2);
    let specs: Vec<_> = db
        .list_collections()
        .filter(doc! {"name": "a"})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(specs.len(), 1);
    assert_eq!(specs[0].name, "a");
    assert!(specs[0].info.uuid.is_some());

    // A `create` given an `idIndex` (as the replicator forwards a create event's): mongod
    // lists it beside `options`, not inside them.
    let id_index = doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"};
    db.run_command(
        doc! {"create": "c", "idIndex": id_index.clone(), "validationLevel": "moderate"},
    )
    .await
    .unwrap();
    let reply = db
        .run_command(doc! {"listCollections": 1, "filter": {"name": "c"}})
        .await
        .unwrap();
    let batch = reply
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap();
    let c = batch[0].as_document().unwrap();
    assert_eq!(
        c.get_document("options").unwrap(),
        &doc! {"validationLevel": "moderate"}
    );
    assert_eq!(c.get_document("idIndex").unwrap(), &id_index);
    db.collection::<Document>("c").drop().await.unwrap();

    let dbs = client.list_database_names().await.unwrap();
    assert!(dbs.contains(&"cat".to_string()));

    client
        .database("admin")
        .run_command(doc! {"renameCollection": "cat.b", "to": "cat.c"})
        .await
        .unwrap();
    assert_eq!(
        db.collection::<Document>("c")
            .count_documents(doc! {})
            .await
            .unwrap(),
        1
    );
    db.collection::<Document>("c").drop().await.unwrap();
    db.collection::<Document>("never")
        .drop()
        .await
        .expect("dropping a missing collection succeeds");
    db.drop().await.unwrap();
    assert!(!client
        .list_database_names()
        .await
        .unwrap()
        .contains(&"cat".to_string()));
}

/// The Rust driver refuses w:0, so this speaks OP_MSG with `moreToCome` directly: the insert
/// gets no reply (the next reply on the socket answers the ping), and is applied.
#[tokio::test]
async fn unacknowledged_writes_are_applied_without_reply() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tb = crate::support::start().await;
    let mut s = tokio::net::TcpStream::connect(tb.addr()).await.unwrap();
    let insert = doc! {"insert": "c", "documents": [{"_id": 1}, {"_id": 2}], "writeConcern": {"w": 0}, "$db": "w0"};
    s.write_all(&crate::support::op_msg(1, 2, &insert))
        .await
        .unwrap();
    s.write_all(&crate::support::op_msg(
        2,
        0,
        &doc! {"ping": 1, "$db": "admin"},
    ))
    .await
    .unwrap();
    let mut header = [0u8; 16];
    s.read_exact(&mut header).await.unwrap();
    assert_eq!(
        i32::from_le_bytes(header[8..12].try_into().unwrap()),
        2,
        "first reply answers the ping"
    );

    let client = crate::support::direct_client(&tb).await;
    let coll = client.database("w0").collection::<Document>("c");
    let applied = crate::support::wait_until(Duration::from_secs(2), || async {
        coll.count_documents(doc! {}).await.unwrap() == 2
    })
    .await;
    assert!(applied);
}

/// Pipeline-style updates (`u` as an array of stages, MongoDB 4.2+): expressions, `$unset`,
/// `$replaceWith {$literal}` of a document with a top-level `$` name (how the replicator writes
/// such documents), upserts, `findOneAndUpdate`, and mongod's refusal of other stages.
#[tokio::test]
async fn pipeline_updates() {
    use mongodb::options::ReturnDocument;
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let coll = client.database("pipe").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "a": 2, "b": "x"})
        .await
        .unwrap();

    let r = coll
        .update_one(
            doc! {"_id": 1},
            vec![
                doc! {"$set": {"c": {"$add": ["$a", 40]}}},
                doc! {"$unset": "b"},
            ],
        )
        .await
        .unwrap();
    assert_eq!((r.matched_count, r.modified_count), (1, 1));
    let get = |id: i32| {
        let coll = coll.clone();
        async move { coll.find_one(doc! {"_id": id}).await.unwrap().unwrap() }
    };
    assert_eq!(get(1).await, doc! {"_id": 1, "a": 2, "c": 42});

    // The whole document replaced by a literal one; `_id` kept (and first) when left out.
    let dollar = doc! {"$price": 5, "a.b": 1, "n": {"$q": 1}};
    coll.update_one(
        doc! {"_id": 1},
        vec![doc! {"$replaceWith": {"$literal": dollar.clone()}}],
    )
    .await
    .unwrap();
    let mut expected = doc! {"_id": 1};
    expected.extend(dollar.clone());
    assert_eq!(get(1).await, expected);

    // Upsert: the pipeline runs on the query's equality fields.
    let r = coll
        .update_one(
            doc! {"_id": 2, "k": "v"},
            vec![doc! {"$set": {"copy": "$k", "root": "$$ROOT"}}],
        )
        .upsert(true)
        .await
        .unwrap();
    assert_eq!(r.upserted_id, Some(mongodb::bson::Bson::Int32(2)));
    assert_eq!(
        get(2).await,
        doc! {"_id": 2, "k": "v", "copy": "v", "root": {"_id": 2, "k": "v"}}
    );
    let r = coll
        .update_one(
            doc! {"_id": 3},
            vec![doc! {"$replaceWith": {"$literal": {"$x": 1, "_id": 3}}}],
        )
        .upsert(true)
        .await
        .unwrap();
    assert_eq!(r.upserted_id, Some(mongodb::bson::Bson::Int32(3)));
    assert_eq!(get(3).await, doc! {"_id": 3, "$x": 1}, "_id moved first");

    let before = coll
        .find_one_and_update(doc! {"_id": 2}, vec![doc! {"$project": {"k": 1}}])
        .await
        .unwrap();
    assert_eq!(before.unwrap().get_str("copy").unwrap(), "v");
    let after = coll
        .find_one_and_update(doc! {"_id": 2}, vec![doc! {"$set": {"z": "$k"}}])
        .return_document(ReturnDocument::After)
        .await
        .unwrap();
    assert_eq!(after, Some(doc! {"_id": 2, "k": "v", "z": "v"}));

    let code = |e: mongodb::error::Error| match *e.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref w)) => (w.code, w.message.clone()),
        ErrorKind::Command(ref c) => (c.code, c.message.clone()),
        ref other => panic!("unexpected error {other:?}"),
    };
    let e = coll
        .update_one(doc! {"_id": 2}, vec![doc! {"$match": {"k": "v"}}])
        .await
        .unwrap_err();
    assert_eq!(
        code(e),
        (
            72,
            "$match is not allowed to be used within an update".into()
        )
    );
    let e = coll
        .find_one_and_update(doc! {"_id": 2}, vec![doc! {"$sort": {"k": 1}}])
        .await
        .unwrap_err();
    assert_eq!(code(e).0, 72);
    let e = coll
        .update_one(doc! {"_id": 2}, vec![doc! {"$set": {"_id": 9}}])
        .await
        .unwrap_err();
    assert_eq!(code(e).0, 66, "_id is immutable");
    let e = coll
        .update_one(doc! {"_id": 2}, vec![doc! {"$set": {"a": 1}}])
        .array_filters(vec![doc! {"x": 1}])
        .await
        .unwrap_err();
    assert_eq!(
        code(e),
        (
            9,
            "arrayFilters may not be specified for pipeline-style updates".into()
        )
    );
    assert_eq!(
        get(2).await,
        doc! {"_id": 2, "k": "v", "z": "v"},
        "refused updates change nothing"
    );

    let r = coll
        .update_many(doc! {}, vec![doc! {"$set": {"all": true}}])
        .await
        .unwrap();
    assert_eq!((r.matched_count, r.modified_count), (3, 3));
    assert_eq!(coll.count_documents(doc! {"all": true}).await.unwrap(), 3);
}
