//! Wires the tail: W writers behind bounded channels, the router, the checkpointer, and the
//! watcher in front. Shutdown order keeps the promise "nothing acknowledged before written":
//! stop reading, let writers drain what they hold, then write the final checkpoint.

pub mod byte_gate;
pub mod collisions;
mod ddl_barrier;
pub mod delay;
pub mod delete_rate;
pub mod drop_hold;
pub mod fences;
pub mod guard;
pub mod hold_gate;
pub mod in_flight;
mod in_order;
mod parking;
mod pause_gate;
pub mod read_ahead;
mod renamed_in;
pub mod rewrite;
pub mod router;
mod send;
pub mod watcher;
pub mod writer;
pub mod writer_count;

use crate::config::Config;
use crate::error::{Class, Error, ErrorKind, Result};
use crate::ops::Reporter;
use crate::source::namespaces::Scope;
use crate::source::translate::TranslateOptions;
use crate::source::Endpoint;
use crate::source::StartAt;
use crate::state::checkpointer::Checkpointer;
use crate::state::Position;
use crate::tail::router::Router;
use crate::tail::watcher::Watcher;
use crate::tail::writer::{BatchLimits, Writer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bytes per writer batch before it is flushed early.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

pub fn translate_options(cfg: &Config, scope: Arc<Scope>) -> TranslateOptions {
    TranslateOptions {
        scope,
        update_mode: cfg.apply.update_mode,
        ddl: cfg.apply.ddl.clone(),
    }
}

/// Where a tail starts, and whether the target may already hold later changes (after a copy,
/// or a crash after the last checkpoint).
pub struct TailFrom {
    pub at: StartAt,
    pub target_may_be_ahead: bool,
}

/// Tails from `from` until `stop`; returns history-lost and fatal errors to the caller.
pub async fn run_tail(
    cfg: &Config,
    (source, target): (Endpoint, Endpoint),
    from: TailFrom,
    checkpointer: Arc<Checkpointer>,
    position: Arc<Position>,
    reporter: Reporter,
    stop: CancellationToken,
) -> Result<()> {
    run_tail_guarded(
        cfg,
        (source, target),
        from,
        (checkpointer, position),
        reporter,
        stop,
        None,
    )
    .await
}

/// [`run_tail`] with writers consulting `guard` per batch (two-way sync).
pub async fn run_tail_guarded(
    cfg: &Config,
    (source, target): (Endpoint, Endpoint),
    from: TailFrom,
    (checkpointer, position): (Arc<Checkpointer>, Arc<Position>),
    reporter: Reporter,
    stop: CancellationToken,
    guard: Option<Arc<dyn guard::ApplyGuard>>,
) -> Result<()> {
    let limits = BatchLimits {
        max_ops: cfg.apply.batch_size,
        max_bytes: MAX_BATCH_BYTES,
        max_delay: Duration::from_millis(cfg.apply.max_batch_delay_ms),
    };
    let history = crate::history::changes::attach(cfg, &target, &reporter).await?;
    let mut senders = Vec::new();
    let mut writers = tokio::task::JoinSet::new();
    {
        let mut parked = reporter.status.parked().lock();
        parked.configure(cfg.apply.on_refused, cfg.apply.max_parked_documents);
        reporter.metrics.set_parked_documents(parked.len());
    }
    // With history on a writer sends one batch at a time: its batches in flight become writers.
    let count = writer_count::writers(
        cfg.apply.workers,
        cfg.apply.writes_in_flight,
        history.is_none(),
    );
    let in_flight = writer_count::in_flight_per_writer(
        cfg.apply.writes_in_flight,
        guard.is_none() && history.is_none(),
    );
    tracing::info!(
        writers = count,
        in_flight,
        "tailing: writers {count}, batches in flight per writer {in_flight}"
    );
    for index in 0..count {
        let (tx, rx) = mpsc::channel(router::channel_capacity(cfg.apply.batch_size));
        senders.push(tx);
        let w = Writer {
            source: source.clone(),
            target: target.clone(),
            position: position.clone(),
            reporter: reporter.clone(),
            limits,
            unresolved: checkpointer.unresolved.clone(),
            partition: (index, count),
            guard: guard.clone(),
            history: history.clone(),
            writes_in_flight: cfg.apply.writes_in_flight,
        };
        writers.spawn(w.run(rx));
    }
    // Resync jobs route their items to the same writers (their clones of the channels are
    // dropped before the writers are drained).
    let jobs_stop = CancellationToken::new();
    let job_runner = tokio::spawn(
        crate::control::resync_job::Runner {
            source: source.clone(),
            target: target.clone(),
            writers: senders.clone(),
            reporter: reporter.clone(),
        }
        .run(jobs_stop.clone()),
    );
    // The continuous verifier repairs through the same writers (crate::verify).
    let verifier = tokio::spawn(crate::verify::Verifier::run(
        Arc::new(cfg.clone()),
        (source.clone(), target.clone()),
        senders.clone(),
        reporter.clone(),
        position.clone(),
        jobs_stop.clone(),
    ));
    let ticker_stop = CancellationToken::new();
    let mut ticker = tokio::spawn(checkpointer.clone().run(
        Duration::from_millis(cfg.checkpoint.interval_ms),
        ticker_stop.clone(),
    ));
    // Holds kept in the checkpoint wait again; the delay shows apart from the lag.
    let holds = reporter.status.holds().clone();
    holds.restore(&checkpointer.state.lock().await.holds);
    position.set_apply_delay(Duration::from_secs(cfg.apply.delay_seconds));
    reporter
        .metrics
        .set_apply_delay_seconds(cfg.apply.delay_seconds);
    let scope = source.scope().clone();
    let collisions = collisions::Collisions::start(&source, &reporter).await?;
    let watcher = Watcher {
        source,
        target,
        translate: translate_options(cfg, scope),
        batch_size: cfg.apply.batch_size.min(u32::MAX as usize) as u32,
        position: position.clone(),
        reporter: reporter.clone(),
        checkpointer: checkpointer.clone(),
        router: Router::new(senders)
            .with_byte_gate(byte_gate::ByteGate::new(cfg.apply.max_queued_bytes)),
        index_attempt: Default::default(),
        pauses: reporter.status.pauses().clone(),
        held: Default::default(),
        delay: Duration::from_secs(cfg.apply.delay_seconds),
        hold: hold_gate::HoldGate::new(holds, cfg.apply.hold.clone()),
        history: history.clone(),
        collisions,
    };
    let pruner = history.clone().map(|h| {
        let run = crate::history::changes::prune::run(h, position.clone(), ticker_stop.clone());
        tokio::spawn(run)
    });
    reporter.set_phase(crate::ops::status::Phase::Tailing);
    // A writer failing fatally stops the watcher too.
    let writer_failed = CancellationToken::new();
    let watch_stop = CancellationToken::new();
    let mut ticker_done = false;
    let outcome = {
        let run = watcher.run(from.at, from.target_may_be_ahead, &watch_stop);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            _ = stop.cancelled() => { watch_stop.cancel(); run.await }
            Some(joined) = writers.join_next() => {
                writer_failed.cancel();
                Err(writer_error(joined))
            }
            // The ticker ends early only when no checkpoint save can ever succeed.
            saved = &mut ticker => {
                ticker_done = true;
                Err(flatten(saved).err().unwrap_or_else(ticker_error))
            }
        }
    };
    // Events held for a paused collection were never applied: the stop is not clean.
    let held_back = !watcher.held.lock().is_empty() || watcher.hold.holding();
    jobs_stop.cancel();
    let _ = job_runner.await;
    let _ = verifier.await;
    drop(watcher); // closes the writer channels: writers drain and exit
    let mut first_err = outcome.err();
    // Clean: the watcher stopped normally and every writer applied all it held.
    let mut drained = first_err.is_none() && !held_back;
    while let Some(joined) = writers.join_next().await {
        if let Err(e) = flatten(joined) {
            drained = false;
            if first_err.is_none() && !crate::error::retry::is_cancelled(&e) {
                first_err = Some(e);
            }
        }
    }
    ticker_stop.cancel();
    if let Some(p) = pruner {
        let _ = p.await;
    }
    if !ticker_done {
        let _ = ticker.await;
    }
    // Everything the writers acknowledged is now covered by the watermark.
    if let Err(e) = checkpointer.save_final(drained).await {
        tracing::error!(error = %e, "final checkpoint write failed; the next start replays from the previous one");
        if first_err.is_none() {
            first_err = Some(e);
        }
    }
    match first_err {
        Some(e) if crate::error::retry::is_cancelled(&e) => Ok(()),
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn flatten(joined: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    match joined {
        Ok(r) => r,
        Err(e) => Err(Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "writer task",
            e.to_string(),
        )),
    }
}

fn ticker_error() -> Error {
    Error::new(
        ErrorKind::Internal,
        Class::Fatal,
        "checkpoint ticker",
        "stopped unexpectedly",
    )
}

fn writer_error(joined: std::result::Result<Result<()>, tokio::task::JoinError>) -> Error {
    match flatten(joined) {
        Err(e) => e,
        Ok(()) => Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "writer task",
            "stopped unexpectedly",
        ),
    }
}
