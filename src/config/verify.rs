//! `[verify.continuous]`: the verifier that runs beside the tail ([`crate::verify`]): how fast
//! it sweeps, how much of the recent changes it samples, and whether it repairs. Defaults and
//! validation of this section.

use serde::{Deserialize, Serialize};

/// `verify.continuous.enabled`: on by default in `run`.
pub const ENABLED: bool = true;
/// `verify.continuous.docs_per_second`: documents compared per second by the sweeps.
pub const DOCS_PER_SECOND: u64 = 2000;
/// `verify.continuous.sample_ratio`: every recently applied document is checked (up to the
/// verifier's rate cap).
pub const SAMPLE_RATIO: f64 = 1.0;
/// `verify.continuous.repair`: a divergent document is rewritten from the source.
pub const REPAIR: bool = true;
/// `verify.continuous.repair_ddl`: option and index differences are only reported.
pub const REPAIR_DDL: bool = false;
/// `verify.continuous.max_sweep_age`: a full sweep should finish at least once a day.
pub const MAX_SWEEP_AGE: &str = "24h";
/// `docs_per_second` bounds: at least one per second, at most a million.
const MIN_DOCS_PER_SECOND: u64 = 1;
const MAX_DOCS_PER_SECOND: u64 = 1_000_000;
/// `max_sweep_age` lower bound: the alert rule evaluates per minute.
const MIN_MAX_SWEEP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// `[verify]`: only the continuous verifier so far (`mongo-replicator verify` takes no keys).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    pub continuous: ContinuousConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ContinuousConfig {
    pub enabled: bool,
    pub docs_per_second: u64,
    pub sample_ratio: f64,
    pub repair: bool,
    pub repair_ddl: bool,
    /// `"24h"`, `"90m"`: no full sweep finished for this long raises
    /// `ReplicatorVerifySweepOverdue` (exported as `verify_max_sweep_age_seconds`).
    pub max_sweep_age: String,
}

impl Default for ContinuousConfig {
    fn default() -> Self {
        ContinuousConfig {
            enabled: ENABLED,
            docs_per_second: DOCS_PER_SECOND,
            sample_ratio: SAMPLE_RATIO,
            repair: REPAIR,
            repair_ddl: REPAIR_DDL,
            max_sweep_age: MAX_SWEEP_AGE.into(),
        }
    }
}

impl ContinuousConfig {
    /// `max_sweep_age` as a duration (validated at load).
    pub fn max_sweep_age(&self) -> std::time::Duration {
        super::duration::parse(&self.max_sweep_age)
            .unwrap_or(super::duration::parse(MAX_SWEEP_AGE).expect("valid default"))
    }
}

/// Every problem of `[verify.continuous]`, each naming its key.
pub(super) fn problems(
    v: &VerifyConfig,
    check: &mut impl FnMut(&str, &dyn std::fmt::Display, Option<String>),
) {
    let c = &v.continuous;
    check(
        "verify.continuous.docs_per_second",
        &c.docs_per_second,
        (!(MIN_DOCS_PER_SECOND..=MAX_DOCS_PER_SECOND).contains(&c.docs_per_second))
            .then(|| format!("must be between {MIN_DOCS_PER_SECOND} and {MAX_DOCS_PER_SECOND}")),
    );
    check(
        "verify.continuous.sample_ratio",
        &c.sample_ratio,
        (!(0.0..=1.0).contains(&c.sample_ratio)).then(|| "must be between 0 and 1".to_string()),
    );
    let age = match super::duration::parse(&c.max_sweep_age) {
        Err(e) => Some(e),
        Ok(d) if d < MIN_MAX_SWEEP_AGE => Some("must be at least 1m".to_string()),
        Ok(_) => None,
    };
    check(
        "verify.continuous.max_sweep_age",
        &format!("{:?}", c.max_sweep_age),
        age,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_problem_names_its_key() {
        let mut c = crate::config::Config::default();
        assert!(c.validate().is_ok());
        c.verify.continuous = ContinuousConfig {
            docs_per_second: 0,
            sample_ratio: 1.5,
            max_sweep_age: "10s".into(),
            ..Default::default()
        };
        let message = c.validate().unwrap_err().0;
        for key in ["docs_per_second", "sample_ratio", "max_sweep_age"] {
            assert!(
                message.contains(&format!("verify.continuous.{key} = ")),
                "{message}"
            );
        }
        assert_eq!(
            ContinuousConfig::default().max_sweep_age(),
            std::time::Duration::from_secs(86_400)
        );
    }
}
