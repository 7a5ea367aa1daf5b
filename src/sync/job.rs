//! `mongo-replicator sync`: connect both sides, build the engine, reconcile when a direction
//! has no checkpoint (first sync) or lost its history, then tail both directions through the
//! one-way engine, each with its guard and its own checkpoint (on its target side, in
//! `sync.state_database`). A side unreachable only stalls the directions that need it; both
//! catch up from their tokens when it is back.

use super::engine::{Counts, Direction, Engine, Side};
use super::guard::DirectionGuard;
use super::metrics::SyncMetrics;
use crate::config::{
    CheckpointStoreKind, Config, CopyMode, DdlConfig, SourceConfig, TargetConfig, UpdateMode,
};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::ops::{Http, Phase, Reporter, Service};
use crate::source::Endpoint;
use crate::source::{Sides, StartAt};
use crate::state::{Checkpoint, Checkpointer, Position};
use crate::tail::{run_tail_guarded, TailFrom};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often each side is pinged for `sync/status`'s `online`.
const PING_EVERY: Duration = Duration::from_secs(2);

/// The one-way configuration of `dir`: its source and target, one writer (decisions are
/// per batch under one lock), whole documents (the guard hashes versions), no DDL, no copy
/// (the reconciliation pass does the first sync), checkpoint on the target side.
pub fn direction_config(cfg: &Config, dir: Direction) -> Result<Config> {
    let (Some(local), Some(remote)) = (&cfg.local, &cfg.remote) else {
        return Err(Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "local, remote",
            "sync needs both [local] and [remote] sections",
        ));
    };
    let (from, to) = match dir.source {
        Side::Local => (local, remote),
        Side::Remote => (remote, local),
    };
    let mut c = cfg.clone();
    c.source = SourceConfig {
        uri: from.uri.clone(),
        database: from.database.clone(),
        collections: local.collections.clone().or(remote.collections.clone()),
    };
    c.target = TargetConfig {
        uri: to.uri.clone(),
        database: to.database.clone(),
        write_concern: cfg.target.write_concern.clone(),
    };
    c.apply.workers = 1;
    c.apply.update_mode = UpdateMode::FullDocument;
    c.apply.ddl = DdlConfig {
        drop: false,
        rename: false,
        drop_database: false,
        create: false,
        create_indexes: false,
        drop_indexes: false,
        modify: false,
    };
    c.checkpoint.store = CheckpointStoreKind::Target;
    c.checkpoint.database = cfg.sync.state_database.clone();
    c.copy.mode = CopyMode::Never;
    // The continuous verifier would "repair" one side to the other's version, conflicts
    // included, which the sync must leave alone until they are resolved.
    c.verify.continuous.enabled = false;
    // The change history is built for one-way backups: with a guard, a batch the guard drops
    // whole returns before the history step, and the events it covered would stay pending.
    c.history.enabled = false;
    Ok(c)
}

/// The `sync` command: serve HTTP, sync until SIGTERM/SIGINT.
pub async fn command(cfg: &Config) -> Result<ExitCode> {
    let l2r = direction_config(cfg, Direction::ALL[0])?;
    let r2l = direction_config(cfg, Direction::ALL[1])?;
    let service = Service::start_with(&l2r, Http::Required).await?;
    service.stop_on_signals();
    let reporter = service.reporter.clone();
    let metrics = SyncMetrics::register(&reporter.metrics);
    tracing::info!(local_db = %l2r.source.database, remote_db = %l2r.target.database, http = ?service.http_addr, "mongo-replicator sync started");
    let stop = service.stop.clone();
    let sides = tokio::select! {
        r = Sides::connect(&l2r, &reporter) => r?,
        _ = stop.cancelled() => return Ok(ExitCode::SUCCESS),
    };
    let engine = Arc::new(Engine {
        local: sides.source.home().clone(),
        remote: sides.target.home().clone(),
        state: super::state::StateStore::new(
            sides.source_client.database(&cfg.sync.state_database),
        ),
        conflicts: super::conflicts::ConflictStore::new(
            &sides.source_client.database(&cfg.sync.state_database),
        ),
        policy: cfg.conflicts.clone(),
        lock: Arc::default(),
        open: Default::default(),
        counts: [Counts::default(), Counts::default()],
        online: Default::default(),
        metrics,
        reporter: reporter.clone(),
        auto: Default::default(),
        collections: l2r.source.collections.clone(),
        last_pass: Default::default(),
    });
    let open = reporter
        .retry("reading sync_conflicts", || engine.conflicts.open_keys())
        .await?;
    let open_count = reporter
        .retry("reading sync_conflicts", || {
            engine.conflicts.list(false, None)
        })
        .await?
        .len();
    engine.metrics.set_open(open_count);
    *engine.open.lock() = open;
    reporter.status.sync().attach(engine.clone());
    tokio::spawn(ping_loop(engine.clone(), stop.clone()));
    tokio::spawn(auto_resolver(engine.clone(), stop.clone()));
    let (source, target) = Endpoint::pair(
        sides.target_client.clone(),
        sides.source_client.clone(),
        Arc::new(r2l.scope()?),
    );
    let swapped = Sides {
        source_client: sides.target_client.clone(),
        target_client: sides.source_client.clone(),
        source,
        target,
    };
    let mut pipes = Vec::new();
    let mut first_sync = false;
    for (dir, dcfg, dsides, position) in [
        (Direction::ALL[0], &l2r, &sides, service.position.clone()),
        (Direction::ALL[1], &r2l, &swapped, Position::new()),
    ] {
        let (store, existing, identity) =
            crate::cmd::copy::load_checkpoint(dcfg, dsides, &reporter, None).await?;
        let token = existing.as_ref().and_then(|c| c.resume_token.clone());
        let token = match token {
            Some(t) => t,
            None => {
                first_sync = true;
                fresh_token(&reporter, dsides.source.home()).await?
            }
        };
        let checkpoint = Checkpoint {
            resume_token: Some(token),
            ..existing.unwrap_or_default()
        };
        let cp = Checkpointer::new(store, checkpoint, position.clone(), reporter.clone());
        cp.set_source(identity);
        pipes.push((
            dir,
            dcfg.clone(),
            dsides.source.clone(),
            dsides.target.clone(),
            cp,
            position,
        ));
    }
    if first_sync {
        tracing::info!("a direction has no checkpoint: reconciling both sides first");
        engine.reconcile().await?;
        // The start points, stored at once: a crash from here on resumes from them.
        for (_, _, _, _, cp, _) in &pipes {
            reporter
                .retry("saving the sync start point", || cp.save_state())
                .await?;
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (dir, dcfg, source, target, cp, position) in pipes {
        let guard = Arc::new(DirectionGuard {
            engine: engine.clone(),
            dir,
        });
        let (engine, reporter, stop) = (engine.clone(), reporter.clone(), stop.clone());
        tasks.spawn(async move {
            direction_loop(
                &dcfg,
                (source, target),
                (cp, position),
                (reporter, stop),
                (engine, guard),
            )
            .await
        });
    }
    let mut first_err = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.unwrap_or_else(|e| {
            Err(Error::new(
                ErrorKind::Internal,
                Class::Fatal,
                "sync direction",
                e.to_string(),
            ))
        });
        if let Err(e) = outcome {
            // One direction failing for good stops the other (a clean stop of both).
            stop.cancel();
            first_err.get_or_insert(e);
        }
    }
    reporter.set_phase(Phase::Stopped);
    match first_err {
        Some(e) => Err(e),
        None => {
            tracing::info!("stopped cleanly");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Tails one direction until stopped; lost history leads to a fresh start point and a
/// reconciliation pass, never to overwriting the newer side.
async fn direction_loop(
    cfg: &Config,
    dbs: (Endpoint, Endpoint),
    (cp, position): (Arc<Checkpointer>, Arc<Position>),
    (reporter, stop): (Reporter, CancellationToken),
    (engine, guard): (Arc<Engine>, Arc<DirectionGuard>),
) -> Result<()> {
    loop {
        let token = cp.state.lock().await.resume_token.clone();
        let at = token.map_or(StartAt::Now, StartAt::ResumeAfter);
        let outcome = run_tail_guarded(
            cfg,
            dbs.clone(),
            TailFrom {
                at,
                target_may_be_ahead: true,
            },
            (cp.clone(), position.clone()),
            reporter.clone(),
            stop.clone(),
            Some(guard.clone()),
        )
        .await;
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if e.kind == ErrorKind::HistoryLost => {
                reporter.record_error(&e);
                tracing::warn!(direction = guard.dir.label(), "change stream history lost on a side: new start point, then a reconciliation pass");
                let token = fresh_token(&reporter, dbs.0.home()).await?;
                cp.start_over(Checkpoint {
                    resume_token: Some(token),
                    ..Default::default()
                })
                .await;
                engine.reconcile().await?;
                reporter
                    .retry("saving the sync start point", || cp.save_state())
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The current end of `db`'s change stream: a token to start a direction from.
async fn fresh_token(reporter: &Reporter, db: &mongodb::Database) -> Result<bson::Document> {
    reporter
        .retry("opening a change stream for a start point", || async {
            let stream = db
                .watch()
                .batch_size(crate::source::stream::START_POINT_BATCH)
                .await
                .map_err(|e| Error::from_driver(Origin::Source, "opening a change stream", &e))?;
            crate::source::stream::start_token(&stream, "opening a change stream")
        })
        .await
}

/// Keeps `online` per side for `sync/status`.
async fn ping_loop(engine: Arc<Engine>, stop: CancellationToken) {
    loop {
        for (i, side) in [Side::Local, Side::Remote].into_iter().enumerate() {
            let ping = engine.db(side).run_command(bson::doc! { "ping": 1 });
            let ok = matches!(tokio::time::timeout(PING_EVERY, ping).await, Ok(Ok(_)));
            engine.online[i].store(ok, Ordering::Relaxed);
        }
        tokio::select! {
            _ = tokio::time::sleep(PING_EVERY) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Applies the configured strategies when a conflict was found under one.
async fn auto_resolver(engine: Arc<Engine>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = engine.auto.notified() => {}
            _ = stop.cancelled() => return,
        }
        if let Err(e) = engine.auto_resolve(usize::MAX).await {
            tracing::warn!(error = %e, "automatic conflict resolution failed; retried at the next conflict");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::direction_config;
    use crate::config::{Config, ConnectionString, SideConfig};
    use crate::sync::engine::Direction;

    fn side(uri: &str) -> SideConfig {
        SideConfig {
            uri: ConnectionString::new(uri),
            database: "app".into(),
            collections: None,
        }
    }

    /// The continuous verifier repairs the backup to match the source; in a sync either side
    /// may hold a conflicting version the sync must leave alone until it is resolved, so each
    /// direction runs without it (it is on by default in `run`).
    #[test]
    fn sync_directions_run_without_the_continuous_verifier_or_history() {
        let mut cfg = Config::default();
        assert!(cfg.verify.continuous.enabled);
        cfg.history.enabled = true;
        cfg.local = Some(side("mongodb://local:27017/"));
        cfg.remote = Some(side("mongodb://remote:27017/"));
        for dir in Direction::ALL {
            let c = direction_config(&cfg, dir).unwrap();
            assert!(!c.verify.continuous.enabled, "{dir:?}");
            assert!(!c.history.enabled, "{dir:?}: history");
        }
    }
}
