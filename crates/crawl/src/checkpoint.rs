//! The crawl's own checkpoint, stored in the frontier with its state: where the WARC, its
//! index and the skip report were durable when the frontier was. A resume replays what
//! follows these positions ([`super::resume`]).

use serde::{Deserialize, Serialize};

/// Positions at a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The WARC file being written (none before the first page).
    pub warc_file: Option<String>,
    /// Bytes of it durable.
    pub warc_offset: u64,
    /// Bytes of `index.cdxj` durable.
    pub cdxj_offset: u64,
    /// Bytes of `skipped.jsonl` durable.
    pub skipped_offset: u64,
    /// Pages kept by the crawl so far, over all its runs.
    pub kept: u64,
}

impl Checkpoint {
    /// The bytes stored in the frontier.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads stored bytes; `None` when they are not a checkpoint of this version.
    pub fn from_bytes(bytes: &[u8]) -> Option<Checkpoint> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Checkpoint {
            warc_file: Some("optout-1.warc.gz".into()),
            warc_offset: 10,
            cdxj_offset: 20,
            skipped_offset: 30,
            kept: 4,
        };
        assert_eq!(Checkpoint::from_bytes(&c.to_bytes()), Some(c));
        assert_eq!(Checkpoint::from_bytes(b"\xff"), None);
    }
}
