//! The append-only, hash-chained evidence log, with group commit.
//!
//! Appending writes a record's canonical bytes on the appending thread; the store's backend
//! then gives it the next sequence number and links it to the previous record's hash
//! ([`Appender`]), so that the backend decides how records are
//! ordered and made durable (the sled store: blocks written in batches by a background
//! thread). Durability is group commit: pending records are written and the log flushed to
//! disk every `flush_every` or every `flush_records` records, whichever comes first, or after
//! every record in per-record mode. A record counts as written ("acknowledged") once
//! [`EvidenceLog::durable_seq`] has reached it; in per-record mode that is when `append`
//! returns; [`EvidenceLog::sync`] forces it.

use super::backend::{Appender, Store, StoreError};
use super::canonical;
use super::encode::{Encoded, encode, encode_decision, hex_string};
use super::record::{Record, SourceRef, now_rfc3339, sha256_hex};
use optout_policy::{Decision, Purpose};
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
    /// The stored head: the sequence number (8 bytes, big-endian), then the hash.
    pub fn encode(&self) -> Vec<u8> {
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
        store.backend().head()
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
    store: Store,
    /// Dropped with the log: the backend stops its background work and syncs.
    appender: Box<dyn Appender>,
}

/// Checks, before appending to `store`'s log, that it is whole as far as a writer can see
/// without verifying every record: the head against the last record (its `seq`, its hash,
/// its content against its hash) and the head against the acknowledged one (records sled
/// dropped when it recovered from damage, `optout-sled`'s `acknowledged`). The backend then
/// checks what only it can see when it opens the log (the sled store: every page against
/// sled's checksums, for a flipped byte in an old block). What only verifying the whole
/// chain shows (a record rewritten in the middle of the log) is left to `optout log verify`
/// and `optout log checkpoint`: it costs several times as much (`docs/evidence.md`,
/// "Damage").
pub fn check_before_appending(store: &Store, head: &Head) -> Result<(), StoreError> {
    let last = store.backend().last()?;
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
    check_acknowledged(store, head)
}

/// Checks the acknowledged head against the log ending at `head`: records up to it must be
/// there, the acknowledged one with the hash it had.
fn check_acknowledged(store: &Store, head: &Head) -> Result<(), StoreError> {
    let Some(acked) = store.backend().acknowledged() else {
        return Ok(());
    };
    if acked.seq > head.seq {
        return Err(store.damaged(lost(head.seq, acked.seq)));
    }
    if acked.seq == 0 {
        return Ok(());
    }
    let hash = store.backend().record(acked.seq)?.and_then(|entry| {
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
    /// Opens the log of `store` for appending, after [`check_before_appending`] and the
    /// backend's own checks.
    pub fn open(store: Store, durability: Durability) -> Result<EvidenceLog, StoreError> {
        let head = Head::read(&store)?;
        check_before_appending(&store, &head)?;
        let appender = store.backend().open_log(head, durability)?;
        Ok(EvidenceLog { store, appender })
    }

    /// The store the log lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores a policy file's bytes once, content-addressed; returns its SHA-256 (hex).
    pub fn put_snapshot(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = sha256_hex(bytes);
        self.put_snapshot_with_hash(&hash, bytes)?;
        Ok(hash)
    }

    /// Stores bytes whose SHA-256 (hex) the caller already computed.
    pub fn put_snapshot_with_hash(&self, hash: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = hex::decode(hash).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.store.put_snapshot(&key, bytes)
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
        let (seq, hash) = self.appender.append(encoded)?;
        Ok(Appended {
            seq,
            hash: hex_string(&hash),
        })
    }

    /// Flushes now; returns the sequence number up to which records are durable.
    pub fn sync(&self) -> Result<u64, StoreError> {
        self.appender.sync()
    }

    /// The sequence number up to which records are known to be on disk.
    pub fn durable_seq(&self) -> u64 {
        self.appender.durable_seq()
    }

    /// The current head.
    pub fn head(&self) -> Head {
        self.appender.head()
    }
}
