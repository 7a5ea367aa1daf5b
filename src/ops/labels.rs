//! The bounded label sets that metrics and `/status` share: phases, sides, applied-operation
//! kinds and error kinds. Both render them from here, so neither depends on the other and no
//! label value can come from data (a collection name or an `_id`).

use serde::Serialize;

/// What the replicator is doing (`phase{phase}`, `/status.phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    Copying,
    Tailing,
    Resyncing,
    Stopped,
    /// `ha`: waiting for the lease (no change stream, no writes).
    Standby,
}

impl Phase {
    /// Every phase, in the order a run goes through them.
    pub const ALL: [Phase; 6] = [
        Phase::Starting,
        Phase::Copying,
        Phase::Tailing,
        Phase::Resyncing,
        Phase::Stopped,
        Phase::Standby,
    ];

    /// The word used in `/status` and in the `phase{phase}` metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Copying => "copying",
            Phase::Tailing => "tailing",
            Phase::Resyncing => "resyncing",
            Phase::Stopped => "stopped",
            Phase::Standby => "standby",
        }
    }
}

/// One of the two deployments (`up{side}`, `/status.up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Source, Side::Target];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// The kind of an applied change (`events_applied_total{op}`, `/status.events_applied`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Insert,
    Update,
    Replace,
    Delete,
    Ddl,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::Insert, Op::Update, Op::Replace, Op::Delete, Op::Ddl];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Replace => "replace",
            Op::Delete => "delete",
            Op::Ddl => "ddl",
        }
    }

    /// The label of a change event's `operationType`: every DDL type counts as `ddl`.
    pub fn of_operation_type(op_type: &str) -> Op {
        match op_type {
            "insert" => Op::Insert,
            "update" => Op::Update,
            "replace" => Op::Replace,
            "delete" => Op::Delete,
            _ => Op::Ddl,
        }
    }
}

/// Values of `errors_total{kind}`: every [`crate::error::Error::metric_kind`].
pub const ERROR_KINDS: &[&str] = &[
    "source",
    "target",
    "conflict",
    "checkpoint",
    "history_lost",
    "config",
    "internal",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_types_map_to_their_label_and_ddl_to_ddl() {
        for op in Op::ALL {
            if op != Op::Ddl {
                assert_eq!(Op::of_operation_type(op.as_str()), op);
            }
        }
        for ddl in ["drop", "rename", "dropDatabase", "create", "createIndexes"] {
            assert_eq!(Op::of_operation_type(ddl), Op::Ddl, "{ddl}");
        }
    }

    #[test]
    fn phase_words_are_what_serde_writes() {
        for p in Phase::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }
}
