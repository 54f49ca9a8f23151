//! The reader a resumed crawl uses: the records of a `.warc.gz` file from an offset, member by
//! member. The bytes are treated as hostile: a corrupt or cut file gives an error, never a
//! panic, and no more memory than [`ReadLimits`] allow.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

use super::WarcError;

/// How much of a record the reader holds in memory.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// The largest record block (its `Content-Length`); larger is an error. Default 1 GiB.
    pub max_block: u64,
    /// The largest WARC header section. Default 64 KiB.
    pub max_head: usize,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_block: 1 << 30,
            max_head: 64 * 1024,
        }
    }
}

/// One record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The offset of its gzip member in the file.
    pub offset: u64,
    /// The length of its gzip member.
    pub length: u64,
    /// `WARC-Type`.
    pub warc_type: String,
    /// `WARC-Target-URI` (empty when there is none, as for `warcinfo`).
    pub target_uri: String,
    /// `WARC-Date`.
    pub date: String,
    /// `WARC-Record-ID`.
    pub record_id: String,
    /// Every header field, in order (values as text, invalid UTF-8 replaced).
    pub headers: Vec<(String, String)>,
    /// The record block.
    pub block: Vec<u8>,
}

impl StoredRecord {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The records of `path` from the gzip member at `from_offset` (0, or an offset a
/// [`Position`](super::Position) or a CDXJ line gave), with the default [`ReadLimits`].
pub fn records(path: &Path, from_offset: u64) -> Records {
    records_with(path, from_offset, ReadLimits::default())
}

/// [`records`] with explicit limits.
pub fn records_with(path: &Path, from_offset: u64, limits: ReadLimits) -> Records {
    let reader = File::open(path).and_then(|mut file| {
        file.seek(SeekFrom::Start(from_offset))?;
        Ok(Counted {
            inner: BufReader::with_capacity(64 * 1024, file),
            pos: from_offset,
        })
    });
    let (reader, failed) = match reader {
        Ok(reader) => (Some(reader), None),
        Err(e) => (None, Some(WarcError::io(path)(e))),
    };
    Records {
        path: path.to_owned(),
        limits,
        reader,
        failed,
        pending: VecDeque::new(),
    }
}

/// The iterator [`records`] returns. After an error it ends.
pub struct Records {
    path: PathBuf,
    limits: ReadLimits,
    reader: Option<Counted<BufReader<File>>>,
    failed: Option<WarcError>,
    pending: VecDeque<StoredRecord>,
}

impl Iterator for Records {
    type Item = Result<StoredRecord, WarcError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(record) = self.pending.pop_front() {
            return Some(Ok(record));
        }
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        let reader = self.reader.as_mut()?;
        let offset = reader.pos;
        match read_member(reader, self.limits) {
            Ok(None) => {
                self.reader = None;
                None
            }
            Ok(Some(records)) => {
                let length = reader.pos - offset;
                self.pending = records
                    .into_iter()
                    .map(|r| StoredRecord {
                        offset,
                        length,
                        ..r
                    })
                    .collect();
                self.next()
            }
            Err(what) => {
                self.reader = None;
                Some(Err(WarcError::Corrupt {
                    path: self.path.clone(),
                    offset,
                    what,
                }))
            }
        }
    }
}

/// A `BufRead` that counts the bytes consumed from it: where each gzip member ends.
pub(crate) struct Counted<R> {
    pub(crate) inner: R,
    pub(crate) pos: u64,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.pos += amt as u64;
        self.inner.consume(amt);
    }
}

/// The records of the next gzip member (usually one); `None` at the end of the file. The
/// member is read to its end, so its CRC and length are checked.
fn read_member<R: BufRead>(
    input: &mut R,
    limits: ReadLimits,
) -> Result<Option<Vec<StoredRecord>>, String> {
    if input.fill_buf().map_err(|e| e.to_string())?.is_empty() {
        return Ok(None);
    }
    let mut member = BufReader::new(GzDecoder::new(input));
    let mut records = Vec::new();
    loop {
        let at_end = member
            .fill_buf()
            .map_err(|e| format!("gzip: {e}"))?
            .is_empty();
        if at_end {
            break;
        }
        records.push(read_record(&mut member, limits)?);
    }
    if records.is_empty() {
        return Err("an empty gzip member".to_owned());
    }
    Ok(Some(records))
}

/// One record: header section, block, and the CRLF CRLF after it (WARC 1.1 section 4).
fn read_record<R: BufRead>(input: &mut R, limits: ReadLimits) -> Result<StoredRecord, String> {
    let head = read_head(input, limits.max_head)?;
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let version = lines.next().unwrap_or_default();
    if !version.starts_with(b"WARC/1.") {
        return Err("no WARC/1.x version line".to_owned());
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err("a header line without a colon".to_owned());
        };
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
        let value = String::from_utf8_lossy(&line[colon + 1..])
            .trim()
            .to_owned();
        headers.push((name, value));
    }
    let mut record = StoredRecord {
        offset: 0,
        length: 0,
        warc_type: String::new(),
        target_uri: String::new(),
        date: String::new(),
        record_id: String::new(),
        headers,
        block: Vec::new(),
    };
    let content_length: u64 = record
        .header("Content-Length")
        .ok_or("no Content-Length")?
        .parse()
        .map_err(|_| "a Content-Length that is not a number")?;
    if content_length > limits.max_block {
        return Err(format!(
            "a block of {content_length} bytes, over the limit of {}",
            limits.max_block
        ));
    }
    input
        .take(content_length)
        .read_to_end(&mut record.block)
        .map_err(|e| format!("gzip: {e}"))?;
    if record.block.len() as u64 != content_length {
        return Err("the block is cut short".to_owned());
    }
    let mut end = [0u8; 4];
    input
        .read_exact(&mut end)
        .map_err(|_| "the record is cut short".to_owned())?;
    if &end != b"\r\n\r\n" {
        return Err("no CRLF CRLF after the block".to_owned());
    }
    for (field, name) in [
        (&mut record.warc_type, "WARC-Type"),
        (&mut record.target_uri, "WARC-Target-URI"),
        (&mut record.date, "WARC-Date"),
        (&mut record.record_id, "WARC-Record-ID"),
    ] {
        let value = record
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        *field = value.map(|(_, v)| v.clone()).unwrap_or_default();
    }
    if record.warc_type.is_empty() {
        return Err("no WARC-Type".to_owned());
    }
    Ok(record)
}

/// The header section up to and including its blank line, at most `max` bytes.
fn read_head<R: BufRead>(input: &mut R, max: usize) -> Result<Vec<u8>, String> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let room = (max + 1).saturating_sub(before) as u64;
        let n = input
            .take(room)
            .read_until(b'\n', &mut head)
            .map_err(|e| format!("gzip: {e}"))?;
        if head.len() > max {
            return Err(format!("a header section over {max} bytes"));
        }
        if n == 0 {
            return Err("the header section is cut short".to_owned());
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            return Ok(head);
        }
    }
}

/// HTTP header fields in order: name, value bytes.
pub type HttpHeaders = Vec<(String, Vec<u8>)>;

/// The status, headers and body of an `application/http; msgtype=response` block; `None`
/// when it is not one (or its header section is over 64 KiB).
pub fn parse_http_response(block: &[u8]) -> Option<(u16, HttpHeaders, &[u8])> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut pos = 0;
    let mut status = None;
    let mut headers = Vec::new();
    loop {
        let rest = &block[pos..];
        let end = rest.iter().take(MAX_HEAD + 2).position(|&b| b == b'\n')?;
        let line = &rest[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += end + 1;
        if pos > MAX_HEAD + 2 {
            return None;
        }
        let Some(code) = status else {
            status = Some(status_code(line)?);
            continue;
        };
        if line.is_empty() {
            return Some((code, headers, &block[pos..]));
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_owned();
            let value = line[colon + 1..].trim_ascii().to_vec();
            headers.push((name, value));
        }
    }
}

/// The status of `HTTP/x.y NNN reason`.
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let code = rest[space + 1..].get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_responses_are_split() {
        let block =
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-A:  b \r\n\r\nbody\r\n";
        let (status, headers, body) = parse_http_response(block).unwrap();
        assert_eq!(status, 404);
        assert_eq!(
            headers,
            vec![
                ("Content-Type".into(), b"text/plain".to_vec()),
                ("X-A".into(), b"b".to_vec())
            ]
        );
        assert_eq!(body, b"body\r\n");
        assert!(parse_http_response(b"GET / HTTP/1.1\r\n\r\n").is_none());
        assert!(parse_http_response(b"HTTP/1.1 200 OK\r\nno end").is_none());
        assert!(parse_http_response(b"HTTP/1.1 2x0\r\n\r\n").is_none());
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 70_000));
        long.extend_from_slice(b"\r\n\r\n");
        assert!(parse_http_response(&long).is_none());
    }

    #[test]
    fn heads_are_bounded() {
        let mut input: &[u8] = b"WARC/1.1\r\nA: b\r\n\r\nrest";
        assert_eq!(
            read_head(&mut input, 100).unwrap(),
            b"WARC/1.1\r\nA: b\r\n\r\n"
        );
        let mut input: &[u8] = b"WARC/1.1\r\nA: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n";
        assert!(read_head(&mut input, 20).is_err());
        let mut input: &[u8] = b"WARC/1.1\r\nA: b";
        assert!(read_head(&mut input, 100).is_err());
    }
}
