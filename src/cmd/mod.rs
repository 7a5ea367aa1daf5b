//! The commands: one file each, and the exit codes. [`execute`] runs one CLI command to an exit
//! code; `main` stays thin.

pub mod cli;
pub mod control;
pub mod copy;
#[cfg(feature = "demo")]
pub mod demo;
pub mod failed_runs;
pub mod held;
pub mod history;
pub mod restore;
pub mod resync;
pub mod run;
pub mod sync;
pub mod verify;

pub use copy::copy_job;
pub use run::run_job;

use crate::cmd::cli::Command;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use std::process::ExitCode;

/// Exit codes (contract): 0 success, 1 verify found differences (or the server refused a
/// control request), 2 bad usage or configuration, 3 any other fatal error (control: the
/// replicator cannot be reached).
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
    let outcome = match (command, cfg) {
        (Command::Demo(args), _) => demo(args).await,
        (Command::Status(args), _) => return control::command(control::Action::Status, args).await,
        (Command::Pause(args), _) => return control::command(control::Action::Pause, args).await,
        (Command::Resume(args), _) => return control::command(control::Action::Resume, args).await,
        (Command::Resync(args), _) => return resync::command(args).await,
        (Command::Failed(args), _) => return failed_runs::failed(args).await,
        (Command::Retry(args), _) => return failed_runs::act("retry", args).await,
        (Command::Skip(args), _) => return failed_runs::act("skip", args).await,
        (Command::Runs(args), _) => return failed_runs::runs(args).await,
        (Command::Held(args), _) => return held::held(args).await,
        (Command::Release(args), _) => return held::decide("release", args).await,
        (Command::Discard(args), _) => return held::decide("discard", args).await,
        (Command::Conflicts(args), _) => return sync::conflicts(args).await,
        (Command::Resolve(args), _) => return sync::resolve(args).await,
        (Command::AutoResolve(args), _) => return sync::auto_resolve(args).await,
        (Command::Sync(_), Some(cfg)) => sync::command(&cfg).await,
        (Command::History(args), _) => return history::command(args).await,
        (Command::Restore(args), Some(cfg)) => restore::command(&cfg, &args).await,
        (Command::Run(_), Some(cfg)) => run::command(&cfg).await,
        (Command::Copy(_), Some(cfg)) => copy::command(&cfg).await,
        (Command::Verify(_), Some(cfg)) => verify::command(&cfg).await,
        (_, None) => return ExitCode::from(EXIT_CONFIG),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

#[cfg(feature = "demo")]
async fn demo(args: cli::DemoArgs) -> crate::error::Result<ExitCode> {
    Ok(if demo::demo(args).await? {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIFFERENT)
    })
}

#[cfg(not(feature = "demo"))]
async fn demo(_: cli::DemoArgs) -> crate::error::Result<ExitCode> {
    Err(Error::new(
        ErrorKind::Config,
        crate::error::Class::Fatal,
        "demo",
        "this build has no embedded testbed (built without the `demo` feature)",
    ))
}
