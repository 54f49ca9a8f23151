//! One stored record as a backend hands it out: its bytes, shared with the block or row
//! they were read in (not copied), and where it stands.

use std::ops::Range;
use std::sync::Arc;

/// Bytes a backend read, shared by every record cut from them (a sled value, a row).
pub type Bytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// One stored record: its bytes, and where it stands.
#[derive(Clone)]
pub struct Entry {
    /// The key of the block that holds it (in an intact log, the block's first record's
    /// sequence number; a backend that stores one record a row gives its own).
    pub block: u64,
    /// Its place in the block, from 0.
    pub index: u64,
    /// Whether it is the last record of its block.
    pub last: bool,
    bytes: Bytes,
    range: Range<usize>,
}

impl Entry {
    /// The record at `range` of `bytes`, the `index`th of block `block`. A range outside
    /// `bytes` reads as no bytes.
    pub fn new(block: u64, index: u64, last: bool, bytes: Bytes, range: Range<usize>) -> Entry {
        Entry {
            block,
            index,
            last,
            bytes,
            range,
        }
    }

    /// The record's stored bytes: its canonical JSON with `hash` and `prev_hash`, exactly as
    /// a JSONL export writes it (without the newline).
    pub fn bytes(&self) -> &[u8] {
        (*self.bytes)
            .as_ref()
            .get(self.range.clone())
            .unwrap_or_default()
    }

    /// The sequence number its place implies (block key plus index): what its `seq` is in an
    /// intact log.
    pub fn place(&self) -> u64 {
        self.block.saturating_add(self.index)
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("block", &self.block)
            .field("index", &self.index)
            .field("last", &self.last)
            .field("bytes", &String::from_utf8_lossy(self.bytes()))
            .finish()
    }
}
