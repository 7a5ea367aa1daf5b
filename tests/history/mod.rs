//! The change history, its audit trail and point-in-time restore (issue 14), through the
//! binary: a fat finger undone, one document's versions, `kill -9` under traffic, retention.

mod audit;
mod crash;
mod fixture;
mod restore;
mod retention;
mod several_databases;
