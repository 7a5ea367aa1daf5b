//! `kill -9` of the replicator at random moments, in the copy and in the tail, while the source
//! keeps changing; every restart resumes with no manual step and the backup converges.
//! Short form by default; `LONG_TESTS=1` loops many more times.

use crate::support::workload::{Traffic, TrafficPlan, Workload};
use crate::support::{
    config, converge, db_names, rounds, seed, spawn_binary, terminate, write_config, Deployment,
};
use bson::Document;
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_copy_and_tail_converges() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("crash");
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.copy.batch_size = 200; // many copy batches: kills land mid-copy
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &cfg);
    let path = path.to_str().unwrap().to_string();
    let source = dep.db(&src);
    let s = seed();
    // A collection big enough that the first kills land inside the copy.
    let big: Vec<Document> = (0..20_000)
        .map(|i| bson::doc! {"_id": i, "pad": "x".repeat(200)})
        .collect();
    source
        .collection::<Document>("big")
        .insert_many(big)
        .await
        .unwrap();
    Workload::new(s).run(&source, 300).await;

    let n = rounds(4, 30);
    let traffic = Traffic::start(
        &source,
        s,
        TrafficPlan {
            rounds: Some(n * 3),
            ..TrafficPlan::new(150, Duration::from_millis(100))
        },
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(s);
    for round in 0..n {
        let mut child = spawn_binary(&["run", "--config", &path], &[("RUST_LOG", "warn")]);
        let ms = rng.gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        child.kill().expect("kill -9");
        let _ = child.wait();
        eprintln!("round {round}: killed after {ms} ms");
    }
    traffic.finish().await;
    let mut child = spawn_binary(&["run", "--config", &path], &[("RUST_LOG", "warn")]);
    converge(&dep, &cfg, Duration::from_secs(90)).await;
    let code = tokio::task::spawn_blocking(move || terminate(&mut child, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "SIGTERM must exit 0 within 10 s");
}
