//! A write transaction: data and oplog locked together for one store call. Every change is
//! logged through it; when it ends the journal records are written (before the call returns),
//! the journal is compacted if it grew large, and change streams are woken.

use super::collection::{new_uuid, Collection};
use super::data::Data;
use super::oplog::{ts_key, Op, OplogEntry, Position};
use super::{persist, LogState, Namespace, Store};
use crate::error::{code, CmdError, CmdResult};
use bson::{Binary, DateTime, Document};
use parking_lot::{MutexGuard, RwLockWriteGuard};
use std::sync::Arc;

/// The journal is folded into a new snapshot once it is larger than this and than the last snapshot.
const COMPACT_MIN_BYTES: u64 = 256 << 20;

pub(crate) struct Txn<'a> {
    store: &'a Store,
    pub data: RwLockWriteGuard<'a, Data>,
    log: MutexGuard<'a, LogState>,
    wrote: bool,
    /// `bypassDocumentValidation`: skip the collections' validators.
    pub bypass_validation: bool,
}

impl<'a> Txn<'a> {
    pub fn begin(store: &'a Store) -> Txn<'a> {
        let data = store.data.write();
        let log = store.log.lock();
        Txn {
            store,
            data,
            log,
            wrote: false,
            bypass_validation: false,
        }
    }

    /// Appends one committed change to the oplog (and the journal buffer).
    pub fn log(&mut self, ns: &Namespace, uuid: Option<Binary>, op: Op) {
        self.log_change(ns, uuid, op, None);
    }

    /// `log`, recording `pre` as the change's pre-image (the collection has them enabled).
    /// Dropping a collection removes its pre-images; those older than the oplog go.
    pub fn log_change(
        &mut self,
        ns: &Namespace,
        uuid: Option<Binary>,
        op: Op,
        pre: Option<Arc<Document>>,
    ) {
        let ts = self.log.oplog.next_ts();
        let dropped = match (&op, &uuid) {
            (Op::Drop, Some(u))
            | (
                Op::Rename {
                    drop_target: Some(u),
                    ..
                },
                _,
            ) => Some(u),
            _ => None,
        };
        let state = &mut *self.log;
        if let Some(u) = dropped {
            state.pre_images.drop_collection(u);
        }
        if let (Some(pre), Some(u)) = (pre, &uuid) {
            state.pre_images.record(u, ts_key(ts), pre);
        }
        let e = Arc::new(OplogEntry {
            ts,
            wall: DateTime::now(),
            ns: ns.clone(),
            uuid,
            op,
        });
        if let Some(j) = &mut self.log.journal {
            j.record(&e);
        }
        self.log.oplog.push(e);
        self.bound_pre_images(ts);
        self.wrote = true;
    }

    /// Removes pre-images whose change the oplog no longer holds, or older than the expiry.
    fn bound_pre_images(&mut self, now: bson::Timestamp) {
        let state = &mut *self.log;
        let hs = state.oplog.history_start();
        state
            .pre_images
            .remove_before(hs.ts + u64::from(hs.kind == Position::AFTER));
        if let Some(secs) = state.pre_image_expiry {
            state
                .pre_images
                .remove_before(super::preimages::expiry_cutoff(now.time, secs));
        }
    }

    /// Creates the collection (logging `create`) when it does not exist; true when it did not.
    pub fn ensure_coll(&mut self, ns: &Namespace, options: Document) -> CmdResult<bool> {
        if self.data.coll(ns).is_some() {
            return Ok(false);
        }
        validate_ns(ns)?;
        let uuid = new_uuid();
        self.data
            .insert_coll(ns, Collection::new(uuid.clone(), options.clone()));
        self.log(ns, Some(uuid), Op::Create { options });
        Ok(true)
    }
}

/// Namespaces mongod refuses (`InvalidNamespace`, 73).
pub(crate) fn validate_ns(ns: &Namespace) -> CmdResult<()> {
    let bad_db = ns.db.is_empty() || ns.db.contains(['.', ' ', '/', '\\', '"', '$', '\0']);
    let bad_coll = ns.coll.is_empty()
        || ns.coll.contains('\0')
        || ns.coll.starts_with('.')
        || ns.coll.contains('$');
    if bad_db || bad_coll {
        return Err(CmdError::new(
            code::INVALID_NAMESPACE,
            "InvalidNamespace",
            format!("Invalid namespace specified '{ns}'"),
        ));
    }
    Ok(())
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if !self.wrote {
            return;
        }
        let LogState {
            oplog,
            journal,
            snapshot_size,
            ..
        } = &mut *self.log;
        if let Some(j) = journal {
            if let Err(e) = j.flush() {
                tracing::error!(error = %e, "journal write failed: recent writes may not survive a restart");
            }
            if j.size() > COMPACT_MIN_BYTES.max(*snapshot_size) {
                if let Some(dir) = &self.store.dbpath {
                    match persist::write_snapshot(dir, &self.data, oplog)
                        .and_then(|n| j.truncate().map(|_| n))
                    {
                        Ok(n) => *snapshot_size = n,
                        Err(e) => {
                            tracing::error!(error = %e, path = %j.path().display(), "journal compaction failed")
                        }
                    }
                }
            }
        }
        self.store.changes.send_replace(ts_key(oplog.last_ts()));
    }
}
