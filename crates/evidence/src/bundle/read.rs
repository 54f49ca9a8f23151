//! Reading and verifying a bundle without the store. A bundle is hostile input: it is read
//! as a tar archive without extensions (no long names, links or PAX headers, which optout
//! never writes), its entries indexed by name (the data stays on disk and is read where it
//! lies), records streamed line by line, snapshots hashed as they are read. Memory is
//! bounded by the number of entries, not their size.

use super::{BundleError, Checkpoint, README, ROOT, VERIFIER, manifest};
use crate::verify::{Broken, VerifyError, verify_bundle_records};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// At most this many entries in a bundle (its index is held in memory).
pub const MAX_ENTRIES: usize = 10_000_000;

/// At most this many bytes in `README.txt`, `manifest.json`, `checkpoint.txt` or
/// `verify_bundle.py`.
pub const MAX_SMALL: u64 = 1 << 20;

/// A tar block.
const BLOCK: u64 = 512;

/// Every file a bundle has besides its snapshots, in the order they are checked.
const FIXED: [&str; 5] = [
    "README.txt",
    "manifest.json",
    "checkpoint.txt",
    "records.jsonl",
    "verify_bundle.py",
];

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
    /// The file's length, and where its last entry's data ends (padded to a block).
    len: u64,
    end: u64,
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
        let mut end = 0;
        for entry in archive.entries_with_seek().map_err(not_tar)?.raw(true) {
            let entry = entry.map_err(not_tar)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if entries.len() >= MAX_ENTRIES {
                return Err(broken(format!("more than {MAX_ENTRIES} files")));
            }
            if !entry.header().entry_type().is_file() {
                return Err(broken(format!(
                    "{name:?} is not a plain file (a link, device or tar extension)"
                )));
            }
            if entry.header().as_ustar().is_none() {
                return Err(broken(format!("{name:?} is not a ustar header")));
            }
            let Some(short) = name.strip_prefix(ROOT) else {
                return Err(broken(format!("{name:?} is outside {ROOT}")));
            };
            let part = Part {
                pos: entry.raw_file_position(),
                size: entry.size(),
            };
            end = part.pos.saturating_add(part.size.next_multiple_of(BLOCK));
            if entries.insert(short.to_owned(), part).is_some() {
                return Err(broken(format!("two files named {name:?}")));
            }
        }
        Ok(BundleFile {
            path: path.to_owned(),
            len: file.metadata().map_err(io)?.len(),
            file,
            entries,
            end,
        })
    }

    /// The archive's form past what the tar reader checks: each entry's data padded with
    /// zero bytes to a block, and zero blocks, at least two, to the end of the file (so
    /// that no byte of the file goes unchecked).
    fn check_form(&self) -> Result<(), BundleError> {
        for (name, part) in &self.entries {
            if part.pos.saturating_add(part.size) > self.len {
                return Err(broken(format!("{ROOT}{name} is cut short (the file ends)")));
            }
            let padding = part.size.next_multiple_of(BLOCK) - part.size;
            self.zeros(
                part.pos + part.size,
                padding,
                &format!("the padding after {ROOT}{name}"),
            )?;
        }
        let tail = self.len.saturating_sub(self.end);
        if tail < 2 * BLOCK || !tail.is_multiple_of(BLOCK) {
            return Err(broken(
                "the archive does not end with zero blocks (it was cut or appended to)".into(),
            ));
        }
        self.zeros(self.end, tail, "the end of the archive")
    }

    /// Whether the `len` bytes from `start` are all zero.
    fn zeros(&self, start: u64, len: u64, what: &str) -> Result<(), BundleError> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(start)).map_err(|e| self.io(e))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut left = len;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut buf[..want]).map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(broken(format!("{what} is cut short (the file ends)")));
            }
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(broken(format!("{what} is not all zero bytes")));
            }
            left -= n as u64;
        }
        Ok(())
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

    fn small(&self, name: &str) -> Result<Vec<u8>, BundleError> {
        self.read(name, self.part(name)?, MAX_SMALL)
    }

    /// A small file as UTF-8 text with LF line endings only.
    fn text(&self, name: &str) -> Result<String, BundleError> {
        let text = String::from_utf8(self.small(name)?)
            .map_err(|_| broken(format!("{ROOT}{name} is not UTF-8")))?;
        if text.contains('\r') {
            return Err(broken(format!(
                "{ROOT}{name} holds a CR (line endings are LF only)"
            )));
        }
        Ok(text)
    }

    /// The checkpoint the bundle carries: one line, `optout-checkpoint v1 seq=N hash=H
    /// time=T` and LF, `N` decimal without leading zeros, `H` 64 lower-case hex digits, `T`
    /// RFC 3339 UTC (`...Z`).
    pub fn checkpoint(&self) -> Result<Checkpoint, BundleError> {
        static LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(concat!(
                r"^optout-checkpoint v1 seq=(0|[1-9][0-9]*) hash=[0-9a-f]{64} ",
                r"time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z\n$"
            ))
            .expect("a valid pattern")
        });
        let text = self.text("checkpoint.txt")?;
        if !LINE.is_match(&text) {
            return Err(Broken::Checkpoint(
                "not an `optout-checkpoint v1` line (the checkpoint was changed)".into(),
            )
            .into());
        }
        Ok(Checkpoint::parse(&text)?)
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

/// Verifies `bundle` against the specification (`docs/evidence.md`, "The auditor's
/// bundle"), in the order `verify_bundle.py` checks it, so that both name the same first
/// fault: its files and the archive's form; `README.txt` and `verify_bundle.py` against the
/// ones this build writes; the manifest; the checkpoint; every record's hash, the links
/// between consecutive records and, unfiltered, that none is missing; every snapshot
/// against its name, that each named one is there and no other; the checkpoint against its
/// record; the manifest against what was found. Returns the first thing found wrong as
/// [`BundleError::Broken`].
pub fn verify_bundle(bundle: &BundleFile) -> Result<BundleVerified, BundleError> {
    for name in bundle.entries.keys() {
        if !FIXED.contains(&name.as_str())
            && !name.strip_prefix("snapshots/").is_some_and(is_sha256)
        {
            return Err(broken(format!("unexpected file {ROOT}{name}")));
        }
    }
    for name in FIXED {
        bundle.part(name)?;
    }
    bundle.check_form()?;
    if Sha256::digest(bundle.small("README.txt")?)[..] != Sha256::digest(README)[..] {
        return Err(broken(
            "README.txt is not the README optout writes (it was changed)".into(),
        ));
    }
    if bundle.small("verify_bundle.py")? != VERIFIER.as_bytes() {
        return Err(broken(
            "verify_bundle.py is not this verifier (it was replaced or changed; run a copy you trust)"
                .into(),
        ));
    }
    let manifest = manifest::parse(&bundle.text("manifest.json")?)?;
    let checkpoint = bundle.checkpoint()?;
    let walk = walk_records(bundle, &checkpoint, !manifest.filtered)?;
    let snapshots = check_snapshots(bundle, &walk.named)?;
    let last = walk.range.map(|(_, last)| last);
    let reached = if last.unwrap_or(0) == checkpoint.seq {
        Reached::Yes
    } else {
        Reached::No
    };
    if let Some(last) = last
        && last == checkpoint.seq
        && hex::encode(walk.last_hash) != checkpoint.hash
    {
        return Err(Broken::Checkpoint(format!(
            "its hash is not record {last}'s (the checkpoint or the record was changed)"
        ))
        .into());
    }
    if !manifest.filtered && reached == Reached::No {
        return Err(missing(last.unwrap_or(0) + 1, checkpoint.seq).into());
    }
    if manifest.records != walk.count {
        return Err(broken(format!(
            "manifest.json does not say {} records (the manifest was changed, or records removed)",
            walk.count
        )));
    }
    if (manifest.first_seq, manifest.last_seq) != (walk.range.map(|(first, _)| first), last) {
        return Err(broken(
            "manifest.json `first_seq` and `last_seq` are not the records' first and last".into(),
        ));
    }
    if manifest.snapshots != snapshots {
        return Err(broken(format!(
            "manifest.json does not say {snapshots} snapshots (the manifest was changed)"
        )));
    }
    if manifest.checkpoint != checkpoint.to_string() {
        return Err(Broken::Checkpoint(
            "checkpoint.txt is not the checkpoint manifest.json names (one of them was changed)"
                .into(),
        )
        .into());
    }
    let complete =
        walk.gapless && walk.range.is_none_or(|(first, _)| first == 1) && reached == Reached::Yes;
    Ok(BundleVerified {
        records: walk.count,
        range: walk.range,
        complete,
        snapshots,
        checkpoint,
        reached,
    })
}

/// Records `from..=to` are not in a bundle that says it has every one (`filter` null).
fn missing(from: u64, to: u64) -> Broken {
    Broken::Bundle(format!(
        "records {from}..{to} are missing from an unfiltered bundle (manifest.json `filter` is null)"
    ))
}

/// Every snapshot against its name, then that each one named is there, then that no other
/// is; returns how many there are.
fn check_snapshots(bundle: &BundleFile, named: &BTreeMap<String, u64>) -> Result<u64, BundleError> {
    let mut held = 0u64;
    for (name, &part) in &bundle.entries {
        let Some(sha) = name.strip_prefix("snapshots/") else {
            continue;
        };
        if bundle.digest(name, part)? != sha {
            return Err(Broken::Snapshot {
                sha256: sha.to_owned(),
                what: "its bytes no longer match their name (the snapshot was changed)".into(),
            }
            .into());
        }
        held += 1;
    }
    for (sha, seq) in named {
        if !bundle.entries.contains_key(&format!("snapshots/{sha}")) {
            return Err(Broken::Snapshot {
                sha256: sha.clone(),
                what: format!("named by record {seq} but missing from the bundle"),
            }
            .into());
        }
    }
    let unnamed = bundle
        .entries
        .keys()
        .filter_map(|name| name.strip_prefix("snapshots/"))
        .find(|sha| !named.contains_key(*sha));
    if let Some(sha) = unnamed {
        return Err(Broken::Snapshot {
            sha256: sha.to_owned(),
            what: "in the bundle but named by no record (an extra file)".into(),
        }
        .into());
    }
    Ok(held)
}

/// Walks `records.jsonl`: hashes, links between consecutive records, nothing past the
/// checkpoint and, when `unfiltered`, no record missing from 1 on.
fn walk_records(
    bundle: &BundleFile,
    checkpoint: &Checkpoint,
    unfiltered: bool,
) -> Result<Walk, BundleError> {
    let mut walk = Walk {
        gapless: true,
        ..Walk::default()
    };
    let reader = bundle.records()?;
    let verified = verify_bundle_records(reader, |seq, hash, snapshots| {
        if seq > checkpoint.seq {
            return Err(Broken::Checkpoint(format!(
                "record {seq} is past the checkpoint's record {} (records were added, or the checkpoint was changed)",
                checkpoint.seq
            )));
        }
        let expected = walk.range.map_or(1, |(_, last)| last + 1);
        if unfiltered && seq != expected {
            return Err(missing(expected, seq - 1));
        }
        walk.gapless &= walk.range.is_none() || seq == expected;
        walk.range = Some(walk.range.map_or((seq, seq), |(first, _)| (first, seq)));
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
