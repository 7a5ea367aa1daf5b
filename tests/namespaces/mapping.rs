//! Where selected collections go: a target template renaming one collection into another
//! database, and two source databases at once (a cluster-level change stream), each into its
//! own backup database; `verify` checks the mapping, and `dropDatabase` of one source database
//! touches only its image.

use super::{
    command, fence, include, include_to, names, seed, start, tailing, verify_exits_0, wait_same,
    write_config, WAIT,
};
use crate::support::http::{post, series};
use crate::support::{config, create_index, db_names, index_names, wait_until, Deployment};
use bson::{doc, Document};
use mongo_replicator::ops::metrics::names;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_template_renames_the_collection_for_copy_live_changes_and_verify() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ns_template");
    let cfg = config(&dep.uri, &src, &dst);
    seed(&dep, &src, "orders", 25).await;
    seed(&dep, &src, "customers", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = [include_to(
        &format!("{src}.orders"),
        &format!("{dst}.orders_archive"),
    )];
    let p = start(dir.path(), &cfg, &rules);
    tailing(&p).await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders_archive")).await;

    let orders = dep.db(&src).collection::<Document>("orders");
    orders
        .insert_one(doc! {"_id": 100, "n": 100})
        .await
        .unwrap();
    orders
        .update_one(doc! {"_id": 1}, doc! {"$set": {"total": 9.5}})
        .await
        .unwrap();
    orders.delete_one(doc! {"_id": 2}).await.unwrap();
    create_index(&dep.db(&src), "orders", doc! {"total": 1}, false).await;
    wait_until("the live index on orders_archive", WAIT, || async {
        index_names(&dep.db(&dst), "orders_archive").await == ["_id_", "total_1"]
    })
    .await;
    wait_same(&dep, (&src, "orders"), (&dst, "orders_archive")).await;
    assert_eq!(
        names(&dep, &dst).await,
        ["orders_archive"],
        "only the mapped name exists on the target (customers is not selected)"
    );
    verify_exits_0(&write_config(dir.path(), &cfg, &rules)).await;
    assert_eq!(p.terminate(WAIT).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_source_databases_replicate_at_once_and_a_drop_database_touches_only_its_image() {
    let dep = Deployment::start().await;
    let (orders_db, _) = db_names("ns_orders");
    let (users_db, _) = db_names("ns_users");
    let (orders_bk, users_bk) = (format!("{orders_db}_backup"), format!("{users_db}_backup"));
    // `source.database` -> `target.database` is the default for the first; any other
    // database `db` goes to `{db}_backup`.
    let cfg = config(&dep.uri, &orders_db, &orders_bk);
    seed(&dep, &orders_db, "orders", 20).await;
    seed(&dep, &orders_db, "lines", 5).await;
    seed(&dep, &users_db, "users", 10).await;
    seed(&dep, &users_db, "prefs", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = [
        include(&format!("{orders_db}.*")),
        include(&format!("{users_db}.*")),
    ];
    let p = start(dir.path(), &cfg, &rules);
    tailing(&p).await;
    let pairs = [
        (&orders_db, "orders", &orders_bk),
        (&orders_db, "lines", &orders_bk),
        (&users_db, "users", &users_bk),
        (&users_db, "prefs", &users_bk),
    ];
    for (db, coll, bk) in pairs {
        wait_same(&dep, (db, coll), (bk, coll)).await;
    }
    // Several source databases: collections are keyed "db.coll" (source names).
    let copied = series(
        names::COPY_DOCUMENTS_TOTAL,
        "collection",
        &format!("{users_db}.users"),
    );
    assert_eq!(p.metric(&copied).await, 10.0, "{copied}");
    for (key, code) in [
        (format!("{users_db}.users"), 200),
        ("users".to_string(), 400),
    ] {
        let body = serde_json::json!({ "collection": key }).to_string();
        let reply = post(p.http, "/api/v1/pause", None, Some(&body))
            .await
            .unwrap();
        assert_eq!(reply.code, code, "pause {key}: {}", reply.body);
        post(p.http, "/api/v1/resume", None, Some(&body))
            .await
            .unwrap();
    }

    // Live changes in both databases, through the one stream.
    dep.db(&orders_db)
        .collection::<Document>("orders")
        .insert_one(doc! {"_id": 100})
        .await
        .unwrap();
    dep.db(&users_db)
        .collection::<Document>("users")
        .update_one(doc! {"_id": 4}, doc! {"$set": {"name": "x"}})
        .await
        .unwrap();
    dep.db(&users_db)
        .collection::<Document>("prefs")
        .delete_one(doc! {"_id": 0})
        .await
        .unwrap();
    for (db, coll, bk) in pairs {
        wait_same(&dep, (db, coll), (bk, coll)).await;
    }
    let path = write_config(dir.path(), &cfg, &rules);
    verify_exits_0(&path).await;

    // A target collection a selected source name would map to, which the source lacks, is
    // reported; one in a database that is no image of the mapping is not.
    let (elsewhere, _) = db_names("ns_elsewhere");
    seed(&dep, &users_bk, "stray", 1).await;
    seed(&dep, &elsewhere, "c", 1).await;
    let (code, out, err) = command("verify", &path).await;
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains(&format!("{users_db}.stray")) && !out.contains(&elsewhere),
        "report: {out}"
    );
    dep.db(&users_bk)
        .collection::<Document>("stray")
        .drop()
        .await
        .unwrap();
    verify_exits_0(&path).await;

    // Stopped, both databases change; the restart resumes the one stream from its checkpoint.
    assert_eq!(p.terminate(WAIT).await, Some(0));
    seed(&dep, &orders_db, "lines_late", 4).await;
    dep.db(&users_db)
        .collection::<Document>("users")
        .delete_one(doc! {"_id": 9})
        .await
        .unwrap();
    let p = start(dir.path(), &cfg, &rules);
    wait_same(&dep, (&orders_db, "lines_late"), (&orders_bk, "lines_late")).await;
    wait_same(&dep, (&users_db, "users"), (&users_bk, "users")).await;

    dep.db(&users_db).drop().await.unwrap();
    wait_until("usersDB's image emptied", WAIT, || async {
        names(&dep, &users_bk).await.is_empty()
    })
    .await;
    fence(&dep, (&orders_db, "lines"), (&orders_bk, "lines")).await;
    assert_eq!(
        names(&dep, &orders_bk).await,
        ["lines", "lines_late", "orders"],
        "dropDatabase of usersDB touched ordersDB's backup"
    );
    wait_same(&dep, (&orders_db, "orders"), (&orders_bk, "orders")).await;
    // The dropped database written again is replicated again.
    seed(&dep, &users_db, "users", 2).await;
    wait_same(&dep, (&users_db, "users"), (&users_bk, "users")).await;
    assert_eq!(p.terminate(WAIT).await, Some(0));
}
