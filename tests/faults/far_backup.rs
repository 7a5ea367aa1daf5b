//! A backup a round trip away (the fault proxy's `Fault::Delay`) with `apply.writes_in_flight =
//! 4`: each writer sends batches while earlier ones await the target, unless they share a
//! document. With traffic on a few keys (most events hit a document a batch in flight writes),
//! the backup ends identical, through the binary.

use crate::support::procs::ReplicatorProcess;
use crate::support::proxy::{Fault, Proxy};
use crate::support::{
    config, converge, db_names, seed, skip_on_real_server, wait_until, Deployment, Needs,
};
use bson::{doc, Document};
use mongo_replicator::config::ConnectionString;
use mongodb::Database;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// Keys per collection: few, so consecutive batches of a writer share documents often.
const KEYS: i32 = 6;
/// Changes written while the replicator tails, one at a time.
const STEPS: i32 = 1500;

/// One random change to one of the few documents of `coll`: upserts, `$inc`/`$set` deltas,
/// replacements, deletes, and an `update_many` over the collection.
async fn change(db: &Database, coll: &str, rng: &mut impl Rng, step: i32) {
    let c = db.collection::<Document>(coll);
    let id = rng.gen_range(0..KEYS);
    let by_id = doc! {"_id": id};
    let result = match rng.gen_range(0..10) {
        0..=3 => c
            .update_one(by_id, doc! {"$inc": {"n": 1}, "$set": {"at": step}})
            .upsert(true)
            .await
            .map(|_| ()),
        4 | 5 => c
            .replace_one(by_id, doc! {"step": step, "tag": format!("t{}", step % 7)})
            .upsert(true)
            .await
            .map(|_| ()),
        6 => c
            .update_many(doc! {}, doc! {"$inc": {"all": 1}})
            .await
            .map(|_| ()),
        7 => c.delete_one(by_id).await.map(|_| ()),
        _ => c
            .update_one(by_id, doc! {"$unset": {"n": ""}, "$set": {"tag": "u"}})
            .await
            .map(|_| ()),
    };
    result.expect("source write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_far_backup_with_four_writes_in_flight_ends_identical_under_same_key_traffic() {
    skip_on_real_server!(Needs::FaultProxy);
    let dep = Deployment::start().await;
    let (src, dst) = db_names("inflight");
    let link = Proxy::start(dep.testbed_addr()).await;
    link.set(Fault::Delay {
        one_way: Duration::from_millis(1),
    });
    let mut cfg = config(&dep.uri, &src, &dst);
    cfg.target.uri = ConnectionString::new(link.uri());
    cfg.apply.writes_in_flight = 4;
    cfg.apply.workers = 2;
    let source = dep.db(&src);
    let dir = tempfile::tempdir().unwrap();
    let s = seed();
    let mut rng = rand::rngs::StdRng::seed_from_u64(s);
    // Live traffic while it tails (small batches), then a backlog while it is stopped, read
    // back in full batches after the restart.
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    traffic(&source, &mut rng, 0..STEPS).await;
    converge(&dep, &cfg, Duration::from_secs(120)).await;
    assert_eq!(p.terminate(Duration::from_secs(30)).await, Some(0));
    traffic(&source, &mut rng, STEPS..2 * STEPS).await;
    let p = ReplicatorProcess::run(dir.path(), &cfg);
    tailing(&p).await;
    converge(&dep, &cfg, Duration::from_secs(120)).await;
    assert_eq!(p.terminate(Duration::from_secs(30)).await, Some(0));
}

async fn traffic(source: &Database, rng: &mut impl Rng, steps: std::ops::Range<i32>) {
    for step in steps {
        let coll = if rng.gen_bool(0.5) { "a" } else { "b" };
        change(source, coll, rng, step).await;
    }
}

async fn tailing(p: &ReplicatorProcess) {
    wait_until("phase tailing", Duration::from_secs(60), || async {
        let status = p.get("/status").await;
        status.is_some_and(|(code, body)| code == 200 && body.contains("\"phase\":\"tailing\""))
    })
    .await;
}
