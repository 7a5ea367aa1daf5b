//! The checkpoint in a local file, as BSON: written to `<path>.tmp` (mode 0600), fsync'd, renamed
//! over the old one and the directory fsync'd, so a crash or power loss leaves the previous
//! checkpoint or the new one, and a save counts only once it is on disk.

use super::{decode, encode, CheckpointStore};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::state::Checkpoint;
use bson::Document;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: PathBuf) -> Self {
        FileStore { path }
    }
}

impl CheckpointStore for FileStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<Checkpoint>>> {
        async move {
            let path = &self.path;
            match tokio::fs::read(path).await {
                Ok(bytes) => {
                    let d = Document::from_reader(&mut bytes.as_slice()).map_err(|e| {
                        file_error(format!(
                            "checkpoint file {} is corrupt ({e}); remove it to start over",
                            path.display()
                        ))
                    })?;
                    decode(d).map(Some)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(file_error(format!("reading {}: {e}", path.display()))),
            }
        }
        .boxed()
    }

    fn save<'a>(&'a self, cp: &'a Checkpoint) -> BoxFuture<'a, Result<()>> {
        async move {
            let mut bytes = Vec::new();
            encode(cp)?
                .to_writer(&mut bytes)
                .map_err(|e| file_error(e.to_string()))?;
            let path = self.path.clone();
            tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
                .await
                .map_err(|e| file_error(format!("checkpoint write task: {e}")))?
        }
        .boxed()
    }
}

/// Writes `bytes` to `<path>.tmp` (owner-only: it holds `_id`s), fsyncs it, renames it over
/// `path` and fsyncs the directory: only then does the save count, so a power loss leaves either
/// the previous checkpoint or this one.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let err = |what: &str, p: &Path, e: std::io::Error| {
        file_error(format!("{what} {}: {e}", p.display()))
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(|e| err("writing", &tmp, e))?;
    // `mode` applies only when the file is created: a leftover temp file keeps its own.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err("restricting", &tmp, e))?;
    }
    file.write_all(bytes).map_err(|e| err("writing", &tmp, e))?;
    file.sync_all().map_err(|e| err("syncing", &tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| err("renaming to", path, e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err("syncing directory", dir, e))
}

fn file_error(msg: String) -> Error {
    Error::new(ErrorKind::File, Class::Transient, "checkpoint file", msg).at(Origin::Checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[tokio::test]
    async fn a_missing_file_loads_as_none_and_a_save_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("cp.bson"));
        assert_eq!(store.load().await.unwrap(), None);
        let cp = Checkpoint {
            resume_token: Some(doc! {"_data": "82AB"}),
            clean: true,
            ..Default::default()
        };
        store.save(&cp).await.unwrap();
        let loaded = store.load().await.unwrap().expect("saved");
        assert!(loaded.updated_at.is_some(), "a save stamps its time");
        assert_eq!(
            Checkpoint {
                updated_at: None,
                ..loaded
            },
            cp
        );
        assert!(
            !dir.path().join("cp.tmp").exists(),
            "the temp file is renamed over the checkpoint"
        );
    }

    /// The checkpoint holds `_id`s: only its owner may read it, whatever the umask.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_checkpoint_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.bson");
        let store = FileStore::new(path.clone());
        store.save(&Checkpoint::default()).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
        // A leftover temp file of an older version (0644) does not keep its mode either.
        std::fs::write(dir.path().join("cp.tmp"), b"x").unwrap();
        std::fs::set_permissions(
            dir.path().join("cp.tmp"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        store.save(&Checkpoint::default()).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o} after a leftover temp file");
    }

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.bson");
        std::fs::write(&path, b"not bson").unwrap();
        let err = FileStore::new(path).load().await.unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
