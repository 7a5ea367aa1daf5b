//! Thin entry point: parse the command line, load and validate configuration, initialise
//! logging, run, map the outcome to an exit code (see `cmd` for the codes).

use clap::Parser;
use mongo_replicator::cmd::cli::{Cli, Command};
use mongo_replicator::cmd::{execute, EXIT_CONFIG};
use mongo_replicator::config::{Config, LogConfig, LogFormat};
use std::process::ExitCode;

/// mimalloc: the pipeline allocates per event across threads; glibc malloc's arenas made
/// allocation the largest CPU cost in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match &cli.command {
        Command::Run(a) | Command::Copy(a) | Command::Verify(a) | Command::Sync(a) => {
            match Config::load(a.config.as_deref(), a.overrides()) {
                Ok(cfg) => Some(cfg),
                Err(e) => {
                    eprintln!("mongo-replicator: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
        Command::Restore(a) => match Config::load(a.common.config.as_deref(), a.common.overrides())
        {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                eprintln!("mongo-replicator: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        // Control commands load their own (address and token only) and never log.
        Command::Demo(_)
        | Command::Status(_)
        | Command::Pause(_)
        | Command::Resume(_)
        | Command::Resync(_) => None,
        Command::Failed(_) | Command::Retry(_) | Command::Skip(_) | Command::Runs(_) => None,
        Command::Held(_) | Command::Release(_) | Command::Discard(_) => None,
        Command::Conflicts(_) | Command::Resolve(_) | Command::AutoResolve(_) => None,
        Command::History(_) => None,
    };
    let log = cfg.as_ref().map(|c| c.log.clone()).unwrap_or(LogConfig {
        format: LogFormat::Text,
        level: "warn".into(),
    });
    mongo_replicator::ops::logging::init(&log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mongo-replicator: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    runtime.block_on(execute(cli.command, cfg))
}
