//! Active/standby by a lease on the target (`[ha]`): several instances on one source/target
//! pair, one applies. [`lease`] is the pure timing and state machine, [`store`] the conditional
//! updates on the server, [`role`] the loop that runs a tail only while the lease is held.
//!
//! Two guards keep a stale instance from doing harm: it stops itself before its lease can have
//! expired (the monotonic fence of [`lease::Machine`]), and every checkpoint save it makes is
//! conditional on its epoch ([`Fence`]), so it can never move the stored token once a newer
//! active has claimed the checkpoint.

pub mod lease;
mod local;
pub mod role;
pub mod store;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The epoch a term's checkpoint saves are conditional on, and how a refused save ends the
/// term. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Fence {
    pub epoch: i64,
    /// Cancelled when the term must stop applying (also by a refused save).
    pub lost: CancellationToken,
    /// The highest epoch seen on the checkpoint: the next acquisition goes past it.
    pub floor: Arc<AtomicI64>,
}

impl Fence {
    /// A save found `stored` on the checkpoint, newer than this term: the term ends.
    pub fn refused(&self, stored: i64) -> crate::error::Error {
        self.floor.fetch_max(stored, Ordering::SeqCst);
        self.lost.cancel();
        crate::error::Error::new(
            crate::error::ErrorKind::Cancelled,
            crate::error::Class::Transient,
            "checkpoint.database",
            format!(
                "fenced: the checkpoint carries epoch {stored}, newer than this instance's {}; another instance is active",
                self.epoch
            ),
        )
    }
}
