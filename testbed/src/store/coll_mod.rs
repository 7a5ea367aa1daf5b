//! `collMod` as mongod does it: validation options (`validator`, `validationLevel`,
//! `validationAction`), `changeStreamPreAndPostImages`, and one index's `expireAfterSeconds`
//! or `hidden` (found by `name` or `keyPattern`). The reply carries `expireAfterSeconds_old/new`
//! and `hidden_old/new` for what changed; the oplog entry carries the change as the `modify`
//! event shows it (`operationDescription`) and the state before it (`stateBeforeChange`).

use super::index::{Index, ID_INDEX};
use super::oplog::Op;
use super::txn::Txn;
use super::{Namespace, Store};
use crate::error::{code, CmdError, CmdResult};
use bson::{doc, Bson, Document};

/// Collection options `collMod` may change (besides `index`).
const COLLECTION_OPTIONS: &[&str] = &[
    "validator",
    "validationLevel",
    "validationAction",
    "changeStreamPreAndPostImages",
];

fn invalid(msg: impl Into<String>) -> CmdError {
    CmdError::new(code::INVALID_OPTIONS, "InvalidOptions", msg)
}

/// What one `index` clause asks for.
struct IndexMod {
    expire_after: Option<Bson>,
    hidden: Option<bool>,
}

/// A number of seconds as an integer (doubles truncated, as mongod).
pub(crate) fn seconds(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) if d.is_finite() => Some(*d as i64),
        _ => None,
    }
}

fn parse_index_mod(spec: &Bson) -> CmdResult<(Option<String>, Option<Document>, IndexMod)> {
    let Bson::Document(spec) = spec else {
        return Err(CmdError::type_mismatch("'index' must be an object"));
    };
    let name = spec.get_str("name").ok().map(str::to_string);
    let key = spec.get_document("keyPattern").ok().cloned();
    match (&name, &key) {
        (Some(_), Some(_)) => return Err(invalid("Cannot specify both key pattern and name.")),
        (None, None) => return Err(invalid("Must specify either index name or key pattern.")),
        _ => {}
    }
    let expire_after = match spec.get("expireAfterSeconds") {
        None => None,
        Some(v) => match seconds(v) {
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Some(v.clone()),
            Some(_) => {
                return Err(CmdError::bad_value(format!(
                "TTL index 'expireAfterSeconds' option must be within an acceptable range, got {v}"
            )))
            }
            None => {
                return Err(CmdError::type_mismatch(
                    "expireAfterSeconds must be a number",
                ))
            }
        },
    };
    let hidden = match spec.get("hidden") {
        None => None,
        Some(Bson::Boolean(b)) => Some(*b),
        Some(_) => return Err(CmdError::type_mismatch("'hidden' must be a boolean")),
    };
    if expire_after.is_none() && hidden.is_none() {
        return Err(invalid("no expireAfterSeconds or hidden field to update"));
    }
    Ok((
        name,
        key,
        IndexMod {
            expire_after,
            hidden,
        },
    ))
}

/// Applies `m` to `idx`: returns the reply fields, the new values (`operationDescription.index`)
/// and the old ones (`stateBeforeChange.indexOptions`).
fn modify_index(idx: &mut Index, m: &IndexMod) -> CmdResult<(Document, Document, Document)> {
    let (mut reply, mut new, mut old) =
        (Document::new(), doc! {"name": &idx.name}, Document::new());
    if let Some(secs) = &m.expire_after {
        if idx.name == ID_INDEX || idx.key.len() != 1 {
            return Err(invalid(
                "TTL indexes are single-field indexes, compound indexes do not support TTL",
            ));
        }
        let was = idx.spec.get("expireAfterSeconds").cloned();
        if was.as_ref().and_then(seconds) != seconds(secs) {
            if let Some(w) = &was {
                reply.insert("expireAfterSeconds_old", w.clone());
                old.insert("expireAfterSeconds", w.clone());
            }
            reply.insert("expireAfterSeconds_new", secs.clone());
            idx.spec.insert("expireAfterSeconds", secs.clone());
        }
        new.insert("expireAfterSeconds", secs.clone());
    }
    if let Some(hidden) = m.hidden {
        if idx.name == ID_INDEX {
            return Err(CmdError::bad_value("can't hide _id index"));
        }
        let was = idx.spec.get_bool("hidden").unwrap_or(false);
        if was != hidden {
            reply.insert("hidden_old", was);
            reply.insert("hidden_new", hidden);
        }
        match hidden {
            true => idx.spec.insert("hidden", true),
            false => idx.spec.remove("hidden"),
        };
        old.insert("hidden", was);
        new.insert("hidden", hidden);
    }
    Ok((reply, new, old))
}

/// Applies the `index` part of a logged `collMod` to a collection's index (journal replay).
pub(crate) fn replay_index(indexes: &mut [Index], desc: &Document) {
    let Ok(index) = desc.get_document("index") else {
        return;
    };
    let Some(idx) = indexes
        .iter_mut()
        .find(|i| Some(i.name.as_str()) == index.get_str("name").ok())
    else {
        return;
    };
    let m = IndexMod {
        expire_after: index.get("expireAfterSeconds").cloned(),
        hidden: index.get_bool("hidden").ok(),
    };
    let _ = modify_index(idx, &m);
}

impl Store {
    /// `collMod`: the reply's fields (`expireAfterSeconds_old/new`, `hidden_old/new`).
    pub fn coll_mod(&self, ns: &Namespace, changes: &Document) -> CmdResult<Document> {
        let mut index_mod = None;
        let mut options = Document::new();
        for (k, v) in changes {
            match k.as_str() {
                "index" => index_mod = Some(parse_index_mod(v)?),
                "changeStreamPreAndPostImages" => match v {
                    Bson::Document(d) if matches!(d.get("enabled"), Some(Bson::Boolean(_))) => {
                        options.insert(k.clone(), v.clone());
                    }
                    _ => {
                        return Err(CmdError::failed_to_parse(
                            "changeStreamPreAndPostImages must be {enabled: <bool>}",
                        ))
                    }
                },
                k if COLLECTION_OPTIONS.contains(&k) => {
                    options.insert(k, v.clone());
                }
                _ => {
                    return Err(invalid(format!(
                        "collMod option '{k}' is not supported by mongo-testbed"
                    )))
                }
            }
        }
        super::validation::check_options(&options)?;
        let mut txn = Txn::begin(self);
        let c = txn
            .data
            .coll_mut(ns)
            .ok_or_else(|| CmdError::namespace_not_found(format!("ns does not exist: {ns}")))?;
        if c.options.contains_key("viewOn") {
            return Err(invalid(
                "collMod of a view's options is not supported by mongo-testbed",
            ));
        }
        let mut before = doc! {"collectionOptions": {"uuid": c.uuid.clone()}};
        if let Ok(b) = before.get_document_mut("collectionOptions") {
            b.extend(c.options.clone());
        }
        let mut desc = options.clone();
        let mut reply = Document::new();
        if let Some((name, key, m)) = &index_mod {
            let found = c.indexes.iter_mut().find(|i| match (name, key) {
                (Some(n), _) => &i.name == n,
                (None, Some(k)) => &i.key == k,
                _ => false,
            });
            let Some(idx) = found else {
                let what = name.clone().unwrap_or_else(|| format!("{key:?}"));
                return Err(CmdError::new(
                    code::INDEX_NOT_FOUND,
                    "IndexNotFound",
                    format!("cannot find index {what} for ns {ns}"),
                ));
            };
            let (r, new, old) = modify_index(idx, m)?;
            reply = r;
            desc.insert("index", new);
            before.insert("indexOptions", old);
        }
        if desc.is_empty() {
            return Ok(reply);
        }
        c.options.extend(options);
        let (options, uuid) = (c.options.clone(), c.uuid.clone());
        txn.log(
            ns,
            Some(uuid),
            Op::CollMod {
                options,
                desc,
                before,
            },
        );
        Ok(reply)
    }
}
