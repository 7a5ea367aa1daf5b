//! Issue 11 item 11 (NaN part): a copy interrupted right after a NaN `_id` resumes after it. NaN
//! sorts below every other number, but `{$gt: NaN}` matches nothing: the resume filter must
//! still find every number after it (and every later type).

use crate::support::faults;
use crate::support::procs::ReplicatorProcess;
use crate::support::{
    all_documents, config, converge, db_names, skip_on_real_server, write_config, Deployment, Needs,
};
use bson::{doc, Bson, Document};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_interrupted_after_a_nan_id_resumes_with_every_later_id() {
    skip_on_real_server!(Needs::FailPoints);
    let dep = Deployment::start().await;
    let (src, dst) = db_names("copynan");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.copy.batch_size = 1;
    let source = dep.db(&src);
    let ids = [
        Bson::Double(f64::NAN),
        Bson::Double(f64::NEG_INFINITY),
        Bson::Int32(-1),
        Bson::Int64(0),
        Bson::Double(1.5),
        Bson::String("s".into()),
        Bson::Boolean(true),
    ];
    let docs: Vec<Document> = ids.iter().map(|id| doc! {"_id": id.clone()}).collect();
    source
        .collection::<Document>("c")
        .insert_many(docs)
        .await
        .unwrap();
    // The second one-document batch is refused: the copy stops with NaN as its last `_id`.
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    faults::interrupted_copy(&dep, &path, 1).await;
    let copied = all_documents(&dep.db(&dst).collection::<Document>("c")).await;
    assert_eq!(copied.len(), 1, "only the NaN document copied: {copied:?}");
    assert!(copied[0].get_f64("_id").is_ok_and(f64::is_nan));

    let replicator = ReplicatorProcess::run(dir.path(), &cfg);
    converge(&dep, &cfg, Duration::from_secs(30)).await;
    assert_eq!(replicator.terminate(Duration::from_secs(10)).await, Some(0));
}
