//! The append-only, hash-chained evidence log, with group commit.
//!
//! Appending gives a record the next sequence number and links it to the previous record's
//! hash. Records are stored several to a sled value (blocks, `block.rs`), and written to
//! sled in atomic batches together with the new head (about [`WRITE_BATCH`] records a batch:
//! one sled batch per record costs a forced buffer write each), by a background thread while
//! appends go on (`writer.rs`). Durability is group commit: pending records are written and
//! the log flushed to disk every `flush_every` or every `flush_records` records, whichever
//! comes first, or after every record in per-record mode. A record counts as written
//! ("acknowledged") once [`EvidenceLog::durable_seq`] has reached it; in per-record mode that
//! is when `append` returns; [`EvidenceLog::sync`] forces it.

use super::block;
use super::canonical;
use super::encode::{Encoded, encode, encode_decision, hex_string};
use super::record::{Record, SourceRef, now_rfc3339, sha256_hex};
pub use super::writer::WRITE_BATCH;
use super::writer::Writer;
use optout_policy::{Decision, Purpose};
use optout_store::{HEAD_KEY, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;
use url::Url;

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
    pub(super) fn encode(&self) -> Vec<u8> {
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
        let sled = |e| store.error(e);
        match store.records().get(HEAD_KEY).map_err(sled)? {
            Some(v) => Head::decode(&v).ok_or_else(|| damaged("the head of the log is unreadable")),
            None if store
                .records()
                .first()
                .map_err(sled)?
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

/// The evidence log of a store. Share it behind an `Arc`; appends are serialised.
pub struct EvidenceLog {
    writer: Arc<Writer>,
    /// Writes queued batches and syncs every `flush_every` (none in per-record mode).
    background: Option<JoinHandle<()>>,
}

/// Checks, before appending to `store`'s log, that it is whole as far as a writer can see
/// without verifying every record: the head against the last record (its `seq`, its hash,
/// its content against its hash), the head against the acknowledged one (records sled
/// dropped when it recovered from damage, `store/acknowledged.rs`), and every page of the
/// store against sled's checksums (a flipped byte in an old block). What only verifying
/// the whole chain shows (a record rewritten through sled in the middle of the log) is left
/// to `optout log verify` and `optout log checkpoint`: it costs several times as much
/// (`docs/evidence.md`, "Damage").
pub fn check_before_appending(store: &Store, head: &Head) -> Result<(), StoreError> {
    let last = block::last(store)?;
    match (&last, head.seq) {
        (None, 0) => {}
        (None, seq) => {
            return Err(store.damaged(format!(
                "the head says record {seq} but the log has no records; run `optout log verify`"
            )));
        }
        (Some(entry), _) => {
            super::verify::check_last(entry, head)
                .map_err(|e| store.damaged(format!("{e}; run `optout log verify`")))?;
        }
    }
    check_acknowledged(store, head)?;
    store.check_pages()
}

/// Checks the acknowledged head against the log ending at `head`: records up to it must be
/// there, the acknowledged one with the hash it had.
fn check_acknowledged(store: &Store, head: &Head) -> Result<(), StoreError> {
    let Some(acked) = store.acknowledged().as_deref().and_then(Head::decode) else {
        return Ok(());
    };
    if acked.seq > head.seq {
        return Err(store.damaged(lost(head.seq, acked.seq)));
    }
    if acked.seq == 0 {
        return Ok(());
    }
    let hash = block::get(store, acked.seq)?.and_then(|entry| {
        let value: serde_json::Value = serde_json::from_slice(entry.bytes()).ok()?;
        (value.get("seq")?.as_u64()? == acked.seq)
            .then(|| value.get("hash")?.as_str().map(str::to_owned))?
    });
    if hash.as_deref() != Some(hex_string(&acked.hash).as_str()) {
        return Err(store.damaged(format!(
            "record {} is not the record that was acknowledged (the log was rewritten or damaged); run `optout log verify`",
            acked.seq
        )));
    }
    Ok(())
}

/// What a log that ends at `end` but had `acked` records acknowledged lost.
pub(super) fn lost(end: u64, acked: u64) -> String {
    format!(
        "the log ends at record {end} but records up to {acked} were written and acknowledged (sled dropped them when it recovered from damage to its files)"
    )
}

impl EvidenceLog {
    /// Opens the log of `store` for appending, after [`check_before_appending`].
    pub fn open(store: Store, durability: Durability) -> Result<EvidenceLog, StoreError> {
        let head = Head::read(&store)?;
        check_before_appending(&store, &head)?;
        let writer = Arc::new(Writer::new(store, head, durability));
        let background = (!durability.per_record).then(|| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || writer.run())
        });
        Ok(EvidenceLog { writer, background })
    }

    /// The store the log lives in.
    pub fn store(&self) -> &Store {
        &self.writer.store
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
        self.writer.store.put_snapshot(&key, bytes)
    }

    /// Appends `record`, setting its `seq` (and `time`, if empty).
    pub fn append(&self, mut record: Record) -> Result<Appended, AppendError> {
        if record.time.is_empty() {
            record.time = now_rfc3339();
        }
        // Written before taking the lock, so that appenders on other threads write at once;
        // under the lock only the sequence number, the chain hash and the batch remain.
        let encoded = encode(&record)?;
        drop(record);
        self.append_encoded(encoded)
    }

    /// Appends the record of `decision` on `url`: what `append(Record::of_decision(url,
    /// agent, purpose, decision, sources.to_vec()))` appends, byte for byte, written straight
    /// from the borrowed decision (the bulk path of `optout check` records every decision).
    pub fn append_decision(
        &self,
        url: &Url,
        agent: &str,
        purpose: Purpose,
        decision: &Decision,
        sources: &[SourceRef],
    ) -> Result<Appended, AppendError> {
        let encoded = encode_decision(url, agent, purpose, decision, sources, &now_rfc3339());
        self.append_encoded(encoded)
    }

    fn append_encoded(&self, encoded: Encoded) -> Result<Appended, AppendError> {
        let (seq, hash) = self.writer.append(encoded, || {
            if let Some(background) = &self.background {
                background.thread().unpark();
            }
        })?;
        Ok(Appended {
            seq,
            hash: hex_string(&hash),
        })
    }

    /// Flushes now; returns the sequence number up to which records are durable.
    pub fn sync(&self) -> Result<u64, StoreError> {
        self.writer.sync()
    }

    /// The sequence number up to which records are known to be on disk.
    pub fn durable_seq(&self) -> u64 {
        self.writer.durable.load(Ordering::SeqCst)
    }

    /// The current head.
    pub fn head(&self) -> Head {
        self.writer.lock().map(|s| s.head.clone()).unwrap_or(Head {
            seq: 0,
            hash: [0; 32],
        })
    }
}

impl Drop for EvidenceLog {
    fn drop(&mut self) {
        self.writer.stop.store(true, Ordering::SeqCst);
        if let Some(background) = self.background.take() {
            background.thread().unpark();
            let _ = background.join();
        }
        let _ = self.writer.sync();
    }
}
