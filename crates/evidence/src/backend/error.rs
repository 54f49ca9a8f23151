//! Why a store could not be used, whatever its engine: one line a user can act on.

use std::path::{Path, PathBuf};

/// Why the store could not be used. Each message is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process has the store open.
    #[error(
        "store {0} is in use by another optout process (sled holds a lock on it); stop that process or use another --store"
    )]
    Locked(PathBuf),
    /// The directory cannot be created, read or written.
    #[error("cannot open store {path}: {source}")]
    Io {
        /// The store directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory holds something other than a store.
    #[error(
        "{0} is not an optout store (it is not empty and has no store in it); pass another --store"
    )]
    NotAStore(PathBuf),
    /// There is no store at the path (for commands that only read).
    #[error("no evidence log at {0} (pass --store DIR)")]
    Missing(PathBuf),
    /// The store was written by a newer optout.
    #[error(
        "store {path} has schema version {found}, newer than this optout understands ({understood}); upgrade optout"
    )]
    NewerSchema {
        /// The store directory.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        understood: u32,
    },
    /// The store's files are damaged.
    #[error("store {}is damaged: {message}", shown(path))]
    Corrupt {
        /// The store directory (empty where it is not known: the engine reported damage
        /// through code that does not know the path).
        path: PathBuf,
        /// What the engine reported.
        message: String,
    },
    /// The store directory was deleted or replaced while this process wrote to it: what it
    /// wrote since went to files that no longer are the store.
    #[error(
        "store {0} was deleted or replaced while optout was writing to it; the records written since are not in it"
    )]
    Replaced(PathBuf),
    /// An operation of the store's engine failed after opening.
    #[error("store error: {0}")]
    Backend(String),
}

/// A path, and a space, for a message; nothing for an unknown (empty) one.
fn shown(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{} ", path.display())
    }
}

/// Why the records of a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key that is neither a sequence number nor the head (run `optout log verify`).
    #[error(
        "the records tree has a key that is not a sequence number ({0}); run `optout log verify`"
    )]
    Key(String),
}
