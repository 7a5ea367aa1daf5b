//! Rendering oplog entries into change events with the documented shapes and field order,
//! filtered by the stream's scope (including the `invalidate` that ends collection and
//! database streams).

use super::options::{BeforeChange, FullDocument, Options};
use super::token;
use super::Scope;
use crate::error::{CmdError, CmdResult};
use crate::store::oplog::{Op, OplogEntry, Position};
use crate::store::Namespace;
use crate::update::UpdateDescription;
use bson::{doc, Binary, Bson, Document, Timestamp};
use std::sync::Arc;

/// Databases whose changes cluster-wide streams never show.
const INTERNAL_DBS: [&str; 3] = ["admin", "config", "local"];

/// What rendering reads besides the oplog entry.
pub(crate) struct Lookup<'a> {
    /// The current version of a document (`updateLookup`).
    pub current: &'a dyn Fn(&Namespace, &Bson) -> Option<Document>,
    /// The pre-image recorded for the change at a cluster time to a collection (by UUID).
    pub pre_image: &'a dyn Fn(&Binary, Timestamp) -> Option<Arc<Document>>,
}

/// What an entry means to a stream: its event (if visible) and whether it invalidates the stream.
fn visibility(e: &OplogEntry, scope: &Scope, expanded: bool) -> (bool, bool) {
    let ddl_expanded = matches!(
        e.op,
        Op::Create { .. } | Op::CreateIndex { .. } | Op::DropIndex { .. } | Op::CollMod { .. }
    );
    if ddl_expanded && !expanded {
        return (false, false);
    }
    match scope {
        Scope::Collection(ns) => match &e.op {
            Op::Rename { to, .. } => {
                let hit = &e.ns == ns || to == ns;
                (hit, hit)
            }
            Op::Drop => (&e.ns == ns, &e.ns == ns),
            Op::DropDatabase => (false, e.ns.db == ns.db),
            _ => (&e.ns == ns, false),
        },
        Scope::Database(db) => match &e.op {
            Op::Rename { to, .. } => (&e.ns.db == db || &to.db == db, false),
            Op::DropDatabase => (&e.ns.db == db, &e.ns.db == db),
            _ => (&e.ns.db == db && !e.ns.coll.starts_with("system."), false),
        },
        Scope::Cluster => {
            let internal =
                INTERNAL_DBS.contains(&e.ns.db.as_str()) || e.ns.coll.starts_with("system.");
            (!internal, false)
        }
    }
}

fn op_type(op: &Op) -> &'static str {
    match op {
        Op::Insert(_) => "insert",
        Op::Update { .. } => "update",
        Op::Replace(_) => "replace",
        Op::Delete { .. } => "delete",
        Op::Create { .. } => "create",
        Op::CreateIndex { .. } => "createIndexes",
        Op::DropIndex { .. } => "dropIndexes",
        Op::Drop => "drop",
        Op::Rename { .. } => "rename",
        Op::DropDatabase => "dropDatabase",
        Op::CollMod { .. } => "modify",
    }
}

fn ns_doc(ns: &Namespace) -> Document {
    if ns.coll.is_empty() {
        doc! {"db": &ns.db}
    } else {
        doc! {"db": &ns.db, "coll": &ns.coll}
    }
}

/// The events `e` produces for this stream, each with its position, in order.
pub(crate) fn render(
    e: &OplogEntry,
    scope: &Scope,
    opts: &Options,
    lookup: &Lookup,
) -> CmdResult<Vec<(Position, Document)>> {
    let (visible, invalidates) = visibility(e, scope, opts.show_expanded);
    let mut out = Vec::with_capacity(usize::from(visible) + usize::from(invalidates));
    if visible {
        let pos = Position::new(e.ts, Position::EVENT);
        out.push((pos, event(e, pos, opts, lookup)?));
    }
    if invalidates {
        let pos = Position::new(e.ts, Position::INVALIDATE);
        out.push((
            pos,
            doc! {"_id": token::encode(pos), "operationType": "invalidate", "clusterTime": e.ts, "wallTime": e.wall},
        ));
    }
    Ok(out)
}

fn no_pre_image(e: &OplogEntry) -> CmdError {
    CmdError::new(
        47,
        "NoMatchingDocument",
        format!(
            "Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for event at {}",
            Bson::Timestamp(e.ts)
        ),
    )
}

/// `fullDocument: "required"` on an update whose post-image cannot be computed (no pre-image).
fn no_post_image(e: &OplogEntry) -> CmdError {
    CmdError::new(
        47,
        "NoMatchingDocument",
        format!(
            "Change stream was configured to require a post-image for all update events, but the post-image was not found for event at {}",
            Bson::Timestamp(e.ts)
        ),
    )
}

fn event(e: &OplogEntry, pos: Position, opts: &Options, lookup: &Lookup) -> CmdResult<Document> {
    let mut d = doc! {
        "_id": token::encode(pos),
        "operationType": op_type(&e.op),
        "clusterTime": e.ts,
        "wallTime": e.wall,
    };
    if opts.show_expanded {
        if let Some(u) = &e.uuid {
            d.insert("collectionUUID", u.clone());
        }
    }
    let id = || e.document_id().unwrap_or(Bson::Null);
    // Recorded while the collection had `changeStreamPreAndPostImages` enabled.
    let pre = || {
        e.uuid
            .as_ref()
            .and_then(|u| (lookup.pre_image)(u, e.ts))
            .map(|p| Bson::Document((*p).clone()))
    };
    match &e.op {
        Op::Insert(doc) | Op::Replace(doc) => d.insert("fullDocument", (**doc).clone()),
        Op::Update { post, .. } => match opts.full_document {
            FullDocument::Default => None,
            FullDocument::UpdateLookup => d.insert(
                "fullDocument",
                (lookup.current)(&e.ns, &id()).map_or(Bson::Null, Bson::Document),
            ),
            // mongod computes the post-image from the pre-image and the update: `post`.
            FullDocument::WhenAvailable | FullDocument::Required => match pre() {
                Some(_) => d.insert("fullDocument", (**post).clone()),
                None if opts.full_document == FullDocument::Required => {
                    return Err(no_post_image(e))
                }
                None => d.insert("fullDocument", Bson::Null),
            },
        },
        _ => None,
    };
    if matches!(e.op, Op::Update { .. } | Op::Replace(_) | Op::Delete { .. }) {
        match (opts.before_change, pre()) {
            (BeforeChange::Off, _) => {}
            (BeforeChange::WhenAvailable, p) => {
                d.insert("fullDocumentBeforeChange", p.unwrap_or(Bson::Null));
            }
            (BeforeChange::Required, Some(p)) => {
                d.insert("fullDocumentBeforeChange", p);
            }
            (BeforeChange::Required, None) => return Err(no_pre_image(e)),
        }
    }
    d.insert("ns", ns_doc(&e.ns));
    match &e.op {
        Op::Insert(_) | Op::Replace(_) | Op::Delete { .. } => {
            d.insert("documentKey", doc! {"_id": id()});
        }
        Op::Update { post, desc } => {
            d.insert("documentKey", doc! {"_id": id()});
            d.insert(
                "updateDescription",
                update_description(desc, post, opts.show_expanded),
            );
        }
        Op::Rename { to, drop_target } => {
            d.insert("to", ns_doc(to));
            if opts.show_expanded {
                let mut od = doc! {"to": ns_doc(to)};
                if let Some(u) = drop_target {
                    od.insert("dropTarget", u.clone());
                }
                d.insert("operationDescription", od);
            }
        }
        Op::Create { options } => {
            let mut od = doc! {"idIndex": crate::store::id_index_spec()};
            od.extend(options.clone());
            d.insert("operationDescription", od);
        }
        Op::CreateIndex { spec } | Op::DropIndex { spec } => {
            d.insert("operationDescription", doc! {"indexes": [spec.clone()]});
        }
        Op::CollMod { desc, before, .. } => {
            d.insert("operationDescription", desc.clone());
            d.insert("stateBeforeChange", before.clone());
        }
        Op::Drop | Op::DropDatabase => {}
    }
    Ok(d)
}

fn update_description(desc: &UpdateDescription, post: &Document, expanded: bool) -> Document {
    let truncated: Vec<Bson> = desc
        .truncated_arrays
        .iter()
        .map(|(f, n)| Bson::Document(doc! {"field": f, "newSize": n}))
        .collect();
    let mut d = doc! {
        "updatedFields": desc.updated_fields.clone(),
        "removedFields": desc.removed_fields.clone(),
        "truncatedArrays": truncated,
    };
    if expanded {
        let mut paths = Document::new();
        let all = desc
            .updated_fields
            .keys()
            .chain(desc.removed_fields.iter())
            .chain(desc.truncated_arrays.iter().map(|(f, _)| f));
        for p in all {
            if let Some(parts) = disambiguate(p, post) {
                paths.insert(p.clone(), parts);
            }
        }
        d.insert("disambiguatedPaths", paths);
    }
    d
}

/// The components of `path` (array indexes as integers) when it is ambiguous, i.e. some
/// numeric component names a document field rather than an array element.
fn disambiguate(path: &str, post: &Document) -> Option<Vec<Bson>> {
    let mut parts = Vec::new();
    let mut ambiguous = false;
    let mut cur: Option<&Bson> = None;
    for (i, comp) in path.split('.').enumerate() {
        let numeric = !comp.is_empty() && comp.bytes().all(|b| b.is_ascii_digit());
        let container = if i == 0 { None } else { cur };
        match (container, numeric) {
            (Some(Bson::Array(a)), true) => {
                let idx: usize = comp.parse().ok()?;
                parts.push(Bson::Int32(idx as i32));
                cur = a.get(idx);
            }
            (container, _) => {
                ambiguous |= numeric;
                parts.push(Bson::String(comp.to_string()));
                cur = match (i, container) {
                    (0, _) => post.get(comp),
                    (_, Some(Bson::Document(d))) => d.get(comp),
                    _ => None,
                };
            }
        }
    }
    ambiguous.then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_field_names_are_ambiguous_array_indexes_are_not() {
        let post = doc! {"a": {"1": 2}, "arr": [{"1": 1}, 5]};
        assert_eq!(
            disambiguate("a.1", &post),
            Some(vec![Bson::from("a"), Bson::from("1")])
        );
        assert_eq!(
            disambiguate("arr.0.1", &post),
            Some(vec![Bson::from("arr"), Bson::Int32(0), Bson::from("1")])
        );
        assert_eq!(disambiguate("arr.1", &post), None);
        assert_eq!(disambiguate("x.y", &post), None);
    }
}
