//! Read commands: `find`, `getMore`, `killCursors`, `count`, `distinct` (`aggregate` has its own module).
//! Results are computed when the cursor opens and handed out in batches (101 documents first
//! by default, then up to 16 MiB per `getMore`).

use super::{args, change_stream, read_concern};
use crate::collation::{cmp_with, Collation};
use crate::cursor::{self, Cursor, Source};
use crate::error::{CmdError, CmdResult};
use crate::matcher::Matcher;
use crate::pipeline::Pipeline;
use crate::projection::Projection;
use crate::server::ServerState;
use crate::sort::SortSpec;
use crate::store::Namespace;
use bson::{doc, Bson, Document, Timestamp};
use std::collections::VecDeque;
use std::sync::Arc;

/// `{cursor: {firstBatch|nextBatch, id, ns}}`.
pub(super) fn cursor_reply(ns: &str, id: i64, batch: Vec<Document>, first: bool) -> Document {
    let key = if first { "firstBatch" } else { "nextBatch" };
    doc! { "cursor": { key: batch, "id": id, "ns": ns } }
}

/// Hands out the first batch of `docs` and registers a cursor for the rest (id 0 when none).
pub(super) fn open_cursor(
    state: &ServerState,
    ns: String,
    mut docs: VecDeque<Document>,
    batch_size: Option<usize>,
    single_batch: bool,
) -> Document {
    let batch = match batch_size {
        Some(0) => Vec::new(),
        Some(n) => cursor::take_batch(&mut docs, n),
        None => cursor::take_batch(&mut docs, cursor::DEFAULT_FIRST_BATCH),
    };
    let id = if docs.is_empty() || single_batch {
        0
    } else {
        state.cursors.insert(Cursor {
            ns: ns.clone(),
            source: Source::Docs(docs),
        })
    };
    cursor_reply(&ns, id, batch, true)
}

/// The collation a read compares with: the command's `collation`, else the collection's
/// default (`None`: binary).
pub(super) fn collation(
    state: &ServerState,
    ns: &Namespace,
    cmd: &Document,
) -> CmdResult<Option<Collation>> {
    match args::opt_doc(cmd, "collation")? {
        Some(spec) => Collation::parse(spec),
        None => Ok(state.store.default_collation(ns)),
    }
}

/// Matching documents in `_id` order; stops early once `stop_after` are collected. On a view,
/// the view's pipeline runs over its source first (views of views included).
pub(super) fn collect(
    state: &ServerState,
    ns: &Namespace,
    filter: &Document,
    stop_after: Option<usize>,
    collation: Option<&Collation>,
) -> CmdResult<Vec<Document>> {
    Ok(collect_at(state, ns, filter, stop_after, collation)?.0)
}

/// [`collect`], with the cluster time of the data read.
pub(super) fn collect_at(
    state: &ServerState,
    ns: &Namespace,
    filter: &Document,
    stop_after: Option<usize>,
    collation: Option<&Collation>,
) -> CmdResult<(Vec<Document>, Timestamp)> {
    let matcher = Matcher::with_collation(filter, collation)?;
    let mut out = Vec::new();
    if let Some((source, stages)) = state.store.resolve_view(ns) {
        let mut all = Vec::new();
        let at = state
            .store
            .scan(&source, &Matcher::new(&Document::new())?, &mut |d| {
                all.push(d.clone());
                true
            });
        let viewed = Pipeline::new(&stages)?.run(all)?;
        out.extend(
            viewed
                .into_iter()
                .filter(|d| matcher.matches(d))
                .take(stop_after.unwrap_or(usize::MAX)),
        );
        return Ok((out, at));
    }
    let at = state.store.scan(ns, &matcher, &mut |d| {
        out.push(d.clone());
        !matches!(stop_after, Some(n) if out.len() >= n)
    });
    Ok((out, at))
}

/// [`collect`] under the command's read concern: with a snapshot, the read must be at the
/// asked `atClusterTime` (if any), and its time is returned for the reply to carry.
pub(super) fn collect_snapshot(
    state: &ServerState,
    ns: &Namespace,
    filter: &Document,
    stop_after: Option<usize>,
    collation: Option<&Collation>,
    snapshot: Option<read_concern::Snapshot>,
) -> CmdResult<(Vec<Document>, Option<Timestamp>)> {
    let (docs, read_at) = collect_at(state, ns, filter, stop_after, collation)?;
    let Some(s) = snapshot else {
        return Ok((docs, None));
    };
    read_concern::check(s, read_at)?;
    Ok((docs, Some(read_at)))
}

pub(super) fn find(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "find")?;
    let filter = args::opt_doc(cmd, "filter")?.cloned().unwrap_or_default();
    let coll = collation(state, &ns, cmd)?;
    let sort = args::opt_doc(cmd, "sort")?
        .filter(|s| !s.is_empty())
        .map(|s| Ok::<_, CmdError>(SortSpec::new(s)?.with_collation(coll.as_ref())))
        .transpose()?;
    let projection = args::opt_doc(cmd, "projection")?
        .filter(|p| !p.is_empty())
        .map(Projection::new)
        .transpose()?;
    let skip = args::opt_count(cmd, "skip")?.unwrap_or(0);
    let limit = match args::opt_i64(cmd, "limit")? {
        Some(n) if n < 0 => {
            return Err(CmdError::bad_value(format!(
                "LIMIT must be non-negative, but received: {n}"
            )))
        }
        Some(0) | None => None,
        Some(n) => Some(n as usize),
    };
    let stop_after = if sort.is_some() {
        None
    } else {
        limit.map(|l| l + skip)
    };
    let snapshot = read_concern::snapshot(cmd)?;
    let (mut docs, read_at) =
        collect_snapshot(state, &ns, &filter, stop_after, coll.as_ref(), snapshot)?;
    if let Some(sort) = &sort {
        docs.sort_by(|a, b| sort.compare(a, b));
    }
    let mut docs: VecDeque<Document> = docs
        .into_iter()
        .skip(skip)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    if let Some(p) = &projection {
        docs = docs.iter().map(|d| p.apply(d)).collect::<CmdResult<_>>()?;
    }
    let batch_size = args::opt_count(cmd, "batchSize")?;
    let reply = open_cursor(
        state,
        ns.to_string(),
        docs,
        batch_size,
        args::flag(cmd, "singleBatch"),
    );
    Ok(read_concern::stamp_cursor(reply, read_at))
}

pub(super) async fn get_more(
    state: &Arc<ServerState>,
    db: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    let id = match cmd.get("getMore") {
        Some(Bson::Int64(id)) => *id,
        _ => {
            return Err(CmdError::type_mismatch(
                "BSON field 'getMore' is the wrong type, expected type 'long'",
            ))
        }
    };
    let coll = cmd
        .get_str("collection")
        .map_err(|_| CmdError::type_mismatch("BSON field 'collection' must be a string"))?;
    let batch_size = args::opt_count(cmd, "batchSize")?.unwrap_or(0);
    let cursor = state.cursors.check_out(id).ok_or_else(|| {
        CmdError::new(
            crate::error::code::CURSOR_NOT_FOUND,
            "CursorNotFound",
            format!("cursor id {id} not found"),
        )
    })?;
    let expected_ns = format!("{db}.{coll}");
    if cursor.ns != expected_ns
        && !(coll == "$cmd.aggregate" && cursor.ns.starts_with(&format!("{db}.")))
    {
        let ns = cursor.ns.clone();
        state.cursors.check_in(id, cursor);
        return Err(CmdError::new(
            13, // Unauthorized, as mongod answers a getMore on another namespace
            "Unauthorized",
            format!("Requested getMore on namespace '{expected_ns}', but cursor belongs to a different namespace {ns}"),
        ));
    }
    if let Some(e) = state.failpoints.check_get_more() {
        // The cursor is not checked back in: mongod kills a cursor whose getMore failed.
        return Err(match cursor.source {
            Source::ChangeStream(_) => change_stream::label_resumable(e),
            Source::Docs(_) => e,
        });
    }
    match cursor.source {
        Source::Docs(mut docs) => {
            let batch = cursor::take_batch(&mut docs, batch_size);
            let ns = cursor.ns;
            let next_id = if docs.is_empty() {
                0
            } else {
                state.cursors.check_in(
                    id,
                    Cursor {
                        ns: ns.clone(),
                        source: Source::Docs(docs),
                    },
                );
                id
            };
            Ok(cursor_reply(&ns, next_id, batch, false))
        }
        Source::ChangeStream(stream) => {
            change_stream::get_more(state, id, cursor.ns, stream, batch_size, cmd).await
        }
    }
}

pub(super) fn kill_cursors(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let _ = args::namespace(db, cmd, "killCursors")?;
    let ids = cmd
        .get_array("cursors")
        .map_err(|_| CmdError::failed_to_parse("BSON field 'cursors' is missing"))?;
    let (mut killed, mut not_found) = (Vec::new(), Vec::new());
    for id in ids {
        let id = match id {
            Bson::Int64(n) => *n,
            Bson::Int32(n) => *n as i64,
            _ => return Err(CmdError::type_mismatch("cursor ids must be longs")),
        };
        if state.cursors.kill(id) {
            killed.push(id);
        } else {
            not_found.push(id);
        }
    }
    Ok(
        doc! { "cursorsKilled": killed, "cursorsNotFound": not_found, "cursorsAlive": [], "cursorsUnknown": [] },
    )
}

pub(super) fn count(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "count")?;
    let query = args::opt_doc(cmd, "query")?.cloned().unwrap_or_default();
    let skip = args::opt_count(cmd, "skip")?.unwrap_or(0);
    let limit = args::opt_i64(cmd, "limit")?
        .map(|l| l.unsigned_abs() as usize)
        .filter(|&l| l > 0);
    let coll = collation(state, &ns, cmd)?;
    let n = if query.is_empty() && state.store.view_of(&ns).is_none() {
        state.store.count(&ns) as usize
    } else {
        collect(state, &ns, &query, None, coll.as_ref())?.len()
    };
    let n = n.saturating_sub(skip).min(limit.unwrap_or(usize::MAX));
    Ok(doc! { "n": n as i64 })
}

pub(super) fn distinct(state: &ServerState, db: &str, cmd: &Document) -> CmdResult<Document> {
    let ns = args::namespace(db, cmd, "distinct")?;
    let key = cmd
        .get_str("key")
        .map_err(|_| CmdError::failed_to_parse("BSON field 'key' is missing or not a string"))?;
    let query = args::opt_doc(cmd, "query")?.cloned().unwrap_or_default();
    let coll = collation(state, &ns, cmd)?;
    let c = coll.as_ref();
    let mut values: Vec<Bson> = Vec::new();
    // Under a collation, values equal by it ("abc", "ABC" at strength 2) are one value.
    let add = |v: &Bson, values: &mut Vec<Bson>| {
        if !values
            .iter()
            .any(|x| cmp_with(c, x, v) == std::cmp::Ordering::Equal)
        {
            values.push(v.clone());
        }
    };
    let snapshot = read_concern::snapshot(cmd)?;
    let (docs, read_at) = collect_snapshot(state, &ns, &query, None, c, snapshot)?;
    for d in docs {
        match crate::path::get_path(&d, key) {
            Some(Bson::Array(items)) => items.iter().for_each(|v| add(v, &mut values)),
            Some(v) => add(v, &mut values),
            None => {}
        }
    }
    values.sort_by(|a, b| cmp_with(c, a, b));
    let mut reply = doc! { "values": values };
    if let Some(at) = read_at {
        reply.insert("atClusterTime", at);
    }
    Ok(reply)
}
