//! `restore --at T`: the backup's state as of T into a new database (default
//! `<target>_restore_<time>`) or, with `--into-uri`, into any deployment, rewriting only the
//! documents changed after T ([`crate::history::restore`]). Prints a summary per collection;
//! `--dry-run` only counts. A T outside the history's window exits 2 with the window.

use crate::bulk::listing::{self, Kind};
use crate::cmd::cli::RestoreArgs;
use crate::config::{Config, ConnectionString};
use crate::error::Origin;
use crate::error::{Class, Error, ErrorKind, Result};
use crate::history::at::At;
use crate::history::changes::{database_name, window::WINDOW, COLLECTION};
use crate::history::restore::{self, plan, restore_collection, Destination, Job};
use crate::ops::progress_bars::ProgressBars;
use crate::ops::Side;
use crate::source::connect::{client, target_client};
use crate::source::namespaces::Scope;
use crate::source::Endpoint;
use bson::Bson;
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

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
    let scope = restorable(cfg)?;
    let target = target_client(cfg).await?;
    let backup = Endpoint::new(target.clone(), scope.clone(), Side::Target);
    let history_name = database_name(cfg);
    let history = target.database(&history_name);
    restore::checked(&history, at).await?;
    let (dest, to) = match &args.into_uri {
        Some(uri) => {
            // Back where each collection came from, or all into `--into-db`.
            let c = client(&ConnectionString::new(uri.clone()), "--into-uri").await?;
            let dest = match &args.into_db {
                Some(name) => Endpoint::into_database(c, name, scope.clone()),
                None => Endpoint::new(c, scope.clone(), Side::Source),
            };
            (dest, Destination::Deployment)
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
            let dest = Endpoint::into_database(target.clone(), &name, scope.clone());
            (dest, Destination::NewDatabase)
        }
    };
    let changed = restore::changed_after(&history, at, &args.collections, &ids).await?;
    let collections: BTreeSet<String> = if !args.collections.is_empty() {
        args.collections.iter().cloned().collect()
    } else {
        let mut all: BTreeSet<String> = changed.keys().cloned().collect();
        if to == Destination::NewDatabase {
            let ours = [COLLECTION, WINDOW, "restore_progress"];
            // Every backup collection the mapping explains (changed ones by their keys).
            let keys: Vec<String> = all.iter().cloned().collect();
            let listed = listing::list_target(&backup, &keys, Origin::Target).await?;
            let shared = history_name == cfg.target.database;
            let ours = |n: &str| shared && ours.contains(&n);
            all.extend(
                listed
                    .into_iter()
                    .filter(|l| l.kind == Kind::Collection && !ours(&l.name))
                    .map(|l| l.name),
            );
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

/// The scope a restore reads the backup with. Rules that give collections their own target
/// names are refused (naming what to do): the backup's collections could not all be found
/// from the history and the mapping read backwards. Several databases are fine: each key's
/// backup is `{db}_backup` (or `target.database`).
fn restorable(cfg: &Config) -> Result<Arc<Scope>> {
    let scope = cfg.scope()?;
    if scope.rules().has_targets() {
        return Err(Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "namespaces",
            "restore reads the backup under the default names ({db}_backup, or target.database): \
             these [[namespaces]] rules give collections their own targets; restore with a \
             configuration of rules without `target`, naming the backup database as the source's",
        ));
    }
    Ok(Arc::new(scope))
}
