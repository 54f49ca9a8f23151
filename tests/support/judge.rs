//! The judges of a crawl over the farm (`farm.rs`): the servers' request logs, the WARC files
//! (read back by `warc_check.rs`), `skipped.jsonl` and every byte under the crawl directory.
//! Each judge collects problems that name the URL, host and interval at fault, so that one
//! failing test says everything that went wrong at once.
//!
//! Also runs the real binary: [`CrawlDir`] holds a crawl's directory and configuration.

#![allow(dead_code)]

use crate::farm::{Expect, Expected, Farm, POLICY_PATHS, Requests, split};
use crate::server::Seen;
use crate::warc_check::{self, WarcRecord};

#[path = "crawl_run.rs"]
mod run;
#[allow(unused_imports)]
pub use run::{CrawlDir, Report, log_verify, summary_line, tail, wait_output};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// One line of `skipped.jsonl`.
#[derive(Clone, Debug)]
pub struct Skip {
    /// `url`.
    pub url: String,
    /// `verdict`.
    pub verdict: String,
    /// `reasons` (codes; objects with a `code` are read as their code).
    pub reasons: Vec<String>,
    /// `seq`.
    pub seq: Option<u64>,
    /// `depth`.
    pub depth: Option<u64>,
    /// `found_on`.
    pub found_on: Option<String>,
}

/// The lines of `DIR/skipped.jsonl` (empty when there is none); a line that is not the
/// documented JSON is a problem.
pub fn read_skipped(dir: &Path, report: &mut Report) -> Vec<Skip> {
    let Ok(text) = std::fs::read_to_string(dir.join("skipped.jsonl")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                report.push(format!(
                    "skipped.jsonl line {}: not JSON ({e}): {line}",
                    i + 1
                ));
                continue;
            }
        };
        let reasons = v["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().or_else(|| r["code"].as_str()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let (Some(url), Some(verdict)) = (v["url"].as_str(), v["verdict"].as_str()) else {
            report.push(format!(
                "skipped.jsonl line {}: no url or verdict: {line}",
                i + 1
            ));
            continue;
        };
        out.push(Skip {
            url: url.to_owned(),
            verdict: verdict.to_owned(),
            reasons,
            seq: v["seq"].as_u64(),
            depth: v["depth"].as_u64(),
            found_on: v["found_on"].as_str().map(str::to_owned),
        });
    }
    out
}

/// Every request the farm saw: `(url, request)` in arrival order per server.
pub fn all_requests(farm: &Farm) -> Vec<(String, Seen)> {
    let mut out = Vec::new();
    for server in farm.hosts.iter().flat_map(|h| h.servers.iter()) {
        for seen in server.requests() {
            let mut url = format!("{}{}", server.origin(), seen.path);
            if let Some(q) = &seen.query {
                url = format!("{url}?{q}");
            }
            out.push((url, seen));
        }
    }
    out
}

/// Requests per page URL, policy files left out.
pub fn page_requests(farm: &Farm) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (url, seen) in all_requests(farm) {
        if !POLICY_PATHS.contains(&seen.path.as_str()) {
            *counts.entry(url).or_insert(0) += 1;
        }
    }
    counts
}

/// The request logs against the expectation: nothing refused or unreachable requested, every
/// allowed page requested as often as its model says, sitemaps once, policy files only on
/// visited origins (and `/sitemap.xml` only with sitemaps on).
pub fn judge_requests(farm: &Farm, expected: &Expected, sitemaps: bool, report: &mut Report) {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (url, seen) in all_requests(farm) {
        let (base, _) = split(&url);
        if POLICY_PATHS.contains(&seen.path.as_str()) && !expected.sitemaps.contains(&url) {
            if !expected.visited.contains(&base) {
                report.push(format!(
                    "{url} requested, but origin {base} is never in scope"
                ));
            }
            if seen.path == "/sitemap.xml" && !sitemaps {
                report.push(format!("{url} requested with --no-sitemaps"));
            }
            continue;
        }
        *counts.entry(url.clone()).or_insert(0) += 1;
        if expected.sitemaps.contains(&url) {
            continue;
        }
        match expected.found.get(&url) {
            None => report.push(format!(
                "{url} (host {}) requested, but no kept page links to it (or only with nofollow)",
                Farm::host_of(&url)
            )),
            Some((_, expect, Requests::Never)) if counts[&url] == 1 => {
                report.push(format!("{url} requested, but it must never be: {expect:?}"))
            }
            _ => {}
        }
    }
    for (url, (_, expect, requests)) in &expected.found {
        let n = counts.get(url).copied().unwrap_or(0);
        if let Requests::Between(min, max) = requests
            && !(*min..=*max).contains(&n)
        {
            report.push(format!(
                "{url} requested {n} time(s), expected {min}..={max} ({expect:?})"
            ));
        }
    }
    for url in &expected.sitemaps {
        if sitemaps && counts.get(url).copied().unwrap_or(0) != 1 {
            report.push(format!(
                "sitemap {url} requested {} time(s), expected once",
                counts.get(url).copied().unwrap_or(0)
            ));
        }
    }
}

/// No host (IP) saw two request *starts* closer than `0.8 ×` its interval: `min_interval_ms`,
/// or its robots.txt `Crawl-delay` once robots.txt was fetched. Arrival is not sending, hence
/// the tolerance.
pub fn judge_politeness(farm: &Farm, min_interval_ms: u64, report: &mut Report) {
    for host in &farm.hosts {
        let delay = host
            .servers
            .iter()
            .filter_map(|s| farm.origins[&s.origin()].crawl_delay_ms)
            .max()
            .unwrap_or(0);
        let mut seen: Vec<(u16, Seen)> = host
            .servers
            .iter()
            .flat_map(|s| s.requests().into_iter().map(move |r| (s.port(), r)))
            .collect();
        seen.sort_by_key(|(_, s)| s.at);
        for pair in seen.windows(2) {
            let ((port_a, a), (port_b, b)) = (&pair[0], &pair[1]);
            let interval = if a.path == "/robots.txt" {
                min_interval_ms
            } else {
                min_interval_ms.max(delay)
            };
            let gap = b.at.duration_since(a.at);
            if gap.as_secs_f64() * 1000.0 < 0.8 * interval as f64 {
                report.push(format!(
                    "host {}: :{port_a}{} then :{port_b}{} only {:.1} ms apart (interval {interval} ms, tolerance 0.8)",
                    host.ip,
                    a.path,
                    b.path,
                    gap.as_secs_f64() * 1000.0
                ));
            }
        }
    }
}

/// The WARC files against `kept`: readable, digests right, each kept page exactly once (or
/// up to `dups` pages more than once) as a `response` with its `request` and `metadata`,
/// payload byte for byte the served body; no other page. Returns the records.
pub fn judge_warc(
    dir: &Path,
    farm: &Farm,
    kept: &BTreeSet<String>,
    dups: usize,
    report: &mut Report,
) -> Vec<WarcRecord> {
    let records = match warc_check::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            report.push(format!("the WARC files do not read back: {e}"));
            return Vec::new();
        }
    };
    if warc_check::warc_files(dir).is_empty() {
        report.push(format!("no *.warc.gz in {}", dir.display()));
    }
    report.0.extend(warc_check::problems(&records));
    report.0.extend(warc_check::warcio(dir));
    let mut responses: BTreeMap<String, Vec<&WarcRecord>> = BTreeMap::new();
    let mut others: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in &records {
        let Some(target) = &r.target else { continue };
        if r.kind == "response" {
            responses.entry(target.clone()).or_default().push(r);
        } else {
            *others.entry((r.kind.clone(), target.clone())).or_insert(0) += 1;
        }
    }
    let mut repeated = 0;
    for url in kept {
        let Some(found) = responses.get(url) else {
            report.push(format!(
                "kept page {url} has no response record in the WARC"
            ));
            continue;
        };
        if found.len() > 1 {
            repeated += 1;
        }
        let Some(page) = farm.page(url) else { continue };
        for r in found {
            let payload = r
                .http
                .as_ref()
                .map(|h| h.payload.as_slice())
                .unwrap_or_default();
            if payload != page.body.as_ref() {
                report.push(format!(
                    "{}: payload ({} bytes) differs from the served body ({} bytes)",
                    r.place(),
                    payload.len(),
                    page.body.len()
                ));
            }
        }
        for kind in ["request", "metadata"] {
            if !others.contains_key(&(kind.to_owned(), url.clone())) {
                report.push(format!("kept page {url} has no {kind} record"));
            }
        }
    }
    if repeated > dups {
        let twice: Vec<&String> = responses
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(u, _)| u)
            .collect();
        report.push(format!(
            "{repeated} page(s) more than once in the WARC (at most {dups} allowed): {twice:?}"
        ));
    }
    for url in responses.keys() {
        // A redirect may be archived as the 3xx it was (as Heritrix does), or not at all.
        let redirect = farm
            .page(url)
            .is_some_and(|p| matches!(p.expect, Expect::Redirect(_)));
        if !kept.contains(url) && !redirect {
            report.push(format!(
                "{url} is in the WARC as a response, but must not be kept"
            ));
        }
    }
    records
}

/// `skipped.jsonl` against the expectation: each URL found and not kept has exactly one line,
/// with an accepted verdict and a reason code of the expected family; no kept URL is there.
pub fn judge_skipped(dir: &Path, expected: &Expected, report: &mut Report) -> Vec<Skip> {
    let skipped = read_skipped(dir, report);
    let mut by_url: BTreeMap<&str, Vec<&Skip>> = BTreeMap::new();
    for s in &skipped {
        by_url.entry(s.url.as_str()).or_default().push(s);
    }
    for (url, (depth, expect, _)) in &expected.found {
        let lines = by_url
            .get(url.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        match expect {
            Expect::Kept if !lines.is_empty() => report.push(format!(
                "{url} must be kept but is in skipped.jsonl: {:?}",
                lines[0]
            )),
            Expect::NotKept { verdicts, codes } => {
                let Some(line) = lines.first() else {
                    report.push(format!("{url} (depth {depth}) not kept but missing from skipped.jsonl; expected {verdicts:?} {codes:?}"));
                    continue;
                };
                if lines.len() > 1 {
                    report.push(format!("{url} has {} lines in skipped.jsonl", lines.len()));
                }
                if !verdicts.contains(&line.verdict.as_str()) {
                    report.push(format!("{url}: verdict {:?} in skipped.jsonl, expected one of {verdicts:?} (reasons {:?})", line.verdict, line.reasons));
                }
                if !line
                    .reasons
                    .iter()
                    .any(|r| codes.iter().any(|c| r.starts_with(c)))
                {
                    report.push(format!("{url}: reasons {:?} in skipped.jsonl, expected a code starting with one of {codes:?}", line.reasons));
                }
            }
            _ => {}
        }
    }
    for s in &skipped {
        if !expected.found.contains_key(&s.url)
            && !expected.sitemaps.contains(&s.url)
            && !is_policy(&s.url)
        {
            report.push(format!(
                "skipped.jsonl names {}, which the crawl must not find: {s:?}",
                s.url
            ));
        }
    }
    skipped
}

fn is_policy(url: &str) -> bool {
    let (_, path) = split(url);
    POLICY_PATHS.contains(&path.as_str())
}

/// No `marker` (each a unique string of a body that must not be kept) appears in any file
/// under `dir`, read as stored and, for gzip files, decompressed.
pub fn judge_markers(dir: &Path, markers: &[(String, String)], report: &mut Report) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap().flatten() {
                stack.push(entry.path());
            }
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let mut readings = vec![bytes.clone()];
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut decoded = Vec::new();
            let _ = flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut decoded);
            readings.push(decoded);
        }
        for (url, marker) in markers {
            if readings
                .iter()
                .any(|r| memchr::memmem::find(r, marker.as_bytes()).is_some())
            {
                report.push(format!(
                    "the body of {url} (marker {marker}) is in {}",
                    path.display()
                ));
            }
        }
    }
}

/// The markers of every page of the farm that must not be kept.
pub fn markers(farm: &Farm) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (base, origin) in &farm.origins {
        for (path, page) in &origin.pages {
            if let Some(marker) = &page.marker {
                out.push((format!("{base}{path}"), marker.clone()));
            }
        }
    }
    out
}

/// Every judge at once for a crawl that ran to its end: requests, politeness, WARC, skip
/// report, markers, the evidence log. Returns the records and the skip lines.
pub fn judge_all(
    cd: &CrawlDir,
    farm: &Farm,
    expected: &Expected,
    sitemaps: bool,
    interval_ms: u64,
    report: &mut Report,
) -> (Vec<WarcRecord>, Vec<Skip>) {
    judge_requests(farm, expected, sitemaps, report);
    judge_politeness(farm, interval_ms, report);
    let records = judge_warc(&cd.dir, farm, &expected.kept(), 0, report);
    let skipped = judge_skipped(&cd.dir, expected, report);
    judge_markers(&cd.dir, &markers(farm), report);
    log_verify(&cd.store(), report);
    (records, skipped)
}
