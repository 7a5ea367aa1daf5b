//! `verify`: compares source and target collection by collection, streaming both in `_id`
//! order: counts, exact documents (byte-equal BSON: same values, types and field order), and
//! index definitions. Memory is bounded by one batch per side.

use crate::apply::ddl::clean_specs;
use crate::bulk::copy::{index_specs, source_collections};
use crate::bulk::merge_join::{id_ordered, raw_id, MergeJoin, Pair};
use crate::config::Config;
use crate::error::{Origin, Result};
use crate::ops::Reporter;
use crate::source::Sides;
use bson::Document;
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
}

impl CollectionReport {
    pub fn identical(&self) -> bool {
        self.missing == 0
            && self.extra == 0
            && self.different == 0
            && self.index_differences.is_empty()
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
    let mut names: BTreeSet<String> = source_collections(source, cfg).await?.into_iter().collect();
    names.extend(source_collections(target, cfg).await?);
    let mut report = VerifyReport::default();
    for name in names {
        report
            .collections
            .push(compare_collection(source, target, &name).await?);
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

fn note(list: &mut Vec<String>, d: &bson::RawDocumentBuf) -> Result<()> {
    if list.len() < FIRST_IDS {
        list.push(raw_id(d)?.to_string());
    }
    Ok(())
}

/// Index definitions by name, compared without server-specific fields (`v`, `ns`).
async fn compare_indexes(
    source: &mongodb::Database,
    target: &mongodb::Database,
    name: &str,
) -> Result<Vec<String>> {
    let normalize = |specs: Vec<Document>| -> Vec<(String, Document)> {
        let mut v: Vec<(String, Document)> = clean_specs(&specs)
            .into_iter()
            .map(|s| (s.get_str("name").unwrap_or("").to_string(), s))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let s = normalize(index_specs(source, name).await?);
    let t = normalize(index_specs(target, name).await?);
    let mut diffs = Vec::new();
    for (n, spec) in &s {
        match t.iter().find(|(m, _)| m == n) {
            None => diffs.push(format!("{n} missing on target")),
            Some((_, other)) if !same_spec(spec, other) => {
                diffs.push(format!("{n} differs: source {spec} target {other}"))
            }
            _ => {}
        }
    }
    for (n, _) in &t {
        if !s.iter().any(|(m, _)| m == n) {
            diffs.push(format!("{n} only on target"));
        }
    }
    Ok(diffs)
}

/// Same definition: equal as documents regardless of option order.
fn same_spec(a: &Document, b: &Document) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
}
