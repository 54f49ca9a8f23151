//! The command line against hostile inputs and readers: offline files of any size (or
//! endless), flags that are not one HTTP field, web text full of terminal controls, and a
//! reader that closes standard output early. Every run uses the real binary, its own store
//! and, where a site is needed, a loopback server.

#[path = "support/server.rs"]
mod server;

use server::{Reply, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest a run may take before the test calls it a hang (a loaded 2-core machine
/// finishes each of these in well under a second).
const HANG: Duration = Duration::from_secs(60);

/// The most memory (peak resident set) a run may use. Reading at most the limits costs a
/// few tens of MiB; reading `/dev/zero` whole reaches this within seconds.
const MEMORY_CAP_KIB: u64 = 400 * 1024;

/// A temp dir with a store and a config that keeps politeness out of the way.
struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(config: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!("[politeness]\nmin_interval_ms = 1\n{config}");
        std::fs::write(dir.path().join("optout.toml"), toml).unwrap();
        Rig { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_optout"));
        command
            .arg("--config")
            .arg(self.path("optout.toml"))
            .arg("--store")
            .arg(self.path("store"))
            .arg("--allow-private-addresses")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs to the end within [`HANG`] and [`MEMORY_CAP_KIB`], or fails the test.
    fn run(&self, args: &[&str]) -> Run {
        watch(self.command(args).spawn().unwrap())
    }

    fn export(&self) -> Vec<serde_json::Value> {
        let out = self.command(&["log", "export"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn verify(&self) {
        let out = self.command(&["log", "verify"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_kib: u64,
}

/// The peak resident set of a running process (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn drain(from: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut from) = from {
            let _ = from.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child`, sampling its peak memory; kills it and fails past either bound.
fn watch(mut child: Child) -> Run {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        peak = peak.max(peak_kib(child.id()).unwrap_or(0));
        if peak > MEMORY_CAP_KIB || start.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "stopped after {:?} at a peak of {} MiB",
                start.elapsed(),
                peak / 1024
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: String::from_utf8(out.join().unwrap()).unwrap(),
        stderr: String::from_utf8(err.join().unwrap()).unwrap(),
        peak_kib: peak,
    }
}

fn codes(line: &serde_json::Value) -> Vec<&str> {
    line["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect()
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// --- Item 5: offline files are read up to the online limits -------------------------------

#[test]
fn dev_zero_is_read_up_to_the_limit_for_every_file_flag() {
    let rig = Rig::new("");
    let cases = [
        ("--robots", "allowed", Some("robots.truncated")),
        ("--tdmrep", "refused", Some("tdmrep.unreachable")),
        // ai.txt has no reason of its own: it was read, and nothing in it applies.
        ("--aitxt", "allowed", None),
        ("--html", "discarded", Some("fetch.truncated")),
    ];
    for (flag, verdict, code) in cases {
        let run = rig.run(&["check", "--json", flag, "/dev/zero", "https://e.com/a"]);
        let lines = json_lines(&run.stdout);
        assert_eq!(lines.len(), 1, "{flag}: {}{}", run.stdout, run.stderr);
        assert_eq!(lines[0]["verdict"], verdict, "{flag}: {}", run.stdout);
        if let Some(code) = code {
            assert!(codes(&lines[0]).contains(&code), "{flag}: {}", run.stdout);
        }
        eprintln!("{flag} /dev/zero: peak {} MiB", run.peak_kib / 1024);
    }
    rig.verify();
}

#[test]
fn a_directory_given_as_a_file_is_a_one_line_error() {
    let rig = Rig::new("");
    let dir = rig.path("a-directory");
    std::fs::create_dir(&dir).unwrap();
    let dir = dir.to_str().unwrap();
    for flag in ["--robots", "--tdmrep", "--aitxt", "--html"] {
        let run = rig.run(&["check", flag, dir, "https://e.com/"]);
        assert_eq!(run.code, Some(2), "{flag}: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{flag}: {}", run.stdout);
        assert_eq!(run.stderr.lines().count(), 1, "{flag}: {}", run.stderr);
        assert!(run.stderr.contains(dir), "{flag}: {}", run.stderr);
        assert!(run.stderr.contains("directory"), "{flag}: {}", run.stderr);
    }
}

/// 512 KiB, the default `limits.robots_parse_limit`.
const PARSE_LIMIT: usize = 512 * 1024;

/// `head`, then comment lines up to `cut` bytes, then `straddling` across the cut, then
/// `tail`.
fn padded(head: &str, cut: usize, straddling: &str, tail: &str) -> Vec<u8> {
    let mut bytes = head.as_bytes().to_vec();
    let split = straddling.len() / 2;
    while bytes.len() < cut - split {
        let room = cut - split - bytes.len();
        let line = "#".repeat(room.clamp(1, 100) - 1) + "\n";
        bytes.extend_from_slice(line.as_bytes());
    }
    assert_eq!(bytes.len(), cut - split);
    bytes.extend_from_slice(straddling.as_bytes());
    bytes.extend_from_slice(tail.as_bytes());
    bytes
}

#[test]
fn a_robots_txt_over_the_limit_is_cut_and_only_the_kept_bytes_are_stored() {
    let rig = Rig::new("");
    // `Disallow: /private-area` straddles the limit (half of it would refuse /p...), and a
    // `Disallow: /` follows the cut: neither is read, as for a fetched robots.txt.
    let mut file = padded(
        "User-agent: *\nAllow: /public\n",
        PARSE_LIMIT,
        "Disallow: /private-area\n",
        "Disallow: /\n",
    );
    file.resize(4 * 1024 * 1024, b'#');
    let robots = rig.write("robots.txt", &file);
    let run = rig.run(&["check", "--json", "--robots", &robots, "https://e.com/p"]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let line = &json_lines(&run.stdout)[0];
    assert_eq!(line["verdict"], "allowed");
    assert!(codes(line).contains(&"robots.truncated"), "{line}");

    // The record names, and the store holds, the bytes kept: the first 512 KiB.
    let records = rig.export();
    let sources = records[0]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{sources:?}");
    let kept = optout::evidence::record::sha256_hex(&file[..PARSE_LIMIT]);
    assert_eq!(sources[0]["sha256"], kept.as_str());
    rig.verify();
}

#[test]
fn a_cut_ai_txt_drops_the_line_it_cut_and_all_after() {
    let rig = Rig::new("");
    let file = padded(
        "User-agent: *\n",
        PARSE_LIMIT,
        "Disallow: /private-area\n",
        "Disallow: /after\n",
    );
    let aitxt = rig.write("ai.txt", &file);
    let run = rig.run(&[
        "check",
        "--json",
        "--aitxt",
        &aitxt,
        "https://e.com/p",
        "https://e.com/after",
    ]);
    let lines = json_lines(&run.stdout);
    assert_eq!(lines.len(), 2, "{}{}", run.stdout, run.stderr);
    for line in &lines {
        assert_eq!(line["verdict"], "allowed", "{line}");
    }
    assert_eq!(run.code, Some(0));
}

#[test]
fn a_cut_tdmrep_json_or_page_fails_closed() {
    // A page limit of 1000 bytes; tdmrep.json is read up to the robots.txt parse limit.
    let rig = Rig::new("[net]\nmax_body_bytes = 1000\n");
    let mut tdmrep = br#"[{"location": "/*", "tdm-reservation": 0}"#.to_vec();
    tdmrep.resize(PARSE_LIMIT + 100, b' ');
    tdmrep.extend_from_slice(b"]");
    let tdmrep = rig.write("tdmrep.json", &tdmrep);
    let run = rig.run(&["check", "--json", "--tdmrep", &tdmrep, "https://e.com/a"]);
    let line = &json_lines(&run.stdout)[0];
    assert_eq!(line["verdict"], "refused", "{line}");
    assert_eq!(codes(line), ["tdmrep.unreachable"], "{line}");
    assert!(
        line["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be read whole"),
        "{line}"
    );
    assert_eq!(run.code, Some(1));

    // A page with nothing reserved in it, but longer than the limit: the rest is unread.
    let mut page = b"<html><head><title>t</title></head><body>".to_vec();
    page.resize(3000, b'x');
    page.extend_from_slice(b"</body></html>");
    let page = rig.write("page.html", &page);
    let run = rig.run(&["check", "--json", "--html", &page, "https://e.com/a"]);
    let line = &json_lines(&run.stdout)[0];
    assert_eq!(line["verdict"], "discarded", "{line}");
    assert_eq!(codes(line)[0], "fetch.truncated", "{line}");
    assert_eq!(run.code, Some(1));

    // A page cut after a reservation: refused by it, the cut noted.
    let mut page = b"<html><head><meta name=robots content=noai></head><body>".to_vec();
    page.resize(3000, b'x');
    let page = rig.write("noai.html", &page);
    let run = rig.run(&["check", "--json", "--html", &page, "https://e.com/a"]);
    let line = &json_lines(&run.stdout)[0];
    assert_eq!(line["verdict"], "refused", "{line}");
    assert_eq!(codes(line), ["tags.noai", "fetch.truncated"], "{line}");
    rig.verify();
}

// --- Item 6: a --header is one HTTP field or a usage error --------------------------------

#[test]
fn header_flags_that_are_not_one_http_field_are_usage_errors() {
    let rig = Rig::new("");
    for header in [
        "X-Robots-Tag: all\r\nX-Robots-Tag: noai",
        "X-Robots-Tag: all\nX-Robots-Tag: noai",
        "X-Robots-Tag: all\x1b[2J",
        "X Robots Tag: noai",
        "X-Robots-Tag\x07: noai",
        ": noai",
    ] {
        let run = rig.run(&["check", "--header", header, "https://e.com/"]);
        assert_eq!(run.code, Some(2), "{header:?}: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{header:?}: {}", run.stdout);
        assert_eq!(run.stderr.lines().count(), 1, "{header:?}: {}", run.stderr);
        assert!(run.stderr.contains("--header"), "{}", run.stderr);
        assert!(
            !run.stderr.contains(['\x1b', '\x07', '\0']),
            "{}",
            run.stderr
        );
    }
    // Nothing was recorded for a command line that was refused.
    assert!(!rig.path("store").exists() || rig.export().is_empty());
}

#[test]
fn a_repeated_header_flag_still_counts_every_value() {
    let rig = Rig::new("");
    let run = rig.run(&[
        "check",
        "--json",
        "--header",
        "X-Robots-Tag: all",
        "--header",
        "X-Robots-Tag:\tnoai ",
        "https://e.com/",
    ]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let line = &json_lines(&run.stdout)[0];
    assert_eq!(line["verdict"], "refused");
    assert_eq!(codes(line)[0], "tags.noai", "{line}");
}

// --- Item 7: output is safe and honest ----------------------------------------------------

/// Terminal controls a site can put in a `tdm-policy` URL (JSON escapes reach any byte).
const HOSTILE_POLICY: &str = r#"[{"location": "/*", "tdm-reservation": 1,
    "tdm-policy": "https://e.com/p\u001b]0;owned\u0007\r\u009b2J\u007f\u202e"}]"#;

/// True when `text` holds a control character (other than the line feeds ending lines).
fn has_raw_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

/// True when `text` also holds a bidirectional override, which reorders what follows.
fn has_raw_controls_or_bidi(text: &str) -> bool {
    has_raw_controls(text) || text.contains('\u{202e}')
}

#[test]
fn check_escapes_controls_from_urls_and_files_in_plain_output() {
    let rig = Rig::new("");
    let tdmrep = rig.write("tdmrep.json", HOSTILE_POLICY);
    let mut child = rig
        .command(&["check", "--tdmrep", &tdmrep])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("https://e.com/a\n\x1b[31mnot a url\x07\u{9b}\x7f\n".as_bytes())
        .unwrap();
    let run = watch(child);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(!has_raw_controls_or_bidi(&run.stdout), "{:?}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{:?}", run.stdout);
    assert!(
        lines[0].contains(r"policy <https://e.com/p\x1b]0;owned\x07\r\u{9b}2J\x7f\u{202e}>"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(r"error    \x1b[31mnot a url\x07\u{9b}\x7f"),
        "{}",
        lines[1]
    );
}

#[test]
fn json_output_escapes_c1_controls_and_del_too() {
    let rig = Rig::new("");
    let tdmrep = rig.write("tdmrep.json", HOSTILE_POLICY);
    let run = rig.run(&["check", "--json", "--tdmrep", &tdmrep, "https://e.com/a"]);
    assert!(!has_raw_controls(&run.stdout), "{:?}", run.stdout);
    assert!(run.stdout.contains(r"\u009b2J\u007f"), "{}", run.stdout);
    // Escaped or not, it is the same JSON string.
    let line = &json_lines(&run.stdout)[0];
    assert_eq!(
        line["reasons"][0]["policy"],
        "https://e.com/p\u{1b}]0;owned\u{7}\r\u{9b}2J\u{7f}\u{202e}"
    );
}

/// A site whose tdmrep.json reserves everything under a hostile policy URL.
fn hostile_site() -> Server {
    let s = Server::start();
    s.route("/robots.txt", Reply::ok("User-agent: *\nAllow: /\n"));
    s.route("/.well-known/tdmrep.json", Reply::ok(HOSTILE_POLICY));
    s.route("/ai.txt", Reply::status(404));
    s
}

#[test]
fn fetch_escapes_controls_from_the_site_on_stderr_and_stdout() {
    let s = hostile_site();
    let rig = Rig::new("");
    let run = rig.run(&["fetch", &s.url("/a")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(!has_raw_controls_or_bidi(&run.stderr), "{:?}", run.stderr);
    assert!(
        run.stderr.contains(r"\x1b]0;owned\x07\r\u{9b}2J"),
        "{}",
        run.stderr
    );

    let run = rig.run(&["fetch", &s.url("/a"), &s.url("/b")]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert!(!has_raw_controls_or_bidi(&run.stdout), "{:?}", run.stdout);
    assert!(run.stdout.contains(r"\x1b]0;owned"), "{}", run.stdout);
}

/// Feeds `first` URLs, reads one line of output, closes standard output and goes on
/// feeding URLs (standard input stays open): the process must notice, stop and exit 141.
/// Returns the line read.
fn close_output_after_one_line(mut child: Child, url: impl Fn(usize) -> String) -> String {
    let mut input = child.stdin.take().unwrap();
    let err = drain(child.stderr.take());
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // The reader, and with it the pipe, is dropped here.
    });
    writeln!(input, "{}\n{}", url(0), url(1)).unwrap();
    let Ok(line) = rx.recv_timeout(HANG) else {
        child.kill().unwrap();
        panic!("no output line while standard input is open");
    };
    let start = Instant::now();
    let mut n = 2;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            child.kill().unwrap();
            panic!("still running {HANG:?} after its output was closed");
        }
        // The process may be gone by now: its end of the pipe is closed.
        if writeln!(input, "{}", url(n)).is_err() {
            std::thread::sleep(Duration::from_millis(10));
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = String::from_utf8(err.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(141), "{stderr}");
    assert!(stderr.lines().count() <= 1, "{stderr}");
    line
}

/// The evidence number printed on a plain output line.
fn evidence_seq(line: &str) -> u64 {
    let (_, rest) = line.rsplit_once("[evidence #").unwrap();
    rest.trim_end().trim_end_matches(']').parse().unwrap()
}

fn assert_recorded(rig: &Rig, line: &str) {
    let seq = evidence_seq(line);
    rig.verify();
    let records = rig.export();
    assert!(
        records.iter().any(|r| r["seq"] == seq),
        "#{seq} is not in the log: {records:?}"
    );
}

#[test]
fn check_stops_reading_when_its_output_is_closed() {
    let rig = Rig::new("");
    let robots = rig.write("robots.txt", "User-agent: *\nDisallow: /private/\n");
    let child = rig
        .command(&["check", "--robots", &robots])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let line = close_output_after_one_line(child, |n| format!("https://e.com/{n}"));
    assert!(line.starts_with("allowed  https://e.com/0"), "{line}");
    assert_recorded(&rig, &line);
}

#[test]
fn online_check_stops_reading_when_its_output_is_closed() {
    let s = hostile_site();
    let rig = Rig::new("");
    let child = rig
        .command(&["check", "--purpose", "search"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let line = close_output_after_one_line(child, |n| s.url(&format!("/{n}")));
    assert!(line.starts_with("allowed "), "{line}");
    assert_recorded(&rig, &line);
}

#[test]
fn fetch_stops_reading_when_its_output_is_closed() {
    let s = hostile_site();
    s.fallback(Reply::ok("<html><body>hello</body></html>").header("Content-Type", "text/html"));
    let rig = Rig::new("");
    let child = rig
        .command(&["fetch", "--purpose", "search"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let line = close_output_after_one_line(child, |n| s.url(&format!("/{n}")));
    assert!(line.starts_with("allowed "), "{line}");
    assert_recorded(&rig, &line);
}

#[test]
fn fetch_of_one_url_into_a_closed_pipe_exits_141() {
    let s = hostile_site();
    s.route("/big", Reply::ok(vec![b'x'; 4 << 20]));
    let rig = Rig::new("");
    let mut child = rig
        .command(&["fetch", "--purpose", "search", &s.url("/big")])
        .spawn()
        .unwrap();
    // Close the pipe before the body is written.
    drop(child.stdout.take());
    let run = watch(child);
    assert_eq!(run.code, Some(141), "{}", run.stderr);
    rig.verify();
}

#[test]
fn standard_input_without_line_breaks_is_refused_not_gathered() {
    let rig = Rig::new("");
    let robots = rig.write("robots.txt", "User-agent: *\nAllow: /\n");
    for command in ["check", "fetch"] {
        let mut args = vec![command];
        if command == "check" {
            args.extend(["--robots", &robots]);
        }
        let child = rig
            .command(&args)
            .stdin(std::fs::File::open("/dev/zero").unwrap())
            .spawn()
            .unwrap();
        let run = watch(child);
        assert_eq!(run.code, Some(2), "{command}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("standard input"), "{}", run.stderr);
    }
}

#[test]
fn log_show_escapes_the_sites_bytes_and_export_into_a_closed_pipe_is_not_a_success() {
    let rig = Rig::new("");
    // A robots.txt whose lines carry terminal escapes, BEL, a C1 CSI and a bidi override.
    let robots = rig.write(
        "robots.txt",
        "User-agent: *\n# \x1b]0;owned\x07 \u{9b}2J \u{202e}\nDisallow: /private/\nDisallow: /x\x1b[31m\n",
    );
    let run = rig.run(&["check", "--robots", &robots, "https://e.com/private/x"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let show = rig.run(&["log", "show", "1"]);
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(!has_raw_controls_or_bidi(&show.stdout), "{:?}", show.stdout);
    assert!(show.stdout.contains(r"\x1b]0;owned\x07"), "{}", show.stdout);
    assert!(
        show.stdout.contains(r"Disallow: /x\x1b[31m"),
        "{}",
        show.stdout
    );

    // Enough records that the export does not fit the pipe before it is closed.
    let urls: Vec<String> = (0..3000).map(|n| format!("https://e.com/{n}")).collect();
    let mut args = vec!["check", "--robots", robots.as_str()];
    args.extend(urls.iter().map(String::as_str));
    assert_eq!(rig.run(&args).code, Some(0));
    for format in ["jsonl", "csv"] {
        let mut child = rig
            .command(&["log", "export", "--format", format])
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let run = watch(child);
        assert_eq!(run.code, Some(141), "{format}: {}", run.stderr);
    }
    rig.verify();
}
