//! CRUD, index and DDL semantics of the store, called directly.

use bson::{doc, Bson, Document};
use mongo_testbed::matcher::Matcher;
use mongo_testbed::store::*;
use mongo_testbed::update::UpdateSpec;

fn store() -> std::sync::Arc<Store> {
    Store::open(StoreOptions::default()).unwrap()
}

fn ns() -> Namespace {
    Namespace::new("db", "c")
}

fn all(s: &Store, ns: &Namespace) -> Vec<Document> {
    let mut out = Vec::new();
    s.scan(ns, &Matcher::new(&doc! {}).unwrap(), &mut |d| {
        out.push(d.clone());
        true
    });
    out
}

fn upd(filter: Document, u: Document, upsert: bool, multi: bool) -> UpdateStatement {
    UpdateStatement {
        filter,
        update: UpdateSpec::parse(&u).unwrap(),
        upsert,
        multi,
        sort: None,
        collation: None,
    }
}

#[test]
fn insert_generates_id_first_and_keeps_field_order() {
    let s = store();
    let out = s.insert(
        &ns(),
        vec![doc! {"b": 1, "a": 2}, doc! {"x": 1, "_id": 7}],
        true,
    );
    assert_eq!(out.n, 2);
    let docs = all(&s, &ns());
    let with_oid = docs
        .iter()
        .find(|d| matches!(d.get("_id"), Some(Bson::ObjectId(_))))
        .unwrap();
    assert_eq!(with_oid.keys().collect::<Vec<_>>(), ["_id", "b", "a"]);
    assert_eq!(
        s.find_by_id(&ns(), &Bson::Int32(7)).unwrap(),
        doc! {"_id": 7, "x": 1}
    );
}

#[test]
fn documents_are_ordered_by_id_in_bson_order() {
    let s = store();
    s.insert(
        &ns(),
        vec![
            doc! {"_id": "a"},
            doc! {"_id": 2.5},
            doc! {"_id": 1_i64},
            doc! {"_id": Bson::Null},
        ],
        true,
    );
    let ids: Vec<Bson> = all(&s, &ns())
        .into_iter()
        .map(|d| d.get("_id").unwrap().clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            Bson::Null,
            Bson::Int64(1),
            Bson::Double(2.5),
            Bson::String("a".into())
        ]
    );
    // Numerically equal _ids are the same key.
    let out = s.insert(&ns(), vec![doc! {"_id": 1}], true);
    assert_eq!(out.write_errors[0].1.code, 11000);
}

#[test]
fn array_regex_undefined_ids_and_oversized_documents_are_rejected() {
    let s = store();
    let out = s.insert(&ns(), vec![doc! {"_id": [1, 2]}], true);
    assert_eq!(out.write_errors[0].1.code, 53);
    let regex = Bson::RegularExpression(bson::Regex {
        pattern: "^A".into(),
        options: String::new(),
    });
    let out = s.insert(&ns(), vec![doc! {"x": 1, "_id": regex}], true);
    assert_eq!(out.write_errors[0].1.code, 2);
    assert_eq!(out.write_errors[0].1.errmsg, "can't use a regex for _id");
    let out = s.insert(&ns(), vec![doc! {"_id": Bson::Undefined}], true);
    assert_eq!(
        out.write_errors[0].1.errmsg,
        "can't use a undefined for _id"
    );
    let big = "x".repeat(16 * 1024 * 1024);
    let out = s.insert(&ns(), vec![doc! {"_id": 1, "s": big}], true);
    assert_eq!(out.write_errors[0].1.code, 10334);
    assert_eq!(out.write_errors[0].1.code_name, "BSONObjectTooLarge");
    assert_eq!(s.count(&ns()), 0);
}

#[test]
fn ordered_stops_at_first_error_unordered_continues() {
    let s = store();
    let docs = || vec![doc! {"_id": 1}, doc! {"_id": 1}, doc! {"_id": 2}];
    let out = s.insert(&ns(), docs(), true);
    assert_eq!(
        (out.n, out.write_errors.len(), out.write_errors[0].0),
        (1, 1, 1)
    );
    assert_eq!(s.count(&ns()), 1);
    let s = store();
    let out = s.insert(&ns(), docs(), false);
    assert_eq!((out.n, out.write_errors.len()), (2, 1));
    assert_eq!(s.count(&ns()), 2);
}

#[test]
fn unique_index_is_enforced_with_key_pattern_and_value() {
    let s = store();
    let (before, after, created) = s
        .create_indexes(&ns(), vec![doc! {"key": {"email": 1}, "unique": true}])
        .unwrap();
    assert_eq!((before, after, created), (1, 2, true));
    s.insert(&ns(), vec![doc! {"_id": 1, "email": "a"}], true);
    let out = s.insert(&ns(), vec![doc! {"_id": 2, "email": "a"}], true);
    let e = &out.write_errors[0].1;
    assert_eq!(e.code, 11000);
    assert_eq!(
        e.extra.get_document("keyPattern").unwrap(),
        &doc! {"email": 1}
    );
    assert_eq!(
        e.extra.get_document("keyValue").unwrap(),
        &doc! {"email": "a"}
    );
    assert!(e.errmsg.contains("index: email_1 dup key"), "{}", e.errmsg);
    // Missing fields index as null: only one document may lack the field.
    assert!(s
        .insert(&ns(), vec![doc! {"_id": 3}], true)
        .write_errors
        .is_empty());
    assert_eq!(
        s.insert(&ns(), vec![doc! {"_id": 4}], true).write_errors[0]
            .1
            .code,
        11000
    );
    // Updates are checked too, and a document may keep its own key.
    let out = s.update(
        &ns(),
        &[upd(
            doc! {"_id": 3},
            doc! {"$set": {"email": "a"}},
            false,
            false,
        )],
        true,
    );
    assert_eq!(out.write_errors[0].1.code, 11000);
    let out = s.update(
        &ns(),
        &[upd(doc! {"_id": 1}, doc! {"$set": {"v": 1}}, false, false)],
        true,
    );
    assert!(out.write_errors.is_empty());
    // Deleting frees the key.
    s.delete(
        &ns(),
        &[DeleteStatement {
            filter: doc! {"_id": 1},
            limit_one: true,
            collation: None,
        }],
        true,
    );
    assert!(s
        .insert(&ns(), vec![doc! {"_id": 5, "email": "a"}], true)
        .write_errors
        .is_empty());
}

#[test]
fn unique_index_over_duplicates_fails_and_index_conflicts() {
    let s = store();
    s.insert(
        &ns(),
        vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 2, "a": 1}],
        true,
    );
    let e = s
        .create_indexes(&ns(), vec![doc! {"key": {"a": 1}, "unique": true}])
        .unwrap_err();
    assert_eq!(e.code, 11000);
    s.create_indexes(&ns(), vec![doc! {"key": {"a": 1, "b": -1}}])
        .unwrap();
    // Same spec again: nothing new.
    assert_eq!(
        s.create_indexes(&ns(), vec![doc! {"key": {"a": 1, "b": -1}}])
            .unwrap(),
        (2, 2, false)
    );
    let e = s
        .create_indexes(&ns(), vec![doc! {"key": {"z": 1}, "name": "a_1_b_-1"}])
        .unwrap_err();
    assert_eq!(e.code, 86);
    let e = s
        .create_indexes(
            &ns(),
            vec![doc! {"key": {"a": 1, "b": -1}, "name": "other"}],
        )
        .unwrap_err();
    assert_eq!(e.code, 85);
    let specs = s.list_indexes(&ns()).unwrap();
    assert_eq!(specs[0], doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"});
    assert_eq!(
        specs[1],
        doc! {"v": 2, "key": {"a": 1, "b": -1}, "name": "a_1_b_-1"}
    );
    assert_eq!(
        s.drop_indexes(&ns(), &Bson::String("_id_".into()))
            .unwrap_err()
            .code,
        72
    );
    assert_eq!(
        s.drop_indexes(&ns(), &Bson::String("nope".into()))
            .unwrap_err()
            .code,
        27
    );
    assert_eq!(
        s.drop_indexes(&ns(), &Bson::Document(doc! {"a": 1, "b": -1}))
            .unwrap(),
        2
    );
    assert_eq!(s.list_indexes(&ns()).unwrap().len(), 1);
    assert_eq!(
        s.list_indexes(&Namespace::new("db", "none"))
            .unwrap_err()
            .code,
        26
    );
}

#[test]
fn updates_multi_upsert_and_noop() {
    let s = store();
    s.insert(
        &ns(),
        vec![
            doc! {"_id": 1, "g": 1},
            doc! {"_id": 2, "g": 1},
            doc! {"_id": 3, "g": 2},
        ],
        true,
    );
    let out = s.update(
        &ns(),
        &[upd(doc! {"g": 1}, doc! {"$inc": {"n": 1}}, false, true)],
        true,
    );
    assert_eq!((out.n, out.n_modified), (2, 2));
    let out = s.update(
        &ns(),
        &[upd(doc! {"g": 1}, doc! {"$inc": {"n": 1}}, false, false)],
        true,
    );
    assert_eq!((out.n, out.n_modified), (1, 1));
    let before = s.cluster_time();
    let out = s.update(
        &ns(),
        &[upd(doc! {"_id": 3}, doc! {"$set": {"g": 2}}, false, false)],
        true,
    );
    assert_eq!((out.n, out.n_modified), (1, 0));
    assert_eq!(
        s.cluster_time(),
        before,
        "a no-op update writes no oplog entry"
    );
    let out = s.update(
        &ns(),
        &[upd(
            doc! {"_id": 9, "k": "v"},
            doc! {"$set": {"x": 1}},
            true,
            false,
        )],
        true,
    );
    assert_eq!((out.n, out.n_modified), (1, 0));
    assert_eq!(out.upserted, vec![(0, Bson::Int32(9))]);
    assert_eq!(
        s.find_by_id(&ns(), &Bson::Int32(9)).unwrap(),
        doc! {"_id": 9, "k": "v", "x": 1}
    );
    let out = s.update(
        &ns(),
        &[upd(doc! {"_id": 10}, doc! {"r": 1}, true, false)],
        true,
    );
    assert_eq!(out.upserted, vec![(0, Bson::Int32(10))]);
    assert_eq!(
        s.find_by_id(&ns(), &Bson::Int32(10)).unwrap(),
        doc! {"_id": 10, "r": 1}
    );
    // Replacement keeps _id; changing it is 66.
    let out = s.update(
        &ns(),
        &[upd(
            doc! {"_id": 10},
            doc! {"_id": 11, "r": 2},
            false,
            false,
        )],
        true,
    );
    assert_eq!(out.write_errors[0].1.code, 66);
}

#[test]
fn deletes_one_or_many() {
    let s = store();
    s.insert(
        &ns(),
        (0..5)
            .map(|i| doc! {"_id": i, "even": i % 2 == 0})
            .collect(),
        true,
    );
    let out = s.delete(
        &ns(),
        &[DeleteStatement {
            filter: doc! {"even": true},
            limit_one: true,
            collation: None,
        }],
        true,
    );
    assert_eq!(out.n, 1);
    assert!(s.find_by_id(&ns(), &Bson::Int32(0)).is_none());
    let out = s.delete(
        &ns(),
        &[DeleteStatement {
            filter: doc! {"even": true},
            limit_one: false,
            collation: None,
        }],
        true,
    );
    assert_eq!(out.n, 2);
    assert_eq!(s.count(&ns()), 2);
}

#[test]
fn find_and_modify_variants() {
    let s = store();
    s.insert(
        &ns(),
        vec![doc! {"_id": 1, "n": 1}, doc! {"_id": 2, "n": 5}],
        true,
    );
    let fam =
        |filter: Document, update: Option<Document>, remove: bool, new: bool, upsert: bool| {
            FindAndModify {
                filter,
                sort: Some(doc! {"n": -1}),
                remove,
                update: update.map(|u| UpdateSpec::parse(&u).unwrap()),
                return_new: new,
                upsert,
                fields: None,
                collation: None,
            }
        };
    let o = s
        .find_and_modify(
            &ns(),
            &fam(doc! {}, Some(doc! {"$inc": {"n": 1}}), false, true, false),
        )
        .unwrap();
    assert_eq!(o.value.unwrap(), doc! {"_id": 2, "n": 6});
    assert_eq!(o.last_error_object, doc! {"n": 1, "updatedExisting": true});
    let o = s
        .find_and_modify(
            &ns(),
            &fam(
                doc! {"_id": 1},
                Some(doc! {"$inc": {"n": 1}}),
                false,
                false,
                false,
            ),
        )
        .unwrap();
    assert_eq!(o.value.unwrap(), doc! {"_id": 1, "n": 1});
    let o = s
        .find_and_modify(
            &ns(),
            &fam(
                doc! {"_id": 3},
                Some(doc! {"$set": {"n": 0}}),
                false,
                true,
                true,
            ),
        )
        .unwrap();
    assert_eq!(o.value.unwrap(), doc! {"_id": 3, "n": 0});
    assert_eq!(
        o.last_error_object,
        doc! {"n": 1, "updatedExisting": false, "upserted": 3}
    );
    let o = s
        .find_and_modify(&ns(), &fam(doc! {"_id": 1}, None, true, false, false))
        .unwrap();
    assert_eq!(o.value.unwrap(), doc! {"_id": 1, "n": 2});
    assert_eq!(o.last_error_object, doc! {"n": 1});
    let o = s
        .find_and_modify(&ns(), &fam(doc! {"_id": 1}, None, true, false, false))
        .unwrap();
    assert!(o.value.is_none());
}

#[test]
fn ddl_create_drop_rename() {
    let s = store();
    s.create_collection(&ns(), doc! {}).unwrap();
    assert_eq!(s.create_collection(&ns(), doc! {}).unwrap_err().code, 48);
    s.insert(&ns(), vec![doc! {"_id": 1}], true);
    s.insert(&Namespace::new("db", "d"), vec![doc! {"_id": 2}], true);
    let to = Namespace::new("db", "d");
    assert_eq!(s.rename_collection(&ns(), &to, false).unwrap_err().code, 48);
    assert_eq!(
        s.rename_collection(&Namespace::new("db", "x"), &to, false)
            .unwrap_err()
            .code,
        26
    );
    s.rename_collection(&ns(), &to, true).unwrap();
    assert_eq!(s.count(&to), 1);
    assert!(s.find_by_id(&to, &Bson::Int32(1)).is_some());
    assert_eq!(s.count(&ns()), 0);
    let names: Vec<String> = s
        .list_collections("db")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["d"]);
    assert!(s
        .list_databases()
        .iter()
        .any(|(n, size)| n == "db" && *size > 0));
    assert!(s.drop_collection(&to).unwrap());
    assert!(!s.drop_collection(&to).unwrap());
    s.insert(&ns(), vec![doc! {"_id": 1}], true);
    s.drop_database("db").unwrap();
    assert!(s.list_databases().is_empty());
}
