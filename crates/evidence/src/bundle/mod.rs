//! The auditor's bundle: one file that holds what is needed to check a set of decisions
//! without optout's store (`docs/evidence.md`, "The auditor's bundle").
//!
//! A bundle is a POSIX tar archive (ustar), so that anyone can open it with `tar`, under one
//! directory, [`ROOT`]:
//!
//! | file | what |
//! |---|---|
//! | `README.txt` | what the bundle is and how to check it |
//! | `manifest.json` | the bundle format, when and from which filters it was made, counts |
//! | `checkpoint.txt` | the head of the log it was made from, `optout-checkpoint v1 ...` |
//! | `records.jsonl` | the selected records, exactly as `optout log export` writes them |
//! | `snapshots/SHA256` | every policy file the records name, its bytes named by their SHA-256 |
//! | `verify_bundle.py` | a standalone verifier (Python 3, standard library only) |
//!
//! What a bundle proves: every record's content against its hash; the links between
//! consecutive records it holds (all of them, when it holds the whole log from record 1);
//! every snapshot against its name; and, when it holds the checkpoint's record, that the
//! records end at that head. A filtered bundle cannot show that no record between two it
//! holds was removed, nor tie a record to a checkpoint past it: a record's hash covers its
//! whole content, so linking it to a later head needs every record in between in full.
//! The checkpoint proves the head only against a copy published earlier (compare them).

mod manifest;
mod read;
mod write;

pub use read::{BundleFile, BundleVerified, MAX_SMALL, Reached, verify_bundle};
pub use write::{README, Written, write_bundle};

use super::verify::Broken;

/// The directory every file of a bundle is in.
pub const ROOT: &str = "optout-bundle/";

/// The bundle format written by this build (`manifest.json`, `format` and `version`).
pub const FORMAT: &str = "optout-bundle";

/// The bundle format version written by this build.
pub const VERSION: u64 = 1;

/// The standalone verifier every bundle carries (`tests/evidence.rs` and `tests/bundle.rs`
/// run it against real bundles).
pub const VERIFIER: &str = include_str!("../../../../tests/data/evidence/verify_bundle.py");

pub use crate::checkpoint::Checkpoint;

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::backend::StoreError),
    /// Reading the log failed.
    #[error(transparent)]
    Export(#[from] super::export::ExportError),
    /// The log does not verify: a bundle of it would prove nothing.
    #[error("the log does not verify ({0}); no bundle written (run `optout log verify`)")]
    LogBroken(Broken),
    /// The file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The bundle is not intact (or not a bundle).
    #[error(transparent)]
    Broken(#[from] Broken),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `verify_bundle.py` holds the README's SHA-256 (it has no other copy of it): a
    /// changed README needs the new hash there, or every bundle is refused.
    #[test]
    fn the_verifier_holds_the_readme_s_hash() {
        use sha2::{Digest, Sha256};
        let want = format!(
            "README_SHA256 = \"{}\"",
            hex::encode(Sha256::digest(README))
        );
        assert!(VERIFIER.contains(&want), "put `{want}` in verify_bundle.py");
    }

    #[test]
    fn a_checkpoint_line_round_trips_and_anything_else_is_named() {
        let line = format!(
            "optout-checkpoint v1 seq=12 hash={} time=2026-12-01T00:00:00.000Z",
            "ab".repeat(32)
        );
        let checkpoint = Checkpoint::parse(&format!("{line}\n")).unwrap();
        assert_eq!(checkpoint.seq, 12);
        assert_eq!(checkpoint.to_string(), line);
        for bad in [
            "",
            "optout-checkpoint v2 seq=1 hash=00 time=t",
            &line.replace("seq=12", "seq=x"),
            &line.replace("hash=ab", "hash=AB"),
            &line.replace("hash=", "hash=0"),
            &format!("{line} more"),
            &line.replace(" time=", " when="),
        ] {
            let e = Checkpoint::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("checkpoint: "), "{bad:?}: {e}");
        }
    }
}
