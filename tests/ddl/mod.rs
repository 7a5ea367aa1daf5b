//! DDL replication: drops, renames, indexes, creates, `collMod` and TTL indexes, single
//! scenarios and under traffic, with each `apply.ddl` switch.

mod deferred_indexes;
mod invalidate_restart;
mod scenarios;
mod ttl_coll_mod;
mod under_traffic;
