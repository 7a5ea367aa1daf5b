//! Full sweeps: every collection in scope walked in `_id` ranges, each range read from both
//! sides as raw BSON and compared byte for byte (values, types, field order), at most
//! `docs_per_second` documents and [`BYTES_PER_SECOND`] a second; options and indexes once per
//! collection and sweep. Memory is one range per side. A mismatch is only a candidate
//! ([`super::recheck`]). The position is saved after each range, so a restart resumes it.

use super::position::{SweepPosition, SAVE_EVERY};
use super::{Candidate, Verifier};
use crate::bulk::id_order::{after_id_filter, cmp_ids};
use crate::bulk::listing::{self, Kind};
use crate::bulk::merge_join::raw_id;
use crate::error::{Error, Origin, Result};
use crate::source::Endpoint;
use bson::{doc, Bson, DateTime, RawDocumentBuf};
use futures::TryStreamExt;
use mongodb::options::{Collation, ReadConcern};
use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// The byte budget of the sweeps (both sides together).
pub const BYTES_PER_SECOND: u64 = 16 * 1024 * 1024;
/// Documents per range and side, at most (a quarter of a second at the configured rate).
const MAX_RANGE: u64 = 1000;
/// The pause between two sweeps, and while there is nothing to sweep.
const BETWEEN_SWEEPS: Duration = Duration::from_secs(1);

/// One range's outcome.
struct Range {
    compared: u64,
    bytes: u64,
    /// The last `_id` compared; `None` when the collection is done.
    next: Option<Bson>,
}

impl Verifier {
    /// Sweeps until stopped, from the saved position.
    pub(super) async fn sweeps(&self, mut pos: SweepPosition) -> Result<()> {
        let metrics = &self.reporter.metrics.verify;
        match pos.last_full_sweep {
            Some(at) => {
                metrics.set_last_full_sweep(at.timestamp_millis() / 1000);
                self.divergences()
                    .set_last_full_sweep(at.try_to_rfc3339_string().ok());
            }
            // None yet: the overdue rule counts from the verifier's start.
            None => metrics.set_last_full_sweep(DateTime::now().timestamp_millis() / 1000),
        }
        pos.sweep = pos.sweep.max(1);
        let mut saved = Instant::now();
        loop {
            let names = self.collections().await?;
            for name in &names {
                if pos.collections_done.contains(name) {
                    continue;
                }
                if pos.collection.as_deref() != Some(name) {
                    pos.collection = Some(name.clone());
                    pos.after = None;
                }
                let done = pos.collections_done.len() as f64 / names.len().max(1) as f64;
                metrics.set_progress(done);
                self.divergences().set_sweep(pos.sweep, Some(name), done);
                if pos.after.is_none() {
                    self.check_ddl(name).await?;
                }
                loop {
                    self.unpaused(name).await;
                    let started = Instant::now();
                    let r = self.range(name, pos.after.as_ref()).await?;
                    pos.documents += r.compared;
                    metrics.compared(r.compared);
                    pos.after = r.next.clone();
                    if r.next.is_none() {
                        break;
                    }
                    if saved.elapsed() >= SAVE_EVERY {
                        self.save(&pos).await;
                        saved = Instant::now();
                    }
                    self.pace(started, r.compared, r.bytes).await;
                }
                pos.collections_done.push(name.clone());
                pos.collection = None;
                self.save(&pos).await;
            }
            let now = DateTime::now();
            pos = SweepPosition {
                sweep: pos.sweep + 1,
                last_full_sweep: Some(now),
                ..Default::default()
            };
            self.save(&pos).await;
            metrics.set_last_full_sweep(now.timestamp_millis() / 1000);
            metrics.set_progress(1.0);
            let at = now.try_to_rfc3339_string().ok();
            self.divergences().set_last_full_sweep(at);
            self.divergences().set_sweep(pos.sweep, None, 0.0);
            tracing::info!(
                sweep = pos.sweep - 1,
                collections = names.len(),
                "continuous verify: full sweep done"
            );
            tokio::time::sleep(BETWEEN_SWEEPS).await;
        }
    }

    async fn save(&self, pos: &SweepPosition) {
        if let Err(e) = self.store.save(pos).await {
            tracing::warn!(error = %e, "continuous verify: saving the sweep position failed; a restart repeats a few ranges");
        }
    }

    /// The collections (and views) in scope on either side, by name; time series are not
    /// replicated.
    async fn collections(&self) -> Result<Vec<String>> {
        let s = listing::list(&self.source, Origin::Source).await?;
        let keys: Vec<String> = s.iter().map(|l| l.name.clone()).collect();
        let t = listing::list_target(&self.target, &keys, Origin::Target).await?;
        let mut names: Vec<String> = s
            .iter()
            .chain(&t)
            .filter(|l| l.kind == Kind::Collection)
            .map(|l| l.name.clone())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Sleeps what the rate and byte budgets ask for a range of `docs` and `bytes`.
    async fn pace(&self, started: Instant, docs: u64, bytes: u64) {
        let rate = self.cfg.verify.continuous.docs_per_second.max(1) as f64;
        let need = (docs as f64 / rate).max(bytes as f64 / BYTES_PER_SECOND as f64);
        let left = Duration::from_secs_f64(need).saturating_sub(started.elapsed());
        tokio::time::sleep(left).await;
    }

    fn range_size(&self) -> u64 {
        (self.cfg.verify.continuous.docs_per_second / 4).clamp(1, MAX_RANGE)
    }

    /// Compares the next range after `after`: both sides read up to the range size; the range
    /// ends at the lower of the two last `_id`s when a side filled it (past it, that side was
    /// not read yet).
    async fn range(&self, coll: &str, after: Option<&Bson>) -> Result<Range> {
        let n = self.range_size();
        let s = read_range(&self.source, coll, after, n, Origin::Source).await?;
        let t = read_range(&self.target, coll, after, n, Origin::Target).await?;
        let last = |side: &[(Bson, RawDocumentBuf)]| {
            (side.len() as u64 == n)
                .then(|| side.last().map(|(id, _)| id.clone()))
                .flatten()
        };
        let upper = match (last(&s), last(&t)) {
            (Some(a), Some(b)) => Some(if cmp_ids(&a, &b) == Ordering::Greater {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        };
        let within = |id: &Bson| {
            upper
                .as_ref()
                .is_none_or(|u| cmp_ids(id, u) != Ordering::Greater)
        };
        let bytes = s
            .iter()
            .chain(&t)
            .map(|(_, d)| d.as_bytes().len() as u64)
            .sum();
        let (mut i, mut j, mut compared) = (0, 0, 0);
        loop {
            let a = s.get(i).filter(|(id, _)| within(id));
            let b = t.get(j).filter(|(id, _)| within(id));
            let (differs, id) = match (a, b) {
                (None, None) => break,
                (Some((ia, da)), Some((ib, db))) => match cmp_ids(ia, ib) {
                    Ordering::Equal => {
                        i += 1;
                        j += 1;
                        (da.as_bytes() != db.as_bytes(), ia)
                    }
                    Ordering::Less => {
                        i += 1;
                        (true, ia)
                    }
                    Ordering::Greater => {
                        j += 1;
                        (true, ib)
                    }
                },
                (Some((ia, _)), None) => {
                    i += 1;
                    (true, ia)
                }
                (None, Some((ib, _))) => {
                    j += 1;
                    (true, ib)
                }
            };
            compared += 1;
            if differs {
                let _ = self.candidate(Candidate {
                    coll: coll.to_string(),
                    id: id.clone(),
                    found: "sweep",
                });
            }
        }
        Ok(Range {
            compared,
            bytes,
            next: upper,
        })
    }
}

/// Up to `n` documents of `coll` after `after` in `_id` order (the simple collation, as the
/// merge join compares them); the source on its primary with read concern majority.
async fn read_range(
    db: &Endpoint,
    coll: &str,
    after: Option<&Bson>,
    n: u64,
    origin: Origin,
) -> Result<Vec<(Bson, RawDocumentBuf)>> {
    let err = |e: mongodb::error::Error| Error::from_driver(origin, format!("reading {coll}"), &e);
    let collection = db.collection::<RawDocumentBuf>(coll);
    let mut find = collection
        .find(after.map(after_id_filter).unwrap_or_default())
        .sort(doc! {"_id": 1})
        .collation(Collation::builder().locale("simple").build())
        .limit(n as i64)
        .batch_size(n.min(u32::MAX as u64) as u32);
    if origin == Origin::Source {
        find = find
            .selection_criteria(crate::source::connect::primary())
            .read_concern(ReadConcern::majority());
    }
    let mut cursor = find.await.map_err(err)?;
    let mut out = Vec::with_capacity(n as usize);
    while let Some(d) = cursor.try_next().await.map_err(err)? {
        out.push((raw_id(&d)?, d));
    }
    Ok(out)
}
