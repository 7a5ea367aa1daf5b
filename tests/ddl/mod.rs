//! DDL replication: drops, renames, indexes and creates, single scenarios and under traffic,
//! with each `apply.ddl` switch.

mod invalidate_restart;
mod scenarios;
mod under_traffic;
