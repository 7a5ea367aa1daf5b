//! `mongo-testbed`: serve a MongoDB-compatible single-node replica set until SIGTERM/SIGINT.

use clap::Parser;
use mongo_testbed::{Testbed, TestbedOptions};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// mimalloc: every request allocates documents across threads; glibc malloc was the largest
/// CPU cost in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// No transparent huge pages for this process: mimalloc asks for them, and every fault on a
/// fresh or released 2 MiB region then zeroes all of it (most of the server's CPU in the
/// replicator's benchmark profile; README "Performance"). mimalloc's own `allow_thp=0` is
/// read from the environment before `main` only.
fn disable_transparent_huge_pages() {
    // SAFETY: prctl with integer arguments only; a kernel without it returns an error, which
    // leaves the default (huge pages allowed).
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

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
    /// A user in `admin` as NAME:PASSWORD (repeatable); with any, clients must authenticate
    /// (SCRAM-SHA-256, e.g. `mongodb://NAME:PASSWORD@HOST/?authSource=admin`).
    #[arg(long = "user", value_name = "NAME:PASSWORD", value_parser = parse_user)]
    users: Vec<(String, String)>,
    /// Answer as a standalone mongod instead of a replica-set primary (change streams fail).
    #[arg(long)]
    standalone: bool,
    /// A server parameter as NAME=VALUE (repeatable), as mongod's `--setParameter`:
    /// `ttlMonitorSleepSecs=N` (seconds between TTL passes, default 60), `ttlMonitorEnabled=false`.
    #[arg(long = "setParameter", value_name = "NAME=VALUE")]
    set_parameters: Vec<String>,
}

/// `NAME:PASSWORD`, split at the first colon (passwords may contain colons).
fn parse_user(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, password)) if !name.is_empty() && !password.is_empty() => {
            Ok((name.to_string(), password.to_string()))
        }
        _ => Err("expected NAME:PASSWORD".into()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    disable_transparent_huge_pages();
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
        users: args.users,
        standalone: args.standalone,
        set_parameters: args.set_parameters,
        ..TestbedOptions::default()
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
