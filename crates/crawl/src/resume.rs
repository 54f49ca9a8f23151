//! `--resume`: bring the crawl directory back in step with the frontier's last checkpoint.
//!
//! The frontier, after a kill, is at its last checkpoint. What was written after it is
//! replayed, so nothing is lost and nothing archived is fetched twice:
//! - the WARC files written since the checkpoint are checked against it (the bytes it made
//!   durable read as whole records and end on a record boundary; a file created after it was
//!   created by this crawl), and a record cut by the kill at the end of a file is removed,
//!   with the unfinished exchange it belonged to. Any other damage stops the resume before
//!   anything is changed ([`ResumeError`]): a repair never removes a record that is whole;
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
use std::io::{Read, Seek, SeekFrom, Write};
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

/// Whose WARC files a resume may read and repair: those this crawl wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct Owner<'a> {
    /// The crawl's id, written in the `warcinfo` record of each of its files
    /// ([`CRAWL_ID_FIELD`]); `None` for a crawl begun before ids were written.
    pub crawl_id: Option<&'a str>,
    /// The writer's file name prefix (`{prefix}-{stamp}-{serial}.warc.gz`).
    pub prefix: &'a str,
}

/// The `warcinfo` field that names the crawl a WARC file belongs to.
pub const CRAWL_ID_FIELD: &str = "optout-crawl-id";

/// Why a crawl directory is not resumed. Nothing in it was changed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// A WARC file is damaged other than by a write cut short at its end.
    #[error(
        "cannot resume: {0}; nothing was changed (the damage is not a write cut short: restore the file or move it out of the crawl directory)"
    )]
    Damaged(warc::WarcError),
    /// A WARC file this crawl did not write, or cannot tell it wrote.
    #[error("cannot resume: {} was not written by this crawl ({why}); nothing was changed (move it out of the crawl directory)", path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What does not match.
        why: String,
    },
    /// A file is shorter than its last checkpoint made durable, or is missing.
    #[error("cannot resume: {} {what}; nothing was changed", path.display())]
    Lost {
        /// The file.
        path: PathBuf,
        /// What is lost.
        what: String,
    },
}

/// A WARC file a resume reads after the checkpoint, and its repair.
struct Planned {
    path: PathBuf,
    name: String,
    from: u64,
    repair: warc::Repair,
}

/// Replays `dir` after the frontier's last checkpoint (see the module text). Everything is
/// checked before anything is changed: a WARC file is only cut where a write was cut short
/// at its end ([`warc::plan_repair`]), and only if this crawl wrote it (`owner`); any other
/// damage, a file the crawl did not write and a file shorter than the checkpoint made
/// durable are a [`ResumeError`], with the directory left as it was.
pub async fn replay(
    dir: &Path,
    frontier: &dyn Frontier,
    links: Option<&LinkOptions>,
    owner: Owner<'_>,
) -> Result<Replayed, CrawlError> {
    let checkpoint = frontier
        .checkpoint_meta()
        .await?
        .and_then(|m| Checkpoint::from_bytes(&m))
        .unwrap_or_default();
    let index = dir.join(warc::INDEX_FILE);
    check_index(&index, checkpoint.cdxj_offset)?;
    let skipped_len = len_of(&dir.join(skipped::SKIPPED_FILE))?;
    if skipped_len.unwrap_or(0) < checkpoint.skipped_offset {
        return Err(lost(
            &dir.join(skipped::SKIPPED_FILE),
            skipped_len,
            checkpoint.skipped_offset,
        ));
    }
    let planned = plan_files(dir, &checkpoint, owner)?;

    // Checked: now the changes.
    let mut replayed = Replayed::default();
    if index.exists() {
        let file = OpenOptions::new().write(true).open(&index).map_err(io)?;
        file.set_len(checkpoint.cdxj_offset).map_err(io)?;
    }
    let mut index_out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&index)
        .map_err(io)?;
    for Planned {
        path,
        name,
        from,
        repair,
    } in planned
    {
        replayed.repaired_bytes += repair.apply()?.removed;
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
                        replay_page(frontier, &page, &meta, links, &mut replayed).await?;
                    }
                }
                _ => {}
            }
        }
    }
    index_out.sync_data().map_err(io)?;
    let (urls, end) = skipped::replay(dir, checkpoint.skipped_offset).map_err(io)?;
    for url in &urls {
        frontier.mark_done(url).await?;
    }
    replayed.skipped = urls.len() as u64;
    replayed.skipped_end = end;
    replayed.checkpoint = checkpoint;
    Ok(replayed)
}

/// The WARC files written since the checkpoint (the checkpoint's own, from its offset, and
/// every later one, whole), each checked and its repair decided. Files before the
/// checkpoint's were closed before it and are neither read nor changed.
fn plan_files(
    dir: &Path,
    checkpoint: &Checkpoint,
    owner: Owner,
) -> Result<Vec<Planned>, CrawlError> {
    let files = warc_files(dir).map_err(io)?;
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let start = match &checkpoint.warc_file {
        None => 0,
        Some(known) => files
            .iter()
            .position(|p| name_of(p) == *known)
            .ok_or_else(|| lost(&dir.join(known), None, checkpoint.warc_offset))?,
    };
    let known_serial = checkpoint
        .warc_file
        .as_deref()
        .and_then(|n| warc::serial_of(n, owner.prefix));
    let mut planned = Vec::new();
    for (i, path) in files.into_iter().enumerate().skip(start) {
        let name = name_of(&path);
        let is_known = i == start && checkpoint.warc_file.is_some();
        let durable = if is_known { checkpoint.warc_offset } else { 0 };
        if !is_known {
            // Created after the checkpoint: by this crawl's writer, or not ours to touch.
            let later = warc::serial_of(&name, owner.prefix)
                .is_some_and(|s| known_serial.is_none_or(|k| s > k));
            if !later {
                return Err(foreign(
                    &path,
                    "no checkpoint knows it and its name is not one the crawl would give next",
                ));
            }
        }
        let repair = warc::plan_repair(&path, durable).map_err(|e| match e {
            warc::WarcError::Corrupt { .. } => CrawlError::Resume(ResumeError::Damaged(e)),
            e => CrawlError::Warc(e),
        })?;
        if let Err(why) = owned(&repair, &name, owner) {
            return Err(foreign(&path, &why));
        }
        planned.push(Planned {
            path,
            name,
            from: durable,
            repair,
        });
    }
    Ok(planned)
}

/// Whether the file's first record is the `warcinfo` this crawl's writer wrote in it.
fn owned(repair: &warc::Repair, name: &str, owner: Owner) -> Result<(), String> {
    let Some(first) = &repair.first else {
        return Err("its first record is not complete, so it cannot be told apart".to_owned());
    };
    if first.warc_type != "warcinfo" {
        return Err(format!(
            "it starts with a {} record, not warcinfo",
            first.warc_type
        ));
    }
    if first.header("WARC-Filename") != Some(name) {
        return Err("its warcinfo record names another file".to_owned());
    }
    if let Some(id) = owner.crawl_id {
        let block = String::from_utf8_lossy(&first.block);
        if field(&block, CRAWL_ID_FIELD) != Some(id) {
            return Err(format!("its warcinfo record has no {CRAWL_ID_FIELD}: {id}"));
        }
    }
    Ok(())
}

/// `index.cdxj` holds at least the `durable` bytes the checkpoint made durable, ending a line.
fn check_index(index: &Path, durable: u64) -> Result<(), CrawlError> {
    if durable == 0 {
        return Ok(());
    }
    let len = len_of(index)?;
    if len.unwrap_or(0) < durable {
        return Err(lost(index, len, durable));
    }
    let mut file = std::fs::File::open(index).map_err(io)?;
    let mut last = [0u8];
    file.seek(SeekFrom::Start(durable - 1)).map_err(io)?;
    file.read_exact(&mut last).map_err(io)?;
    if last != *b"\n" {
        return Err(CrawlError::Resume(ResumeError::Lost {
            path: index.to_owned(),
            what: format!(
                "does not end a line at offset {durable}, where the last checkpoint left it"
            ),
        }));
    }
    Ok(())
}

/// The length of `path`; `None` when it is missing.
fn len_of(path: &Path) -> Result<Option<u64>, CrawlError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

fn lost(path: &Path, len: Option<u64>, durable: u64) -> CrawlError {
    let what = match len {
        None => format!("is missing, but the last checkpoint made {durable} bytes of it durable"),
        Some(len) => format!(
            "is {len} bytes long, shorter than the {durable} bytes the last checkpoint made durable"
        ),
    };
    CrawlError::Resume(ResumeError::Lost {
        path: path.to_owned(),
        what,
    })
}

fn foreign(path: &Path, why: &str) -> CrawlError {
    CrawlError::Resume(ResumeError::Foreign {
        path: path.to_owned(),
        why: why.to_owned(),
    })
}

/// One archived page after the checkpoint: done, and its links offered again.
async fn replay_page(
    frontier: &dyn Frontier,
    page: &StoredRecord,
    meta: &str,
    links: Option<&LinkOptions>,
    replayed: &mut Replayed,
) -> Result<(), CrawlError> {
    frontier.mark_done(&page.target_uri).await?;
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
    let tags = super::visit::RobotsHeaders {
        x_robots_tag: &header("x-robots-tag"),
        robots_tag: &header("robots-tag"),
    };
    let found = super::visit::links_of(
        tags,
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
