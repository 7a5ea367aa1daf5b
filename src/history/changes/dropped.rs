//! DDL that removes documents from a backup collection (drop, dropDatabase, rename) keeps them
//! restorable: before the DDL is applied, every document it removes gets an entry with its
//! version as `before` (op `drop` / `rename`), pruned with the rest after the retention. A
//! rename also gives each moved document an entry in the new name with `before` null (or the
//! version it replaced there), so a restore before the rename leaves the new name as it was.
//!
//! The entries take the DDL event's cluster time ([`Changes::ddl_seen`]), or for a DDL whose
//! event time is unknown the time just after the last change applied before it.

use super::Changes;
use crate::error::{Error, Origin, Result};
use crate::source::translate::{ClusterTime, DdlOp};
use crate::source::Endpoint;
use bson::{doc, Bson, Document, Timestamp};
use futures::TryStreamExt;
use std::collections::HashMap;

/// DDL event times kept until their DDL is applied (held drops wait; a few at most).
const MAX_DDL_TIMES: usize = 1024;

impl Changes {
    /// Notes the cluster time of the DDL event registered as `seq` (its entries take it).
    pub fn ddl_seen(&self, seq: u64, at: ClusterTime) {
        let mut times = self.ddl_times.lock();
        times.insert(seq, at);
        while times.len() > MAX_DDL_TIMES {
            times.pop_first();
        }
    }

    /// The time of the DDL `seq`: its event's, else just after `last`, the last change applied
    /// (the barrier drained every writer: later than every change before the DDL).
    pub fn ddl_time(&self, seq: u64, last: Option<ClusterTime>) -> Timestamp {
        if let Some(at) = self.ddl_times.lock().remove(&seq) {
            return at.0;
        }
        match last {
            Some(ct) => Timestamp {
                time: ct.0.time,
                increment: ct.0.increment.saturating_add(1),
            },
            None => Timestamp {
                time: u32::try_from(bson::DateTime::now().timestamp_millis() / 1000).unwrap_or(0),
                increment: 0,
            },
        }
    }

    /// The DDL at `t` is applied: the window's end may pass it ([`super::prune`]).
    pub fn ddl_applied(&self, t: Timestamp) {
        let mut last = self.last_ddl.lock();
        if last.is_none_or(|l| (l.time, l.increment) < (t.time, t.increment)) {
            *last = Some(t);
        }
    }

    /// The newest DDL applied, if any.
    pub fn last_ddl(&self) -> Option<Timestamp> {
        *self.last_ddl.lock()
    }

    /// Records what `op` is about to remove from `backup`, at `t`.
    pub async fn before_ddl(&self, backup: &Endpoint, op: &DdlOp, t: Timestamp) -> Result<()> {
        match op {
            DdlOp::Drop { coll } => self.keep(backup, coll, "drop", t).await.map(drop),
            DdlOp::DropDatabase => {
                // Only a database replicated whole is dropped whole (`apply::ddl`): its keys
                // are the target's names.
                let names = backup
                    .home()
                    .list_collection_names()
                    .await
                    .map_err(|e| err("listing the backup's collections", &e))?;
                for coll in names.iter().filter(|n| !n.starts_with("system.")) {
                    self.keep(backup, coll, "drop", t).await?;
                }
                Ok(())
            }
            DdlOp::Rename { from, to } => {
                let replaced = self.keep(backup, to, "rename", t).await?;
                self.keep(backup, from, "rename", t).await?;
                self.keep_moved(backup, from, to, t, &replaced).await
            }
            _ => Ok(()),
        }
    }

    /// One entry per document of `coll` (its version as `before`); returns them by `_id` bytes.
    async fn keep(
        &self,
        backup: &Endpoint,
        coll: &str,
        op: &str,
        t: Timestamp,
    ) -> Result<HashMap<Vec<u8>, ()>> {
        let mut cursor = backup
            .collection::<Document>(coll)
            .find(doc! {})
            .await
            .map_err(|e| err("reading a collection before its DDL", &e))?;
        let mut seen = HashMap::new();
        let mut batch = Vec::new();
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(|e| err("reading a collection before its DDL", &e))?
        {
            let Some(id) = d.get("_id").cloned() else {
                continue;
            };
            seen.insert(id_bytes(&id), ());
            batch.push(entry(coll, &id, op, t, Bson::Document(d)));
            if batch.len() >= 1000 {
                self.insert(std::mem::take(&mut batch)).await?;
            }
        }
        self.insert(batch).await?;
        Ok(seen)
    }

    /// Entries under `to` for the documents moving there from `from`: absent before, unless
    /// `to` had a document with that `_id` (already recorded in `replaced`).
    async fn keep_moved(
        &self,
        backup: &Endpoint,
        from: &str,
        to: &str,
        t: Timestamp,
        replaced: &HashMap<Vec<u8>, ()>,
    ) -> Result<()> {
        let mut out = Vec::new();
        let mut cursor = backup
            .collection::<Document>(from)
            .find(doc! {})
            .await
            .map_err(|e| err("reading a collection before its rename", &e))?;
        while let Some(d) = cursor
            .try_next()
            .await
            .map_err(|e| err("reading a collection before its rename", &e))?
        {
            let Some(id) = d.get("_id").cloned() else {
                continue;
            };
            if !replaced.contains_key(&id_bytes(&id)) {
                out.push(entry(to, &id, "rename", t, Bson::Null));
            }
            if out.len() >= 1000 {
                self.insert(std::mem::take(&mut out)).await?;
            }
        }
        self.insert(out).await
    }
}

fn entry(coll: &str, id: &Bson, op: &str, t: Timestamp, before: Bson) -> Document {
    doc! {
        "_id": {"t": t, "c": coll, "id": id.clone(), "n": 0},
        "t": t,
        "wall": bson::DateTime::from_millis(i64::from(t.time) * 1000),
        "coll": coll,
        "id": id.clone(),
        "op": op,
        "updated": [],
        "removed": [],
        "truncated": [],
        "before": before,
    }
}

fn id_bytes(id: &Bson) -> Vec<u8> {
    bson::to_vec(&doc! {"_id": id.clone()}).unwrap_or_default()
}

fn err(what: &str, e: &mongodb::error::Error) -> Error {
    Error::from_driver(Origin::Target, what.to_string(), e)
}
