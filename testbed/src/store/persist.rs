//! `--dbpath` persistence: a snapshot (data, indexes, oplog) plus the journal of entries
//! committed since. Recovery loads the snapshot, replays the journal (skipping entries the
//! snapshot already holds and a torn tail), and compaction rewrites the snapshot atomically
//! (temp file + rename) before emptying the journal.

use super::collection::{new_uuid, Collection};
use super::data::Data;
use super::index::Index;
use super::journal::{
    decode_docs, decode_entry, encode_doc, encode_entry, read_file, read_frames, uuid_of,
    write_frame,
};
use super::oplog::{ts_key, Oplog, OplogEntry, Position};
use super::Namespace;
use bson::{doc, Bson, Timestamp};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) const SNAPSHOT: &str = "snapshot.bin";
pub(crate) const JOURNAL: &str = "journal.bin";

/// What recovery found on disk.
pub(crate) struct Recovered {
    pub data: Data,
    pub entries: Vec<OplogEntry>,
    pub last_ts: Option<Timestamp>,
    pub history_start: Option<Position>,
    /// Length of the intact journal prefix, and whether it held anything to fold into a snapshot.
    pub journal_len: u64,
    pub journal_had_entries: bool,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Loads the snapshot and replays the journal over it.
pub(crate) fn recover(dir: &Path) -> io::Result<Recovered> {
    std::fs::create_dir_all(dir)?;
    let mut r = Recovered {
        data: Data::default(),
        entries: Vec::new(),
        last_ts: None,
        history_start: None,
        journal_len: 0,
        journal_had_entries: false,
    };
    let snap = read_file(&dir.join(SNAPSHOT))?;
    if !snap.is_empty() {
        load_snapshot(&snap, &mut r)?;
    }
    let covered = r.last_ts.map(ts_key).unwrap_or(0);
    let journal = read_file(&dir.join(JOURNAL))?;
    let (frames, valid) = read_frames(&journal);
    if valid < journal.len() {
        tracing::warn!(
            ignored_bytes = journal.len() - valid,
            "ignoring a torn journal tail"
        );
    }
    for f in frames {
        let Ok(e) = decode_entry(f) else {
            tracing::warn!("ignoring an unreadable journal record and what follows");
            break;
        };
        if ts_key(e.ts) <= covered {
            continue;
        }
        r.data.apply(&e);
        r.last_ts = Some(e.ts);
        r.entries.push(e);
        r.journal_had_entries = true;
    }
    r.journal_len = valid as u64;
    Ok(r)
}

fn load_snapshot(bytes: &[u8], r: &mut Recovered) -> io::Result<()> {
    let (frames, _) = read_frames(bytes);
    let mut it = frames.into_iter();
    while let Some(f) = it.next() {
        let h = decode_docs(f)?
            .into_iter()
            .next()
            .ok_or_else(|| bad("empty snapshot frame"))?;
        match h.get_str("kind").map_err(|_| bad("snapshot frame kind"))? {
            "meta" => {
                r.last_ts = h.get_timestamp("last").ok();
                if let Ok(ts) = h.get_timestamp("hs") {
                    r.history_start = Some(Position::new(ts, h.get_i32("hsk").unwrap_or(0) as u8));
                }
            }
            "coll" => {
                let ns = Namespace::new(
                    h.get_str("db").map_err(|_| bad("db"))?,
                    h.get_str("coll").map_err(|_| bad("coll"))?,
                );
                let mut c = Collection::new(
                    uuid_of(&h, "ui").unwrap_or_else(new_uuid),
                    h.get_document("options").cloned().unwrap_or_default(),
                );
                let n = h.get_i64("n").unwrap_or(0);
                for _ in 0..n {
                    let f = it.next().ok_or_else(|| bad("snapshot truncated"))?;
                    let d = decode_docs(f)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| bad("empty document"))?;
                    c.put(Arc::new(d), f.len() as u32);
                }
                for spec in h.get_array("indexes").map_err(|_| bad("indexes"))? {
                    let Some(spec) = spec.as_document() else {
                        continue;
                    };
                    let idx = Index::from_spec(spec, None).map_err(|e| bad(e.errmsg))?;
                    if c.find_index(&idx.name).is_none() {
                        let idx = c
                            .build_index(&ns.to_string(), idx)
                            .map_err(|e| bad(e.errmsg))?;
                        c.indexes.push(idx);
                    }
                }
                r.data.insert_coll(&ns, c);
            }
            "oplog" => {
                let n = h.get_i64("n").unwrap_or(0);
                for _ in 0..n {
                    let f = it.next().ok_or_else(|| bad("snapshot truncated"))?;
                    r.entries.push(decode_entry(f)?);
                }
            }
            "end" => return Ok(()),
            other => return Err(bad(format!("unknown snapshot frame {other}"))),
        }
    }
    Err(bad("snapshot without end marker"))
}

/// Writes a snapshot of everything atomically; returns its size.
pub(crate) fn write_snapshot(dir: &Path, data: &Data, oplog: &Oplog) -> io::Result<u64> {
    let tmp: PathBuf = dir.join(format!("{SNAPSHOT}.tmp"));
    let mut file = File::create(&tmp)?;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut total = 0u64;
    let mut spill = |buf: &mut Vec<u8>, force: bool| -> io::Result<()> {
        if force || buf.len() > 1 << 20 {
            file.write_all(buf)?;
            total += buf.len() as u64;
            buf.clear();
        }
        Ok(())
    };
    let hs = oplog.history_start();
    let meta = doc! {"kind": "meta", "v": 1, "last": oplog.last_ts(), "hs": hs.timestamp(), "hsk": i32::from(hs.kind)};
    write_frame(&mut buf, |b| encode_doc(b, &meta));
    for (db, colls) in &data.dbs {
        for (name, c) in colls {
            let specs: Vec<Bson> = c
                .indexes
                .iter()
                .map(|i| Bson::Document(i.spec.clone()))
                .collect();
            let h = doc! {"kind": "coll", "db": db, "coll": name, "ui": c.uuid.clone(), "options": c.options.clone(), "indexes": specs, "n": c.docs.len() as i64};
            write_frame(&mut buf, |b| encode_doc(b, &h));
            // Capped collections keep insertion order (the order their removals follow).
            let docs: Box<dyn Iterator<Item = &super::collection::Stored>> = if c.capped.is_some() {
                Box::new(c.order.iter().filter_map(|k| c.docs.get(k)))
            } else {
                Box::new(c.docs.values())
            };
            for s in docs {
                write_frame(&mut buf, |b| encode_doc(b, &s.doc));
                spill(&mut buf, false)?;
            }
        }
    }
    write_frame(&mut buf, |b| {
        encode_doc(b, &doc! {"kind": "oplog", "n": oplog.len() as i64})
    });
    for e in oplog.iter() {
        encode_entry(&mut buf, e);
        spill(&mut buf, false)?;
    }
    write_frame(&mut buf, |b| encode_doc(b, &doc! {"kind": "end"}));
    spill(&mut buf, true)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(SNAPSHOT))?;
    Ok(total)
}
