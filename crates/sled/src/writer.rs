//! Getting appended records into sled, in order, and onto disk.
//!
//! Appenders add records to the open block (several records a sled value, `block.rs`) under
//! the state lock; full blocks go into a batch. A full batch (about [`WRITE_BATCH`] records,
//! one sled batch with the head so that the head never disagrees with the records) goes on a
//! queue that the log's background thread writes to sled, while appenders fill the next:
//! sled's work runs beside the encoding and hashing of the following records instead of after
//! them. Batches reach sled strictly in order, since only the holder of `writing` takes them,
//! from the front. An appender that finds more than [`MAX_QUEUED`] batches waiting waits for
//! the writer, so memory stays bounded.
//!
//! A sync closes the open block as it stands (a partial block; the next record starts a new
//! one, so a written block is never rewritten), queues the partial batch, writes everything
//! queued, flushes, and then marks as durable every record written before the flush began.
//! It runs on the background thread every `flush_every`, and on the appending thread when
//! `flush_records` records are waiting (every record, in per-record mode, which therefore
//! writes blocks of one record): the appender waits for the disk then, as it always has.

use super::block::Open;
use super::db::{HEAD_KEY, SledStore, sled_error};
use optout_evidence::StoreError;
use optout_evidence::backend::{Durability, Encoded, Head, Sealed};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Once this many records wait in full blocks, they are queued as one sled batch (so a batch
/// ends where a block does, and holds fewer than `WRITE_BATCH + BLOCK` records). One sled
/// batch per record costs a forced buffer write each; batches much larger leave the
/// background writer idle while the first batch after each sync fills (512 measured a little
/// faster than 1,024 and 256, within the noise of the shared machine).
pub const WRITE_BATCH: u64 = 512;

/// Full batches that may wait for the background writer (about 1.5 MB).
const MAX_QUEUED: usize = 4;

/// What appenders share, behind one mutex.
pub(super) struct State {
    /// The last record appended (possibly not yet written).
    pub(super) head: Head,
    /// The block being filled.
    block: Open,
    /// Full blocks not yet queued.
    batch: sled::Batch,
    /// Records appended but not yet queued (in `batch` and in `block`).
    pending: u64,
    /// Full batches (the head in each) and their last sequence numbers, oldest first.
    queued: VecDeque<(sled::Batch, u64)>,
    /// Records appended since the last sync began.
    unflushed: u64,
    /// Why writing a batch failed. Its records are lost, and every later record would link
    /// to them, so the log takes no more records: appends and syncs report this.
    failed: Option<String>,
}

impl State {
    /// Closes the block and the batch being filled, adding the head, and queues the batch.
    fn queue_batch(&mut self) {
        if self.pending > 0 {
            self.close_block();
            let mut batch = std::mem::take(&mut self.batch);
            batch.insert(HEAD_KEY, self.head.encode());
            self.queued.push_back((batch, self.head.seq));
            self.pending = 0;
        }
    }

    /// Moves the open block, if it has records, into the batch.
    fn close_block(&mut self) {
        if let Some((key, value)) = self.block.take() {
            self.batch.insert(&key, value);
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        match &self.failed {
            Some(why) => Err(StoreError::Backend(format!(
                "the evidence log stopped taking records after a failed write: {why}"
            ))),
            None => Ok(()),
        }
    }
}

/// The writing half of an evidence log.
pub(super) struct Writer {
    pub(super) store: SledStore,
    state: Mutex<State>,
    /// Notified whenever a queued batch has been written (or writing failed).
    drained: Condvar,
    /// Held while writing queued batches, so that they reach sled in order. Taken before
    /// `state` when both are held.
    writing: Mutex<()>,
    /// The last sequence number written to sled.
    written: AtomicU64,
    /// The last sequence number flushed to disk.
    pub(super) durable: AtomicU64,
    pub(super) stop: AtomicBool,
    pub(super) durability: Durability,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Backend("evidence log lock poisoned".into())
}

impl Writer {
    pub(super) fn new(store: SledStore, head: Head, durability: Durability) -> Writer {
        let seq = head.seq;
        Writer {
            store,
            state: Mutex::new(State {
                head,
                block: Open::default(),
                batch: sled::Batch::default(),
                pending: 0,
                queued: VecDeque::new(),
                unflushed: 0,
                failed: None,
            }),
            drained: Condvar::new(),
            writing: Mutex::new(()),
            written: AtomicU64::new(seq),
            durable: AtomicU64::new(seq),
            stop: AtomicBool::new(false),
            durability,
        }
    }

    pub(super) fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(poisoned)
    }

    /// Gives `record` the next sequence number and links it to the head; returns its
    /// sequence number and hash. `wake` tells the background writer a batch is queued.
    pub(super) fn append(
        &self,
        record: Encoded,
        wake: impl Fn(),
    ) -> Result<(u64, [u8; 32]), StoreError> {
        let mut state = self.lock()?;
        state.check()?;
        let seq = state.head.seq + 1;
        let Sealed { bytes, hash } = record.seal(seq, &state.head.hash);
        let mut queued = false;
        if !state.block.fits(&bytes) {
            state.close_block();
            // Every pending record is in the batch now, and the head is the last of them.
            if state.pending >= WRITE_BATCH {
                state.queue_batch();
                wake();
                queued = true;
            }
        }
        state.block.push(seq, &bytes);
        state.head = Head { seq, hash };
        state.pending += 1;
        state.unflushed += 1;
        if self.durability.per_record || state.unflushed >= self.durability.flush_records {
            drop(state);
            self.sync()?;
        } else if queued {
            while state.queued.len() > MAX_QUEUED {
                state.check()?;
                let (s, waited) = self
                    .drained
                    .wait_timeout(state, self.durability.flush_every)
                    .map_err(poisoned)?;
                state = s;
                if waited.timed_out() {
                    // The background writer is stuck or gone: write on this thread.
                    drop(state);
                    self.write_queued()?;
                    state = self.lock()?;
                }
            }
        }
        Ok((seq, hash))
    }

    /// Writes queued batches to sled, oldest first, until record `upto` is written. The
    /// order lock is taken per batch and the work is bounded by `upto`, so that a sync never
    /// waits behind a writer that keeps finding new batches.
    fn write_until(&self, upto: u64) -> Result<(), StoreError> {
        while self.written.load(Ordering::SeqCst) < upto {
            let _in_order = self.writing.lock().map_err(poisoned)?;
            if self.written.load(Ordering::SeqCst) >= upto {
                break;
            }
            let (batch, last) = {
                let mut state = self.lock()?;
                state.check()?;
                match state.queued.pop_front() {
                    Some(next) => next,
                    None => break,
                }
            };
            let written = self.store.records_tree().apply_batch(batch);
            if let Err(e) = &written {
                self.lock()?.failed = Some(e.to_string());
            }
            self.drained.notify_all();
            written.map_err(sled_error)?;
            self.written.store(last, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Writes the batches queued now.
    fn write_queued(&self) -> Result<(), StoreError> {
        let upto = self.lock()?.queued.back().map_or(0, |(_, last)| *last);
        self.write_until(upto)
    }

    /// Writes everything appended so far, flushes, and marks it durable; returns the
    /// sequence number up to which records are durable. The flush (an fsync) runs outside
    /// the state lock, so appends go on meanwhile.
    pub(super) fn sync(&self) -> Result<u64, StoreError> {
        let upto = {
            let mut state = self.lock()?;
            state.queue_batch();
            state.unflushed = 0;
            state.head.seq
        };
        self.write_until(upto)?;
        // Everything written before the flush starts is on disk when it returns.
        let written = self.written.load(Ordering::SeqCst);
        self.store.flush()?;
        self.durable.fetch_max(written, Ordering::SeqCst);
        Ok(self.durable.load(Ordering::SeqCst))
    }

    /// The background thread: writes queued batches as they come, and syncs every
    /// `flush_every` while there is something to sync, until `stop`.
    pub(super) fn run(&self) {
        let every = self.durability.flush_every;
        let mut last_sync = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::park_timeout(every.saturating_sub(last_sync.elapsed()));
            if last_sync.elapsed() >= every {
                last_sync = Instant::now();
                let appended = self.lock().map(|s| s.head.seq).unwrap_or(0);
                if appended > self.durable.load(Ordering::SeqCst) {
                    // A failed flush leaves durable_seq behind and the next try repeats it; a
                    // failed write is reported by the next append or sync.
                    let _ = self.sync();
                }
            } else {
                let _ = self.write_queued();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sled;
    use crate::block::{self, BLOCK, BLOCK_BYTES};
    use optout_evidence::backend::{Backend, Entry, Store, encode};
    use optout_evidence::export::{self, Filter};
    use optout_evidence::{EvidenceLog, Record, verify_store};
    use proptest::prelude::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn record(i: usize) -> Record {
        Record {
            schema: 1,
            seq: 0,
            time: "2026-11-28T10:00:00.000Z".into(),
            url: format!("https://e.com/{i}"),
            origin: "https://e.com".into(),
            agent: "optout".into(),
            purpose: "train-ai".into(),
            verdict: "allowed".into(),
            reasons: serde_json::json!([{"code": "robots.no-match"}]),
            sources: Vec::new(),
            status: None,
            bytes: None,
        }
    }

    /// More batches than may queue, from several threads: one unbroken chain, all durable
    /// after a sync.
    #[test]
    fn concurrent_appenders_make_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let log = EvidenceLog::open(Store::open(dir.path()).unwrap(), Durability::default());
        let log = log.unwrap();
        let per_thread = 3 * WRITE_BATCH as usize;
        std::thread::scope(|s| {
            for t in 0..4 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..per_thread {
                        log.append(record(t * per_thread + i)).unwrap();
                    }
                });
            }
        });
        let total = 4 * per_thread as u64;
        assert_eq!(log.sync().unwrap(), total);
        assert_eq!(log.durable_seq(), total);
        assert_eq!(verify_store(log.store()).unwrap().records, total);
    }

    /// A writer on a fresh store in `dir` that flushes only when asked (or every 20 ms from a
    /// background thread, which these tests do not start).
    fn unflushed_writer(dir: &std::path::Path) -> (Store, Writer) {
        let sled = SledStore::open(dir).unwrap();
        let store = Store::new(Arc::new(sled.clone()));
        let durability = Durability {
            flush_every: Duration::from_millis(20),
            flush_records: u64::MAX,
            per_record: false,
        };
        let writer = Writer::new(sled.clone(), sled.head().unwrap(), durability);
        (store, writer)
    }

    /// Nothing counts as durable before it is flushed; with no background writer to drain
    /// the queue, a full queue is written by the appender itself.
    #[test]
    fn durable_only_after_a_flush_and_a_stuck_queue_is_written_anyway() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer) = unflushed_writer(dir.path());
        let n = (MAX_QUEUED as u64 + 2) * WRITE_BATCH + 5;
        for i in 0..n {
            let appended = writer.append(encode(&record(i as usize)).unwrap(), || {});
            assert_eq!(appended.unwrap().0, i + 1);
        }
        assert_eq!(writer.durable.load(Ordering::SeqCst), 0);
        assert!(writer.written.load(Ordering::SeqCst) >= WRITE_BATCH);
        assert_eq!(writer.sync().unwrap(), n);
        assert_eq!(store.backend().head().unwrap().seq, n);
        assert_eq!(verify_store(&store).unwrap().records, n);
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 24,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Any sequence of appends and syncs stores blocks cut before they would pass
        /// [`BLOCK`] records or [`BLOCK_BYTES`] bytes and at every sync, keyed by their first
        /// record, and reads back the records exactly as sealed, in order: through the record
        /// iterator, one by one, and as an export. Some records are long, so that blocks are
        /// cut by size as well as by count.
        #[test]
        fn blocks_round_trip(runs in prop::collection::vec((1usize..80, any::<bool>()), 1..8)) {
            let dir = tempfile::tempdir().unwrap();
            let (store, writer) = unflushed_writer(dir.path());
            let mut sealed: Vec<Vec<u8>> = Vec::new();
            let mut blocks: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
            let mut open_block = false;
            let mut prev = [0u8; 32];
            let last = runs.len() - 1;
            for (run, (n, sync)) in runs.into_iter().enumerate() {
                for _ in 0..n {
                    let seq = sealed.len() as u64 + 1;
                    let mut record = record(sealed.len());
                    if sealed.len() % 7 == 3 {
                        record.url.push_str(&"/long".repeat(400));
                    }
                    let want = encode(&record).unwrap().seal(seq, &prev);
                    let got = writer.append(encode(&record).unwrap(), || {}).unwrap();
                    prop_assert_eq!(got, (seq, want.hash));
                    prev = want.hash;
                    let full = blocks.last().is_some_and(|(_, lines)| {
                        let bytes = lines.iter().map(|l| l.len() + 1).sum::<usize>();
                        lines.len() as u64 == BLOCK || bytes + want.bytes.len() > BLOCK_BYTES
                    });
                    if !open_block || full {
                        blocks.push((seq, Vec::new()));
                    }
                    open_block = true;
                    blocks.last_mut().unwrap().1.push(want.bytes.clone());
                    sealed.push(want.bytes);
                }
                if sync || run == last {
                    prop_assert_eq!(writer.sync().unwrap(), sealed.len() as u64);
                    open_block = false;
                }
            }
            // The tree holds exactly the expected blocks, and the head.
            let stored: Vec<(u64, Vec<u8>)> = store
                .records()
                .iter()
                .map(Result::unwrap)
                .filter(|(k, _)| k.as_ref() != HEAD_KEY)
                .map(|(k, v)| (u64::from_be_bytes(k.as_ref().try_into().unwrap()), v.to_vec()))
                .collect();
            let want: Vec<(u64, Vec<u8>)> =
                blocks.iter().map(|(k, lines)| (*k, lines.join(&b'\n'))).collect();
            prop_assert_eq!(stored, want);
            // Read back record by record, by the iterator and by lookup.
            let read: Vec<Entry> = block::records(&store).map(Result::unwrap).collect();
            prop_assert_eq!(read.len(), sealed.len());
            for (i, (entry, bytes)) in read.iter().zip(&sealed).enumerate() {
                let seq = i as u64 + 1;
                prop_assert_eq!(entry.bytes(), bytes.as_slice());
                prop_assert_eq!(entry.place(), seq);
                let got = store.backend().record(seq).unwrap().unwrap();
                prop_assert_eq!(got.bytes(), bytes.as_slice());
            }
            prop_assert!(store.backend().record(0).unwrap().is_none());
            prop_assert!(store.backend().record(sealed.len() as u64 + 1).unwrap().is_none());
            let mut jsonl = Vec::new();
            export::jsonl(&store, &Filter::default(), &mut jsonl).unwrap();
            prop_assert_eq!(jsonl, sealed.iter().flat_map(|b| [b.as_slice(), b"\n"]).flatten().copied().collect::<Vec<u8>>());
            prop_assert_eq!(verify_store(&store).unwrap().records, sealed.len() as u64);
        }
    }
}
