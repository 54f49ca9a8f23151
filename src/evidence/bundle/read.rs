//! Reading and verifying a bundle without the store. A bundle is hostile input: it is read
//! as a tar archive without extensions (no long names, links or PAX headers, which optout
//! never writes), its entries indexed by name (the data stays on disk and is read where it
//! lies), records streamed line by line, snapshots hashed as they are read. Memory is
//! bounded by the number of entries, not their size.

use super::{BundleError, Checkpoint, FORMAT, ROOT, VERIFIER, VERSION};
use crate::evidence::verify::{Broken, VerifyError, verify_export_with};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// At most this many entries in a bundle (its index is held in memory).
pub const MAX_ENTRIES: usize = 10_000_000;

/// At most this many bytes in `manifest.json`, `checkpoint.txt` or `verify_bundle.py`.
const MAX_SMALL: u64 = 1 << 20;

/// Where an entry's data lies in the file.
#[derive(Clone, Copy, Debug)]
struct Part {
    pos: u64,
    size: u64,
}

/// An opened bundle: its entries, by name under [`ROOT`].
pub struct BundleFile {
    path: PathBuf,
    /// For snapshots and small files (seeked for each read; the records stream opens its
    /// own).
    file: File,
    entries: BTreeMap<String, Part>,
}

fn broken(what: String) -> BundleError {
    BundleError::Broken(Broken::Bundle(what))
}

impl BundleFile {
    /// Opens `path` and indexes its entries. A file that cannot be opened is an I/O error;
    /// one that is not a bundle's tar archive is [`Broken::Bundle`].
    pub fn open(path: &Path) -> Result<BundleFile, BundleError> {
        let io = |source| BundleError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.is_dir() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "a directory, not a bundle file",
            )));
        }
        let mut archive = tar::Archive::new(File::open(path).map_err(io)?);
        let not_tar = |e: std::io::Error| broken(format!("not a readable tar archive ({e})"));
        let mut entries = BTreeMap::new();
        for entry in archive.entries_with_seek().map_err(not_tar)?.raw(true) {
            let entry = entry.map_err(not_tar)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() && (name == ROOT || name == format!("{ROOT}snapshots/")) {
                continue;
            }
            if !kind.is_file() {
                return Err(broken(format!(
                    "{name:?} is not a plain file (a link, device or tar extension)"
                )));
            }
            let Some(short) = name.strip_prefix(ROOT) else {
                return Err(broken(format!("{name:?} is outside {ROOT}")));
            };
            let part = Part {
                pos: entry.raw_file_position(),
                size: entry.size(),
            };
            if entries.insert(short.to_owned(), part).is_some() {
                return Err(broken(format!("two files named {name:?}")));
            }
            if entries.len() > MAX_ENTRIES {
                return Err(broken(format!("more than {MAX_ENTRIES} files")));
            }
        }
        Ok(BundleFile {
            path: path.to_owned(),
            file,
            entries,
        })
    }

    fn part(&self, name: &str) -> Result<Part, BundleError> {
        self.entries
            .get(name)
            .copied()
            .ok_or_else(|| broken(format!("no {ROOT}{name} in the bundle")))
    }

    fn io(&self, source: std::io::Error) -> BundleError {
        BundleError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads a whole entry of at most `max` bytes.
    fn read(&self, name: &str, part: Part, max: u64) -> Result<Vec<u8>, BundleError> {
        if part.size > max {
            return Err(broken(format!("{ROOT}{name} is larger than {max} bytes")));
        }
        let mut file = &self.file;
        file.seek(SeekFrom::Start(part.pos))
            .map_err(|e| self.io(e))?;
        let mut bytes = Vec::with_capacity(part.size as usize);
        file.take(part.size)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io(e))?;
        if (bytes.len() as u64) < part.size {
            return Err(broken(format!("{ROOT}{name} is cut short (the file ends)")));
        }
        Ok(bytes)
    }

    fn text(&self, name: &str) -> Result<String, BundleError> {
        let bytes = self.read(name, self.part(name)?, MAX_SMALL)?;
        String::from_utf8(bytes).map_err(|_| broken(format!("{ROOT}{name} is not UTF-8")))
    }

    /// The checkpoint the bundle carries.
    pub fn checkpoint(&self) -> Result<Checkpoint, BundleError> {
        Ok(Checkpoint::parse(&self.text("checkpoint.txt")?)?)
    }

    /// The records, as the lines of `records.jsonl`.
    pub fn records(&self) -> Result<impl BufRead + use<>, BundleError> {
        let part = self.part("records.jsonl")?;
        let mut file = File::open(&self.path).map_err(|e| self.io(e))?;
        file.seek(SeekFrom::Start(part.pos))
            .map_err(|e| self.io(e))?;
        Ok(BufReader::with_capacity(1 << 16, file.take(part.size)))
    }

    /// The snapshot named `sha256`, if the bundle has it and it is at most `max` bytes
    /// (`Ok(None)` when missing; an error when larger).
    pub fn snapshot(&self, sha256: &str, max: u64) -> Result<Option<Vec<u8>>, BundleError> {
        let name = format!("snapshots/{sha256}");
        match self.entries.get(&name) {
            Some(&part) => self.read(&name, part, max).map(Some),
            None => Ok(None),
        }
    }

    /// The SHA-256 of an entry's bytes, read in pieces.
    fn digest(&self, name: &str, part: Part) -> Result<String, BundleError> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(part.pos))
            .map_err(|e| self.io(e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut left = part.size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut buf[..want]).map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(broken(format!("{ROOT}{name} is cut short (the file ends)")));
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(hex::encode(hasher.finalize()))
    }
}

/// Whether the bundle holds the checkpoint's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    /// Its last record is the checkpoint's, with the checkpoint's hash.
    Yes,
    /// Its records end before the checkpoint's: the checkpoint is not tied to them.
    No,
}

/// An intact bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleVerified {
    /// Records checked.
    pub records: u64,
    /// The first and last records' sequence numbers (none for an empty bundle).
    pub range: Option<(u64, u64)>,
    /// Every record from 1 to the checkpoint's, without gaps.
    pub complete: bool,
    /// Snapshots checked.
    pub snapshots: u64,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Whether the bundle holds its record.
    pub reached: Reached,
    /// `verify_bundle.py` is the verifier this optout writes (if not, it is not evidence,
    /// but whoever runs it should use a copy they trust).
    pub verifier_matches: bool,
}

/// What a record walk gathers.
#[derive(Default)]
struct Walk {
    count: u64,
    range: Option<(u64, u64)>,
    last_hash: [u8; 32],
    gapless: bool,
    /// Each snapshot named, with the first record naming it.
    named: BTreeMap<String, u64>,
}

/// Verifies `bundle`: its files, manifest, every record's hash and the links between
/// consecutive records, every snapshot against its name and that each named one is there
/// (and no other), and the checkpoint against its record when the bundle holds it. Returns
/// the first thing found wrong as [`BundleError::Broken`].
pub fn verify_bundle(bundle: &BundleFile) -> Result<BundleVerified, BundleError> {
    let names: Vec<String> = bundle.entries.keys().cloned().collect();
    for name in &names {
        let known = [
            "README.txt",
            "manifest.json",
            "checkpoint.txt",
            "records.jsonl",
        ]
        .contains(&name.as_str())
            || name == "verify_bundle.py"
            || name.strip_prefix("snapshots/").is_some_and(is_sha256);
        if !known {
            return Err(broken(format!("unexpected file {ROOT}{name}")));
        }
    }
    let manifest: Value = serde_json::from_str(&bundle.text("manifest.json")?)
        .map_err(|e| broken(format!("manifest.json is not JSON ({e})")))?;
    if manifest.get("format").and_then(Value::as_str) != Some(FORMAT)
        || manifest.get("version").and_then(Value::as_u64) != Some(VERSION)
    {
        return Err(broken(format!(
            "manifest.json does not name format {FORMAT:?} version {VERSION}"
        )));
    }
    let checkpoint = bundle.checkpoint()?;
    let walk = walk_records(bundle, &checkpoint)?;
    let mut snapshots = 0u64;
    let mut unnamed = BTreeSet::new();
    for name in &names {
        let Some(sha) = name.strip_prefix("snapshots/") else {
            continue;
        };
        let part = bundle.part(name)?;
        if bundle.digest(name, part)? != sha {
            return Err(Broken::Snapshot {
                sha256: sha.to_owned(),
                what: "its bytes no longer match their name (the snapshot was changed)".into(),
            }
            .into());
        }
        if !walk.named.contains_key(sha) {
            unnamed.insert(sha.to_owned());
        }
        snapshots += 1;
    }
    for (sha, seq) in &walk.named {
        if !bundle.entries.contains_key(&format!("snapshots/{sha}")) {
            return Err(Broken::Snapshot {
                sha256: sha.clone(),
                what: format!("named by record {seq} but missing from the bundle"),
            }
            .into());
        }
    }
    if let Some(sha) = unnamed.into_iter().next() {
        return Err(Broken::Snapshot {
            sha256: sha,
            what: "in the bundle but named by no record (an extra file)".into(),
        }
        .into());
    }
    let reached = match walk.range {
        None if checkpoint.seq == 0 => Reached::Yes,
        Some((_, last)) if last == checkpoint.seq => {
            if hex::encode(walk.last_hash) != checkpoint.hash {
                return Err(Broken::Checkpoint(format!(
                    "its hash is not record {last}'s (the checkpoint or the record was changed)"
                ))
                .into());
            }
            Reached::Yes
        }
        _ => Reached::No,
    };
    let counted = |key: &str| manifest.get(key).and_then(Value::as_u64);
    if counted("records") != Some(walk.count) {
        return Err(broken(format!(
            "manifest.json does not say {} records (the manifest was changed, or records removed)",
            walk.count
        )));
    }
    if counted("snapshots") != Some(snapshots) {
        return Err(broken(format!(
            "manifest.json does not say {snapshots} snapshots (the manifest was changed)"
        )));
    }
    if manifest.get("checkpoint").and_then(Value::as_str) != Some(&checkpoint.to_string()) {
        return Err(Broken::Checkpoint(
            "checkpoint.txt is not the checkpoint manifest.json names (one of them was changed)"
                .into(),
        )
        .into());
    }
    let complete =
        walk.gapless && walk.range.is_none_or(|(first, _)| first == 1) && reached == Reached::Yes;
    let verifier = bundle
        .part("verify_bundle.py")
        .and_then(|p| bundle.read("verify_bundle.py", p, MAX_SMALL));
    Ok(BundleVerified {
        records: walk.count,
        range: walk.range,
        complete,
        snapshots,
        checkpoint,
        reached,
        verifier_matches: verifier.is_ok_and(|v| v == VERIFIER.as_bytes()),
    })
}

/// Walks `records.jsonl`: hashes, links between consecutive records, nothing past the
/// checkpoint, and the manifest's record count.
fn walk_records(bundle: &BundleFile, checkpoint: &Checkpoint) -> Result<Walk, BundleError> {
    let mut walk = Walk {
        gapless: true,
        ..Walk::default()
    };
    let reader = bundle.records()?;
    let verified = verify_export_with(reader, true, |seq, hash, snapshots| {
        if seq > checkpoint.seq {
            return Err(Broken::Checkpoint(format!(
                "record {seq} is past the checkpoint's record {} (records were added, or the checkpoint was changed)",
                checkpoint.seq
            )));
        }
        walk.range = Some(match walk.range {
            None => (seq, seq),
            Some((first, last)) => {
                walk.gapless &= seq == last + 1;
                (first, seq)
            }
        });
        walk.last_hash = *hash;
        for sha in snapshots {
            walk.named.entry(sha).or_insert(seq);
        }
        Ok(())
    })
    .map_err(|e| match e {
        VerifyError::Broken(b) => BundleError::Broken(b),
        VerifyError::Io(source) => BundleError::Io {
            path: bundle.path.clone(),
            source,
        },
        VerifyError::Store(e) => BundleError::Store(e),
    })?;
    walk.count = verified.records;
    Ok(walk)
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
