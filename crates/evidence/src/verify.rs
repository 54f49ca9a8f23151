//! Verifying the chain: in the store, or in an exported JSONL file without the store.

use super::backend::{Entry, ReadError, Store, StoreError};
use super::canonical;
use super::log::Head;
use super::record::{chain_hash, sha256_hex};
use serde_json::Value;
use std::io::{BufRead, Read};

/// An intact log or export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// Snapshots checked.
    pub snapshots: u64,
    /// The last record's sequence number and hash (hex).
    pub head: (u64, String),
}

/// The first thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    /// A record's content no longer matches its hash, or its link to the previous record.
    #[error("record {seq}: {what}")]
    Record {
        /// The first bad record (as it stands in the log, by position).
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// The head does not match the last record (records removed from the end).
    #[error("head: {0}")]
    Head(String),
    /// A snapshot's bytes no longer match their hash, or a record's snapshot is missing.
    #[error("snapshot {sha256}: {what}")]
    Snapshot {
        /// The snapshot's name (hex SHA-256).
        sha256: String,
        /// What is wrong.
        what: String,
    },
    /// A bundle's checkpoint is unreadable, or does not match the record it names.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A bundle is not a readable bundle: not a tar archive, a file missing or unexpected.
    #[error("bundle: {0}")]
    Bundle(String),
}

/// Why verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log is not intact.
    #[error(transparent)]
    Broken(#[from] Broken),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The export could not be read.
    #[error("cannot read export: {0}")]
    Io(#[from] std::io::Error),
}

/// A stored or exported record line, parsed: its fields less `hash` and `prev_hash`, which
/// are taken out.
struct Line {
    value: Value,
    seq: u64,
    hash: [u8; 32],
    prev_hash: [u8; 32],
}

/// Parses a record line (`position`: the record it is taken for, to name it if bad).
fn parse_line(bytes: &[u8], position: u64) -> Result<Line, Broken> {
    let bad = |what: String| Broken::Record {
        seq: position,
        what,
    };
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let map = value
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let take_hex = |map: &mut serde_json::Map<String, Value>, key: &str| {
        map.remove(key)
            .and_then(|v| v.as_str().and_then(|s| hex::decode(s).ok()))
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| bad(format!("missing or malformed `{key}`")))
    };
    let hash = take_hex(map, "hash")?;
    let prev_hash = take_hex(map, "prev_hash")?;
    let seq = map
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("missing `seq`".into()))?;
    Ok(Line {
        value,
        seq,
        hash,
        prev_hash,
    })
}

impl Line {
    /// Checks the line's link to `prev` (if given), that `bytes` are exactly its canonical
    /// form, and its hash. Returns the snapshots it names.
    fn check(
        &self,
        bytes: &[u8],
        position: u64,
        prev: Option<&[u8; 32]>,
    ) -> Result<Vec<String>, Broken> {
        let bad = |what: String| Broken::Record {
            seq: position,
            what,
        };
        if let Some(prev) = prev
            && self.prev_hash != *prev
        {
            return Err(bad(
                "prev_hash does not match the previous record's hash (a record was removed, inserted or reordered)"
                    .into(),
            ));
        }
        let canonical = canonical::to_vec(&self.value).map_err(|e| bad(e.to_string()))?;
        // The stored bytes must be exactly the canonical form: no duplicate keys, no padding,
        // nothing that reads differently to another JSON parser.
        let (_, slots) = canonical::to_vec_with_slots(
            self.value
                .as_object()
                .ok_or_else(|| bad("not a JSON object".into()))?,
            &["hash", "prev_hash"],
        )
        .map_err(|e| bad(e.to_string()))?;
        let expected = canonical::splice(
            &canonical,
            &slots,
            &[
                ("hash", &hex::encode(self.hash)),
                ("prev_hash", &hex::encode(self.prev_hash)),
            ],
        );
        if expected != bytes {
            return Err(bad("not in canonical form (the record was edited)".into()));
        }
        if chain_hash(&self.prev_hash, &canonical) != self.hash {
            return Err(bad(
                "content does not match its hash (the record was changed)".into(),
            ));
        }
        Ok(self
            .value
            .get("sources")
            .and_then(Value::as_array)
            .map(|sources| {
                sources
                    .iter()
                    .filter_map(|s| s.get("sha256").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Checks one exported record line against the previous hash. Returns its seq, hash and the
/// snapshots it names.
fn check_line(
    bytes: &[u8],
    position: u64,
    expect_seq: Option<u64>,
    prev: Option<&[u8; 32]>,
) -> Result<(u64, [u8; 32], Vec<String>), Broken> {
    let line = parse_line(bytes, position)?;
    if let Some(expect) = expect_seq
        && line.seq != expect
    {
        return Err(Broken::Record {
            seq: position,
            what: format!(
                "sequence number {} where {expect} was expected (a record was removed or reordered)",
                line.seq
            ),
        });
    }
    let snapshots = line.check(bytes, position, prev)?;
    Ok((line.seq, line.hash, snapshots))
}

/// Checks the stored record `entry`, taken for record `position`, against the previous
/// hash: that it is there at all (not an empty line of a damaged block), that it is record
/// `position`, that its block's key is its first record's sequence number, then its link,
/// form and hash. Returns its hash and the snapshots it names.
fn check_stored(
    entry: &Entry,
    position: u64,
    prev: &[u8; 32],
) -> Result<([u8; 32], Vec<String>), Broken> {
    let bad = |what: String| Broken::Record {
        seq: position,
        what,
    };
    let (block, index) = (entry.block, entry.index);
    if entry.bytes().is_empty() {
        return Err(bad(if index == 0 && entry.last {
            format!("the block at key {block} is empty (the block was damaged)")
        } else {
            format!(
                "line {} of the block at key {block} is empty (the block was cut or damaged)",
                index + 1
            )
        }));
    }
    let line = parse_line(entry.bytes(), position)?;
    if line.seq != position {
        let found = line.seq;
        let place = if index == 0 {
            format!("the block at key {block} begins with record {found}")
        } else {
            format!(
                "record {found} is line {} of the block at key {block}",
                index + 1
            )
        };
        return Err(bad(if found > position {
            format!("record {position} is missing ({place}; records were removed or reordered)")
        } else {
            format!(
                "record {found} stands where record {position} should ({place}; records were reordered or copied)"
            )
        }));
    }
    if index == 0 && block != position {
        return Err(bad(format!(
            "the block at key {block} begins with record {position} (the block's key was changed)"
        )));
    }
    let snapshots = line.check(entry.bytes(), position, Some(prev))?;
    Ok((line.hash, snapshots))
}

/// Checks the last stored record, `entry`, against the head, as a writer does before
/// appending: it stands at the head's place, has its `seq` and hash, and its content matches
/// its hash (its link to the record before is left to a full verification).
pub(super) fn check_last(entry: &Entry, head: &Head) -> Result<(), Broken> {
    let place = entry.place();
    if place != head.seq {
        return Err(Broken::Head(format!(
            "the head says record {} but the last block (key {}) ends at record {place}",
            head.seq, entry.block
        )));
    }
    let line = parse_line(entry.bytes(), place)?;
    if line.seq != head.seq || line.hash != head.hash {
        return Err(Broken::Head(format!(
            "the head is not the last record (record {}, line {} of the block at key {})",
            line.seq,
            entry.index + 1,
            entry.block
        )));
    }
    line.check(entry.bytes(), place, None)?;
    Ok(())
}

/// Walks the whole log of `store`: every record's hash and link, the sequence without
/// gaps, every block's key against its first record, the head, the acknowledged head, and
/// every snapshot's bytes.
pub fn verify_store(store: &Store) -> Result<Verified, VerifyError> {
    verify_until(store, None)
}

/// [`verify_store`] on a store that a running log appends to (`optout serve`): only the
/// records up to `head` (read from the store with [`Head::read`], after a sync) are walked,
/// and the head compared is `head`; records appended since are left for the next walk. An
/// acknowledged head newer than `head` is not held against it.
pub fn verify_store_until(store: &Store, head: &Head) -> Result<Verified, VerifyError> {
    verify_until(store, Some(head))
}

fn verify_until(store: &Store, until: Option<&Head>) -> Result<Verified, VerifyError> {
    let mut prev = [0u8; 32];
    let mut count = 0u64;
    let mut last_block = None;
    let acked = store.backend().acknowledged();
    let mut acked_found = None;
    let mut named: std::collections::HashSet<String> = std::collections::HashSet::new();
    for entry in store.backend().records() {
        let position = count + 1;
        if until.is_some_and(|h| position > h.seq) {
            break;
        }
        let entry = entry.map_err(|e| match e {
            // The store could not read the next block: name where the walk stopped.
            ReadError::Store(StoreError::Corrupt { message, .. }) => Broken::Record {
                seq: position,
                what: format!(
                    "unreadable: the store is damaged in the block after {} ({message})",
                    last_block.map_or_else(|| "the start".to_owned(), |k| format!("key {k}"))
                ),
            }
            .into(),
            ReadError::Store(e) => VerifyError::Store(e),
            ReadError::Key(key) => Broken::Record {
                seq: position,
                what: format!("unexpected key {key} in the records tree"),
            }
            .into(),
        })?;
        last_block = Some(entry.block);
        let (hash, snapshots) = check_stored(&entry, position, &prev)?;
        named.extend(snapshots);
        prev = hash;
        count = position;
        if acked.as_ref().is_some_and(|a| a.seq == position) {
            acked_found = Some(hash);
        }
    }
    let head = match until {
        Some(head) => head.clone(),
        None => Head::read(store)?,
    };
    let acked = acked.filter(|a| until.is_none() || a.seq <= head.seq);
    if head.seq > count {
        return Err(Broken::Head(format!(
            "the head says record {} but the log ends at record {count} (records were removed from the end)",
            head.seq
        ))
        .into());
    }
    if head.seq < count {
        return Err(Broken::Head(format!(
            "the head says record {} but the log goes on to record {count} (records were added after it)",
            head.seq
        ))
        .into());
    }
    if count > 0 && head.hash != prev {
        return Err(Broken::Head(format!(
            "the head's hash is not record {count}'s (the head or the last record was rewritten)"
        ))
        .into());
    }
    if let Some(acked) = acked.filter(|a| a.seq > 0) {
        if acked.seq > count {
            return Err(Broken::Head(super::log::lost(count, acked.seq)).into());
        }
        if acked_found != Some(acked.hash) {
            return Err(Broken::Record {
                seq: acked.seq,
                what: "not the record that was acknowledged (the log was rewritten)".into(),
            }
            .into());
        }
    }
    let mut snapshots = 0u64;
    for item in store.backend().snapshots() {
        let (key, bytes) = item?;
        let name = hex::encode(&key);
        if sha256_hex(&bytes) != name {
            return Err(Broken::Snapshot {
                sha256: name,
                what: "its bytes no longer match their hash (the snapshot was changed)".into(),
            }
            .into());
        }
        named.remove(&name);
        snapshots += 1;
    }
    if let Some(missing) = named.into_iter().next() {
        return Err(Broken::Snapshot {
            sha256: missing,
            what: "named by a record but missing from the store".into(),
        }
        .into());
    }
    Ok(Verified {
        records: count,
        snapshots,
        head: (count, hex::encode(prev)),
    })
}

/// Verifies an exported JSONL file without the store: every line's hash, and its link to the
/// line before (`prev_hash` equal to that line's `hash`, sequence numbers consecutive), so a
/// changed, removed, inserted or reordered line shows. A record 1 must link to the zero hash;
/// an export that starts later takes its first `prev_hash` as given.
///
/// With `allow_gaps` (for exports made with filters), lines may skip sequence numbers; only
/// lines with consecutive numbers are checked for their link, so a removed line can then
/// only be told from a filtered one by comparing with the store or a checkpoint.
pub fn verify_export(reader: impl BufRead, allow_gaps: bool) -> Result<Verified, VerifyError> {
    verify_export_with(reader, allow_gaps, |_, _, _| Ok(()))
}

/// The longest record line an export or bundle may hold: optout writes records of a few
/// KiB, and a line without an end (a damaged or hostile file) must not be gathered into
/// memory whole.
pub const MAX_RECORD_LINE: usize = 64 << 20;

/// [`verify_export`], calling `each` with every record's sequence number, hash and the
/// snapshots it names once the record checks (a bundle verifies its snapshots and
/// checkpoint against them); an error from `each` stops the walk.
pub fn verify_export_with(
    reader: impl BufRead,
    allow_gaps: bool,
    each: impl FnMut(u64, &[u8; 32], Vec<String>) -> Result<(), Broken>,
) -> Result<Verified, VerifyError> {
    walk_lines(reader, allow_gaps, false, each)
}

/// A bundle's `records.jsonl` (`docs/evidence.md`, "The auditor's bundle"): as
/// [`verify_export_with`] with gaps allowed, but every line must end in LF alone, hold no
/// CR, not be empty and be UTF-8 ([`Broken::Bundle`] naming the line otherwise): the
/// format has one spelling, so that every verifier reads the same records.
pub fn verify_bundle_records(
    reader: impl BufRead,
    each: impl FnMut(u64, &[u8; 32], Vec<String>) -> Result<(), Broken>,
) -> Result<Verified, VerifyError> {
    walk_lines(reader, true, true, each)
}

fn walk_lines(
    mut reader: impl BufRead,
    allow_gaps: bool,
    strict: bool,
    mut each: impl FnMut(u64, &[u8; 32], Vec<String>) -> Result<(), Broken>,
) -> Result<Verified, VerifyError> {
    let mut prev: Option<(u64, [u8; 32])> = None;
    let mut count = 0u64;
    loop {
        let line = if strict {
            strict_line(&mut reader, count + 1)?
        } else {
            next_line(&mut reader, count + 1)?
        };
        let Some(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        // Name a bad line by the record it should be: the next in sequence, or in a gappy
        // export, the sequence number it carries.
        let own_seq = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v.get("seq").and_then(Value::as_u64));
        let (seq, hash, snapshots) = match prev {
            None => {
                let name = own_seq.unwrap_or(count);
                let link = (own_seq == Some(1)).then_some(&[0u8; 32]);
                check_line(line.as_bytes(), name, own_seq.filter(|&s| s == 1), link)?
            }
            Some((prev_seq, _)) if allow_gaps && own_seq.is_some_and(|s| s > prev_seq + 1) => {
                check_line(line.as_bytes(), own_seq.unwrap_or(count), None, None)?
            }
            Some((prev_seq, prev_hash)) => check_line(
                line.as_bytes(),
                prev_seq + 1,
                Some(prev_seq + 1),
                Some(&prev_hash),
            )?,
        };
        if let Some((prev_seq, _)) = prev
            && seq <= prev_seq
        {
            return Err(Broken::Record {
                seq,
                what: format!("comes after record {prev_seq} (records were reordered)"),
            }
            .into());
        }
        each(seq, &hash, snapshots)?;
        prev = Some((seq, hash));
    }
    let head = prev.map_or((0, hex::encode([0u8; 32])), |(s, h)| (s, hex::encode(h)));
    Ok(Verified {
        records: count,
        snapshots: 0,
        head,
    })
}

/// The next line of `reader` without its `\n` (or `\r\n`), as [`BufRead::lines`] gives it,
/// but at most [`MAX_RECORD_LINE`] bytes long; `line` (counting from 1) names it if too long.
fn next_line(reader: &mut impl BufRead, line: u64) -> Result<Option<String>, VerifyError> {
    let mut buf = Vec::new();
    let room = MAX_RECORD_LINE as u64 + 1;
    if Read::take(&mut *reader, room).read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > MAX_RECORD_LINE {
        return Err(Broken::Record {
            seq: line,
            what: format!("line {line} is longer than {MAX_RECORD_LINE} bytes (not a record)"),
        }
        .into());
    }
    String::from_utf8(buf).map(Some).map_err(|_| {
        VerifyError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// The next line of a bundle's `records.jsonl` without its LF: `line` (counting from 1, the
/// same as the record count, as no line may be empty) names a line that does not end in LF,
/// is longer than [`MAX_RECORD_LINE`], holds a CR, is empty or is not UTF-8.
fn strict_line(reader: &mut impl BufRead, line: u64) -> Result<Option<String>, VerifyError> {
    let bad = |what: String| Broken::Bundle(format!("records.jsonl line {line} {what}"));
    let mut buf = Vec::new();
    let room = MAX_RECORD_LINE as u64 + 1;
    if Read::take(&mut *reader, room).read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.pop() != Some(b'\n') {
        return Err(bad(if buf.len() >= MAX_RECORD_LINE {
            format!("is longer than {MAX_RECORD_LINE} bytes")
        } else {
            "does not end in LF (the file was cut)".into()
        })
        .into());
    }
    if buf.contains(&b'\r') {
        return Err(bad("holds a CR (line endings are LF only)".into()).into());
    }
    if buf.is_empty() {
        return Err(bad("is empty".into()).into());
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| bad("is not UTF-8".into()).into())
}
