//! Bounds the bytes of write ops in flight between the watcher and the writers
//! (`apply.max_queued_bytes`). The writer channels bound the event count, which alone lets
//! large documents pile up (1 MiB documents x queue depth = GiBs while the target is stuck):
//! the router takes a [`Grant`] of an op's bytes before queueing it, and the grant is given
//! back when the op is dropped, after its batch was applied. One op larger than the bound is
//! charged the whole bound, so it still passes, alone.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The shared byte budget.
pub struct ByteGate {
    permits: Semaphore,
    capacity: u32,
    queued: AtomicUsize,
}

/// Bytes held by one queued op; released on drop.
pub struct Grant {
    gate: Arc<ByteGate>,
    bytes: u32,
}

impl ByteGate {
    pub fn new(max_bytes: usize) -> Arc<Self> {
        let capacity = max_bytes.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
        Arc::new(ByteGate {
            permits: Semaphore::new(capacity as usize),
            capacity,
            queued: AtomicUsize::new(0),
        })
    }

    /// What an op of `bytes` is charged: at least 1, at most the whole budget.
    pub fn cost(&self, bytes: usize) -> u32 {
        bytes.clamp(1, self.capacity as usize) as u32
    }

    /// Waits until `bytes` fit in the budget, then holds them until the grant is dropped.
    pub async fn acquire(self: &Arc<Self>, bytes: usize) -> Grant {
        let cost = self.cost(bytes);
        self.permits
            .acquire_many(cost)
            .await
            .expect("the byte gate is never closed")
            .forget();
        self.queued.fetch_add(cost as usize, Ordering::Relaxed);
        Grant {
            gate: self.clone(),
            bytes: cost,
        }
    }

    /// [`ByteGate::acquire`] when `bytes` fit now, without waiting.
    pub fn try_acquire(self: &Arc<Self>, bytes: usize) -> Option<Grant> {
        let cost = self.cost(bytes);
        self.permits.try_acquire_many(cost).ok()?.forget();
        self.queued.fetch_add(cost as usize, Ordering::Relaxed);
        Some(Grant {
            gate: self.clone(),
            bytes: cost,
        })
    }

    /// Bytes granted and not yet released.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.gate
            .queued
            .fetch_sub(self.bytes as usize, Ordering::Relaxed);
        self.gate.permits.add_permits(self.bytes as usize);
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Grant({} bytes)", self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_budget_blocks_until_a_grant_is_dropped() {
        let gate = ByteGate::new(100);
        let a = gate.acquire(60).await;
        let b = gate.acquire(40).await;
        assert_eq!(gate.queued(), 100);
        let waiting = tokio::time::timeout(Duration::from_millis(50), gate.acquire(1)).await;
        assert!(waiting.is_err(), "a full budget admitted more bytes");
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(1), gate.acquire(50))
            .await
            .expect("released bytes are available again");
        assert_eq!(gate.queued(), 90);
        drop((b, c));
        assert_eq!(gate.queued(), 0);
    }

    #[tokio::test]
    async fn an_op_larger_than_the_budget_passes_alone() {
        let gate = ByteGate::new(100);
        let big = gate.acquire(10_000).await;
        assert_eq!(gate.queued(), 100);
        let more = tokio::time::timeout(Duration::from_millis(50), gate.acquire(0)).await;
        assert!(
            more.is_err(),
            "nothing passes beside an op of the whole budget"
        );
        drop(big);
        assert_eq!(gate.acquire(0).await.bytes, 1, "empty ops cost one byte");
    }

    proptest! {
        /// Whatever the sizes and the order of releases, the bytes held never exceed the
        /// budget and every release gives its bytes back.
        #[test]
        fn queued_bytes_never_exceed_the_budget(
            budget in 1usize..10_000,
            ops in proptest::collection::vec((0usize..20_000, any::<bool>()), 1..60),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let gate = ByteGate::new(budget);
                let mut held: Vec<Grant> = Vec::new();
                for (bytes, release_first) in ops {
                    if release_first && !held.is_empty() {
                        held.remove(0);
                    }
                    // Make room the way writers do: release the oldest until it fits.
                    while gate.capacity() - gate.queued() < gate.cost(bytes) as usize {
                        held.remove(0);
                    }
                    held.push(gate.acquire(bytes).await);
                    prop_assert!(gate.queued() <= budget);
                    let sum: usize = held.iter().map(|g| g.bytes as usize).sum();
                    prop_assert_eq!(sum, gate.queued());
                }
                held.clear();
                prop_assert_eq!(gate.queued(), 0);
                Ok(())
            })?;
        }
    }
}
