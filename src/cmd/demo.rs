//! `demo`: the whole product on a laptop with nothing installed. Starts the testbed in-process,
//! seeds orders, keeps order traffic running, replicates (copy + tail) with live progress, then
//! stops the traffic, waits for the backup to catch up, and verifies it.

mod traffic;

use crate::bulk::verify::verify_databases;
use crate::cmd::cli::DemoArgs;
use crate::cmd::run::run_job;
use crate::config::{Config, ConnectionString, UpdateMode};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::ops::progress_bars::ProgressBars;
use crate::ops::service::Service;
use mongo_testbed::{Testbed, TestbedOptions};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The demo's configuration on a testbed at `uri`.
pub fn demo_config(uri: &str, args: &DemoArgs) -> Result<Config> {
    let mut cfg = Config::default();
    cfg.source.uri = ConnectionString::new(uri);
    cfg.target.uri = ConnectionString::new(uri);
    cfg.apply.workers = args.workers;
    cfg.apply.update_mode = match args.update_mode.as_str() {
        "delta" => UpdateMode::Delta,
        "full_document" => UpdateMode::FullDocument,
        other => {
            return Err(Error::new(
                ErrorKind::Config,
                Class::Fatal,
                "--update-mode",
                format!("`{other}`: expected delta or full_document"),
            ))
        }
    };
    cfg.http.addr = args.http_addr.parse().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "--http-addr",
            format!("`{}` is not host:port", args.http_addr),
        )
    })?;
    cfg.checkpoint.interval_ms = 500;
    Ok(cfg)
}

/// Returns true when the backup verified identical.
pub async fn demo(args: DemoArgs) -> Result<bool> {
    let testbed = Testbed::start(TestbedOptions::default())
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                Class::Fatal,
                "starting the embedded testbed",
                e.to_string(),
            )
        })?;
    let uri = testbed.uri();
    let mut cfg = demo_config(&uri, &args)?;
    println!("demo: embedded MongoDB-compatible testbed at {uri}");
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .map_err(|e| Error::from_driver(Origin::Source, "connecting to the testbed", &e))?;
    let db = client.database(&cfg.source.database);
    traffic::seed(&db, args.seed_orders, 1)
        .await
        .map_err(|e| Error::from_driver(Origin::Source, "seeding orders", &e))?;
    println!(
        "demo: seeded {} orders into {}.orders",
        args.seed_orders, cfg.source.database
    );

    let service = start_service(&mut cfg).await?;
    service.stop_on_signals();
    let http = service.http_addr.map(|a| a.to_string()).unwrap_or_default();
    println!("demo: metrics at http://{http}/metrics, status at http://{http}/status");
    let traffic_stop = CancellationToken::new();
    let traffic = tokio::spawn(traffic::run(db.clone(), args.rate, 2, traffic_stop.clone()));
    let job = {
        let (cfg, t, p, s) = (
            cfg.clone(),
            service.reporter.clone(),
            service.position.clone(),
            service.stop.clone(),
        );
        tokio::spawn(async move { run_job(&cfg, &t, p, s, &ProgressBars::new(true)).await })
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    while Instant::now() < deadline && !service.stop.is_cancelled() && !job.is_finished() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        print_progress(&service, started);
    }
    traffic_stop.cancel();
    let stats = traffic
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, Class::Fatal, "traffic", e.to_string()))?
        .map_err(|e| Error::from_driver(Origin::Source, "generating traffic", &e))?;
    println!("demo: traffic stopped ({} inserts, {} updates, {} deletes); waiting for the backup to catch up", stats.inserts, stats.updates, stats.deletes);
    wait_caught_up(&service, Duration::from_secs(30)).await;
    service.stop.cancel();
    job.await.map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            Class::Fatal,
            "replicator",
            e.to_string(),
        )
    })??;

    let report = verify_databases(&cfg, &db, &client.database(&cfg.target.database)).await?;
    println!("{report}");
    let status = service.reporter.status.to_json();
    // Every stream event is acknowledged, but some need no write (events the copy already
    // covered, events of collections not replicated): the count written is the per-op sum.
    let by_op = &status["events_applied"];
    let written: u64 = by_op
        .as_object()
        .map(|o| o.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    let handled = service.position.applied();
    println!(
        "demo: copied {} seeded orders, then replicated {} live change events in {:.0} s (by operation: {}){}",
        args.seed_orders,
        written,
        started.elapsed().as_secs_f64(),
        by_op,
        match handled.saturating_sub(written) {
            0 => String::new(),
            n => format!("; {n} more events needed no write"),
        }
    );
    println!(
        "demo: the backup is {}; metrics were served at http://{}/metrics (`mongo-replicator run` serves them for as long as it runs)",
        if report.identical() { "identical to the source" } else { "DIFFERENT from the source" },
        http
    );
    testbed.shutdown().await;
    Ok(report.identical())
}

/// The demo's service on `http.addr`, or on a free port when that one is taken (a replicator
/// already running on this machine): the demo must run whatever else does.
async fn start_service(cfg: &mut Config) -> Result<Service> {
    if std::net::TcpListener::bind(cfg.http.addr).is_err() {
        println!(
            "demo: {} is in use; serving HTTP on a free port instead",
            cfg.http.addr
        );
        cfg.http.addr.set_port(0);
    }
    Service::start(cfg).await
}

fn print_progress(service: &Service, started: Instant) {
    let s = service.reporter.status.to_json();
    println!(
        "demo: t={:>3}s phase={} received={} applied={} lag={:.2}s",
        started.elapsed().as_secs(),
        s["phase"].as_str().unwrap_or("?"),
        service.position.received(),
        service.position.applied(),
        s["lag_seconds"].as_f64().unwrap_or(0.0),
    );
}

/// Caught up: nothing pending, and the stream has had time to deliver the last writes.
async fn wait_caught_up(service: &Service, limit: Duration) {
    let until = Instant::now() + limit;
    let mut quiet_since: Option<Instant> = None;
    let mut last = service.position.received();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let received = service.position.received();
        let tailing = service.reporter.status.phase() == crate::ops::status::Phase::Tailing;
        if tailing && service.position.pending() == 0 && received == last {
            if quiet_since.get_or_insert_with(Instant::now).elapsed() >= Duration::from_millis(1500)
            {
                return;
            }
        } else {
            quiet_since = None;
        }
        last = received;
    }
}
