//! An in-memory target fed the way a replicator run feeds the real one: events translated, deltas
//! re-read while the target may be ahead (`replay`, as the watcher does after a crash), ops
//! already covered by a fetch's fence skipped, batches coalesced, each collection's commands
//! sent in the order of the product's [`plan::order`], and on a delta the document's shape
//! refuses, the batch replayed op by op with that op re-read (as the writer does). Statements
//! run on the testbed's update engine.

use super::source::{Docs, COLL};
use bson::{Bson, Document, Timestamp};
use mongo_replicator::apply::batch::{BatchBuilder, BatchPlan};
use mongo_replicator::apply::plan::{self, CommandKind};
use mongo_replicator::apply::Fetched;
use mongo_replicator::error::is_path_conflict_code;
use mongo_replicator::ops::Op;
use mongo_replicator::source::translate::{
    translate, ClusterTime, TranslateOptions, Translated, WriteKind, WriteOp,
};
use mongo_replicator::tail::fences::Fences;
use mongo_replicator::tail::router::Item;
use mongo_testbed::update::{ApplyMode, UpdateSpec};

/// When a fetch reads the source: after every event of the stream.
pub const READ_AT: Timestamp = Timestamp {
    time: u32::MAX,
    increment: 0,
};

pub struct Target<'a> {
    pub docs: Docs,
    /// What a fetch reads: the source as it is now (ahead of every event).
    pub source_now: &'a Docs,
}

/// A delta refused because the document's shape differs (a path conflict).
struct ShapeConflict;

impl Target<'_> {
    /// One run of the replicator over `events`, in batches of the given sizes (cycled). `replay`:
    /// the target may hold later changes than the stream's start (a restart after a crash).
    pub fn apply_events(
        &mut self,
        events: &[Document],
        opts: &TranslateOptions,
        batch_sizes: &[usize],
        replay: bool,
    ) {
        let mut fences = Fences::default();
        let mut sizes = batch_sizes.iter().cycle();
        let mut builder = BatchBuilder::new();
        let mut items = Vec::new();
        let mut limit = *sizes.next().unwrap();
        for event in events {
            match translate(event, opts).expect("well-formed event") {
                Translated::Write(mut op) => {
                    // The watcher's replay window: the source's time at start is after every event.
                    if replay && matches!(op.kind, WriteKind::Delta { .. }) {
                        op.kind = WriteKind::Fetch;
                    }
                    let item = item(op, event);
                    if !fences.covers(&item) {
                        builder.push(item.op.clone());
                        items.push(item);
                    }
                }
                Translated::Skip => {}
                other => panic!("unexpected {other:?}"),
            }
            if builder.len() >= limit {
                self.apply_batch(&mut builder, std::mem::take(&mut items), &mut fences);
                limit = *sizes.next().unwrap();
            }
        }
        self.apply_batch(&mut builder, items, &mut fences);
    }

    fn apply_batch(&mut self, builder: &mut BatchBuilder, items: Vec<Item>, fences: &mut Fences) {
        match self.apply_plan(&builder.take_plan()) {
            Ok(found) => fences.record(found),
            Err(ShapeConflict) => self.apply_in_order(&items, fences),
        }
        fences.prune(items.iter().filter_map(|i| i.cluster_time).max());
    }

    /// The writer's replay: op by op in stream order; a delta that does not fit is re-read.
    fn apply_in_order(&mut self, items: &[Item], fences: &mut Fences) {
        for item in items {
            if fences.covers(item) {
                continue;
            }
            let found = match self.apply_plan(&plan_of(item.op.clone())) {
                Ok(found) => found,
                Err(ShapeConflict) => {
                    let fetch = WriteOp {
                        kind: WriteKind::Fetch,
                        ..item.op.clone()
                    };
                    match self.apply_plan(&plan_of(fetch)) {
                        Ok(found) => found,
                        Err(ShapeConflict) => unreachable!("a fetch sends no delta"),
                    }
                }
            };
            fences.record(found);
        }
    }

    /// Sends each collection's commands in the product's order; stops at the first delta that
    /// does not fit, with the statements before it applied (`ordered: true`).
    fn apply_plan(&mut self, plan: &BatchPlan) -> Result<Vec<Fetched>, ShapeConflict> {
        let mut fetched = Vec::new();
        for (coll, cp) in &plan.collections {
            assert_eq!(coll, COLL);
            let read = cp
                .fetches
                .iter()
                .filter_map(|key| self.source_now.get(&id_of(key)).cloned())
                .collect();
            let ordered = plan::order(cp, read);
            for command in &ordered.commands {
                for stmt in &command.statements {
                    let stmt = &Document::try_from(stmt.as_ref()).unwrap();
                    match command.kind {
                        CommandKind::Delete => self.delete(stmt),
                        CommandKind::Update => self.update(stmt)?,
                    }
                }
            }
            fetched.extend(ordered.found.into_iter().map(|key| Fetched {
                coll: coll.clone(),
                key,
                at: ClusterTime(READ_AT),
            }));
        }
        Ok(fetched)
    }

    fn delete(&mut self, stmt: &Document) {
        assert_eq!(stmt.get_i32("limit"), Ok(1));
        self.docs.remove(&id_of(stmt.get_document("q").unwrap()));
    }

    fn update(&mut self, stmt: &Document) -> Result<(), ShapeConflict> {
        assert_eq!(stmt.get_bool("multi"), Ok(false));
        let id = id_of(stmt.get_document("q").unwrap());
        let upsert = stmt.get_bool("upsert").unwrap();
        let spec = UpdateSpec::parse(stmt.get_document("u").unwrap()).expect("valid update");
        match (self.docs.get(&id), spec) {
            (_, UpdateSpec::Replacement(doc)) => {
                assert!(upsert, "replacements are upserts");
                self.docs.insert(id, doc);
            }
            (Some(old), spec) => match spec.apply(old, ApplyMode::Update) {
                Ok(applied) => {
                    self.docs.insert(id, applied.doc);
                }
                Err(e) if is_path_conflict_code(e.code) => return Err(ShapeConflict),
                Err(e) => panic!("delta refused with a non-conflict error: {e:?} for {stmt}"),
            },
            (None, _) => assert!(!upsert, "deltas never upsert"),
        }
        Ok(())
    }
}

fn item(op: WriteOp, event: &Document) -> Item {
    Item {
        seq: 0,
        op,
        op_label: Op::Update,
        wall_ms: None,
        cluster_time: Some(ClusterTime(event.get_timestamp("clusterTime").unwrap())),
        coll_uuid: None,
        pre_image: None,
        event: None,
        grant: None,
    }
}

fn plan_of(op: WriteOp) -> BatchPlan {
    let mut single = BatchBuilder::new();
    single.push(op);
    single.take_plan()
}

fn id_of(key: &Document) -> i32 {
    match key.get("_id") {
        Some(Bson::Int32(id)) => *id,
        other => panic!("unexpected key {other:?}"),
    }
}
