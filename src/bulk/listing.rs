//! The collections of a database as `listCollections` describes them: name, type (collection,
//! view, time series), the UUID the copy follows a collection by (a rename keeps it), and the
//! create options. Only what the namespace scope selects is listed, named by key.

use crate::error::{Error, Origin, Result};
use crate::source::namespaces::Namespace;
use crate::source::Endpoint;
use bson::{Bson, Document};
use futures::TryStreamExt;
use mongodb::Database;
use std::collections::{BTreeSet, HashMap};

/// What `listCollections` says a namespace is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Collection,
    View,
    Timeseries,
}

/// One entry of `listCollections`.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub name: String,
    pub kind: Kind,
    /// `info.uuid` as lowercase hex (a view has none).
    pub uuid: Option<String>,
    /// `options`, as `create` takes them.
    pub options: Document,
}

/// Every collection, view and time series the scope selects on the source, named by key and
/// sorted. Two names going to one target (globs meet names only here) is a configuration
/// error naming the rule.
pub async fn list(source: &Endpoint, origin: Origin) -> Result<Vec<Listed>> {
    let scope = source.scope();
    let dbs = match scope.single_database() {
        Some(db) => vec![db.to_string()],
        None => source
            .client()
            .list_database_names()
            .await
            .map_err(|e| Error::from_driver(origin, "listing databases", &e))?,
    };
    let (mut out, mut names) = (Vec::new(), Vec::new());
    for db in dbs {
        for mut l in read(&source.client().database(&db), Document::new(), origin).await? {
            let ns = Namespace::new(&db, &l.name);
            if let Some(key) = scope.key(&ns) {
                l.name = key;
                out.push(l);
                names.push(ns);
            }
        }
    }
    scope.check_distinct(&names)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The target collections that are images of `keys` (the source's listing), or that the
/// default mapping read backwards explains (a collection the source no longer has), named by
/// key and sorted. Only the target databases the mapping uses are listed.
pub async fn list_target(
    target: &Endpoint,
    keys: &[String],
    origin: Origin,
) -> Result<Vec<Listed>> {
    let scope = target.scope();
    let by_target: HashMap<Namespace, &String> =
        keys.iter().map(|k| (scope.target_of(k), k)).collect();
    let mut dbs: BTreeSet<String> = by_target.keys().map(|n| n.db.clone()).collect();
    dbs.insert(scope.default_target_database());
    let mut out = Vec::new();
    for db in dbs {
        for mut l in read(&target.client().database(&db), Document::new(), origin).await? {
            let ns = Namespace::new(&db, &l.name);
            let key = match by_target.get(&ns) {
                Some(k) => Some(k.to_string()),
                None => scope.key_of_target(&ns),
            };
            if let Some(key) = key {
                l.name = key;
                source_view_on(&mut l, &db, &by_target, scope);
                out.push(l);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A target view's `viewOn` named as on the source (the copy and the tail write the target's
/// name, `apply::ddl`), so both listings compare equal.
fn source_view_on(
    l: &mut Listed,
    db: &str,
    by_target: &HashMap<Namespace, &String>,
    scope: &crate::source::namespaces::Scope,
) {
    if l.kind != Kind::View {
        return;
    }
    let Ok(view_on) = l.options.get_str("viewOn") else {
        return;
    };
    if let Some(key) = by_target.get(&Namespace::new(db, view_on)) {
        let source_name = scope.source_of(key).coll;
        l.options.insert("viewOn", source_name);
    }
}

/// The entry of `key` on `side`, if it exists (named by key).
pub async fn list_one(side: &Endpoint, key: &str, origin: Origin) -> Result<Option<Listed>> {
    let (db, name) = side.locate(key);
    let mut found = read(&db, bson::doc! {"name": name}, origin).await?.pop();
    if let Some(l) = found.as_mut() {
        l.name = key.to_string();
    }
    Ok(found)
}

async fn read(db: &Database, filter: Document, origin: Origin) -> Result<Vec<Listed>> {
    let mut cursor = db
        .list_collections()
        .filter(filter)
        .await
        .map_err(|e| Error::from_driver(origin, "listing collections", &e))?;
    let mut out = Vec::new();
    while let Some(spec) = cursor
        .try_next()
        .await
        .map_err(|e| Error::from_driver(origin, "listing collections", &e))?
    {
        let raw = bson::to_document(&spec)
            .map_err(|e| Error::malformed(origin, "listing collections", e.to_string()))?;
        if let Some(listed) = parse(&raw) {
            out.push(listed);
        }
    }
    Ok(out)
}

/// One `listCollections` entry (pure); `None` for a type this version does not know.
pub fn parse(spec: &Document) -> Option<Listed> {
    let name = spec.get_str("name").ok()?.to_string();
    let kind = match spec.get_str("type").unwrap_or("collection") {
        "collection" => Kind::Collection,
        "view" => Kind::View,
        "timeseries" => Kind::Timeseries,
        _ => return None,
    };
    let uuid = match spec.get_document("info").ok().and_then(|i| i.get("uuid")) {
        Some(Bson::Binary(b)) => Some(hex(&b.bytes)),
        _ => None,
    };
    let options = spec.get_document("options").cloned().unwrap_or_default();
    Some(Listed {
        name,
        kind,
        uuid,
        options,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key of a collection's copy progress in the checkpoint: its UUID (a rename keeps it),
/// else its name.
pub fn progress_key(l: &Listed) -> String {
    l.uuid.clone().unwrap_or_else(|| l.name.clone())
}

/// The current name of the collection with `uuid`, if the listing has it.
pub fn name_of<'a>(listed: &'a [Listed], uuid: &str) -> Option<&'a str> {
    listed
        .iter()
        .find(|l| l.uuid.as_deref() == Some(uuid))
        .map(|l| l.name.as_str())
}

/// `options` as `create` takes them: the `v` that `listCollections` shows in `clusteredIndex`
/// is not an argument.
pub fn create_options(l: &Listed) -> Document {
    let mut options = l.options.clone();
    if let Ok(clustered) = options.get_document_mut("clusteredIndex") {
        clustered.remove("v");
    }
    options
}

/// How one option differs between the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionDifference {
    MissingOnTarget,
    Differs,
    OnlyOnTarget,
}

/// The options that differ between `source` and `target` (pure): the source's in their order,
/// then those only the target has. `verify` reports them, a copy aligns them.
pub fn differing_options<'a>(
    source: &'a Document,
    target: &'a Document,
) -> Vec<(&'a str, OptionDifference)> {
    let mut out = Vec::new();
    for (k, v) in source {
        match target.get(k) {
            None => out.push((k.as_str(), OptionDifference::MissingOnTarget)),
            Some(tv) if !same_value(v, tv) => out.push((k.as_str(), OptionDifference::Differs)),
            _ => {}
        }
    }
    for k in target.keys().filter(|k| !source.contains_key(*k)) {
        out.push((k.as_str(), OptionDifference::OnlyOnTarget));
    }
    out
}

/// How the options of one namespace differ between the sides (pure), one line per option by
/// name only (a validator is compared, never printed); nothing when either side lacks it.
pub fn option_differences(source: Option<&Listed>, target: Option<&Listed>) -> Vec<String> {
    let (Some(s), Some(t)) = (source, target) else {
        return Vec::new();
    };
    if s.kind != t.kind {
        return vec![format!(
            "type: {:?} on the source, {:?} on the target",
            s.kind, t.kind
        )];
    }
    differing_options(&s.options, &t.options)
        .into_iter()
        .map(|(k, d)| match d {
            OptionDifference::MissingOnTarget => format!("option {k}: missing on the target"),
            OptionDifference::Differs => format!("option {k}: differs"),
            OptionDifference::OnlyOnTarget => format!("option {k}: only on the target"),
        })
        .collect()
}

/// Equal as options: numbers by value (`size: 4096` and `size: 4096.0` are one size).
fn same_value(a: &Bson, b: &Bson) -> bool {
    let num = |v: &Bson| match v {
        Bson::Int32(i) => Some(*i as f64),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::spec::BinarySubtype;
    use bson::{doc, Binary};

    #[test]
    fn parses_kind_uuid_and_options() {
        let uuid = Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![0xab, 0x01],
        };
        let c = parse(&doc! {"name": "c", "type": "collection", "options": {"capped": true, "size": 4096}, "info": {"uuid": uuid}}).unwrap();
        assert_eq!(c.kind, Kind::Collection);
        assert_eq!(c.uuid.as_deref(), Some("ab01"));
        assert_eq!(c.options, doc! {"capped": true, "size": 4096});
        assert_eq!(progress_key(&c), "ab01");
        let v =
            parse(&doc! {"name": "v", "type": "view", "options": {"viewOn": "c", "pipeline": []}})
                .unwrap();
        assert_eq!((v.kind, v.uuid.clone()), (Kind::View, None));
        assert_eq!(progress_key(&v), "v");
        assert_eq!(parse(&doc! {"name": "x", "type": "other"}), None);
        assert_eq!(name_of(&[c, v], "ab01"), Some("c"));
    }

    #[test]
    fn option_differences_name_the_option_and_never_its_value() {
        let l = |kind, options| Listed {
            name: "c".into(),
            kind,
            uuid: None,
            options,
        };
        let s = l(
            Kind::Collection,
            doc! {"capped": true, "size": 4096, "validator": {"a": "secret"}},
        );
        let same = l(
            Kind::Collection,
            doc! {"capped": true, "size": 4096.0, "validator": {"a": "secret"}},
        );
        assert!(option_differences(Some(&s), Some(&same)).is_empty());
        let t = l(
            Kind::Collection,
            doc! {"size": 4096, "validator": {"a": "other"}, "max": 5},
        );
        let d = option_differences(Some(&s), Some(&t));
        assert_eq!(
            d,
            vec![
                "option capped: missing on the target",
                "option validator: differs",
                "option max: only on the target"
            ]
        );
        assert!(!d.concat().contains("secret"));
        let v = l(Kind::View, doc! {});
        assert_eq!(option_differences(Some(&s), Some(&v)).len(), 1);
        assert!(option_differences(Some(&s), None).is_empty());
        let clustered = l(
            Kind::Collection,
            doc! {"clusteredIndex": {"key": {"_id": 1}, "unique": true, "v": 2}},
        );
        assert_eq!(
            create_options(&clustered),
            doc! {"clusteredIndex": {"key": {"_id": 1}, "unique": true}}
        );
    }
}
