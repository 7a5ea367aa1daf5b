//! Faults around the replicator: network faults through a proxy, a target outage, server fail
//! points, and a hostile environment (unreachable, standalone, unauthorised sides).

mod env;
mod failpoints;
mod far_backup;
mod network;
mod outage;
mod queued_bytes;
mod renamed_reread;
