//! The checkpoint in memory, for tests: the same contract as the durable stores, plus a record
//! of every successful save and a way to make saves fail.

use super::{decode, encode, CheckpointStore, Place};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::state::Checkpoint;
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Every successful save, oldest first; the last is what `load` returns.
    saves: Vec<Checkpoint>,
    /// How many of the next saves fail (transiently, as an unreachable target would).
    failing: usize,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that already holds `cp`, as if a previous run saved it.
    pub fn holding(cp: Checkpoint) -> Self {
        let store = Self::new();
        store.inner.lock().saves.push(cp);
        store
    }

    /// Every successful save so far, oldest first.
    pub fn saves(&self) -> Vec<Checkpoint> {
        self.inner.lock().saves.clone()
    }

    /// The next `n` saves fail and store nothing.
    pub fn fail_next_saves(&self, n: usize) {
        self.inner.lock().failing = n;
    }
}

impl CheckpointStore for MemoryStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<Checkpoint>>> {
        let last = self.inner.lock().saves.last().cloned();
        async move { Ok(last) }.boxed()
    }

    fn save<'a>(&'a self, cp: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        // Through the stored form, so what cannot be stored fails here too.
        let place = Place {
            key: "checkpoint",
            name: "in memory",
        };
        let stored = encode(cp).and_then(|d| decode(d, &place));
        let mut inner = self.inner.lock();
        let outcome = if inner.failing > 0 {
            inner.failing -= 1;
            Err(Error::new(
                ErrorKind::File,
                Class::Transient,
                "writing checkpoint",
                "memory store told to fail",
            )
            .at(Origin::Checkpoint))
        } else {
            stored.map(|cp| inner.saves.push(cp))
        };
        async move { outcome }.boxed()
    }

    fn location(&self) -> String {
        "in memory".to_string()
    }
}
