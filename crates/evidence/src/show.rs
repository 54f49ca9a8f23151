//! One record and the snapshot lines that decided it: what `optout log show SEQ` prints and
//! `GET /v1/evidence/{seq}` answers, read here once for both.
//!
//! A snapshot of at most [`WHOLE_UP_TO`] lines is given whole; a longer one only near the
//! lines its reasons cite (three lines either side), with a gap marked where lines are left
//! out. Lines are numbered as the robots.txt parser numbers them (CR, LF and CRLF end a line).

use super::SourceRef;
use super::backend::Store;
use super::export::ExportError;
use serde::Serialize;
use serde_json::Value;

/// Snapshots up to this many lines are shown whole.
pub const WHOLE_UP_TO: usize = 60;

/// A record and its sources.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// The record as stored (with `hash` and `prev_hash`).
    pub record: Value,
    /// Each source the record names, with the lines shown.
    pub sources: Vec<ShownSource>,
}

/// One source of a record.
#[derive(Debug, Serialize)]
pub struct ShownSource {
    /// The source as the record names it.
    #[serde(flatten)]
    pub source: SourceRef,
    /// Whether its snapshot is in the store (when not, `optout log verify` says more).
    pub present: bool,
    /// The lines shown.
    pub lines: Vec<ShownLine>,
}

/// One line of a snapshot.
#[derive(Debug, Serialize)]
pub struct ShownLine {
    /// Its number, from 1.
    pub line: u64,
    /// Its text (invalid UTF-8 replaced).
    pub text: String,
    /// True when a reason of the record cites it.
    pub deciding: bool,
    /// True when lines before it were left out.
    pub after_gap: bool,
}

/// Record `seq` and the lines that decided it; `None` when the log has no record `seq`.
pub fn show(store: &Store, seq: u64) -> Result<Option<Shown>, ExportError> {
    let Some(entry) = store.backend().record(seq)? else {
        return Ok(None);
    };
    // What stands at the record's place must be that record: in a damaged log it may not be.
    let record = serde_json::from_slice::<Value>(entry.bytes())
        .ok()
        .filter(|v| v.get("seq").and_then(Value::as_u64) == Some(seq))
        .ok_or(ExportError::Unreadable(seq))?;
    let reasons = record.get("reasons").and_then(Value::as_array);
    let sources: Vec<SourceRef> = record
        .get("sources")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let mut shown = Vec::with_capacity(sources.len());
    for source in sources {
        let marked: Vec<u64> = reasons
            .into_iter()
            .flatten()
            .filter(|r| r.get("source").and_then(Value::as_str) == Some(source.kind.as_str()))
            .filter_map(|r| r.get("line").and_then(Value::as_u64))
            .collect();
        let key = hex::decode(&source.sha256).unwrap_or_default();
        let Some(snapshot) = store.snapshot(&key)? else {
            shown.push(ShownSource {
                source,
                present: false,
                lines: Vec::new(),
            });
            continue;
        };
        shown.push(ShownSource {
            source,
            present: true,
            lines: lines(&snapshot, &marked),
        });
    }
    Ok(Some(Shown {
        record,
        sources: shown,
    }))
}

/// The lines of `snapshot` shown for the cited lines `marked`.
fn lines(snapshot: &[u8], marked: &[u64]) -> Vec<ShownLine> {
    let body = String::from_utf8_lossy(snapshot);
    let all: Vec<&str> = optout_policy::robots::line_numbering(&body).collect();
    let near = |n: u64| marked.iter().any(|&m| n + 3 >= m && n <= m + 3);
    let whole = all.len() <= WHOLE_UP_TO;
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, text) in all.iter().enumerate() {
        let n = i as u64 + 1;
        if !(whole || near(n)) {
            skipped = true;
            continue;
        }
        out.push(ShownLine {
            line: n,
            text: (*text).to_owned(),
            deciding: marked.contains(&n),
            after_gap: std::mem::take(&mut skipped),
        });
    }
    out
}
