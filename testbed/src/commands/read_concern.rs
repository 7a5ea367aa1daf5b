//! Read concern "snapshot" outside transactions (MongoDB 5.0+: `find`, `distinct`, `aggregate`): the
//! read sees one point in time and the reply says which, `atClusterTime` (in `cursor` for a
//! cursor reply, at the top level for `distinct`; SERVER-47576). Drivers' snapshot sessions
//! keep that time; a reader that must know exactly which writes it saw (a replicator re-reading
//! documents) relies on it, where `operationTime` only bounds the read from above.
//!
//! The testbed keeps no history: a read is always at the latest time, so an `atClusterTime` in
//! the past is refused as too old once anything was written after it, and an `aggregate` holds
//! one snapshot for its collection only (a `$lookup` reads the other collection later).

use super::args;
use crate::error::{code, CmdError, CmdResult};
use bson::{Bson, Document, Timestamp};
use std::cmp::Ordering;

/// A command's read concern asks for a snapshot; `at` is its `atClusterTime`, if given.
#[derive(Debug, Clone, Copy)]
pub(super) struct Snapshot {
    at: Option<Timestamp>,
}

/// `Some` when `readConcern.level` is "snapshot".
pub(super) fn snapshot(cmd: &Document) -> CmdResult<Option<Snapshot>> {
    let Some(rc) = args::opt_doc(cmd, "readConcern")? else {
        return Ok(None);
    };
    if rc.get_str("level").ok() != Some("snapshot") {
        if rc.contains_key("atClusterTime") {
            return Err(CmdError::new(
                code::INVALID_OPTIONS,
                "InvalidOptions",
                "atClusterTime is only allowed with read concern level snapshot",
            ));
        }
        return Ok(None);
    }
    let at = match rc.get("atClusterTime") {
        None => None,
        Some(Bson::Timestamp(t)) => Some(*t),
        Some(_) => return Err(CmdError::type_mismatch(
            "BSON field 'readConcern.atClusterTime' is the wrong type, expected type 'timestamp'",
        )),
    };
    Ok(Some(Snapshot { at }))
}

/// Refused when the command asked for a snapshot other than the one `read_at` holds.
pub(super) fn check(snapshot: Snapshot, read_at: Timestamp) -> CmdResult<()> {
    let Some(at) = snapshot.at else {
        return Ok(());
    };
    let key = |t: Timestamp| (t.time, t.increment);
    let (code, name, why) = match key(at).cmp(&key(read_at)) {
        Ordering::Equal => return Ok(()),
        Ordering::Greater => (
            code::INVALID_OPTIONS,
            "InvalidOptions",
            "must not be greater than the current clusterTime",
        ),
        Ordering::Less => (
            code::SNAPSHOT_TOO_OLD,
            "SnapshotTooOld",
            "is older than the one snapshot mongo-testbed keeps (no history), the latest write",
        ),
    };
    Err(CmdError::new(
        code,
        name,
        format!(
            "readConcern atClusterTime value {}.{} {why} {}.{}",
            at.time, at.increment, read_at.time, read_at.increment
        ),
    ))
}

/// `cursor.atClusterTime` on a cursor reply read at a snapshot (`read_at` is `None` otherwise).
pub(super) fn stamp_cursor(mut reply: Document, read_at: Option<Timestamp>) -> Document {
    if let (Some(at), Ok(cursor)) = (read_at, reply.get_document_mut("cursor")) {
        cursor.insert("atClusterTime", at);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn ts(time: u32, increment: u32) -> Timestamp {
        Timestamp { time, increment }
    }

    #[test]
    fn only_level_snapshot_is_a_snapshot_and_its_time_must_be_the_reads() {
        assert!(snapshot(&doc! {}).unwrap().is_none());
        assert!(snapshot(&doc! {"readConcern": {"level": "majority"}})
            .unwrap()
            .is_none());
        let s = snapshot(&doc! {"readConcern": {"level": "snapshot"}})
            .unwrap()
            .unwrap();
        check(s, ts(5, 1)).unwrap();
        let s = snapshot(&doc! {"readConcern": {"level": "snapshot", "atClusterTime": ts(5, 1)}})
            .unwrap()
            .unwrap();
        check(s, ts(5, 1)).unwrap();
        assert_eq!(check(s, ts(5, 2)).unwrap_err().code, code::SNAPSHOT_TOO_OLD);
        assert_eq!(check(s, ts(4, 9)).unwrap_err().code, code::INVALID_OPTIONS);
        let e = snapshot(&doc! {"readConcern": {"level": "local", "atClusterTime": ts(1, 1)}})
            .unwrap_err();
        assert_eq!(e.code, code::INVALID_OPTIONS);
    }

    #[test]
    fn a_cursor_reply_carries_the_time() {
        let r = stamp_cursor(doc! {"cursor": {"id": 0i64}}, Some(ts(7, 3)));
        assert!(stamp_cursor(doc! {"cursor": {"id": 0i64}}, None)
            .get_document("cursor")
            .unwrap()
            .get("atClusterTime")
            .is_none());
        assert_eq!(
            r.get_document("cursor")
                .unwrap()
                .get_timestamp("atClusterTime")
                .unwrap(),
            ts(7, 3)
        );
    }
}
