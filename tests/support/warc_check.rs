//! An independent reader of a crawl's WARC files, for the tests: the `warc` crate parses
//! each record, `flate2` splits the files into gzip members, and this file checks what a
//! standard reader checks (WARC/1.1 §5, §6): one record per gzip member, a `warcinfo` record
//! first, `WARC-Date` in UTC with `Z`, and every `WARC-Block-Digest` and
//! `WARC-Payload-Digest` (`sha1:` + base32, as Heritrix and warcio write them).
//!
//! Nothing here uses optout's code. Used through `#[path = "support/warc_check.rs"] mod
//! warc_check;`.

#![allow(dead_code)]

use sha1::{Digest, Sha1};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One WARC record as read back.
#[derive(Clone, Debug)]
pub struct WarcRecord {
    /// The file it is in.
    pub file: PathBuf,
    /// The offset of its gzip member in the file.
    pub offset: u64,
    /// The version line (`WARC/1.1`).
    pub version: String,
    /// `WARC-Type`.
    pub kind: String,
    /// `WARC-Target-URI`, if any.
    pub target: Option<String>,
    /// Every WARC header, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The record block.
    pub block: Vec<u8>,
    /// For `request`, `response` and `revisit` records of HTTP: the message in the block.
    pub http: Option<HttpMessage>,
}

impl WarcRecord {
    /// A WARC header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Where it is, for messages: `file@offset type uri`.
    pub fn place(&self) -> String {
        format!(
            "{}@{} {} {}",
            self.file.display(),
            self.offset,
            self.kind,
            self.target.as_deref().unwrap_or("-")
        )
    }
}

/// An HTTP message inside a record block.
#[derive(Clone, Debug)]
pub struct HttpMessage {
    /// The status of a response (`None` for a request).
    pub status: Option<u16>,
    /// The start line.
    pub start: String,
    /// Header fields, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The bytes after the header block, as stored.
    pub body: Vec<u8>,
    /// The payload: `body` with a chunked transfer coding removed.
    pub payload: Vec<u8>,
}

impl HttpMessage {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `*.warc.gz` files of `dir`, by name.
pub fn warc_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".warc.gz"))
        .collect();
    files.sort();
    files
}

/// Every record of every WARC file in `dir`, in file and record order. `Err` names the first
/// file and offset that a standard reader would reject.
pub fn read_dir(dir: &Path) -> Result<Vec<WarcRecord>, String> {
    let mut records = Vec::new();
    for file in warc_files(dir) {
        records.extend(read_file(&file)?);
    }
    Ok(records)
}

/// The records of one `.warc.gz` file, each its own gzip member.
pub fn read_file(file: &Path) -> Result<Vec<WarcRecord>, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut cursor = std::io::Cursor::new(&bytes[..]);
    let mut records = Vec::new();
    while (cursor.position() as usize) < bytes.len() {
        let offset = cursor.position();
        let mut member = Vec::new();
        flate2::bufread::GzDecoder::new(&mut cursor)
            .read_to_end(&mut member)
            .map_err(|e| {
                format!(
                    "{}@{offset}: not a complete gzip member: {e}",
                    file.display()
                )
            })?;
        if cursor.position() == offset {
            return Err(format!("{}@{offset}: an empty gzip member", file.display()));
        }
        let mut parsed = warc::WarcReader::new(&member[..]).iter_raw_records();
        let (header, block) = match parsed.next() {
            Some(Ok(record)) => record,
            Some(Err(e)) => return Err(format!("{}@{offset}: {e}", file.display())),
            None => {
                return Err(format!(
                    "{}@{offset}: a gzip member without a record",
                    file.display()
                ));
            }
        };
        if parsed.next().is_some() {
            return Err(format!(
                "{}@{offset}: more than one record in a gzip member",
                file.display()
            ));
        }
        let headers: Vec<(String, String)> = header
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string().to_ascii_lowercase(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let kind = find("warc-type").unwrap_or_default();
        let is_http = find("content-type").is_some_and(|t| t.starts_with("application/http"));
        let http = if is_http {
            Some(
                parse_http(&block)
                    .map_err(|e| format!("{}@{offset} {kind}: {e}", file.display()))?,
            )
        } else {
            None
        };
        records.push(WarcRecord {
            file: file.to_path_buf(),
            offset,
            version: header.version.clone(),
            target: find("warc-target-uri"),
            kind,
            headers,
            block,
            http,
        });
    }
    Ok(records)
}

/// Splits an HTTP message into start line, headers and body; removes a chunked coding.
pub fn parse_http(block: &[u8]) -> Result<HttpMessage, String> {
    let end = block
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("an HTTP message without the blank line after its headers")?;
    let head = std::str::from_utf8(&block[..end]).map_err(|_| "HTTP headers not UTF-8")?;
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default().to_owned();
    let status = if start.starts_with("HTTP/") {
        let code = start
            .split(' ')
            .nth(1)
            .ok_or("a status line without a status")?;
        Some(
            code.parse::<u16>()
                .map_err(|_| format!("status line {start:?}"))?,
        )
    } else {
        None
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let body = block[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let payload = if chunked {
        dechunk(&body)?
    } else {
        body.clone()
    };
    Ok(HttpMessage {
        status,
        start,
        headers,
        body,
        payload,
    })
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line without CRLF")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "chunk size")?;
        let size_text = size_text.split(';').next().unwrap().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("chunk size {size_text:?}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("a chunk cut short".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// `sha1:` and the base32 SHA-1 of `bytes`.
pub fn sha1_b32(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    format!("sha1:{}", data_encoding::BASE32.encode(&digest))
}

/// What a standard reader would reject, or a crawl's WARC must not have: one message per
/// problem, naming the record.
pub fn problems(records: &[WarcRecord]) -> Vec<String> {
    let mut out = Vec::new();
    let mut last_file: Option<&Path> = None;
    for r in records {
        let place = r.place();
        if last_file != Some(r.file.as_path()) {
            last_file = Some(r.file.as_path());
            if r.kind != "warcinfo" {
                out.push(format!(
                    "{place}: the file does not start with a warcinfo record"
                ));
            }
        }
        if r.version != "1.1" && r.version != "WARC/1.1" {
            out.push(format!("{place}: version {:?}, not WARC/1.1", r.version));
        }
        match r.header("warc-date") {
            Some(d) if d.ends_with('Z') && d.contains('T') => {}
            other => out.push(format!("{place}: WARC-Date {other:?} is not UTC with Z")),
        }
        if r.header("warc-record-id")
            .is_none_or(|id| !id.starts_with("<urn:"))
        {
            out.push(format!("{place}: WARC-Record-ID missing or not <urn:...>"));
        }
        match r.header("warc-block-digest") {
            Some(d) if digest_matches(d, &r.block) => {}
            Some(d) => out.push(format!(
                "{place}: WARC-Block-Digest {d} != {}",
                sha1_b32(&r.block)
            )),
            None if matches!(r.kind.as_str(), "response" | "request" | "revisit") => {
                out.push(format!("{place}: no WARC-Block-Digest"))
            }
            None => {}
        }
        if let (Some(d), Some(http)) = (r.header("warc-payload-digest"), &r.http) {
            // A revisit's payload digest names the earlier payload, which it does not hold.
            let ok = r.kind == "revisit"
                || digest_matches(d, &http.payload)
                || digest_matches(d, &http.body);
            if !ok {
                out.push(format!(
                    "{place}: WARC-Payload-Digest {d} != {}",
                    sha1_b32(&http.payload)
                ));
            }
        }
        if r.kind == "response" {
            if r.header("warc-payload-digest").is_none() {
                out.push(format!("{place}: a response without WARC-Payload-Digest"));
            }
            if r.header("warc-ip-address").is_none() {
                out.push(format!("{place}: a response without WARC-IP-Address"));
            }
        }
        if r.kind == "request" && r.header("warc-concurrent-to").is_none() {
            out.push(format!("{place}: a request without WARC-Concurrent-To"));
        }
    }
    out
}

fn digest_matches(written: &str, bytes: &[u8]) -> bool {
    let ours = sha1_b32(bytes);
    written.eq_ignore_ascii_case(&ours) || written.eq_ignore_ascii_case(&ours.replace('=', ""))
}

/// Runs `warcio check` and `warcio index` on every WARC file of `dir`, when `warcio` is
/// installed (`.ci/run` installs it; `$WARCIO` names another executable). Returns the
/// problems; says on stderr when it is absent.
pub fn warcio(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let files = warc_files(dir);
    // `scripts/test-all` sets WARCIO: then warcio must run, never be skipped.
    let required = std::env::var_os("WARCIO").is_some();
    let program = std::env::var("WARCIO").unwrap_or_else(|_| "warcio".into());
    for sub in ["check", "index"] {
        let result = std::process::Command::new(&program)
            .arg(sub)
            .args(&files)
            .output();
        match result {
            Err(e) if required => {
                out.push(format!("WARCIO={program} cannot run: {e}"));
                return out;
            }
            Err(_) => {
                eprintln!("warcio is not installed: `warcio {sub}` skipped");
                return out;
            }
            Ok(o) if !o.status.success() => out.push(format!(
                "warcio {sub} failed ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Ok(_) => {}
        }
    }
    out
}
