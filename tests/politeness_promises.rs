//! Retry-After is a promise to the whole host (RFC 9110 §10.2.3), kept by every command that
//! shares the politeness state, and no command waits for what it will not honour. The real
//! binary against loopback servers whose own request timestamps judge.

#[path = "support/server.rs"]
mod server;

#[path = "support/crawl_run.rs"]
#[allow(dead_code)]
mod crawl_run;

use crawl_run::{CrawlDir, wait_output};
use server::{Reply, Seen, Server};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs `optout --store DIR/store --config DIR/optout.toml --allow-private-addresses ARGS`
/// with `config` written first; kills it (and fails) after `limit`.
fn optout(dir: &Path, config: &str, args: &[&str], limit: Duration) -> Output {
    let path = dir.join("optout.toml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--store")
        .arg(dir.join("store"))
        .arg("--config")
        .arg(&path)
        .arg("--allow-private-addresses")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child, limit, &format!("optout {args:?}"))
}

/// Waits until `server` answered `path` (a 429 the command now waits out), sends `child`
/// SIGINT, and checks it stops within 10 s; its output.
fn interrupt_in_wait(
    child: std::process::Child,
    server: &Server,
    path: &str,
    what: &str,
) -> Output {
    let started = Instant::now();
    while server.count(path) == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.count(path), 1, "{:?}", server.counts());
    std::thread::sleep(Duration::from_millis(500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let signalled = Instant::now();
    let out = wait_output(child, Duration::from_secs(40), what);
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        signalled.elapsed()
    );
    out
}

/// One JSON object per line of standard output.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The codes of a `--json` line's reasons.
fn codes(line: &serde_json::Value) -> Vec<String> {
    line["reasons"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The first request the server saw for `path`.
fn first(server: &Server, path: &str) -> Seen {
    server
        .requests_for(path)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{path} was never requested: {:?}", server.counts()))
}

/// A site allowing everything, no tdmrep.json or ai.txt.
fn open_site() -> Server {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.fallback(Reply::text(404, "not here"));
    s
}

const FAST: &str = "[politeness]\nmin_interval_ms = 1\nin_flight_per_host = 1\n";

/// Reported: `max_backoff_s = 3`, the first of three URLs answered 429 with Retry-After 10;
/// the other two were requested 3.0 s after the 429, seven seconds early. Every URL of the
/// host now gives up at once, and nothing reaches the host before the ten seconds.
#[test]
fn a_retry_after_over_max_backoff_blocks_the_host_and_gives_up_at_once() {
    let s = open_site();
    s.route("/a", Reply::status(429).header("Retry-After", "10"));
    s.route("/b", Reply::ok("b"));
    s.route("/c", Reply::ok("c"));
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{FAST}backoff_s = 1\nmax_backoff_s = 3\n");
    let started = Instant::now();
    let out = optout(
        dir.path(),
        &config,
        &["fetch", "--json", &s.url("/a"), &s.url("/b"), &s.url("/c")],
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{}", String::from_utf8_lossy(&out.stderr));
    for line in &lines {
        assert_eq!(codes(line)[0], "politeness.gave-up", "{line}");
        let text = line.to_string();
        assert!(
            text.contains("blocked until"),
            "the reason says until when: {text}"
        );
    }
    let at_429 = first(&s, "/a").at;
    for r in s.requests() {
        assert!(
            r.at <= at_429 || r.at - at_429 >= Duration::from_secs(10),
            "{} requested {:?} after the 429 with Retry-After: 10",
            r.path,
            r.at - at_429
        );
    }
    assert_eq!(s.count("/b") + s.count("/c"), 0, "{:?}", s.counts());
    assert!(took < Duration::from_secs(9), "waited {took:?} for nothing");
}

/// Reported: `Retry-After: 100000` with the default configuration made `optout fetch` wait
/// out `max_backoff_s` (600 s) before asking again, still too early. It ends at once now.
#[test]
fn a_huge_retry_after_never_makes_fetch_hang() {
    let s = open_site();
    s.route("/a", Reply::status(503).header("Retry-After", "100000"));
    s.route("/b", Reply::ok("b"));
    let dir = tempfile::tempdir().unwrap();
    let out = optout(
        dir.path(),
        "[politeness]\nmin_interval_ms = 1\n",
        &["fetch", "--json", &s.url("/a"), &s.url("/b")],
        Duration::from_secs(60),
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(lines.iter().all(|l| codes(l)[0] == "politeness.gave-up"));
    assert_eq!(s.count("/a"), 1);
    assert_eq!(s.count("/b"), 0);
    assert_eq!(out.status.code(), Some(1));
}

/// Reported: robots.txt answered 429 with Retry-After 4, and tdmrep.json and ai.txt of the
/// same origin were requested 0.3 s and 0.6 s later. A Retry-After on a policy file blocks
/// its host like any other.
#[test]
fn a_retry_after_on_robots_txt_blocks_the_origin() {
    let s = Server::start();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    s.route(
        "/robots.txt",
        Reply::dynamic(move |_| {
            if h.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::status(429).header("Retry-After", "4")
            } else {
                Reply::ok("User-agent: *\nAllow: /\n")
            }
        }),
    );
    s.fallback(Reply::text(404, "not here"));
    s.route("/page", Reply::ok("page"));
    let dir = tempfile::tempdir().unwrap();
    let out = optout(
        dir.path(),
        "[politeness]\nmin_interval_ms = 1\n",
        &["fetch", "--json", &s.url("/page")],
        Duration::from_secs(60),
    );
    assert_eq!(json_lines(&out).len(), 1);
    let at_429 = first(&s, "/robots.txt").at;
    let later: Vec<_> = s.requests().into_iter().filter(|r| r.at > at_429).collect();
    assert!(!later.is_empty(), "{:?}", s.counts());
    for r in later {
        assert!(
            r.at - at_429 >= Duration::from_millis(3950),
            "{} requested {:?} after robots.txt's 429 with Retry-After: 4",
            r.path,
            r.at - at_429
        );
    }
}

/// A Retry-After on robots.txt longer than `max_backoff_s`: nothing more is asked of the
/// host, the page is not fetched (what robots.txt says is unknown), and the command ends.
#[test]
fn a_long_retry_after_on_robots_txt_fails_closed_at_once() {
    let s = Server::start();
    s.route(
        "/robots.txt",
        Reply::status(429).header("Retry-After", "100000"),
    );
    s.fallback(Reply::text(404, "not here"));
    s.route("/page", Reply::ok("page"));
    let dir = tempfile::tempdir().unwrap();
    let out = optout(
        dir.path(),
        "[politeness]\nmin_interval_ms = 1\n",
        &["fetch", "--json", &s.url("/page"), &s.url("/other")],
        Duration::from_secs(60),
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    for line in &lines {
        assert_ne!(line["verdict"], "allowed", "{line}");
    }
    assert_eq!(s.total(), 1, "only robots.txt was asked: {:?}", s.counts());
}

/// A crawl site: `/` links to `/p1` .. `/p4`; `/p1` answers 429 with `retry_after` the
/// first time it is asked, 200 after.
fn crawl_site(retry_after: &str) -> Server {
    let s = open_site();
    let html = "<html><body><a href=\"/p1\">1</a> <a href=\"/p2\">2</a> <a href=\"/p3\">3</a> <a href=\"/p4\">4</a></body></html>";
    s.route(
        "/",
        Reply::ok(html).header("Content-Type", "text/html; charset=utf-8"),
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let retry_after = retry_after.to_owned();
    s.route(
        "/p1",
        Reply::dynamic(move |_| {
            if h.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::status(429).header("Retry-After", &retry_after)
            } else {
                Reply::ok("p1")
            }
        }),
    );
    for p in ["/p2", "/p3", "/p4"] {
        s.route(p, Reply::ok(p));
    }
    s
}

/// Reported: after a 429 with Retry-After 8 on one page, the host's other pages were
/// requested 3.0 s later. Beyond the crawl's patience the host is given up, with until when
/// in the skip report, and nothing is asked of it before then.
#[test]
fn crawl_gives_up_a_host_blocked_beyond_its_patience() {
    let s = crawl_site("8");
    let dir = CrawlDir::new(
        "[politeness]\nmin_interval_ms = 200\nin_flight_per_host = 1\nbackoff_s = 1\nmax_backoff_s = 3\n",
    );
    let started = Instant::now();
    let out = dir.run(&[&s.url("/"), "-q"], Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "waited for nothing"
    );
    let at_429 = first(&s, "/p1").at;
    for r in s.requests() {
        assert!(
            r.at <= at_429 || r.at - at_429 >= Duration::from_secs(8),
            "{} requested {:?} after the 429 with Retry-After: 8",
            r.path,
            r.at - at_429
        );
    }
    let skipped = std::fs::read_to_string(dir.dir.join("skipped.jsonl")).unwrap();
    assert!(skipped.contains("politeness.gave-up"), "{skipped}");
    let host_lines: Vec<&str> = skipped
        .lines()
        .filter(|l| l.contains("crawl.host-gave-up"))
        .collect();
    assert_eq!(host_lines.len(), 3, "{skipped}");
    assert!(
        host_lines.iter().all(|l| l.contains("blocked until")),
        "{skipped}"
    );
}

/// Within the crawl's patience the host's queue waits the server's time: no page of the
/// host is asked for sooner, and the page that got the 429 is fetched after it.
#[test]
fn crawl_defers_a_host_for_a_short_retry_after() {
    let s = crawl_site("3");
    let dir = CrawlDir::new("[politeness]\nmin_interval_ms = 200\nin_flight_per_host = 1\n");
    let out = dir.run(&[&s.url("/"), "-q"], Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at_429 = first(&s, "/p1").at;
    for r in s.requests() {
        assert!(
            r.at <= at_429 || r.at - at_429 >= Duration::from_millis(2950),
            "{} requested {:?} after the 429 with Retry-After: 3",
            r.path,
            r.at - at_429
        );
    }
    for p in ["/p1", "/p2", "/p3", "/p4"] {
        assert!(s.count(p) >= 1, "{p} never fetched: {:?}", s.counts());
    }
}

/// Ctrl-C during a long polite wait stops at once: every URL not fetched gets its line and
/// an evidence record (`fetch.interrupted`), the log verifies, and the exit status is 130.
#[test]
fn ctrl_c_in_a_polite_wait_stops_at_once_and_records_what_was_not_fetched() {
    let s = open_site();
    s.route("/a", Reply::status(429).header("Retry-After", "60"));
    s.route("/b", Reply::ok("b"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("optout.toml");
    std::fs::write(&path, FAST).unwrap();
    let store = dir.path().join("store");
    let child = Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--store")
        .arg(&store)
        .arg("--config")
        .arg(&path)
        .arg("--allow-private-addresses")
        .args(["fetch", "--json", &s.url("/a"), &s.url("/b")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = interrupt_in_wait(child, &s, "/a", "optout fetch (Ctrl-C)");
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    for line in &lines {
        assert_eq!(codes(line)[0], "fetch.interrupted", "{line}");
        assert!(line["seq"].is_u64(), "recorded: {line}");
    }
    assert_eq!(s.count("/a"), 1);
    assert_eq!(s.count("/b"), 0);
    let verify = Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--store")
        .arg(&store)
        .args(["log", "verify"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Ctrl-C while a crawl's URL waits out a server's Retry-After stops at once: the waiting
/// URL is abandoned with nothing sent (its lease left for `--resume`), and a resume fetches
/// it.
#[test]
fn ctrl_c_stops_a_crawl_waiting_out_a_retry_after() {
    let s = crawl_site("60");
    let dir = CrawlDir::new("[politeness]\nmin_interval_ms = 200\nin_flight_per_host = 1\n");
    let child = dir.command(&[&s.url("/"), "-q"]).spawn().unwrap();
    let out = interrupt_in_wait(child, &s, "/p1", "optout crawl (Ctrl-C)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.count("/p1"), 1, "nothing more was sent: {:?}", s.counts());
    let out = dir.run(&["--resume", "-q"], Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.count("/p1"), 2, "{:?}", s.counts());
}

/// A crawl whose host's robots.txt answers 429 with a Retry-After far beyond the crawl's
/// patience ends at once: the host is given up (until when, in the skip report), nothing
/// more is asked of it, and the crawl does not wait a day for the host's queue.
#[test]
fn crawl_gives_up_a_host_whose_robots_txt_blocks_it_for_long() {
    let s = Server::start();
    s.route(
        "/robots.txt",
        Reply::status(429).header("Retry-After", "100000"),
    );
    s.fallback(Reply::ok("page"));
    let dir = CrawlDir::new("[politeness]\nmin_interval_ms = 1\n");
    let started = Instant::now();
    let out = dir.run(
        &[&s.url("/"), &s.url("/x"), &s.url("/y"), "-q"],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the host"
    );
    assert_eq!(s.total(), 1, "only robots.txt was asked: {:?}", s.counts());
    let skipped = std::fs::read_to_string(dir.dir.join("skipped.jsonl")).unwrap();
    assert_eq!(skipped.lines().count(), 3, "{skipped}");
    assert!(skipped.contains("robots.unreachable"), "{skipped}");
    let host_lines: Vec<&str> = skipped
        .lines()
        .filter(|l| l.contains("crawl.host-gave-up"))
        .collect();
    assert_eq!(host_lines.len(), 2, "{skipped}");
    assert!(
        host_lines.iter().all(|l| l.contains("blocked until")),
        "{skipped}"
    );
}
