//! Point-in-time restore with `[[namespaces]]` selecting two source databases: the history is
//! keyed `db.coll`, each key's backup is `{db}_backup` (or `target.database`), and a restore
//! into a new database writes each collection under its key. Rules that give collections
//! their own targets are refused, naming `namespaces`.

use super::fixture::{raw_docs, Fixture};
use bson::{doc, Document};
use mongo_replicator::source::namespaces::NamespaceRule;

fn rule(source: String, target: Option<&str>) -> NamespaceRule {
    NamespaceRule {
        source,
        target: target.map(str::to_string),
        exclude: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_two_databases_gives_each_collection_back_under_its_key() {
    let users_db = format!("{}_users", crate::support::db_names("hist_ns").0);
    let f = Fixture::start("hist_ns", |cfg| {
        let orders_db = cfg.source.database.clone();
        cfg.namespaces = vec![
            rule(format!("{orders_db}.*"), None),
            rule(format!("{users_db}.*"), None),
        ];
    })
    .await;
    let (orders, users) = (
        f.source().collection::<Document>("orders"),
        f.dep.db(&users_db).collection::<Document>("users"),
    );
    orders
        .insert_many((0..10).map(|i| doc! {"_id": i, "qty": i}))
        .await
        .unwrap();
    users
        .insert_many((0..5).map(|i| doc! {"_id": i, "name": format!("u{i}")}))
        .await
        .unwrap();
    let users_backup = f.dep.db(&format!("{users_db}_backup"));
    crate::support::wait_until(
        "both databases backed up",
        super::fixture::LIMIT,
        || async {
            raw_docs(&f.backup(), "orders").await.len() == 10
                && raw_docs(&users_backup, "users").await.len() == 5
        },
    )
    .await;
    let (before_orders, before_users) = (
        raw_docs(&f.source(), "orders").await,
        raw_docs(&f.dep.db(&users_db), "users").await,
    );
    let at = f.source_time().await;
    orders.delete_many(doc! {}).await.unwrap();
    users
        .update_many(doc! {}, doc! {"$set": {"name": "oops"}})
        .await
        .unwrap();
    crate::support::wait_until(
        "the mistake reached both backups",
        super::fixture::LIMIT,
        || async {
            let oops = raw_docs(&users_backup, "users")
                .await
                .iter()
                .all(|d| d.get_str("name").ok() == Some("oops"));
            raw_docs(&f.backup(), "orders").await.is_empty() && oops
        },
    )
    .await;
    f.applied_past(&at).await;

    let (into, out) = f.restore_into_new_db(&at).await;
    let restored = f.dep.db(&into);
    let orders_key = format!("{}.orders", f.cfg.source.database);
    assert_eq!(
        raw_docs(&restored, &orders_key).await,
        before_orders,
        "{out}"
    );
    assert_eq!(
        raw_docs(&restored, &format!("{users_db}.users")).await,
        before_users,
        "{out}"
    );

    // A rule with its own target: the backup cannot be read back under default names.
    let mut retargeted = f.cfg.clone();
    retargeted.namespaces = vec![rule(
        format!("{}.orders", f.cfg.source.database),
        Some("elsewhere.orders"),
    )];
    let path = f.dir.path().join("retargeted.toml");
    std::fs::write(&path, toml::to_string(&retargeted).unwrap()).unwrap();
    let (code, _, err) = crate::support::run_binary(
        &["restore", "--at", &at, "--config", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("namespaces"), "{err}");
}
