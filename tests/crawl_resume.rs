//! `optout crawl --resume` and the ownership of a crawl directory (issue 21), with the real
//! binary against a loopback site:
//! - a resume repairs only a write cut short at the end of a WARC file: damage anywhere else,
//!   and a WARC file the crawl did not write, stop it with one line naming the file and the
//!   offset, and nothing in the directory is changed;
//! - one crawl directory has one writer: a second process is refused, whatever its store;
//! - a plan flag given with `--resume` that contradicts the saved plan is refused.

#[allow(dead_code)]
#[path = "support/crawl_run.rs"]
mod crawl_run;
#[path = "support/server.rs"]
mod server;

use crawl_run::{CrawlDir, wait_output};
use server::{Reply, Server};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

/// Politeness at `interval_ms`, loopback allowed, frequent checkpoints.
fn config(interval_ms: u64) -> String {
    format!(
        "[politeness]\nmin_interval_ms = {interval_ms}\nmax_retries = 0\n\n\
         [net]\nallow_private_addresses = true\nconnect_timeout_ms = 2000\n\
         read_timeout_ms = 5000\ntotal_timeout_ms = 20000\n\n\
         [crawl]\ncheckpoint_every_ms = 100\n"
    )
}

/// A site of `pages` pages, `/p/0.html` to `/p/{pages-1}.html`, each linking to the next,
/// each answered after `delay`; every other path is a 404 (robots.txt included: all allowed).
fn site(pages: usize, delay: Duration) -> Server {
    let server = Server::start();
    server.fallback(Reply::dynamic(move |seen| {
        let page = seen
            .path
            .strip_prefix("/p/")
            .and_then(|p| p.strip_suffix(".html"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < pages);
        let Some(n) = page else {
            return Reply::status(404);
        };
        let body = format!(
            "<!doctype html><title>page {n}</title><p>{}</p><a href=\"/p/{}.html\">next</a>",
            "text of the page ".repeat(40),
            n + 1
        );
        Reply::ok(body)
            .header("Content-Type", "text/html")
            .delayed(delay)
    }));
    server
}

/// Every file under `dir` (relative path → bytes), but the store, the frontier and the lock
/// file (which holds the last holder's process id).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_owned();
            if ["store", "frontier", "crawl.lock"]
                .iter()
                .any(|p| rel.starts_with(p))
            {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
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

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A crawl of `pages` pages run to its end with `extra` arguments.
fn finished_crawl(server: &Server, extra: &[&str]) -> CrawlDir {
    let cd = CrawlDir::new(&config(10));
    let seed = server.url("/p/0.html");
    let mut args = vec![seed.as_str(), "-q"];
    args.extend_from_slice(extra);
    let out = cd.run(&args, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    cd
}

/// `--resume` is refused (exit non-zero, one line naming `names` and saying `says`), the
/// site gets no request, and nothing in the directory changed.
fn assert_resume_refused(
    cd: &CrawlDir,
    server: &Server,
    args: &[&str],
    names: &str,
    says: &str,
) -> String {
    let before = snapshot(&cd.dir);
    let requests = server.total();
    let out = cd.run(args, LIMIT);
    let stderr = stderr_of(&out);
    assert!(!out.status.success(), "{args:?} was accepted: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(names), "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(server.total(), requests, "{args:?}: the site was asked");
    let after = snapshot(&cd.dir);
    for (path, bytes) in &before {
        let now = after.get(path).map(Vec::len);
        assert!(
            after.get(path) == Some(bytes),
            "{args:?} changed {} ({} bytes, now {now:?})",
            path.display(),
            bytes.len()
        );
    }
    stderr
}

#[test]
fn a_warc_damaged_before_its_end_is_not_truncated_by_resume() {
    let server = site(12, Duration::ZERO);
    let cd = finished_crawl(&server, &[]);
    let file = warc_files(&cd.dir).remove(0);
    let mut bytes = std::fs::read(&file).unwrap();
    // A third of the way in, in compressed data (not in a gzip header, whose time and OS
    // bytes no reader checks).
    let mut at = bytes.len() / 3;
    let member = bytes[..at]
        .windows(3)
        .rposition(|w| w == [0x1f, 0x8b, 0x08])
        .unwrap();
    if at - member < 24 {
        at = member + 40;
    }
    bytes[at] ^= 0x55;
    bytes[at + 1] ^= 0xaa;
    std::fs::write(&file, &bytes).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let stderr = assert_resume_refused(&cd, &server, &["--resume", "-q"], &name, "offset");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
}

#[test]
fn a_foreign_warc_is_never_truncated_and_the_index_not_overwritten() {
    let server = site(3, Duration::ZERO);
    let cd = finished_crawl(&server, &[]);
    // A directory holding the plan only, and a WARC file and an index this crawl never wrote.
    let plan = std::fs::read(cd.dir.join("crawl.json")).unwrap();
    std::fs::remove_dir_all(&cd.dir).unwrap();
    std::fs::create_dir(&cd.dir).unwrap();
    std::fs::write(cd.dir.join("crawl.json"), plan).unwrap();
    let foreign: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(cd.dir.join("optout-mine.warc.gz"), &foreign).unwrap();
    std::fs::write(
        cd.dir.join("index.cdxj"),
        b"com,example)/ 20260101000000 {}\n",
    )
    .unwrap();
    assert_resume_refused(
        &cd,
        &server,
        &["--resume", "-q"],
        "optout-mine.warc.gz",
        "not written by this crawl",
    );

    // A real WARC file of another crawl, under a name this crawl's writer would give next.
    let other = finished_crawl(&server, &[]);
    let theirs = warc_files(&other.dir).remove(0);
    std::fs::remove_file(cd.dir.join("optout-mine.warc.gz")).unwrap();
    let copied = cd.dir.join(theirs.file_name().unwrap());
    let mut bytes = std::fs::read(&theirs).unwrap();
    let start = bytes[..40].to_vec();
    bytes.extend_from_slice(&start); // and cut short, so a repair would cut it
    std::fs::write(&copied, &bytes).unwrap();
    assert_resume_refused(
        &cd,
        &server,
        &["--resume", "-q"],
        &copied.file_name().unwrap().to_string_lossy(),
        "not written by this crawl",
    );
}

#[test]
fn a_write_cut_short_at_the_end_is_still_repaired() {
    let server = site(4, Duration::ZERO);
    let cd = finished_crawl(&server, &[]);
    let file = warc_files(&cd.dir).remove(0);
    let whole = std::fs::read(&file).unwrap();
    let index = std::fs::read(cd.dir.join("index.cdxj")).unwrap();
    // The start of a member, as a kill mid-write leaves it (here: the first one's).
    let mut cut = whole.clone();
    cut.extend_from_slice(&whole[..57]);
    std::fs::write(&file, &cut).unwrap();
    let out = cd.run(&["--resume", "-q"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        whole,
        "the cut write is removed"
    );
    assert_eq!(std::fs::read(cd.dir.join("index.cdxj")).unwrap(), index);
}

/// Waits until `server` has answered a page (the crawl is running in its directory).
fn wait_for_a_page(server: &Server, child: &mut std::process::Child) {
    let start = Instant::now();
    while !server.requests().iter().any(|s| s.path.starts_with("/p/")) {
        assert!(child.try_wait().unwrap().is_none(), "the first crawl ended");
        assert!(start.elapsed() < LIMIT, "the first crawl requested no page");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_second_process_is_refused_the_directory_whatever_its_store() {
    // Slow pages: the first crawl is still running when the others start.
    let server = site(400, Duration::from_millis(300));
    let cd = CrawlDir::new(&config(10));
    let seed = server.url("/p/0.html");
    let mut first = cd.command(&[&seed, "-q"]).spawn().unwrap();
    wait_for_a_page(&server, &mut first);
    let other_store = cd.tmp.path().join("other-store");
    let dir = cd.dir.display().to_string();
    for args in [
        vec!["--recrawl", "-q"],
        vec!["--resume", "-q"],
        vec!["--resume", "--recrawl", "-q"],
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_optout"));
        cmd.arg("--config")
            .arg(&cd.config)
            .arg("--allow-private-addresses")
            .arg("--store")
            .arg(&other_store)
            .arg("crawl")
            .args(&args)
            .arg("-o")
            .arg(&cd.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let out = wait_output(cmd.spawn().unwrap(), LIMIT, "the second crawl");
        let stderr = stderr_of(&out);
        assert!(!out.status.success(), "{args:?} was accepted: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(&dir), "{args:?}: {stderr}");
        assert!(
            stderr.contains("in use by another optout crawl"),
            "{args:?}: {stderr}"
        );
        assert!(!other_store.exists(), "{args:?} opened its store");
        assert!(
            !cd.dir.join("recrawl").exists(),
            "{args:?} wrote a frontier"
        );
    }
    // And a new crawl into it, with the same plan.
    let out = cd.run(&[&seed, "-q"], LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first crawl ended early"
    );
    // The first crawl still owns it, and stops cleanly.
    let pid = first.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = wait_output(first, LIMIT, "the first crawl");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn plan_flags_given_with_resume_must_repeat_the_plan() {
    let server = site(8, Duration::ZERO);
    let cd = finished_crawl(&server, &["--max-pages", "3"]);
    let seed = server.url("/p/0.html");
    let other = server.url("/p/5.html");
    let refused: [(&[&str], &str); 9] = [
        (&["--max-pages", "5"], "--max-pages 5 (the plan: 3)"),
        (&["--max-depth", "1"], "--max-depth 1 (the plan: none)"),
        (&["--max-pages-per-host", "9"], "--max-pages-per-host 9"),
        (&["--scope", "any"], "--scope any (the plan: host)"),
        (&["--purpose", "search"], "--purpose search"),
        (&["--include", "x"], "--include x"),
        (&["--exclude", "y"], "--exclude y"),
        (&["--no-sitemaps"], "--no-sitemaps"),
        (&[&other], "seeds"),
    ];
    for (flags, says) in refused {
        let mut args = vec!["--resume", "-q"];
        args.extend_from_slice(flags);
        assert_resume_refused(&cd, &server, &args, "contradicts the plan", says);
        let mut args = vec!["--recrawl", "-q"];
        args.extend_from_slice(flags);
        assert_resume_refused(&cd, &server, &args, "contradicts the plan", says);
    }
    // The first run's command line with --resume added is accepted: it keeps the plan.
    let out = cd.run(
        &[
            &seed,
            "--max-pages",
            "3",
            "--scope",
            "host",
            "--resume",
            "-q",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let responses = std::fs::read_to_string(cd.dir.join("index.cdxj")).unwrap();
    assert_eq!(responses.lines().count(), 3, "{responses}");
}
