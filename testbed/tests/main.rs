//! The testbed's integration tests, one binary with a module per layer: the store called
//! directly, the official driver over TCP, the SASL conversation by hand, and properties of the
//! query/update engine. (The PyMongo check and MongoDB's spec tests are the Python files here.)

mod support;

mod driver;
mod query_update_props;
mod store;
mod wire_auth;

use proptest::test_runner::{Config, FileFailurePersistence};

/// `cases` cases, failures persisted next to the test's source file
/// (`<file>.proptest-regressions`) and re-run first. Explicit, because proptest's default looks
/// for the `main.rs` above the source (this file) and would write to
/// `testbed/proptest-regressions/<file>.txt` instead.
fn proptest_config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}
