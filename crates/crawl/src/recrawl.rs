//! `--recrawl`: the pages of an earlier crawl fetched again with the validators they came
//! with (`If-None-Match`, `If-Modified-Since`; RFC 9110 §13.1, as the IETF crawler
//! best-practices draft asks), every policy judged anew, into new WARC files. A 304 becomes
//! a `revisit` record that refers to the earlier capture.

use super::archive::Earlier;
use super::checkpoint::Checkpoint;
use super::frontier::{Candidate, Frontier, Validators, Via};
use super::resume::warc_files;
use super::{CrawlError, skipped, warc};
use std::collections::HashMap;
use std::path::Path;

/// The earlier crawl: each page's capture, and the candidates to fetch again.
#[derive(Default)]
pub struct EarlierCrawl {
    /// URL → its latest capture.
    pub pages: HashMap<String, Earlier>,
    /// One candidate per page, with its validators (only when `queue` was asked).
    pub candidates: Vec<Candidate>,
}

/// Reads every `response` record of the WARC files in `dir`. Candidates are made when the
/// re-crawl is new (`frontier` given), not when it is resumed (they are queued already).
pub fn earlier(dir: &Path, frontier: Option<&dyn Frontier>) -> Result<EarlierCrawl, CrawlError> {
    let mut crawl = EarlierCrawl::default();
    for path in warc_files(dir).map_err(CrawlError::Io)? {
        for record in warc::records(&path, 0) {
            let record = record?;
            if record.warc_type != "response" {
                continue;
            }
            let header = |name: &str| -> Option<String> {
                let (_, headers, _) = warc::parse_http_response(&record.block)?;
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| String::from_utf8(v.clone()).ok())
            };
            let validators = Validators {
                etag: header("etag"),
                last_modified: header("last-modified"),
            };
            let capture = Earlier {
                record_id: Some(record.record_id.clone()),
                date: record.date.clone(),
                payload_digest: record.header("WARC-Payload-Digest").map(str::to_owned),
            };
            let url = record.target_uri.clone();
            if crawl.pages.insert(url.clone(), capture).is_none() && frontier.is_some() {
                let any = validators.etag.is_some() || validators.last_modified.is_some();
                crawl.candidates.push(Candidate {
                    url,
                    depth: 0,
                    found_on: None,
                    via: Via::Seed,
                    validators: any.then_some(validators),
                    redirects: 0,
                });
            }
        }
    }
    Ok(crawl)
}

/// A new re-crawl's frontier starts checkpointed at the end of what is in `dir`, so that a
/// resume replays only what the re-crawl wrote.
pub async fn start_after_existing(dir: &Path, frontier: &dyn Frontier) -> Result<(), CrawlError> {
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let last = warc_files(dir).map_err(CrawlError::Io)?.pop();
    let checkpoint = Checkpoint {
        warc_file: last
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
        warc_offset: last.as_deref().map_or(0, len),
        cdxj_offset: len(&dir.join(warc::INDEX_FILE)),
        skipped_offset: len(&dir.join(skipped::SKIPPED_FILE)),
        kept: 0,
    };
    frontier.checkpoint(&checkpoint.to_bytes()).await?;
    Ok(())
}
