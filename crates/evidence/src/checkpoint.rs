//! The checkpoint: the head of an intact log, as one line to publish or timestamp
//! elsewhere (`optout log checkpoint`, the Python `engine.log.checkpoint()`). Anyone holding
//! an earlier checkpoint can later show that the records up to it were not changed
//! (`docs/evidence.md`), as a Certificate Transparency signed tree head does (RFC 9162 §4.10).

use super::backend::{Store, StoreError};
use super::log::Head;
use super::record::now_rfc3339;
use super::verify::{Broken, VerifyError, verify_store};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The head of an intact log, and when it was read: the one checkpoint type, for `optout
/// log checkpoint`, the auditor's bundle, the crawler page's feed and `GET /v1/checkpoint`.
/// Its text form is the line `optout-checkpoint v1 seq=N hash=HEX time=RFC3339`
/// ([`fmt::Display`], [`FromStr`]); as JSON (serde) it is `{"seq", "hash", "time"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last record's sequence number (0 for an empty log).
    pub seq: u64,
    /// Its chain hash: 64 lower-case hex digits.
    pub hash: String,
    /// When the checkpoint was taken (RFC 3339, UTC).
    pub time: String,
}

impl Checkpoint {
    /// The checkpoint of `head`, taken now.
    pub fn of(head: &Head) -> Checkpoint {
        Checkpoint {
            seq: head.seq,
            hash: hex::encode(head.hash),
            time: now_rfc3339(),
        }
    }
}

impl Checkpoint {
    /// Reads a checkpoint line handed over with a log (a bundle's `checkpoint.txt`): a line
    /// that is not one was changed, and verifying fails with what is wrong with it.
    pub fn parse(line: &str) -> Result<Checkpoint, Broken> {
        line.parse()
            .map_err(|e| Broken::Checkpoint(format!("{e} (the checkpoint was changed)")))
    }
}

impl fmt::Display for Checkpoint {
    /// `optout-checkpoint v1 seq=N hash=HEX time=RFC3339`, without a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "optout-checkpoint v1 seq={} hash={} time={}",
            self.seq, self.hash, self.time
        )
    }
}

/// Why a line is not a checkpoint: what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotACheckpoint(pub String);

impl FromStr for Checkpoint {
    type Err = NotACheckpoint;

    /// Reads a checkpoint line (one trailing newline allowed); strict, as a line handed
    /// over by someone else may have been changed.
    fn from_str(line: &str) -> Result<Checkpoint, NotACheckpoint> {
        let bad = |what: &str| NotACheckpoint(what.to_owned());
        let line = line.strip_suffix('\n').unwrap_or(line);
        let mut words = line.split(' ');
        if words.next() != Some("optout-checkpoint") || words.next() != Some("v1") {
            return Err(bad("not an `optout-checkpoint v1` line"));
        }
        let mut field = |name: &str| {
            words
                .next()
                .and_then(|w| w.strip_prefix(name))
                .and_then(|w| w.strip_prefix('='))
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("no `{name}=`")))
        };
        let seq = field("seq")?
            .parse::<u64>()
            .map_err(|_| bad("`seq` is not a number"))?;
        let hash = field("hash")?;
        let time = field("time")?;
        if hash.len() != 64
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("`hash` is not 64 lower-case hex digits"));
        }
        if words.next().is_some() {
            return Err(bad("more than seq, hash and time"));
        }
        Ok(Checkpoint { seq, hash, time })
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
    Ok(Checkpoint::of(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let checkpoint = Checkpoint::of(&Head {
            seq: 42,
            hash: [0xab; 32],
        });
        let line = checkpoint.to_string();
        assert!(line.starts_with("optout-checkpoint v1 seq=42 hash=abab"));
        assert_eq!(line.parse::<Checkpoint>(), Ok(checkpoint.clone()));
        assert_eq!(
            format!("{line}\n").parse::<Checkpoint>(),
            Ok(checkpoint.clone())
        );
        let json = serde_json::to_string(&checkpoint).unwrap();
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&json).unwrap(),
            checkpoint
        );
    }

    #[test]
    fn a_changed_line_is_refused_with_what_is_wrong() {
        let hash = "0".repeat(64);
        for (line, why) in [
            (
                "optout-checkpoint v2 seq=1".to_owned(),
                "not an `optout-checkpoint v1` line",
            ),
            (
                format!("optout-checkpoint v1 seq=x hash={hash} time=t"),
                "`seq` is not a number",
            ),
            (
                "optout-checkpoint v1 seq=1 hash=AB time=t".to_owned(),
                "`hash` is not 64 lower-case hex digits",
            ),
            (
                format!("optout-checkpoint v1 seq=1 hash={hash}"),
                "no `time=`",
            ),
            (
                format!("optout-checkpoint v1 seq=1 hash={hash} time=t x"),
                "more than seq, hash and time",
            ),
        ] {
            assert_eq!(
                line.parse::<Checkpoint>(),
                Err(NotACheckpoint(why.into())),
                "{line}"
            );
        }
    }
}
