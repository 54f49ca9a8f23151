//! The repair of a WARC file cut mid-record (SIGKILL, power cut): the file is truncated to the
//! end of its last complete record, and then to the end of its last complete exchange, so that
//! standard readers accept it and a page is either wholly in the file or not at all (and then
//! fetched again on resume).

use std::fs::OpenOptions;
use std::path::Path;

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

/// Truncates `path` after its last complete gzip member holding complete records (the first
/// unreadable member and everything after it are removed: a file is only ever appended to,
/// so damage is at its end). Then, as optout writes an exchange in the order request →
/// response (or revisit) → metadata, each naming the response in `WARC-Concurrent-To`, a file
/// ending in a request, or in a request and its response, loses them too: their metadata
/// record, the evidence, is missing. Records other writers lay out differently are kept.
/// Returns how many bytes were removed; a whole file is left untouched.
pub fn repair(path: &Path) -> Result<Repaired, WarcError> {
    let len = std::fs::metadata(path).map_err(WarcError::io(path))?.len();
    let mut kept = 0;
    let mut count = 0u64;
    let mut seen: Vec<Seen> = Vec::new();
    // Block limit: far above what the writer writes, so that no real record is cut.
    let limits = ReadLimits {
        max_block: u64::MAX,
        ..ReadLimits::default()
    };
    for record in records_with(path, 0, limits) {
        let Ok(record) = record else { break };
        kept = record.offset + record.length;
        count += 1;
        // Only the last two records matter, and the ids already seen for a trailing request.
        seen.push(Seen::of(&record));
        if seen.len() > 2 {
            seen.remove(0);
        }
    }
    if let Some(start) = incomplete_exchange(&seen) {
        let dropped = seen.iter().filter(|s| s.offset >= start).count() as u64;
        kept = start;
        count -= dropped;
    }
    if kept < len {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(WarcError::io(path))?;
        file.set_len(kept).map_err(WarcError::io(path))?;
        file.sync_all().map_err(WarcError::io(path))?;
    }
    Ok(Repaired {
        removed: len - kept,
        kept,
        records: count,
    })
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
