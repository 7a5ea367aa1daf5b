//! An in-memory target applying [`BatchPlan`]s by the writer contract of `CollectionPlan`:
//! fetch results and deletes first, then `updates` in order; a delta the document's shape
//! refuses (replay over a newer state) becomes a fetch of that key.

use super::source::{Docs, COLL};
use bson::{Bson, Document};
use mongo_replicator::apply::batch::{BatchBuilder, BatchPlan};
use mongo_replicator::error::is_path_conflict_code;
use mongo_replicator::source::translate::{translate, TranslateOptions, Translated};
use mongo_testbed::update::{ApplyMode, UpdateSpec};

pub struct Target<'a> {
    pub docs: Docs,
    /// What a fetch reads: the source as it is now (ahead of every event).
    pub source_now: &'a Docs,
}

impl Target<'_> {
    /// Translates `events` and applies them in batches of the given sizes (cycled).
    pub fn apply_events(
        &mut self,
        events: &[Document],
        opts: &TranslateOptions,
        batch_sizes: &[usize],
    ) {
        let mut sizes = batch_sizes.iter().cycle();
        let mut builder = BatchBuilder::new();
        let mut limit = *sizes.next().unwrap();
        for event in events {
            match translate(event, opts).expect("well-formed event") {
                Translated::Write(op) => builder.push(op),
                Translated::Skip => {}
                other => panic!("unexpected {other:?}"),
            }
            if builder.len() >= limit {
                self.apply_plan(builder.take_plan());
                limit = *sizes.next().unwrap();
            }
        }
        self.apply_plan(builder.take_plan());
    }

    pub fn apply_plan(&mut self, mut plan: BatchPlan) {
        let Some(coll) = plan.collections.remove(COLL) else {
            return;
        };
        assert!(plan.collections.is_empty());
        for key in &coll.fetches {
            self.fetch(key);
        }
        for stmt in &coll.deletes {
            assert_eq!(stmt.get_i32("limit"), Ok(1));
            self.docs.remove(&id_of(stmt.get_document("q").unwrap()));
        }
        for stmt in &coll.updates {
            self.update(stmt);
        }
    }

    fn fetch(&mut self, key: &Document) {
        let id = id_of(key);
        match self.source_now.get(&id) {
            Some(doc) => self.docs.insert(id, doc.clone()),
            None => self.docs.remove(&id),
        };
    }

    fn update(&mut self, stmt: &Document) {
        assert_eq!(stmt.get_bool("multi"), Ok(false));
        let key = stmt.get_document("q").unwrap();
        let id = id_of(key);
        let upsert = stmt.get_bool("upsert").unwrap();
        let spec = UpdateSpec::parse(stmt.get_document("u").unwrap()).expect("valid update");
        match (self.docs.get(&id), spec.is_replacement()) {
            (_, true) => {
                assert!(upsert, "replacements are upserts");
                let UpdateSpec::Replacement(doc) = spec else {
                    unreachable!()
                };
                self.docs.insert(id, doc);
            }
            (Some(old), false) => match spec.apply(old, ApplyMode::Update) {
                Ok(applied) => {
                    self.docs.insert(id, applied.doc);
                }
                Err(e) if is_path_conflict_code(e.code) => self.fetch(key),
                Err(e) => panic!("delta refused with a non-conflict error: {e:?} for {stmt}"),
            },
            (None, false) => assert!(!upsert, "deltas never upsert"),
        }
    }
}

fn id_of(key: &Document) -> i32 {
    match key.get("_id") {
        Some(Bson::Int32(id)) => *id,
        other => panic!("unexpected key {other:?}"),
    }
}
