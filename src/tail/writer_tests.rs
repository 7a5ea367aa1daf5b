//! The writer against an in-process testbed: a batch applied and acknowledged, the unique-index
//! hazard resolved by the in-order replay, and a real conflict retried, never skipped.

use super::*;
use crate::apply::batch::BatchBuilder;
use crate::apply::plan;
use crate::ops::metrics::{names, Metrics};
use crate::ops::Status;
use crate::source::translate::WriteOp;
use crate::source::Endpoint;
use bson::{doc, Document};
use mongo_testbed::{Testbed, TestbedOptions};
use mongodb::options::IndexOptions;
use mongodb::{Client, IndexModel};
use tokio_util::sync::CancellationToken;

pub(super) struct Bed {
    _testbed: Testbed,
    /// To the testbed's `admin` too (fail points).
    pub client: Client,
    pub source: Endpoint,
    pub target: Endpoint,
}

pub(super) async fn bed() -> Bed {
    let testbed = Testbed::start(TestbedOptions::default())
        .await
        .expect("start testbed");
    let client = Client::with_uri_str(testbed.uri()).await.expect("client");
    let (source, target) = Endpoint::between(
        &client.database("writer_src"),
        &client.database("writer_dst"),
        None,
    );
    Bed {
        client,
        source,
        target,
        _testbed: testbed,
    }
}

/// A running writer on `bed`, and what a test watches it through.
pub(super) struct Running {
    pub position: Arc<Position>,
    pub reporter: Reporter,
    pub tx: mpsc::Sender<WriterMsg>,
    pub task: tokio::task::JoinHandle<Result<()>>,
}

/// A writer with two batches in flight (`apply.writes_in_flight = 2`: every writer test then
/// covers the path with batches in flight), batches of up to 100 ops.
fn start(bed: &Bed) -> Running {
    start_with(bed, 100, 2)
}

/// A writer sending batches of at most `max_ops`, `in_flight` of them at once.
pub(super) fn start_with(bed: &Bed, max_ops: usize, in_flight: usize) -> Running {
    let (tx, rx) = mpsc::channel(64);
    // These tests pin `apply.on_refused = "stop"`; parking is tested end to end.
    let status = Status::new("writer_src", "writer_dst");
    status
        .parked()
        .lock()
        .configure(crate::config::OnRefused::Stop, 1000);
    let writer = Writer {
        source: bed.source.clone(),
        target: bed.target.clone(),
        position: Position::new(),
        reporter: Reporter {
            metrics: Metrics::new(),
            status,
            abort: CancellationToken::new(),
        },
        limits: BatchLimits {
            max_ops,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(50),
        },
        unresolved: Default::default(),
        partition: (0, 1),
        guard: None,
        history: None,
        writes_in_flight: in_flight,
    };
    let (position, reporter) = (writer.position.clone(), writer.reporter.clone());
    Running {
        position,
        reporter,
        tx,
        task: tokio::spawn(writer.run(rx)),
    }
}

/// A writer whose target has a unique index on `email` and `{_id: holder, email: "x"}`.
async fn x_held_by(holder: &str) -> (Bed, Running) {
    let bed = x_held(holder).await;
    let running = start(&bed);
    (bed, running)
}

/// A bed whose target has a unique index on `email` and `{_id: holder, email: "x"}`.
pub(super) async fn x_held(holder: &str) -> Bed {
    let bed = bed().await;
    bed.target
        .collection::<Document>("people")
        .create_index(
            IndexModel::builder()
                .keys(doc! {"email": 1})
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
    insert(&bed.target, doc! {"_id": holder, "email": "x"}).await;
    bed
}

/// B's insert, taking the unique value `x`.
pub(super) fn b_takes_x(position: &Position) -> Item {
    let b = op("b", WriteKind::upsert(doc! {"_id": "b", "email": "x"}));
    item(position, b, Op::Insert)
}

/// Registers `op` in the position, as the watcher does, and makes it an item.
pub(super) fn item(position: &Position, op: WriteOp, op_label: Op) -> Item {
    let seq = position.register(doc! {"_data": format!("{}", position.received())}, None);
    Item {
        seq,
        op,
        op_label,
        wall_ms: None,
        cluster_time: None,
        coll_uuid: None,
        pre_image: None,
        event: None,
        grant: None,
    }
}

pub(super) fn op(id: &str, kind: WriteKind) -> WriteOp {
    WriteOp {
        coll: "people".into(),
        key: doc! {"_id": id}.into(),
        kind,
    }
}

pub(super) fn set(field: &str, value: &str) -> WriteKind {
    WriteKind::Delta {
        set: crate::source::translate::body(&doc! {field: value}),
        unset: vec![],
        truncate: vec![],
    }
}

pub(super) async fn contents(db: &Endpoint) -> Vec<Document> {
    use futures::TryStreamExt;
    let people = db.collection::<Document>("people");
    let sorted = people.find(doc! {}).sort(doc! {"_id": 1});
    sorted.await.unwrap().try_collect().await.unwrap()
}

pub(super) async fn insert(db: &Endpoint, d: Document) {
    db.collection::<Document>("people")
        .insert_one(d)
        .await
        .unwrap();
}

/// A held `x` (seq 1) and gave it up, B took it (seq 2); then the writer stops cleanly.
pub(super) async fn x_moved_to_b_and_both_acknowledged(
    bed: &Bed,
    position: Arc<Position>,
    tx: mpsc::Sender<WriterMsg>,
    task: tokio::task::JoinHandle<Result<()>>,
) {
    assert_eq!(
        contents(&bed.target).await,
        vec![
            doc! {"_id": "a", "email": "y"},
            doc! {"_id": "b", "email": "x"},
        ]
    );
    assert_eq!((position.seq(), position.pending()), (2, 0));
    drop(tx);
    task.await.unwrap().unwrap();
}

/// Sends `items` in one go, then a flush, and waits for the flush to be answered.
pub(super) async fn send_and_flush(tx: &mpsc::Sender<WriterMsg>, items: Vec<Item>) {
    for it in items {
        tx.send(WriterMsg::Op(it)).await.unwrap();
    }
    let (done, wait) = tokio::sync::oneshot::channel();
    tx.send(WriterMsg::Flush(done)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("the writer answers the flush")
        .unwrap();
}

fn conflicts_reported(metrics: &Metrics) -> Option<f64> {
    let series = format!("{}{{kind=\"conflict\"}} ", names::ERRORS_TOTAL);
    metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&series).map(|v| v.parse().unwrap()))
}

/// Waits until the conflict is reported once (metric), a few seconds after the report delay.
async fn reported_once(reporter: &Reporter) {
    let reported_by = Instant::now() + CONFLICT_REPORT_AFTER + Duration::from_secs(4);
    while conflicts_reported(&reporter.metrics) != Some(1.0) {
        assert!(
            Instant::now() < reported_by,
            "the conflict is reported once: {:?}",
            conflicts_reported(&reporter.metrics)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Still retrying the one conflicting op: only the abort ends it, with an error (never a skip).
async fn still_retrying_until_aborted(
    reporter: &Reporter,
    task: tokio::task::JoinHandle<Result<()>>,
    position: &Position,
) {
    reporter.abort.cancel();
    let result = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the writer stops on abort")
        .unwrap();
    assert!(result.is_err(), "never skipped");
    assert_eq!(position.pending(), 1);
}

#[tokio::test]
async fn a_batch_is_applied_and_every_seq_acknowledged() {
    let bed = bed().await;
    insert(&bed.target, doc! {"_id": "c", "name": "old"}).await;
    let Running {
        position, tx, task, ..
    } = start(&bed);
    let p = &position;
    let items = vec![
        item(
            p,
            op("a", WriteKind::upsert(doc! {"_id": "a", "n": 1})),
            Op::Insert,
        ),
        item(
            p,
            op("b", WriteKind::upsert(doc! {"_id": "b", "n": 2})),
            Op::Insert,
        ),
        item(p, op("a", set("name", "ann")), Op::Update),
        item(p, op("c", WriteKind::Delete), Op::Delete),
        item(
            p,
            op("b", WriteKind::upsert(doc! {"_id": "b", "n": 3})),
            Op::Replace,
        ),
    ];
    send_and_flush(&tx, items).await;
    assert_eq!(
        contents(&bed.target).await,
        vec![
            doc! {"_id": "a", "n": 1, "name": "ann"},
            doc! {"_id": "b", "n": 3},
        ]
    );
    assert_eq!((position.seq(), position.pending()), (5, 0));
    assert_eq!(position.applied(), 5);
    drop(tx);
    task.await
        .unwrap()
        .expect("the writer stops cleanly when its channel closes");
}

#[tokio::test]
async fn a_unique_value_freed_earlier_in_the_batch_is_taken_after_the_in_order_replay() {
    let (bed, running) = x_held_by("a").await;
    let Running {
        position, tx, task, ..
    } = running;
    // B's insert is re-read from the source (an insert event without `fullDocument`).
    insert(&bed.source, doc! {"_id": "b", "email": "x"}).await;
    let ops = [op("a", set("email", "y")), op("b", WriteKind::Fetch)];
    // The batch sends B's fetched upsert before A's update: on the target it conflicts.
    let mut batch = BatchBuilder::new();
    ops.iter().for_each(|o| batch.push(o.clone()));
    let plan = batch.take_plan();
    let ordered = plan::order(
        &plan.collections["people"],
        vec![doc! {"_id": "b", "email": "x"}],
    );
    let updates = &ordered.commands[0].statements;
    let q = updates[0].get_document("q").unwrap();
    assert_eq!(Document::try_from(q).unwrap(), doc! {"_id": "b"});

    let [a, b] = ops;
    let items = vec![
        item(&position, a, Op::Update),
        item(&position, b, Op::Insert),
    ];
    send_and_flush(&tx, items).await;
    x_moved_to_b_and_both_acknowledged(&bed, position, tx, task).await;
}

#[tokio::test]
async fn a_conflict_waits_for_an_earlier_event_of_another_writer() {
    let (bed, running) = x_held_by("a").await;
    let Running {
        position, tx, task, ..
    } = running;
    // Seq 1 (A frees `x`) belongs to another writer; this one gets seq 2 (B takes `x`).
    let a = position.register(doc! {"_data": "a"}, None);
    tx.send(WriterMsg::Op(b_takes_x(&position))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        position.pending(),
        2,
        "B is not acknowledged while it conflicts"
    );
    // The other writer applies A.
    bed.target
        .collection::<Document>("people")
        .update_one(doc! {"_id": "a"}, doc! {"$set": {"email": "y"}})
        .await
        .unwrap();
    position.ack([a], None, None);
    send_and_flush(&tx, vec![]).await;
    x_moved_to_b_and_both_acknowledged(&bed, position, tx, task).await;
}

/// Takes the 5 s before a conflict is reported: about 6 s of real time (the testbed is real
/// network I/O, so tokio's paused clock cannot be used).
#[tokio::test]
async fn a_target_only_conflict_is_retried_and_reported_never_skipped() {
    // A document the source never had holds the value; B holds it on the source.
    let (bed, running) = x_held_by("stray").await;
    insert(&bed.source, doc! {"_id": "b", "email": "x"}).await;
    let Running {
        position,
        reporter,
        tx,
        task,
    } = running;
    tx.send(WriterMsg::Op(b_takes_x(&position))).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let watched = || {
        let conflicts = conflicts_reported(&reporter.metrics);
        (position.seq(), position.pending(), conflicts)
    };
    assert_eq!(
        watched(),
        (0, 1, Some(0.0)),
        "not acknowledged, not reported yet"
    );
    reported_once(&reporter).await;
    assert_eq!(watched(), (0, 1, Some(1.0)), "still not acknowledged");
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "stray", "email": "x"}]
    );
    still_retrying_until_aborted(&reporter, task, &position).await;
}

/// Item 15: the conflicting op is the third of its batch. The two before it are applied by the
/// in-order replay; the conflict must still be reported (it used to wait for the batch's own
/// earlier ops to be acknowledged, which happened only after the whole batch).
#[tokio::test]
async fn a_target_only_conflict_later_in_its_batch_is_reported_too() {
    let (bed, running) = x_held_by("stray").await;
    insert(&bed.source, doc! {"_id": "b", "email": "x"}).await;
    let Running {
        position,
        reporter,
        tx,
        task,
    } = running;
    let p = &position;
    let c = op("c", WriteKind::upsert(doc! {"_id": "c", "email": "c"}));
    let d = op("d", WriteKind::upsert(doc! {"_id": "d", "email": "d"}));
    let batch = vec![item(p, c, Op::Insert), item(p, d, Op::Insert), b_takes_x(p)];
    for it in batch {
        tx.send(WriterMsg::Op(it)).await.unwrap();
    }
    reported_once(&reporter).await;
    assert_eq!(
        (position.seq(), position.pending()),
        (2, 1),
        "the two ops before it are written and acknowledged, the conflicting one is not"
    );
    assert_eq!(
        contents(&bed.target).await,
        vec![
            doc! {"_id": "c", "email": "c"},
            doc! {"_id": "d", "email": "d"},
            doc! {"_id": "stray", "email": "x"},
        ]
    );
    still_retrying_until_aborted(&reporter, task, &position).await;
}

/// A resync job item: the events routed before it are applied first, the source's current
/// version then overwrites the damaged backup document, a later-routed event older than that
/// read is fenced off and a newer one applies on top; a document only the backup has is
/// deleted. Job items acknowledge nothing: the watermark covers only the stream's items.
#[tokio::test]
async fn a_job_rewrite_writes_the_current_source_version_in_order_with_the_stream() {
    use crate::source::translate::ClusterTime;
    use crate::tail::rewrite::{Rewrite, Rewritten};
    let bed = bed().await;
    insert(&bed.source, doc! {"_id": "a", "v": "new"}).await;
    insert(&bed.target, doc! {"_id": "a", "v": "damaged", "junk": 1}).await;
    insert(&bed.target, doc! {"_id": "extra", "v": 1}).await;
    let Running {
        position, tx, task, ..
    } = start(&bed);
    let at = |time| Some(ClusterTime(bson::Timestamp { time, increment: 1 }));
    let stream = |kind, time| {
        let mut it = item(&position, op("a", kind), Op::Update);
        it.cluster_time = at(time);
        it
    };
    tx.send(WriterMsg::Op(stream(set("v", "older"), 1)))
        .await
        .unwrap();
    let rewrite = |id: &str| {
        let (done, answer) = tokio::sync::oneshot::channel();
        let r = Rewrite {
            coll: "people".into(),
            key: doc! {"_id": id},
            done,
        };
        (r, answer)
    };
    let (r, a_done) = rewrite("a");
    tx.send(WriterMsg::Rewrite(r)).await.unwrap();
    let (r, extra_done) = rewrite("extra");
    tx.send(WriterMsg::Rewrite(r)).await.unwrap();
    // Read before the re-read, routed after it: covered by it.
    let stale = stream(set("v", "stale"), 2);
    // After the re-read (far in the future): applies on top.
    let later = stream(set("w", "later"), u32::MAX);
    send_and_flush(&tx, vec![stale, later]).await;
    assert_eq!(a_done.await.unwrap().unwrap(), Rewritten::Written);
    assert_eq!(extra_done.await.unwrap().unwrap(), Rewritten::Deleted);
    assert_eq!(
        contents(&bed.target).await,
        vec![doc! {"_id": "a", "v": "new", "w": "later"}]
    );
    assert_eq!(
        (position.seq(), position.pending()),
        (3, 0),
        "the three stream items, nothing else"
    );
    drop(tx);
    task.await.unwrap().unwrap();
}

/// A later take of a unique value applied first (another writer, or another batch in flight,
/// wrote B's take of `x`) refuses this writer's earlier take by A, although every event before
/// it is applied: the refusal is an ordering artefact, not a conflict. A's current source
/// version (it moved on to `y`) is written instead, at once, and A's own later event is then
/// covered. It used to wait, be reported, and (parking on) park A.
#[tokio::test]
async fn an_earlier_take_refused_by_a_later_one_applied_first_rereads_its_document() {
    let (bed, running) = x_held_by("b").await;
    let Running {
        position, tx, task, ..
    } = running;
    for d in [
        doc! {"_id": "a", "email": "y"},
        doc! {"_id": "b", "email": "x"},
    ] {
        insert(&bed.source, d).await;
    }
    let a_takes_x = op("a", WriteKind::upsert(doc! {"_id": "a", "email": "x"}));
    tx.send(WriterMsg::Op(item(&position, a_takes_x, Op::Insert)))
        .await
        .unwrap();
    // Well before a real conflict would be reported (5 s).
    let by = Instant::now() + Duration::from_secs(3);
    while position.seq() < 1 {
        assert!(
            Instant::now() < by,
            "A's take still waits: {}",
            position.pending()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a_moves_to_y = op("a", WriteKind::upsert(doc! {"_id": "a", "email": "y"}));
    send_and_flush(&tx, vec![item(&position, a_moves_to_y, Op::Replace)]).await;
    x_moved_to_b_and_both_acknowledged(&bed, position, tx, task).await;
}
