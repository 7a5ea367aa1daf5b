use super::*;
use bson::{doc, DateTime, Timestamp};

fn opts() -> TranslateOptions {
    TranslateOptions {
        scope: only(None),
        update_mode: UpdateMode::Delta,
        ddl: DdlConfig {
            drop: true,
            rename: true,
            drop_database: true,
            create: true,
            create_indexes: true,
            drop_indexes: true,
            modify: true,
        },
    }
}

/// The shorthand scope of `ordersDB` into `ordersDB_backup`, limited to `collections`.
fn only(collections: Option<&[&str]>) -> Arc<crate::source::namespaces::Scope> {
    let list: Option<Vec<String>> = collections.map(|c| c.iter().map(|s| s.to_string()).collect());
    Arc::new(crate::source::namespaces::Scope::shorthand(
        "ordersDB",
        list.as_deref(),
        "ordersDB_backup",
    ))
}

fn event(op: &str, extra: Document) -> Document {
    let mut e = doc! {
        "_id": { "_data": "8263" },
        "operationType": op,
        "clusterTime": Timestamp { time: 100, increment: 2 },
        "wallTime": DateTime::from_millis(1_700_000_000_000),
        "ns": { "db": "ordersDB", "coll": "orders" },
    };
    e.extend(extra);
    e
}

fn write(kind: WriteKind) -> Translated {
    Translated::Write(WriteOp {
        coll: "orders".into(),
        key: doc! { "_id": 1 }.into(),
        kind,
    })
}

fn update(desc: Document) -> Document {
    event(
        "update",
        doc! { "documentKey": { "_id": 1 }, "updateDescription": desc },
    )
}

#[test]
fn meta_reads_token_times_and_type() {
    let m = event_meta(&event("insert", doc! {})).unwrap();
    assert_eq!(
        m.token.as_bytes(),
        body(&doc! { "_data": "8263" }).as_bytes()
    );
    assert_eq!(
        m.cluster_time,
        Some(ClusterTime(Timestamp {
            time: 100,
            increment: 2
        }))
    );
    assert_eq!(m.wall_time_ms, Some(1_700_000_000_000));
    assert_eq!(m.op_type, "insert");
    assert!(event_meta(&doc! { "operationType": "insert" }).is_err());
}

/// The watcher's one scan gives what the two readers give, and a write's key bytes are the
/// encoding of its decoded key (what routing and batching would have computed).
#[test]
fn one_read_is_meta_plus_translation_with_the_key_bytes() {
    let events = [
        event(
            "insert",
            doc! { "documentKey": { "_id": 1, "sk": "x" }, "fullDocument": { "_id": 1, "a": 2 } },
        ),
        update(doc! { "updatedFields": { "a": 1 }, "removedFields": ["b"] }),
        event("delete", doc! { "documentKey": { "_id": 3i64 } }),
        event("drop", doc! {}),
        event("invalidate", doc! {}),
        event(
            "insert",
            doc! { "ns": { "db": "ordersDB", "coll": "other" }, "documentKey": { "_id": 1 } },
        ),
    ];
    let scoped = TranslateOptions {
        scope: only(Some(&["orders"])),
        ..opts()
    };
    for e in &events {
        let read = read_event(e, &scoped).unwrap();
        assert_eq!(read.meta, event_meta(e).unwrap());
        assert_eq!(read.translated, translate(e, &scoped).unwrap());
        if let Translated::Write(op) = &read.translated {
            // The key's bytes as sent are the canonical encoding of the decoded key.
            let key = e.get_document("documentKey").unwrap();
            assert_eq!(op.key, DocKey::of(key));
            assert_eq!(&op.key.to_document(), key);
        }
    }
    assert!(matches!(
        read_event(&events[5], &scoped).unwrap().translated,
        Translated::Skip
    ));
}

#[test]
fn insert_and_replace_upsert_the_full_document() {
    for op in ["insert", "replace"] {
        let e = event(
            op,
            doc! { "documentKey": { "_id": 1 }, "fullDocument": { "_id": 1, "a": 2 } },
        );
        assert_eq!(
            translate(&e, &opts()).unwrap(),
            write(WriteKind::upsert(doc! { "_id": 1, "a": 2 }))
        );
        let no_doc = event(
            op,
            doc! { "documentKey": { "_id": 1 }, "fullDocument": null },
        );
        assert_eq!(
            translate(&no_doc, &opts()).unwrap(),
            write(WriteKind::Fetch)
        );
    }
}

#[test]
fn delete_deletes_by_full_document_key() {
    let e = event("delete", doc! { "documentKey": { "_id": 1, "shard": "x" } });
    let Translated::Write(op) = translate(&e, &opts()).unwrap() else {
        panic!()
    };
    assert_eq!(
        (op.key, op.kind),
        (doc! { "_id": 1, "shard": "x" }.into(), WriteKind::Delete)
    );
}

#[test]
fn update_in_delta_mode_becomes_set_unset_truncate() {
    let e = update(doc! {
        "updatedFields": { "a.b": 1, "arr.2": "x" },
        "removedFields": ["c.d"],
        "truncatedArrays": [{ "field": "arr", "newSize": 3 }],
    });
    assert_eq!(
        translate(&e, &opts()).unwrap(),
        write(WriteKind::Delta {
            set: body(&doc! { "a.b": 1, "arr.2": "x" }),
            unset: vec!["c.d".into()],
            truncate: vec![("arr".into(), 3)],
        })
    );
}

#[test]
fn update_in_full_document_mode_upserts_or_fetches() {
    let o = TranslateOptions {
        update_mode: UpdateMode::FullDocument,
        ..opts()
    };
    let mut e = update(doc! { "updatedFields": { "a": 1 }, "removedFields": [] });
    assert_eq!(translate(&e, &o).unwrap(), write(WriteKind::Fetch));
    e.insert("fullDocument", doc! { "_id": 1, "a": 1 });
    assert_eq!(
        translate(&e, &o).unwrap(),
        write(WriteKind::upsert(doc! { "_id": 1, "a": 1 }))
    );
}

#[test]
fn ambiguous_updates_fetch() {
    let cases = [
        doc! { "updatedFields": { "a.1": 5 }, "removedFields": [], "disambiguatedPaths": { "a.1": ["a", "1"] } },
        doc! { "updatedFields": { "$weird": 1 }, "removedFields": [] },
        doc! { "updatedFields": {}, "removedFields": ["a.$b"] },
        doc! { "updatedFields": { "a": { "x.y": 1 } }, "removedFields": [] },
        doc! { "updatedFields": { "a": [{ "$k": 1 }] }, "removedFields": [] },
    ];
    for desc in cases {
        assert_eq!(
            translate(&update(desc.clone()), &opts()).unwrap(),
            write(WriteKind::Fetch),
            "{desc}"
        );
    }
    let empty_disambiguation =
        doc! { "updatedFields": { "a": 1 }, "removedFields": [], "disambiguatedPaths": {} };
    assert!(matches!(
        translate(&update(empty_disambiguation), &opts()).unwrap(),
        Translated::Write(WriteOp {
            kind: WriteKind::Delta { .. },
            ..
        })
    ));
}

#[test]
fn split_events_fetch_once() {
    let mut first = update(doc! { "updatedFields": { "big": "x" } });
    first.insert("splitEvent", doc! { "fragment": 1, "of": 3 });
    assert_eq!(translate(&first, &opts()).unwrap(), write(WriteKind::Fetch));
    let later = doc! { "_id": { "_data": "8264" }, "splitEvent": { "fragment": 2, "of": 3 }, "fullDocument": {} };
    assert_eq!(translate(&later, &opts()).unwrap(), Translated::Skip);
}

#[test]
fn other_databases_and_filtered_collections_are_skipped() {
    let mut e = event("delete", doc! { "documentKey": { "_id": 1 } });
    e.insert("ns", doc! { "db": "other", "coll": "orders" });
    assert_eq!(translate(&e, &opts()).unwrap(), Translated::Skip);
    let filtered = TranslateOptions {
        scope: only(Some(&["customers"])),
        ..opts()
    };
    let e = event("delete", doc! { "documentKey": { "_id": 1 } });
    assert_eq!(translate(&e, &filtered).unwrap(), Translated::Skip);
    let kept = TranslateOptions {
        scope: only(Some(&["orders"])),
        ..opts()
    };
    assert_eq!(translate(&e, &kept).unwrap(), write(WriteKind::Delete));
}

#[test]
fn ddl_events_become_barriers_or_skips() {
    let o = opts();
    assert_eq!(
        translate(&event("drop", doc! {}), &o).unwrap(),
        Translated::Ddl(DdlOp::Drop {
            coll: "orders".into()
        })
    );
    let mut dd = event("dropDatabase", doc! {});
    dd.insert("ns", doc! { "db": "ordersDB" });
    assert_eq!(
        translate(&dd, &o).unwrap(),
        Translated::Ddl(DdlOp::DropDatabase)
    );
    let create = event(
        "create",
        doc! { "operationDescription": { "idIndex": { "v": 2, "key": { "_id": 1 }, "name": "_id_" } } },
    );
    assert!(matches!(
        translate(&create, &o).unwrap(),
        Translated::Ddl(DdlOp::Create { .. })
    ));
    let idx = doc! { "v": 2, "key": { "email": 1 }, "name": "email_1", "unique": true };
    let ci = event(
        "createIndexes",
        doc! { "operationDescription": { "indexes": [idx.clone()] } },
    );
    assert_eq!(
        translate(&ci, &o).unwrap(),
        Translated::Ddl(DdlOp::CreateIndexes {
            coll: "orders".into(),
            indexes: vec![idx.clone()]
        })
    );
    let di = event(
        "dropIndexes",
        doc! { "operationDescription": { "indexes": [idx] } },
    );
    assert_eq!(
        translate(&di, &o).unwrap(),
        Translated::Ddl(DdlOp::DropIndexes {
            coll: "orders".into(),
            names: vec!["email_1".into()]
        })
    );
    let off = TranslateOptions {
        ddl: DdlConfig {
            drop: false,
            drop_database: false,
            create_indexes: false,
            ..o.ddl.clone()
        },
        ..o.clone()
    };
    assert_eq!(
        translate(&event("drop", doc! {}), &off).unwrap(),
        Translated::Skip
    );
    assert_eq!(translate(&dd, &off).unwrap(), Translated::Skip);
    assert_eq!(translate(&ci, &off).unwrap(), Translated::Skip);
}

#[test]
fn renames_inside_scope_rename_and_leaving_scope_drop() {
    let o = opts();
    let inside = event(
        "rename",
        doc! { "to": { "db": "ordersDB", "coll": "archive" } },
    );
    assert_eq!(
        translate(&inside, &o).unwrap(),
        Translated::Ddl(DdlOp::Rename {
            from: "orders".into(),
            to: "archive".into()
        })
    );
    let out = event(
        "rename",
        doc! { "to": { "db": "elsewhere", "coll": "orders" } },
    );
    assert_eq!(
        translate(&out, &o).unwrap(),
        Translated::Ddl(DdlOp::Drop {
            coll: "orders".into()
        })
    );
    let filtered = TranslateOptions {
        scope: only(Some(&["orders"])),
        ..o.clone()
    };
    assert_eq!(
        translate(&inside, &filtered).unwrap(),
        Translated::Ddl(DdlOp::Drop {
            coll: "orders".into()
        })
    );
    let no_drop = TranslateOptions {
        ddl: DdlConfig {
            drop: false,
            ..o.ddl.clone()
        },
        ..o.clone()
    };
    assert_eq!(translate(&out, &no_drop).unwrap(), Translated::Skip);
    let no_rename = TranslateOptions {
        ddl: DdlConfig {
            rename: false,
            ..o.ddl.clone()
        },
        ..o
    };
    assert_eq!(translate(&inside, &no_rename).unwrap(), Translated::Skip);
}

/// `apply.hold.drops` holds a rename that replaced a collection: the event says so by
/// `operationDescription.dropTarget` (the replaced collection's UUID), absent otherwise.
#[test]
fn a_rename_replaced_a_collection_only_when_its_event_names_a_drop_target() {
    let to = doc! { "db": "ordersDB", "coll": "archive" };
    let uuid = bson::Binary {
        subtype: bson::spec::BinarySubtype::Uuid,
        bytes: vec![7; 16],
    };
    let over = event(
        "rename",
        doc! { "to": to.clone(), "operationDescription": { "to": to.clone(), "dropTarget": uuid } },
    );
    let plain = event(
        "rename",
        doc! { "to": to.clone(), "operationDescription": { "to": to.clone() } },
    );
    let raw = |d: &Document| bson::RawDocumentBuf::from_document(d).unwrap();
    assert!(replaced_a_collection(&raw(&over)));
    assert!(!replaced_a_collection(&raw(&plain)));
    assert!(!replaced_a_collection(&raw(&event(
        "rename",
        doc! { "to": to }
    ))));
}

/// Issue 11 item 4: a rename from a collection outside `source.collections` (or `$out`'s
/// temporary collection) into a listed one is a [`DdlOp::RenameIn`] of the listed one.
#[test]
fn renames_into_the_scope_from_outside_it_copy_the_target() {
    let listed = TranslateOptions {
        scope: only(Some(&["archive"])),
        ..opts()
    };
    let into = event(
        "rename",
        doc! { "to": { "db": "ordersDB", "coll": "archive" }, "operationDescription": { "dropTarget": true } },
    );
    assert_eq!(
        translate(&into, &listed).unwrap(),
        Translated::Ddl(DdlOp::RenameIn {
            coll: "archive".into()
        })
    );
    let mut out_tmp = into.clone();
    out_tmp.insert("ns", doc! { "db": "ordersDB", "coll": "tmp.agg_out.1" });
    assert_eq!(
        translate(&out_tmp, &listed).unwrap(),
        Translated::Ddl(DdlOp::RenameIn {
            coll: "archive".into()
        })
    );
    // Outside to outside, or renames switched off: nothing to do.
    let elsewhere = event(
        "rename",
        doc! { "to": { "db": "ordersDB", "coll": "staging2" } },
    );
    assert_eq!(translate(&elsewhere, &listed).unwrap(), Translated::Skip);
    // From another database into a listed name: the backup has none of its documents either.
    let mut other_db = into.clone();
    other_db.insert("ns", doc! { "db": "other", "coll": "orders" });
    assert_eq!(
        translate(&other_db, &listed).unwrap(),
        Translated::Ddl(DdlOp::RenameIn {
            coll: "archive".into()
        })
    );
    let no_rename = TranslateOptions {
        ddl: DdlConfig {
            rename: false,
            ..listed.ddl.clone()
        },
        ..listed
    };
    assert_eq!(translate(&into, &no_rename).unwrap(), Translated::Skip);
}

#[test]
fn invalidate_and_unknown_types() {
    let inv = doc! { "_id": { "_data": "1" }, "operationType": "invalidate" };
    assert_eq!(translate(&inv, &opts()).unwrap(), Translated::Invalidate);
    for op in [
        "modify",
        "shardCollection",
        "refineCollectionShardKey",
        "reshardCollection",
    ] {
        assert_eq!(
            translate(&event(op, doc! {}), &opts()).unwrap(),
            Translated::Skip,
            "{op}"
        );
    }
}

#[test]
fn malformed_events_are_errors() {
    assert!(translate(&doc! { "operationType": "insert" }, &opts()).is_err());
    let no_ns =
        doc! { "_id": { "_data": "1" }, "operationType": "delete", "documentKey": { "_id": 1 } };
    assert!(translate(&no_ns, &opts()).is_err());
    let no_key = event("delete", doc! {});
    assert!(translate(&no_key, &opts()).is_err());
    let no_desc = event("update", doc! { "documentKey": { "_id": 1 } });
    assert!(translate(&no_desc, &opts()).is_err());
    let bad_indexes = event("createIndexes", doc! {});
    assert!(translate(&bad_indexes, &opts()).is_err());
}

#[test]
fn modify_carries_the_coll_mod_options_unless_switched_off() {
    let o = opts();
    let desc = doc! {"index": {"name": "at_1", "expireAfterSeconds": 60}};
    let e = event(
        "modify",
        doc! {"operationDescription": desc.clone(), "stateBeforeChange": {"indexOptions": {"expireAfterSeconds": 3600}}},
    );
    assert_eq!(
        translate(&e, &o).unwrap(),
        Translated::Ddl(DdlOp::Modify {
            coll: "orders".into(),
            changes: desc
        })
    );
    let off = TranslateOptions {
        ddl: DdlConfig {
            modify: false,
            ..o.ddl.clone()
        },
        ..o.clone()
    };
    assert_eq!(translate(&e, &off).unwrap(), Translated::Skip);
    let other_db = event(
        "modify",
        doc! {"operationDescription": {"validator": {}}, "ns": {"db": "x", "coll": "orders"}},
    );
    assert_eq!(translate(&other_db, &o).unwrap(), Translated::Skip);
}

/// The stream's read keeps an insert's document and an update's `updatedFields` in the
/// event's buffer (no copy), and they count the whole event, which they keep alive, in the
/// byte bounds; a copied body counts its own bytes.
#[test]
fn a_shared_read_views_the_event_and_its_bodies_count_the_event() {
    let inside = |body: &Body, event: &bytes::Bytes| {
        let (outer, inner) = (event.as_ptr_range(), body.as_bytes().as_ptr_range());
        outer.start <= inner.start && inner.end <= outer.end
    };
    let insert = event(
        "insert",
        doc! { "documentKey": { "_id": 1 }, "fullDocument": { "_id": 1, "x": "y" } },
    );
    let delta = update(doc! { "updatedFields": { "a": 1 } });
    for ev in [insert, delta] {
        let bytes = bytes::Bytes::from(bson::to_vec(&ev).unwrap());
        let shared = read_shared(&bytes, &opts()).unwrap();
        let copied = read_event(&ev, &opts()).unwrap();
        assert_eq!(shared, copied, "the same op either way");
        let (Translated::Write(s), Translated::Write(c)) = (shared.translated, copied.translated)
        else {
            panic!("writes expected for {ev}");
        };
        let (shared_body, copied_body) = match (s.kind, c.kind) {
            (WriteKind::Upsert(s), WriteKind::Upsert(c)) => (s, c),
            (WriteKind::Delta { set: s, .. }, WriteKind::Delta { set: c, .. }) => (s, c),
            other => panic!("unexpected kinds {other:?}"),
        };
        assert!(inside(&shared_body, &bytes), "a view of the event");
        assert_eq!(
            shared_body.held_bytes(),
            bytes.len(),
            "counts the whole event"
        );
        assert_eq!(copied_body.held_bytes(), copied_body.as_bytes().len());
        assert!(copied_body.held_bytes() < bytes.len());
    }
    // A document from elsewhere is copied, not viewed.
    let other = bytes::Bytes::from(bson::to_vec(&doc! {"a": 1}).unwrap());
    let doc = RawDocumentBuf::from_document(&doc! {"b": 2}).unwrap();
    let body = Body::within(&other, &doc);
    assert!(!inside(&body, &other));
    assert_eq!(body.held_bytes(), doc.as_bytes().len());
}
