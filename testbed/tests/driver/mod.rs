//! The testbed through the official Rust driver over TCP: CRUD, aggregation, change streams,
//! authentication, fail points, the handshake, persistence, validation and views, TTL and `collMod`.

mod aggregate_out;
mod auth;
mod change_streams;
mod crud;
mod failpoints;
mod get_more_failpoint;
mod handshake;
mod persistence;
mod ttl_coll_mod;
mod validation_views;
mod write_concern;
