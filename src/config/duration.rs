//! Durations in configuration values: a whole number with one unit, `"90s"`, `"30m"`, `"12h"`,
//! `"30d"` (the form Prometheus rules use, so `alerts.max_pause` reads the same in both).

use std::time::Duration;

/// `text` as a duration, or why not.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        "expected a whole number and a unit: s, m, h or d (e.g. \"30d\")".to_string()
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use s, m, h or d (e.g. \"30d\")"
            ))
        }
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| "too large".to_string())
}

/// The Prometheus spelling of `d` (`"30m"`, `"2h"`, `"1d"`: the largest unit that divides it).
pub fn prometheus(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s > 0 && s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse_and_anything_else_is_refused() {
        assert_eq!(parse("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse(" 12h "), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        for bad in ["", "d", "30", "30 days", "-1d", "1.5h", "30w"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(prometheus(Duration::from_secs(1800)), "30m");
        assert_eq!(prometheus(Duration::from_secs(86_400)), "1d");
        assert_eq!(prometheus(Duration::from_secs(61)), "61s");
    }

    #[test]
    fn bad_durations_are_refused_naming_their_key() {
        let mut c = crate::config::Config::default();
        assert_eq!(c.history.runs_retention(), Duration::from_secs(30 * 86_400));
        assert_eq!(c.alerts.max_pause(), Duration::from_secs(1800));
        c.history.runs_retention = "30x".into();
        c.alerts.max_pause = "10s".into();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("history.runs_retention = \"30x\": unknown unit"),
            "{err}"
        );
        assert!(
            err.contains("alerts.max_pause = \"10s\": must be between 1m"),
            "{err}"
        );
        c.history.runs_retention = "10m".into();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("history.runs_retention = \"10m\": must be between 1h"),
            "{err}"
        );
    }
}
