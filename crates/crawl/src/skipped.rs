//! `skipped.jsonl`: one line per URL the crawl found but did not keep, with why (the
//! verdict and reason codes), the evidence record when one was written, and where it was
//! found. Appended as the crawl goes, made durable at each checkpoint, and read back on
//! `--resume` (the URLs after the last checkpoint are done already).

use optout_evidence::record::redact_input;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The file's name in the crawl directory.
pub const SKIPPED_FILE: &str = "skipped.jsonl";

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct SkipLine<'a> {
    /// The URL as found (credentials redacted).
    pub url: &'a str,
    /// `refused`, `discarded`, `failed` (allowed, but no content), or `skipped` (scope and
    /// limits: never judged, never requested).
    pub verdict: &'a str,
    /// Reason codes, the deciding one first.
    pub reasons: Vec<&'a str>,
    /// The evidence record, when one was written.
    pub seq: Option<u64>,
    /// Links followed from a seed.
    pub depth: u32,
    /// The page it was found on.
    pub found_on: Option<&'a str>,
    /// What a reason code alone does not say: for a host given up or a URL not sent
    /// because its server asked the host to wait, until when (`politeness.gave-up`,
    /// `crawl.host-gave-up`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

/// A summary line: a sitemap the crawl stopped reading (its limits were reached). Its URLs
/// not offered are not listed one by one (an index can list 2.5 billion); the line says how
/// many there were. Recognised by its `sitemap` member; `url` is the sitemap's.
#[derive(Clone, Debug, Serialize)]
pub struct SitemapLine<'a> {
    /// The sitemap (credentials redacted).
    pub url: &'a str,
    /// Always `skipped`.
    pub verdict: &'a str,
    /// Why the crawl stopped reading (`crawl.max-pages`).
    pub reasons: Vec<&'a str>,
    /// Always `null`: nothing was decided about the site.
    pub seq: Option<u64>,
    /// Sitemap documents are read at depth 0.
    pub depth: u32,
    /// The index that listed it (none for one named by robots.txt, or `/sitemap.xml`).
    pub found_on: Option<&'a str>,
    /// What was left of it.
    pub sitemap: SitemapState,
}

/// What was left of a sitemap: `{"read": true, "not_offered": N}` when it was read and `N`
/// of its URLs were never offered to the frontier, `{"read": false, "not_offered": null}`
/// when it was never fetched (how many URLs it lists is unknown).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SitemapState {
    /// Whether it was fetched and read.
    pub read: bool,
    /// Its URLs never offered (when read).
    pub not_offered: Option<u64>,
}

/// The report, open for appending.
pub struct SkipReport {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
}

impl SkipReport {
    /// Opens (or creates) `dir/skipped.jsonl` for appending, first cut back to `keep` bytes
    /// when given (a resume: what follows the checkpoint was replayed).
    pub fn open(dir: &Path, keep: Option<u64>) -> io::Result<SkipReport> {
        let path = dir.join(SKIPPED_FILE);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)?;
        if let Some(keep) = keep {
            file.set_len(keep.min(file.metadata()?.len()))?;
        }
        let mut file = file;
        let offset = file.seek(SeekFrom::End(0))?;
        Ok(SkipReport {
            path,
            out: BufWriter::with_capacity(64 * 1024, file),
            offset,
        })
    }

    /// Appends one line.
    pub fn write(&mut self, line: &SkipLine) -> io::Result<()> {
        let url = redact_input(line.url);
        let found_on = line.found_on.map(redact_input);
        let line = SkipLine {
            url: &url,
            found_on: found_on.as_deref(),
            ..line.clone()
        };
        self.append(&line)
    }

    /// Appends one summary line for a sitemap.
    pub fn write_sitemap(&mut self, line: &SitemapLine) -> io::Result<()> {
        let url = redact_input(line.url);
        let found_on = line.found_on.map(redact_input);
        let line = SitemapLine {
            url: &url,
            found_on: found_on.as_deref(),
            ..line.clone()
        };
        self.append(&line)
    }

    fn append(&mut self, line: &impl Serialize) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Hands what is buffered to the operating system (survives a kill, not a power cut).
    pub fn write_through(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes what is buffered and syncs it; the offset everything before is durable at.
    pub fn flush(&mut self) -> io::Result<u64> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        Ok(self.offset)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The URLs of the complete lines of `dir/skipped.jsonl` from byte `from`, and where the
/// last complete line ends (a line cut by a kill is not counted). A sitemap's summary line
/// names no URL of the frontier: left out.
pub fn replay(dir: &Path, from: u64) -> io::Result<(Vec<String>, u64)> {
    let path = dir.join(SKIPPED_FILE);
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let from = from.min(len);
    file.seek(SeekFrom::Start(from))?;
    let mut reader = BufReader::new(file);
    let mut urls = Vec::new();
    let mut end = from;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        end += n as u64;
        #[derive(serde::Deserialize)]
        struct Url {
            url: String,
            sitemap: Option<serde::de::IgnoredAny>,
        }
        match serde_json::from_slice::<Url>(&line) {
            Ok(parsed) if parsed.sitemap.is_none() => urls.push(parsed.url),
            _ => {}
        }
    }
    Ok((urls, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_a_cut_line_is_dropped_on_replay() {
        let dir = tempfile::tempdir().unwrap();
        let mut report = SkipReport::open(dir.path(), None).unwrap();
        let line = SkipLine {
            url: "http://u:p@a.example/x\n\"",
            verdict: "refused",
            reasons: vec!["robots.disallow"],
            seq: Some(4),
            depth: 1,
            found_on: Some("http://a.example/"),
            detail: None,
        };
        report.write(&line).unwrap();
        report
            .write_sitemap(&SitemapLine {
                url: "http://a.example/sitemap.xml",
                verdict: "skipped",
                reasons: vec!["crawl.max-pages"],
                seq: None,
                depth: 0,
                found_on: None,
                sitemap: SitemapState {
                    read: true,
                    not_offered: Some(49_999),
                },
            })
            .unwrap();
        let end = report.flush().unwrap();
        let text = std::fs::read_to_string(report.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with(r#""sitemap":{"read":true,"not_offered":49999}}"#),
            "{text}"
        );
        assert!(!text.contains(":p@"), "{text}");
        let mut file = OpenOptions::new().append(true).open(report.path()).unwrap();
        file.write_all(b"{\"url\":\"http://cut").unwrap();
        let (urls, replayed_end) = replay(dir.path(), 0).unwrap();
        assert_eq!(urls.len(), 1);
        assert!(urls[0].starts_with("http://***@a.example/x"), "{urls:?}");
        assert_eq!(replayed_end, end);
        let reopened = SkipReport::open(dir.path(), Some(replayed_end)).unwrap();
        assert_eq!(reopened.offset, end);
    }
}
