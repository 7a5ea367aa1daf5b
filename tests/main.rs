//! The replicator's integration tests, one binary with a module per concern. End-to-end tests
//! run against the embedded testbed, or against a real replica set when `MONGODB_URI` is set
//! (tests that need testbed-only control then skip with a printed reason; see docs/TESTING.md).

mod support;

mod config;
mod control;
mod crash;
mod dashboard;
mod ddl;
mod deploy;
mod faults;
mod ha;
mod history;
mod hold;
mod namespaces;
mod notify;
mod ops;
mod props;
mod replicate;
mod sync;
mod verify;
