//! The writer's side of parked documents ([`crate::control::parked`]): parking a document the
//! backup refuses for good, letting its later events wait behind it, and retrying it (re-read
//! the current document from the source and write it, or delete it when the source has none).
//! The writer of the document's partition does all of it, so its order with later events holds.

use super::fences::Fences;
use super::router::{partition, Item};
use super::writer::Writer;
use crate::apply::apply_plan;
use crate::apply::batch::BatchBuilder;
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::source::translate::{WriteKind, WriteOp};
use bson::Document;
use std::time::Instant;

/// BSONObjectTooLarge, and the document-too-large codes of inserts and updates. Not
/// Unauthorized (13) as a command error: a missing role refuses every write, the checkpoint's
/// too, so it stops the run (exit 3) rather than parking documents one by one.
const REFUSED_CODES: [i32; 3] = [10334, 17419, 17420];

/// A write the target refused and will refuse again however often it is sent: a write error
/// that is not transient (one document's refusal), or a document too large for it.
pub fn refused_for_good(e: &Error) -> bool {
    e.origin == Some(Origin::Target)
        && !e.is_transient()
        && (e.kind == ErrorKind::Write || e.code.is_some_and(|c| REFUSED_CODES.contains(&c)))
}

impl Writer {
    /// `apply.on_refused = "park"`.
    pub(super) fn parking(&self) -> bool {
        self.reporter.status.parked().lock().parking()
    }

    /// True when `item`'s document is parked: the event is counted there and not applied (the
    /// retry's re-read covers it); the caller acknowledges it.
    pub(super) fn waits_behind_parked(&self, item: &Item) -> bool {
        self.reporter
            .status
            .parked()
            .lock()
            .wait_behind(&item.op.coll, &item.op.key)
    }

    /// An event for a document an operator skipped ends the exception; an update delta is
    /// turned into a re-read of the whole document from the source (the backup's version is
    /// stale or missing, so a delta would not make it current).
    pub(super) fn unskip(&self, item: &mut Item) {
        let was_skipped = {
            let mut parked = self.reporter.status.parked().lock();
            parked.end_skip(&item.op.coll, &item.op.key)
        };
        if was_skipped && matches!(item.op.kind, WriteKind::Delta { .. }) {
            item.refetch();
        }
    }

    /// Parks `item`'s document after `e`, then acknowledges the item: the entry is in the
    /// registry before the watermark can pass it, and every checkpoint save reads the
    /// registry after the watermark. Past `apply.max_parked_documents` the run stops.
    pub(super) fn park(&self, item: &Item, e: &Error) -> Result<()> {
        self.refused(&item.op.coll, &item.op.key.to_document(), e)?;
        tracing::warn!(collection = %item.op.coll, error = %e,
            "the backup refuses this document for good; parked (its later events wait with it, every other document flows); GET /api/v1/failed lists it");
        self.reporter.record_error(e);
        self.reporter.document_parked(&item.op.coll);
        self.position
            .ack([item.seq], item.wall_ms, item.cluster_time);
        Ok(())
    }

    pub(super) fn refused(&self, coll: &str, key: &Document, e: &Error) -> Result<()> {
        let mut parked = self.reporter.status.parked().lock();
        let outcome = parked.refused(coll, key, e.code, &e.message, Instant::now());
        self.reporter.metrics.set_parked_documents(parked.len());
        outcome.map_err(|msg| {
            Error::new(
                ErrorKind::Config,
                Class::Fatal,
                "apply.max_parked_documents",
                msg,
            )
        })
    }

    /// Retries the parked documents of this partition that are due (by backoff or because an
    /// operator asked). Called between batches, so none of their events is buffered here.
    pub(super) async fn retry_parked(&self, fences: &mut Fences) -> Result<()> {
        let (me, partitions) = self.partition;
        let due = {
            let parked = self.reporter.status.parked().lock();
            if parked.is_empty() {
                return Ok(());
            }
            parked.due(Instant::now(), |c, k| partition(c, k, partitions) == me)
        };
        for (coll, key) in due {
            match self.rewrite(&coll, &key, fences).await {
                Ok(_) => {
                    let mut parked = self.reporter.status.parked().lock();
                    parked.remove(&coll, &key);
                    self.reporter.metrics.set_parked_documents(parked.len());
                    tracing::info!(collection = %coll, "a parked document was written to the backup; it flows again");
                }
                Err(e) if refused_for_good(&e) || e.kind == ErrorKind::DuplicateKey => {
                    self.refused(&coll, &key, &e)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes the source's current version of the document, or deletes it from the target when
    /// the source has none (its delete event was counted behind the parked entry, or a resync
    /// job found it only on the backup); `true` when it deleted.
    pub(super) async fn rewrite(
        &self,
        coll: &str,
        key: &Document,
        fences: &mut Fences,
    ) -> Result<bool> {
        let op = |kind| WriteOp {
            coll: coll.to_string(),
            key: key.into(),
            kind,
        };
        let mut fetch = BatchBuilder::new();
        fetch.push(op(WriteKind::Fetch));
        let plan = fetch.take_plan();
        let outcome = self
            .reporter
            .retry("retrying a parked document", || {
                apply_plan(&self.source, &self.target, &plan)
            })
            .await?;
        let gone = outcome.gone.iter().any(|(c, k)| c == coll && k == key);
        if gone {
            let mut delete = BatchBuilder::new();
            delete.push(op(WriteKind::Delete));
            let plan = delete.take_plan();
            self.reporter
                .retry("deleting a parked document", || {
                    apply_plan(&self.source, &self.target, &plan)
                })
                .await?;
        }
        fences.record(outcome.found);
        Ok(gone)
    }
}
