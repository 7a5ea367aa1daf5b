//! What a batch becomes on the target. Pure parts: coalescing ([`batch`]), statement shapes,
//! statement order ([`plan`]). I/O parts: re-reading documents from the source (`fetch`), sending
//! commands and classifying their replies (`target`), DDL ([`ddl`]). Every write is
//! idempotent, so a failed command is simply sent again.

pub mod batch;
pub mod ddl;
mod fetch;
pub mod plan;
mod statements;
mod target;

pub use batch::{BatchBuilder, BatchPlan, CollectionPlan};
pub use fetch::{collection_uuid, FetchOutcome, Fetched};
pub use statements::{delete_statement, delta_statements, raw, upsert_statement};
pub use target::{
    check_statements_reply, check_write_reply, refused_context, run_statements, send_statements,
    with_write_concern, write_command, write_concern_error,
};

use crate::error::{Error, ErrorKind, Result};
use crate::source::Endpoint;
pub use fetch::fetch_current;

/// True when the target refused a delta because the document's shape differs from the one the
/// event was computed on (a replay over a newer version): re-reading the document fixes it.
pub fn is_shape_conflict(e: &Error) -> bool {
    e.kind == ErrorKind::PathConflict
}

/// Applies `plan`: `source` is read only for `fetches`.
pub async fn apply_plan(
    source: &Endpoint,
    target: &Endpoint,
    plan: &BatchPlan,
) -> Result<FetchOutcome> {
    let mut outcome = FetchOutcome::default();
    for (coll, cp) in &plan.collections {
        apply_collection(source, target, coll, cp, &mut outcome).await?;
    }
    Ok(outcome)
}

async fn apply_collection(
    source: &Endpoint,
    target: &Endpoint,
    coll: &str,
    cp: &CollectionPlan,
    outcome: &mut FetchOutcome,
) -> Result<()> {
    let (read, at) = if cp.fetches.is_empty() {
        (Vec::new(), None)
    } else {
        let (read, at) = fetch_current(source, coll, &cp.fetches).await?;
        (read, Some(at))
    };
    let ordered = plan::order(cp, read);
    for command in ordered.commands {
        let (name, field) = (command.kind.name(), command.kind.field());
        send_statements(target, name, coll, field, &command.statements).await?;
    }
    if let Some(at) = at {
        outcome
            .found
            .extend(ordered.found.into_iter().map(|key| Fetched {
                coll: coll.to_string(),
                key,
                at,
            }));
    }
    outcome
        .gone
        .extend(ordered.gone.into_iter().map(|key| (coll.to_string(), key)));
    Ok(())
}
