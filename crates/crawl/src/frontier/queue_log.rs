//! The queues on disk: one append-only file of records, each host's records chained in push
//! order (a singly linked list whose offsets only grow).
//!
//! A record: offset of the host's next record (u64 BE; meaningless in the host's tail),
//! removed (u8: 1 once `mark_done` or `drop_host` took it out of the middle of its queue),
//! length (u32 BE), then the candidate's bytes (`codec`). A host keeps in memory and in its
//! record (`codec::HostRecord`) only the offsets of its head and tail: 100,000 hosts take a
//! few megabytes whatever the number of URLs.
//!
//! Crash semantics: records are appended (and the previous tail's link written) at once,
//! beyond the length the last checkpoint committed; opening cuts the file back to that
//! length. The only write into the committed part between checkpoints is the link of a
//! committed tail, and a tail's link is never followed (a walk stops at the tail), so what a
//! crash leaves there is harmless. The removed flag is written through the redo log only.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The queue file in the frontier directory.
pub(super) const FILE: &str = "queue.log";
pub(super) const HEADER: u64 = 13;
/// Where the removed flag is in a record.
pub(super) const REMOVED_AT: u64 = 8;
/// The longest candidate the frontier stores; a longer length is damage.
const MAX_RECORD: u32 = 16 * 1024 * 1024;

/// A record's header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub next: u64,
    pub removed: bool,
    pub len: u32,
}

pub(super) struct QueueLog {
    file: File,
    len: u64,
}

impl QueueLog {
    /// Opens the queue file of `dir` cut back to `committed` bytes.
    pub fn open(dir: &Path, committed: u64) -> std::io::Result<QueueLog> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(FILE))?;
        if file.metadata()?.len() < committed {
            return Err(damaged("shorter than its last checkpoint"));
        }
        file.set_len(committed)?;
        Ok(QueueLog {
            file,
            len: committed,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends a record holding `payload` and returns its offset.
    pub fn append(&mut self, payload: &[u8]) -> std::io::Result<u64> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len <= MAX_RECORD)
            .ok_or_else(|| std::io::Error::other("a queued URL over 16 MiB"))?;
        let mut record = Vec::with_capacity(HEADER as usize + payload.len());
        record.extend_from_slice(&0u64.to_be_bytes());
        record.push(0);
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(payload);
        let at = self.len;
        self.file.write_all_at(&record, at)?;
        self.len += record.len() as u64;
        Ok(at)
    }

    /// Chains the record at `next` after the one at `tail`.
    pub fn link(&self, tail: u64, next: u64) -> std::io::Result<()> {
        self.file.write_all_at(&next.to_be_bytes(), tail)
    }

    /// The header of the record at `at`; damage is an error, never a panic.
    pub fn header(&self, at: u64) -> std::io::Result<Header> {
        if at.checked_add(HEADER).is_none_or(|end| end > self.len) {
            return Err(damaged("a queue points past the end of the file"));
        }
        let mut bytes = [0u8; HEADER as usize];
        self.file.read_exact_at(&mut bytes, at)?;
        let header = Header {
            next: u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            removed: match bytes[8] {
                0 => false,
                1 => true,
                _ => return Err(damaged("a queue record with a bad flag")),
            },
            len: u32::from_be_bytes(bytes[9..].try_into().expect("4 bytes")),
        };
        if header.len > MAX_RECORD || at + HEADER + u64::from(header.len) > self.len {
            return Err(damaged("a queue record runs past the end of the file"));
        }
        Ok(header)
    }

    /// The candidate bytes of the record at `at`, whose header is `header`.
    pub fn payload(&self, at: u64, header: Header) -> std::io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; header.len as usize];
        self.file.read_exact_at(&mut bytes, at + HEADER)?;
        Ok(bytes)
    }

    pub fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

fn damaged(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{FILE}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_chained_and_cut_back_to_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = QueueLog::open(dir.path(), 0).unwrap();
        let a = log.append(b"first").unwrap();
        let b = log.append(b"second").unwrap();
        log.link(a, b).unwrap();
        let committed = log.len();
        let c = log.append(b"after the checkpoint").unwrap();
        log.link(b, c).unwrap();
        drop(log);
        let log = QueueLog::open(dir.path(), committed).unwrap();
        let head = log.header(a).unwrap();
        assert_eq!((head.next, head.removed), (b, false));
        assert_eq!(log.payload(b, log.header(b).unwrap()).unwrap(), b"second");
        assert!(log.header(c).is_err(), "cut off with the crash");
        assert!(QueueLog::open(dir.path(), committed + 1).is_err());
    }
}
