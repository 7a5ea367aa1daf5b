//! The writing stages of `aggregate`: `$out` (replace a collection's contents with the results,
//! through a temporary collection renamed over the target, keeping its indexes and options, as
//! mongod does) and `$merge` (per result document: `whenMatched` × `whenNotMatched`).

use crate::error::{code, CmdError, CmdResult};
use crate::matcher::Matcher;
use crate::server::ServerState;
use crate::store::{Namespace, UpdateStatement, WriteOptions, WriteOutcome};
use crate::update::UpdateSpec;
use bson::{doc, oid::ObjectId, Bson, Document};

/// A parsed `$out` or `$merge` (always the last stage).
#[derive(Debug, Clone)]
pub(super) enum Output {
    Out(Namespace),
    Merge(Merge),
}

#[derive(Debug, Clone)]
pub(super) struct Merge {
    into: Namespace,
    on: Vec<String>,
    when_matched: WhenMatched,
    when_not_matched: WhenNotMatched,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WhenMatched {
    Replace,
    KeepExisting,
    Merge,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WhenNotMatched {
    Insert,
    Discard,
    Fail,
}

/// `"coll"` or `{db, coll}` (`$out`) / `{db, coll}` (`$merge.into`).
fn target(db: &str, v: &Bson, stage: &str) -> CmdResult<Namespace> {
    match v {
        Bson::String(coll) => Ok(Namespace::new(db, coll.clone())),
        Bson::Document(d) => {
            let coll = d.get_str("coll").map_err(|_| {
                CmdError::failed_to_parse(format!("{stage} requires a 'coll' string"))
            })?;
            Ok(Namespace::new(d.get_str("db").unwrap_or(db), coll))
        }
        _ => Err(CmdError::failed_to_parse(format!(
            "{stage} target must be a string or an object"
        ))),
    }
}

impl Output {
    /// Parses the stage when it is `$out`/`$merge`; `None` for any other stage.
    pub(super) fn parse(db: &str, stage: &Document) -> CmdResult<Option<Output>> {
        if let Some(v) = stage.get("$out") {
            return Ok(Some(Output::Out(target(db, v, "$out")?)));
        }
        let Some(v) = stage.get("$merge") else {
            return Ok(None);
        };
        let spec = match v {
            Bson::Document(d) => d.clone(),
            other => doc! { "into": other.clone() },
        };
        let into = target(
            db,
            spec.get("into")
                .ok_or_else(|| CmdError::failed_to_parse("$merge requires 'into'"))?,
            "$merge",
        )?;
        let on = match spec.get("on") {
            None => vec!["_id".to_string()],
            Some(Bson::String(s)) => vec![s.clone()],
            Some(Bson::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| CmdError::type_mismatch("$merge 'on' must hold strings"))?,
            Some(_) => {
                return Err(CmdError::type_mismatch(
                    "$merge 'on' must be a string or an array",
                ))
            }
        };
        let when_matched = match spec.get("whenMatched") {
            None => WhenMatched::Merge,
            Some(Bson::String(s)) => match s.as_str() {
                "replace" => WhenMatched::Replace,
                "keepExisting" => WhenMatched::KeepExisting,
                "merge" => WhenMatched::Merge,
                "fail" => WhenMatched::Fail,
                other => {
                    return Err(CmdError::bad_value(format!(
                        "Enumeration value '{other}' for field 'whenMatched' is not a valid value."
                    )))
                }
            },
            Some(Bson::Array(_)) => {
                return Err(CmdError::bad_value(
                    "$merge with a pipeline whenMatched is not supported by mongo-testbed",
                ))
            }
            Some(_) => {
                return Err(CmdError::type_mismatch(
                    "$merge 'whenMatched' must be a string",
                ))
            }
        };
        let when_not_matched = match spec.get_str("whenNotMatched") {
            Err(_) if !spec.contains_key("whenNotMatched") => WhenNotMatched::Insert,
            Ok("insert") => WhenNotMatched::Insert,
            Ok("discard") => WhenNotMatched::Discard,
            Ok("fail") => WhenNotMatched::Fail,
            _ => {
                return Err(CmdError::bad_value(
                    "'whenNotMatched' must be one of insert, discard, fail",
                ))
            }
        };
        Ok(Some(Output::Merge(Merge {
            into,
            on,
            when_matched,
            when_not_matched,
        })))
    }

    /// Writes the pipeline's results.
    pub(super) fn write(
        &self,
        state: &ServerState,
        docs: Vec<Document>,
        opts: &WriteOptions,
    ) -> CmdResult<()> {
        match self {
            Output::Out(ns) => out(state, ns, docs, opts),
            Output::Merge(m) => m.write(state, docs, opts),
        }
    }
}

fn first_error(outcome: WriteOutcome) -> CmdResult<()> {
    match outcome.write_errors.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

fn not_on_view(state: &ServerState, ns: &Namespace, stage: &str) -> CmdResult<()> {
    if state.store.view_of(ns).is_some() {
        return Err(CmdError::new(
            code::COMMAND_NOT_SUPPORTED_ON_VIEW,
            "CommandNotSupportedOnView",
            format!("Cannot write the results of {stage} to a view: {ns}"),
        ));
    }
    Ok(())
}

fn out(
    state: &ServerState,
    target: &Namespace,
    docs: Vec<Document>,
    opts: &WriteOptions,
) -> CmdResult<()> {
    not_on_view(state, target, "$out")?;
    let store = &state.store;
    let tmp = Namespace::new(
        &target.db,
        format!("tmp.agg_out.{}", ObjectId::new().to_hex()),
    );
    let options = store.collection_options(target).unwrap_or_default();
    store.create_collection(&tmp, options)?;
    let result = (|| {
        if let Ok(indexes) = store.list_indexes(target) {
            let specs: Vec<Document> = indexes
                .into_iter()
                .filter(|s| s.get_str("name") != Ok("_id_"))
                .collect();
            if !specs.is_empty() {
                store.create_indexes(&tmp, specs)?;
            }
        }
        if !docs.is_empty() {
            first_error(store.insert_with(&tmp, docs, true, opts))?;
        }
        store.rename_collection(&tmp, target, true)
    })();
    if result.is_err() {
        let _ = store.drop_collection(&tmp);
    }
    result
}

impl Merge {
    fn write(
        &self,
        state: &ServerState,
        docs: Vec<Document>,
        opts: &WriteOptions,
    ) -> CmdResult<()> {
        not_on_view(state, &self.into, "$merge")?;
        let store = &state.store;
        for mut d in docs {
            if !d.contains_key("_id") {
                let mut with_id = doc! { "_id": ObjectId::new() };
                with_id.extend(d);
                d = with_id;
            }
            let mut filter = Document::new();
            for field in &self.on {
                match crate::path::get_path(&d, field) {
                    Some(v) if !matches!(v, Bson::Null | Bson::Array(_)) => {
                        filter.insert(field.clone(), v.clone());
                    }
                    _ => {
                        return Err(CmdError::new(
                            51132,
                            "Location51132",
                            "$merge write error: 'on' field cannot be missing, null, undefined or an array",
                        ))
                    }
                }
            }
            let mut existing = None;
            store.scan(&self.into, &Matcher::new(&filter)?, &mut |found| {
                existing = found.get("_id").cloned();
                false
            });
            match (existing, self.when_matched, self.when_not_matched) {
                (Some(_), WhenMatched::KeepExisting, _) => {}
                (Some(_), WhenMatched::Fail, _) | (None, _, WhenNotMatched::Insert) => {
                    // An insert: a matched document surfaces as E11000 on the `on` key, as on mongod.
                    first_error(store.insert_with(&self.into, vec![d], true, opts))?;
                }
                (Some(id), WhenMatched::Replace | WhenMatched::Merge, _) => {
                    let update = if self.when_matched == WhenMatched::Replace {
                        UpdateSpec::parse(&d)?
                    } else {
                        UpdateSpec::parse(&doc! { "$set": d })?
                    };
                    let st = UpdateStatement {
                        filter: doc! { "_id": id },
                        update,
                        upsert: false,
                        multi: false,
                        sort: None,
                        collation: None,
                    };
                    first_error(store.update_with(&self.into, &[st], true, opts))?;
                }
                (None, _, WhenNotMatched::Discard) => {}
                (None, _, WhenNotMatched::Fail) => {
                    return Err(CmdError::new(
                        13113,
                        "MergeStageNoMatchingDocument",
                        "$merge could not find a matching document in the target collection for at least one document in the source collection",
                    ))
                }
            }
        }
        Ok(())
    }
}
