//! The checkpoint: the head of an intact log, as one line to publish or timestamp
//! elsewhere (`optout log checkpoint`, the Python `engine.log.checkpoint()`). Anyone holding
//! an earlier checkpoint can later show that the records up to it were not changed
//! (`docs/evidence.md`), as a Certificate Transparency signed tree head does (RFC 9162 §4.10).

use super::backend::{Store, StoreError};
use super::log::Head;
use super::verify::{VerifyError, verify_store};
use std::fmt;

/// The head of an intact log, and when it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record's sequence number.
    pub seq: u64,
    /// Its chain hash.
    pub hash: [u8; 32],
    /// When the checkpoint was taken (RFC 3339, UTC).
    pub time: String,
}

impl fmt::Display for Checkpoint {
    /// `optout-checkpoint v1 seq=N hash=HEX time=RFC3339`, without a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "optout-checkpoint v1 seq={} hash={} time={}",
            self.seq,
            hex::encode(self.hash),
            self.time
        )
    }
}

/// Verifies the whole log of `store`, then reads its head. A checkpoint says the log up to
/// its head is intact, so a damaged log gets none: the error names the first bad record.
pub fn checkpoint(store: &Store) -> Result<Checkpoint, StoreError> {
    let verified = verify_store(store).map_err(|e| match e {
        VerifyError::Broken(broken) => store.damaged(format!(
            "{broken}; no checkpoint printed (run `optout log verify`)"
        )),
        VerifyError::Store(e) => e,
        VerifyError::Io(source) => StoreError::Io {
            path: store.path().to_owned(),
            source,
        },
    })?;
    let head = Head::read(store)?;
    debug_assert_eq!(verified.head.0, head.seq);
    Ok(Checkpoint {
        seq: head.seq,
        hash: head.hash,
        time: super::record::now_rfc3339(),
    })
}
