//! `run`: decide between copy and tail from the stored checkpoint, copy when needed, tail until
//! stopped, and handle history lost (`resync` or `fail`).

use super::copy::{copy_phase, load_checkpoint};
use crate::config::{Config, OnHistoryLost};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::ops::{Http, Phase, ProgressBars, Reporter, Service};
use crate::source::{Sides, StartAt};
use crate::state::start::{decide, Job};
use crate::state::{Checkpoint, Checkpointer, Position};
use crate::tail::{run_tail, TailFrom};
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The `run` command: serve HTTP (the address must be free), replicate until SIGTERM/SIGINT.
pub async fn command(cfg: &Config) -> Result<ExitCode> {
    let service = Service::start_with(cfg, Http::Required).await?;
    service.stop_on_signals();
    tracing::info!(source_db = %cfg.source.database, target_db = %cfg.target.database, http = ?service.http_addr, ha = cfg.ha.enabled, "mongo-replicator started");
    let display = ProgressBars::new(false);
    if cfg.ha.enabled {
        crate::ha::role::run(cfg, &service.reporter, service.stop.clone(), &display).await?;
    } else {
        run_job(
            cfg,
            &service.reporter,
            service.position.clone(),
            service.stop.clone(),
            &display,
        )
        .await?;
    }
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

/// `run`: copy when needed, then tail until `stop` (the only instance: `leader` is 1).
pub async fn run_job(
    cfg: &Config,
    reporter: &Reporter,
    position: Arc<Position>,
    stop: CancellationToken,
    display: &ProgressBars,
) -> Result<()> {
    reporter.metrics.set_leader(true);
    run_term(cfg, reporter, position, stop, display, None).await
}

/// [`run_job`] for one active term: checkpoint saves conditional on `fence` when `ha` is on.
pub async fn run_term(
    cfg: &Config,
    reporter: &Reporter,
    position: Arc<Position>,
    stop: CancellationToken,
    display: &ProgressBars,
    fence: Option<crate::ha::Fence>,
) -> Result<()> {
    // A stop before anything was written (e.g. a side still unreachable) ends the run cleanly
    // at once: nothing to drain, no checkpoint to write, no retry to wait out.
    let startup = async {
        let sides = Sides::connect(cfg, reporter).await?;
        let (store, existing, identity) = load_checkpoint(cfg, &sides, reporter, fence).await?;
        Ok::<_, Error>((sides, store, existing, identity))
    };
    let (sides, store, existing, identity) = tokio::select! {
        r = startup => r?,
        _ = stop.cancelled() => {
            reporter.set_phase(Phase::Stopped);
            tracing::info!("stopped before connecting to both sides");
            return Ok(());
        }
    };
    let start = decide(existing, cfg.copy.mode, Job::Run);
    let (need_copy, resync, mut replay) = (start.copy, start.resync, start.replay);
    let cp = Checkpointer::new(store, start.checkpoint, position.clone(), reporter.clone());
    cp.set_source(identity);
    if !need_copy {
        let widened = crate::bulk::widened::copy_widened(cfg, &sides, &cp, reporter);
        tokio::select! {
            r = widened => replay |= r?,
            _ = stop.cancelled() => {
                reporter.set_phase(Phase::Stopped);
                return Ok(());
            }
        }
    }
    let pauses = reporter.status.pauses().clone();
    if cfg.source.collections.is_none() {
        // Without `source.collections`, a single-collection pause may name any collection
        // the scope selects now (listed once; the `paused` metric gets a series for each).
        if let Ok(listed) =
            crate::bulk::listing::list(&sides.source, crate::error::Origin::Source).await
        {
            let names: Vec<String> = listed.into_iter().map(|l| l.name).collect();
            reporter
                .metrics
                .init_paused(names.iter().map(String::as_str));
            pauses.set_known(names);
        }
    }
    let _persisting =
        crate::control::persist::attach(pauses.clone(), cp.clone(), reporter.metrics.clone()).await;
    let recording =
        crate::history::runs::attach(cfg, sides.target.client(), reporter.status.runs().clone())
            .await;
    let job = RunParts {
        sides: &sides,
        cp: &cp,
        pauses: &pauses,
        position,
        stop,
    };
    let outcome = replicate(cfg, reporter, display, job, (need_copy, resync, replay)).await;
    recording.finish(outcome.as_ref().map(|_| ())).await;
    outcome
}

/// What [`replicate`] works with.
struct RunParts<'a> {
    sides: &'a Sides,
    cp: &'a Arc<Checkpointer>,
    pauses: &'a Arc<crate::control::Pauses>,
    position: Arc<Position>,
    stop: CancellationToken,
}

/// Copies when needed and tails until stopped, resyncing when history is lost.
async fn replicate(
    cfg: &Config,
    reporter: &Reporter,
    display: &ProgressBars,
    job: RunParts<'_>,
    (mut need_copy, mut resync, mut replay): (bool, bool, bool),
) -> Result<()> {
    let RunParts {
        sides,
        cp,
        pauses,
        position,
        stop,
    } = job;
    loop {
        if need_copy {
            tokio::select! {
                r = copy_phase(cfg, sides, cp, reporter, display, resync) => { r?; }
                _ = stop.cancelled() => { reporter.set_phase(Phase::Stopped); return Ok(()); }
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
            position.clone(),
            reporter.clone(),
            stop.clone(),
        )
        .await;
        match outcome {
            Ok(()) => {
                reporter.set_phase(Phase::Stopped);
                return Ok(());
            }
            Err(e) if e.kind == ErrorKind::HistoryLost => {
                reporter.record_error(&e);
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
                        // The held collections are spared by the re-copy's prune (`cmd::copy`).
                        let holds = reporter.status.holds().snapshot();
                        cp.start_over(Checkpoint { resync: true, paused: pauses.snapshot(), holds, ..Default::default() }).await;
                        need_copy = true;
                        resync = true;
                    }
                }
            }
            Err(e) => {
                reporter.record_error(&e);
                reporter.set_phase(Phase::Stopped);
                return Err(e);
            }
        }
    }
}
