//! The server-wide oplog: one entry per committed change, strictly increasing cluster times,
//! bounded (oldest entries dropped), read by change streams.

use super::Namespace;
use crate::update::UpdateDescription;
use bson::{Binary, Bson, DateTime, Document, Timestamp};
use std::collections::VecDeque;
use std::sync::Arc;

/// What a committed change did.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Insert(Arc<Document>),
    /// `post` is the document after the update (journal replay, `disambiguatedPaths`).
    Update {
        post: Arc<Document>,
        desc: UpdateDescription,
    },
    Replace(Arc<Document>),
    Delete {
        id: Bson,
    },
    /// Explicit or implicit collection creation (options as given).
    Create {
        options: Document,
    },
    CreateIndex {
        spec: Document,
    },
    DropIndex {
        spec: Document,
    },
    Drop,
    /// `drop_target`: the uuid of the collection the rename replaced.
    Rename {
        to: Namespace,
        drop_target: Option<Binary>,
    },
    /// `ns.coll` is empty.
    DropDatabase,
    /// `collMod`: the collection's options after the change, the change as the `modify` event's
    /// `operationDescription` (`index: {name, ...new values}` for an index), and the
    /// `stateBeforeChange` (`collectionOptions`, `indexOptions`).
    CollMod {
        options: Document,
        desc: Document,
        before: Document,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct OplogEntry {
    pub ts: Timestamp,
    pub wall: DateTime,
    pub ns: Namespace,
    pub uuid: Option<Binary>,
    pub op: Op,
}

impl OplogEntry {
    /// The `_id` of the document a CRUD entry touched.
    pub fn document_id(&self) -> Option<Bson> {
        match &self.op {
            Op::Insert(d) | Op::Replace(d) | Op::Update { post: d, .. } => d.get("_id").cloned(),
            Op::Delete { id } => Some(id.clone()),
            _ => None,
        }
    }
}

/// A point in the oplog, ordered by `(ts, kind)`: kind 0 is "before anything at ts", 1 an
/// entry's event, 2 the invalidate that entry caused, 3 "after everything at ts".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub ts: u64,
    pub kind: u8,
}

impl Position {
    pub const BEFORE: u8 = 0;
    pub const EVENT: u8 = 1;
    pub const INVALIDATE: u8 = 2;
    pub const AFTER: u8 = 3;

    pub fn new(ts: Timestamp, kind: u8) -> Position {
        Position {
            ts: ts_key(ts),
            kind,
        }
    }

    pub fn timestamp(&self) -> Timestamp {
        Timestamp {
            time: (self.ts >> 32) as u32,
            increment: self.ts as u32,
        }
    }
}

/// Timestamps as one orderable number.
pub(crate) fn ts_key(ts: Timestamp) -> u64 {
    (u64::from(ts.time) << 32) | u64::from(ts.increment)
}

/// The entries still held and the clock that stamps new ones.
pub(crate) struct Oplog {
    entries: VecDeque<Arc<OplogEntry>>,
    max: usize,
    last_ts: Timestamp,
    /// Every change after this point is still held (earlier ones may be gone).
    history_start: Position,
}

impl Oplog {
    /// An empty oplog whose history starts now (or after `last_ts` when recovering).
    pub fn new(max: usize, last_ts: Option<Timestamp>, history_start: Option<Position>) -> Oplog {
        let now = Timestamp {
            time: now_secs(),
            increment: 0,
        };
        let last_ts = match last_ts {
            Some(t) if ts_key(t) > ts_key(now) => t,
            Some(t) if t.time == now.time => t,
            _ => now,
        };
        let history_start = history_start.unwrap_or(Position::new(last_ts, Position::BEFORE));
        Oplog {
            entries: VecDeque::new(),
            max: max.max(1),
            last_ts,
            history_start,
        }
    }

    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }

    pub fn history_start(&self) -> Position {
        self.history_start
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<OplogEntry>> {
        self.entries.iter()
    }

    /// The next cluster time: strictly greater than every earlier one, seconds from the wall clock.
    pub fn next_ts(&mut self) -> Timestamp {
        let now = now_secs();
        let ts = if now > self.last_ts.time {
            Timestamp {
                time: now,
                increment: 1,
            }
        } else {
            Timestamp {
                time: self.last_ts.time,
                increment: self.last_ts.increment + 1,
            }
        };
        self.last_ts = ts;
        ts
    }

    /// Appends a stamped entry (from `next_ts` or recovery), dropping the oldest beyond the bound.
    pub fn push(&mut self, entry: Arc<OplogEntry>) {
        if ts_key(entry.ts) > ts_key(self.last_ts) {
            self.last_ts = entry.ts;
        }
        self.entries.push_back(entry);
        while self.entries.len() > self.max {
            if let Some(old) = self.entries.pop_front() {
                self.history_start = Position::new(old.ts, Position::AFTER);
            }
        }
    }

    /// Up to `max` entries with a cluster time at or after `from`.
    pub fn read_from(&self, from: u64, max: usize) -> Vec<Arc<OplogEntry>> {
        let start = self.entries.partition_point(|e| ts_key(e.ts) < from);
        self.entries.range(start..).take(max).cloned().collect()
    }
}

fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}
