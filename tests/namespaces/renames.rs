//! Renames across the filter: from an excluded name into a selected one the collection is
//! copied to its target; from a selected name to an excluded one its target is dropped, or kept
//! when `apply.ddl.drop = false`. mongosync refuses these; users trip on them.

use super::{exclude, fence, include, names, seed, start, tailing, wait_same, WAIT};
use crate::support::procs::ReplicatorProcess;
use crate::support::{
    config, create_index, db_names, index_names, rename_collection, wait_until, Deployment,
};
use bson::{doc, Document};
use mongo_replicator::config::Config;

/// `tmp_*` excluded, everything else of the source database selected.
fn rules(src: &str) -> [mongo_replicator::source::namespaces::NamespaceRule; 2] {
    [
        exclude(&format!("{src}.tmp_*")),
        include(&format!("{src}.*")),
    ]
}

/// A deployment with `tmp_load` (15, excluded), `live` (10) and `keep` (5), and a replicator
/// tailing it; the selected ones are on the target.
struct Pair {
    dep: Deployment,
    src: String,
    dst: String,
    p: ReplicatorProcess,
    _dir: tempfile::TempDir,
}

impl Pair {
    async fn tailing(tag: &str, edit: impl FnOnce(&mut Config)) -> Pair {
        let dep = Deployment::start().await;
        let (src, dst) = db_names(tag);
        let mut cfg = config(&dep.uri, &src, &dst);
        edit(&mut cfg);
        seed(&dep, &src, "tmp_load", 15).await;
        create_index(&dep.db(&src), "tmp_load", doc! {"n": 1}, false).await;
        seed(&dep, &src, "live", 10).await;
        seed(&dep, &src, "keep", 5).await;
        let dir = tempfile::tempdir().unwrap();
        let p = start(dir.path(), &cfg, &rules(&src));
        tailing(&p).await;
        wait_same(&dep, (&src, "live"), (&dst, "live")).await;
        wait_same(&dep, (&src, "keep"), (&dst, "keep")).await;
        assert_eq!(names(&dep, &dst).await, ["keep", "live"]);
        Pair {
            dep,
            src,
            dst,
            p,
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_across_the_filter_copy_in_and_drop_out() {
    let Pair {
        dep,
        src,
        dst,
        p,
        _dir,
    } = Pair::tailing("ns_rename", |_| {}).await;

    // Excluded -> selected: its documents are copied, and later writes follow.
    rename_collection(&dep, &src, "tmp_load", "loaded", false).await;
    wait_same(&dep, (&src, "loaded"), (&dst, "loaded")).await;
    wait_until("the index of the collection renamed in", WAIT, || async {
        index_names(&dep.db(&dst), "loaded").await == ["_id_", "n_1"]
    })
    .await;
    dep.db(&src)
        .collection::<Document>("loaded")
        .insert_one(doc! {"_id": 99})
        .await
        .unwrap();
    wait_same(&dep, (&src, "loaded"), (&dst, "loaded")).await;

    // Selected -> excluded: its target is dropped; writes under the new name stay away.
    rename_collection(&dep, &src, "live", "tmp_old", false).await;
    wait_until("live dropped on the target", WAIT, || async {
        !names(&dep, &dst).await.contains(&"live".to_string())
    })
    .await;
    dep.db(&src)
        .collection::<Document>("tmp_old")
        .insert_one(doc! {"_id": 99})
        .await
        .unwrap();
    fence(&dep, (&src, "keep"), (&dst, "keep")).await;
    assert_eq!(names(&dep, &dst).await, ["keep", "loaded"]);
    assert_eq!(p.terminate(WAIT).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_out_of_the_filter_keeps_the_target_when_drops_are_off() {
    let Pair {
        dep,
        src,
        dst,
        p,
        _dir,
    } = Pair::tailing("ns_rename_keep", |c| c.apply.ddl.drop = false).await;
    rename_collection(&dep, &src, "live", "tmp_old", false).await;
    fence(&dep, (&src, "keep"), (&dst, "keep")).await;
    assert_eq!(
        names(&dep, &dst).await,
        ["keep", "live"],
        "the backup lost a collection although drops are off"
    );
    assert_eq!(dep.count(&dst, "live").await, 10);
    assert_eq!(p.terminate(WAIT).await, Some(0));
}
