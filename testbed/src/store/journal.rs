//! The on-disk form of oplog entries: framed BSON records (`len`, checksum, header document,
//! optional body document) appended to the journal with one `write()` per store call, and
//! read back on recovery. A torn last record (killed mid-write) fails its length or checksum
//! and is ignored along with anything after it.

use super::oplog::{Op, OplogEntry};
use super::Namespace;
use crate::update::UpdateDescription;
use bson::{doc, Binary, Bson, Document};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// FNV-1a over the record payload: cheap, catches torn writes.
fn checksum(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h ^= u64::from_le_bytes(w) as u32 ^ (u64::from_le_bytes(w) >> 32) as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Appends one frame around `payload_fn`'s bytes to `out`.
pub(crate) fn write_frame(out: &mut Vec<u8>, payload_fn: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    payload_fn(out);
    let len = (out.len() - start - 8) as u32;
    let sum = checksum(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&sum.to_le_bytes());
}

/// Reads every complete, intact frame; stops at the first torn or corrupt one.
/// Returns the payloads and the byte length of the intact prefix.
pub(crate) fn read_frames(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let sum = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap());
        let Some(payload) = bytes.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if checksum(payload) != sum {
            break;
        }
        out.push(payload);
        pos += 8 + len;
    }
    (out, pos)
}

pub(crate) fn encode_doc(out: &mut Vec<u8>, d: &Document) {
    d.to_writer(out).expect("writing BSON to a Vec cannot fail");
}

/// Splits a payload into its BSON documents.
pub(crate) fn decode_docs(mut payload: &[u8]) -> io::Result<Vec<Document>> {
    let mut docs = Vec::with_capacity(2);
    while !payload.is_empty() {
        let d = Document::from_reader(&mut payload)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        docs.push(d);
    }
    Ok(docs)
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Insert(_) => "i",
        Op::Update { .. } => "u",
        Op::Replace(_) => "r",
        Op::Delete { .. } => "d",
        Op::Create { .. } => "c",
        Op::CreateIndex { .. } => "ci",
        Op::DropIndex { .. } => "di",
        Op::Drop => "drop",
        Op::Rename { .. } => "ren",
        Op::DropDatabase => "dropDb",
        Op::CollMod { .. } => "cm",
    }
}

/// Writes an entry as a frame: a header document and, for documents, the document itself.
pub(crate) fn encode_entry(out: &mut Vec<u8>, e: &OplogEntry) {
    let mut h =
        doc! {"op": op_name(&e.op), "t": e.ts, "w": e.wall, "db": &e.ns.db, "coll": &e.ns.coll};
    if let Some(u) = &e.uuid {
        h.insert("ui", u.clone());
    }
    let body = match &e.op {
        Op::Insert(d) | Op::Replace(d) => Some(d),
        Op::Update { post, desc } => {
            h.insert("uf", desc.updated_fields.clone());
            h.insert("rf", desc.removed_fields.clone());
            let tr: Vec<Bson> = desc
                .truncated_arrays
                .iter()
                .map(|(f, n)| Bson::Document(doc! {"field": f, "newSize": n}))
                .collect();
            h.insert("ta", tr);
            Some(post)
        }
        Op::Delete { id } => {
            h.insert("id", id.clone());
            None
        }
        Op::Create { options } => {
            h.insert("o", options.clone());
            None
        }
        Op::CollMod {
            options,
            desc,
            before,
        } => {
            h.insert("o", options.clone());
            h.insert("od", desc.clone());
            h.insert("sb", before.clone());
            None
        }
        Op::CreateIndex { spec } | Op::DropIndex { spec } => {
            h.insert("o", spec.clone());
            None
        }
        Op::Rename { to, drop_target } => {
            h.insert("tdb", &to.db);
            h.insert("tcoll", &to.coll);
            if let Some(u) = drop_target {
                h.insert("dt", u.clone());
            }
            None
        }
        Op::Drop | Op::DropDatabase => None,
    };
    write_frame(out, |buf| {
        encode_doc(buf, &h);
        if let Some(b) = body {
            encode_doc(buf, b);
        }
    });
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads back a frame written by `encode_entry`.
pub(crate) fn decode_entry(payload: &[u8]) -> io::Result<OplogEntry> {
    let mut docs = decode_docs(payload)?.into_iter();
    let h = docs.next().ok_or_else(|| bad("empty oplog record"))?;
    let body = docs.next().map(Arc::new);
    let s = |k: &str| h.get_str(k).map(str::to_string).map_err(|_| bad(k));
    let ns = Namespace::new(s("db")?, s("coll")?);
    let binary = |k: &str| match h.get(k) {
        Some(Bson::Binary(b)) => Some(b.clone()),
        _ => None,
    };
    let body_or = || body.clone().ok_or_else(|| bad("record without body"));
    let op = match h.get_str("op").map_err(|_| bad("op"))? {
        "i" => Op::Insert(body_or()?),
        "r" => Op::Replace(body_or()?),
        "u" => {
            let desc = UpdateDescription {
                updated_fields: h.get_document("uf").cloned().unwrap_or_default(),
                removed_fields: h
                    .get_array("rf")
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                truncated_arrays: h
                    .get_array("ta")
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_document())
                            .filter_map(|d| {
                                Some((
                                    d.get_str("field").ok()?.to_string(),
                                    d.get_i32("newSize").ok()?,
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            Op::Update {
                post: body_or()?,
                desc,
            }
        }
        "d" => Op::Delete {
            id: h.get("id").cloned().unwrap_or(Bson::Null),
        },
        "c" => Op::Create {
            options: h.get_document("o").cloned().unwrap_or_default(),
        },
        "ci" => Op::CreateIndex {
            spec: h.get_document("o").cloned().unwrap_or_default(),
        },
        "di" => Op::DropIndex {
            spec: h.get_document("o").cloned().unwrap_or_default(),
        },
        "drop" => Op::Drop,
        "ren" => Op::Rename {
            to: Namespace::new(s("tdb")?, s("tcoll")?),
            drop_target: binary("dt"),
        },
        "dropDb" => Op::DropDatabase,
        "cm" => Op::CollMod {
            options: h.get_document("o").cloned().unwrap_or_default(),
            desc: h.get_document("od").cloned().unwrap_or_default(),
            before: h.get_document("sb").cloned().unwrap_or_default(),
        },
        _ => return Err(bad("unknown op")),
    };
    Ok(OplogEntry {
        ts: h.get_timestamp("t").map_err(|_| bad("t"))?,
        wall: h.get_datetime("w").copied().map_err(|_| bad("w"))?,
        ns,
        uuid: binary("ui"),
        op,
    })
}

/// The append-only journal file; records are buffered per store call and written at its end.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
    size: u64,
}

impl Journal {
    /// Opens for appending, cutting a torn tail at `valid_len`.
    pub fn open(path: &Path, valid_len: u64) -> io::Result<Journal> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)?;
        file.set_len(valid_len)?;
        let mut j = Journal {
            path: path.to_path_buf(),
            file,
            pending: Vec::new(),
            size: valid_len,
        };
        j.seek_end()?;
        Ok(j)
    }

    fn seek_end(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.file.seek(io::SeekFrom::End(0))?;
        Ok(())
    }

    pub fn record(&mut self, e: &OplogEntry) {
        encode_entry(&mut self.pending, e);
    }

    /// Writes what this store call recorded (before it returns to the client).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.size += self.pending.len() as u64;
        self.pending.clear();
        if self.pending.capacity() > 16 << 20 {
            self.pending.shrink_to(1 << 20);
        }
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Empties the journal after a snapshot made its records redundant.
    pub fn truncate(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.size = 0;
        self.seek_end()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads a whole file, or nothing when it does not exist.
pub(crate) fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    match File::open(path) {
        Ok(mut f) => {
            let mut v = Vec::new();
            f.read_to_end(&mut v)?;
            Ok(v)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Uuid field helper shared by the snapshot code.
pub(crate) fn uuid_of(d: &Document, k: &str) -> Option<Binary> {
    match d.get(k) {
        Some(Bson::Binary(b)) => Some(b.clone()),
        _ => None,
    }
}
