//! The acknowledged head: a small file beside sled's, `DIR/optout-acknowledged`, that says up
//! to which record the log was on disk the last time optout flushed it.
//!
//! Why: sled 0.34 recovers its log at open by reading it until the first message whose
//! checksum fails, and takes everything after that for a torn write: it drops it, silently,
//! and zeroes it. One flipped byte in a part of the log that no snapshot covers yet therefore
//! makes a store open as a shorter log (or an empty one) whose chain is intact. Nothing inside
//! sled can show what was lost, so the head is also written here, outside sled's log, after
//! every flush; a log that ends before it lost acknowledged records.
//!
//! The file is written after sled's flush returns and is not synced itself, so after a crash
//! it is at most as far as the log: never ahead of what sled made durable. A missing,
//! truncated or garbled file is taken as unknown (a store written by an older optout, or a
//! crash while writing it), not as damage.

use sha2::{Digest, Sha256};
use std::path::Path;

/// The file's name in the store directory.
pub const FILE: &str = "optout-acknowledged";

const MAGIC: &[u8; 8] = b"optout\x01\x00";

/// The length of a head as the records tree stores it (sequence number and hash).
const HEAD: usize = 40;

fn check_sum(head: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(MAGIC)
        .chain_update(head)
        .finalize();
    let mut sum = [0; 8];
    sum.copy_from_slice(&digest[..8]);
    sum
}

/// Writes `head` (as the records tree stores it) as the acknowledged head of the store in
/// `dir`.
pub fn write(dir: &Path, head: &[u8]) -> std::io::Result<()> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(head);
    bytes.extend_from_slice(&check_sum(head));
    std::fs::write(dir.join(FILE), bytes)
}

/// The acknowledged head of the store in `dir`, as the records tree stores a head, if the
/// file is there and whole.
pub fn read(dir: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(dir.join(FILE)).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() != HEAD + 8 {
        return None;
    }
    let (head, sum) = rest.split_at(HEAD);
    (sum == check_sum(head)).then(|| head.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_reads_back_and_a_damaged_file_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let head: Vec<u8> = (0..40).collect();
        write(dir.path(), &head).unwrap();
        assert_eq!(read(dir.path()), Some(head.clone()));
        let mut bytes = std::fs::read(dir.path().join(FILE)).unwrap();
        bytes[20] ^= 1;
        std::fs::write(dir.path().join(FILE), &bytes).unwrap();
        assert_eq!(read(dir.path()), None);
        std::fs::write(dir.path().join(FILE), &bytes[..30]).unwrap();
        assert_eq!(read(dir.path()), None);
    }
}
