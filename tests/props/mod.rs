//! Property tests without a server: idempotence of translate + batch against an in-memory
//! target fed by a model source, and the checkpoint watermark.

mod idempotence;
mod reference;
mod source;
mod target;
mod watermark;

use proptest::test_runner::{Config, FileFailurePersistence};

/// `cases` cases, failures persisted next to the test's source file (`<file>.proptest-regressions`,
/// e.g. `tests/props/idempotence.proptest-regressions`) and re-run first. Explicit, because
/// proptest's default looks for the `main.rs` above the source (`tests/main.rs` now) and would
/// write to `proptest-regressions/props/<file>.txt` at the crate root instead.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}
