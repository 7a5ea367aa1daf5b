//! Which source collections a rule selects: an include glob (a collection created later that
//! matches is replicated too, documents and indexes), an exclude before a wider include, and a
//! regular expression on the whole name. Everything not selected never reaches the target,
//! neither by the copy nor by live changes.

use super::{exclude, fence, include, names, seed, start, tailing, wait_same, WAIT};
use crate::support::{
    config, create_index, db_names, index_names, two_deployments, wait_until, Deployment,
};
use bson::{doc, Document};

/// The series of `/metrics` labelled with collection `name`: none for a collection not
/// replicated (bounded label sets).
async fn labelled(p: &crate::support::procs::ReplicatorProcess, name: &str) -> Vec<String> {
    let (_, body) = p.get("/metrics").await.expect("metrics");
    let label = format!("collection=\"{name}\"");
    body.lines()
        .filter(|l| !l.starts_with('#') && l.contains(&label))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_include_glob_replicates_matching_collections_and_ones_created_later() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ns_glob");
    let cfg = config(&dep.uri, &src, &dst);
    seed(&dep, &src, "orders", 20).await;
    seed(&dep, &src, "ordlines", 10).await;
    seed(&dep, &src, "users", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &cfg, &[include(&format!("{src}.ord*"))]);
    tailing(&p).await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders")).await;
    wait_same(&dep, (&src, "ordlines"), (&dst, "ordlines")).await;

    // Live: a change to a selected collection, one to `users`, and a new matching collection
    // with an index.
    let source = dep.db(&src);
    source
        .collection::<Document>("orders")
        .update_one(doc! {"_id": 3}, doc! {"$set": {"paid": true}})
        .await
        .unwrap();
    source
        .collection::<Document>("users")
        .insert_one(doc! {"_id": 100})
        .await
        .unwrap();
    seed(&dep, &src, "ordarchive", 7).await;
    create_index(&source, "ordarchive", doc! {"sku": 1}, false).await;
    wait_same(&dep, (&src, "ordarchive"), (&dst, "ordarchive")).await;
    wait_until("the new collection's index on the target", WAIT, || async {
        index_names(&dep.db(&dst), "ordarchive").await == ["_id_", "sku_1"]
    })
    .await;
    fence(&dep, (&src, "ordlines"), (&dst, "ordlines")).await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders")).await;
    assert_eq!(
        names(&dep, &dst).await,
        ["ordarchive", "orders", "ordlines"],
        "users is not selected by the glob"
    );
    assert!(labelled(&p, "users").await.is_empty(), "users has metrics");
    assert_eq!(p.terminate(WAIT).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exclude_before_a_wider_include_keeps_that_collection_off_the_target() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ns_exclude");
    let cfg = config(&dep.uri, &src, &dst);
    seed(&dep, &src, "orders", 20).await;
    seed(&dep, &src, "sessions", 30).await;
    seed(&dep, &src, "users", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = [
        exclude(&format!("{src}.sessions")),
        include(&format!("{src}.*")),
    ];
    let p = start(dir.path(), &cfg, &rules);
    tailing(&p).await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders")).await;
    wait_same(&dep, (&src, "users"), (&dst, "users")).await;

    let sessions = dep.db(&src).collection::<Document>("sessions");
    sessions.insert_one(doc! {"_id": 1000}).await.unwrap();
    sessions
        .update_many(doc! {}, doc! {"$set": {"seen": true}})
        .await
        .unwrap();
    sessions.delete_one(doc! {"_id": 0}).await.unwrap();
    fence(&dep, (&src, "users"), (&dst, "users")).await;
    assert_eq!(
        names(&dep, &dst).await,
        ["orders", "users"],
        "the excluded sessions reached the target"
    );
    assert!(
        labelled(&p, "sessions").await.is_empty(),
        "sessions has metrics"
    );
    assert_eq!(p.terminate(WAIT).await, Some(0));
}

/// On two deployments: with source and target on one, a rule must name its database literally
/// (a pattern there could select the backup's own databases), which a regex does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_rule_selects_exactly_the_names_it_matches() {
    let (source, target, cfg) = two_deployments("ns_regex").await;
    let (src, dst) = (cfg.source.database.clone(), cfg.target.database.clone());
    let sides = (&source, &target);
    for coll in ["a", "b", "ab", "c"] {
        seed(&source, &src, coll, 4).await;
    }
    let dir = tempfile::tempdir().unwrap();
    // Anchored on the whole "db.collection": `ab` and `c` do not match.
    let p = start(dir.path(), &cfg, &[include(&format!("/^{src}\\.(a|b)$/"))]);
    tailing(&p).await;
    wait_same(sides, (&src, "a"), (&dst, "a")).await;
    wait_same(sides, (&src, "b"), (&dst, "b")).await;
    for coll in ["ab", "c", "a"] {
        source
            .db(&src)
            .collection::<Document>(coll)
            .insert_one(doc! {"_id": 50})
            .await
            .unwrap();
    }
    fence(sides, (&src, "b"), (&dst, "b")).await;
    wait_same(sides, (&src, "a"), (&dst, "a")).await;
    assert_eq!(names(&target, &dst).await, ["a", "b"]);
    assert_eq!(p.terminate(WAIT).await, Some(0));
}
