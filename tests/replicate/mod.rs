//! Replication end to end: mixed random workloads in both update modes, every BSON type and
//! document shape, and lost change-stream history.

mod collation_order;
mod collection_filter;
mod collection_options;
mod data;
mod fetch_time;
mod history;
mod mixed_workload;
mod renamed_in;
mod resync_unique;
mod shard_key;
mod start_point;
mod target_writes;
