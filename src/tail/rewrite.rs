//! The writer's side of a resync job ([`crate::control::resync_job`]): one document re-read from
//! the source and written to the backup (or deleted from it when the source has none), by the
//! writer of the document's partition after every event routed to it before. Stream events
//! routed later and read before the re-read are fenced off (the re-read covers them), later
//! ones apply on top: the document ends in its newest version. Not a stream event: nothing is
//! acknowledged, the watermark and the checkpoint do not move.

use super::fences::Fences;
use super::parking::refused_for_good;
use super::writer::Writer;
use crate::error::{ErrorKind, Result};
use crate::source::translate::DocKey;
use bson::Document;
use tokio::sync::oneshot;

/// One job item and where its outcome goes.
#[derive(Debug)]
pub struct Rewrite {
    pub coll: String,
    pub key: Document,
    pub done: oneshot::Sender<Result<Rewritten>>,
}

impl Rewrite {
    /// Sends the rewrite of `(coll, key)` to the writer of its partition; the receiver of its
    /// outcome, `None` when that writer has stopped.
    pub async fn route(
        writers: &[tokio::sync::mpsc::Sender<super::router::WriterMsg>],
        coll: &str,
        key: Document,
    ) -> Option<oneshot::Receiver<Result<Rewritten>>> {
        let writer = &writers[super::router::partition(coll, &key, writers.len())];
        let (done, answer) = oneshot::channel();
        let item = Rewrite {
            coll: coll.to_string(),
            key,
            done,
        };
        let sent = writer.send(super::router::WriterMsg::Rewrite(item)).await;
        sent.ok().map(|_| answer)
    }
}

/// What became of a job item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewritten {
    /// The source's current version is on the backup.
    Written,
    /// The source has none: deleted from the backup.
    Deleted,
    /// The backup refused it for good: parked (`GET /api/v1/failed`), retried with backoff.
    Parked,
}

impl Writer {
    /// Carries out `r` and answers it. Only a stop ends the writer; any other failure is the
    /// job's (the tail keeps going).
    pub(super) async fn rewrite_for_job(&self, r: Rewrite, fences: &mut Fences) -> Result<()> {
        let outcome = match self.rewrite(&r.coll, &r.key, fences).await {
            Ok(deleted) => {
                // A parked document written now is healed, as by its own retry, and a
                // skipped one is current again (no longer a known difference).
                let mut parked = self.reporter.status.parked().lock();
                if !parked.is_empty() {
                    parked.remove(&r.coll, &r.key);
                    self.reporter.metrics.set_parked_documents(parked.len());
                }
                parked.end_skip(&r.coll, &DocKey::of(&r.key));
                Ok(if deleted {
                    Rewritten::Deleted
                } else {
                    Rewritten::Written
                })
            }
            Err(e) if crate::error::retry::is_cancelled(&e) => return Err(e),
            Err(e)
                if self.parking()
                    && (refused_for_good(&e) || e.kind == ErrorKind::DuplicateKey) =>
            {
                self.refused(&r.coll, &r.key, &e)?;
                self.reporter.record_error(&e);
                Ok(Rewritten::Parked)
            }
            Err(e) => Err(e),
        };
        let _ = r.done.send(outcome);
        Ok(())
    }
}
