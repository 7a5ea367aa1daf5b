//! Options and indexes, once per collection and sweep: the source's state read before and
//! after the backup's (with the source time between waited for by the tail), so a change in
//! flight is not a verdict. Indexes still pending (unique ones built after catching up) and
//! DDL the configuration does not replicate are left out.

use super::divergences::{Divergence, Outcome};
use super::Verifier;
use crate::bulk::index_specs;
use crate::bulk::listing::{self, Listed};
use crate::error::{Origin, Result};
use crate::source::translate::DdlOp;
use crate::source::Endpoint;
use bson::Document;

/// One side's definition of a collection.
#[derive(Debug, PartialEq)]
struct Definition {
    listed: Option<Listed>,
    indexes: Vec<Document>,
}

async fn definition(db: &Endpoint, coll: &str, origin: Origin) -> Result<Definition> {
    Ok(Definition {
        listed: listing::list_one(db, coll, origin).await?,
        indexes: index_specs::index_specs(db, coll, origin).await?,
    })
}

impl Verifier {
    pub(super) async fn check_ddl(&self, coll: &str) -> Result<()> {
        let ddl = &self.cfg.apply.ddl;
        let first = definition(&self.source, coll, Origin::Source).await?;
        let Some(at) = crate::source::connect::operation_time(&self.source).await? else {
            return Ok(());
        };
        if !super::recheck::applied_past(&self.position, at, super::TAIL_WAIT).await {
            return Ok(());
        }
        let backup = definition(&self.target, coll, Origin::Target).await?;
        let source = definition(&self.source, coll, Origin::Source).await?;
        if source != first {
            return Ok(());
        }
        let (Some(s), Some(t)) = (&source.listed, &backup.listed) else {
            return Ok(());
        };
        let options = if ddl.modify {
            listing::option_differences(Some(s), Some(t))
        } else {
            Vec::new()
        };
        if !options.is_empty() {
            let outcome = self.align_options(s, t).await;
            self.record_ddl(coll, "options", outcome);
        }
        if !(ddl.create_indexes && ddl.drop_indexes) {
            return Ok(());
        }
        let pending = self.reporter.status.pending_indexes();
        let prefix = format!("{coll}.");
        let not_pending = |specs: &[Document]| -> Vec<Document> {
            specs
                .iter()
                .filter(|d| {
                    d.get_str("name")
                        .is_ok_and(|n| !pending.contains(&format!("{prefix}{n}")))
                })
                .cloned()
                .collect()
        };
        let (si, ti) = (not_pending(&source.indexes), not_pending(&backup.indexes));
        if !index_specs::differences(si.clone(), ti.clone()).is_empty() {
            let outcome = self.rebuild_indexes(coll, &si, &ti).await;
            self.record_ddl(coll, "index", outcome);
        }
        Ok(())
    }

    /// With `repair_ddl`, the options `collMod` changes are set as the source has them
    /// ([`crate::bulk::align`]); the others stay reported.
    async fn align_options(&self, s: &Listed, t: &Listed) -> Outcome {
        if !self.cfg.verify.continuous.repair_ddl {
            return Outcome::Reported;
        }
        let alignment = crate::bulk::align::alignment(s, t);
        let Some(changes) = alignment
            .coll_mod
            .filter(|_| alignment.fixed.is_empty() && !alignment.recreate_view)
        else {
            return Outcome::Reported;
        };
        let op = DdlOp::Modify {
            coll: s.name.clone(),
            changes,
        };
        self.ddl_outcome(crate::apply::ddl::apply_ddl(&self.target, &op).await)
    }

    /// With `repair_ddl`, indexes the backup lacks or defines otherwise are built as the
    /// source has them, and those only the backup has are dropped.
    async fn rebuild_indexes(
        &self,
        coll: &str,
        source: &[Document],
        backup: &[Document],
    ) -> Outcome {
        if !self.cfg.verify.continuous.repair_ddl {
            return Outcome::Reported;
        }
        let clean_s = crate::apply::ddl::clean_specs(source);
        let clean_t = crate::apply::ddl::clean_specs(backup);
        let name = |d: &Document| d.get_str("name").unwrap_or_default().to_string();
        let drop: Vec<String> = clean_t
            .iter()
            .filter(|t| !clean_s.contains(t))
            .map(name)
            .collect();
        let create: Vec<Document> = source
            .iter()
            .zip(&clean_s)
            .filter(|(_, c)| !clean_t.contains(c))
            .map(|(raw, _)| raw.clone())
            .collect();
        let mut result = Ok(());
        if !drop.is_empty() {
            result = crate::apply::ddl::apply_ddl(
                &self.target,
                &DdlOp::DropIndexes {
                    coll: coll.to_string(),
                    names: drop,
                },
            )
            .await;
        }
        if result.is_ok() && !create.is_empty() {
            result = crate::apply::ddl::apply_ddl(
                &self.target,
                &DdlOp::CreateIndexes {
                    coll: coll.to_string(),
                    indexes: create,
                },
            )
            .await;
        }
        self.ddl_outcome(result)
    }

    fn ddl_outcome(&self, result: Result<()>) -> Outcome {
        match result {
            Ok(()) => Outcome::Repaired,
            Err(e) => {
                tracing::warn!(error = %e, "continuous verify: repairing a definition failed; reported");
                Outcome::Failed
            }
        }
    }

    fn record_ddl(&self, coll: &str, kind: &'static str, outcome: Outcome) {
        self.record(Divergence {
            collection: coll.to_string(),
            id: None,
            kind,
            found: "sweep",
            outcome,
            repaired: outcome == Outcome::Repaired,
            at: super::repair::now(),
        });
    }
}
