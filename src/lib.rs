//! `mongo-replicator`: keeps a backup MongoDB database identical to a primary one, live.
//!
//! Map of the crate (data flow in README):
//! - `config`, `cli`, `redact`, `error`: settings and failures.
//! - `translate`, `batch`, `watermark`: pure logic (event -> op, coalescing, checkpoint watermark).
//! - `metrics`, `status`, `http`, `telemetry`: what operators see.

pub mod batch;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod redact;
pub mod status;
pub mod telemetry;
pub mod translate;
pub mod watermark;
