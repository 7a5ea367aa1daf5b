//! `dbpath` persistence: data, indexes and oplog survive reopening, including a torn journal
//! tail, and resume tokens and cluster times stay valid across restarts.

use bson::{doc, Bson};
use mongo_testbed::changestream::{ChangeStream, Scope};
use mongo_testbed::pipeline::Pipeline;
use mongo_testbed::store::*;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

fn open(dir: &Path) -> Arc<Store> {
    Store::open(StoreOptions {
        dbpath: Some(dir.to_path_buf()),
        oplog_max_entries: 1000,
    })
    .unwrap()
}

fn ns() -> Namespace {
    Namespace::new("db", "c")
}

#[tokio::test]
async fn data_indexes_oplog_and_tokens_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (token, ts_before) = {
        let s = open(dir.path());
        s.create_indexes(&ns(), vec![doc! {"key": {"u": 1}, "unique": true}])
            .unwrap();
        s.insert(
            &ns(),
            vec![doc! {"_id": 1, "u": 1}, doc! {"_id": 2, "u": 2}],
            true,
        );
        let mut cs = ChangeStream::open(
            s.clone(),
            Scope::Collection(ns()),
            &doc! {},
            Pipeline::new(&[]).unwrap(),
        )
        .unwrap();
        s.delete(
            &ns(),
            &[DeleteStatement {
                filter: doc! {"_id": 2},
                limit_one: true,
                collation: None,
            }],
            true,
        );
        let ev = cs.next_batch(10, None).await.unwrap();
        assert_eq!(ev.len(), 1);
        s.insert(&ns(), vec![doc! {"_id": 3, "u": 3}], true);
        (cs.post_batch_resume_token(), s.cluster_time())
        // dropped without any shutdown: like kill -9 (records were written before returning)
    };
    let s = open(dir.path());
    assert_eq!(s.count(&ns()), 2);
    assert!(s.find_by_id(&ns(), &Bson::Int32(2)).is_none());
    assert_eq!(s.list_indexes(&ns()).unwrap().len(), 2);
    assert_eq!(
        s.insert(&ns(), vec![doc! {"_id": 9, "u": 1}], true)
            .write_errors[0]
            .1
            .code,
        11000
    );
    assert!(s.cluster_time() >= ts_before);
    s.insert(&ns(), vec![doc! {"_id": 4, "u": 4}], true);
    assert!(
        s.cluster_time() > ts_before,
        "cluster time keeps increasing after restart"
    );
    let mut cs = ChangeStream::open(
        s.clone(),
        Scope::Collection(ns()),
        &doc! {"resumeAfter": token},
        Pipeline::new(&[]).unwrap(),
    )
    .unwrap();
    let ids: Vec<Bson> = cs
        .next_batch(10, None)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            e.get_document("documentKey")
                .unwrap()
                .get("_id")
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(ids, [Bson::Int32(3), Bson::Int32(4)]);
    // A third open (after the compaction of the second) still has everything.
    drop(cs);
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.count(&ns()), 3);
}

#[test]
fn torn_journal_tail_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.insert(&ns(), vec![doc! {"_id": 1}], true);
    }
    {
        // Reopen (compacts into the snapshot), then journal two more writes.
        let s = open(dir.path());
        s.insert(&ns(), vec![doc! {"_id": 2}], true);
        s.insert(&ns(), vec![doc! {"_id": 3, "pad": "x".repeat(100)}], true);
    }
    let journal = dir.path().join("journal.bin");
    let len = std::fs::metadata(&journal).unwrap().len();
    // Cut the last record in half, as a kill -9 mid-write would, and add garbage.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap();
    f.set_len(len - 40).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    f.write_all(&[0xff; 7]).unwrap();
    drop(f);
    let s = open(dir.path());
    assert!(s.find_by_id(&ns(), &Bson::Int32(1)).is_some());
    assert!(s.find_by_id(&ns(), &Bson::Int32(2)).is_some());
    assert!(s.find_by_id(&ns(), &Bson::Int32(3)).is_none());
    s.insert(&ns(), vec![doc! {"_id": 5}], true);
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.count(&ns()), 3);
}

#[test]
fn ddl_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.insert(&ns(), vec![doc! {"_id": 1}], true);
        s.insert(&Namespace::new("db", "gone"), vec![doc! {"_id": 1}], true);
        s.drop_collection(&Namespace::new("db", "gone")).unwrap();
        s.rename_collection(&ns(), &Namespace::new("db2", "moved"), false)
            .unwrap();
        s.create_collection(
            &Namespace::new("db", "empty"),
            doc! {"capped": true, "size": 4096},
        )
        .unwrap();
    }
    let s = open(dir.path());
    let names: Vec<String> = s
        .list_collections("db")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["empty"]);
    assert_eq!(s.count(&Namespace::new("db2", "moved")), 1);
    assert_eq!(
        s.list_collections("db")[0].options,
        doc! {"capped": true, "size": 4096}
    );
}

/// A capped collection keeps its insertion order across a restart: the next removal after
/// reopening takes the oldest inserted document, not the smallest `_id`.
#[test]
fn capped_insertion_order_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let capped = Namespace::new("db", "capped");
    {
        let s = open(dir.path());
        s.create_collection(&capped, doc! {"capped": true, "size": 1 << 20, "max": 2})
            .unwrap();
        for id in [3, 1, 2] {
            s.insert(&capped, vec![doc! {"_id": id}], true);
        }
        assert!(s.find_by_id(&capped, &Bson::Int32(3)).is_none());
    }
    let s = open(dir.path());
    s.insert(&capped, vec![doc! {"_id": 9}], true);
    assert!(
        s.find_by_id(&capped, &Bson::Int32(1)).is_none(),
        "1 was older than 2"
    );
    assert!(s.find_by_id(&capped, &Bson::Int32(2)).is_some());
    assert_eq!(s.count(&capped), 2);
}
