//! The one extension point of the writers (two-way sync, [`crate::sync`]): an optional guard
//! consulted per batch. `run` has none, so its writers behave exactly as without it.
//!
//! Per batch the guard says which items to write ([`ApplyGuard::admit`]; the others are
//! acknowledged unwritten: echoes, conflicts), hears which were written
//! ([`ApplyGuard::written`]), and may take a write the target refused for a unique index
//! ([`ApplyGuard::refused`]) instead of the writer retrying it forever.

use super::router::Item;
use crate::error::{Error, Result};
use futures::future::BoxFuture;

/// What [`ApplyGuard::admit`] decided: one flag per item, and a permit the writer holds until
/// the batch is written and reported (the guard's critical section).
pub struct Admission {
    pub keep: Vec<bool>,
    pub permit: Box<dyn Send + Sync>,
}

pub trait ApplyGuard: Send + Sync {
    /// Decides per item whether to write it; may replace an item's op by the version it
    /// decided on (e.g. a fetch by the document it read).
    fn admit<'a>(&'a self, items: &'a mut [Item]) -> BoxFuture<'a, Result<Admission>>;

    /// `items` were written to the target.
    fn written<'a>(&'a self, items: &'a [Item]) -> BoxFuture<'a, Result<()>>;

    /// The target refused `item` for a unique index even in stream order: true when the guard
    /// took it (it is acknowledged unwritten), false to retry as without a guard.
    fn refused<'a>(&'a self, item: &'a Item, e: &'a Error) -> BoxFuture<'a, Result<bool>>;
}
