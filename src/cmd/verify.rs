//! The `verify` command: compare source and target, print the report, exit 1 on any difference.
//! It serves no HTTP, so it can run next to a live `run` on the same configuration.

use super::EXIT_DIFFERENT;
use crate::bulk::verify::verify;
use crate::config::Config;
use crate::error::Result;
use crate::ops::{Http, Service};
use std::process::ExitCode;

/// Runs `verify` on `cfg`.
pub async fn command(cfg: &Config) -> Result<ExitCode> {
    let service = Service::start_with(cfg, Http::None).await?;
    let report = verify(cfg, &service.reporter).await?;
    println!("{report}");
    Ok(if report.identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIFFERENT)
    })
}
