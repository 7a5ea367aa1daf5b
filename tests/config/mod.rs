//! Configuration: errors that name the key, its file and its layer, and the layering of
//! defaults, file, environment and flags.
//!
//! Environment variables are process-wide and every test of this binary shares the process, so
//! tests touching them hold the environment lock of [`crate::support::env_lock`] (which the
//! replicator-spawning helpers hold too, so no child inherits a test's `REPLICATOR_*`), start
//! from a clean `REPLICATOR_*` slate, and restore it when done.

mod errors;
mod layers;

use std::sync::MutexGuard;

/// Holds the env lock; removes every `REPLICATOR_*` variable on creation and on drop.
pub struct EnvGuard {
    _lock: MutexGuard<'static, ()>,
}

impl EnvGuard {
    pub fn new() -> Self {
        let lock = crate::support::env_lock();
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
pub fn example_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml")
}
