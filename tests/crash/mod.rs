//! Crashes: `kill -9` of the replicator (in the copy, in the tail, during DDL and checkpoint
//! writes) and of the source and target servers; every run converges.

mod checkpoint_file;
mod checkpoint_identity;
mod copy_and_tail;
mod copy_rename;
mod copy_resume;
mod ddl_and_servers;
