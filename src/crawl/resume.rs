//! `--resume`: bring the crawl directory back in step with the frontier's last checkpoint.
//!
//! The frontier, after a kill, is at its last checkpoint. What was written after it is
//! replayed, so nothing is lost and nothing archived is fetched twice:
//! - each WARC file is repaired (a record cut by the kill is removed, with the unfinished
//!   exchange it belonged to);
//! - every page archived after the checkpoint is marked done and its links are offered
//!   again (at the depth its metadata record gives);
//! - the CDXJ index is cut back to the checkpoint and re-indexed from those records;
//! - every URL in `skipped.jsonl` after the checkpoint is marked done, and a cut last line
//!   is dropped.

use super::checkpoint::Checkpoint;
use super::frontier::{Candidate, Frontier, Via};
use super::links::LinkOptions;
use super::warc::{self, StoredRecord};
use super::{CrawlError, skipped};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use url::Url;

/// What a replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The checkpoint replayed from.
    pub checkpoint: Checkpoint,
    /// Pages archived after it.
    pub pages: u64,
    /// URLs reported skipped after it.
    pub skipped: u64,
    /// Where the skip report's complete lines end.
    pub skipped_end: u64,
    /// Links of the replayed pages, to offer again.
    pub links: Vec<Candidate>,
    /// Bytes removed from WARC files cut mid-record.
    pub repaired_bytes: u64,
}

/// The WARC files of `dir`, in the order they were written (by serial, then name).
pub fn warc_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".warc.gz"))
        .map(|p| {
            let serial = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".warc.gz"))
                .and_then(|n| n.rsplit('-').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX);
            (serial, p)
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// The value of `name` in a `metadata` record's `application/warc-fields` block.
fn field<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Replays `dir` after the frontier's last checkpoint (see the module text).
pub fn replay(
    dir: &Path,
    frontier: &dyn Frontier,
    links: Option<&LinkOptions>,
) -> Result<Replayed, CrawlError> {
    let checkpoint = frontier
        .checkpoint_meta()?
        .and_then(|m| Checkpoint::from_bytes(&m))
        .unwrap_or_default();
    let mut replayed = Replayed::default();
    let index = dir.join(warc::INDEX_FILE);
    if index.exists() {
        let file = OpenOptions::new().write(true).open(&index).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        file.set_len(checkpoint.cdxj_offset.min(len)).map_err(io)?;
    }
    let mut index_out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&index)
        .map_err(io)?;
    let mut started = checkpoint.warc_file.is_none();
    for path in warc_files(dir).map_err(io)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let from = if checkpoint.warc_file.as_deref() == Some(name.as_str()) {
            started = true;
            checkpoint.warc_offset
        } else if started {
            0
        } else {
            continue;
        };
        replayed.repaired_bytes += warc::repair(&path)?.removed;
        let mut response: Option<StoredRecord> = None;
        for record in warc::records(&path, from) {
            let record = record?;
            match record.warc_type.as_str() {
                "response" | "revisit" => {
                    if let Some(line) = warc::index_line(&record, &name) {
                        index_out.write_all(&line).map_err(io)?;
                    }
                    response = Some(record);
                }
                "metadata" => {
                    if let Some(page) = response.take() {
                        let meta = String::from_utf8_lossy(&record.block).into_owned();
                        replay_page(frontier, &page, &meta, links, &mut replayed)?;
                    }
                }
                _ => {}
            }
        }
    }
    index_out.sync_data().map_err(io)?;
    let (urls, end) = skipped::replay(dir, checkpoint.skipped_offset).map_err(io)?;
    for url in &urls {
        frontier.mark_done(url)?;
    }
    replayed.skipped = urls.len() as u64;
    replayed.skipped_end = end;
    replayed.checkpoint = checkpoint;
    Ok(replayed)
}

/// One archived page after the checkpoint: done, and its links offered again.
fn replay_page(
    frontier: &dyn Frontier,
    page: &StoredRecord,
    meta: &str,
    links: Option<&LinkOptions>,
    replayed: &mut Replayed,
) -> Result<(), CrawlError> {
    frontier.mark_done(&page.target_uri)?;
    replayed.pages += 1;
    let (Some(options), "response") = (links, page.warc_type.as_str()) else {
        return Ok(());
    };
    let depth: u32 = field(meta, "optout-depth")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let Ok(url) = Url::parse(&page.target_uri) else {
        return Ok(());
    };
    let Some((_, headers, body)) = warc::parse_http_response(&page.block) else {
        return Ok(());
    };
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .collect::<Vec<_>>()
    };
    let found = super::visit::links_of(
        &header("x-robots-tag"),
        header("content-type").first().copied(),
        body,
        &url,
        options,
    );
    replayed
        .links
        .extend(found.follow.into_iter().map(|link| Candidate {
            url: link.to_string(),
            depth: depth + 1,
            found_on: Some(page.target_uri.clone()),
            via: Via::Link,
            validators: None,
            redirects: 0,
        }));
    Ok(())
}

fn io(e: std::io::Error) -> CrawlError {
    CrawlError::Io(e)
}
