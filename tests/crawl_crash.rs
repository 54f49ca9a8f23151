//! Stop and resume (issue 13, item 7): the crawl is SIGKILLed at several points and resumed
//! with `--resume`, or stopped with Ctrl-C / SIGTERM; in the end it has kept exactly what an
//! uninterrupted crawl keeps, no page twice except those in flight at a kill (at most one per
//! host per kill), WARC files every reader accepts, and an evidence log that verifies.
//!
//! The kill points are counted in requests that reached the farm (its servers' logs), not in
//! time, so they land early, in the middle and late on a loaded machine too.

#[path = "support/farm.rs"]
mod farm;
#[path = "support/judge.rs"]
mod judge;
#[path = "support/server.rs"]
mod server;
#[path = "support/warc_check.rs"]
mod warc_check;

use farm::{Farm, Plan, config_toml, grid};
use judge::{CrawlDir, Report, summary_line, wait_output};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::time::{Duration, Instant};

const HOSTS: usize = 5;
const PAGES: usize = 40;
const INTERVAL_MS: u64 = 50;
const LIMIT: Duration = Duration::from_secs(180);

fn crash_farm() -> (Farm, Vec<String>) {
    let (builder, seeds) = grid(HOSTS, PAGES, false);
    (builder.build(), seeds)
}

fn args<'a>(seeds: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = seeds.iter().map(String::as_str).collect();
    v.extend_from_slice(extra);
    v
}

/// `http://ip/path` for `http://ip:port/path`: the same page of two farms (one origin per
/// host, ports differ between runs) has the same name.
fn without_port(url: &str) -> String {
    let (base, path) = farm::split(url);
    format!(
        "{}{path}",
        base.rsplit_once(':').map_or(base.as_str(), |(b, _)| b)
    )
}

/// Response records per target URI (without its port) in `dir`'s WARC files (problems of the
/// files reported).
fn responses(dir: &std::path::Path, report: &mut Report) -> BTreeMap<String, usize> {
    let records = match warc_check::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            report.push(format!("the WARC files do not read back: {e}"));
            return BTreeMap::new();
        }
    };
    report.0.extend(warc_check::problems(&records));
    report.0.extend(warc_check::warcio(dir));
    let mut out = BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == "response") {
        *out.entry(without_port(r.target.as_deref().unwrap_or("http://-/")))
            .or_insert(0) += 1;
    }
    out
}

/// Waits until the farm has seen `requests` requests in all (or the crawl ended by itself:
/// then `false`).
fn wait_for_requests(farm: &Farm, child: &mut Child, requests: usize) -> bool {
    let start = Instant::now();
    while farm.total_requests() < requests {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(
            start.elapsed() < LIMIT,
            "the crawl made no progress to {requests} requests in {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// An uninterrupted crawl of a fresh copy of the farm: its kept set and how many requests it
/// took in all.
fn uninterrupted() -> (BTreeSet<String>, usize) {
    let (farm, seeds) = crash_farm();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let out = cd.run(&args(&seeds, &["-q"]), LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "uninterrupted crawl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report = Report::default();
    let kept: BTreeSet<String> = responses(&cd.dir, &mut report).into_keys().collect();
    report.assert_clean(&String::from_utf8_lossy(&out.stderr));
    (kept, farm.total_requests())
}

/// The end state after interruptions: kept set equal to `reference` and to the model's, at
/// most `dups` pages twice (in the WARC and in the servers' logs), the log verifies.
fn judge_end(
    cd: &CrawlDir,
    farm: &Farm,
    seeds: &[String],
    reference: &BTreeSet<String>,
    dups: usize,
    report: &mut Report,
) {
    let model: BTreeSet<String> = farm
        .expect(&Plan::new(seeds))
        .kept()
        .iter()
        .map(|u| without_port(u))
        .collect();
    if reference != &model {
        report.push(format!(
            "the uninterrupted crawl kept {} pages, the model {}",
            reference.len(),
            model.len()
        ));
    }
    let got = responses(&cd.dir, report);
    let kept: BTreeSet<String> = got.keys().cloned().collect();
    let missing: Vec<_> = reference.difference(&kept).collect();
    let extra: Vec<_> = kept.difference(reference).collect();
    if !missing.is_empty() || !extra.is_empty() {
        report.push(format!(
            "kept set differs from the uninterrupted crawl's: missing {missing:?}, extra {extra:?}"
        ));
    }
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    if twice.len() > dups {
        report.push(format!("{} page(s) more than once in the WARC, at most {dups} allowed (in flight at a kill): {twice:?}", twice.len()));
    }
    let refetched: Vec<_> = judge::page_requests(farm)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    if refetched.len() > dups {
        report.push(format!(
            "{} page(s) requested more than once, at most {dups} allowed: {refetched:?}",
            refetched.len()
        ));
    }
    judge::log_verify(&cd.store(), report);
}

#[test]
fn sigkill_at_several_points_then_resume_loses_nothing_and_repeats_almost_nothing() {
    let (reference, total) = uninterrupted();
    let (farm, seeds) = crash_farm();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let mut kills = 0;
    let mut log = String::new();
    // Early (robots.txt and the first pages), middle, late.
    for (i, fraction) in [0.08, 0.45, 0.85].into_iter().enumerate() {
        let extra: &[&str] = if i == 0 { &["-q"] } else { &["--resume", "-q"] };
        let mut child = cd.command(&args(&seeds, extra)).spawn().unwrap();
        let at = ((total as f64 * fraction) as usize).max(1);
        if wait_for_requests(&farm, &mut child, at) {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let out = wait_output(child, LIMIT, "killed crawl");
        log.push_str(&format!(
            "--- run {i} (kill at {at} requests): {}\n",
            out.status
        ));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        kills >= 2,
        "the crawl ended before the kills: only {kills} kill(s) landed"
    );
    let out = cd.run(&args(&seeds, &["--resume", "-q"]), LIMIT);
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the final --resume: {}",
        judge::tail(&log, 40)
    );
    let mut report = Report::default();
    judge_end(&cd, &farm, &seeds, &reference, HOSTS * kills, &mut report);
    report.assert_clean(&log);
}

/// `kill -SIGNAL pid`, through the `kill` command (no libc in the tests).
fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

#[test]
fn ctrl_c_and_sigterm_stop_cleanly_print_the_summary_and_resume() {
    let (reference, total) = uninterrupted();
    for name in ["INT", "TERM"] {
        let (farm, seeds) = crash_farm();
        let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
        let mut child = cd.command(&args(&seeds, &[])).spawn().unwrap();
        assert!(
            wait_for_requests(&farm, &mut child, total / 3),
            "SIG{name}: the crawl ended before a third of it"
        );
        signal(&child, name);
        let out = wait_output(
            child,
            Duration::from_secs(60),
            &format!("crawl after SIG{name}"),
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut report = Report::default();
        if out.status.code() != Some(0) {
            report.push(format!("SIG{name}: exit {}, expected 0", out.status));
        }
        if summary_line(&stderr).is_none() {
            report.push(format!("SIG{name}: no summary line `crawl:` on stderr"));
        }
        let resumed = cd.run(&args(&seeds, &["--resume", "-q"]), LIMIT);
        if resumed.status.code() != Some(0) {
            report.push(format!("SIG{name}: --resume exited {}", resumed.status));
        }
        // A clean stop finishes what is in flight: nothing is fetched twice.
        judge_end(&cd, &farm, &seeds, &reference, 0, &mut report);
        report.assert_clean(&format!(
            "{stderr}\n--- resume ---\n{}",
            String::from_utf8_lossy(&resumed.stderr)
        ));
    }
}

#[test]
fn a_second_ctrl_c_stops_at_once_and_still_resumes() {
    let (reference, total) = uninterrupted();
    let (farm, seeds) = crash_farm();
    let cd = CrawlDir::new(&config_toml(INTERVAL_MS));
    let mut child = cd.command(&args(&seeds, &["-q"])).spawn().unwrap();
    assert!(
        wait_for_requests(&farm, &mut child, total / 2),
        "the crawl ended before half of it"
    );
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(20));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let first = wait_output(child, Duration::from_secs(60), "crawl after two Ctrl-C");
    let resumed = cd.run(&args(&seeds, &["--resume", "-q"]), LIMIT);
    let log = format!(
        "{}\n--- resume ---\n{}",
        String::from_utf8_lossy(&first.stderr),
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "--resume after two Ctrl-C: {}",
        judge::tail(&log, 40)
    );
    let mut report = Report::default();
    judge_end(&cd, &farm, &seeds, &reference, HOSTS, &mut report);
    report.assert_clean(&log);
}
