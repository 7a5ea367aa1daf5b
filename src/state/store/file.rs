//! The checkpoint in a local file, as BSON: written to `<path>.tmp` (mode 0600), fsync'd, renamed
//! over the old one and the directory fsync'd, so a crash or power loss leaves the previous
//! checkpoint or the new one, and a save counts only once it is on disk.

use super::{decode, encode, CheckpointStore, Place};
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
            let name = self.location();
            let place = Place {
                key: "checkpoint.path",
                name: &name,
            };
            match tokio::fs::read(path).await {
                Ok(bytes) => {
                    let d = Document::from_reader(&mut bytes.as_slice()).map_err(|e| {
                        place.error(format!(
                            "the checkpoint file {name} is corrupt ({e}); delete it to start over with a copy"
                        ))
                    })?;
                    decode(d, &place).map(Some)
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error("reading", path, e)),
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

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn check_writable(&self) -> BoxFuture<'_, Result<()>> {
        let tmp = self.path.with_extension("tmp");
        async move {
            tokio::task::spawn_blocking(move || {
                open_owner_only(&tmp)
                    .and_then(|_| std::fs::remove_file(&tmp))
                    .map_err(|e| io_error("writing", &tmp, e))
            })
            .await
            .map_err(|e| file_error(format!("checkpoint check task: {e}")))?
        }
        .boxed()
    }
}

/// `path` created or truncated for writing, readable by its owner only (0600).
fn open_owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    // `mode` applies only when the file is created: a leftover temp file keeps its own.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// An I/O error on `path`: no retry makes a missing directory, a file in the way, a denied or
/// read-only place writable, so those are configuration errors naming the path; the rest (a
/// full disk, an I/O error) may pass and are retried.
fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    use std::io::ErrorKind as K;
    let message = format!("{what} {}: {e}", path.display());
    match e.kind() {
        K::NotFound
        | K::PermissionDenied
        | K::NotADirectory
        | K::IsADirectory
        | K::ReadOnlyFilesystem
        | K::InvalidFilename => Error::new(
            ErrorKind::Config,
            Class::Fatal,
            "checkpoint.path",
            format!("{message}; the checkpoint file cannot be kept there"),
        )
        .at(Origin::Checkpoint),
        _ => file_error(message),
    }
}

/// Writes `bytes` to `<path>.tmp` (owner-only: it holds `_id`s), fsyncs it, renames it over
/// `path` and fsyncs the directory: only then does the save count, so a power loss leaves either
/// the previous checkpoint or this one.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = open_owner_only(&tmp).map_err(|e| io_error("writing", &tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| io_error("writing", &tmp, e))?;
    file.sync_all().map_err(|e| io_error("syncing", &tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| io_error("renaming to", path, e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing directory", dir, e))
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

    /// A checkpoint from before the schema version (version 1, no source identity) still loads,
    /// and the next save writes the current version.
    #[tokio::test]
    async fn a_version_1_checkpoint_loads_and_is_saved_as_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.bson");
        let mut bytes = Vec::new();
        doc! {"resume_token": {"_data": "82AB"}, "copying": false, "updated_at": null}
            .to_writer(&mut bytes)
            .unwrap();
        std::fs::write(&path, bytes).unwrap();
        let store = FileStore::new(path.clone());
        let loaded = store.load().await.unwrap().expect("loads");
        assert_eq!(loaded.resume_token, Some(doc! {"_data": "82AB"}));
        assert_eq!(loaded.source, None, "identity unknown");
        store.save(&loaded).await.unwrap();
        let raw = Document::from_reader(&mut std::fs::read(&path).unwrap().as_slice()).unwrap();
        assert_eq!(
            raw.get_i64("schema_version"),
            Ok(crate::state::checkpoint::SCHEMA_VERSION)
        );
    }

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.bson");
        std::fs::write(&path, b"not bson").unwrap();
        let err = FileStore::new(path.clone()).load().await.unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
        assert_eq!(err.kind, ErrorKind::Config, "no retry fixes it");
    }
}
