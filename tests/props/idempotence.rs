//! Properties of translate + batch + statement order against an in-memory target (testbed
//! update engine): applying the stream once, in any batching, gives the source; coalesced
//! batches give what one-op-at-a-time application gives; and after a crash, replaying from any
//! earlier point (at-least-once delivery, with the replay precautions of a restart) still gives
//! the source. Every comparison is byte for byte (field order counts), in both update modes.

use super::source::{self, Docs, SourceOp, DB};
use super::target::Target;
use bson::Document;
use mongo_replicator::config::{DdlConfig, UpdateMode};
use mongo_replicator::source::namespaces::Scope;
use mongo_replicator::source::translate::TranslateOptions;
use proptest::prelude::*;

fn opts(update_mode: UpdateMode) -> TranslateOptions {
    TranslateOptions {
        scope: std::sync::Arc::new(Scope::shorthand(DB, None, "target")),
        update_mode,
        ddl: DdlConfig::default(),
    }
}

/// Byte-exact comparison: field order matters to MongoDB document identity.
fn assert_identical(target: &Docs, source: &Docs) -> Result<(), TestCaseError> {
    let bytes = |d: &Docs| -> Vec<(i32, Vec<u8>)> {
        d.iter()
            .map(|(k, v)| (*k, bson::to_vec(v).unwrap()))
            .collect()
    };
    if bytes(target) != bytes(source) {
        let show = |d: &Docs| {
            d.values()
                .map(Document::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        };
        return Err(TestCaseError::fail(format!(
            "target:\n  {}\nsource:\n  {}",
            show(target),
            show(source)
        )));
    }
    Ok(())
}

fn scenario() -> impl Strategy<Value = (Vec<SourceOp>, Vec<usize>, f64, f64)> {
    (
        prop::collection::vec(source::source_op(), 1..40),
        prop::collection::vec(1..8usize, 1..6),
        0.0..=1.0f64,
        0.0..=1.0f64,
    )
}

proptest! {
    #![proptest_config(super::config(1000))]

    #[test]
    fn once_in_any_batching_equals_one_by_one_equals_source(
        (ops, sizes, _, _) in scenario(),
        full_document in any::<bool>(),
    ) {
        let (final_docs, events) = source::run(&ops);
        let mode = if full_document { UpdateMode::FullDocument } else { UpdateMode::Delta };
        let mut batched = Target { docs: Docs::new(), source_now: &final_docs };
        batched.apply_events(&events, &opts(mode), &sizes, false);
        let mut one_by_one = Target { docs: Docs::new(), source_now: &final_docs };
        one_by_one.apply_events(&events, &opts(mode), &[1], false);
        assert_identical(&batched.docs, &one_by_one.docs)?;
        assert_identical(&batched.docs, &final_docs)?;
    }

    #[test]
    fn replay_after_crash_from_an_earlier_point_equals_source(
        (ops, sizes, crash_at, resume_from) in scenario(),
        full_document in any::<bool>(),
    ) {
        let (final_docs, events) = source::run(&ops);
        let mode = if full_document { UpdateMode::FullDocument } else { UpdateMode::Delta };
        let applied = (crash_at * events.len() as f64) as usize;
        let resume = (resume_from * applied as f64) as usize;
        let mut target = Target { docs: Docs::new(), source_now: &final_docs };
        // Applied up to the crash; the checkpoint was older, so the stream resumes earlier.
        target.apply_events(&events[..applied], &opts(mode), &sizes, false);
        target.apply_events(&events[resume..], &opts(mode), &sizes, true);
        assert_identical(&target.docs, &final_docs)?;
        // Replaying the whole stream once more changes nothing.
        target.apply_events(&events, &opts(mode), &sizes, true);
        assert_identical(&target.docs, &final_docs)?;
    }
}
