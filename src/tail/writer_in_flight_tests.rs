//! The writer with two batches in flight (`apply.writes_in_flight = 2`, one op per batch), the
//! target holding one command back with a fail point: acknowledgements stay contiguous, a batch
//! sharing a document with one in flight waits for it, and a duplicate key caused by the order
//! of two batches in flight is resolved by the in-order replay.

use super::tests::*;
use super::*;
use crate::ops::Op;
use bson::doc;

/// The target holds the next `command` (`delete` or `update`) back for `ms`, then runs it.
async fn hold_next(bed: &Bed, command: &str, ms: i64) {
    let fail_point = doc! {
        "configureFailPoint": "failCommand",
        "mode": {"times": 1},
        "data": {"failCommands": [command], "blockConnection": true, "blockTimeMS": ms},
    };
    let admin = bed.client.database("admin");
    admin.run_command(fail_point).await.expect("fail point");
}

/// Waits (generously: the machine is shared) until `position` counts `n` applied events.
async fn applied(position: &Position, n: u64) {
    let limit = Instant::now() + Duration::from_secs(30);
    while position.applied() < n {
        assert!(
            Instant::now() < limit,
            "{} applied, not {n}",
            position.applied()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_later_batch_acknowledged_first_does_not_move_the_watermark() {
    let bed = bed().await;
    insert(&bed.target, doc! {"_id": "a"}).await;
    let Running {
        position, tx, task, ..
    } = start_with(&bed, 1, 2);
    hold_next(&bed, "delete", 4000).await;
    let p = &position;
    let first = item(p, op("a", WriteKind::Delete), Op::Delete);
    let b = WriteKind::upsert(doc! {"_id": "b"});
    let second = item(p, op("b", b), Op::Insert);
    tx.send(WriterMsg::Op(first)).await.unwrap();
    tx.send(WriterMsg::Op(second)).await.unwrap();
    // The second batch is written and acknowledged while the target holds the first.
    applied(p, 1).await;
    let watermark = (position.seq(), position.pending());
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "a"}, doc! {"_id": "b"}],
        "b is written, a's delete still held"
    );
    // Read before a's delete was seen unapplied: nothing can have covered it.
    assert_eq!(watermark, (0, 2), "the watermark waits for the first batch");
    send_and_flush(&tx, vec![]).await;
    assert_eq!(contents(&bed.target).await, vec![doc! {"_id": "b"}]);
    assert_eq!((position.seq(), position.pending()), (2, 0));
    drop(tx);
    task.await.unwrap().unwrap();
}

/// Sent at once, the delta (not held) would reach the target before the upsert it updates and
/// change nothing (`upsert: false` on a missing document): the document would end at `v: 1`.
#[tokio::test]
async fn a_batch_sharing_a_document_with_one_in_flight_waits_for_it() {
    let bed = bed().await;
    let Running {
        position, tx, task, ..
    } = start_with(&bed, 1, 2);
    hold_next(&bed, "update", 1500).await;
    let p = &position;
    let upsert = WriteKind::upsert(doc! {"_id": "a", "v": "1"});
    let items = vec![
        item(p, op("a", upsert), Op::Insert),
        item(p, op("a", set("v", "2")), Op::Update),
    ];
    send_and_flush(&tx, items).await;
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "a", "v": "2"}]
    );
    assert_eq!((position.seq(), position.pending()), (2, 0));
    drop(tx);
    task.await.unwrap().unwrap();
}

/// The first batch (held) deletes A, which frees `x`; the second, sent meanwhile, gives `x` to
/// B and is refused with a duplicate key. The writer takes the first batch's outcome, then
/// replays the second in order: B gets `x`, both are acknowledged.
#[tokio::test]
async fn a_duplicate_key_behind_a_batch_in_flight_is_replayed_after_it() {
    let bed = x_held("a").await;
    let Running {
        position, tx, task, ..
    } = start_with(&bed, 1, 2);
    hold_next(&bed, "delete", 1500).await;
    let a = item(&position, op("a", WriteKind::Delete), Op::Delete);
    send_and_flush(&tx, vec![a, b_takes_x(&position)]).await;
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "b", "email": "x"}]
    );
    assert_eq!((position.seq(), position.pending()), (2, 0));
    drop(tx);
    task.await.unwrap().unwrap();
}
