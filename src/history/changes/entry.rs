//! The history entries of one writer batch. Pure: the writer's items and the backup's current
//! versions of the documents they touch go in, one entry per change comes out.
//!
//! `before` is the document's version on the backup just before the change: the event's
//! pre-image (`fullDocumentBeforeChange`) when the source has one, else the backup's version
//! read before the batch for a key's first change, then the version each change leaves
//! (computed in memory) for the key's later changes in the same batch. After a change whose
//! result is not in the event (a re-read from the source), `before` of the key's next change
//! in the batch is unknown (`before_known: false`) unless a pre-image says it. Items the
//! writer does not write because a re-read already covers them are recorded too, in stream
//! order, so the versions stay a chain.

use super::delta;
use crate::ops::Op;
use crate::source::translate::{DocKey, WriteKind};
use crate::tail::router::Item;
use bson::{doc, Bson, Document, RawDocumentBuf, Timestamp};
use std::collections::{BTreeMap, HashMap};

/// A `before` larger than this is left out (`before_known: false`): the entry must stay under
/// the 16 MiB document limit.
const MAX_BEFORE_BYTES: usize = 15 * 1024 * 1024;

/// A document's identity in one collection: the canonical bytes of `{_id: ...}`.
pub type Key = (String, DocKey);

pub fn key_of(coll: &str, id: &Bson) -> Key {
    (coll.to_string(), DocKey::of(&doc! {"_id": id.clone()}))
}

/// One item of a batch; `covered` ones are not written (a re-read already wrote a later
/// version) but recorded.
#[derive(Clone, Copy)]
pub struct Batched<'a> {
    pub item: &'a Item,
    pub covered: bool,
}

/// Versions of documents the backup is ahead of: a re-read wrote the source's current version
/// while the chain of recorded changes is still behind it (`None`: absent at that point).
pub type Ahead = HashMap<Key, Option<Document>>;

/// The `_id`s whose current backup version must be read, per collection: keys whose first
/// change in the batch has no pre-image, is written, and is not ahead.
pub fn to_read(items: &[Batched], ahead: &Ahead) -> BTreeMap<String, Vec<Bson>> {
    let mut seen = std::collections::HashSet::new();
    let mut out: BTreeMap<String, Vec<Bson>> = BTreeMap::new();
    for b in items {
        let item = b.item;
        let Some(id) = item.op.key.id() else {
            continue;
        };
        let key = key_of(&item.op.coll, &id);
        if seen.insert(key.clone())
            && item.pre_image.is_none()
            && !b.covered
            && !ahead.contains_key(&key)
        {
            out.entry(item.op.coll.clone())
                .or_default()
                .push(id.clone());
        }
    }
    out
}

/// A key's version as the batch goes.
enum State {
    Doc(Document),
    Absent,
    Unknown,
}

/// What a batch records: its entries, and per key it touched whether the backup is now ahead
/// of the chain (`Some`: keep that version in [`Ahead`]) or not (`None`: forget the key).
pub struct Recorded {
    pub entries: Vec<Document>,
    pub ahead: Vec<(Key, Option<Option<Document>>)>,
}

/// One entry per item with a cluster time, in stream order. A key's first `before` is the
/// pre-image, else its [`Ahead`] version, else (written items only) the backup's version read
/// for [`to_read`] (missing there: absent); a covered item with none of these is unknown.
pub fn entries(items: &[Batched], backup: &HashMap<Key, Document>, ahead: &Ahead) -> Recorded {
    let mut state: HashMap<Key, State> = HashMap::new();
    let mut refetched: HashMap<Key, bool> = HashMap::new();
    let mut ordinal: HashMap<(Key, (u32, u32)), i32> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for b in items {
        let item = b.item;
        let (Some(id), Some(ct)) = (item.op.key.id(), item.cluster_time) else {
            continue;
        };
        let key = key_of(&item.op.coll, &id);
        let pre = item
            .pre_image
            .as_ref()
            .and_then(|p| Document::try_from(p.as_ref()).ok());
        let before = match pre {
            Some(p) => State::Doc(p),
            None => state
                .remove(&key)
                .unwrap_or_else(|| match (ahead.get(&key), b.covered) {
                    (Some(Some(d)), _) => State::Doc(d.clone()),
                    (Some(None), _) => State::Absent,
                    (None, true) => State::Unknown,
                    (None, false) => backup
                        .get(&key)
                        .map_or(State::Absent, |d| State::Doc(d.clone())),
                }),
        };
        let t = ct.timestamp();
        let n = ordinal
            .entry((key.clone(), (t.time, t.increment)))
            .or_insert(0);
        let (entry, after) = entry(item, &id, t, *n, before);
        *n += 1;
        out.push(entry);
        *refetched.entry(key.clone()).or_default() |=
            b.covered || matches!(item.op.kind, WriteKind::Fetch);
        state.insert(key, after);
    }
    let ahead = state
        .into_iter()
        .map(|(key, s)| {
            let keep = match (refetched.get(&key).copied().unwrap_or(false), s) {
                (true, State::Doc(d)) => Some(Some(d)),
                (true, State::Absent) => Some(None),
                _ => None,
            };
            (key, keep)
        })
        .collect();
    Recorded {
        entries: out,
        ahead,
    }
}

/// The entry of one change and the version it leaves.
fn entry(item: &Item, id: &Bson, t: Timestamp, n: i32, before: State) -> (Document, State) {
    let (mut updated, mut removed, mut truncated) = (Vec::new(), Vec::new(), Vec::new());
    // A replayed or skipped delta is applied by a re-read; its own change is still known.
    let kind = item.event.as_deref().unwrap_or(&item.op.kind);
    let after = match (kind, &before) {
        (WriteKind::Upsert(body), _) => match Document::try_from(body.as_ref()) {
            Ok(new) => {
                if let (State::Doc(old), Op::Replace | Op::Update) = (&before, item.op_label) {
                    (updated, removed) = top_level_diff(old, &new);
                }
                State::Doc(new)
            }
            Err(_) => State::Unknown,
        },
        (WriteKind::Delete, _) => State::Absent,
        (WriteKind::Fetch, _) => State::Unknown,
        (
            WriteKind::Delta {
                set,
                unset,
                truncate,
            },
            _,
        ) => {
            updated = set.iter().flatten().map(|(k, _)| k.to_string()).collect();
            removed.clone_from(unset);
            truncated = truncate.iter().map(|(k, _)| k.clone()).collect();
            match &before {
                State::Doc(d) => {
                    let mut d = d.clone();
                    delta::apply(&mut d, set, unset, truncate);
                    State::Doc(d)
                }
                State::Absent => State::Absent,
                State::Unknown => State::Unknown,
            }
        }
    };
    let (before, known) = match before {
        State::Doc(d) if bson_len(&d) <= MAX_BEFORE_BYTES => (Bson::Document(d), true),
        State::Absent => (Bson::Null, true),
        State::Doc(_) | State::Unknown => (Bson::Null, false),
    };
    let wall = item
        .wall_ms
        .map(bson::DateTime::from_millis)
        .map_or(Bson::Null, Bson::DateTime);
    let mut e = doc! {
        "_id": {"t": t, "c": &item.op.coll, "id": id.clone(), "n": n},
        "t": t,
        "wall": wall,
        "coll": &item.op.coll,
        "id": id.clone(),
        "op": item.op_label.as_str(),
        "updated": updated,
        "removed": removed,
        "truncated": truncated,
        "before": before,
    };
    if !known {
        e.insert("before_known", false);
    }
    (e, after)
}

/// Top-level fields a replacement changed or added, and those it removed.
fn top_level_diff(old: &Document, new: &Document) -> (Vec<String>, Vec<String>) {
    let updated = new
        .iter()
        .filter(|(k, v)| old.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(k.as_str()))
        .cloned()
        .collect();
    (updated, removed)
}

fn bson_len(d: &Document) -> usize {
    RawDocumentBuf::from_document(d).map_or(usize::MAX, |r| r.as_bytes().len())
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
