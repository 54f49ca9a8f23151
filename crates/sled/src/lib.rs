//! The embedded store: one `sled` directory, opened once per process, behind the evidence
//! layer's [`Backend`](optout_evidence::backend::Backend). This is the only crate that
//! names sled; everything above holds an [`optout_evidence::Store`] handle.
//!
//! Trees:
//! - `meta`: `schema` → the store's schema version (a big-endian `u32`);
//! - `records`: 8-byte big-endian sequence number → a block of evidence records starting
//!   with that one ([`block`]), plus the key [`HEAD_KEY`] → the head of the chain, written
//!   in the same atomic batch as the blocks (`writer.rs`, group commit);
//! - `snapshots`: 32-byte SHA-256 → the exact bytes of a policy file, stored once; bytes
//!   longer than [`SNAPSHOT_CHUNK`] are stored in chunks under the hash followed by the
//!   chunk's 4-byte big-endian index;
//! - `policy`: `<kind> NUL <origin>` → what is known of one policy file of one origin (the
//!   live-source cache of `optout-net`); its bytes are snapshots;
//! - `crawler-info`: what `optout crawler-info` last published and its feed's entries (the
//!   journal of `optout-report`), opened when first used.
//!
//! Beside sled's files the directory holds [`acknowledged::FILE`], the head as of the last
//! flush. Commands that only read open a private copy ([`Sled::open_read_only`]).
//!
//! # Layout
//! - `db.rs`: opening, the trees, snapshots, flushing;
//! - `backend.rs`: the evidence layer's interface on them;
//! - [`block`]: how records sit in sled values; `writer.rs` and `log.rs`: appending, with
//!   group commit;
//! - [`acknowledged`], `readonly.rs`: what sled 0.34's recovery and locking need beside it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acknowledged;
mod backend;
pub mod block;
mod db;
mod log;
mod readonly;
mod writer;

pub use db::{HEAD_KEY, SCHEMA_VERSION, SNAPSHOT_CHUNK, default_path};
pub use optout_evidence::{Store, StoreError};
/// The sled this store is written with, for tools and tests that read its trees ([`Sled`]).
pub use sled;
pub use writer::WRITE_BATCH;

use db::SledStore;
use std::path::Path;
use std::sync::Arc;

/// Opening a [`Store`] on sled, and reaching sled's trees for the tools and tests that
/// inspect or damage a store on purpose. `use optout_sled::Sled` and call
/// `Store::open(path)`.
pub trait Sled: Sized {
    /// Opens (creating if needed) the store at `path`.
    ///
    /// A directory that holds something other than a store, is locked by another process,
    /// is unwritable, or has a newer schema is an error: never a silent new empty log.
    fn open(path: &Path) -> Result<Self, StoreError>;

    /// Opens an existing store to read it, without writing to it: a private copy of it, taken
    /// under sled's lock (`readonly.rs`). The store's own files stay byte for byte as they
    /// are, so a read-only mount, a full disk or a copy on a CD reads as well; a schema-1
    /// store is upgraded only in the copy.
    fn open_read_only(path: &Path) -> Result<Self, StoreError>;

    /// Opens an existing store; a missing one is [`StoreError::Missing`], never created.
    fn open_existing(path: &Path) -> Result<Self, StoreError>;

    /// The records tree (sequence number → block of records, and the head).
    ///
    /// # Panics
    /// When the store is not a sled store.
    fn records(&self) -> &sled::Tree;

    /// The snapshots tree (SHA-256, or SHA-256 and chunk index → bytes).
    ///
    /// # Panics
    /// When the store is not a sled store.
    fn snapshots(&self) -> &sled::Tree;

    /// The tree of what `optout crawler-info` published (its previous state and its feed).
    ///
    /// # Panics
    /// When the store is not a sled store.
    fn crawler_info(&self) -> Result<sled::Tree, StoreError>;

    /// The store's schema version, as its `meta` tree records it.
    ///
    /// # Panics
    /// When the store is not a sled store.
    fn schema(&self) -> Result<Option<u32>, StoreError>;

    /// Writes `value` under `key` in the `meta` tree (for tests that fake other versions).
    ///
    /// # Panics
    /// When the store is not a sled store.
    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
}

impl Sled for Store {
    fn open(path: &Path) -> Result<Store, StoreError> {
        SledStore::open(path).map(handle)
    }

    fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        SledStore::open_read_only(path).map(handle)
    }

    fn open_existing(path: &Path) -> Result<Store, StoreError> {
        SledStore::open_existing(path).map(handle)
    }

    fn records(&self) -> &sled::Tree {
        sled_of(self).records_tree()
    }

    fn snapshots(&self) -> &sled::Tree {
        sled_of(self).snapshots_tree()
    }

    fn crawler_info(&self) -> Result<sled::Tree, StoreError> {
        sled_of(self).crawler_info()
    }

    fn schema(&self) -> Result<Option<u32>, StoreError> {
        sled_of(self).schema()
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        sled_of(self).set_meta(key, value)
    }
}

fn handle(store: SledStore) -> Store {
    Store::new(Arc::new(store))
}

/// The sled store behind `store`.
fn sled_of(store: &Store) -> &SledStore {
    store
        .backend()
        .as_any()
        .downcast_ref::<SledStore>()
        .unwrap_or_else(|| panic!("{} is not a sled store", store.path().display()))
}
