//! The command layer: runs one CLI command to an exit code. `main` stays thin.

use crate::cli::Command;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::progress_display::Display;
use crate::service::Service;
use std::process::ExitCode;

/// Exit codes (contract): 0 success, 1 verify found differences, 2 bad usage or configuration,
/// 3 any other fatal error.
pub const EXIT_DIFFERENT: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;
pub const EXIT_FATAL: u8 = 3;

pub fn exit_code_for(err: &Error) -> ExitCode {
    ExitCode::from(if err.kind == ErrorKind::Config {
        EXIT_CONFIG
    } else {
        EXIT_FATAL
    })
}

fn fail(err: &Error) -> ExitCode {
    tracing::error!(error = %err, "stopping");
    eprintln!("mongo-replicator: {err}");
    exit_code_for(err)
}

/// Runs `command` with an already loaded and validated `cfg` (`None` for `demo`).
pub async fn execute(command: Command, cfg: Option<Config>) -> ExitCode {
    match (command, cfg) {
        (Command::Demo(args), _) => match crate::demo::demo(args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(EXIT_DIFFERENT),
            Err(e) => fail(&e),
        },
        (Command::Run(_), Some(cfg)) => {
            let service = match Service::start(&cfg).await {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            service.stop_on_signals();
            tracing::info!(source_db = %cfg.source.database, target_db = %cfg.target.database, http = %service.http_addr, "mongo-replicator started");
            match crate::job::run_job(
                &cfg,
                &service.telemetry,
                service.progress.clone(),
                service.stop.clone(),
                &Display::new(false),
            )
            .await
            {
                Ok(()) => {
                    tracing::info!("stopped cleanly");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        (Command::Copy(_), Some(cfg)) => {
            let service = match Service::start(&cfg).await {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            service.stop_on_signals();
            let started = std::time::Instant::now();
            match crate::job::copy_job(&cfg, &service.telemetry, &Display::new(false)).await {
                Ok(summaries) => {
                    print_copy_summary(&summaries, started.elapsed().as_secs_f64());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        (Command::Verify(_), Some(cfg)) => {
            let service = match Service::start(&cfg).await {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            match crate::verify::verify(&cfg, &service.telemetry).await {
                Ok(report) => {
                    println!("{report}");
                    if report.identical() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(EXIT_DIFFERENT)
                    }
                }
                Err(e) => fail(&e),
            }
        }
        (_, None) => ExitCode::from(EXIT_CONFIG),
    }
}

fn print_copy_summary(summaries: &[crate::copy::CollectionSummary], seconds: f64) {
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
