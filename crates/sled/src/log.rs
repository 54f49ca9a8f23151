//! The sled store's [`Appender`]: the group-commit writer (`writer.rs`) and the background
//! thread that writes its queued batches and syncs every `flush_every`.

use super::db::SledStore;
use super::writer::Writer;
use optout_evidence::StoreError;
use optout_evidence::backend::{Appender, Durability, Encoded, Head};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

/// An open log on a sled store.
pub(crate) struct SledLog {
    writer: Arc<Writer>,
    /// Writes queued batches and syncs every `flush_every` (none in per-record mode).
    background: Option<JoinHandle<()>>,
}

impl SledLog {
    /// Starts appending to `store`'s log, whose head is `head`.
    pub(crate) fn start(store: SledStore, head: Head, durability: Durability) -> SledLog {
        let writer = Arc::new(Writer::new(store, head, durability));
        let background = (!durability.per_record).then(|| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || writer.run())
        });
        SledLog { writer, background }
    }
}

impl Appender for SledLog {
    fn append(&self, record: Encoded) -> Result<(u64, [u8; 32]), StoreError> {
        self.writer.append(record, || {
            if let Some(background) = &self.background {
                background.thread().unpark();
            }
        })
    }

    fn sync(&self) -> Result<u64, StoreError> {
        self.writer.sync()
    }

    fn durable_seq(&self) -> u64 {
        self.writer.durable.load(Ordering::SeqCst)
    }

    fn head(&self) -> Head {
        self.writer.lock().map(|s| s.head.clone()).unwrap_or(Head {
            seq: 0,
            hash: [0; 32],
        })
    }
}

impl Drop for SledLog {
    /// Stops the background thread, then syncs what is left.
    fn drop(&mut self) {
        self.writer.stop.store(true, Ordering::SeqCst);
        if let Some(background) = self.background.take() {
            background.thread().unpark();
            let _ = background.join();
        }
        let _ = self.writer.sync();
    }
}
