//! The append-only, hash-chained evidence log, with group commit.
//!
//! Appending gives a record the next sequence number and links it to the previous record's
//! hash. Records are written to sled in atomic batches together with the new head (up to
//! [`WRITE_BATCH`] records a batch: one sled batch per record costs a forced buffer write
//! each). Durability is group commit: pending records are written and the log flushed to disk
//! every `flush_every` or every `flush_records` records, whichever comes first, or after every
//! record in per-record mode. A record counts as written ("acknowledged") once
//! [`EvidenceLog::durable_seq`] has reached it; in per-record mode that is when `append`
//! returns; [`EvidenceLog::sync`] forces it.

use super::canonical;
use super::encode::{Sealed, encode, hex_string};
use super::record::{Record, now_rfc3339, sha256_hex};
use crate::store::{HEAD_KEY, Store, StoreError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How records are made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Durability {
    /// Flush at least this often (group commit).
    pub flush_every: Duration,
    /// Flush when this many records are waiting.
    pub flush_records: u64,
    /// Flush after every record.
    pub per_record: bool,
}

impl Default for Durability {
    fn default() -> Durability {
        Durability {
            flush_every: Duration::from_millis(50),
            flush_records: 4096,
            per_record: false,
        }
    }
}

/// What an append returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The record's sequence number.
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
}

/// The chain head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The last sequence number (0 for an empty log).
    pub seq: u64,
    /// Its hash (32 zero bytes for an empty log).
    pub hash: [u8; 32],
}

impl Head {
    fn encode(&self) -> Vec<u8> {
        let mut v = self.seq.to_be_bytes().to_vec();
        v.extend_from_slice(&self.hash);
        v
    }

    /// Decodes the stored head.
    pub fn decode(bytes: &[u8]) -> Option<Head> {
        let seq = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let hash = bytes.get(8..40)?.try_into().ok()?;
        Some(Head { seq, hash })
    }

    /// Reads the head of `store`'s log. A log with records but no readable head is damaged:
    /// appending to it would silently start a second chain over the first.
    pub fn read(store: &Store) -> Result<Head, StoreError> {
        let damaged = |message: &str| StoreError::Corrupt {
            path: store.path().to_owned(),
            message: message.into(),
        };
        match store.records().get(HEAD_KEY)? {
            Some(v) => Head::decode(&v).ok_or_else(|| damaged("the head of the log is unreadable")),
            None if store
                .records()
                .first()?
                .is_some_and(|(k, _)| k.as_ref() != HEAD_KEY) =>
            {
                Err(damaged(
                    "the log has records but no head; run `optout log verify`",
                ))
            }
            None => Ok(Head {
                seq: 0,
                hash: [0; 32],
            }),
        }
    }
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record could not be put in canonical form.
    #[error(transparent)]
    Canonical(#[from] canonical::NotCanonical),
}

/// At most this many records wait in memory before they are written to sled as one batch.
pub const WRITE_BATCH: u64 = 1024;

/// The writer's state, behind one mutex: appends are serialised.
struct State {
    /// The last record appended (possibly not yet written).
    head: Head,
    /// Records appended but not yet written to sled, with the head, as one atomic batch.
    batch: sled::Batch,
    pending: u64,
    /// Records written to sled but not yet flushed to disk.
    unflushed: u64,
}

impl State {
    /// Writes the pending records and the head to sled in one atomic batch.
    fn write_pending(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.pending == 0 {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.insert(HEAD_KEY, self.head.encode());
        store.records().apply_batch(batch)?;
        self.unflushed += self.pending;
        self.pending = 0;
        Ok(())
    }
}

struct Shared {
    store: Store,
    state: Mutex<State>,
    durable: AtomicU64,
    stop: AtomicBool,
    durability: Durability,
}

impl Shared {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Sled("evidence log lock poisoned".into()))
    }

    /// Writes pending records, flushes, and marks everything appended so far as durable.
    /// The flush (an fsync) runs outside the lock, so appends go on meanwhile.
    fn sync(&self) -> Result<u64, StoreError> {
        let seq = {
            let mut state = self.lock()?;
            state.write_pending(&self.store)?;
            state.unflushed = 0;
            state.head.seq
        };
        self.store.flush()?;
        self.durable.fetch_max(seq, Ordering::SeqCst);
        Ok(self.durable.load(Ordering::SeqCst))
    }
}

/// The evidence log of a store. Share it behind an `Arc`; appends are serialised.
pub struct EvidenceLog {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl EvidenceLog {
    /// Opens the log of `store`.
    pub fn open(store: Store, durability: Durability) -> Result<EvidenceLog, StoreError> {
        let head = Head::read(&store)?;
        let seq = head.seq;
        let shared = Arc::new(Shared {
            store,
            state: Mutex::new(State {
                head,
                batch: sled::Batch::default(),
                pending: 0,
                unflushed: 0,
            }),
            durable: AtomicU64::new(seq),
            stop: AtomicBool::new(false),
            durability,
        });
        let flusher = (!durability.per_record).then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    std::thread::park_timeout(shared.durability.flush_every);
                    let pending = shared.state.lock().map(|s| s.head.seq).unwrap_or(0)
                        > shared.durable.load(Ordering::SeqCst);
                    if pending {
                        // A failed flush leaves durable_seq behind; the next try repeats it.
                        let _ = shared.sync();
                    }
                }
            })
        });
        Ok(EvidenceLog { shared, flusher })
    }

    /// The store the log lives in.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Stores a policy file's bytes once, content-addressed; returns its SHA-256 (hex).
    pub fn put_snapshot(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = sha256_hex(bytes);
        self.put_snapshot_with_hash(&hash, bytes)?;
        Ok(hash)
    }

    /// Stores bytes whose SHA-256 (hex) the caller already computed.
    pub fn put_snapshot_with_hash(&self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = hex::decode(hash).map_err(|e| StoreError::Sled(e.to_string()))?;
        let snapshots = self.shared.store.snapshots();
        if !snapshots.contains_key(&key)? {
            snapshots.insert(key, bytes)?;
        }
        Ok(())
    }

    /// Appends `record`, setting its `seq` (and `time`, if empty).
    pub fn append(&self, mut record: Record) -> Result<Appended, AppendError> {
        if record.time.is_empty() {
            record.time = now_rfc3339();
        }
        let shared = &self.shared;
        // Written before taking the lock, so that appenders on other threads write at once;
        // under the lock only the sequence number, the chain hash and the batch remain.
        let encoded = encode(&record)?;
        drop(record);
        let mut state = shared.lock()?;
        let seq = state.head.seq + 1;
        let Sealed { bytes, hash } = encoded.seal(seq, &state.head.hash);
        state.batch.insert(&seq.to_be_bytes(), bytes);
        state.head = Head { seq, hash };
        state.pending += 1;
        let flush = shared.durability.per_record
            || state.unflushed + state.pending >= shared.durability.flush_records;
        if flush || state.pending >= WRITE_BATCH {
            state.write_pending(&shared.store)?;
        }
        if flush {
            state.unflushed = 0;
            drop(state);
            // Outside the lock: other appenders go on while this one waits for the disk.
            shared.store.flush()?;
            shared.durable.fetch_max(seq, Ordering::SeqCst);
        }
        Ok(Appended {
            seq,
            hash: hex_string(&hash),
        })
    }

    /// Flushes now; returns the sequence number up to which records are durable.
    pub fn sync(&self) -> Result<u64, StoreError> {
        self.shared.sync()
    }

    /// The sequence number up to which records are known to be on disk.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable.load(Ordering::SeqCst)
    }

    /// The current head.
    pub fn head(&self) -> Head {
        self.shared
            .state
            .lock()
            .map(|s| s.head.clone())
            .unwrap_or(Head {
                seq: 0,
                hash: [0; 32],
            })
    }
}

impl Drop for EvidenceLog {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(flusher) = self.flusher.take() {
            flusher.thread().unpark();
            let _ = flusher.join();
        }
        let _ = self.shared.sync();
    }
}
