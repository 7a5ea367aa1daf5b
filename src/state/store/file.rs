//! The checkpoint in a local file, as BSON: written to `<path>.tmp`, then renamed over the old
//! one, so a crash mid-write leaves the previous checkpoint.

use super::{decode, encode, CheckpointStore};
use crate::error::{Class, Error, ErrorKind, Origin, Result};
use crate::state::Checkpoint;
use bson::Document;
use futures::future::BoxFuture;
use futures::FutureExt;
use std::path::PathBuf;

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
            let tmp = self.path.with_extension("tmp");
            tokio::fs::write(&tmp, &bytes)
                .await
                .map_err(|e| file_error(format!("writing {}: {e}", tmp.display())))?;
            tokio::fs::rename(&tmp, &self.path)
                .await
                .map_err(|e| file_error(format!("renaming to {}: {e}", self.path.display())))?;
            Ok(())
        }
        .boxed()
    }
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

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.bson");
        std::fs::write(&path, b"not bson").unwrap();
        let err = FileStore::new(path).load().await.unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
