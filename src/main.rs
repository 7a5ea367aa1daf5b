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

/// No transparent huge pages for this process: mimalloc asks for them on its arenas, and
/// every fault of a fresh or purged 2 MiB region then zeroes all of it (the kernel's
/// `clear_page_erms` was a third of the replicator's CPU in a catch-up profile, README
/// "Performance"); with 4 KiB pages only the pages touched are zeroed. What mimalloc's own
/// `allow_thp=0` does, which it reads before `main` only from the environment.
fn disable_transparent_huge_pages() {
    // SAFETY: prctl with integer arguments only; a kernel without it returns an error, which
    // leaves the default (huge pages allowed).
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
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
