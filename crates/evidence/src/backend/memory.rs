//! A backend in memory, for the evidence layer's own tests: the log, verification, export
//! and checkpoints run on it as on sled, which shows that the interface asks nothing of
//! sled (one record a row, sealed under the backend's lock as a database would).

use super::{Appender, Backend, Durability, Encoded, Entry, Head, ReadError, StoreError};
use super::{KeyValues, Records, Snapshots};
use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct Memory {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Record `seq` at index `seq - 1`.
    pub(crate) records: Vec<Vec<u8>>,
    head: (u64, [u8; 32]),
    snapshots: BTreeMap<Vec<u8>, Vec<u8>>,
    policy: BTreeMap<(String, String), Vec<u8>>,
    journal: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Memory {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn entry(seq: u64, bytes: &[u8]) -> Entry {
    Entry::new(seq, 0, true, Arc::new(bytes.to_vec()), 0..bytes.len())
}

impl Backend for Memory {
    fn location(&self) -> &Path {
        Path::new("memory")
    }

    fn head(&self) -> Result<Head, StoreError> {
        let (seq, hash) = self.state().head;
        Ok(Head { seq, hash })
    }

    fn acknowledged(&self) -> Option<Head> {
        None
    }

    fn records(&self) -> Records<'_> {
        let state = self.state();
        let entries: Vec<Result<Entry, ReadError>> = (1..)
            .zip(&state.records)
            .map(|(seq, bytes)| Ok(entry(seq, bytes)))
            .collect();
        Box::new(entries.into_iter())
    }

    fn record(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        let state = self.state();
        let index = usize::try_from(seq).ok().and_then(|s| s.checked_sub(1));
        Ok(index
            .and_then(|i| state.records.get(i))
            .map(|b| entry(seq, b)))
    }

    fn last(&self) -> Result<Option<Entry>, StoreError> {
        let state = self.state();
        Ok(state
            .records
            .last()
            .map(|b| entry(state.records.len() as u64, b)))
    }

    fn open_log(&self, _: Head, _: Durability) -> Result<Box<dyn Appender>, StoreError> {
        Ok(Box::new(MemoryLog(Arc::clone(&self.state))))
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn put_snapshot(&self, hash: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
        let mut state = self.state();
        state
            .snapshots
            .entry(hash.to_vec())
            .or_insert_with(|| bytes.to_vec());
        Ok(())
    }

    fn snapshot(&self, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().snapshots.get(hash).cloned())
    }

    fn snapshots(&self) -> Snapshots<'_> {
        let all: Vec<_> = self.state().snapshots.clone().into_iter().map(Ok).collect();
        Box::new(all.into_iter())
    }

    fn policy(&self, kind: &str, origin: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = (kind.to_owned(), origin.to_owned());
        Ok(self.state().policy.get(&key).cloned())
    }

    fn put_policy(&self, kind: &str, origin: &str, value: &[u8]) -> Result<(), StoreError> {
        let key = (kind.to_owned(), origin.to_owned());
        self.state().policy.insert(key, value.to_vec());
        Ok(())
    }

    fn journal(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.state().journal.get(key).cloned())
    }

    fn journal_newest(&self, prefix: &[u8], n: usize) -> Result<KeyValues, StoreError> {
        let state = self.state();
        let found = state.journal.iter().rev();
        Ok(found
            .filter(|(k, _)| k.starts_with(prefix))
            .take(n)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn journal_put(&self, puts: KeyValues) -> Result<(), StoreError> {
        self.state().journal.extend(puts);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Appends under the state's lock: sequence number and link are the backend's.
struct MemoryLog(Arc<Mutex<State>>);

impl Appender for MemoryLog {
    fn append(&self, record: Encoded) -> Result<(u64, [u8; 32]), StoreError> {
        let mut state = lock(&self.0);
        let seq = state.head.0 + 1;
        let sealed = record.seal(seq, &state.head.1);
        state.records.push(sealed.bytes);
        state.head = (seq, sealed.hash);
        Ok((seq, sealed.hash))
    }

    fn sync(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.0).head.0)
    }

    fn durable_seq(&self) -> u64 {
        lock(&self.0).head.0
    }

    fn head(&self) -> Head {
        let (seq, hash) = lock(&self.0).head;
        Head { seq, hash }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{self, Filter};
    use crate::{Broken, Durability, EvidenceLog, Record, SourceRef, Store, checkpoint};
    use crate::{verify::VerifyError, verify_store};

    fn logged(memory: &Arc<Memory>, n: usize) -> Store {
        let store = Store::new(Arc::clone(memory) as Arc<dyn Backend>);
        let log = EvidenceLog::open(store.clone(), Durability::default()).unwrap();
        let start = log.head().seq;
        let robots = b"User-agent: *\nDisallow: /private/\n";
        let source = SourceRef::offline("robots.txt", "test", robots);
        log.put_snapshot_with_hash(&source.sha256, robots).unwrap();
        for i in 0..n {
            let url = url::Url::parse(&format!("https://example.com/private/{i}")).unwrap();
            let decision = optout_policy::RobotsTxt::parse(robots).allowed("optout", &url);
            let purpose = optout_policy::Purpose::TrainAi;
            let record =
                Record::of_decision(&url, "optout", purpose, &decision, vec![source.clone()]);
            assert_eq!(log.append(record).unwrap().seq, start + i as u64 + 1);
        }
        assert_eq!(log.sync().unwrap(), start + n as u64);
        store
    }

    /// The log, verification, export and checkpoints need nothing but the interface.
    #[test]
    fn a_log_in_another_backend_verifies_exports_and_checkpoints() {
        let memory = Arc::new(Memory::default());
        let store = logged(&memory, 5);
        let verified = verify_store(&store).unwrap();
        assert_eq!((verified.records, verified.snapshots), (5, 1));
        let mut jsonl = Vec::new();
        assert_eq!(
            export::jsonl(&store, &Filter::default(), &mut jsonl).unwrap(),
            5
        );
        let want: Vec<u8> = memory.state().records.join(&b'\n');
        assert_eq!(jsonl, [want, b"\n".to_vec()].concat());
        assert_eq!(checkpoint(&store).unwrap().seq, 5);
        // Reopening links to the head the backend holds.
        let more = logged(&memory, 2);
        assert_eq!(verify_store(&more).unwrap().records, 7);
    }

    /// A record changed behind the log's back is named by its sequence number.
    #[test]
    fn a_changed_record_in_another_backend_is_named() {
        let memory = Arc::new(Memory::default());
        let store = logged(&memory, 3);
        let forged = String::from_utf8(memory.state().records[1].clone())
            .unwrap()
            .replace("private/1", "private/9");
        memory.state().records[1] = forged.into_bytes();
        match verify_store(&store) {
            Err(VerifyError::Broken(Broken::Record { seq: 2, .. })) => {}
            other => panic!("{other:?}"),
        }
    }
}
