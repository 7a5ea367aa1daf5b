//! `copy`: the initial duplication alone, and the copy phase `run` shares: record the start
//! point before copying, copy (resuming an unfinished copy), leave the checkpoint at the start
//! point so a later tail replays whatever changed meanwhile.

use crate::bulk::copy::{copy_all, CollectionSummary};
use crate::bulk::resync::prune_extras;
use crate::config::Config;
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::ops::{Http, Phase, ProgressBars, Reporter, Service};
use crate::source::connect::source_identity;
use crate::source::stream::start_point;
use crate::source::Endpoint;
use crate::source::Sides;
use crate::state::checkpoint::CopiedCollections;
use crate::state::start::{decide, Job};
use crate::state::{store, Checkpoint, CheckpointStore, Checkpointer, Position, SourceIdentity};
use bson::Document;
use std::process::ExitCode;
use std::sync::Arc;

/// The current position of the source stream: where a tail starts so nothing after it is missed.
async fn record_start_point(
    cfg: &Config,
    source: &Endpoint,
    reporter: &Reporter,
) -> Result<Document> {
    reporter
        .retry("recording the start point", || {
            start_point(source, cfg.apply.update_mode)
        })
        .await
}

/// Copies (resuming an unfinished copy) and leaves the checkpoint at the recorded start point.
pub(crate) async fn copy_phase(
    cfg: &Config,
    sides: &Sides,
    cp: &Arc<Checkpointer>,
    reporter: &Reporter,
    display: &ProgressBars,
    resync: bool,
) -> Result<Vec<CollectionSummary>> {
    reporter.set_phase(if resync {
        Phase::Resyncing
    } else {
        Phase::Copying
    });
    // The copy copies everything the configuration selects now.
    cp.set_selection(crate::source::namespaces::Selection::of(cfg));
    let resuming = {
        let state = cp.state.lock().await;
        state.copying && state.resume_token.is_some()
    };
    if !resuming {
        // A new start point: after a history-lost resync the position still holds the old
        // tail's watermark, which must never be written over it.
        let start = record_start_point(cfg, &sides.source, reporter).await?;
        // A history-lost resync keeps the held collections until its prune spared them.
        let holds = std::mem::take(&mut cp.state.lock().await.holds);
        cp.start_over(Checkpoint {
            resume_token: Some(start),
            copying: true,
            resync,
            holds,
            ..Default::default()
        })
        .await;
    }
    reporter
        .retry("writing the checkpoint", || cp.save_state())
        .await?;
    tracing::info!(
        phase = if resync { "resyncing" } else { "copying" },
        "initial copy started"
    );
    let summaries = copy_all(cfg, &sides.source, &sides.target, cp, reporter, display).await?;
    let (resynced, held) = {
        let state = cp.state.lock().await;
        (state.resync, state.holds.clone())
    };
    if resynced {
        prune_extras(cfg, &sides.source, &sides.target, reporter, &held).await?;
    }
    // What the copy holds, for the tail's replay of renames made while it ran.
    let until = reporter
        .retry("reading the source operation time", || {
            crate::source::connect::operation_time(&sides.source)
        })
        .await?;
    {
        let mut state = cp.state.lock().await;
        state.copying = false;
        state.resync = false;
        state.copy.clear();
        state.copied = Some(copied_collections(&summaries, until));
        state.holds.clear();
    }
    reporter
        .retry("writing the checkpoint", || cp.save_state())
        .await?;
    end_holds_after_history_lost(reporter, &held);
    tracing::info!("initial copy finished; the tail replays changes made since its start point");
    Ok(summaries)
}

/// History was lost while `apply.hold` held collections: their held events are gone, and the
/// re-copy wrote the source's documents over them but deleted nothing in them (a discard). The
/// holds end, said in the log and on the event bus.
fn end_holds_after_history_lost(reporter: &Reporter, held: &crate::control::holds::HoldState) {
    if held.is_empty() {
        return;
    }
    reporter.status.holds().end_all();
    reporter.metrics.set_held_changes(0);
    for coll in held.keys() {
        tracing::warn!(collection = %coll, "change stream history lost while the collection was held (apply.hold): the re-copy kept the backup's documents the source no longer has, as a discard would; the hold ends (verify reports them; resync the collection to drop them)");
        reporter.status.bus().emit(
            "held_change",
            serde_json::json!({ "collection": coll, "action": "discarded", "reason": "history_lost" }),
        );
    }
}

/// Target name -> source UUID of every collection the copy wrote, valid up to `until`.
fn copied_collections(
    summaries: &[CollectionSummary],
    until: Option<crate::source::translate::ClusterTime>,
) -> CopiedCollections {
    CopiedCollections {
        by_name: summaries
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.uuid.clone()?)))
            .collect(),
        until: until.map(|t| t.0),
    }
}

/// The checkpoint store of this source -> target pair, what it holds, if anything, and the
/// source's identity. Refused (configuration errors): a place no save can write, and a
/// checkpoint of another source (its token means nothing here: the user deletes it to copy this
/// source from scratch, or points `source.uri` back).
pub(crate) async fn load_checkpoint(
    cfg: &Config,
    sides: &Sides,
    reporter: &Reporter,
    fence: Option<crate::ha::Fence>,
) -> Result<(Arc<dyn CheckpointStore>, Option<Checkpoint>, SourceIdentity)> {
    let store = store::open_fenced(cfg, &sides.target_client, fence)?;
    let existing = reporter
        .retry("reading the checkpoint", || store.load())
        .await?;
    reporter
        .retry("checking the checkpoint can be written", || {
            store.check_writable()
        })
        .await?;
    let identity = reporter
        .retry("reading the source's identity", || {
            source_identity(&sides.source_client)
        })
        .await?;
    let foreign = existing
        .as_ref()
        .and_then(|cp| cp.source.as_ref())
        .and_then(|stored| stored.mismatch(&identity));
    if let Some(why) = foreign {
        return Err(Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "source.uri",
            format!(
                "the checkpoint {} was {why}; delete the checkpoint to copy this source from scratch, or point source.uri back at the source it was written for",
                store.location()
            ),
        )
        .at(Origin::Checkpoint));
    }
    let identity = SourceIdentity::merged(
        existing.as_ref().and_then(|cp| cp.source.as_ref()),
        identity,
    );
    Ok((store, existing, identity))
}

/// The `copy` command: serves metrics when `http.addr` is free (a running `run` may hold it),
/// copies, prints a summary.
pub async fn command(cfg: &Config) -> Result<ExitCode> {
    let service = Service::start_with(cfg, Http::IfFree).await?;
    service.stop_on_signals();
    let started = std::time::Instant::now();
    let summaries = copy_job(cfg, &service.reporter, &ProgressBars::new(false)).await?;
    print_copy_summary(&summaries, started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// `copy`: the initial duplication alone.
pub async fn copy_job(
    cfg: &Config,
    reporter: &Reporter,
    display: &ProgressBars,
) -> Result<Vec<CollectionSummary>> {
    let sides = Sides::connect(cfg, reporter).await?;
    let position = Position::new();
    let (store, existing, identity) = load_checkpoint(cfg, &sides, reporter, None).await?;
    let start = decide(existing, cfg.copy.mode, Job::Copy);
    let cp = Checkpointer::new(store, start.checkpoint, position, reporter.clone());
    cp.set_source(identity);
    let summaries = copy_phase(cfg, &sides, &cp, reporter, display, start.resync).await?;
    reporter.set_phase(Phase::Stopped);
    Ok(summaries)
}

/// Prints one line per collection and a total.
pub fn print_copy_summary(summaries: &[CollectionSummary], seconds: f64) {
    let (mut docs, mut bytes) = (0u64, 0u64);
    for s in summaries {
        docs += s.documents;
        bytes += s.bytes;
        let rate = if s.seconds > 0.0 {
            s.documents as f64 / s.seconds
        } else {
            0.0
        };
        println!(
            "copy: {:<24} {:>10} docs {:>10.1} MB {:>8.1} s {:>10.0} docs/s",
            s.name,
            s.documents,
            s.bytes as f64 / 1e6,
            s.seconds,
            rate
        );
    }
    let rate = if seconds > 0.0 {
        docs as f64 / seconds
    } else {
        0.0
    };
    println!(
        "copy: total {docs} documents, {:.1} MB in {seconds:.1} s ({rate:.0} docs/s)",
        bytes as f64 / 1e6
    );
}
