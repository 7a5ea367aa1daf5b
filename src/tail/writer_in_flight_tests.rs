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

/// Sends `items` as one message (so they are collected into one batch) and lets the writer
/// close and send that batch before the next message (its `max_delay` is 50 ms).
async fn send_batch(tx: &mpsc::Sender<WriterMsg>, items: Vec<Item>) {
    tx.send(WriterMsg::Batch(items)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The second batch updates `a`, whose upsert the target holds, and inserts `b`: `b` is sent at
/// once and acknowledged while `a`'s upsert is held; the delta waits for the upsert.
#[tokio::test]
async fn the_documents_of_a_batch_not_in_flight_are_sent_without_waiting() {
    let bed = bed().await;
    let Running {
        position, tx, task, ..
    } = start_with(&bed, 2, 2);
    hold_next(&bed, "update", 4000).await;
    let p = &position;
    let upsert = WriterMsg::Op(item(
        p,
        op("a", WriteKind::upsert(doc! {"_id": "a"})),
        Op::Insert,
    ));
    tx.send(upsert).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = WriteKind::upsert(doc! {"_id": "b"});
    let second = vec![
        item(p, op("a", set("v", "2")), Op::Update),
        item(p, op("b", b), Op::Insert),
    ];
    tx.send(WriterMsg::Batch(second)).await.unwrap();
    applied(p, 1).await;
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "b"}],
        "b is written while a's upsert is held"
    );
    assert_eq!(position.seq(), 0, "the watermark waits for a's upsert");
    send_and_flush(&tx, vec![]).await;
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "a", "v": "2"}, doc! {"_id": "b"}]
    );
    assert_eq!((position.seq(), position.pending()), (3, 0));
    drop(tx);
    task.await.unwrap().unwrap();
}

/// A replay while the held-back part of a split batch waits must take that part too. In flight:
/// (1) A's delete, held, which frees `x`; (2) N takes `x`, refused while A holds it. Then a
/// batch of (3) N moves to `z`, which waits for (2), and (4) F takes `x`, sent at once and
/// refused. (2)'s replay drains (4); in stream order all four apply. Replayed without (3), F
/// would wait for its earlier event (3) forever, while (3) waits for that replay.
#[tokio::test]
async fn a_replay_takes_the_held_back_part_of_a_split_batch_in_stream_order() {
    let bed = x_held("a").await;
    let Running {
        position, tx, task, ..
    } = start_with(&bed, 2, 4);
    hold_next(&bed, "delete", 1500).await;
    let p = &position;
    let takes = |id: &str, email: &str| {
        let up = WriteKind::upsert(doc! {"_id": id, "email": email});
        item(p, op(id, up), Op::Insert)
    };
    send_batch(&tx, vec![item(p, op("a", WriteKind::Delete), Op::Delete)]).await;
    send_batch(&tx, vec![takes("n", "x")]).await;
    send_batch(&tx, vec![takes("n", "z"), takes("f", "x")]).await;
    send_and_flush(&tx, vec![]).await;
    assert_eq!(
        contents(&bed.target).await,
        vec![
            doc! {"_id": "f", "email": "x"},
            doc! {"_id": "n", "email": "z"}
        ]
    );
    assert_eq!((position.seq(), position.pending()), (4, 0));
    drop(tx);
    task.await.unwrap().unwrap();
}
