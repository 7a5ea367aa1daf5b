//! `mongo-testbed`: serve a MongoDB-compatible single-node replica set until SIGTERM/SIGINT.

use clap::Parser;
use mongo_testbed::{Testbed, TestbedOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mongo-testbed",
    version,
    about = "A MongoDB-compatible single-node replica set for tests, benchmarks and demos"
)]
struct Args {
    /// TCP port (0 picks a free one; the line printed at startup tells which).
    #[arg(long, default_value_t = 27017)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Directory where data and oplog persist across restarts; in memory when absent.
    #[arg(long)]
    dbpath: Option<PathBuf>,
    /// Replica set name advertised by `hello`.
    #[arg(long, default_value = "rs0")]
    replset: String,
    /// Oplog entries kept; older resume tokens then fail with ChangeStreamHistoryLost (286).
    #[arg(long, default_value_t = 10_000_000)]
    oplog_max_entries: usize,
    /// Answer as a standalone mongod instead of a replica-set primary (change streams fail).
    #[arg(long)]
    standalone: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let options = TestbedOptions {
        bind: SocketAddr::new(args.bind, args.port),
        dbpath: args.dbpath,
        replset: args.replset.clone(),
        oplog_max_entries: args.oplog_max_entries,
        standalone: args.standalone,
    };
    let testbed = Testbed::start(options).await?;
    if args.standalone {
        println!("mongo-testbed listening on {} (standalone)", testbed.addr());
    } else {
        println!(
            "mongo-testbed listening on {} (replica set {})",
            testbed.addr(),
            args.replset
        );
    }
    wait_for_signal().await?;
    testbed.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}
