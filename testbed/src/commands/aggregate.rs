//! `aggregate`: on a collection (or a view: its pipeline runs first), at database level with a
//! collection-less first stage (`$documents`, `$listLocalSessions`), with `$changeStream`, and
//! with a writing last stage (`$out`, `$merge`: the reply's cursor is then empty).

use super::merge::Output;
use super::{args, change_stream, read, read_concern};
use crate::error::{code, CmdError, CmdResult};
use crate::pipeline::Pipeline;
use crate::server::ServerState;
use crate::store::WriteOptions;
use bson::{Bson, Document};
use std::sync::Arc;

/// `$changeStream` on a server that is not a replica set member (mongod's 40573).
pub(super) fn change_streams_unsupported() -> CmdError {
    CmdError::new(
        40573,
        "Location40573",
        "The $changeStream stage is only supported on replica sets",
    )
}

/// What feeds a database-level pipeline.
fn db_level_source(state: &ServerState, stage: &Document) -> CmdResult<Vec<Document>> {
    let (name, spec) = stage.iter().next().expect("stages have one field");
    match (name.as_str(), spec) {
        ("$documents", Bson::Array(items)) => items
            .iter()
            .map(|v| match v {
                Bson::Document(d) => Ok(d.clone()),
                _ => Err(CmdError::type_mismatch("$documents must hold objects")),
            })
            .collect(),
        ("$documents", _) => Err(CmdError::type_mismatch(
            "$documents must be an array of objects",
        )),
        ("$listLocalSessions", Bson::Document(_)) => Ok(state.sessions.list()),
        ("$listLocalSessions", _) => Err(CmdError::type_mismatch(
            "$listLocalSessions must take a nested object",
        )),
        (other, _) => Err(CmdError::new(
            code::INVALID_NAMESPACE,
            "InvalidNamespace",
            format!("{{aggregate: 1}} is not valid for '{other}'; a collection is required."),
        )),
    }
}

pub(super) async fn aggregate(
    state: &Arc<ServerState>,
    db: &str,
    cmd: &Document,
) -> CmdResult<Document> {
    let mut stages = args::doc_array(cmd, "pipeline")?;
    if cmd.contains_key("explain") {
        return Err(CmdError::bad_value(
            "explain is not supported by mongo-testbed",
        ));
    }
    if !cmd.contains_key("cursor") {
        return Err(CmdError::failed_to_parse("The 'cursor' option is required"));
    }
    let batch_size = args::cursor_batch_size(cmd)?;
    if let Some(stage) = stages
        .first()
        .and_then(|s| s.get_document("$changeStream").ok())
    {
        if state.standalone {
            return Err(change_streams_unsupported());
        }
        return change_stream::open(state, db, cmd, stage, &stages[1..], batch_size).await;
    }
    let output = match stages.last() {
        Some(last) => Output::parse(db, last)?,
        None => None,
    };
    if output.is_some() {
        let stage = stages.pop().expect("last exists");
        let level = args::opt_doc(cmd, "readConcern")?.and_then(|rc| rc.get_str("level").ok());
        if level == Some("linearizable") {
            let name = stage.keys().next().expect("one field");
            return Err(CmdError::new(
                code::INVALID_OPTIONS,
                "InvalidOptions",
                format!("{name} cannot be used with a 'linearizable' read concern level"),
            ));
        }
    }
    for s in &stages {
        if s.contains_key("$out") || s.contains_key("$merge") {
            let name = s.keys().next().expect("checked");
            return Err(CmdError::new(
                40601,
                "Location40601",
                format!("{name} can only be the final stage in the pipeline"),
            ));
        }
    }
    let snapshot = read_concern::snapshot(cmd)?;
    let mut read_at = None;
    let (ns, docs) = match cmd.get("aggregate") {
        Some(Bson::String(_)) => {
            let ns = args::namespace(db, cmd, "aggregate")?;
            let collation = read::collation(state, &ns, cmd)?;
            let pipeline = Pipeline::with_collation(&stages, collation.as_ref())?;
            let filter = pipeline.leading_match().cloned().unwrap_or_default();
            let (docs, at) =
                read::collect_snapshot(state, &ns, &filter, None, collation.as_ref(), snapshot)?;
            read_at = at;
            (ns.to_string(), pipeline.run(docs)?)
        }
        Some(Bson::Int32(1)) | Some(Bson::Int64(1)) | Some(Bson::Double(1.0)) => {
            let Some(first) = stages.first() else {
                return Err(CmdError::new(
                    code::INVALID_NAMESPACE,
                    "InvalidNamespace",
                    "{aggregate: 1} requires a collection-less first stage",
                ));
            };
            let input = db_level_source(state, first)?;
            let docs = Pipeline::new(&stages[1..])?.run(input)?;
            (format!("{db}.$cmd.aggregate"), docs)
        }
        _ => {
            return Err(CmdError::new(
                code::INVALID_NAMESPACE,
                "InvalidNamespace",
                "aggregate must name a collection or be 1",
            ))
        }
    };
    if let Some(output) = output {
        let opts = WriteOptions {
            bypass_validation: args::flag(cmd, "bypassDocumentValidation"),
        };
        output.write(state, docs, &opts)?;
        return Ok(read::open_cursor(
            state,
            ns,
            Default::default(),
            None,
            false,
        ));
    }
    let reply = read::open_cursor(state, ns, docs.into(), batch_size, false);
    Ok(read_concern::stamp_cursor(reply, read_at))
}
