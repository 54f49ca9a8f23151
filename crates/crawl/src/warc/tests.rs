//! Round trips through the writer and the in-library reader, with arbitrary (hostile) input,
//! and the reader on arbitrary bytes.

use std::io::Write;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::record::sha1_label;
use super::*;

fn evidence<'a>(reasons: &'a [&'a str]) -> Evidence<'a> {
    Evidence {
        seq: 7,
        verdict: "allowed",
        reasons,
        policy_files: &[],
        found: Some((2, Some("http://example.com/from"))),
    }
}

/// Writes one exchange into a fresh directory; returns the directory and the file.
fn write_one(exchange: &Exchange) -> (tempfile::TempDir, std::path::PathBuf, Written) {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = WarcWriter::open(dir.path(), WarcOptions::default()).unwrap();
    let written = writer.write(exchange).unwrap();
    let position = writer.flush().unwrap();
    assert_eq!(position.file.as_deref(), Some(written.file.as_str()));
    let path = dir.path().join(&written.file);
    assert_eq!(position.offset, std::fs::metadata(&path).unwrap().len());
    (dir, path, written)
}

fn exchange<'a>(
    url: &'a str,
    headers: &'a [(String, Vec<u8>)],
    body: &'a [u8],
    reasons: &'a [&'a str],
) -> Exchange<'a> {
    Exchange {
        url,
        date: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_148_000),
        ip: None,
        request_headers: &[],
        http_version: "HTTP/2.0",
        status: 200,
        response_headers: headers,
        body,
        evidence: evidence(reasons),
        revisit: None,
    }
}

#[test]
fn flush_before_any_write_names_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = WarcWriter::open(dir.path(), WarcOptions::default()).unwrap();
    let position = writer.flush().unwrap();
    assert_eq!(position, Position::default());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only index.cdxj"
    );
}

#[test]
fn a_cut_cdxj_line_is_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.cdxj"), b"a 1 {}\nb 2 {\"cu").unwrap();
    let mut writer = WarcWriter::open(dir.path(), WarcOptions::default()).unwrap();
    writer
        .write(&exchange("http://e.com/", &[], b"x", &[]))
        .unwrap();
    let position = writer.flush().unwrap();
    let index = std::fs::read_to_string(dir.path().join("index.cdxj")).unwrap();
    assert_eq!(index.lines().count(), 2);
    assert!(
        index.starts_with("a 1 {}\ncom,e)/ 20261201180000 {"),
        "{index}"
    );
    assert_eq!(position.cdxj_offset, index.len() as u64);
}

#[test]
fn oversized_blocks_are_refused_not_allocated() {
    let (_dir, path, _) = write_one(&exchange("http://e.com/", &[], &[7u8; 5000], &[]));
    let limits = ReadLimits {
        max_block: 4096,
        ..ReadLimits::default()
    };
    let results: Vec<_> = records_with(&path, 0, limits).collect();
    // warcinfo and request pass; the response is refused and the iterator ends.
    assert_eq!(results.len(), 3);
    assert!(results[..2].iter().all(Result::is_ok));
    let error = results[2].as_ref().unwrap_err().to_string();
    assert!(error.contains("over the limit of 4096"), "{error}");
}

#[test]
fn a_missing_file_is_one_error() {
    let mut it = records(std::path::Path::new("/nonexistent/x.warc.gz"), 0);
    assert!(matches!(it.next(), Some(Err(WarcError::Io { .. }))));
    assert!(it.next().is_none());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the strings and bytes, the records read back whole, one field a line, with
    /// digests that recompute.
    #[test]
    fn arbitrary_exchanges_read_back(
        url in any::<String>(),
        names in proptest::collection::vec(any::<String>(), 0..6),
        values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        reason in any::<String>(),
    ) {
        let headers: Vec<(String, Vec<u8>)> = names.into_iter().zip(values).collect();
        let reasons = [reason.as_str()];
        let (_dir, path, written) = write_one(&exchange(&url, &headers, &body, &reasons));
        let all: Vec<StoredRecord> = records(&path, 0).collect::<Result<_, _>>().unwrap();
        let types: Vec<&str> = all.iter().map(|r| r.warc_type.as_str()).collect();
        prop_assert_eq!(types, vec!["warcinfo", "request", "response", "metadata"]);
        for record in &all {
            let digest = sha1_label(&[&record.block]);
            prop_assert_eq!(record.header("WARC-Block-Digest"), Some(digest.as_str()));
        }
        let response = &all[2];
        prop_assert_eq!(&response.record_id, &written.record_id);
        prop_assert_eq!((response.offset, response.length), (written.offset, written.length));
        let (status, _, stored) = parse_http_response(&response.block).unwrap();
        prop_assert_eq!(status, 200);
        prop_assert_eq!(stored, &body[..]);
        prop_assert_eq!(&written.payload_digest, &sha1_label(&[&body]));
        let metadata = String::from_utf8_lossy(&all[3].block).to_string();
        // seq, verdict, the reason, depth and found-on: one field per line, whatever the input.
        prop_assert_eq!(metadata.matches("\r\n").count(), 5);
        prop_assert_eq!(metadata.matches('\n').count(), 5);
    }

    /// Arbitrary bytes, raw or as a gzip member, give records or errors, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), gz in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.warc.gz");
        std::fs::write(&path, if gz { gzip(&bytes) } else { bytes.clone() }).unwrap();
        let limits = ReadLimits { max_block: 1 << 16, max_head: 1024 };
        prop_assert!(records_with(&path, 0, limits).take(10_000).count() <= 10_000);
        let _ = repair::repair(&path);
        let _ = parse_http_response(&bytes);
    }

    /// A real record with bytes flipped: errors, never a panic.
    #[test]
    fn damaged_records_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut plain = b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: http://e.com/\r\n\
            Content-Length: 42\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody\r\n\r\n".to_vec();
        for (at, byte) in flips {
            let i = at.index(plain.len());
            plain[i] = byte;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.warc.gz");
        std::fs::write(&path, gzip(&plain)).unwrap();
        for record in records(&path, 0).flatten() {
            let _ = parse_http_response(&record.block);
        }
    }
}
