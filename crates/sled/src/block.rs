//! How records sit in the `records` tree (store schema version 2): in blocks.
//!
//! The value under a key K (a sequence number, 8 bytes big-endian) holds one or more
//! consecutive records, the first with sequence number K, joined by `\n`. Canonical JSON
//! never contains a raw newline byte (control characters in strings are escaped, and there is
//! no whitespace between tokens; `encode.rs` tests it on generated records), so the newline
//! separates records unambiguously, and a block is the JSONL of its records less the last
//! newline.
//!
//! Why blocks: sled's cost is mostly per value (each insert is a tree update and a log entry
//! of its own), so storing several records a value cuts that cost by about as much, while a
//! reader still finds one record with a single range lookup (`get`).
//!
//! The writer starts a new block when the next record would make the open one hold more than
//! [`BLOCK`] records or [`BLOCK_BYTES`] bytes (a single larger record gets a block of its
//! own), and a sync writes a partial block as it stands; blocks are never rewritten or
//! extended, the next records start a new one. So a schema-1 store, one record per key, is
//! already a valid schema-2 store whose blocks hold one record each.
//!
//! Everything that reads records (verification, export, stats, `log show`) reads them
//! through the store's [`Backend`](optout_evidence::Backend), which reads this layout here alone.

use super::db::{HEAD_KEY, SledStore};
use optout_evidence::backend::{Bytes, Entry, ReadError, Records};
use optout_evidence::{Store, StoreError};
use sled::IVec;
use std::sync::Arc;

/// At most this many records share one sled value (small records reach it before
/// [`BLOCK_BYTES`]). Measured with the benchmark's records (about 750 bytes) on the 2-core
/// development machine: group commit doubled from 1 to 8 records a value and gained nothing
/// measurable beyond (the appending thread's encoding and hashing is then the bound, not
/// sled); README, "The evidence log".
pub const BLOCK: u64 = 16;

/// At most this many bytes in a block, unless its one record is larger. sled 0.34 writes a
/// tree node larger than a quarter of its 512 KiB segment as a separate blob file, which its
/// flush does not fsync (spacejam/sled#1077), and a leaf holds up to 17 values before it
/// splits: values of at most 6 KiB keep every leaf of the records tree (17 × 6 KiB =
/// 102 KiB) in the log that flushes make durable. A test checks that no blob is written.
pub const BLOCK_BYTES: usize = 6 * 1024;

/// What separates the records of a block.
pub const SEPARATOR: u8 = b'\n';

/// The records of one block, in order.
struct Lines {
    block: u64,
    value: Bytes,
    /// Where the next record starts; `None` once the block is read.
    at: Option<usize>,
    index: u64,
}

impl Lines {
    fn new(block: u64, value: IVec) -> Lines {
        Lines {
            block,
            value: Arc::new(value),
            at: Some(0),
            index: 0,
        }
    }
}

impl Iterator for Lines {
    type Item = Entry;

    /// Splits exactly as `split(|b| b == '\n')` does: an empty value is one empty record,
    /// and a leading, trailing or doubled newline gives an empty one, which no reader takes
    /// for a record.
    fn next(&mut self) -> Option<Entry> {
        let at = self.at?;
        let rest = (*self.value).as_ref().get(at..).unwrap_or_default();
        let (len, next) = match memchr::memchr(SEPARATOR, rest) {
            Some(len) => (len, Some(at + len + 1)),
            None => (rest.len(), None),
        };
        let entry = Entry::new(
            self.block,
            self.index,
            next.is_none(),
            Arc::clone(&self.value),
            at..at + len,
        );
        self.at = next;
        self.index += 1;
        Some(entry)
    }
}

/// Every stored record, in key order and in order within each block, one at a time
/// (constant memory: one block is held at once).
pub(crate) struct Blocks<'a> {
    store: &'a SledStore,
    tree: sled::Iter,
    lines: Option<Lines>,
}

impl<'a> Blocks<'a> {
    pub(crate) fn new(store: &'a SledStore) -> Blocks<'a> {
        Blocks {
            store,
            tree: store.records_tree().iter(),
            lines: None,
        }
    }
}

impl Iterator for Blocks<'_> {
    type Item = Result<Entry, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.lines.as_mut().and_then(Iterator::next) {
                return Some(Ok(entry));
            }
            self.lines = None;
            let (key, value) = match self.tree.next()? {
                Ok(kv) => kv,
                Err(e) => return Some(Err(self.store.error(e).into())),
            };
            if key.as_ref() == HEAD_KEY {
                continue;
            }
            match block_key(&key) {
                Some(block) => self.lines = Some(Lines::new(block, value)),
                None => return Some(Err(ReadError::Key(hex::encode(&key)))),
            }
        }
    }
}

/// Reads every record of `store`'s log (whatever its backend: this is
/// [`Backend::records`](optout_evidence::Backend::records)).
pub fn records(store: &Store) -> Records<'_> {
    store.backend().records()
}

/// The record at `seq`: the one at its place in the block with the greatest key not above
/// `seq`. In a damaged log that may be another record; callers that care compare its `seq`.
pub(crate) fn get(store: &SledStore, seq: u64) -> Result<Option<Entry>, StoreError> {
    for item in store.records_tree().range(..=key(seq)).rev() {
        let (key, value) = item.map_err(|e| store.error(e))?;
        // The head (and any stray key) is not a block.
        let Some(block) = block_key(&key) else {
            continue;
        };
        let index = usize::try_from(seq - block).ok();
        return Ok(index.and_then(|i| Lines::new(block, value).nth(i)));
    }
    Ok(None)
}

/// The last stored record: the last line of the block with the greatest key.
pub(crate) fn last(store: &SledStore) -> Result<Option<Entry>, StoreError> {
    for item in store.records_tree().iter().rev() {
        let (key, value) = item.map_err(|e| store.error(e))?;
        if let Some(block) = block_key(&key) {
            return Ok(Lines::new(block, value).last());
        }
    }
    Ok(None)
}

/// The key of the block that starts at `seq`.
pub fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// The blocks the writer makes of `records` (stored bytes, the first with sequence number
/// `first`) when no sync falls between them: keys and values, in order. For benchmarks and
/// tools that lay out records as the log does.
pub fn pack<'a>(
    first: u64,
    records: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<([u8; 8], Vec<u8>)> {
    let mut open = Open::default();
    let mut blocks = Vec::new();
    for (seq, record) in (first..).zip(records) {
        if !open.fits(record) {
            blocks.extend(open.take());
        }
        open.push(seq, record);
    }
    blocks.extend(open.take());
    blocks
}

fn block_key(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

/// The block the writer is filling.
#[derive(Debug, Default)]
pub(crate) struct Open {
    first: u64,
    records: u64,
    bytes: Vec<u8>,
}

impl Open {
    /// Whether `record` may join the block: it is empty, or stays within [`BLOCK`] records
    /// and [`BLOCK_BYTES`] bytes with it.
    pub(crate) fn fits(&self, record: &[u8]) -> bool {
        self.records == 0
            || (self.records < BLOCK && self.bytes.len() + 1 + record.len() <= BLOCK_BYTES)
    }

    /// Adds record `seq` (the one after the last added, if any), as stored bytes. The caller
    /// closes the block first when the record does not [`fit`](Open::fits).
    pub(crate) fn push(&mut self, seq: u64, record: &[u8]) {
        debug_assert!(
            memchr::memchr(SEPARATOR, record).is_none(),
            "canonical JSON has no raw newline"
        );
        match self.records {
            0 => self.first = seq,
            // Room for a whole block once it has a second record (not for the first: in
            // flush-per-record mode blocks hold one record).
            1 => self
                .bytes
                .reserve(BLOCK_BYTES.saturating_sub(self.bytes.len())),
            _ => {}
        }
        if self.records > 0 {
            debug_assert_eq!(seq, self.first + self.records);
            self.bytes.push(SEPARATOR);
        }
        self.bytes.extend_from_slice(record);
        self.records += 1;
    }

    /// Closes the block: its key and value, if it has any records.
    pub(crate) fn take(&mut self) -> Option<([u8; 8], Vec<u8>)> {
        if self.records == 0 {
            return None;
        }
        self.records = 0;
        Some((key(self.first), std::mem::take(&mut self.bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(value: &[u8]) -> Vec<(u64, bool, Vec<u8>)> {
        Lines::new(7, IVec::from(value))
            .map(|e| {
                assert_eq!(e.block, 7);
                (e.index, e.last, e.bytes().to_vec())
            })
            .collect()
    }

    /// Splitting agrees with `split` on the edge cases a damaged block can have.
    #[test]
    fn a_block_splits_like_split_on_newlines() {
        for value in [
            &b""[..],
            b"a",
            b"a\nbb",
            b"\n",
            b"a\n",
            b"\na",
            b"a\n\nb",
            b"0123456789012345678901234567890\n0123456789012345678901234567890",
        ] {
            let got = lines(value);
            let want: Vec<&[u8]> = value.split(|&b| b == b'\n').collect();
            assert_eq!(got.len(), want.len(), "{value:?}");
            for (i, ((index, last, bytes), line)) in got.iter().zip(&want).enumerate() {
                assert_eq!(*index, i as u64);
                assert_eq!(*last, i + 1 == want.len());
                assert_eq!(bytes.as_slice(), *line);
            }
        }
    }

    #[test]
    fn packing_cuts_by_count_and_by_size() {
        let small = vec![b's'; 10];
        // Too large to join two small records, or another large one, or to be joined.
        let large = vec![b'l'; BLOCK_BYTES - 10];
        let records: Vec<&[u8]> = std::iter::repeat_n(small.as_slice(), BLOCK as usize + 2)
            .chain([large.as_slice(), large.as_slice(), small.as_slice()])
            .collect();
        let blocks = pack(5, records.iter().copied());
        let keys: Vec<u64> = blocks.iter().map(|(k, _)| u64::from_be_bytes(*k)).collect();
        let n = BLOCK + 2;
        assert_eq!(keys, [5, 5 + BLOCK, 5 + n, 6 + n, 7 + n]);
        let lines: Vec<Vec<u8>> = blocks
            .iter()
            .flat_map(|(_, v)| v.split(|&b| b == SEPARATOR).map(<[u8]>::to_vec))
            .collect();
        assert_eq!(lines, records);
        assert!(pack(1, std::iter::empty()).is_empty());
    }

    #[test]
    fn an_open_block_joins_its_records_and_is_keyed_by_the_first() {
        let mut open = Open::default();
        assert!(open.take().is_none());
        open.push(5, b"{\"a\":1}");
        open.push(6, b"{\"b\":2}");
        let (key, value) = open.take().unwrap();
        assert_eq!(key, 5u64.to_be_bytes());
        assert_eq!(value, b"{\"a\":1}\n{\"b\":2}");
        assert!(open.take().is_none());
        // At most BLOCK records.
        for seq in 7..7 + BLOCK {
            assert!(open.fits(b"{}"));
            open.push(seq, b"{}");
        }
        assert!(!open.fits(b"{}"));
        assert_eq!(open.take().unwrap().0, 7u64.to_be_bytes());
        // At most BLOCK_BYTES bytes, unless one record alone is larger.
        let half = vec![b'x'; BLOCK_BYTES / 2];
        assert!(open.fits(&half));
        open.push(1, &half);
        assert!(!open.fits(&half));
        assert!(open.fits(&half[1..]));
        open.push(2, &half[1..]);
        assert_eq!(open.take().unwrap().1.len(), BLOCK_BYTES);
        let big = vec![b'x'; BLOCK_BYTES * 2];
        assert!(open.fits(&big));
        open.push(3, &big);
        assert!(!open.fits(b"{}"));
    }
}
