//! The testbed through the official Rust driver over TCP: CRUD, aggregation, change streams,
//! authentication, fail points, the handshake, persistence, validation and views, collations,
//! capped and clustered collections, `$jsonSchema`, TTL and `collMod`, change-stream pre-images,
//! snapshot reads.

mod aggregate_out;
mod auth;
mod capped;
mod change_streams;
mod clustered;
mod collation;
mod crud;
mod failpoints;
mod get_more_failpoint;
mod handshake;
mod json_schema;
mod persistence;
mod pre_images;
mod snapshot_reads;
mod ttl_coll_mod;
mod validation_views;
mod write_concern;
