//! `mongo-replicator`: keeps a backup MongoDB database identical to a primary one, live.
//!
//! Map of the crate (data flow in README):
//! - `config`, `cli`, `redact`, `error`: settings and failures.
//! - `translate`, `batch`, `watermark`, `idorder`: pure logic (event -> op, coalescing,
//!   checkpoint watermark, `_id` resume filters).
//! - `watcher` -> `router` -> `writer` (`apply`, `ddl`) with `progress` and `checkpointer`
//!   (`checkpoint` store), wired by `tail`.
//! - `copy`, `resync`, `verify` (`merge`): the bulk jobs; `job` decides between them.
//! - `metrics`, `status`, `http`, `telemetry`, `service`, `progress_display`: what operators see.
//! - `app`, `demo`, `traffic`, `connect`, `retry`: the command layer and its helpers.

pub mod app;
pub mod apply;
pub mod batch;
pub mod checkpoint;
pub mod checkpointer;
pub mod cli;
pub mod config;
pub mod connect;
pub mod copy;
pub mod ddl;
pub mod demo;
pub mod drop_hold;
pub mod error;
pub mod http;
pub mod idorder;
pub mod job;
pub mod merge;
pub mod metrics;
pub mod progress;
pub mod progress_display;
pub mod redact;
pub mod resync;
pub mod retry;
pub mod router;
pub mod service;
pub mod split;
pub mod status;
pub mod tail;
pub mod telemetry;
pub mod traffic;
pub mod translate;
pub mod unresolved;
pub mod verify;
pub mod watcher;
pub mod watermark;
pub mod writer;
