//! Writing a bundle from a store: verify the log, take its head as the checkpoint, then the
//! selected records (through a temporary file beside the output, so that memory stays
//! bounded whatever their number) and every snapshot they name.

use super::{BundleError, Checkpoint, FORMAT, ROOT, VERIFIER, VERSION};
use crate::backend::Store;
use crate::export::{self, Filter};
use crate::log::Head;
use crate::verify::{VerifyError, verify_store};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// What a bundle holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Records in it.
    pub records: u64,
    /// Snapshots in it.
    pub snapshots: u64,
    /// The checkpoint of the log it was made from.
    pub checkpoint: Checkpoint,
}

/// A file removed when dropped (the temporary records, a bundle left half written).
struct Scratch(Option<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Writes a bundle of the records of `store` that `filter` keeps to `out`. The log is
/// verified first (a damaged log gets no bundle, as it gets no checkpoint); `out` appears
/// only when complete (written under a temporary name beside it, then renamed).
pub fn write_bundle(store: &Store, filter: &Filter, out: &Path) -> Result<Written, BundleError> {
    verify_store(store).map_err(|e| match e {
        VerifyError::Broken(broken) => BundleError::LogBroken(broken),
        VerifyError::Store(e) => BundleError::Store(e),
        VerifyError::Io(source) => BundleError::Io {
            path: store.path().to_owned(),
            source,
        },
    })?;
    let head = Head::read(store)?;
    let checkpoint = Checkpoint::of(&head);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    let (records_path, partial_path) = scratch_names(out);
    let records_file = Scratch(Some(records_path.clone()));
    let mut records = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&records_path)
        .map_err(io(&records_path))?;
    let mut named = BTreeSet::new();
    let (mut first, mut last) = (None, 0);
    let count = {
        let mut writer = BufWriter::new(&mut records);
        let count = export::for_each(store, filter, |bytes, value| {
            writer.write_all(bytes)?;
            writer.write_all(b"\n")?;
            let seq = value.get("seq").and_then(Value::as_u64).unwrap_or(0);
            first.get_or_insert(seq);
            last = seq;
            for source in value
                .get("sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(sha) = source.get("sha256").and_then(Value::as_str) {
                    named.insert(sha.to_owned());
                }
            }
            Ok(())
        })?;
        writer.flush().map_err(io(&records_path))?;
        count
    };
    let manifest = json!({
        "format": FORMAT,
        "version": VERSION,
        "created": checkpoint.time,
        "optout": env!("CARGO_PKG_VERSION"),
        // `null` when nothing was filtered: the bundle then holds every record from 1 to
        // the checkpoint, and a verifier holds it to that.
        "filter": filtered(filter).then(|| json!({
            "since": filter.since,
            "until": filter.until,
            "host": filter.host,
            "verdict": filter.verdict,
        })),
        "records": count,
        "first_seq": first,
        "last_seq": (count > 0).then_some(last),
        "snapshots": named.len(),
        "checkpoint": checkpoint.to_string(),
    });
    let mut partial = Scratch(Some(partial_path.clone()));
    let file = File::create(&partial_path).map_err(io(&partial_path))?;
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut tar = Entries {
        builder: tar::Builder::new(BufWriter::new(file)),
        mtime,
        path: &partial_path,
    };
    tar.add("README.txt", README.as_bytes())?;
    let mut manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    manifest.push(b'\n');
    tar.add("manifest.json", &manifest[..])?;
    tar.add("checkpoint.txt", format!("{checkpoint}\n").as_bytes())?;
    let size = records.stream_position().map_err(io(&records_path))?;
    records.rewind().map_err(io(&records_path))?;
    tar.add_sized("records.jsonl", size, &mut records)?;
    for sha in &named {
        let key = hex::decode(sha).unwrap_or_default();
        // `verify_store` found every named snapshot, in this same private copy.
        let bytes = store.snapshot(&key)?.unwrap_or_default();
        tar.add(&format!("snapshots/{sha}"), &bytes[..])?;
    }
    tar.add("verify_bundle.py", VERIFIER.as_bytes())?;
    let mut writer = tar.builder.into_inner().map_err(io(&partial_path))?;
    writer.flush().map_err(io(&partial_path))?;
    let file = writer.into_inner().map_err(|e| BundleError::Io {
        path: partial_path.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io(&partial_path))?;
    std::fs::rename(&partial_path, out).map_err(io(out))?;
    partial.0 = None;
    drop(records_file);
    Ok(Written {
        records: count,
        snapshots: named.len() as u64,
        checkpoint,
    })
}

/// Whether `filter` leaves out any record.
fn filtered(filter: &Filter) -> bool {
    let Filter {
        since,
        until,
        host,
        verdict,
    } = filter;
    since.is_some() || until.is_some() || host.is_some() || verdict.is_some()
}

/// The temporary records file and the partial bundle, beside `out` (same file system, so
/// the rename is atomic), named after this process.
fn scratch_names(out: &Path) -> (PathBuf, PathBuf) {
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
    let name = out
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    let pid = std::process::id();
    let beside = |suffix: &str| {
        let file = format!(".{name}.{suffix}-{pid}");
        dir.map_or_else(|| PathBuf::from(&file), |d| d.join(&file))
    };
    (beside("records"), beside("partial"))
}

/// The archive being written, every entry under [`ROOT`], read-only files of one time.
struct Entries<'a> {
    builder: tar::Builder<BufWriter<File>>,
    mtime: u64,
    path: &'a Path,
}

impl Entries<'_> {
    fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.add_sized(name, bytes.len() as u64, bytes)
    }

    fn add_sized(&mut self, name: &str, size: u64, data: impl Read) -> Result<(), BundleError> {
        let mut header = tar::Header::new_ustar();
        header.set_size(size);
        header.set_mode(0o444);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder
            .append_data(&mut header, format!("{ROOT}{name}"), data.take(size))
            .map_err(|source| BundleError::Io {
                path: self.path.to_owned(),
                source,
            })
    }
}

/// `README.txt`: what an auditor reads first (both verifiers hold a bundle's to it).
pub const README: &str = "\
optout evidence bundle
======================

This archive holds decisions made by optout (may this agent fetch this URL, for this
purpose?), as hash-chained evidence records, with the exact bytes of every policy file
(robots.txt, tdmrep.json, ai.txt, page, headers) the decisions were made from.

  manifest.json     the format, when the bundle was made, from which filters, counts
  checkpoint.txt    the head of the log it was made from:
                    optout-checkpoint v1 seq=N hash=H time=T
  records.jsonl     the records, one JSON object a line, exactly as optout stored them
  snapshots/SHA256  the policy files the records name, each named by the SHA-256 of its bytes
  verify_bundle.py  a verifier that needs only Python 3

Check it:

  python3 verify_bundle.py BUNDLE.tar      (or the directory it was extracted to)
  optout log verify --bundle BUNDLE.tar
  optout log replay --bundle BUNDLE.tar    (re-decides every record from its snapshots)

Run a verify_bundle.py you trust (optout's, or one from an earlier bundle): a bundle's own
copy is only as good as the bundle. Both verifiers refuse a bundle whose verify_bundle.py or
README.txt is not the one optout writes.

Each record's hash is SHA-256(prev_hash as 32 bytes || the record's canonical JSON without
hash and prev_hash): keys sorted, no whitespace, UTF-8. A change to a record, a snapshot or
the checkpoint shows. A bundle made with filters has gaps: it proves each record it holds
and the links between consecutive ones, not that nothing between them was removed. The
checkpoint proves the head of the log when the bundle holds its record; compare it with a
checkpoint published or timestamped earlier. The file format is described in optout's
docs/evidence.md, \"The auditor's bundle\".
";
