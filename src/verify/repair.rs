//! A settled divergence: recorded (list, metric, bus) and, with `repair = true`, repaired the
//! way a resync job repairs: a [`Rewrite`] to the writer of the document's partition, which
//! re-reads the source after every event routed to it before and writes (or deletes) through
//! the normal apply path. Parked and skipped documents are known differences: reported, never
//! repaired around.

use super::divergences::{Divergence, Outcome};
use super::{Candidate, Verifier};
use crate::control::skipped::canonical;
use crate::tail::rewrite::{Rewrite, Rewritten};
use bson::{doc, Document};
use serde_json::{json, Value};

/// Now, as the divergence list shows times.
pub(super) fn now() -> String {
    bson::DateTime::now()
        .try_to_rfc3339_string()
        .unwrap_or_default()
}

impl Verifier {
    pub(super) async fn diverged(&self, c: &Candidate, kind: &'static str) {
        let key: Document = doc! {"_id": c.id.clone()};
        let outcome = if self.known(&c.coll, &key) {
            Outcome::Known
        } else if !self.cfg.verify.continuous.repair {
            Outcome::Reported
        } else {
            self.rewrite(&c.coll, key).await
        };
        let id: Value = serde_json::from_str(&canonical(&c.id)).unwrap_or(Value::Null);
        tracing::warn!(collection = %c.coll, kind, outcome = ?outcome, "continuous verify: divergence");
        self.record(Divergence {
            collection: c.coll.clone(),
            id: Some(id),
            kind,
            found: c.found,
            outcome,
            repaired: outcome == Outcome::Repaired,
            at: now(),
        });
    }

    /// Counts, lists and announces a divergence.
    pub(super) fn record(&self, d: Divergence) {
        let metrics = &self.reporter.metrics.verify;
        metrics.diverged(d.kind);
        let bus = self.reporter.status.bus();
        let data = json!({"collection": d.collection, "kind": d.kind, "found": d.found});
        bus.emit("divergence_found", data.clone());
        if d.repaired {
            metrics.repaired();
            bus.emit("divergence_repaired", data);
        }
        self.divergences().record(d);
    }

    /// Parked or skipped: the operator knows, the verifier does not write around it.
    fn known(&self, coll: &str, key: &Document) -> bool {
        self.reporter.status.parked().lock().knows(coll, key)
    }

    async fn rewrite(&self, coll: &str, key: Document) -> Outcome {
        let Some(answer) = Rewrite::route(&self.writers, coll, key).await else {
            return Outcome::Failed;
        };
        match answer.await {
            Ok(Ok(Rewritten::Written | Rewritten::Deleted)) => Outcome::Repaired,
            Ok(Ok(Rewritten::Parked)) => Outcome::Known,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "continuous verify: a repair failed; the next sweep finds the document again");
                Outcome::Failed
            }
            Err(_) => Outcome::Failed,
        }
    }
}
