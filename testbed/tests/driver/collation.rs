//! Collations through the driver: `create` with a default collation (listed in full, applied to
//! sort, queries, the `_id` index and unique indexes), per-operation `collation` options, and
//! refused collation documents.

use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::Collation;

fn code_of(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        _ => None,
    }
}

async fn ids(cursor: mongodb::Cursor<Document>) -> Vec<Bson> {
    let docs: Vec<Document> = cursor.try_collect().await.unwrap();
    docs.iter().map(|d| d.get("_id").unwrap().clone()).collect()
}

fn strs(v: &[&str]) -> Vec<Bson> {
    v.iter().map(|s| Bson::String(s.to_string())).collect()
}

#[tokio::test]
async fn create_with_collation_lists_the_full_document_and_applies_it() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("coll");
    db.run_command(doc! {"create": "ci", "collation": {"locale": "en_US", "strength": 2}})
        .await
        .unwrap();
    let full = doc! {
        "locale": "en_US", "caseLevel": false, "caseFirst": "off", "strength": 2,
        "numericOrdering": false, "alternate": "non-ignorable", "maxVariable": "punct",
        "normalization": false, "backwards": false, "version": "57.1",
    };
    let info = crate::support::collection_info(&db, "ci").await;
    assert_eq!(
        info.get_document("options")
            .unwrap()
            .get_document("collation"),
        Ok(&full),
        "{info}"
    );
    assert_eq!(
        info.get_document("idIndex")
            .unwrap()
            .get_document("collation"),
        Ok(&full)
    );

    // The `_id` index compares with the collation: "ABC" duplicates "abc" at strength 2.
    let ci = db.collection::<Document>("ci");
    ci.insert_one(doc! {"_id": "abc", "n": 1}).await.unwrap();
    let err = ci.insert_one(doc! {"_id": "ABC"}).await.unwrap_err();
    assert_eq!(code_of(&err), Some(11000), "{err:?}");
    ci.insert_many([
        doc! {"_id": "b", "n": 2},
        doc! {"_id": "A-b", "n": 3},
        doc! {"_id": "Z", "n": 4},
    ])
    .await
    .unwrap();

    // Query matching and sort use the default collation.
    let found = ci.find_one(doc! {"_id": "ABC"}).await.unwrap();
    assert_eq!(found.and_then(|d| d.get_i32("n").ok()), Some(1));
    assert_eq!(
        ci.count_documents(doc! {"_id": {"$in": ["B"]}})
            .await
            .unwrap(),
        1
    );
    let sorted = ci.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap();
    // Collated, "Z" is last; binary would put it before every lowercase letter.
    assert_eq!(ids(sorted).await, strs(&["A-b", "abc", "b", "Z"]));

    // `{locale: "simple"}` on the operation is binary again.
    let simple = Collation::builder().locale("simple").build();
    let n = ci
        .count_documents(doc! {"_id": "ABC"})
        .collation(simple.clone())
        .await
        .unwrap();
    assert_eq!(n, 0);

    // A unique index inherits the collection collation and lists it.
    ci.create_index(
        mongodb::IndexModel::builder()
            .keys(doc! {"email": 1})
            .options(
                mongodb::options::IndexOptions::builder()
                    .unique(true)
                    .sparse(true)
                    .build(),
            )
            .build(),
    )
    .await
    .unwrap();
    ci.insert_one(doc! {"_id": 10, "email": "X@y"})
        .await
        .unwrap();
    let err = ci
        .insert_one(doc! {"_id": 11, "email": "x@Y"})
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), Some(11000), "{err:?}");
    let specs: Vec<_> = ci
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let email = specs.iter().find(|i| i.keys == doc! {"email": 1}).unwrap();
    let opts = email.options.as_ref().unwrap();
    assert_eq!(
        opts.collation.as_ref().map(|c| c.locale.as_str()),
        Some("en_US")
    );
}

#[tokio::test]
async fn operation_collation_on_a_binary_collection() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let c = client.database("coll").collection::<Document>("plain");
    c.insert_many([
        doc! {"_id": 1, "s": "B"},
        doc! {"_id": 2, "s": "a"},
        doc! {"_id": 3, "s": "A"},
        doc! {"_id": 4, "s": "b"},
        doc! {"_id": 5, "s": "10"},
        doc! {"_id": 6, "s": "9"},
    ])
    .await
    .unwrap();
    let by_s = |d: Vec<Document>| -> Vec<String> {
        d.iter()
            .map(|d| d.get_str("s").unwrap().to_string())
            .collect()
    };
    // Binary: uppercase first.
    let bin: Vec<Document> = c
        .find(doc! {})
        .sort(doc! {"s": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_s(bin), ["10", "9", "A", "B", "a", "b"]);
    // Strength 3 with numeric ordering: a < A < b < B, 9 < 10.
    let en = Collation::builder()
        .locale("en")
        .numeric_ordering(true)
        .build();
    let coll: Vec<Document> = c
        .find(doc! {})
        .sort(doc! {"s": 1})
        .collation(en)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_s(coll), ["9", "10", "a", "A", "b", "B"]);

    let ci = Collation::builder()
        .locale("en")
        .strength(mongodb::options::CollationStrength::Secondary)
        .build();
    // aggregate $match + $sort, distinct, update and delete take the option.
    let agg: Vec<Document> = c
        .aggregate([doc! {"$match": {"s": "a"}}, doc! {"$sort": {"_id": 1}}])
        .collation(ci.clone())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(agg.len(), 2, "{agg:?}");
    let distinct = c
        .distinct("s", doc! {"s": {"$in": ["a", "b"]}})
        .collation(ci.clone())
        .await
        .unwrap();
    assert_eq!(
        distinct.len(),
        2,
        "one value per case-insensitive class: {distinct:?}"
    );
    let up = c
        .update_many(doc! {"s": "b"}, doc! {"$set": {"hit": true}})
        .collation(ci.clone())
        .await
        .unwrap();
    assert_eq!(up.matched_count, 2);
    let range = c
        .count_documents(doc! {"s": {"$gte": "a", "$lte": "a"}})
        .collation(ci.clone())
        .await
        .unwrap();
    assert_eq!(range, 2);
    let del = c.delete_many(doc! {"s": "A"}).collation(ci).await.unwrap();
    assert_eq!(del.deleted_count, 2);
    assert_eq!(c.count_documents(doc! {}).await.unwrap(), 4);
}

#[tokio::test]
async fn unsupported_or_invalid_collations_are_refused() {
    let tb = crate::support::start().await;
    let client = crate::support::client(&tb).await;
    let db = client.database("coll");
    let code = |r: mongodb::error::Result<Document>| code_of(&r.unwrap_err());
    let bad = [
        (doc! {"strength": 2}, 40414),
        (doc! {"locale": "en", "strengthh": 2}, 40415),
        (doc! {"locale": "simple", "strength": 2}, 2),
        (doc! {"locale": "xx_YY"}, 2),
        (doc! {"locale": "en", "normalization": true}, 2),
    ];
    for (i, (collation, want)) in bad.into_iter().enumerate() {
        let r = db
            .run_command(doc! {"create": format!("bad{i}"), "collation": collation.clone()})
            .await;
        assert_eq!(code(r), Some(want), "{collation}");
    }
    let names = db.list_collection_names().await.unwrap();
    assert!(names.is_empty(), "nothing created: {names:?}");
    // `{locale: "simple"}` is the default: accepted and not stored.
    db.run_command(doc! {"create": "s", "collation": {"locale": "simple"}})
        .await
        .unwrap();
    let specs = crate::support::collection_specs(&db).await;
    assert!(specs[0].options.collation.is_none());
    let find = db
        .run_command(doc! {"find": "s", "collation": {"locale": "en", "alternate": "sideways"}})
        .await;
    assert_eq!(code(find), Some(2));
}
