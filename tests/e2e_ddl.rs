//! DDL while replicating: drop, rename, create and drop indexes reach the target as barriers;
//! with a DDL switch off the target keeps its data.

mod support;

use bson::{doc, Document};
use std::time::Duration;
use support::{assert_identical, config, db_names, Deployment, Replicator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_rename_and_indexes_are_replicated() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ddl");
    let cfg = config(&dep.uri, &src, &dst);
    let source = dep.db(&src);
    source
        .collection::<Document>("a")
        .insert_many((0..50).map(|i| doc! {"_id": i, "email": format!("u{i}@x")}))
        .await
        .unwrap();
    source
        .collection::<Document>("b")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;

    support::create_unique_index(&source.collection::<Document>("a"), "email").await;
    source
        .collection::<Document>("a")
        .insert_one(doc! {"_id": 100, "email": "new@x"})
        .await
        .unwrap();
    dep.client
        .database("admin")
        .run_command(doc! {"renameCollection": format!("{src}.b"), "to": format!("{src}.c")})
        .await
        .unwrap();
    source
        .collection::<Document>("c")
        .insert_one(doc! {"_id": 2})
        .await
        .unwrap();
    source
        .collection::<Document>("d")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    source.collection::<Document>("d").drop().await.unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    assert_identical(&dep, &cfg).await;
    let target_names = dep.db(&dst).list_collection_names().await.unwrap();
    assert!(
        target_names.contains(&"c".to_string())
            && !target_names.contains(&"b".to_string())
            && !target_names.contains(&"d".to_string()),
        "{target_names:?}"
    );
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_switched_off_keep_the_backup() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("nodrop");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.apply.ddl.drop = false;
    let source = dep.db(&src);
    source
        .collection::<Document>("keep")
        .insert_many((0..10).map(|i| doc! {"_id": i}))
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    source.collection::<Document>("keep").drop().await.unwrap();
    source
        .collection::<Document>("other")
        .insert_one(doc! {"_id": 1})
        .await
        .unwrap();
    r.caught_up(Duration::from_secs(30)).await;
    let n = dep
        .db(&dst)
        .collection::<Document>("keep")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(
        n, 10,
        "the backup lost data although drops are switched off"
    );
    assert_eq!(
        dep.db(&dst)
            .collection::<Document>("other")
            .count_documents(doc! {})
            .await
            .unwrap(),
        1
    );
    r.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_key_moves_between_documents_survive_parallel_apply() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("uniq");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.apply.workers = 8;
    let source = dep.db(&src);
    let users = source.collection::<Document>("users");
    support::create_unique_index(&users, "email").await;
    users
        .insert_many((0..20).map(|i| doc! {"_id": i, "email": format!("e{i}")}))
        .await
        .unwrap();
    let r = Replicator::start(&cfg).await;
    r.caught_up(Duration::from_secs(30)).await;
    // Doc i frees its email, doc i+1 takes it, many times: a writer may apply B before A.
    for round in 0..10 {
        for i in 0..19 {
            users
                .update_one(
                    doc! {"_id": i},
                    doc! {"$set": {"email": format!("tmp{round}-{i}")}},
                )
                .await
                .unwrap();
            users
                .update_one(
                    doc! {"_id": i + 1},
                    doc! {"$set": {"email": format!("e{i}")}},
                )
                .await
                .unwrap();
        }
    }
    r.caught_up(Duration::from_secs(60)).await;
    assert_identical(&dep, &cfg).await;
    let conflicts = r.telemetry.metrics.render();
    assert!(
        !conflicts.contains("mongo_replicator_errors_total{kind=\"conflict\"} 1"),
        "a transient reorder was reported as a real conflict"
    );
    r.shutdown().await.unwrap();
}
