//! Read-only views: a "collection" whose options hold `viewOn` and `pipeline`. Reads run the
//! pipeline over the source (resolved through views of views); writes are refused (166).

use super::{Namespace, Store};
use crate::error::{code, CmdError, CmdResult};
use bson::{Bson, Document};

/// Views may stack this deep, as on mongod.
const MAX_VIEW_DEPTH: usize = 20;

/// `(viewOn, pipeline)` from a view's options.
fn parse(options: &Document) -> Option<(String, Vec<Document>)> {
    let on = options.get_str("viewOn").ok()?;
    let pipeline = options
        .get_array("pipeline")
        .map(|a| a.iter().filter_map(|s| s.as_document().cloned()).collect())
        .unwrap_or_default();
    Some((on.to_string(), pipeline))
}

/// Checks `create` options naming a view: `viewOn` a non-empty string, `pipeline` documents.
pub(crate) fn check_view_options(options: &Document) -> CmdResult<()> {
    match options.get("viewOn") {
        None => {
            if options.contains_key("pipeline") {
                return Err(CmdError::bad_value(
                    "'pipeline' requires 'viewOn' to also be specified",
                ));
            }
            return Ok(());
        }
        Some(Bson::String(s)) if !s.is_empty() => {}
        Some(_) => {
            return Err(CmdError::type_mismatch(
                "'viewOn' must be a non-empty string",
            ))
        }
    }
    match options.get("pipeline") {
        None => Ok(()),
        Some(Bson::Array(a)) if a.iter().all(|s| matches!(s, Bson::Document(_))) => {
            let stages: Vec<Document> = a.iter().filter_map(|s| s.as_document().cloned()).collect();
            crate::pipeline::Pipeline::new(&stages).map(|_| ())
        }
        Some(_) => Err(CmdError::type_mismatch(
            "'pipeline' must be an array of objects",
        )),
    }
}

/// CommandNotSupportedOnView (166).
pub(crate) fn not_on_view(ns: &Namespace) -> CmdError {
    CmdError::new(
        code::COMMAND_NOT_SUPPORTED_ON_VIEW,
        "CommandNotSupportedOnView",
        format!("Namespace {ns} is a view, not a collection"),
    )
}

impl Store {
    /// The options `ns` was created with (`None` when it does not exist).
    pub fn collection_options(&self, ns: &Namespace) -> Option<Document> {
        self.data.read().coll(ns).map(|c| c.options.clone())
    }

    /// `(viewOn, pipeline)` when `ns` is a view.
    pub fn view_of(&self, ns: &Namespace) -> Option<(String, Vec<Document>)> {
        parse(&self.data.read().coll(ns)?.options)
    }

    /// For a view: the collection it finally reads and the whole pipeline to run over it.
    pub fn resolve_view(&self, ns: &Namespace) -> Option<(Namespace, Vec<Document>)> {
        let (mut on, mut stages) = self.view_of(ns)?;
        let mut source = Namespace::new(&ns.db, on);
        for _ in 0..MAX_VIEW_DEPTH {
            match self.view_of(&source) {
                Some((next, mut inner)) => {
                    inner.append(&mut stages);
                    stages = inner;
                    on = next;
                    source = Namespace::new(&ns.db, on);
                }
                None => break,
            }
        }
        Some((source, stages))
    }
}
