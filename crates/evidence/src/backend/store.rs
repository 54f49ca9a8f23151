//! The handle every reader and writer of a store holds: cheap to clone, one backend behind
//! all clones.

use super::{Backend, StoreError};
use std::path::Path;
use std::sync::Arc;

/// An open store, whatever its engine. Clones share the backend (and its lock on the store).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl Store {
    /// The handle on `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Store {
        Store { backend }
    }

    /// The backend, for what the handle does not say itself (reading records, the caches).
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// Where the store is, for messages.
    pub fn path(&self) -> &Path {
        self.backend.location()
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.backend.flush()
    }

    /// Stores `bytes` under their SHA-256 `hash` (raw 32 bytes), once.
    pub fn put_snapshot(&self, hash: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        self.backend.put_snapshot(hash, bytes)
    }

    /// The bytes stored under `hash`.
    pub fn snapshot(&self, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.snapshot(hash)
    }

    /// The error for damage found in this store.
    pub fn damaged(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path().to_owned(),
            message: message.into(),
        }
    }
}
