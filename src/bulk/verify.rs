//! `verify`: compares source and target collection by collection, streaming both in `_id`
//! order: counts, exact documents (byte-equal BSON: same values, types and field order), and
//! index definitions. Memory is bounded by one batch per side.

use crate::bulk::index_specs;
use crate::bulk::listing::{self, Kind, Listed};
use crate::bulk::merge_join::{id_ordered, raw_id, MergeJoin, Pair};
use crate::config::Config;
use crate::control::skipped::{canonical, known_ids, SkippedEntry};
use crate::error::{Origin, Result};
use crate::ops::Reporter;
use crate::source::Endpoint;
use crate::source::Sides;
use std::collections::BTreeSet;
use std::fmt;

/// Ids listed per kind of difference.
const FIRST_IDS: usize = 5;

#[derive(Debug, Default, Clone)]
pub struct CollectionReport {
    pub name: String,
    pub source_count: u64,
    pub target_count: u64,
    pub missing: u64,
    pub extra: u64,
    pub different: u64,
    pub first_missing: Vec<String>,
    pub first_extra: Vec<String>,
    pub first_different: Vec<String>,
    pub index_differences: Vec<String>,
    /// Collection options (or the type) that differ, by option name.
    pub option_differences: Vec<String>,
    /// Differences (of any kind) on documents an operator skipped: known, not failures.
    pub known_skipped: u64,
    pub first_known: Vec<String>,
}

impl CollectionReport {
    pub fn identical(&self) -> bool {
        self.missing == 0
            && self.extra == 0
            && self.different == 0
            && self.index_differences.is_empty()
            && self.option_differences.is_empty()
    }
}

#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    pub collections: Vec<CollectionReport>,
}

impl VerifyReport {
    /// No difference but the known ones.
    pub fn identical(&self) -> bool {
        self.collections.iter().all(|c| c.identical())
    }

    /// Differences on skipped documents, over every collection.
    pub fn known_skipped(&self) -> u64 {
        self.collections.iter().map(|c| c.known_skipped).sum()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.collections {
            let verdict = if c.identical() {
                "identical"
            } else {
                "DIFFERENT"
            };
            writeln!(
                f,
                "{:<24} {verdict:<9} source={} target={} missing={} extra={} different={}",
                c.name, c.source_count, c.target_count, c.missing, c.extra, c.different
            )?;
            for (label, ids) in [
                ("missing", &c.first_missing),
                ("extra", &c.first_extra),
                ("different", &c.first_different),
            ] {
                if !ids.is_empty() {
                    writeln!(f, "  first {label} _ids: {}", ids.join(", "))?;
                }
            }
            if c.known_skipped > 0 {
                writeln!(
                    f,
                    "  known: {} skipped (POST /api/v1/failed/skip), _ids: {}",
                    c.known_skipped,
                    c.first_known.join(", ")
                )?;
            }
            for d in &c.index_differences {
                writeln!(f, "  index: {d}")?;
            }
            for d in &c.option_differences {
                writeln!(f, "  {d}")?;
            }
        }
        let bad = self.collections.iter().filter(|c| !c.identical()).count();
        if bad == 0 {
            write!(
                f,
                "verify: {} collection(s) identical",
                self.collections.len()
            )?;
        } else {
            write!(
                f,
                "verify: {bad} of {} collection(s) differ",
                self.collections.len()
            )?;
        }
        match self.known_skipped() {
            0 => Ok(()),
            n => write!(f, " (known: {n} skipped)"),
        }
    }
}

/// Compares every replicated collection of both sides; the documents the checkpoint lists as
/// skipped are known differences.
pub async fn verify(cfg: &Config, reporter: &Reporter) -> Result<VerifyReport> {
    let sides = Sides::connect(cfg, reporter).await?;
    let skipped = skipped_documents(cfg, &sides).await;
    verify_with_known(&sides.source, &sides.target, &skipped).await
}

/// The checkpoint's skipped documents; none when there is no checkpoint or it cannot be read
/// (then their differences count as differences: the safe side).
async fn skipped_documents(cfg: &Config, sides: &Sides) -> Vec<SkippedEntry> {
    let loaded = match crate::state::store::open(cfg, sides.target.client()) {
        Ok(store) => store.load().await,
        Err(e) => Err(e),
    };
    match loaded {
        Ok(cp) => cp.map(|c| c.skipped).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the checkpoint: skipped documents count as differences");
            Vec::new()
        }
    }
}

/// Compares database `source` with `target`: under `cfg`'s `[[namespaces]]` when it has
/// some, else their collections under the same names (`source.collections` when set).
pub async fn verify_databases(
    cfg: &Config,
    source: &mongodb::Database,
    target: &mongodb::Database,
) -> Result<VerifyReport> {
    let (s, t) = match cfg.namespaces.is_empty() {
        true => Endpoint::between(source, target, cfg.source.collections.as_deref()),
        false => {
            let scope = cfg.scope()?;
            Endpoint::pair(
                source.client().clone(),
                target.client().clone(),
                std::sync::Arc::new(scope),
            )
        }
    };
    verify_with_known(&s, &t, &[]).await
}

/// [`verify_databases`] with `skipped` documents as known differences.
pub async fn verify_with_known(
    source: &Endpoint,
    target: &Endpoint,
    skipped: &[SkippedEntry],
) -> Result<VerifyReport> {
    let s = listing::list(source, Origin::Source).await?;
    let keys: Vec<String> = s.iter().map(|l| l.name.clone()).collect();
    let t = listing::list_target(target, &keys, Origin::Target).await?;
    // Time series are not replicated (see `copy`), so not compared.
    let names: BTreeSet<&str> = s
        .iter()
        .chain(&t)
        .filter(|l| l.kind != Kind::Timeseries)
        .map(|l| l.name.as_str())
        .collect();
    let mut report = VerifyReport::default();
    for name in names {
        let (ls, lt) = (find(&s, name), find(&t, name));
        let is_view = |l: Option<&Listed>| l.is_some_and(|l| l.kind == Kind::View);
        let mut c = if is_view(ls) || is_view(lt) {
            CollectionReport {
                name: name.to_string(),
                ..Default::default()
            }
        } else {
            compare_collection(source, target, name, &known_ids(skipped, name)).await?
        };
        c.option_differences = listing::option_differences(ls, lt);
        report.collections.push(c);
    }
    Ok(report)
}

async fn compare_collection(
    source: &Endpoint,
    target: &Endpoint,
    name: &str,
    known: &BTreeSet<String>,
) -> Result<CollectionReport> {
    let mut r = CollectionReport {
        name: name.to_string(),
        ..Default::default()
    };
    let s = id_ordered(source, name, false, 2000, Origin::Source).await?;
    let t = id_ordered(target, name, false, 2000, Origin::Target).await?;
    let mut join = MergeJoin::new(s, t).await?;
    while let Some(pair) = join.next().await? {
        match pair {
            Pair::Both(a, b) => {
                r.source_count += 1;
                r.target_count += 1;
                if a.as_bytes() != b.as_bytes() && !is_known(&mut r, known, &a)? {
                    r.different += 1;
                    note(&mut r.first_different, &a)?;
                }
            }
            Pair::SourceOnly(a) => {
                r.source_count += 1;
                if !is_known(&mut r, known, &a)? {
                    r.missing += 1;
                    note(&mut r.first_missing, &a)?;
                }
            }
            Pair::TargetOnly(b) => {
                r.target_count += 1;
                if !is_known(&mut r, known, &b)? {
                    r.extra += 1;
                    note(&mut r.first_extra, &b)?;
                }
            }
        }
    }
    r.index_differences = compare_indexes(source, target, name).await?;
    Ok(r)
}

fn find<'a>(side: &'a [Listed], name: &str) -> Option<&'a Listed> {
    side.iter().find(|l| l.name == name)
}

/// True (and counted as known) when the differing document `d` is a skipped one.
fn is_known(
    r: &mut CollectionReport,
    known: &BTreeSet<String>,
    d: &bson::RawDocumentBuf,
) -> Result<bool> {
    if known.is_empty() || !known.contains(&canonical(&raw_id(d)?)) {
        return Ok(false);
    }
    r.known_skipped += 1;
    note(&mut r.first_known, d)?;
    Ok(true)
}

fn note(list: &mut Vec<String>, d: &bson::RawDocumentBuf) -> Result<()> {
    if list.len() < FIRST_IDS {
        list.push(raw_id(d)?.to_string());
    }
    Ok(())
}

/// The index differences of collection `name` between both sides.
async fn compare_indexes(source: &Endpoint, target: &Endpoint, name: &str) -> Result<Vec<String>> {
    Ok(index_specs::differences(
        index_specs::index_specs(source, name, Origin::Source).await?,
        index_specs::index_specs(target, name, Origin::Target).await?,
    ))
}
