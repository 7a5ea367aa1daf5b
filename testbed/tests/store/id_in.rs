//! `_id: {$in}` filters are answered by point lookups: same results, same `_id` order, as a scan.

use bson::{doc, Bson, Document};
use mongo_testbed::matcher::Matcher;
use mongo_testbed::store::{DeleteStatement, Namespace, Store, StoreOptions};

fn ids(store: &Store, ns: &Namespace, filter: Document) -> Vec<Bson> {
    let m = Matcher::new(&filter).unwrap();
    let mut out = Vec::new();
    store.scan(ns, &m, &mut |d| {
        out.push(d.get("_id").unwrap().clone());
        true
    });
    out
}

#[test]
fn id_in_matches_a_scan_in_order_and_content() {
    let store = Store::open(StoreOptions::default()).unwrap();
    let ns = Namespace::new("db", "c");
    let docs: Vec<Document> = (0..50)
        .map(|i| doc! {"_id": i, "even": i % 2 == 0})
        .chain([doc! {"_id": "s"}])
        .collect();
    store.insert(&ns, docs, true);
    let filter = doc! {"_id": {"$in": [7, 3.0, "s", 3, 99, 1i64]}};
    assert_eq!(
        ids(&store, &ns, filter.clone()),
        vec![
            Bson::Int32(1),
            Bson::Int32(3),
            Bson::Int32(7),
            Bson::String("s".into())
        ]
    );
    // Other conditions still apply.
    assert_eq!(
        ids(&store, &ns, doc! {"_id": {"$in": [2, 3, 4]}, "even": true}),
        vec![Bson::Int32(2), Bson::Int32(4)]
    );
    // Writes take the same path.
    store.delete(
        &ns,
        &[DeleteStatement {
            filter,
            limit_one: false,
            collation: None,
        }],
        true,
    );
    assert_eq!(store.count(&ns), 47);
}
