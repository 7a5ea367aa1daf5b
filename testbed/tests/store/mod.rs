//! The store called directly (no wire protocol): CRUD, indexes and DDL, change streams,
//! `_id: {$in}` lookups, persistence, replay, and throughput floors.

mod changestream;
mod crud;
mod id_in;
mod perf;
mod persist;
mod replay_prop;
