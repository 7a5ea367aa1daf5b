//! `verify`: compares source and target collection by collection, streaming both in `_id`
//! order: counts, exact documents (byte-equal BSON: same values, types and field order), and
//! index definitions. Memory is bounded by one batch per side.

use crate::bulk::index_specs;
use crate::bulk::listing::{self, Kind, Listed};
use crate::bulk::merge_join::{id_ordered, raw_id, MergeJoin, Pair};
use crate::config::Config;
use crate::error::{Origin, Result};
use crate::ops::Reporter;
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
    pub fn identical(&self) -> bool {
        self.collections.iter().all(|c| c.identical())
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
            )
        } else {
            write!(
                f,
                "verify: {bad} of {} collection(s) differ",
                self.collections.len()
            )
        }
    }
}

/// Compares every replicated collection of both sides.
pub async fn verify(cfg: &Config, reporter: &Reporter) -> Result<VerifyReport> {
    let sides = Sides::connect(cfg, reporter).await?;
    verify_databases(cfg, &sides.source, &sides.target).await
}

pub async fn verify_databases(
    cfg: &Config,
    source: &mongodb::Database,
    target: &mongodb::Database,
) -> Result<VerifyReport> {
    let (s, t) = (
        listing::list(source, cfg, Origin::Source).await?,
        listing::list(target, cfg, Origin::Target).await?,
    );
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
            compare_collection(source, target, name).await?
        };
        c.option_differences = listing::option_differences(ls, lt);
        report.collections.push(c);
    }
    Ok(report)
}

async fn compare_collection(
    source: &mongodb::Database,
    target: &mongodb::Database,
    name: &str,
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
                if a.as_bytes() != b.as_bytes() {
                    r.different += 1;
                    note(&mut r.first_different, &a)?;
                }
            }
            Pair::SourceOnly(a) => {
                r.source_count += 1;
                r.missing += 1;
                note(&mut r.first_missing, &a)?;
            }
            Pair::TargetOnly(b) => {
                r.target_count += 1;
                r.extra += 1;
                note(&mut r.first_extra, &b)?;
            }
        }
    }
    r.index_differences = compare_indexes(source, target, name).await?;
    Ok(r)
}

fn find<'a>(side: &'a [Listed], name: &str) -> Option<&'a Listed> {
    side.iter().find(|l| l.name == name)
}

fn note(list: &mut Vec<String>, d: &bson::RawDocumentBuf) -> Result<()> {
    if list.len() < FIRST_IDS {
        list.push(raw_id(d)?.to_string());
    }
    Ok(())
}

/// The index differences of collection `name` between both sides.
async fn compare_indexes(
    source: &mongodb::Database,
    target: &mongodb::Database,
    name: &str,
) -> Result<Vec<String>> {
    Ok(index_specs::differences(
        index_specs::index_specs(source, name, Origin::Source).await?,
        index_specs::index_specs(target, name, Origin::Target).await?,
    ))
}
