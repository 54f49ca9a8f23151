//! The WARC files optout writes, read back by an independent reader: the `warc` crate
//! (its reader only), each gzip member decoded by `flate2`, digests recomputed here with
//! `sha1` and `data-encoding`. `warcio check` and `warcio index` are run on the same kind of
//! files by `.ci/run`.

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flate2::read::{GzDecoder, MultiGzDecoder};
use optout::crawl::warc::{
    Evidence, Exchange, Revisit, WarcOptions, WarcWriter, Written, index_line, records, repair,
    surt,
};
use sha1::{Digest, Sha1};
use warc::{BufferedBody, Record, RecordType, WarcHeader, WarcReader};

/// One page to write, owning its parts.
struct Page {
    url: String,
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    reasons: Vec<&'static str>,
    revisit_of: Option<usize>,
}

fn page(url: &str, headers: &[(&str, &[u8])], body: Vec<u8>) -> Page {
    Page {
        url: url.to_owned(),
        status: 200,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
            .collect(),
        body,
        reasons: vec!["robots.allow", "tdmrep.none"],
        revisit_of: None,
    }
}

/// Bytes no compressor shrinks much (a fixed LCG).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

fn pages() -> Vec<Page> {
    let html: &[(&str, &[u8])] = &[("Content-Type", b"text/html; charset=utf-8")];
    let mut binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    binary.extend_from_slice(b"\r\n\r\nWARC/1.1\r\nWARC-Type: response\r\n\r\n");
    let mut pages = vec![
        page("http://127.0.0.1:8080/", html, b"<a href=/a>a</a>".to_vec()),
        page(
            "http://127.0.0.1:8080/hostile",
            &[
                ("Content-Type", b"text/plain"),
                ("X-Evil", b"a\r\nWARC-Type: response\r\n\r\nWARC/1.1"),
                ("Bad Name\r\n:", b"v"),
                ("X-Latin", b"caf\xe9 \xff\x00"),
                ("Content-Encoding", b"gzip"),
                ("Transfer-Encoding", b"chunked"),
                ("Content-Length", b"12"),
            ],
            b"decoded body".to_vec(),
        ),
        page(
            "http://127.0.0.1:8080/a b\r\nWARC-Type: x?q=\u{0}\"<>\u{e9}#f",
            html,
            b"spaces".to_vec(),
        ),
        page("not even a url\r\n\r\n", &[], b"x".to_vec()),
        page("http://www.Example.com:8080/Empty?b=2&a=1", &[], Vec::new()),
        page(
            "http://127.0.0.1:8080/binary",
            &[("Content-Type", b"application/octet-stream")],
            binary,
        ),
        page(
            "http://127.0.0.1:8080/big",
            &[("Content-Type", b"application/pdf")],
            noise(2 << 20),
        ),
    ];
    let mut revisit = page("http://127.0.0.1:8080/", &[("ETag", b"\"v1\"")], Vec::new());
    revisit.status = 304;
    revisit.revisit_of = Some(0);
    pages.push(revisit);
    pages[1].reasons = vec!["robots.allow", "hostile\r\noptout-verdict: refused"];
    for i in 0..6 {
        pages.push(page(
            &format!("http://127.0.0.2:8081/p{i}"),
            html,
            format!("<p>{i}</p>").into_bytes(),
        ));
    }
    pages
}

/// Writes `pages` into `dir` with the given rotation size.
fn write(dir: &Path, pages: &[Page], max_file_bytes: u64) -> Vec<Written> {
    let options = WarcOptions {
        max_file_bytes,
        warcinfo_fields: vec![("operator".into(), "tests\r\nevil: yes".into())],
        ..WarcOptions::default()
    };
    let mut writer = WarcWriter::open(dir, options).unwrap();
    let request_headers = vec![
        ("Host".to_owned(), "127.0.0.1:8080".to_owned()),
        (
            "User-Agent".to_owned(),
            "optout-test\r\nX-Injected: 1".to_owned(),
        ),
    ];
    let policy = vec![(
        "robots.txt".to_owned(),
        "http://127.0.0.1:8080/robots.txt".to_owned(),
        "ab".repeat(32),
    )];
    let mut written: Vec<Written> = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let original = p.revisit_of.map(|o| (&pages[o], written[o].clone()));
        let refers_date = "2026-12-01T18:00:00Z";
        let exchange = Exchange {
            url: &p.url,
            date: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_148_000 + i as u64),
            ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            request_headers: &request_headers,
            http_version: "HTTP/1.1",
            status: p.status,
            response_headers: &p.headers,
            body: &p.body,
            evidence: Evidence {
                seq: i as u64 + 1,
                verdict: "allowed",
                reasons: &p.reasons,
                policy_files: &policy,
                found: None,
            },
            revisit: original.as_ref().map(|(o, w)| Revisit {
                refers_to_uri: &o.url,
                refers_to_date: refers_date,
                refers_to: Some(&w.record_id),
                payload_digest: Some(&w.payload_digest),
            }),
        };
        written.push(writer.write(&exchange).unwrap());
    }
    writer.flush().unwrap();
    written
}

/// With `OPTOUT_KEEP_WARC=DIR`, the files a test wrote are copied to `DIR/{name}/`, for
/// `warcio check` and `warcio index` (run by `.ci/run`, not by `cargo test`).
fn keep(dir: &Path, name: &str) {
    let Some(to) = std::env::var_os("OPTOUT_KEEP_WARC") else {
        return;
    };
    let to = Path::new(&to).join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

fn warc_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".warc.gz"))
        .collect();
    files.sort();
    files
}

/// Every record of a file, by the independent reader over all its gzip members.
fn read_all(path: &Path) -> Vec<Record<BufferedBody>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = WarcReader::new(BufReader::new(MultiGzDecoder::new(file)));
    reader
        .iter_records()
        .map(|r| r.expect("the warc crate reads every record"))
        .collect()
}

/// The one record of the gzip member at `offset`, `length` bytes long.
fn read_member(path: &Path, offset: u64, length: u64) -> Record<BufferedBody> {
    let bytes = std::fs::read(path).unwrap();
    let member = &bytes[offset as usize..(offset + length) as usize];
    let mut decoded = Vec::new();
    let mut gz = GzDecoder::new(member);
    gz.read_to_end(&mut decoded).unwrap();
    let reader = WarcReader::new(BufReader::new(&decoded[..]));
    let mut all: Vec<_> = reader.iter_records().map(Result::unwrap).collect();
    assert_eq!(all.len(), 1, "one record per gzip member");
    all.remove(0)
}

fn sha1_label(bytes: &[u8]) -> String {
    format!(
        "sha1:{}",
        data_encoding::BASE32.encode(&Sha1::digest(bytes))
    )
}

fn header(record: &Record<BufferedBody>, name: WarcHeader) -> String {
    record
        .header(name)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The body of an HTTP response block: after the first blank line.
fn http_body(block: &[u8]) -> &[u8] {
    let end = block
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header section");
    &block[end + 4..]
}

#[test]
fn written_files_read_back_with_an_independent_reader() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages();
    let written = write(dir.path(), &pages, 2 * 1024);
    let files = warc_files(dir.path());
    assert!(files.len() >= 4, "rotation at 2 KiB: {files:?}");

    let mut by_id: HashMap<String, (PathBuf, Record<BufferedBody>)> = HashMap::new();
    for path in &files {
        let all = read_all(path);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(all[0].warc_type(), &RecordType::WarcInfo);
        assert_eq!(header(&all[0], WarcHeader::Filename), name);
        let info = String::from_utf8_lossy(all[0].body()).to_string();
        assert!(info.contains("format: WARC File Format 1.1\r\n"), "{info}");
        assert!(info.contains("operator: tests  evil: yes\r\n"), "{info}");
        let ids: HashSet<String> = all.iter().map(|r| r.warc_id().to_owned()).collect();
        assert_eq!(ids.len(), all.len(), "record ids are unique");
        for record in &all {
            assert_eq!(record.warc_version(), "1.1");
            assert_eq!(
                header(record, WarcHeader::BlockDigest),
                sha1_label(record.body())
            );
            let date = header(record, WarcHeader::Date);
            assert!(date.len() == 20 && date.ends_with('Z'), "{date}");
            if record.warc_type() != &RecordType::WarcInfo {
                assert_eq!(header(record, WarcHeader::WarcInfoID), all[0].warc_id());
                let uri = header(record, WarcHeader::TargetURI);
                assert!(!uri.bytes().any(|b| b <= b' ' || b >= 0x7f), "{uri:?}");
            }
            if let Some(to) = record.header(WarcHeader::ConcurrentTo) {
                let target = all
                    .iter()
                    .find(|r| r.warc_id() == to)
                    .expect("concurrent-to resolves");
                assert!(matches!(
                    target.warc_type(),
                    RecordType::Response | RecordType::Revisit
                ));
            }
            by_id.insert(record.warc_id().to_owned(), (path.clone(), record.clone()));
        }
    }

    for (p, w) in pages.iter().zip(&written) {
        let (path, record) = &by_id[&w.record_id];
        assert_eq!(path.file_name().unwrap().to_string_lossy(), w.file);
        assert_eq!(read_member(path, w.offset, w.length).warc_id(), w.record_id);
        let body = http_body(record.body());
        assert_eq!(body, &p.body[..], "{}: the body byte for byte", p.url);
        let head = String::from_utf8_lossy(&record.body()[..record.body().len() - body.len()]);
        for line in head.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
            assert!(line.contains(": "), "{line:?}");
            assert!(!line.starts_with("WARC"), "{line:?}");
        }
        if let Some(of) = p.revisit_of {
            assert_eq!(record.warc_type(), &RecordType::Revisit);
            assert!(head.starts_with("HTTP/1.1 304 Not Modified\r\n"), "{head}");
            let original = &written[of];
            assert_eq!(header(record, WarcHeader::RefersTo), original.record_id);
            assert_eq!(
                header(record, WarcHeader::PayloadDigest),
                original.payload_digest
            );
            assert_eq!(
                header(record, WarcHeader::Profile),
                "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
            );
        } else {
            assert_eq!(record.warc_type(), &RecordType::Response);
            // Left out where readers would not find the payload: not an http: URI.
            let expected = if p.url.starts_with("http:") {
                sha1_label(&p.body)
            } else {
                String::new()
            };
            assert_eq!(header(record, WarcHeader::PayloadDigest), expected);
            assert_eq!(w.payload_digest, sha1_label(&p.body));
            assert!(
                head.contains(&format!("\r\nContent-Length: {}\r\n", p.body.len())),
                "{head}"
            );
        }
    }
    let hostile = &by_id[&written[1].record_id].1;
    let head = String::from_utf8_lossy(hostile.body()).to_string();
    assert!(
        head.contains("\r\nX-Crawler-Content-Encoding: gzip\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Crawler-Transfer-Encoding: chunked\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Crawler-Content-Length: 12\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Evil: a  WARC-Type: response    WARC/1.1\r\n"),
        "{head}"
    );

    // The metadata records: one field a line, hostile codes included.
    let metadata: Vec<&Record<BufferedBody>> = by_id
        .values()
        .map(|(_, r)| r)
        .filter(|r| r.warc_type() == &RecordType::Metadata)
        .collect();
    assert_eq!(metadata.len(), pages.len());
    let of_hostile = metadata
        .iter()
        .find(|r| header(r, WarcHeader::ConcurrentTo) == written[1].record_id)
        .unwrap();
    let fields = String::from_utf8(of_hostile.body().to_vec()).unwrap();
    let expected = format!(
        "optout-evidence-seq: 2\r\noptout-verdict: allowed\r\noptout-reason: robots.allow\r\n\
         optout-reason: hostile  optout-verdict: refused\r\n\
         optout-policy-file: robots.txt http://127.0.0.1:8080/robots.txt sha256:{}\r\n",
        "ab".repeat(32)
    );
    assert_eq!(fields, expected);

    check_cdxj(dir.path(), &pages, &written);
    keep(dir.path(), "rotation");
}

/// One CDXJ line per exchange, each pointing at its response or revisit record.
fn check_cdxj(dir: &Path, pages: &[Page], written: &[Written]) {
    let index = std::fs::read_to_string(dir.join("index.cdxj")).unwrap();
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines.len(), pages.len());
    for (line, w) in lines.iter().zip(written) {
        let mut parts = line.splitn(3, ' ');
        let (key, stamp) = (parts.next().unwrap(), parts.next().unwrap());
        let json: serde_json::Value = serde_json::from_str(parts.next().unwrap()).unwrap();
        let field = |name: &str| json[name].as_str().unwrap().to_owned();
        assert_eq!(field("filename"), w.file);
        assert_eq!(field("offset"), w.offset.to_string());
        assert_eq!(field("length"), w.length.to_string());
        assert_eq!(field("digest"), w.payload_digest);
        let record = read_member(&dir.join(&w.file), w.offset, w.length);
        assert_eq!(record.warc_id(), w.record_id);
        assert_eq!(header(&record, WarcHeader::TargetURI), field("url"));
        assert_eq!(key, surt(&field("url")));
        assert_eq!(stamp.len(), 14);
        let status = &String::from_utf8_lossy(record.body())[9..12];
        assert_eq!(field("status"), status);
    }
}

#[test]
fn reopening_continues_numbering_and_never_touches_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages();
    write(dir.path(), &pages[..1], 1 << 30);
    let first = warc_files(dir.path());
    assert_eq!(first.len(), 1);
    let before = std::fs::read(&first[0]).unwrap();
    write(dir.path(), &pages[1..2], 1 << 30);
    let files = warc_files(dir.path());
    assert_eq!(files.len(), 2);
    assert!(
        files[0].to_string_lossy().ends_with("-00000.warc.gz"),
        "{files:?}"
    );
    assert!(
        files[1].to_string_lossy().ends_with("-00001.warc.gz"),
        "{files:?}"
    );
    assert_eq!(std::fs::read(&files[0]).unwrap(), before);
    let index = std::fs::read_to_string(dir.path().join("index.cdxj")).unwrap();
    assert_eq!(index.lines().count(), 2);
    keep(dir.path(), "reopened");
}

#[test]
fn files_cut_anywhere_are_repaired_to_whole_exchanges() {
    let dir = tempfile::tempdir().unwrap();
    let mut pages = pages();
    pages.retain(|p| p.body.len() < 10_000 && p.revisit_of.is_none());
    write(dir.path(), &pages, 1 << 30);
    let path = warc_files(dir.path()).remove(0);
    let whole = std::fs::read(&path).unwrap();
    // The ends of whole exchanges: after the warcinfo, and after each metadata record.
    let ends: Vec<u64> = records(&path, 0)
        .map(Result::unwrap)
        .filter(|r| r.warc_type == "warcinfo" || r.warc_type == "metadata")
        .map(|r| r.offset + r.length)
        .collect();
    assert_eq!(ends.len(), pages.len() + 1);
    assert_eq!(*ends.last().unwrap(), whole.len() as u64);

    let cut_path = dir.path().join("cut.warc.gz");
    let mut cuts: Vec<u64> = (0..whole.len() as u64).step_by(29).collect();
    cuts.extend(ends.iter().flat_map(|&e| [e.saturating_sub(1), e, e + 1]));
    cuts.push(whole.len() as u64);
    for cut in cuts.into_iter().filter(|&c| c <= whole.len() as u64) {
        std::fs::write(&cut_path, &whole[..cut as usize]).unwrap();
        let repaired = repair(&cut_path).unwrap();
        let expected = ends
            .iter()
            .copied()
            .filter(|&e| e <= cut)
            .max()
            .unwrap_or(0);
        assert_eq!(repaired.kept, expected, "cut at {cut}");
        assert_eq!(repaired.removed, cut - expected);
        let after = std::fs::read(&cut_path).unwrap();
        assert_eq!(after, &whole[..expected as usize]);
        let exchanges = ends
            .iter()
            .filter(|&&e| e <= expected)
            .count()
            .saturating_sub(1);
        if expected > 0 {
            let all = read_all(&cut_path);
            assert_eq!(all.len(), 1 + 3 * exchanges, "cut at {cut}");
            assert_eq!(repaired.records, all.len() as u64);
        }
        // Repairing again changes nothing.
        assert_eq!(repair(&cut_path).unwrap().removed, 0);
    }
    // A file cut inside the third exchange, repaired, for warcio.
    std::fs::write(&cut_path, &whole[..ends[2] as usize + 7]).unwrap();
    repair(&cut_path).unwrap();
    keep(dir.path(), "repaired");
}

#[test]
fn the_library_reader_agrees_and_starts_at_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages();
    let written = write(dir.path(), &pages, 1 << 30);
    let path = dir.path().join(&written[0].file);
    let all: Vec<_> = records(&path, 0).map(Result::unwrap).collect();
    assert_eq!(all.len(), 1 + 3 * pages.len());
    let independent = read_all(&path);
    for (ours, theirs) in all.iter().zip(&independent) {
        assert_eq!(ours.record_id, theirs.warc_id());
        assert_eq!(ours.block, theirs.body());
    }
    // Indexing again what was read back gives the lines the writer wrote.
    let index = std::fs::read(dir.path().join("index.cdxj")).unwrap();
    let again: Vec<u8> = all
        .iter()
        .filter_map(|r| index_line(r, &written[0].file))
        .flatten()
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&index)
    );
    let from = records(&path, written[3].offset).next().unwrap().unwrap();
    assert_eq!(from.record_id, written[3].record_id);
    assert_eq!(from.target_uri, "not%20even%20a%20url%0D%0A%0D%0A");
    let (status, _, body) = optout::crawl::warc::parse_http_response(&from.block).unwrap();
    assert_eq!((status, body), (200, &b"x"[..]));
}
