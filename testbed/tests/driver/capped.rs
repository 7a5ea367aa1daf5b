//! Capped collections through the driver: `create` validation as mongod, the options as
//! `listCollections` shows them, removal of the oldest documents past `max` or `size`, and
//! those removals as change-stream `delete` events (explicit oplog deletes since 5.0).

use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::change_stream::event::OperationType;
use mongodb::error::ErrorKind;

fn code_of(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(e) => Some(e.code),
        _ => None,
    }
}

async fn options_of(db: &mongodb::Database, name: &str) -> Document {
    let info = crate::support::collection_info(db, name).await;
    info.get_document("options").unwrap().clone()
}

#[tokio::test]
async fn create_validates_capped_options_as_mongod() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("cap");
    let cases = [
        (doc! {"create": "a", "capped": true}, 72),
        (doc! {"create": "a", "capped": true, "max": 5}, 72),
        (doc! {"create": "a", "size": 4096}, 72),
        (doc! {"create": "a", "capped": true, "size": 0}, 51024),
        (
            doc! {"create": "a", "capped": true, "size": 4096, "max": 1i64 << 31},
            2,
        ),
    ];
    for (cmd, want) in cases {
        let err = db.run_command(cmd.clone()).await.unwrap_err();
        assert_eq!(code_of(&err), Some(want), "{cmd}: {err:?}");
    }
    assert!(db.list_collection_names().await.unwrap().is_empty());
    db.run_command(doc! {"create": "c", "capped": true, "size": 1000, "max": 3})
        .await
        .unwrap();
    assert_eq!(
        options_of(&db, "c").await,
        doc! {"capped": true, "size": 1000, "max": 3}
    );
    // `max` of zero means no document limit, listed as mongod stores it.
    db.run_command(doc! {"create": "z", "capped": 1, "size": 5000, "max": 0})
        .await
        .unwrap();
    assert_eq!(
        options_of(&db, "z").await,
        doc! {"capped": true, "size": 5000, "max": 0x7fff_ffff}
    );
    let specs = crate::support::collection_specs(&db).await;
    let c = specs.iter().find(|s| s.name == "c").unwrap();
    assert_eq!(c.options.capped, Some(true));
    assert_eq!(c.options.max, Some(3));
}

#[tokio::test]
async fn inserts_past_the_limits_remove_the_oldest_as_delete_events() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("cap");
    db.run_command(doc! {"create": "m", "capped": true, "size": 1 << 20, "max": 3})
        .await
        .unwrap();
    let m = db.collection::<Document>("m");
    let mut stream = m.watch().await.unwrap();
    // Inserted in an order unlike `_id` order: removals follow insertion order.
    for id in [5, 1, 4, 2, 3] {
        m.insert_one(doc! {"_id": id}).await.unwrap();
    }
    let natural: Vec<Document> = m.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    let ids: Vec<i32> = natural.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(
        ids,
        [4, 2, 3],
        "the two oldest are gone, natural order is insertion order"
    );
    let mut events = Vec::new();
    while events.len() < 7 {
        let e = stream.next().await.unwrap().unwrap();
        let id = e.document_key.as_ref().and_then(|k| k.get("_id").cloned());
        events.push((e.operation_type, id));
    }
    let deletes: Vec<Option<Bson>> = events
        .iter()
        .filter(|(op, _)| *op == OperationType::Delete)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(deletes, [Some(Bson::Int32(5)), Some(Bson::Int32(1))]);

    // The size limit: ~100-byte documents in 1000 bytes keep the newest that fit.
    db.run_command(doc! {"create": "s", "capped": true, "size": 1000})
        .await
        .unwrap();
    let s = db.collection::<Document>("s");
    let pad = "x".repeat(80);
    for id in 0..30 {
        s.insert_one(doc! {"_id": id, "pad": &pad}).await.unwrap();
    }
    let left: Vec<Document> = s.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    let size: usize = left
        .iter()
        .map(|d| mongodb::bson::to_vec(d).unwrap().len())
        .sum();
    assert!(
        size <= 1000 && size > 800,
        "{size} bytes in {} documents",
        left.len()
    );
    assert_eq!(left.last().unwrap().get_i32("_id"), Ok(29));
    assert_eq!(left[0].get_i32("_id"), Ok(30 - left.len() as i32));
}
