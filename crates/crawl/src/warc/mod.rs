//! WARC/1.1 output: the writer ([`WarcWriter`]), its CDXJ index ([`INDEX_FILE`], [`sort_cdxj`]), the repair of a
//! file cut mid-record ([`repair`]) and the reader a resumed crawl uses ([`records`]).
//!
//! Spec: WARC/1.1, <https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/>.
//! `docs/warc.md` describes the files and why they are as they are.
//!
//! - Each record is its own gzip member (WARC 1.1 annex D.2), so a reader can start at any
//!   record's offset, and a file cut mid-record loses only that record.
//! - Per kept page: `request`, `response` (or `revisit` for a 304) and `metadata` with the
//!   evidence, in that order; the exchange is complete once its `metadata` record is written,
//!   and [`repair`] removes an incomplete one at the end of a file.
//! - Bodies are stored decoded, as Common Crawl stores them; the digests are over the stored
//!   bytes, so they verify in any reader.

mod cdxj;
mod date;
mod read;
mod record;
mod repair;
#[cfg(test)]
mod tests;
mod writer;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

pub use cdxj::{INDEX_FILE, index_line, repair_cdxj, sort_cdxj, surt};
pub use read::{HttpHeaders, ReadLimits, StoredRecord, parse_http_response, records, records_with};
pub use repair::{Repair, Repaired, plan_repair, repair};
pub use writer::{WarcWriter, serial_of};

/// The revisit profile of a 304 answer to a conditional request (WARC 1.1 section 6.7.2).
pub const PROFILE_SERVER_NOT_MODIFIED: &str =
    "http://netpreserve.org/warc/1.1/revisit/server-not-modified";

/// How the writer names, rotates and describes its files.
#[derive(Clone, Debug)]
pub struct WarcOptions {
    /// The start of every file name: `{prefix}-{yyyymmddhhmmss}-{nnnnn}.warc.gz`.
    pub prefix: String,
    /// A file that has reached this size is closed and the next record starts a new one
    /// (so a file exceeds it by at most one exchange).
    pub max_file_bytes: u64,
    /// The `software` field of each `warcinfo` record, e.g. `optout/0.1.0`.
    pub software: String,
    /// Further `warcinfo` fields (operator, robots policy, ...), in order.
    pub warcinfo_fields: Vec<(String, String)>,
}

impl Default for WarcOptions {
    fn default() -> WarcOptions {
        WarcOptions {
            prefix: "optout".to_owned(),
            max_file_bytes: 1_000_000_000,
            software: format!("optout/{}", env!("CARGO_PKG_VERSION")),
            warcinfo_fields: Vec::new(),
        }
    }
}

/// One kept page (or a 304 answer to a conditional re-crawl request).
#[derive(Clone, Debug)]
pub struct Exchange<'a> {
    /// The URL as requested: `WARC-Target-URI`.
    pub url: &'a str,
    /// When the response arrived: `WARC-Date`.
    pub date: SystemTime,
    /// The server's address, when known: `WARC-IP-Address`.
    pub ip: Option<IpAddr>,
    /// The request headers as sent (Host, User-Agent, Accept, If-None-Match...).
    pub request_headers: &'a [(String, String)],
    /// `HTTP/1.1`, `HTTP/2.0`...
    pub http_version: &'a str,
    /// The response status.
    pub status: u16,
    /// The response headers as the client handed them over, in order.
    pub response_headers: &'a [(String, Vec<u8>)],
    /// The decoded body.
    pub body: &'a [u8],
    /// What the `metadata` record says.
    pub evidence: Evidence<'a>,
    /// `Some` for a 304: a `revisit` record is written instead of a `response`.
    pub revisit: Option<Revisit<'a>>,
}

/// The evidence of a kept page, written in its `metadata` record.
#[derive(Clone, Debug)]
pub struct Evidence<'a> {
    /// The sequence number of the evidence record.
    pub seq: u64,
    /// The verdict, e.g. `allowed`.
    pub verdict: &'a str,
    /// The reason codes.
    pub reasons: &'a [&'a str],
    /// The policy files used: kind (e.g. `robots.txt`), URL, SHA-256 in hex.
    pub policy_files: &'a [(String, String, String)],
    /// Where the crawl found the page: `optout-depth` and `optout-found-on`, read back on
    /// `--resume` to follow the page's links at the right depth.
    pub found: Option<(u32, Option<&'a str>)>,
}

/// What a `revisit` record refers to: the earlier capture of the same URL.
#[derive(Clone, Debug)]
pub struct Revisit<'a> {
    /// `WARC-Refers-To-Target-URI`.
    pub refers_to_uri: &'a str,
    /// `WARC-Refers-To-Date`: the `WARC-Date` of the original.
    pub refers_to_date: &'a str,
    /// `WARC-Refers-To`: the record id of the original, when known.
    pub refers_to: Option<&'a str>,
    /// The original's payload digest (`sha1:...`), when known.
    pub payload_digest: Option<&'a str>,
}

/// Where an exchange was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The file name (no directory).
    pub file: String,
    /// The offset of the `response` (or `revisit`) record's gzip member.
    pub offset: u64,
    /// The length of that gzip member.
    pub length: u64,
    /// Its `WARC-Record-ID`, `<urn:uuid:...>`.
    pub record_id: String,
    /// Its payload digest, `sha1:` + base32 (for a revisit: the original's, when given).
    pub payload_digest: String,
}

/// What is durable after [`WarcWriter::flush`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// The current file (no directory); `None` before the first record.
    pub file: Option<String>,
    /// Everything in `file` before this offset is on disk.
    pub offset: u64,
    /// Everything in `index.cdxj` before this offset is on disk.
    pub cdxj_offset: u64,
}

/// A failure to write, repair or read a WARC file.
#[derive(Debug, thiserror::Error)]
pub enum WarcError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file is not a WARC file optout can read at this offset.
    #[error("{path}: not a readable WARC record at offset {offset}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The offset of the gzip member.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// Every file number is taken.
    #[error("{dir}: no free WARC file number left for prefix {prefix:?}")]
    Numbers {
        /// The directory.
        dir: PathBuf,
        /// The prefix.
        prefix: String,
    },
}

impl WarcError {
    fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> WarcError + use<> {
        let path = path.to_owned();
        move |source| WarcError::Io { path, source }
    }
}
