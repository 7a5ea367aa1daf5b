//! Issue 11 item 11: a sharded source sends `documentKey: {"customer.id": 5, _id}` for a
//! collection sharded on a dotted key. The testbed is not sharded and never emits such a key,
//! so this drives the apply path (fetch from the source, match, write to the target) over TCP
//! with that key: the re-read document must be found and written, never counted gone.

use crate::support::{db_names, Deployment};
use bson::{doc, Document};
use mongo_replicator::apply::{apply_plan, BatchBuilder};
use mongo_replicator::source::translate::{WriteKind, WriteOp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_by_a_dotted_shard_key_finds_and_writes_the_document() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("dottedkey");
    let (source, target) = (dep.db(&src), dep.db(&dst));
    let orders = doc! {"_id": 1, "customer": {"id": 5, "name": "n"}, "v": 2};
    source
        .collection::<Document>("orders")
        .insert_many([orders.clone(), doc! {"_id": 2, "customer": {"id": 6}}])
        .await
        .unwrap();
    let mut builder = BatchBuilder::new();
    for (id, customer) in [(1, 5), (2, 6)] {
        builder.push(WriteOp {
            coll: "orders".into(),
            key: doc! {"customer.id": customer, "_id": id}.into(),
            kind: WriteKind::Fetch,
        });
    }
    let (s, t) = mongo_replicator::source::Endpoint::between(&source, &target, None);
    let outcome = apply_plan(&s, &t, &builder.take_plan()).await.unwrap();
    assert!(
        outcome.gone.is_empty(),
        "documents of a dotted shard key counted gone: {:?}",
        outcome.gone
    );
    assert_eq!(outcome.found.len(), 2);
    let written = target
        .collection::<Document>("orders")
        .find_one(doc! {"_id": 1})
        .await
        .unwrap();
    assert_eq!(written, Some(orders));
}
