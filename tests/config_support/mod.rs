//! Shared by the config tests: environment variables are process-wide, so tests touching them
//! hold one lock, start from a clean `REPLICATOR_*` slate, and restore it when done.

use std::sync::{Mutex, MutexGuard};

static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Holds the env lock; removes every `REPLICATOR_*` variable on creation and on drop.
pub struct EnvGuard {
    _lock: MutexGuard<'static, ()>,
}

impl EnvGuard {
    pub fn new() -> Self {
        let lock = ENV_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clear();
        EnvGuard { _lock: lock }
    }

    pub fn set(&self, name: &str, value: &str) {
        std::env::set_var(name, value);
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        clear();
    }
}

fn clear() {
    for (name, _) in std::env::vars() {
        if name.starts_with("REPLICATOR_") {
            std::env::remove_var(name);
        }
    }
}

/// A TOML file in a temporary directory.
pub fn toml_file(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replicator.toml");
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

/// The repository's `config/example.toml`.
#[allow(dead_code)] // not every test binary reads it
pub fn example_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml")
}
