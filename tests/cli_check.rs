//! The `optout check` contract: output, JSON fields, standard input, exit codes 0/1/2.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const ROBOTS: &str = "\
User-agent: *
Disallow: /private/
Allow: /private/open

User-agent: ExampleBot
Disallow: /
";

struct Fixture {
    _dir: tempfile::TempDir,
    robots: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let robots = dir.path().join("robots.txt");
    std::fs::write(&robots, ROBOTS).unwrap();
    Fixture { _dir: dir, robots }
}

fn optout(args: &[&str], stdin: Option<&str>) -> Output {
    // Each run records into its own store, never the user's.
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_optout"))
        .env("XDG_DATA_HOME", data.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed standard input from another thread: the child writes while it reads.
    let mut input = child.stdin.take().unwrap();
    let text = stdin.unwrap_or_default().to_owned();
    let feeder = std::thread::spawn(move || {
        // The child may exit early (a usage error) and close its end.
        let _ = input.write_all(text.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn all_allowed_exits_0_with_one_line_per_url() {
    let f = fixture();
    let robots = f.robots.to_str().unwrap();
    let o = optout(
        &[
            "check",
            "--robots",
            robots,
            "https://example.com/",
            "https://example.com/private/open/x",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("allowed"), "{out}");
    assert!(lines[0].contains("robots.no-match"), "{out}");
    assert!(
        lines[1].contains("robots.allow [robots.txt] line 3"),
        "{out}"
    );
}

#[test]
fn a_refusal_exits_1_and_names_the_rule() {
    let f = fixture();
    let o = optout(
        &[
            "check",
            "--robots",
            f.robots.to_str().unwrap(),
            "https://example.com/",
            "https://example.com/private/secret",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let refused = out.lines().nth(1).unwrap();
    assert!(refused.starts_with("refused"), "{out}");
    assert!(
        refused.contains("robots.disallow [robots.txt] line 2 \"/private/\" (user-agent: *)"),
        "{refused}"
    );
}

#[test]
fn agent_flag_selects_the_group_case_insensitively() {
    let f = fixture();
    let robots = f.robots.to_str().unwrap();
    let o = optout(
        &[
            "check",
            "--robots",
            robots,
            "--agent",
            "examplebot",
            "https://e.com/",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("(user-agent: ExampleBot)"));
}

#[test]
fn json_has_url_verdict_and_reasons_with_code_line_rule() {
    let f = fixture();
    let o = optout(
        &[
            "check",
            "--json",
            "--robots",
            f.robots.to_str().unwrap(),
            "https://example.com/private/x",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["url"], "https://example.com/private/x");
    assert_eq!(v["verdict"], "refused");
    assert_eq!(v["agent"], "optout");
    assert_eq!(v["purpose"], "train-ai");
    let reason = &v["reasons"][0];
    assert_eq!(reason["code"], "robots.disallow");
    assert_eq!(reason["line"], 2);
    assert_eq!(reason["rule"], "/private/");
    assert_eq!(reason["agents"][0], "*");
}

#[test]
fn urls_from_standard_input_in_batch() {
    let f = fixture();
    let mut input = String::new();
    for i in 0..5_000 {
        input.push_str(&format!("https://example.com/page/{i}\n"));
        input.push_str(&format!("https://example.com/private/{i}\n\n"));
    }
    let o = optout(
        &["check", "--json", "--robots", f.robots.to_str().unwrap()],
        Some(&input),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10_000);
    assert_eq!(lines[0]["verdict"], "allowed");
    assert_eq!(lines[1]["verdict"], "refused");
    assert_eq!(lines[9_999]["url"], "https://example.com/private/4999");
}

#[test]
fn an_unparsable_url_is_reported_in_its_line_and_exits_2() {
    let f = fixture();
    let o = optout(
        &["check", "--json", "--robots", f.robots.to_str().unwrap()],
        Some("https://example.com/\nnot a url\nftp://example.com/x\nhttps://example.com/ok\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "every line is answered: {out}");
    assert_eq!(lines[1]["verdict"], "error");
    assert_eq!(lines[1]["reasons"][0]["code"], "url.invalid");
    assert_eq!(lines[2]["reasons"][0]["code"], "url.unsupported-scheme");
    assert_eq!(lines[3]["verdict"], "allowed");
}

#[test]
fn missing_robots_file_is_one_line_exit_2() {
    let o = optout(
        &[
            "check",
            "--robots",
            "/nonexistent/robots.txt",
            "https://e.com/",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/robots.txt"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn invalid_agent_token_is_a_usage_error() {
    let f = fixture();
    let o = optout(
        &[
            "check",
            "--robots",
            f.robots.to_str().unwrap(),
            "--agent",
            "Bot 2.0",
            "https://e.com/",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RFC 9309"), "{}", stderr(&o));
}

#[test]
fn unknown_flag_and_bad_header_are_usage_errors() {
    // (Without --robots etc. a check is online since issue 5: tests/live_sources.rs.)
    let o = optout(&["check", "--frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
    let o = optout(&["check", "--header", "no colon", "https://e.com/"], None);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn config_file_sets_the_agent_and_bad_config_exits_2() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("optout.toml");
    std::fs::write(&config, "[crawler]\nproduct_token = \"ExampleBot\"\n").unwrap();
    let o = optout(
        &[
            "--config",
            config.to_str().unwrap(),
            "check",
            "--robots",
            f.robots.to_str().unwrap(),
            "https://e.com/",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    std::fs::write(&config, "[crawler\n").unwrap();
    let o = optout(
        &[
            "check",
            "--config",
            config.to_str().unwrap(),
            "--robots",
            f.robots.to_str().unwrap(),
            "https://e.com/",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

#[test]
fn panicking_corpus_file_is_checked_normally() {
    let robots = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/robots/www.force.com"
    );
    let o = optout(
        &[
            "check",
            "--json",
            "--robots",
            robots,
            "https://www.force.com/",
        ],
        None,
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(v["verdict"] == "allowed" || v["verdict"] == "refused");
}

#[test]
fn offline_signals_flags_and_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let robots = write("robots.txt", "User-agent: *\nAllow: /\n");
    let tdmrep = write(
        "tdmrep.json",
        r#"[{"location":"/reports/","tdm-reservation":1,"tdm-policy":"https://e.com/p.json"}]"#,
    );
    let aitxt = write("ai.txt", "*.jpg\n");
    let html = write("page.html", r#"<meta name="robots" content="noai">"#);
    let excluded = write("excluded.txt", "# list\npirate.example\n");
    let base = [
        "check",
        "--json",
        "--robots",
        &robots,
        "--tdmrep",
        &tdmrep,
        "--aitxt",
        &aitxt,
        "--excluded-domains",
        &excluded,
    ];
    let run = |extra: &[&str], url: &str| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        args.push(url);
        let o = optout(&args, None);
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim())
            .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&o), stderr(&o)));
        (o.status.code(), v)
    };
    let (code, v) = run(&[], "https://e.com/reports/q3");
    assert_eq!(code, Some(1));
    assert_eq!(v["reasons"][0]["code"], "tdmrep.reserved");
    assert_eq!(v["reasons"][0]["policy"], "https://e.com/p.json");
    let (code, _) = run(&["--purpose", "search"], "https://e.com/reports/q3");
    assert_eq!(code, Some(0));
    let (_, v) = run(&[], "https://e.com/cat.jpg");
    assert_eq!(v["reasons"][0]["code"], "aitxt.disallow");
    let (_, v) = run(&["--purpose", "search"], "https://www.pirate.example/");
    assert_eq!(v["reasons"][0]["code"], "excluded-domain");
    let (_, v) = run(&["--html", &html], "https://e.com/page");
    assert_eq!(v["reasons"][0]["code"], "tags.noai");
    assert_eq!(v["reasons"][0]["source"], "meta robots");
    let (_, v) = run(
        &["--header", "Content-Usage: train-ai=n"],
        "https://e.com/page",
    );
    assert_eq!(v["reasons"][0]["code"], "aipref.train-ai");
    let (code, v) = run(
        &["--header", "X-Robots-Tag: otherbot: noai"],
        "https://e.com/page",
    );
    assert_eq!(code, Some(0), "{v}");
}

/// draft-illyes-repext-03 §3.1.1 through the real binary: `check --header 'Robots-Tag:
/// *;noai'` refuses training and names the header; for search it does not reserve; a
/// member for another crawler does not reserve; an unreadable field refuses, and says so.
#[test]
fn offline_robots_tag_header() {
    let dir = tempfile::tempdir().unwrap();
    let robots = dir.path().join("robots.txt");
    std::fs::write(&robots, "User-agent: *\nAllow: /\n").unwrap();
    let robots = robots.to_str().unwrap();
    let run = |header: &str, purpose: &str| {
        let o = optout(
            &[
                "check",
                "--json",
                "--purpose",
                purpose,
                "--header",
                header,
                "https://e.com/page",
                "--robots",
                robots,
            ],
            None,
        );
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim())
            .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&o), stderr(&o)));
        (o.status.code(), v)
    };
    let (code, v) = run("Robots-Tag: *;noai", "train-ai");
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["verdict"], "refused");
    assert_eq!(v["reasons"][0]["code"], "tags.noai");
    assert_eq!(v["reasons"][0]["source"], "header Robots-Tag");
    assert_eq!(v["reasons"][0]["rule"], "*;noai");
    assert_eq!(v["reasons"][0]["agents"][0], "*");
    let (code, v) = run("Robots-Tag: *;noai", "search");
    assert_eq!(code, Some(0), "{v}");
    let (code, v) = run("Robots-Tag: ExampleBot;noai", "train-ai");
    assert_eq!(code, Some(0), "{v}");
    let (code, v) = run("Robots-Tag: *;noai,,", "train-ai");
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["reasons"][0]["code"], "tags.unreadable");
}

#[test]
fn bad_header_flag_and_bad_excluded_list_are_usage_errors() {
    let o = optout(&["check", "--header", "no colon", "https://e.com/"], None);
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("x.txt");
    std::fs::write(&list, "ok.example\nnot a domain\n").unwrap();
    let o = optout(
        &[
            "check",
            "--header",
            "A: b",
            "--excluded-domains",
            list.to_str().unwrap(),
            "https://e.com/",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_non_utf8_line_or_a_cr_inside_a_line_does_not_derail_the_batch() {
    let f = fixture();
    let robots = f.robots.to_str().unwrap().to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_optout"))
        .args(["check", "--json", "--no-log", "--robots", &robots])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(
            b"https://e.com/\xff\nhttps://e.com/a\rhttps://e.com/private/b\nhttps://e.com/ok\n",
        )
        .unwrap();
    drop(input);
    let o = child.wait_with_output().unwrap();
    let out = stdout(&o);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[2]["url"], "https://e.com/private/b");
    assert_eq!(lines[2]["verdict"], "refused");
    assert_eq!(lines[3]["verdict"], "allowed");
}
