//! The epoch condition of the target checkpoint store against a server: a save or claim by an
//! older epoch is refused (the term's token cancelled, the floor raised) and the stored token
//! does not move; a newer epoch claims the checkpoint before it writes.

use crate::support::{db_names, Deployment};
use mongo_replicator::ha::Fence;
use mongo_replicator::state::store::{CheckpointStore, TargetStore};
use mongo_replicator::state::Checkpoint;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn fence(epoch: i64) -> Fence {
    Fence {
        epoch,
        lost: CancellationToken::new(),
        floor: Arc::new(AtomicI64::new(0)),
    }
}

fn at(token: i32) -> Checkpoint {
    Checkpoint {
        resume_token: Some(bson::doc! {"_data": token.to_string()}),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_older_epoch_never_moves_the_stored_token() {
    let dep = Deployment::start().await;
    let (src, dst) = db_names("ha_fence");
    let store = |f: Option<Fence>| {
        TargetStore::new(dep.client.clone(), &format!("ckpt_{dst}"), &src, &dst).fenced(f)
    };
    let (old, new) = (fence(1), fence(2));
    store(Some(old.clone())).save(&at(1)).await.unwrap();
    store(Some(new.clone())).check_writable().await.unwrap();
    assert!(!new.lost.is_cancelled());

    let refused = store(Some(old.clone())).save(&at(99)).await.unwrap_err();
    assert!(refused.to_string().contains("fenced"), "{refused}");
    assert!(old.lost.is_cancelled(), "a refused save ends the term");
    assert_eq!(
        old.floor.load(Ordering::SeqCst),
        2,
        "the next acquisition goes past epoch 2"
    );
    let reclaim = fence(1);
    assert!(store(Some(reclaim.clone())).check_writable().await.is_err());
    assert!(
        store(Some(reclaim.clone())).load().await.is_err(),
        "a stale term does not even resume"
    );
    let stored = store(None).load().await.unwrap().expect("checkpoint");
    assert_eq!(
        stored.resume_token,
        at(1).resume_token,
        "the stale saves moved nothing"
    );

    store(Some(new.clone())).save(&at(2)).await.unwrap();
    let stored = store(None).load().await.unwrap().expect("checkpoint");
    assert_eq!(stored.resume_token, at(2).resume_token);
}
