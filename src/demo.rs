//! `demo`: the whole product on a laptop with nothing installed. Starts the testbed in-process,
//! seeds orders, keeps order traffic running, replicates (copy + tail) with live progress, then
//! stops the traffic, waits for the backup to catch up, and verifies it.

use crate::cli::DemoArgs;
use crate::config::{Config, ConnectionString, UpdateMode};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::job::run_job;
use crate::progress_display::Display;
use crate::service::Service;
use crate::verify::verify_databases;
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
    let cfg = demo_config(&uri, &args)?;
    println!("demo: embedded MongoDB-compatible testbed at {uri}");
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .map_err(|e| Error::from_driver(ErrorKind::Source, "connecting to the testbed", &e))?;
    let db = client.database(&cfg.source.database);
    crate::traffic::seed(&db, args.seed_orders, 1)
        .await
        .map_err(|e| Error::from_driver(ErrorKind::Source, "seeding orders", &e))?;
    println!(
        "demo: seeded {} orders into {}.orders",
        args.seed_orders, cfg.source.database
    );

    let service = Service::start(&cfg).await?;
    service.stop_on_signals();
    println!(
        "demo: metrics at http://{}/metrics, status at http://{}/status",
        service.http_addr, service.http_addr
    );
    let traffic_stop = CancellationToken::new();
    let traffic = tokio::spawn(crate::traffic::run(
        db.clone(),
        args.rate,
        2,
        traffic_stop.clone(),
    ));
    let job = {
        let (cfg, t, p, s) = (
            cfg.clone(),
            service.telemetry.clone(),
            service.progress.clone(),
            service.stop.clone(),
        );
        tokio::spawn(async move { run_job(&cfg, &t, p, s, &Display::new(true)).await })
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
        .map_err(|e| Error::from_driver(ErrorKind::Source, "generating traffic", &e))?;
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
    let status = service.telemetry.status.to_json();
    println!(
        "demo: copied {} seeded orders, then replicated {} live change events in {:.0} s (by operation: {})",
        args.seed_orders,
        service.progress.applied(),
        started.elapsed().as_secs_f64(),
        status["events_applied"]
    );
    println!(
        "demo: the backup is {}; metrics were served at http://{}/metrics (`mongo-replicator run` serves them for as long as it runs)",
        if report.identical() { "identical to the source" } else { "DIFFERENT from the source" },
        service.http_addr
    );
    testbed.shutdown().await;
    Ok(report.identical())
}

fn print_progress(service: &Service, started: Instant) {
    let s = service.telemetry.status.to_json();
    println!(
        "demo: t={:>3}s phase={} received={} applied={} lag={:.2}s",
        started.elapsed().as_secs(),
        s["phase"].as_str().unwrap_or("?"),
        service.progress.received(),
        service.progress.applied(),
        s["lag_seconds"].as_f64().unwrap_or(0.0),
    );
}

/// Caught up: nothing pending, and the stream has had time to deliver the last writes.
async fn wait_caught_up(service: &Service, limit: Duration) {
    let until = Instant::now() + limit;
    let mut quiet_since: Option<Instant> = None;
    let mut last = service.progress.received();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let received = service.progress.received();
        let tailing = service.telemetry.status.phase() == crate::status::Phase::Tailing;
        if tailing && service.progress.pending() == 0 && received == last {
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
