//! The router's batches: per-writer stream order, flushing, and the byte gate never waiting
//! on bytes the router itself still queues.

use super::*;
use crate::source::translate::WriteOp;
use bson::doc;

fn item(seq: u64, id: i64) -> Item {
    Item {
        seq,
        op: WriteOp {
            coll: "c".into(),
            key: doc! {"_id": id}.into(),
            kind: WriteKind::Delete,
        },
        op_label: Op::Delete,
        wall_ms: None,
        cluster_time: None,
        coll_uuid: None,
        pre_image: None,
        event: None,
        grant: None,
    }
}

/// The items of the messages queued in `rx`, in order, and how many messages carried them.
fn received(rx: &mut mpsc::Receiver<WriterMsg>) -> (Vec<u64>, usize) {
    let (mut seqs, mut messages) = (Vec::new(), 0);
    while let Ok(m) = rx.try_recv() {
        messages += 1;
        match m {
            WriterMsg::Op(i) => seqs.push(i.seq),
            WriterMsg::Batch(b) => seqs.extend(b.iter().map(|i| i.seq)),
            _ => panic!("only items are routed"),
        }
    }
    (seqs, messages)
}

#[tokio::test]
async fn each_writer_gets_its_items_in_stream_order_in_few_messages() {
    let (txs, mut rxs): (Vec<_>, Vec<_>) = (0..3).map(|_| mpsc::channel(1000)).unzip();
    let router = Router::new(txs);
    let n = 500u64;
    for seq in 1..=n {
        assert!(router.route(item(seq, (seq % 97) as i64)).await);
    }
    let before: usize = rxs.iter_mut().map(|rx| received(rx).1).sum();
    assert!(before > 0, "full batches are sent without a flush");
    assert!(router.flush().await);
    let mut all = Vec::new();
    let mut messages = before;
    for (w, rx) in rxs.iter_mut().enumerate() {
        let (seqs, m) = received(rx);
        messages += m;
        assert!(
            seqs.windows(2).all(|p| p[0] < p[1]),
            "writer {w} out of order"
        );
        for s in &seqs {
            let key = doc! {"_id": (*s % 97) as i64};
            assert_eq!(partition("c", &key, 3), w, "seq {s} at the wrong writer");
        }
        all.extend(seqs);
    }
    // The items of the batches sent before the flush were counted out of `before` already.
    assert!(
        messages < (n as usize) / 10,
        "{messages} messages for {n} items"
    );
    assert!(router.flush().await, "an empty flush sends nothing");
    assert!(rxs.iter_mut().all(|rx| rx.try_recv().is_err()));
}

#[tokio::test]
async fn a_drain_sends_what_is_queued_before_its_flush() {
    let (tx, mut rx) = mpsc::channel(10);
    let router = Router::new(vec![tx]);
    assert!(router.route(item(1, 1)).await);
    assert!(router.route(item(2, 2)).await);
    let writer = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(m) = rx.recv().await {
            match m {
                WriterMsg::Batch(b) => seen.extend(b.into_iter().map(|i| i.seq)),
                WriterMsg::Op(i) => seen.push(i.seq),
                WriterMsg::Flush(done) => {
                    let _ = done.send(());
                    return seen;
                }
                _ => {}
            }
        }
        seen
    });
    assert!(router.drain().await);
    assert_eq!(writer.await.unwrap(), vec![1, 2]);
}

/// Without the flush before waiting, the second item would wait forever for bytes the first
/// one holds while it sits in the router's queue.
#[tokio::test]
async fn a_full_byte_gate_hands_on_the_queue_before_it_waits() {
    let (tx, mut rx) = mpsc::channel(100);
    let gate = ByteGate::new(64);
    let router = Router::new(vec![tx]).with_byte_gate(gate.clone());
    let writer = tokio::spawn(async move {
        let mut seen = 0;
        // Dropping each message gives its items' bytes back, as a writer does once applied.
        while let Some(m) = rx.recv().await {
            seen += match m {
                WriterMsg::Batch(b) => b.len(),
                _ => 1,
            };
        }
        seen
    });
    for seq in 1..=20 {
        let routed = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            router.route(item(seq, seq as i64)),
        );
        assert!(routed.await.expect("the router waited on its own queue"));
    }
    assert!(router.flush().await);
    drop(router);
    assert_eq!(writer.await.unwrap(), 20);
    assert_eq!(gate.queued(), 0);
}
