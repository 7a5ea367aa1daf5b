//! `run` with `ha.enabled`: a keeper task acquires and renews the lease and publishes this
//! instance's role; the loop runs one tail per active term and ends it when the role leaves
//! that term (fenced by the clock, lost to another instance) or a save is refused by a newer
//! epoch. A standby opens no change stream and writes nothing but its lease attempts.

use super::lease::{Machine, Observed, Role, Timing, Transition};
use super::store::LeaseStore;
use super::Fence;

use crate::config::Config;
use crate::error::Result;
use crate::ops::labels::Side;
use crate::ops::status::HaView;
use crate::ops::{Phase, ProgressBars, Reporter};
use crate::state::Position;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Replicates while this instance holds the lease, stands by otherwise, until `stop`.
pub async fn run(
    cfg: &Config,
    reporter: &Reporter,
    stop: CancellationToken,
    display: &ProgressBars,
) -> Result<()> {
    let client = crate::source::connect::target_client(cfg).await?;
    let source = crate::source::connect::source_client(cfg).await?;
    let pair = crate::state::store::pair_id(&cfg.source.database, &cfg.target.database);
    let store = Arc::new(LeaseStore::new(
        &client,
        &cfg.checkpoint.database,
        &pair,
        &cfg.ha.name,
        cfg.ha.lease_seconds,
    ));
    let floor = Arc::new(AtomicI64::new(0));
    let yielded: Yielded = Arc::default();
    let (tx, mut rx) = watch::channel(Role::Standby);
    // Renewals go on while a stopping term drains (it still writes); ended after it.
    let keeper_stop = CancellationToken::new();
    let keeper = tokio::spawn(keep(
        Keeper {
            store: store.clone(),
            timing: Timing::new(cfg.ha.lease_seconds),
            floor: floor.clone(),
            yielded: yielded.clone(),
            reporter: reporter.clone(),
        },
        tx,
        keeper_stop.clone(),
    ));
    let follow = match (&cfg.ha.local_uri, cfg.ha.prefer_local_primary) {
        (Some(uri), true) => Some(tokio::spawn(super::local::follow_primary(
            super::local::client(uri).await?,
            store.clone(),
            rx.clone(),
            Timing::new(cfg.ha.lease_seconds),
        ))),
        _ => None,
    };
    let probe = tokio::spawn(super::local::probe_source(
        source,
        rx.clone(),
        Timing::new(cfg.ha.lease_seconds).renew_every(),
        reporter.clone(),
    ));
    standby(reporter);
    let mut outcome = Ok(());
    let mut last_epoch = None;
    loop {
        let active = tokio::select! {
            r = rx.wait_for(|r| matches!(r, Role::Active { .. })) => r.map(|r| *r).ok(),
            _ = stop.cancelled() => None,
        };
        let Some(Role::Active { epoch }) = active else {
            break;
        };
        last_epoch = Some(epoch);
        let fence = Fence {
            epoch,
            lost: stop.child_token(),
            floor: floor.clone(),
        };
        let term = Reporter {
            abort: reporter.abort.child_token(),
            ..reporter.clone()
        };
        let guard = tokio::spawn(end_term_on_role_change(
            rx.clone(),
            epoch,
            fence.lost.clone(),
            term.abort.clone(),
        ));
        tracing::info!(epoch, name = %cfg.ha.name, "ha: active, replicating");
        let lost = fence.lost.clone();
        let r = crate::cmd::run::run_term(
            cfg,
            &term,
            Position::new(),
            lost.clone(),
            display,
            Some(fence),
        )
        .await;
        guard.abort();
        if stop.is_cancelled() {
            outcome = r;
            break;
        }
        if let (Err(e), false) = (&r, lost.is_cancelled()) {
            tracing::error!(error = %e, "ha: the active term failed; giving the lease up");
            outcome = r;
            break;
        }
        let handing_over = yielded.lock().take().filter(|(e, _)| *e == epoch);
        if let Some((_, to)) = handing_over {
            tracing::info!(
                epoch,
                "ha: handing the lease over to the instance next to the primary"
            );
            if let Err(e) = store.hand_over(epoch, &to).await {
                tracing::warn!(error = %e, "ha: could not hand the lease over; it expires by itself");
            }
        } else {
            tracing::warn!(epoch, "ha: fenced, standing by");
        }
        standby(reporter);
        // The same term never runs twice: wait until the role left it (a refused save moves
        // the floor, so the keeper takes a newer epoch or loses the lease).
        let _ = rx.wait_for(|r| *r != Role::Active { epoch }).await;
    }
    keeper_stop.cancel();
    probe.abort();
    if let Some(f) = follow {
        f.abort();
    }
    let _ = keeper.await;
    if let Some(epoch) = last_epoch {
        if let Err(e) = store.release(epoch).await {
            tracing::warn!(error = %e, "ha: could not release the lease; a standby takes over when it expires");
        }
    }
    reporter.set_phase(Phase::Stopped);
    outcome
}

/// A standby applies nothing: the gauges of the last term (lag, checkpoint age, stall) would
/// otherwise stay frozen at their last values and keep alerts firing.
fn standby(reporter: &Reporter) {
    reporter.set_phase(Phase::Standby);
    reporter.set_stream_open(false);
    reporter.health(0.0, 0.0, false);
}

/// Cancels the term (stop reading, give up retries) once the role is no longer `epoch`'s, and
/// gives up retries too when the term was ended by a refused save.
async fn end_term_on_role_change(
    mut rx: watch::Receiver<Role>,
    epoch: i64,
    lost: CancellationToken,
    abort: CancellationToken,
) {
    tokio::select! {
        _ = rx.wait_for(|r| *r != Role::Active { epoch }) => {}
        _ = lost.cancelled() => {}
    }
    abort.cancel();
    lost.cancel();
}

/// A term the keeper yielded (its epoch, the instance asking): the loop hands it over once the
/// term's tail has stopped.
type Yielded = Arc<parking_lot::Mutex<Option<(i64, String)>>>;

/// What the keeper works with.
struct Keeper {
    store: Arc<LeaseStore>,
    timing: Timing,
    floor: Arc<AtomicI64>,
    yielded: Yielded,
    reporter: Reporter,
}

/// Acquires or renews every third of the lease until `stop`, waking at the fence deadline.
async fn keep(k: Keeper, tx: watch::Sender<Role>, stop: CancellationToken) {
    let Keeper {
        store,
        timing,
        floor,
        yielded,
        reporter,
    } = k;
    let mut machine = Machine::new(timing);
    let mut last_log: Option<Instant> = None;
    loop {
        let sent = Instant::now();
        // An attempt still pending at the deadline is abandoned: the fence must not wait.
        let limit = machine.deadline().map_or(timing.renew_every(), |d| {
            d.saturating_duration_since(sent).min(timing.renew_every())
        });
        let attempt = tokio::time::timeout(limit, store.attempt(floor.load(Ordering::SeqCst)));
        let answer = tokio::select! {
            r = attempt => r,
            _ = stop.cancelled() => return,
        };
        let seen: Option<Observed> = match answer {
            Ok(Ok(o)) => Some(o),
            Ok(Err(e)) => {
                reporter.record_error(&e);
                if last_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "ha: lease attempt failed");
                    last_log = Some(Instant::now());
                }
                None
            }
            Err(_) => None,
        };
        let reachable = seen.is_some();
        if reachable {
            reporter.set_up(Side::Target, true);
        }
        let t = machine.on_attempt(sent, seen, Instant::now());
        if let Transition::Yield { epoch, to } = &t {
            *yielded.lock() = Some((*epoch, to.clone()));
        }
        publish(&machine, t, reachable, &reporter, &tx);
        let next = sent + timing.renew_every();
        loop {
            let wake = machine.deadline().map_or(next, |d| d.min(next));
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = stop.cancelled() => return,
            }
            let t = machine.on_tick(Instant::now());
            publish(&machine, t, reachable, &reporter, &tx);
            if Instant::now() >= next {
                break;
            }
        }
    }
}

/// A transition into the role channel, the `leader` metrics, `/status` and the log.
fn publish(
    machine: &Machine,
    t: Transition,
    reachable: bool,
    reporter: &Reporter,
    tx: &watch::Sender<Role>,
) {
    let role = machine.role();
    match &t {
        Transition::None => {}
        Transition::BecameActive { epoch } => {
            tracing::info!(epoch, "ha: lease acquired");
            reporter.metrics.leader_changed();
        }
        Transition::Fenced { why } => {
            tracing::warn!(reason = why, "ha: stopping applying");
            reporter.metrics.leader_changed();
        }
        Transition::Yield { epoch, .. } => {
            tracing::info!(
                epoch,
                "ha: an instance next to the primary asked for the lease: stopping applying"
            );
            reporter.metrics.leader_changed();
        }
    }
    reporter
        .metrics
        .set_leader(matches!(role, Role::Active { .. }));
    let last = machine.last.as_ref();
    reporter.status.set_ha(HaView {
        active: matches!(role, Role::Active { .. }),
        holder: last.map(|o| o.holder.clone()).unwrap_or_default(),
        epoch: last.map_or(0, |o| o.epoch),
        reachable,
    });
    tx.send_if_modified(|r| {
        let changed = *r != role;
        *r = role;
        changed
    });
}
