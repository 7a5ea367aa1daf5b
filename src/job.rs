//! The `run` and `copy` jobs: decide between copy and tail from the stored checkpoint, record the
//! start point before copying, tail, and handle history lost (`resync` or `fail`).

use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::checkpointer::Checkpointer;
use crate::config::{Config, CopyMode, OnHistoryLost};
use crate::connect;
use crate::copy::{copy_all, CollectionSummary};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::progress::Progress;
use crate::progress_display::Display;
use crate::resync::prune_extras;
use crate::retry::Telemetry;
use crate::status::Phase;
use crate::tail::{run_tail, TailFrom};
use crate::watcher::{open_stream, token_of, StartAt};
use bson::Document;
use mongodb::{Client, Database};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Both sides, connected and checked.
pub struct Sides {
    pub source_client: Client,
    pub target_client: Client,
    pub source: Database,
    pub target: Database,
}

impl Sides {
    pub async fn connect(cfg: &Config, telemetry: &Telemetry) -> Result<Sides> {
        let source_client = connect::client(&cfg.source.uri, "source.uri").await?;
        let target_client = connect::client(&cfg.target.uri, "target.uri").await?;
        for (client, kind, side) in [
            (&source_client, ErrorKind::Source, "source"),
            (&target_client, ErrorKind::Target, "target"),
        ] {
            telemetry
                .retry(&format!("connecting to the {side}"), || {
                    connect::ping(client, kind, side)
                })
                .await?;
            telemetry.set_up(side, true);
        }
        // A network error here (the source went away after the ping) is waited out like any
        // other; only a source that really is no replica set stops.
        telemetry
            .retry("checking the source topology", || {
                connect::require_replica_set(&source_client)
            })
            .await?;
        Ok(Sides {
            source: source_client.database(&cfg.source.database),
            target: target_client.database(&cfg.target.database),
            source_client,
            target_client,
        })
    }
}

/// The current position of the source stream: where a tail starts so nothing after it is missed.
async fn record_start_point(
    cfg: &Config,
    source: &Database,
    telemetry: &Telemetry,
) -> Result<Document> {
    telemetry
        .retry("recording the start point", || async {
            let stream = open_stream(source, &StartAt::Now, cfg.apply.update_mode, 1).await?;
            token_of(&stream).ok_or_else(|| {
                Error::new(
                    ErrorKind::Source,
                    Class::Fatal,
                    "recording the start point",
                    "the server sent no resume token",
                )
            })
        })
        .await
}

fn checkpointer(
    cfg: &Config,
    sides: &Sides,
    state: Checkpoint,
    progress: &Arc<Progress>,
    telemetry: &Telemetry,
) -> Result<Arc<Checkpointer>> {
    Ok(Checkpointer::new(
        store_for(cfg, sides)?,
        state,
        progress.clone(),
        telemetry.clone(),
    ))
}

/// Copies (resuming an unfinished copy) and leaves the checkpoint at the recorded start point.
async fn copy_phase(
    cfg: &Config,
    sides: &Sides,
    cp: &Arc<Checkpointer>,
    telemetry: &Telemetry,
    display: &Display,
    resync: bool,
) -> Result<Vec<CollectionSummary>> {
    telemetry.set_phase(if resync {
        Phase::Resyncing
    } else {
        Phase::Copying
    });
    {
        let mut state = cp.state.lock().await;
        if !state.copying || state.resume_token.is_none() {
            let start = record_start_point(cfg, &sides.source, telemetry).await?;
            *state = Checkpoint {
                resume_token: Some(start),
                copying: true,
                resync,
                ..Default::default()
            };
        }
    }
    telemetry
        .retry("writing the checkpoint", || cp.save_state())
        .await?;
    tracing::info!(
        phase = if resync { "resyncing" } else { "copying" },
        "initial copy started"
    );
    let summaries = copy_all(cfg, &sides.source, &sides.target, cp, telemetry, display).await?;
    if cp.state.lock().await.resync {
        prune_extras(cfg, &sides.source, &sides.target, telemetry).await?;
    }
    {
        let mut state = cp.state.lock().await;
        state.copying = false;
        state.resync = false;
        state.copy.clear();
    }
    telemetry
        .retry("writing the checkpoint", || cp.save_state())
        .await?;
    tracing::info!("initial copy finished; the tail replays changes made since its start point");
    Ok(summaries)
}

/// The stored checkpoint of this source -> target pair, if any.
async fn load_checkpoint(
    cfg: &Config,
    sides: &Sides,
    telemetry: &Telemetry,
) -> Result<Option<Checkpoint>> {
    let store = store_for(cfg, sides)?;
    telemetry
        .retry("reading the checkpoint", || store.load())
        .await
}

fn store_for(cfg: &Config, sides: &Sides) -> Result<CheckpointStore> {
    CheckpointStore::new(
        &cfg.checkpoint,
        &sides.target_client,
        &cfg.source.database,
        &cfg.target.database,
    )
}

/// `copy`: the initial duplication alone.
pub async fn copy_job(
    cfg: &Config,
    telemetry: &Telemetry,
    display: &Display,
) -> Result<Vec<CollectionSummary>> {
    let sides = Sides::connect(cfg, telemetry).await?;
    let progress = Progress::new();
    let existing = load_checkpoint(cfg, &sides, telemetry).await?;
    let state = match existing {
        Some(cp) if cp.copying && cfg.copy.mode != CopyMode::Always => cp,
        _ => Checkpoint::default(),
    };
    let cp = checkpointer(cfg, &sides, state, &progress, telemetry)?;
    let summaries = copy_phase(cfg, &sides, &cp, telemetry, display, false).await?;
    telemetry.set_phase(Phase::Stopped);
    Ok(summaries)
}

/// `run`: copy when needed, then tail until `stop`.
pub async fn run_job(
    cfg: &Config,
    telemetry: &Telemetry,
    progress: Arc<Progress>,
    stop: CancellationToken,
    display: &Display,
) -> Result<()> {
    // A stop before anything was written (e.g. a side still unreachable) ends the run cleanly
    // at once: nothing to drain, no checkpoint to write, no retry to wait out.
    let startup = async {
        let sides = Sides::connect(cfg, telemetry).await?;
        let existing = load_checkpoint(cfg, &sides, telemetry).await?;
        Ok::<_, Error>((sides, existing))
    };
    let (sides, existing) = tokio::select! {
        r = startup => r?,
        _ = stop.cancelled() => {
            telemetry.set_phase(Phase::Stopped);
            tracing::info!("stopped before connecting to both sides");
            return Ok(());
        }
    };
    let (state, mut need_copy) = match (existing, cfg.copy.mode) {
        (Some(cp), _) if cp.copying => (cp, true),
        (Some(_), CopyMode::Always) => (Checkpoint::default(), true),
        (Some(cp), _) if cp.resume_token.is_some() => (cp, false),
        (_, CopyMode::Never) => (Checkpoint::default(), false),
        _ => (Checkpoint::default(), true),
    };
    let mut resync = state.resync;
    // After a graceful stop the target is exactly at the checkpoint; otherwise it may be ahead.
    let mut replay = !state.clean;
    let cp = checkpointer(cfg, &sides, state, &progress, telemetry)?;
    loop {
        if need_copy {
            tokio::select! {
                r = copy_phase(cfg, &sides, &cp, telemetry, display, resync) => { r?; }
                _ = stop.cancelled() => { telemetry.set_phase(Phase::Stopped); return Ok(()); }
            }
            replay = true;
        }
        let start = match cp.state.lock().await.resume_token.clone() {
            Some(t) => StartAt::ResumeAfter(t),
            None => StartAt::Now,
        };
        if let StartAt::Now = start {
            tracing::info!("no checkpoint and copy.mode = \"never\": tailing from now");
        }
        let outcome = run_tail(
            cfg,
            (sides.source.clone(), sides.target.clone()),
            TailFrom {
                at: start,
                target_may_be_ahead: replay,
            },
            cp.clone(),
            progress.clone(),
            telemetry.clone(),
            stop.clone(),
        )
        .await;
        match outcome {
            Ok(()) => {
                telemetry.set_phase(Phase::Stopped);
                return Ok(());
            }
            Err(e) if e.kind == ErrorKind::HistoryLost => {
                telemetry.record_error(&e);
                match cfg.on_history_lost {
                    OnHistoryLost::Fail => {
                        return Err(Error::new(
                            ErrorKind::HistoryLost,
                            Class::Fatal,
                            "resuming the change stream",
                            "the checkpoint is older than the source oplog (history lost); set on_history_lost = \"resync\" or run `copy` again",
                        ))
                    }
                    OnHistoryLost::Resync => {
                        tracing::warn!("change stream history lost: resyncing (the backup keeps its data while the copy runs)");
                        *cp.state.lock().await = Checkpoint { resync: true, ..Default::default() };
                        need_copy = true;
                        resync = true;
                    }
                }
            }
            Err(e) => {
                telemetry.record_error(&e);
                telemetry.set_phase(Phase::Stopped);
                return Err(e);
            }
        }
    }
}
