//! The repair of a WARC file cut mid-record (SIGKILL, power cut): the file is truncated to the
//! end of its last complete record, and then to the end of its last complete exchange, so that
//! standard readers accept it and a page is either wholly in the file or not at all (and then
//! fetched again on resume). Only a write cut short at the tail is repaired: any other damage
//! is an error and the file is left as it is, for a person to look at ([`plan_repair`]).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

use super::WarcError;
use super::read::{ReadLimits, StoredRecord, records_with};

/// What [`repair`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Bytes removed from the end of the file (0 when it was whole).
    pub removed: u64,
    /// The length of the file now.
    pub kept: u64,
    /// Complete records left in the file.
    pub records: u64,
}

/// The facts of a record [`repair`] needs.
struct Seen {
    offset: u64,
    warc_type: String,
    record_id: String,
    concurrent_to: Option<String>,
}

impl Seen {
    fn of(record: &StoredRecord) -> Seen {
        Seen {
            offset: record.offset,
            warc_type: record.warc_type.clone(),
            record_id: record.record_id.clone(),
            concurrent_to: record.header("WARC-Concurrent-To").map(str::to_owned),
        }
    }
}

/// What [`plan_repair`] found in a file, and what [`Repair::apply`] will do to it.
#[derive(Clone, Debug)]
pub struct Repair {
    path: PathBuf,
    /// The length of the file now.
    pub len: u64,
    /// The length it is cut to (`len` when it is whole).
    pub keep: u64,
    /// Complete records left in the first `keep` bytes.
    pub records: u64,
    /// The file's first record, when it is complete (optout's files start with `warcinfo`):
    /// what a resume checks the file's owner by.
    pub first: Option<StoredRecord>,
}

impl Repair {
    /// Truncates the file to `keep` bytes (nothing when it is whole) and syncs it.
    pub fn apply(&self) -> Result<Repaired, WarcError> {
        if self.keep < self.len {
            let file = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(WarcError::io(&self.path))?;
            file.set_len(self.keep).map_err(WarcError::io(&self.path))?;
            file.sync_all().map_err(WarcError::io(&self.path))?;
        }
        Ok(Repaired {
            removed: self.len - self.keep,
            kept: self.keep,
            records: self.records,
        })
    }
}

/// Checks `path` and repairs it ([`plan_repair`] with nothing known durable, then
/// [`Repair::apply`]): a file cut mid-record loses the cut record and the exchange it
/// belonged to; a damaged file is an error and is left as it is.
pub fn repair(path: &Path) -> Result<Repaired, WarcError> {
    plan_repair(path, 0)?.apply()
}

/// Decides, without writing anything, what of `path` a repair may remove, given that its
/// first `durable` bytes were made durable by a checkpoint (0 when none was).
///
/// Only what is provably a write cut at the tail is removed: the bytes after the last
/// complete gzip member, when they are the start of a member (a kill mid-write; zero bytes
/// after it, left by a power cut, count as not written). Then, as optout writes an exchange
/// in the order request → response (or revisit) → metadata, each naming the response in
/// `WARC-Concurrent-To`, a file ending in a request, or in a request and its response, loses
/// them too: their metadata record, the evidence, is missing. Records other writers lay out
/// differently are kept.
///
/// Anything else is damage and an error naming the offset, and nothing may be removed: a
/// member before `durable` that does not read as complete records, a checkpointed offset
/// that is not a record boundary, a file shorter than `durable`, a damaged member (bad CRC,
/// bad deflate data, a complete member without a valid record), or a complete record after
/// the unreadable bytes (a cut write leaves nothing whole behind it).
pub fn plan_repair(path: &Path, durable: u64) -> Result<Repair, WarcError> {
    let len = std::fs::metadata(path).map_err(WarcError::io(path))?.len();
    let corrupt = |offset: u64, what: String| WarcError::Corrupt {
        path: path.to_owned(),
        offset,
        what,
    };
    if len < durable {
        return Err(corrupt(
            len,
            format!("the file ends before the {durable} bytes the last checkpoint made durable"),
        ));
    }
    let mut kept = 0;
    let mut count = 0u64;
    let mut seen: Vec<Seen> = Vec::new();
    let mut first = None;
    let mut on_boundary = durable == 0;
    // Block limit: far above what the writer writes, so that no real record is cut.
    let limits = ReadLimits {
        max_block: u64::MAX,
        ..ReadLimits::default()
    };
    for record in records_with(path, 0, limits) {
        let record = match record {
            Ok(record) => record,
            Err(WarcError::Corrupt { offset, what, .. }) if offset >= durable => {
                if let Some(why) = damage_after(path, offset, len)? {
                    return Err(corrupt(offset, format!("{what}; {why}")));
                }
                break;
            }
            Err(e) => return Err(e),
        };
        kept = record.offset + record.length;
        on_boundary |= kept == durable;
        count += 1;
        if first.is_none() {
            first = Some(record.clone());
        }
        // Only the last two records matter, and the ids already seen for a trailing request.
        seen.push(Seen::of(&record));
        if seen.len() > 2 {
            seen.remove(0);
        }
    }
    if !on_boundary {
        return Err(corrupt(
            durable,
            "the offset the last checkpoint made durable is not the end of a record".to_owned(),
        ));
    }
    if let Some(start) = incomplete_exchange(&seen).filter(|&start| start >= durable) {
        let dropped = seen.iter().filter(|s| s.offset >= start).count() as u64;
        kept = start;
        count -= dropped;
    }
    Ok(Repair {
        path: path.to_owned(),
        len,
        keep: kept,
        records: count,
        first,
    })
}

/// Why the bytes of `path` from `offset` (where a member failed to read) to `len` are not
/// a write cut short; `None` when they are one: the start of a gzip member that ends with
/// the data (trailing zero bytes aside), with no complete record after it.
fn damage_after(path: &Path, offset: u64, len: u64) -> Result<Option<String>, WarcError> {
    let io = WarcError::io(path);
    let mut file = File::open(path).map_err(WarcError::io(path))?;
    let end = end_before_zeros(&mut file, offset, len).map_err(WarcError::io(path))?;
    if end == offset {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let input = BufReader::new(file.take(end - offset));
    let decoded = std::io::copy(&mut GzDecoder::new(input), &mut std::io::sink());
    match decoded {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        Err(e) => return Ok(Some(format!("damaged, not cut short ({e})"))),
        Ok(_) => {
            return Ok(Some(
                "a complete gzip member without a valid record".to_owned(),
            ));
        }
    }
    // A cut write leaves nothing whole after it: look for a complete record further on.
    if let Some(at) = record_after(path, offset + 1, end)? {
        return Ok(Some(format!(
            "a complete record follows at offset {at}, so this is damage, not a cut write"
        )));
    }
    Ok(None)
}

/// The end of the bytes of `file` in `from..len` without its trailing zero bytes.
fn end_before_zeros(file: &mut File, from: u64, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > from {
        let start = end.saturating_sub(chunk.len() as u64).max(from);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(buf)?;
        if let Some(i) = buf.iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

/// The offset of the first gzip member in `from..end` that reads as a complete record.
fn record_after(path: &Path, from: u64, end: u64) -> Result<Option<u64>, WarcError> {
    const MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
    let mut file = File::open(path).map_err(WarcError::io(path))?;
    file.seek(SeekFrom::Start(from))
        .map_err(WarcError::io(path))?;
    let mut input = BufReader::with_capacity(64 * 1024, file.take(end - from));
    let mut pos = from;
    let mut window: Vec<u8> = Vec::new();
    loop {
        let buf = input.fill_buf().map_err(WarcError::io(path))?;
        if buf.is_empty() {
            return Ok(None);
        }
        // The last two bytes of the previous buffer, for a magic number across buffers.
        let base = pos - window.len() as u64;
        window.extend_from_slice(buf);
        let n = buf.len();
        input.consume(n);
        pos += n as u64;
        for at in memchr::memmem::find_iter(&window, MAGIC) {
            let at = base + at as u64;
            if let Some(Ok(_)) = records_with(path, at, ReadLimits::default()).next() {
                return Ok(Some(at));
            }
        }
        let keep = window.len().min(MAGIC.len() - 1);
        window.drain(..window.len() - keep);
    }
}

/// The offset an incomplete exchange at the end of the file starts at.
fn incomplete_exchange(last: &[Seen]) -> Option<u64> {
    let (before, end) = match last {
        [before, end] => (Some(before), end),
        [end] => (None, end),
        _ => return None,
    };
    match end.warc_type.as_str() {
        // A request naming a response not written before it.
        "request" => {
            let target = end.concurrent_to.as_deref()?;
            let answered = before.is_some_and(|b| b.record_id == target);
            (!answered).then_some(end.offset)
        }
        // A response right after the request that names it.
        "response" | "revisit" => {
            let before = before?;
            let pair = before.warc_type == "request"
                && before.concurrent_to.as_deref() == Some(end.record_id.as_str());
            pair.then_some(before.offset)
        }
        _ => None,
    }
}
