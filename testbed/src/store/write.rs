//! CRUD writes: insert, update (multi, upsert, no-op detection), delete and findAndModify,
//! with ordered/unordered error handling. One oplog entry per changed document.

use super::collection::{Collection, Stored};
use super::keys::IdKey;
use super::oplog::Op;
use super::size::{doc_size, MAX_USER_SIZE};
use super::txn::Txn;
use super::{
    DeleteStatement, FindAndModify, FindAndModifyOutcome, Namespace, Store, UpdateStatement,
    WriteOptions, WriteOutcome,
};
use crate::collation::Collation;
use crate::compare::values_equal;
use crate::error::{code, CmdError, CmdResult};
use crate::matcher::Matcher;
use crate::projection::Projection;
use crate::sort::SortSpec;
use crate::update::{upsert_seed, ApplyMode, UpdateSpec};
use bson::{doc, oid::ObjectId, Bson, Document};
use std::sync::Arc;

/// `BSONObjectTooLarge` (10334) as mongod words it.
fn too_large(size: usize, doc: &Document) -> CmdError {
    let first = doc
        .iter()
        .next()
        .map(|(k, v)| format!("{k}: {v}"))
        .unwrap_or_default();
    CmdError::new(
        code::BSON_OBJECT_TOO_LARGE,
        "BSONObjectTooLarge",
        format!("BSONObj size: {size} (0x{size:X}) is invalid. Size must be between 0 and 16793600(16MB) First element: {first}"),
    )
}

/// Puts `_id` first (generating an ObjectId when missing) and validates it and the size.
fn prepare_insert(doc: Document) -> CmdResult<(Document, u32)> {
    let doc = match doc.keys().next().map(String::as_str) {
        Some("_id") => doc,
        _ => {
            let mut doc = doc;
            let id = doc
                .remove("_id")
                .unwrap_or_else(|| Bson::ObjectId(ObjectId::new()));
            let mut d = Document::new();
            d.insert("_id", id);
            d.extend(doc);
            d
        }
    };
    match doc.get("_id") {
        Some(Bson::Array(_)) => {
            return Err(CmdError::new(
                code::INVALID_ID_FIELD,
                "InvalidIdField",
                "The '_id' value cannot be of type array",
            ))
        }
        // mongod's insert path refuses these two as BadValue (SERVER-9502): a regex `_id`
        // could never be matched by equality, and undefined is deprecated.
        Some(Bson::RegularExpression(_)) => {
            return Err(CmdError::bad_value("can't use a regex for _id"))
        }
        Some(Bson::Undefined) => return Err(CmdError::bad_value("can't use a undefined for _id")),
        Some(Bson::Document(id)) => check_id_fields(id)?,
        _ => {}
    }
    let size = doc_size(&doc);
    if size > MAX_USER_SIZE {
        return Err(too_large(size, &doc));
    }
    Ok((doc, size as u32))
}

/// An `_id` document may not hold `$`-prefixed field names at any depth (52), as on mongod.
fn check_id_fields(id: &Document) -> CmdResult<()> {
    for (k, v) in id {
        if k.starts_with('$') {
            return Err(CmdError::new(
                code::DOLLAR_PREFIXED_FIELD_NAME,
                "DollarPrefixedFieldName",
                format!(
                    "_id fields may not contain '$'-prefixed fields: {k} is not valid for storage."
                ),
            ));
        }
        if let Bson::Document(inner) = v {
            check_id_fields(inner)?;
        }
    }
    Ok(())
}

/// `_id`s of the documents a statement targets, in `_id` order (or the first by `sort`).
fn matching_ids(
    c: &Collection,
    m: &Matcher,
    limit_one: bool,
    sort: Option<&SortSpec>,
) -> Vec<IdKey> {
    if let Some(id) = m.id_equality() {
        return c
            .docs
            .get_key_value(&IdKey(id.clone()))
            .filter(|(_, s)| m.matches(&s.doc))
            .map(|(k, _)| k.clone())
            .into_iter()
            .collect();
    }
    if let (Some(ids), None) = (m.id_in(), sort) {
        let mut keys: Vec<IdKey> = ids
            .iter()
            .filter_map(|id| c.docs.get_key_value(&IdKey(id.clone())))
            .filter(|(_, s)| m.matches(&s.doc))
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys.truncate(if limit_one { 1 } else { usize::MAX });
        return keys;
    }
    let mut hits = c.docs.iter().filter(|(_, s)| m.matches(&s.doc));
    match (sort, limit_one) {
        (Some(spec), true) => hits
            .min_by(|a, b| spec.compare(&a.1.doc, &b.1.doc))
            .map(|(k, _)| k.clone())
            .into_iter()
            .collect(),
        (None, true) => hits.next().map(|(k, _)| k.clone()).into_iter().collect(),
        (_, false) => hits.map(|(k, _)| k.clone()).collect(),
    }
}

impl Txn<'_> {
    /// Inserts one document (creating the collection implicitly); returns its `_id`.
    pub fn insert_one(&mut self, ns: &Namespace, doc: Document) -> CmdResult<Bson> {
        let (doc, size) = prepare_insert(doc)?;
        self.ensure_coll(ns, Document::new())?;
        if self
            .data
            .coll(ns)
            .is_some_and(|c| c.options.contains_key("viewOn"))
        {
            return Err(super::views::not_on_view(ns));
        }
        self.validate(ns, &doc, None)?;
        let c = self.data.coll_mut(ns).expect("ensured");
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        if c.docs.contains_key(&IdKey(id.clone())) {
            return Err(Collection::duplicate_id(ns, &id));
        }
        c.check_unique(ns, &doc, None)?;
        let doc = Arc::new(doc);
        c.put(doc.clone(), size);
        let uuid = c.uuid.clone();
        let over = c.over_cap();
        self.log(ns, Some(uuid), Op::Insert(doc));
        // Capped: the oldest documents make room, each an explicit delete (mongod 5.0+).
        for old in over {
            self.delete_doc(ns, &IdKey(old));
        }
        Ok(id)
    }

    /// Applies `spec` to the document `id`; false when nothing changed (no write, no entry).
    fn update_doc(&mut self, ns: &Namespace, id: &IdKey, spec: &UpdateSpec) -> CmdResult<bool> {
        let c = self.data.coll_mut(ns).expect("matched in this collection");
        let old: Arc<Document> = c.docs.get(id).expect("matched").doc.clone();
        let applied = spec.apply(&old, ApplyMode::Update)?;
        if !applied.changed {
            return Ok(false);
        }
        let mut new = applied.doc;
        match new.get("_id") {
            Some(v) if values_equal(v, &id.0) => {}
            Some(v) => {
                return Err(CmdError::new(
                    code::IMMUTABLE_FIELD,
                    "ImmutableField",
                    format!("After applying the update, the (immutable) field '_id' was found to have been altered to _id: {v}"),
                ))
            }
            None => {
                let mut d = doc! {"_id": id.0.clone()};
                d.extend(new);
                new = d;
            }
        }
        let size = doc_size(&new);
        if size > MAX_USER_SIZE {
            return Err(too_large(size, &new));
        }
        c.check_unique(ns, &new, Some(id))?;
        self.validate(ns, &new, Some(&old))?;
        let c = self.data.coll_mut(ns).expect("matched in this collection");
        let new = Arc::new(new);
        c.put(new.clone(), size as u32);
        let uuid = c.uuid.clone();
        let pre = c.records_pre_images().then_some(old);
        let op = if applied.as_delta {
            Op::Update {
                post: new,
                desc: applied.description,
            }
        } else {
            Op::Replace(new)
        };
        self.log_change(ns, Some(uuid), op, pre);
        Ok(true)
    }

    fn matching(
        &self,
        ns: &Namespace,
        m: &Matcher,
        limit_one: bool,
        sort: Option<&SortSpec>,
    ) -> Vec<IdKey> {
        self.data
            .coll(ns)
            .map(|c| matching_ids(c, m, limit_one, sort))
            .unwrap_or_default()
    }

    /// The collation a statement compares with: its own, else the collection's default.
    fn collation_for(
        &self,
        ns: &Namespace,
        spec: Option<&Document>,
    ) -> CmdResult<Option<Collation>> {
        match spec {
            Some(d) => Collation::parse(d),
            None => Ok(self.data.coll(ns).and_then(|c| c.collation.clone())),
        }
    }

    /// One update statement: `(n, nModified, upserted _id)`.
    fn update_stmt(
        &mut self,
        ns: &Namespace,
        st: &UpdateStatement,
    ) -> CmdResult<(u64, u64, Option<Bson>)> {
        let collation = self.collation_for(ns, st.collation.as_ref())?;
        let m = Matcher::with_collation(&st.filter, collation.as_ref())?;
        if st.multi && st.update.is_replacement() {
            return Err(CmdError::failed_to_parse(
                "multi update is not supported for replacement-style update",
            ));
        }
        let sort = st
            .sort
            .as_ref()
            .map(|s| Ok::<_, CmdError>(SortSpec::new(s)?.with_collation(collation.as_ref())))
            .transpose()?;
        let ids = self.matching(ns, &m, !st.multi, sort.as_ref());
        if ids.is_empty() {
            if !st.upsert {
                return Ok((0, 0, None));
            }
            let doc = upsert_doc(&st.filter, &st.update)?;
            let id = self.insert_one(ns, doc)?;
            return Ok((1, 0, Some(id)));
        }
        let (mut n, mut modified) = (0, 0);
        for id in &ids {
            n += 1;
            if self.update_doc(ns, id, &st.update)? {
                modified += 1;
            }
        }
        Ok((n, modified, None))
    }
}

/// The document an upsert inserts: the filter's equality fields updated by the operators or
/// the pipeline, or the replacement with the filter's `_id`.
fn upsert_doc(filter: &Document, spec: &UpdateSpec) -> CmdResult<Document> {
    let seed = upsert_seed(filter)?;
    match spec {
        UpdateSpec::Replacement(r) => {
            let mut d = Document::new();
            if let (false, Some(id)) = (r.contains_key("_id"), seed.get("_id")) {
                d.insert("_id", id.clone());
            }
            d.extend(r.clone());
            Ok(d)
        }
        UpdateSpec::Operators(_) | UpdateSpec::Pipeline(_) => {
            Ok(spec.apply(&seed, ApplyMode::UpsertInsert)?.doc)
        }
    }
}

impl Store {
    pub(super) fn insert_impl(
        &self,
        ns: &Namespace,
        docs: Vec<Document>,
        ordered: bool,
        opts: &WriteOptions,
    ) -> WriteOutcome {
        let mut out = WriteOutcome::default();
        let mut txn = Txn::begin(self);
        txn.bypass_validation = opts.bypass_validation;
        for (i, doc) in docs.into_iter().enumerate() {
            match txn.insert_one(ns, doc) {
                Ok(_) => out.n += 1,
                Err(e) => {
                    out.write_errors.push((i, e));
                    if ordered {
                        break;
                    }
                }
            }
        }
        out
    }

    pub(super) fn update_impl(
        &self,
        ns: &Namespace,
        stmts: &[UpdateStatement],
        ordered: bool,
        opts: &WriteOptions,
    ) -> WriteOutcome {
        let mut out = WriteOutcome::default();
        let mut txn = Txn::begin(self);
        txn.bypass_validation = opts.bypass_validation;
        for (i, st) in stmts.iter().enumerate() {
            match txn.update_stmt(ns, st) {
                Ok((n, m, up)) => {
                    out.n += n;
                    out.n_modified += m;
                    if let Some(id) = up {
                        out.upserted.push((i, id));
                    }
                }
                Err(e) => {
                    out.write_errors.push((i, e));
                    if ordered {
                        break;
                    }
                }
            }
        }
        out
    }

    pub(super) fn delete_impl(
        &self,
        ns: &Namespace,
        stmts: &[DeleteStatement],
        ordered: bool,
    ) -> WriteOutcome {
        let mut out = WriteOutcome::default();
        let mut txn = Txn::begin(self);
        for (i, st) in stmts.iter().enumerate() {
            let m = match txn
                .collation_for(ns, st.collation.as_ref())
                .and_then(|c| Matcher::with_collation(&st.filter, c.as_ref()))
            {
                Ok(m) => m,
                Err(e) => {
                    out.write_errors.push((i, e));
                    if ordered {
                        break;
                    }
                    continue;
                }
            };
            for id in txn.matching(ns, &m, st.limit_one, None) {
                txn.delete_doc(ns, &id);
                out.n += 1;
            }
        }
        out
    }

    pub(super) fn find_and_modify_impl(
        &self,
        ns: &Namespace,
        args: &FindAndModify,
        opts: &WriteOptions,
    ) -> CmdResult<FindAndModifyOutcome> {
        let mut txn = Txn::begin(self);
        txn.bypass_validation = opts.bypass_validation;
        let collation = txn.collation_for(ns, args.collation.as_ref())?;
        let m = Matcher::with_collation(&args.filter, collation.as_ref())?;
        let sort = args
            .sort
            .as_ref()
            .map(|s| Ok::<_, CmdError>(SortSpec::new(s)?.with_collation(collation.as_ref())))
            .transpose()?;
        let proj = args.fields.as_ref().map(Projection::new).transpose()?;
        let project = |d: Option<Document>| -> CmdResult<Option<Document>> {
            match (d, &proj) {
                (Some(d), Some(p)) => Ok(Some(p.apply(&d)?)),
                (d, _) => Ok(d),
            }
        };
        let target = txn.matching(ns, &m, true, sort.as_ref()).into_iter().next();
        if args.remove {
            let old = target.and_then(|id| txn.delete_doc(ns, &id));
            let n = i32::from(old.is_some());
            let value = project(old.map(|s| (*s.doc).clone()))?;
            return Ok(FindAndModifyOutcome {
                value,
                last_error_object: doc! {"n": n},
            });
        }
        let spec = args.update.as_ref().ok_or_else(|| {
            CmdError::failed_to_parse("Either an update or remove=true must be specified")
        })?;
        let current = |txn: &Txn, id: &Bson| {
            txn.data
                .coll(ns)
                .and_then(|c| c.get(id))
                .map(|s| (*s.doc).clone())
        };
        match target {
            Some(id) => {
                let old = current(&txn, &id.0);
                txn.update_doc(ns, &id, spec)?;
                let value = if args.return_new {
                    current(&txn, &id.0)
                } else {
                    old
                };
                Ok(FindAndModifyOutcome {
                    value: project(value)?,
                    last_error_object: doc! {"n": 1, "updatedExisting": true},
                })
            }
            None if args.upsert => {
                let id = txn.insert_one(ns, upsert_doc(&args.filter, spec)?)?;
                let value = if args.return_new {
                    current(&txn, &id)
                } else {
                    None
                };
                Ok(FindAndModifyOutcome {
                    value: project(value)?,
                    last_error_object: doc! {"n": 1, "updatedExisting": false, "upserted": id},
                })
            }
            None => Ok(FindAndModifyOutcome {
                value: None,
                last_error_object: doc! {"n": 0, "updatedExisting": false},
            }),
        }
    }
}

impl Txn<'_> {
    pub(super) fn delete_doc(&mut self, ns: &Namespace, id: &IdKey) -> Option<Stored> {
        let c = self.data.coll_mut(ns)?;
        let old = c.remove(id)?;
        let uuid = c.uuid.clone();
        let pre = c.records_pre_images().then(|| old.doc.clone());
        self.log_change(ns, Some(uuid), Op::Delete { id: id.0.clone() }, pre);
        Some(old)
    }
}
