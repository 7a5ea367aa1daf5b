//! Where the run history is kept: beside the checkpoint, so it lives and dies with it. With
//! `checkpoint.store = "target"` the collection `runs` of `checkpoint.database` (one document
//! per run, `pair` telling replicated pairs apart); with `"file"` a JSON file next to the
//! checkpoint file (`<checkpoint.path>` with the extension `.runs.json`, owner-only), rewritten
//! whole through a temp file and a rename.

use crate::config::{CheckpointStoreKind, Config};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::history::Run;
use bson::doc;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use mongodb::{Client, Collection};
use std::path::PathBuf;
use std::sync::Arc;

/// The collection of `checkpoint.database` holding the runs.
pub const COLLECTION: &str = "runs";

/// Durable home of the runs of one pair. One process writes a pair's runs at a time.
pub trait RunStore: Send + Sync {
    /// The newest `limit` runs, newest first.
    fn load(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Run>>>;
    /// Inserts or replaces `run` (by id).
    fn save<'a>(&'a self, run: &'a Run) -> BoxFuture<'a, Result<()>>;
    /// Deletes the runs that started before `before_ms`; returns how many.
    fn prune(&self, before_ms: i64) -> BoxFuture<'_, Result<u64>>;
}

/// The store beside the checkpoint `cfg` names.
pub fn open(cfg: &Config, target: &Client) -> Option<Arc<dyn RunStore>> {
    let pair = format!("{}->{}", cfg.source.database, cfg.target.database);
    match cfg.checkpoint.store {
        CheckpointStoreKind::Target => Some(Arc::new(TargetRuns {
            runs: target
                .database(&cfg.checkpoint.database)
                .collection(COLLECTION),
            pair,
        })),
        CheckpointStoreKind::File => cfg.checkpoint.path.as_ref().map(|p| {
            Arc::new(FileRuns {
                path: file_path(p),
                lock: tokio::sync::Mutex::new(()),
            }) as Arc<dyn RunStore>
        }),
    }
}

/// `cp.bson` -> `cp.runs.json`.
pub fn file_path(checkpoint: &std::path::Path) -> PathBuf {
    checkpoint.with_extension("runs.json")
}

struct TargetRuns {
    runs: Collection<Run>,
    pair: String,
}

fn driver(what: &str, e: &mongodb::error::Error) -> Error {
    Error::from_driver(Origin::Checkpoint, what, e)
}

impl RunStore for TargetRuns {
    fn load(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Run>>> {
        async move {
            let cursor = self
                .runs
                .find(doc! {"pair": &self.pair})
                .sort(doc! {"started_ms": -1})
                .limit(limit as i64)
                .await
                .map_err(|e| driver("reading the run history", &e))?;
            cursor
                .try_collect()
                .await
                .map_err(|e| driver("reading the run history", &e))
        }
        .boxed()
    }

    fn save<'a>(&'a self, run: &'a Run) -> BoxFuture<'a, Result<()>> {
        async move {
            self.runs
                .replace_one(doc! {"_id": &run.id}, run)
                .upsert(true)
                .await
                .map_err(|e| driver("writing the run history", &e))?;
            Ok(())
        }
        .boxed()
    }

    fn prune(&self, before_ms: i64) -> BoxFuture<'_, Result<u64>> {
        async move {
            let r = self
                .runs
                .delete_many(doc! {"pair": &self.pair, "started_ms": {"$lt": before_ms}})
                .await
                .map_err(|e| driver("pruning the run history", &e))?;
            Ok(r.deleted_count)
        }
        .boxed()
    }
}

/// The runs as one JSON array, newest first; `lock` keeps read-modify-writes of one process
/// apart.
struct FileRuns {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl FileRuns {
    async fn read(&self) -> Result<Vec<Run>> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                file_error(format!(
                    "the run history {} is unreadable ({e}); delete it to start a new history",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(file_error(format!("reading {}: {e}", self.path.display()))),
        }
    }

    async fn write(&self, mut runs: Vec<Run>) -> Result<()> {
        runs.sort_by(|a, b| b.started_ms.cmp(&a.started_ms).then(b.id.cmp(&a.id)));
        let bytes = serde_json::to_vec_pretty(&runs).map_err(|e| file_error(e.to_string()))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_owner_only(&path, &bytes))
            .await
            .map_err(|e| file_error(format!("run history write task: {e}")))?
            .map_err(|e| file_error(format!("writing {}: {e}", self.path.display())))
    }
}

impl RunStore for FileRuns {
    fn load(&self, limit: usize) -> BoxFuture<'_, Result<Vec<Run>>> {
        async move {
            let _held = self.lock.lock().await;
            let mut runs = self.read().await?;
            runs.truncate(limit);
            Ok(runs)
        }
        .boxed()
    }

    fn save<'a>(&'a self, run: &'a Run) -> BoxFuture<'a, Result<()>> {
        async move {
            let _held = self.lock.lock().await;
            let mut runs = self.read().await?;
            runs.retain(|r| r.id != run.id);
            runs.push(run.clone());
            self.write(runs).await
        }
        .boxed()
    }

    fn prune(&self, before_ms: i64) -> BoxFuture<'_, Result<u64>> {
        async move {
            let _held = self.lock.lock().await;
            let mut runs = self.read().await?;
            let before = runs.len();
            runs.retain(|r| r.started_ms >= before_ms);
            let pruned = (before - runs.len()) as u64;
            if pruned > 0 {
                self.write(runs).await?;
            }
            Ok(pruned)
        }
        .boxed()
    }
}

/// Writes `bytes` to `<path>.tmp` (0600: the history names collections) and renames it over
/// `path`, so a crash leaves the previous history or this one.
fn write_owner_only(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("runs.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

fn file_error(message: String) -> Error {
    Error::new(
        ErrorKind::File,
        Class::Transient,
        "run history file",
        message,
    )
    .at(Origin::Checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, started_ms: i64) -> Run {
        Run {
            id: id.into(),
            pair: "a->b".into(),
            started_ms,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn the_file_keeps_runs_newest_first_replaces_by_id_and_prunes_by_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileRuns {
            path: file_path(&dir.path().join("cp.bson")),
            lock: Default::default(),
        };
        assert_eq!(store.load(10).await.unwrap(), vec![]);
        store.save(&run("a", 1)).await.unwrap();
        store.save(&run("b", 3)).await.unwrap();
        store.save(&run("c", 2)).await.unwrap();
        let mut again = run("a", 1);
        again.ddl_applied = 4;
        store.save(&again).await.unwrap();
        let ids = |runs: Vec<Run>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(store.load(10).await.unwrap()), ["b", "c", "a"]);
        assert_eq!(store.load(10).await.unwrap()[2].ddl_applied, 4);
        assert_eq!(ids(store.load(2).await.unwrap()), ["b", "c"]);
        assert_eq!(store.prune(2).await.unwrap(), 1);
        assert_eq!(ids(store.load(10).await.unwrap()), ["b", "c"]);
        assert!(dir.path().join("cp.runs.json").is_file());
    }
}
