//! `mongo-replicator`: keeps a backup MongoDB database identical to a primary one, live.
//!
//! # Layout
//!
//! One folder per stage of the data flow, in the order an event travels (README "How it works"):
//!
//! - [`cmd`]: one file per CLI command (`run`, `copy`, `verify`, `demo`) and the exit codes.
//! - [`config`]: typed settings, layering (defaults < file < env < flags), validation, secrets.
//! - [`control`]: operator control: the bearer token, the `/api/v1` handlers, pause/resume.
//! - [`source`]: connecting to both sides, opening the change stream, split-event reassembly,
//!   and `translate` (change event -> write or DDL op, pure).
//! - [`tail`]: the live pipeline: watcher -> router -> writers, the DDL barrier, fences.
//! - [`apply`]: what a batch becomes on the target: coalescing, statements, their order,
//!   re-reads from the source, command sending and reply classification, DDL.
//! - [`state`]: what survives a crash: watermark, position, checkpoint and its store, gone keys,
//!   pending unique indexes.
//! - [`bulk`]: whole-collection jobs: copy, resync, verify, the merge join and `_id` order.
//! - [`ha`]: several instances on one pair, one active by a lease on the target (`[ha]`):
//!   the lease state machine, its conditional updates, the role loop around `run`.
//! - [`history`]: the run history (`GET /api/v1/runs`), kept beside the checkpoint; with
//!   `[history] enabled` the change history, its audit trail and point-in-time restore.
//! - [`sync`]: two-way sync between a local and a remote deployment (`sync`): agreed
//!   versions, conflicts and their resolution, the reconciliation pass.
//! - [`ops`]: what operators see: labels, metrics, status, HTTP, health, logging, progress bars.
//! - [`verify`]: continuous verification beside the tail: sweeps, recent changes, settled
//!   divergences and their repair (`GET /api/v1/divergences`).
//! - [`error`]: one error type with kinds, the server codes, one retry policy.

pub mod apply;
pub mod bulk;
pub mod cmd;
pub mod config;
pub mod control;
pub mod error;
pub mod ha;
pub mod history;
pub mod notify;
pub mod ops;
pub mod source;
pub mod state;
pub mod sync;
pub mod tail;
pub mod verify;
