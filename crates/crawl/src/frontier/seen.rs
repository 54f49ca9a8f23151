//! The seen-set on disk: an open-addressing hash table (linear probing) of 16-byte keys,
//! each with an 8-byte value, in one file read and written with positioned reads and writes
//! (`FileExt`; no mmap: `#![forbid(unsafe_code)]`).
//!
//! Why our own table and not sled: sled 0.34 keeps per-page state in memory for every page
//! of a tree, so its resident memory grows with the key count whatever its cache size
//! (spacejam/sled#1410; measured in docs/frontier.md: 1 GiB at 6 million URLs). This table
//! holds nothing in memory but its size: the operating system's page cache, which is not
//! the process's and is given back under pressure, does the caching.
//!
//! Keys are never removed and a key's value never changes once written, so inserting is
//! idempotent: the redo log of a checkpoint can be applied twice. The table doubles (a new
//! file, renamed over the old one) before it is more than [`MAX_LOAD`] full.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The table file in the frontier directory.
pub(super) const FILE: &str = "seen.table";
const TMP: &str = "seen.table.tmp";
/// A slot: key (16 bytes), value (u64 BE). An all-zero key is an empty slot (`seen_key`
/// never gives one).
const SLOT: u64 = 24;
const MIN_SLOTS: u64 = 1 << 12;
/// 2^36 slots: 1.6 TiB of table, for 48 billion URLs. More is damage.
const MAX_SLOTS: u64 = 1 << 36;
/// The most slots one probe reads at once: a probe that misses reads on until an empty slot.
const PROBE_SLOTS: u64 = 16;
/// Load factor, as a fraction of 10, past which the table doubles. Linear probing at 0.7
/// needs about 1.2 probes for a hit and 6 for a miss (Knuth), most within one read.
const MAX_LOAD: u64 = 7;

pub(super) struct SeenTable {
    file: File,
    slots: u64,
}

impl SeenTable {
    /// Opens the table of `dir`, or creates an empty one. An unfinished resize is discarded.
    pub fn open(dir: &Path) -> std::io::Result<SeenTable> {
        let _ = std::fs::remove_file(dir.join(TMP));
        let path = dir.join(FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut len = file.metadata()?.len();
        if len == 0 {
            len = MIN_SLOTS * SLOT;
            fill_with_zeros(&file, len)?;
        }
        let slots = len / SLOT;
        if len % SLOT != 0 || !slots.is_power_of_two() {
            return Err(std::io::Error::other(format!(
                "{FILE} has {len} bytes, not a table"
            )));
        }
        Ok(SeenTable { file, slots })
    }

    /// The value stored for `key`, if it is in the table.
    pub fn get(&self, key: &[u8; 16]) -> std::io::Result<Option<u64>> {
        Ok(self.probe(key)?.1)
    }

    /// Stores `key` with `value` (a key already present keeps its slot; its value is
    /// written again).
    pub fn insert(&self, key: &[u8; 16], value: u64) -> std::io::Result<()> {
        let (slot, _) = self.probe(key)?;
        let mut bytes = [0u8; SLOT as usize];
        bytes[..16].copy_from_slice(key);
        bytes[16..].copy_from_slice(&value.to_be_bytes());
        self.file.write_all_at(&bytes, slot * SLOT)
    }

    /// Doubles the table until `keys` keys fit under the load factor: a new file, filled from
    /// the old one, synced, and renamed over it (the old one stays valid until the rename).
    pub fn reserve(&mut self, dir: &Path, keys: u64) -> std::io::Result<()> {
        let mut slots = self.slots;
        while keys.saturating_mul(10) > slots.saturating_mul(MAX_LOAD) {
            if slots >= MAX_SLOTS {
                return Err(std::io::Error::other(format!(
                    "{keys} keys: {FILE} would be too big"
                )));
            }
            slots *= 2;
        }
        if slots == self.slots {
            return Ok(());
        }
        let tmp = dir.join(TMP);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        fill_with_zeros(&file, slots * SLOT)?;
        let grown = SeenTable { file, slots };
        let mut old = BufReader::with_capacity(1 << 20, &self.file);
        let mut slot = [0u8; SLOT as usize];
        for _ in 0..self.slots {
            old.read_exact(&mut slot)?;
            let key: [u8; 16] = slot[..16].try_into().expect("16 bytes");
            if key != [0; 16] {
                let value = u64::from_be_bytes(slot[16..].try_into().expect("8 bytes"));
                grown.insert(&key, value)?;
            }
        }
        grown.file.sync_all()?;
        std::fs::rename(&tmp, dir.join(FILE))?;
        File::open(dir)?.sync_all()?;
        *self = grown;
        Ok(())
    }

    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// The slot holding `key` (with its value), or the empty slot where it would go.
    fn probe(&self, key: &[u8; 16]) -> std::io::Result<(u64, Option<u64>)> {
        let mask = self.slots - 1;
        let mut slot = u64::from_be_bytes(key[..8].try_into().expect("8 bytes")) & mask;
        let mut buf = [0u8; (PROBE_SLOTS * SLOT) as usize];
        for _ in 0..self.slots.div_ceil(PROBE_SLOTS) + 1 {
            // Read up to the end of the file; the next read wraps to slot 0.
            let n = PROBE_SLOTS.min(self.slots - slot);
            let bytes = &mut buf[..(n * SLOT) as usize];
            self.file.read_exact_at(bytes, slot * SLOT)?;
            for (i, entry) in bytes.chunks_exact(SLOT as usize).enumerate() {
                let here = slot + i as u64;
                if entry[..16] == key[..] {
                    let value = u64::from_be_bytes(entry[16..].try_into().expect("8 bytes"));
                    return Ok((here, Some(value)));
                }
                if entry[..16] == [0; 16] {
                    return Ok((here, None));
                }
            }
            slot = (slot + n) & mask;
        }
        Err(std::io::Error::other(format!("{FILE} is full")))
    }
}

/// Writes `len` zero bytes: measured, inserts into a sparse file (`set_len`) spent most of
/// their time allocating ext4 blocks one at a time; written zeros allocate them in order.
fn fill_with_zeros(file: &File, len: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(zeros.len() as u64);
        file.write_all_at(&zeros[..n as usize], at)?;
        at += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> [u8; 16] {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(i.to_be_bytes());
        digest[..16].try_into().unwrap()
    }

    #[test]
    fn keys_survive_growth_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = SeenTable::open(dir.path()).unwrap();
        let n = MIN_SLOTS * 2;
        for i in 0..n {
            if i % 1000 == 0 {
                table.reserve(dir.path(), i + 1000).unwrap();
            }
            table.insert(&key(i), i).unwrap();
            table.insert(&key(i), i).unwrap();
        }
        assert!(table.slots * MAX_LOAD >= n * 10);
        drop(table);
        let table = SeenTable::open(dir.path()).unwrap();
        for i in 0..n {
            assert_eq!(table.get(&key(i)).unwrap(), Some(i));
        }
        assert_eq!(table.get(&key(n)).unwrap(), None);
    }

    #[test]
    fn probes_wrap_around_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let table = SeenTable::open(dir.path()).unwrap();
        let mut at_end = [0xffu8; 16];
        for last in 1..40u8 {
            at_end[15] = last;
            table.insert(&at_end, u64::from(last)).unwrap();
        }
        for last in 1..40u8 {
            at_end[15] = last;
            assert_eq!(table.get(&at_end).unwrap(), Some(u64::from(last)));
        }
    }

    #[test]
    fn a_file_that_is_not_a_table_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"not a table").unwrap();
        assert!(SeenTable::open(dir.path()).is_err());
    }
}
