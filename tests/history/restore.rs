//! A fat finger on the source (`delete_many({})`, an `update_many` overwriting a field, a
//! `drop`) undone: `restore --at` just before it into a new database equals a snapshot taken
//! at that moment byte for byte, `--dry-run` counts, `--into-uri` the source undoes it there
//! (and the backup follows), and a time outside the window is refused with exit 2.

use super::fixture::{raw_docs, Fixture, LIMIT};
use crate::support::wait_until;
use bson::{doc, Document};
use mongodb::options::ChangeStreamPreAndPostImages;

const COLLS: [&str; 3] = ["orders", "users", "logs"];

async fn workload(f: &Fixture) {
    let src = f.source();
    for i in 0..40 {
        src.collection::<Document>("orders")
            .insert_one(doc! {"_id": i, "qty": i, "items": [1, 2, 3], "note": "n"})
            .await
            .unwrap();
    }
    for i in 0..20 {
        src.collection::<Document>("users")
            .insert_one(doc! {"_id": format!("u{i}"), "email": format!("{i}@x"), "age": i})
            .await
            .unwrap();
        src.collection::<Document>("logs")
            .insert_one(doc! {"_id": i, "line": "started"})
            .await
            .unwrap();
    }
    let orders = src.collection::<Document>("orders");
    for i in (0..40).step_by(3) {
        orders
            .update_one(
                doc! {"_id": i},
                doc! {"$set": {"qty": 100 + i}, "$unset": {"note": 1}},
            )
            .await
            .unwrap();
        orders
            .update_one(doc! {"_id": i}, doc! {"$push": {"items": 4}})
            .await
            .unwrap();
    }
    orders.delete_one(doc! {"_id": 1}).await.unwrap();
    orders
        .replace_one(doc! {"_id": 2}, doc! {"replaced": true})
        .await
        .unwrap();
}

async fn fat_finger(f: &Fixture) {
    let src = f.source();
    src.collection::<Document>("orders")
        .delete_many(doc! {})
        .await
        .unwrap();
    src.collection::<Document>("users")
        .update_many(doc! {}, doc! {"$set": {"email": "oops"}})
        .await
        .unwrap();
    src.collection::<Document>("logs").drop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_before_a_fat_finger_gives_the_snapshot_back_and_undoes_it_on_the_source() {
    fat_finger_undone(false).await;
}

/// The same with `changeStreamPreAndPostImages` on the source collections: `before` comes from
/// the events' `fullDocumentBeforeChange`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_with_source_pre_images_gives_the_snapshot_back() {
    fat_finger_undone(true).await;
}

async fn fat_finger_undone(pre_images: bool) {
    let f = Fixture::start("hist_restore", |_| {}).await;
    if pre_images {
        let on = ChangeStreamPreAndPostImages::builder()
            .enabled(true)
            .build();
        for c in COLLS {
            f.source()
                .create_collection(c)
                .change_stream_pre_and_post_images(on.clone())
                .await
                .unwrap();
        }
    }
    if pre_images {
        pre_images_are_used(&f).await;
    }
    workload(&f).await;
    f.caught_up(&COLLS).await;
    let at = f.source_time().await;
    let mut snapshot = Vec::new();
    for c in COLLS {
        snapshot.push(raw_docs(&f.source(), c).await);
    }
    fat_finger(&f).await;
    wait_until("the fat finger reaches the backup", LIMIT, || async {
        let b = f.backup();
        raw_docs(&b, "orders").await.is_empty()
            && !b
                .list_collection_names()
                .await
                .unwrap()
                .contains(&"logs".to_string())
            && raw_docs(&b, "users")
                .await
                .iter()
                .all(|d| d.get_str("email") == Ok("oops"))
    })
    .await;
    f.applied_past(&at).await;

    // Into a new database: every collection as it was at `at`, byte for byte.
    let (into, _) = f.restore_into_new_db(&at).await;
    for (c, want) in COLLS.iter().zip(&snapshot) {
        let got = raw_docs(&f.dep.db(&into), c).await;
        assert_eq!(
            &got, want,
            "{c} restored into {into} differs from the snapshot"
        );
    }
    // Running it again (as after an interruption) changes nothing.
    f.restore_into_new_db(&at).await;
    assert_eq!(raw_docs(&f.dep.db(&into), "orders").await, snapshot[0]);

    // Dry run into the source: counts per collection, nothing written.
    let uri = f.dep.uri.clone();
    let (code, out, err) = f
        .binary(&["restore", "--at", &at, "--into-uri", &uri, "--dry-run"])
        .await;
    assert_eq!(code, 0, "{err}");
    let orders_left = snapshot[0].len();
    assert!(
        out.contains(&format!(
            "orders: 0 restored, 0 deleted, {orders_left} recreated"
        )),
        "{out}"
    );
    assert!(
        out.contains("users: 20 restored, 0 deleted, 0 recreated"),
        "{out}"
    );
    assert!(
        out.contains("logs: 0 restored, 0 deleted, 20 recreated"),
        "{out}"
    );
    assert!(raw_docs(&f.source(), "orders").await.is_empty());

    // Into the source: the mistake is undone there, and the backup follows.
    let (code, out, err) = f
        .binary(&["restore", "--at", &at, "--into-uri", &uri])
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    for (c, want) in COLLS.iter().zip(&snapshot) {
        assert_eq!(&raw_docs(&f.source(), c).await, want, "{c} on the source");
    }
    f.caught_up(&COLLS).await;

    // Outside the window: refused with the window, exit 2.
    let (code, _, err) = f.binary(&["restore", "--at", "1.0"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("before the retained window") && err.contains("the history covers"),
        "{err}"
    );
    let (code, _, err) = f.binary(&["restore", "--at", "4000000000.0"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ahead of what the backup has applied"),
        "{err}"
    );
}

/// With pre-images, `before` is the event's: a version only the backup had (a target-only
/// write) does not show in the entry.
async fn pre_images_are_used(f: &Fixture) {
    let on = ChangeStreamPreAndPostImages::builder()
        .enabled(true)
        .build();
    f.source()
        .create_collection("probe")
        .change_stream_pre_and_post_images(on)
        .await
        .unwrap();
    let (src, dst) = (
        f.source().collection::<Document>("probe"),
        f.backup().collection::<Document>("probe"),
    );
    src.insert_one(doc! {"_id": 1, "v": 1}).await.unwrap();
    f.caught_up(&["probe"]).await;
    dst.update_one(doc! {"_id": 1}, doc! {"$set": {"v": 99}})
        .await
        .unwrap();
    src.update_one(doc! {"_id": 1}, doc! {"$set": {"v": 2}})
        .await
        .unwrap();
    f.caught_up(&["probe"]).await;
    let entry = f
        .history()
        .collection::<Document>("history")
        .find_one(doc! {"coll": "probe", "op": "update"})
        .await
        .unwrap()
        .expect("the update's entry");
    assert_eq!(
        entry.get_document("before").unwrap(),
        &doc! {"_id": 1, "v": 1}
    );
}

/// A rename keeps the renamed documents restorable under their old name, and a restore from
/// before it leaves the new name empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_before_a_rename_brings_the_old_name_back() {
    let f = Fixture::start("hist_rename", |_| {}).await;
    let a = f.source().collection::<Document>("a");
    for i in 0..10 {
        a.insert_one(doc! {"_id": i, "x": i}).await.unwrap();
    }
    f.caught_up(&["a"]).await;
    let at = f.source_time().await;
    let snapshot = raw_docs(&f.source(), "a").await;
    crate::support::rename_collection(&f.dep, &f.cfg.source.database, "a", "b", false).await;
    wait_until("the rename reaches the backup", LIMIT, || async {
        raw_docs(&f.backup(), "b").await.len() == 10 && raw_docs(&f.backup(), "a").await.is_empty()
    })
    .await;
    // The rename, the last change, moves the window's end past `at`.
    f.applied_past(&at).await;
    let (into, out) = f.restore_into_new_db(&at).await;
    assert_eq!(raw_docs(&f.dep.db(&into), "a").await, snapshot, "{out}");
    assert!(raw_docs(&f.dep.db(&into), "b").await.is_empty(), "{out}");
    assert!(
        out.contains("b: 0 restored, 10 deleted, 0 recreated"),
        "{out}"
    );
}
