//! The writes since the last checkpoint, held in memory over the sled tree and written as
//! one batch by [`Staged::commit`].
//!
//! Why not write to sled at once: sled persists writes in the background and when its
//! buffers fill, so after a crash it would hold some writes made after the last checkpoint
//! but not others, and the crawl's checkpoint meta (its WARC position) would not match the
//! frontier. Holding them here until the checkpoint makes "the state of some checkpoint" the
//! only state a crash can leave: a checkpoint is committed by its redo log (`redo`), and the
//! meta is in it.
//! Memory is bounded by what the crawl does between two checkpoints.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use super::redo;

/// A key, or a key and a value, read through the staged writes.
pub(super) type Entry = (Vec<u8>, Vec<u8>);

pub(super) struct Staged {
    db: sled::Db,
    /// `None`: removed.
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Staged {
    pub fn new(db: sled::Db) -> Staged {
        Staged {
            db,
            writes: BTreeMap::new(),
        }
    }

    /// The writes waiting for the next checkpoint.
    pub fn pending(&self) -> usize {
        self.writes.len()
    }

    pub fn get(&self, key: &[u8]) -> sled::Result<Option<Vec<u8>>> {
        match self.writes.get(key) {
            Some(staged) => Ok(staged.clone()),
            None => Ok(self.db.get(key)?.map(|v| v.to_vec())),
        }
    }

    pub fn contains(&self, key: &[u8]) -> sled::Result<bool> {
        match self.writes.get(key) {
            Some(staged) => Ok(staged.is_some()),
            None => self.db.contains_key(key),
        }
    }

    pub fn put(&mut self, key: &[u8], value: Vec<u8>) {
        self.writes.insert(key.to_vec(), Some(value));
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.writes.insert(key.to_vec(), None);
    }

    /// The first live entry with `from <= key < to`.
    pub fn first_in(&self, from: &[u8], to: &[u8]) -> sled::Result<Option<Entry>> {
        let range = (Bound::Included(from), Bound::Excluded(to));
        let staged = self
            .writes
            .range::<[u8], _>(range)
            .find_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())));
        let mut stored = None;
        for entry in self.db.range(from..to) {
            let (key, value) = entry?;
            // A key removed or rewritten since the checkpoint: the staged state wins.
            if self.writes.contains_key(key.as_ref()) {
                continue;
            }
            stored = Some((key.to_vec(), value.to_vec()));
            break;
        }
        Ok(match (staged, stored) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        })
    }

    /// Every stored entry whose key starts with `prefix` (staged writes not included: for
    /// opening, when none are).
    pub fn scan_stored(&self, prefix: &[u8]) -> impl Iterator<Item = sled::Result<Entry>> {
        self.db
            .scan_prefix(prefix)
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    /// Commits the staged writes and `extra` as one checkpoint through the redo log of `dir`
    /// (`redo`), then applies them to sled.
    pub fn commit(&mut self, dir: &Path, extra: Vec<Entry>) -> Result<(), String> {
        let staged = self
            .writes
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()));
        let extra_writes = extra
            .iter()
            .map(|(k, v)| (k.as_slice(), Some(v.as_slice())));
        redo::write(dir, staged.chain(extra_writes))
            .map_err(|e| format!("cannot write {}: {e}", redo::FILE))?;
        redo::recover(dir, &self.db)?;
        self.writes.clear();
        Ok(())
    }
}
