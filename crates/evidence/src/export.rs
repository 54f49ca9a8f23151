//! Reading the log: filtered, streamed exports (constant memory) and counts.

use super::backend::{ReadError, Store, StoreError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

/// Which records to read.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Records at or after this time (RFC 3339 UTC, as records write it: read bounds with
    /// [`time_bound`]).
    pub since: Option<String>,
    /// Records before this time.
    pub until: Option<String>,
    /// Records whose URL host is this host or a subdomain of it.
    pub host: Option<String>,
    /// Records with this verdict.
    pub verdict: Option<String>,
}

impl Filter {
    /// Whether `record` (a parsed record) is one the filter selects.
    pub fn keeps(&self, record: &Value) -> bool {
        let field = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
        let time = field("time");
        if self.since.as_deref().is_some_and(|s| time < s) {
            return false;
        }
        if self.until.as_deref().is_some_and(|u| time >= u) {
            return false;
        }
        if self
            .verdict
            .as_deref()
            .is_some_and(|v| field("verdict") != v)
        {
            return false;
        }
        if let Some(host) = &self.host {
            let record_host = url::Url::parse(field("url"))
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if record_host != host && !record_host.ends_with(&format!(".{host}")) {
                return false;
            }
        }
        true
    }
}

/// The one reader of time bounds (`evidence::bound`).
pub use super::bound::time_bound;

/// Why reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing failed.
    #[error("cannot write: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record is not JSON (run `optout log verify`).
    #[error("record {0} is unreadable; run `optout log verify`")]
    Unreadable(u64),
    /// CSV writing failed.
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Calls `each` with every record (as stored bytes and parsed JSON) that `filter` keeps,
/// in sequence order, one at a time (one block in memory at once).
pub fn for_each(
    store: &Store,
    filter: &Filter,
    mut each: impl FnMut(&[u8], &Value) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let mut kept = 0;
    let mut last = 0;
    for entry in store.backend().records() {
        let entry = entry.map_err(|e| match e {
            ReadError::Store(e) => ExportError::Store(e),
            ReadError::Key(_) => ExportError::Unreadable(last + 1),
        })?;
        last = entry.place();
        let value: Value =
            serde_json::from_slice(entry.bytes()).map_err(|_| ExportError::Unreadable(last))?;
        if filter.keeps(&value) {
            each(entry.bytes(), &value)?;
            kept += 1;
        }
    }
    Ok(kept)
}

/// Writes JSONL: each line is the stored record, with `hash` and `prev_hash`, byte for byte.
pub fn jsonl(store: &Store, filter: &Filter, out: &mut impl Write) -> Result<u64, ExportError> {
    for_each(store, filter, |bytes, _| {
        out.write_all(bytes)?;
        out.write_all(b"\n")?;
        Ok(())
    })
}

/// The CSV columns.
pub const CSV_HEADER: [&str; 12] = [
    "seq",
    "time",
    "url",
    "origin",
    "agent",
    "purpose",
    "verdict",
    "codes",
    "status",
    "bytes",
    "prev_hash",
    "hash",
];

/// Writes CSV (RFC 4180 quoting): one row per record, reason codes joined with `;`.
pub fn csv(store: &Store, filter: &Filter, out: &mut impl Write) -> Result<u64, ExportError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    let n = for_each(store, filter, |_, v| {
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let codes: Vec<&str> = v
            .get("reasons")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(|r| r.get("code")?.as_str()).collect())
            .unwrap_or_default();
        writer.write_record([
            text("seq"),
            text("time"),
            text("url"),
            text("origin"),
            text("agent"),
            text("purpose"),
            text("verdict"),
            codes.join(";"),
            text("status"),
            text("bytes"),
            text("prev_hash"),
            text("hash"),
        ])?;
        Ok(())
    })?;
    writer.flush()?;
    Ok(n)
}

/// Counts by verdict, reason code and host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records counted.
    pub records: u64,
    /// By verdict.
    pub verdicts: BTreeMap<String, u64>,
    /// By reason code (every reason of every record).
    pub codes: BTreeMap<String, u64>,
    /// By URL host.
    pub hosts: BTreeMap<String, u64>,
}

/// Counts the records `filter` keeps.
pub fn stats(store: &Store, filter: &Filter) -> Result<Stats, ExportError> {
    let mut stats = Stats::default();
    for_each(store, filter, |_, v| {
        stats.records += 1;
        let verdict = v.get("verdict").and_then(Value::as_str).unwrap_or("");
        *stats.verdicts.entry(verdict.to_owned()).or_default() += 1;
        for code in v
            .get("reasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("code")?.as_str())
        {
            *stats.codes.entry(code.to_owned()).or_default() += 1;
        }
        let host = v
            .get("url")
            .and_then(Value::as_str)
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        *stats.hosts.entry(host).or_default() += 1;
        Ok(())
    })?;
    Ok(stats)
}
