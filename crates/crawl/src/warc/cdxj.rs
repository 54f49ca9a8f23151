//! The CDXJ index of a crawl directory (`index.cdxj`), in the form pywb reads: one line per
//! `response` or `revisit` record, `SURT timestamp14 {json}`, sorted by plain byte order.
//!
//! Spec: the OpenWayback CDXJ format as pywb writes it
//! (<https://pywb.readthedocs.io/en/latest/manual/indexing.html>).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::WarcError;
use super::read::{StoredRecord, parse_http_response};
use super::record::{mime, sha1_label};

/// The name of the index in a crawl directory.
pub const INDEX_FILE: &str = "index.cdxj";

/// The SURT (Sort-friendly URI Reordering Transform) form of `url`, as pywb's default
/// canonicaliser (the Python `surt` package) writes it: scheme dropped, host labels (or IPv4
/// octets) reversed and comma-separated with a leading `www.` dropped, a non-default port
/// kept, `)` before the path, percent-encoding decoded but for bytes that must stay encoded,
/// query arguments sorted, fragment dropped, everything lower-cased.
/// `https://www.Example.com/a?b=1&a=2` → `com,example)/a?a=2&b=1`.
pub fn surt(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return escape(&url.trim().to_ascii_lowercase());
    };
    let Some(host) = parsed.host() else {
        return escape(&parsed.as_str().to_ascii_lowercase());
    };
    let mut out = match host {
        url::Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            let domain = strip_www(&domain);
            domain.split('.').rev().collect::<Vec<_>>().join(",")
        }
        url::Host::Ipv4(ip) => ip
            .octets()
            .iter()
            .rev()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(","),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    if let Some(port) = parsed.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push(')');
    out.push_str(&escape(&unescape(parsed.path())).to_ascii_lowercase());
    if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
        let query = escape(&unescape(query)).to_ascii_lowercase();
        let mut args: Vec<&str> = query.split('&').collect();
        args.sort_unstable();
        out.push('?');
        out.push_str(&args.join("&"));
    }
    out
}

/// Percent-decoding repeated until nothing changes (as the `surt` package's Google
/// canonicaliser does); bounded, since each round shortens the text.
fn unescape(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    loop {
        let decoded: Vec<u8> = percent_decode(&bytes);
        if decoded.len() == bytes.len() {
            return bytes;
        }
        bytes = decoded;
    }
}

fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        );
        match (bytes[i], pair) {
            (b'%', (Some(hi), Some(lo))) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Bytes that must stay encoded: controls, space, `#`, `%` and non-ASCII (so the key has no
/// space, which would end it).
fn escape(bytes: &(impl AsRef<[u8]> + ?Sized)) -> String {
    let mut out = String::new();
    for &b in bytes.as_ref() {
        if b <= 0x20 || b >= 0x7f || b == b'#' || b == b'%' {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// `www.`, `www1.`... dropped, as the `surt` package does, unless nothing would be left.
fn strip_www(domain: &str) -> &str {
    let Some(rest) = domain.strip_prefix("www") else {
        return domain;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match rest[digits..].strip_prefix('.') {
        Some(tail) if !tail.is_empty() => tail,
        _ => domain,
    }
}

/// What one CDXJ line says.
pub(crate) struct Line<'a> {
    pub url: &'a str,
    pub timestamp14: &'a str,
    pub mime: Option<&'a str>,
    pub status: u16,
    pub digest: &'a str,
    pub length: u64,
    pub offset: u64,
    pub filename: &'a str,
}

impl Line<'_> {
    /// The line, with its newline, its fields in the order pywb's `cdxj-indexer` writes them
    /// (`mime` left out when the response had no `Content-Type`, as it does). JSON string
    /// escaping keeps any URL on one line.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let text = |s: &str| serde_json::Value::from(s).to_string();
        let mut json = format!("{{\"url\": {}", text(self.url));
        if let Some(mime) = self.mime {
            json.push_str(&format!(", \"mime\": {}", text(mime)));
        }
        json.push_str(&format!(
            ", \"status\": \"{}\", \"digest\": {}, \"length\": \"{}\", \"offset\": \"{}\", \"filename\": {}}}",
            self.status,
            text(self.digest),
            self.length,
            self.offset,
            text(self.filename)
        ));
        format!("{} {} {json}\n", surt(self.url), self.timestamp14).into_bytes()
    }
}

/// The CDXJ line of a `response` or `revisit` record read back (`None` for other records or
/// an unreadable HTTP block): what the writer wrote for it, so that a resumed crawl can index
/// again the records written after its last checkpoint.
pub fn index_line(record: &StoredRecord, filename: &str) -> Option<Vec<u8>> {
    let revisit = match record.warc_type.as_str() {
        "response" => false,
        "revisit" => true,
        _ => return None,
    };
    let (status, headers, body) = parse_http_response(&record.block)?;
    let digest = match record.header("WARC-Payload-Digest") {
        Some(digest) => digest.to_owned(),
        None if revisit => "-".to_owned(),
        None => sha1_label(&[body]),
    };
    let mime = if revisit {
        Some("warc/revisit".to_owned())
    } else {
        mime(&headers)
    };
    let stamp: String = record
        .date
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    let line = Line {
        url: &record.target_uri,
        timestamp14: &stamp,
        mime: mime.as_deref(),
        status,
        digest: &digest,
        length: record.length,
        offset: record.offset,
        filename,
    };
    Some(line.to_bytes())
}

/// Sorts a CDXJ file in place (byte order, as `LC_ALL=C sort` and pywb expect): reads it
/// whole, writes the sorted lines to a temporary file beside it, syncs it and renames it over
/// the original. A cut last line is dropped first ([`repair_cdxj`]).
pub fn sort_cdxj(path: &Path) -> Result<(), WarcError> {
    repair_cdxj(path)?;
    let file = File::open(path).map_err(WarcError::io(path))?;
    let mut lines = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(WarcError::io(path))?;
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines.sort_unstable();
    let tmp = path.with_extension("cdxj.sorting");
    let mut out = BufWriter::new(File::create(&tmp).map_err(WarcError::io(&tmp))?);
    for line in &lines {
        out.write_all(line).map_err(WarcError::io(&tmp))?;
        out.write_all(b"\n").map_err(WarcError::io(&tmp))?;
    }
    let file = out.into_inner().map_err(|e| WarcError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(WarcError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(WarcError::io(path))?;
    Ok(())
}

/// Drops a cut last line (one without its newline, left by a kill mid-write); returns how
/// many bytes were removed. A missing file is left missing.
pub fn repair_cdxj(path: &Path) -> Result<u64, WarcError> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(WarcError::io(path)(e)),
    };
    let len = file.metadata().map_err(WarcError::io(path))?.len();
    // Look back in chunks for the last newline.
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    let keep = loop {
        if end == 0 {
            break 0;
        }
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .map_err(WarcError::io(path))?;
        file.read_exact(buf).map_err(WarcError::io(path))?;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            break start + i as u64 + 1;
        }
        end = start;
    };
    if keep < len {
        file.set_len(keep).map_err(WarcError::io(path))?;
        file.sync_all().map_err(WarcError::io(path))?;
    }
    Ok(len - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surt_as_pywb_writes_it() {
        assert_eq!(
            surt("https://www.Example.com/a?b=1&a=2#x"),
            "com,example)/a?a=2&b=1"
        );
        assert_eq!(surt("http://example.com"), "com,example)/");
        assert_eq!(surt("http://example.com:8080/P"), "com,example:8080)/p");
        assert_eq!(surt("https://example.com:443/"), "com,example)/");
        assert_eq!(surt("http://127.0.0.1:3000/x"), "1,0,0,127:3000)/x");
        assert_eq!(surt("http://[::1]:80/x"), "::1)/x");
        assert_eq!(surt("http://www2.sub.example.org/"), "org,example,sub)/");
        assert_eq!(surt("http://www.com/"), "com)/");
        assert_eq!(surt("http://E.com./x"), "com,e)/x");
        assert_eq!(surt("http://e.com/?"), "com,e)/");
        // Outputs of the `surt` package 0.3.1 for the same URLs:
        assert_eq!(
            surt("http://e.com/a%20b%0A%7B%22x%22%7D"),
            "com,e)/a%20b%0a{\"x\"}"
        );
        assert_eq!(surt("http://e.com/a?b&a=1&A=2"), "com,e)/a?a=1&a=2&b");
        assert_eq!(surt("http://e.com/%7e?x=%7E"), "com,e)/~?x=~");
        assert_eq!(surt("http://e.com/%25252541"), "com,e)/a");
        assert_eq!(surt("http://e.com/%"), "com,e)/%25");
    }

    #[test]
    fn lines_stay_on_one_line() {
        let line = Line {
            url: "http://e.com/a b\n{\"x\"}",
            timestamp14: "20261201180000",
            mime: Some("text/html"),
            status: 200,
            digest: "sha1:AAAA",
            length: 10,
            offset: 20,
            filename: "f.warc.gz",
        };
        let bytes = line.to_bytes();
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        let text = String::from_utf8(bytes).unwrap();
        let mut parts = text.splitn(3, ' ');
        assert_eq!(parts.next(), Some("com,e)/a%20b{\"x\"}"));
        assert_eq!(parts.next(), Some("20261201180000"));
        let json: serde_json::Value = serde_json::from_str(parts.next().unwrap()).unwrap();
        assert_eq!(json["offset"], "20");
        assert_eq!(json["status"], "200");
    }

    #[test]
    fn repair_and_sort() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        std::fs::write(&path, b"b 2 {}\na 1 {}\nc 3 {\"cut").unwrap();
        assert_eq!(repair_cdxj(&path).unwrap(), 9);
        std::fs::write(&path, b"b 2 {}\na 1 {}\nc 3 {\"cut").unwrap();
        sort_cdxj(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a 1 {}\nb 2 {}\n");
        std::fs::write(&path, b"no newline at all").unwrap();
        assert_eq!(repair_cdxj(&path).unwrap(), 17);
        assert_eq!(repair_cdxj(&dir.path().join("missing")).unwrap(), 0);
    }
}
