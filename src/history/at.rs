//! A point in the source's history as users write it: an RFC 3339 wall time
//! (`2026-12-01T17:52:00Z`) or a cluster time `<secs>.<inc>` (as `/status` shows it). Pure.

use bson::{doc, DateTime, Document, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    Cluster(Timestamp),
    Wall(DateTime),
}

impl At {
    pub fn parse(text: &str) -> Result<At, String> {
        let t = text.trim();
        if let Some((secs, inc)) = t.split_once('.') {
            if let (Ok(time), Ok(increment)) = (secs.parse::<u32>(), inc.parse::<u32>()) {
                return Ok(At::Cluster(Timestamp { time, increment }));
            }
        }
        DateTime::parse_rfc3339_str(t).map(At::Wall).map_err(|_| {
            format!("{t:?} is neither an RFC 3339 time (2026-01-31T12:00:00Z) nor a cluster time (<secs>.<inc>)")
        })
    }

    /// The entries' filter for changes after this point (`strictly_after`) or up to it.
    pub fn filter(self, strictly_after: bool) -> Document {
        let op = if strictly_after { "$gt" } else { "$lte" };
        match self {
            At::Cluster(t) => doc! {"t": {op: t}},
            At::Wall(w) => doc! {"wall": {op: w}},
        }
    }

    /// Milliseconds since the epoch (a cluster time's seconds), to compare with wall times.
    pub fn millis(self) -> i64 {
        match self {
            At::Cluster(t) => i64::from(t.time) * 1000,
            At::Wall(w) => w.timestamp_millis(),
        }
    }

    /// Whether `self` is later than the point (`t`, `wall`).
    pub fn after(self, t: Timestamp, wall: Option<DateTime>) -> bool {
        match (self, wall) {
            (At::Cluster(c), _) => (c.time, c.increment) > (t.time, t.increment),
            (At::Wall(w), Some(pw)) => w > pw,
            (At::Wall(w), None) => w.timestamp_millis() > i64::from(t.time) * 1000,
        }
    }

    /// How it reads in messages and default names: `<secs>.<inc>` or RFC 3339.
    pub fn text(self) -> String {
        match self {
            At::Cluster(t) => format!("{}.{}", t.time, t.increment),
            At::Wall(w) => w.try_to_rfc3339_string().unwrap_or_default(),
        }
    }
}

/// `t` as `<secs>.<inc>`.
pub fn cluster_text(t: Timestamp) -> String {
    format!("{}.{}", t.time, t.increment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_and_others_are_refused() {
        let c = At::parse("1700000000.3").unwrap();
        assert_eq!(
            c,
            At::Cluster(Timestamp {
                time: 1_700_000_000,
                increment: 3
            })
        );
        assert_eq!(c.text(), "1700000000.3");
        let w = At::parse("2026-12-01T17:52:00.250Z").unwrap();
        assert_eq!(
            w.millis(),
            DateTime::parse_rfc3339_str("2026-12-01T17:52:00.250Z")
                .unwrap()
                .timestamp_millis()
        );
        assert!(At::parse("yesterday").unwrap_err().contains("RFC 3339"));
        let t = Timestamp {
            time: 10,
            increment: 2,
        };
        assert!(At::Cluster(Timestamp {
            time: 10,
            increment: 3
        })
        .after(t, None));
        assert!(!At::Cluster(t).after(t, None));
    }
}
