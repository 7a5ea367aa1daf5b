//! Command line (`clap`): `run | copy | verify | demo`, each with `--config FILE` and flags for the
//! common settings. Flags become the highest figment layer.
// OWNER: core-logic helper.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "mongo-replicator",
    version,
    about = "Keeps a backup MongoDB database identical to a primary one, live."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy if needed, then tail the change stream forever (the sidecar job).
    Run(CommonArgs),
    /// The initial duplication alone; a later `run` tails from its recorded start point.
    Copy(CommonArgs),
    /// Compare source and target (documents, counts, indexes); exit 1 on any difference.
    Verify(CommonArgs),
    /// Everything on an embedded testbed: seed, traffic, copy + tail, verify.
    Demo(DemoArgs),
}

#[derive(Debug, Args, Default, Clone)]
pub struct CommonArgs {
    /// TOML configuration file.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub source_uri: Option<String>,
    #[arg(long)]
    pub source_db: Option<String>,
    #[arg(long)]
    pub target_uri: Option<String>,
    #[arg(long)]
    pub target_db: Option<String>,
    #[arg(long)]
    pub http_addr: Option<String>,
    #[arg(long)]
    pub workers: Option<usize>,
    /// `delta` or `full_document`.
    #[arg(long)]
    pub update_mode: Option<String>,
    /// `auto`, `always` or `never`.
    #[arg(long)]
    pub copy_mode: Option<String>,
    #[arg(long)]
    pub log_level: Option<String>,
    /// `text` or `json`.
    #[arg(long)]
    pub log_format: Option<String>,
}

impl CommonArgs {
    /// The flags given, in config-key shape (`{"source": {"uri": ...}}`), for the top figment layer.
    pub fn overrides(&self) -> serde_json::Value {
        todo!("core-logic")
    }
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// How long to replicate live traffic.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Orders seeded before the copy.
    #[arg(long, default_value_t = 3000)]
    pub seed_orders: u64,
    /// Traffic generator rate (operations per second).
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub http_addr: String,
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// `delta` or `full_document`.
    #[arg(long, default_value = "delta")]
    pub update_mode: String,
}
