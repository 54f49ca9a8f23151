//! What a storage backend implements for the evidence log: the evidence layer owns this
//! interface, and a backend crate (the embedded sled store, `optout-sled`) implements it.
//! Nothing above the backend crate names its engine: the log, the policy-source cache and
//! the crawler page's journal reach their data through [`Store`], a shared handle on a
//! [`Backend`].
//!
//! The backend, not the caller, gives an appended record its sequence number and its link
//! to the previous record ([`Appender::append`] seals an [`Encoded`] record), so that a
//! database can do it on its side, under its own lock, for any number of writers.
//!
//! # Layout
//! - `error.rs`: [`StoreError`] and [`ReadError`], one line each a user can act on;
//! - `entry.rs`: [`Entry`], one stored record and where it stands;
//! - `store.rs`: [`Store`], the handle every reader and writer holds;
//! - `memory.rs` (tests): a backend in memory, which shows the interface asks nothing of sled.

mod entry;
mod error;
#[cfg(test)]
mod memory;
mod store;

pub use super::encode::{Encoded, Sealed, encode};
pub use super::log::{Durability, Head};
pub use entry::{Bytes, Entry};
pub use error::{ReadError, StoreError};
pub use store::Store;

use std::any::Any;
use std::fmt::Debug;
use std::path::Path;

/// The records of a log, in sequence order, one at a time.
pub type Records<'a> = Box<dyn Iterator<Item = Result<Entry, ReadError>> + 'a>;

/// The snapshots of a store as (hash, bytes), in hash order, one at a time.
pub type Snapshots<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a>;

/// Keys and their values, in the order a call gives or returns them.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

/// A store's engine: where the evidence log, its snapshots, the policy-source cache and the
/// crawler page's journal are kept. One value serves every clone of a [`Store`].
pub trait Backend: Send + Sync + Debug {
    /// Where the store is, for messages (a directory, or a redacted address).
    fn location(&self) -> &Path;

    /// The head of the log as stored. A log with records but no readable head is damaged
    /// ([`StoreError::Corrupt`]): appending to it would silently start a second chain.
    fn head(&self) -> Result<Head, StoreError>;

    /// The head last known to be durable from an earlier run, if the backend keeps one
    /// apart from the log (a log that ends before it lost acknowledged records).
    fn acknowledged(&self) -> Option<Head>;

    /// Every stored record, in order.
    fn records(&self) -> Records<'_>;

    /// The record stored at `seq`'s place; in a damaged log that may be another record
    /// (callers that care compare its `seq`).
    fn record(&self, seq: u64) -> Result<Option<Entry>, StoreError>;

    /// The last stored record.
    fn last(&self) -> Result<Option<Entry>, StoreError>;

    /// Starts appending to the log whose head is `head` (read and checked by the caller):
    /// the backend checks what only it can see, then hands out the appender.
    fn open_log(&self, head: Head, durability: Durability)
    -> Result<Box<dyn Appender>, StoreError>;

    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Stores `bytes` under their SHA-256 `hash` (raw 32 bytes), once.
    fn put_snapshot(&self, hash: &[u8], bytes: &[u8]) -> Result<(), StoreError>;

    /// The bytes stored under `hash`.
    fn snapshot(&self, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every snapshot as (its key's hash, its bytes). A damaged store shows as bytes that do
    /// not match their hash, which `log verify` reports.
    fn snapshots(&self) -> Snapshots<'_>;

    /// What the policy-source cache holds for the policy file `kind` of `origin`.
    fn policy(&self, kind: &str, origin: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Replaces what the policy-source cache holds for the policy file `kind` of `origin`.
    fn put_policy(&self, kind: &str, origin: &str, value: &[u8]) -> Result<(), StoreError>;

    /// The crawler page's journal: the value under `key`.
    fn journal(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The crawler page's journal: up to `n` entries whose keys start with `prefix`, the
    /// greatest key first.
    fn journal_newest(&self, prefix: &[u8], n: usize) -> Result<KeyValues, StoreError>;

    /// The crawler page's journal: writes every `(key, value)` of `puts`, all or none, and
    /// makes them durable.
    fn journal_put(&self, puts: KeyValues) -> Result<(), StoreError>;

    /// The backend itself, for tools and tests that inspect one engine's files.
    fn as_any(&self) -> &dyn Any;
}

/// The writing end of a log, from [`Backend::open_log`]. Dropping it stops its background
/// work and makes what was appended durable, as far as the backend can.
pub trait Appender: Send + Sync {
    /// Gives `record` the next sequence number and links it to the head
    /// ([`Encoded::seal`]); returns its sequence number and hash. The record is durable
    /// once [`Appender::durable_seq`] reaches it.
    fn append(&self, record: Encoded) -> Result<(u64, [u8; 32]), StoreError>;

    /// Writes and flushes everything appended so far; returns the sequence number up to
    /// which records are durable.
    fn sync(&self) -> Result<u64, StoreError>;

    /// The sequence number up to which records are known to be durable.
    fn durable_seq(&self) -> u64;

    /// The last record appended (possibly not yet durable).
    fn head(&self) -> Head;
}
