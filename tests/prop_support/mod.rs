//! Shared by the idempotence properties: a source that emits change events in the server's
//! shapes, and an in-memory target applying batch plans with the testbed's update engine.

pub mod source;
pub mod target;
