//! `restore --at T`: the backup's state as of T into a new database (default
//! `<target>_restore_<time>`) or, with `--into-uri`, into any deployment, rewriting only the
//! documents changed after T ([`crate::history::restore`]). Prints a summary per collection;
//! `--dry-run` only counts. A T outside the history's window exits 2 with the window.

use crate::cmd::cli::RestoreArgs;
use crate::config::{Config, ConnectionString};
use crate::error::{Class, Error, ErrorKind, Result};
use crate::history::at::At;
use crate::history::changes::{database_name, window::WINDOW, COLLECTION};
use crate::history::restore::{self, plan, restore_collection, Destination, Job};
use crate::ops::progress_bars::ProgressBars;
use crate::source::connect::{client, target_client};
use bson::Bson;
use std::collections::BTreeSet;
use std::process::ExitCode;

fn usage(what: &str, why: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, Class::Fatal, what, why.into())
}

/// An `_id` given on the command line: Extended JSON, else the plain string.
pub fn parse_id(text: &str) -> std::result::Result<Bson, String> {
    let v = serde_json::from_str::<serde_json::Value>(text)
        .unwrap_or_else(|_| serde_json::Value::String(text.to_string()));
    Bson::try_from(v).map_err(|e| format!("{text:?} is not Extended JSON: {e}"))
}

pub async fn command(cfg: &Config, args: &RestoreArgs) -> Result<ExitCode> {
    let at = At::parse(&args.at).map_err(|e| usage("--at", e))?;
    let ids = args
        .ids
        .iter()
        .map(|i| parse_id(i))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| usage("--id", e))?;
    restorable(cfg)?;
    let target = target_client(cfg).await?;
    let backup = target.database(&cfg.target.database);
    let history_name = database_name(cfg);
    let history = target.database(&history_name);
    restore::checked(&history, at).await?;
    let (dest, to) = match &args.into_uri {
        Some(uri) => {
            let c = client(&ConnectionString::new(uri.clone()), "--into-uri").await?;
            let name = args.into_db.clone().unwrap_or(cfg.source.database.clone());
            (c.database(&name), Destination::Deployment)
        }
        None => {
            let name = args
                .into_db
                .clone()
                .unwrap_or_else(|| plan::default_database(&cfg.target.database, &at.text()));
            if name == cfg.target.database || name == history_name {
                return Err(usage(
                    "--into-db",
                    format!("{name:?} is the backup or its history: restore into another database"),
                ));
            }
            (target.database(&name), Destination::NewDatabase)
        }
    };
    let changed = restore::changed_after(&history, at, &args.collections, &ids).await?;
    let collections: BTreeSet<String> = if !args.collections.is_empty() {
        args.collections.iter().cloned().collect()
    } else {
        let mut all: BTreeSet<String> = changed.keys().cloned().collect();
        if to == Destination::NewDatabase {
            let ours = [COLLECTION, WINDOW, "restore_progress"];
            let names = backup.list_collection_names().await.map_err(|e| {
                Error::from_driver(crate::error::Origin::Target, "listing the backup", &e)
            })?;
            let shared = history_name == cfg.target.database;
            let ours = |n: &str| n.starts_with("system.") || (shared && ours.contains(&n));
            all.extend(names.into_iter().filter(|n| !ours(n)));
        }
        all
    };
    let what = if args.dry_run {
        "would restore"
    } else {
        "restoring"
    };
    println!(
        "{what} {} as of {} into {}",
        cfg.target.database,
        at.text(),
        dest.name()
    );
    let bars = ProgressBars::new(args.dry_run);
    let job = Job {
        backup: &backup,
        dest: &dest,
        history: &history,
        at: at.text(),
        ids: &ids,
        dry_run: args.dry_run,
        bars: &bars,
    };
    let empty = Default::default();
    for coll in &collections {
        let counts =
            restore_collection(&job, coll, changed.get(coll).unwrap_or(&empty), to).await?;
        println!("{}", counts.line(coll));
    }
    Ok(ExitCode::SUCCESS)
}

/// A restore reads the backup as one database holding the source's collections under their
/// own names: `[[namespaces]]` rules that retarget names or select several databases are
/// refused (naming what to do) rather than restored into the wrong place.
fn restorable(cfg: &Config) -> Result<()> {
    let scope = cfg
        .scope()
        .map_err(|e| Error::new(ErrorKind::Config, Class::Fatal, "namespaces", e.0))?;
    match scope.whole_database_target() {
        Some(db) if db == cfg.target.database => Ok(()),
        _ => Err(Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "namespaces",
            "restore needs one source database replicated into target.database under its own \
             collection names; these [[namespaces]] rules retarget names or select several \
             databases (restore from a configuration with one such rule per database)",
        )),
    }
}
