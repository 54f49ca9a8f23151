//! Hostile limits, through the real binary: config values at and over their documented
//! maxima, config and list files that never end, oversized `Retry-After` and `Crawl-delay`
//! values from loopback servers, and deliberate panics (exit 70, one line, the log intact).

#[path = "support/server.rs"]
mod server;

use server::{Reply, Server};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Every duration and count key with its documented maximum (config/optout.toml).
const MAXIMA: &[(&str, &str, u64)] = &[
    ("limits", "robots_parse_limit", 67_108_864),
    ("evidence", "flush_every_ms", 60_000),
    ("evidence", "flush_records", 1_000_000),
    ("net", "connect_timeout_ms", 3_600_000),
    ("net", "read_timeout_ms", 3_600_000),
    ("net", "total_timeout_ms", 3_600_000),
    ("net", "max_body_bytes", 1_073_741_824),
    ("net", "cache_entries", 10_000_000),
    ("net", "cache_bytes", 68_719_476_736),
    ("net", "retry_unreachable_s", 86_400),
    ("net", "retry_unreachable_max_s", 86_400),
    ("net", "check_concurrency", 4096),
    ("politeness", "min_interval_ms", 86_400_000),
    ("politeness", "max_crawl_delay_s", 86_400),
    ("politeness", "in_flight_per_host", 1024),
    ("politeness", "max_in_flight", 65_536),
    ("politeness", "idle_forget_s", 86_400),
    ("politeness", "max_retries", 100),
    ("politeness", "backoff_s", 86_400),
    ("politeness", "max_backoff_s", 86_400),
    ("politeness", "precise_below_ms", 60_000),
    ("fetch", "max_redirects", 100),
];

/// A scratch directory with a store and config files.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store(&self) -> PathBuf {
        self.path("store")
    }

    /// Writes `name` and returns its path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the binary on this directory's store, with private addresses allowed (the
    /// servers are on loopback).
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_optout"));
        command
            .env("XDG_DATA_HOME", self.path("data"))
            .env_remove("RUST_BACKTRACE")
            .env_remove("OPTOUT_TEST_PANIC")
            .envs(env.iter().copied())
            .arg("--store")
            .arg(self.store())
            .arg("--allow-private-addresses")
            .args(args)
            .stdin(Stdio::null());
        run_bounded(command)
    }

    /// The records of the log, by `optout log export`, after checking `optout log verify`.
    fn verified_records(&self) -> Vec<serde_json::Value> {
        let verify = self.run(&["log", "verify"], &[]);
        assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stdout));
        let export = self.run(&["log", "export"], &[]);
        assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
        text(&export.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Runs `command`, killing it if it has not ended within a minute (a hang is a failure,
/// never a hung test run; a minute is far beyond any run here, however loaded the machine).
fn run_bounded(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!("optout hung; stderr: {}", text(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one line of standard error; fails when there are more or none.
fn one_line(output: &Output) -> String {
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line on stderr: {stderr:?}");
    lines[0].to_owned()
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A TOML file with `key = value` in each of its tables, `extra` lines in the tables named.
fn toml(entries: &[(&str, &str, String)]) -> String {
    let mut tables: Vec<(&str, Vec<String>)> = Vec::new();
    for (table, key, value) in entries {
        let line = format!("{key} = {value}");
        match tables.iter_mut().find(|(t, _)| t == table) {
            Some((_, lines)) => lines.push(line),
            None => tables.push((table, vec![line])),
        }
    }
    tables
        .iter()
        .map(|(t, lines)| format!("[{t}]\n{}\n", lines.join("\n")))
        .collect()
}

/// An offline check: the config is read and validated, no network is touched.
fn offline_check(dir: &Dir, config: &Path) -> Output {
    let robots = dir.write("robots.txt", "User-agent: *\nDisallow: /private\n");
    dir.run(
        &[
            "--config",
            config.to_str().unwrap(),
            "check",
            "--robots",
            robots.to_str().unwrap(),
            "https://example.com/",
        ],
        &[],
    )
}

#[test]
fn every_duration_and_count_over_its_maximum_exits_2_naming_key_value_and_maximum() {
    let dir = Dir::new();
    let mut cases: Vec<(String, String, String, u64)> = MAXIMA
        .iter()
        .flat_map(|&(table, key, max)| {
            [max + 1, u64::MAX].map(|v| (table.to_owned(), key.to_owned(), v.to_string(), max))
        })
        .collect();
    // A per-host override is an interval too.
    cases.push((
        "politeness.hosts".into(),
        "\"slow.example\"".into(),
        "86400001".into(),
        86_400_000,
    ));
    for (table, key, value, max) in cases {
        let config = dir.write("over.toml", &format!("[{table}]\n{key} = {value}\n"));
        let out = offline_check(&dir, &config);
        let line = one_line(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{table}.{key} = {value}: {line}"
        );
        let name = format!("{table}.{key}");
        // A value the key's type cannot hold (`max_retries` is a u32) is refused by the TOML
        // reader, naming the line; any other names the maximum too.
        let max = max.to_string();
        let parts = if line.contains("invalid config file") {
            [key.as_str(), value.as_str(), "line 2"]
        } else {
            [name.as_str(), value.as_str(), max.as_str()]
        };
        for part in parts {
            assert!(
                line.contains(part),
                "{name} = {value}: {line:?} lacks {part}"
            );
        }
    }
}

#[test]
fn every_duration_and_count_at_its_maximum_runs() {
    let dir = Dir::new();
    let server = Server::start();
    server.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    let entries: Vec<(&str, &str, String)> = MAXIMA
        .iter()
        .map(|&(table, key, max)| (table, key, max.to_string()))
        .collect();
    let config = dir.write("max.toml", &toml(&entries));
    assert_eq!(offline_check(&dir, &config).status.code(), Some(0));
    // Online: the policy files are fetched with every limit at its largest.
    let out = dir.run(
        &[
            "--config",
            config.to_str().unwrap(),
            "check",
            "--json",
            &server.url("/page"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json_lines(&out)[0]["verdict"], "allowed");
    assert_eq!(server.count("/robots.txt"), 1);
    // The offline check's decision and the online one.
    assert_eq!(dir.verified_records().len(), 2);
}

/// Pages answer 503/429 with a `Retry-After` of `u64::MAX` seconds and one of 23 digits (no
/// `u64` holds it) while `politeness.max_backoff_s` is at its maximum: each is given up at
/// once, recorded once, requested once, and nothing panics.
#[test]
fn oversized_retry_after_gives_up_after_one_request() {
    let dir = Dir::new();
    let cases = [
        (503, "18446744073709551615", Ipv4Addr::new(127, 0, 0, 2)),
        (429, "99999999999999999999999", Ipv4Addr::new(127, 0, 0, 3)),
    ];
    let servers: Vec<Server> = cases
        .iter()
        .map(|(status, after, ip)| {
            let s = Server::start_on(IpAddr::V4(*ip));
            s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
            s.route("/page", Reply::status(*status).header("Retry-After", after));
            s
        })
        .collect();
    // Were a Retry-After ignored, the one-second back-off would retry within the test.
    let config = dir.write(
        "backoff.toml",
        "[politeness]\nmin_interval_ms = 1\nbackoff_s = 1\nmax_backoff_s = 86400\nmax_retries = 2\n",
    );
    let urls: Vec<String> = servers.iter().map(|s| s.url("/page")).collect();
    let mut args = vec!["--config", config.to_str().unwrap(), "fetch", "--json"];
    args.extend(urls.iter().map(String::as_str));
    let out = dir.run(&args, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{}", text(&out.stdout));
    for line in &lines {
        assert_eq!(line["verdict"], "refused", "{line}");
        assert_eq!(line["reasons"][0]["code"], "politeness.gave-up", "{line}");
        let detail = line["reasons"][0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("Retry-After longer than politeness.max_backoff_s"),
            "{detail}"
        );
    }
    for server in &servers {
        assert_eq!(server.count("/page"), 1, "{:?}", server.counts());
    }
    let records = dir.verified_records();
    for url in &urls {
        let of_url = records.iter().filter(|r| r["url"] == url.as_str()).count();
        assert_eq!(of_url, 1, "{url}: {records:?}");
    }
}

/// A robots.txt whose `Crawl-delay` is astronomically long, even with
/// `politeness.max_crawl_delay_s` at its maximum: a skip, never a wait, never a panic, and
/// neither the page nor the site's other policy files are requested.
#[test]
fn huge_crawl_delay_is_a_skip() {
    let dir = Dir::new();
    let servers: Vec<Server> = ["1e300", "99999999999999999999999"]
        .iter()
        .enumerate()
        .map(|(i, delay)| {
            let s = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4 + i as u8)));
            s.route(
                "/robots.txt",
                Reply::ok(format!("User-agent: *\nCrawl-delay: {delay}\nAllow: /\n")),
            );
            s.route("/page", Reply::ok("hello"));
            s
        })
        .collect();
    let config = dir.write(
        "delay.toml",
        "[politeness]\nmin_interval_ms = 1\nmax_crawl_delay_s = 86400\n",
    );
    let urls: Vec<String> = servers.iter().map(|s| s.url("/page")).collect();
    let mut args = vec!["--config", config.to_str().unwrap(), "fetch", "--json"];
    args.extend(urls.iter().map(String::as_str));
    let out = dir.run(&args, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["verdict"], "refused", "{line}");
        assert_eq!(
            line["reasons"][0]["code"], "politeness.crawl-delay-too-long",
            "{line}"
        );
    }
    for server in &servers {
        assert_eq!(server.count("/robots.txt"), 1);
        assert_eq!(server.total(), 1, "{:?}", server.counts());
    }
    assert_eq!(dir.verified_records().len(), 2);
}

/// A robots.txt answering 503 with a `Retry-After` too long for a `u64`: "not before a very
/// long time" (a day, RFC 9309 §2.4's longest), never "now". A second run, after the
/// configured one-second retry, still does not ask again.
#[test]
fn oversized_retry_after_on_a_policy_file_is_not_retried_soon() {
    let dir = Dir::new();
    let server = Server::start();
    server.route(
        "/robots.txt",
        Reply::status(503).header("Retry-After", "99999999999999999999999"),
    );
    let config = dir.write(
        "retry.toml",
        "[net]\nretry_unreachable_s = 1\nretry_unreachable_max_s = 1\nfetch_tdmrep = false\nfetch_aitxt = false\n",
    );
    let url = server.url("/page");
    let check = || {
        dir.run(
            &[
                "--config",
                config.to_str().unwrap(),
                "check",
                "--json",
                &url,
            ],
            &[],
        )
    };
    let first = check();
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    assert_eq!(json_lines(&first)[0]["verdict"], "refused");
    std::thread::sleep(Duration::from_millis(1500));
    let second = check();
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stderr));
    assert_eq!(server.count("/robots.txt"), 1, "{:?}", server.counts());
}

#[test]
fn config_and_list_files_are_read_with_a_limit() {
    let dir = Dir::new();
    let big = dir.write("big.toml", &format!("# {}\n", "x".repeat(2 * 1024 * 1024)));
    let folder = dir.path("folder");
    std::fs::create_dir(&folder).unwrap();
    let robots = dir.write("robots.txt", "User-agent: *\nAllow: /\n");
    let check = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "check",
            "--robots",
            robots.to_str().unwrap(),
            "https://e.com/",
        ]);
        dir.run(&all, &[])
    };
    let config_cases = [
        (big.to_str().unwrap(), "larger than 1048576 bytes"),
        ("/dev/zero", "larger than 1048576 bytes"),
        (folder.to_str().unwrap(), "it is a directory"),
    ];
    for (path, says) in config_cases {
        let out = check(&["--config", path]);
        let line = one_line(&out);
        assert_eq!(out.status.code(), Some(2), "{path}: {line}");
        assert!(
            line.contains("config file") && line.contains(says),
            "{line}"
        );
    }
    for key in ["excluded_domains_file", "ai_crawlers_file"] {
        for (path, says) in [
            ("/dev/zero", "larger than 67108864 bytes"),
            (folder.to_str().unwrap(), "it is a directory"),
        ] {
            let config = dir.write("lists.toml", &format!("[signals]\n{key} = {path:?}\n"));
            let out = check(&["--config", config.to_str().unwrap()]);
            let line = one_line(&out);
            assert_eq!(out.status.code(), Some(2), "{key} = {path}: {line}");
            assert!(line.contains("list file") && line.contains(says), "{line}");
        }
    }
    let out = dir.run(
        &[
            "check",
            "--excluded-domains",
            folder.to_str().unwrap(),
            "--robots",
            robots.to_str().unwrap(),
            "https://e.com/",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line(&out).contains("it is a directory"));
}

fn two_sites() -> Vec<Server> {
    (0..2)
        .map(|i| {
            let s = Server::start_on(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 6 + i)));
            s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
            s.route("/page", Reply::ok("hello"));
            s
        })
        .collect()
}

fn fetch_with_panic(dir: &Dir, servers: &[Server], place: &str) -> Output {
    // The background flush waits a minute: what is on disk got there by the command's own
    // sync or by the log's `Drop` as the panic unwound.
    let config = dir.write(
        "fast.toml",
        "[politeness]\nmin_interval_ms = 1\n[evidence]\nflush_every_ms = 60000\nflush_records = 1000000\n",
    );
    let urls: Vec<String> = servers.iter().map(|s| s.url("/page")).collect();
    let mut args = vec!["--config", config.to_str().unwrap(), "fetch", "--json"];
    args.extend(urls.iter().map(String::as_str));
    dir.run(&args, &[("OPTOUT_TEST_PANIC", place)])
}

/// A panic in a fetch task (after its fetch was recorded): exit 70, one line, and the
/// records written before it are on disk and verify.
#[test]
fn a_panicking_task_exits_70_with_one_line_and_the_log_intact() {
    let dir = Dir::new();
    let servers = two_sites();
    let out = fetch_with_panic(&dir, &servers, "task");
    let line = one_line(&out);
    assert_eq!(out.status.code(), Some(70), "{line}");
    assert!(line.starts_with("optout: internal error"), "{line}");
    assert!(line.contains("OPTOUT_TEST_PANIC=task"), "{line}");
    for server in &servers {
        assert_eq!(server.count("/page"), 1);
    }
    // Each task recorded its page before it panicked.
    let records = dir.verified_records();
    for server in &servers {
        let url = server.url("/page");
        assert!(records.iter().any(|r| r["url"] == url.as_str()), "{url}");
    }
}

/// A panic on the main thread while the log is open: exit 70, one line, and the record of
/// the line printed before it is on disk and verifies.
#[test]
fn a_panic_on_the_main_thread_exits_70_with_the_log_intact() {
    let dir = Dir::new();
    let servers = two_sites();
    let out = fetch_with_panic(&dir, &servers, "main");
    let line = one_line(&out);
    assert_eq!(out.status.code(), Some(70), "{line}");
    assert!(line.contains("OPTOUT_TEST_PANIC=main"), "{line}");
    let printed = json_lines(&out);
    assert_eq!(printed.len(), 1, "{}", text(&out.stdout));
    let seq = printed[0]["seq"].as_u64().unwrap();
    let records = dir.verified_records();
    assert!(records.iter().any(|r| r["seq"] == seq), "{records:?}");
}
