//! The engine, the one entry point for deciding on many URLs, against real HTTP servers on
//! 127.0.0.1 and a real store: input order, errors in place, one robots.txt request per
//! origin however many URLs ask at once, records durable on return and verifiable, the
//! same answers as `optout check --json`, and given inputs judged as the CLI judges files.

#[path = "support/server.rs"]
mod server;

use optout::config::Config;
use optout::engine::{Engine, EngineError, EngineOptions, Given, GivenFile, OpenEngine};
use optout::policy::{Purpose, Verdict};
use server::{Reply, Server};
use std::path::Path;
use std::process::Command;

const NET: &str = "[net]\nallow_private_addresses = true\nconnect_timeout_ms = 2000\nread_timeout_ms = 5000\ntotal_timeout_ms = 10000\nfetch_tdmrep = false\nfetch_aitxt = false\n";

fn config() -> Config {
    Config::from_toml(NET).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn site() -> Server {
    let server = Server::start();
    server.route(
        "/robots.txt",
        Reply::ok("User-agent: *\nDisallow: /private\n\nUser-agent: otherbot\nDisallow: /\n")
            .delayed(std::time::Duration::from_millis(200)),
    );
    server
}

fn optout(store: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--store")
        .arg(store)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn check_many_answers_in_input_order_with_errors_in_place_and_one_robots_fetch() {
    let server = site();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let engine = Engine::open(&config(), Some(&store), EngineOptions::default()).unwrap();
    let ask = engine.ask(Some("mybot"), Some(Purpose::TrainAi)).unwrap();
    let mut inputs = Vec::new();
    for i in 0..40 {
        inputs.push(server.url(&format!("/private/{i}")));
        inputs.push(server.url(&format!("/public/{i}")));
    }
    inputs.insert(7, "not a url".into());
    inputs.insert(30, "https://user:secret@example.com/".into());
    let checked = runtime()
        .block_on(engine.check_many(&ask, inputs.clone()))
        .unwrap();
    assert_eq!(checked.len(), inputs.len());
    for (input, c) in inputs.iter().zip(&checked) {
        let want = if input == "not a url" {
            "error"
        } else if input.contains("secret") {
            assert!(!c.input.contains("secret"), "{}", c.input);
            c.verdict_str()
        } else if input.contains("/private/") {
            "refused"
        } else {
            "allowed"
        };
        assert_eq!(c.verdict_str(), want, "{input}: {:?}", c.reasons);
        if c.verdict.is_some() {
            assert!(c.seq.is_some(), "{input}");
        }
    }
    // Every decision is on record before check_many returns, in input order.
    let seqs: Vec<u64> = checked.iter().filter_map(|c| c.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] + 1 == w[1]), "{seqs:?}");
    let log = engine.log().unwrap();
    assert!(log.durable_seq() >= *seqs.last().unwrap());
    // 80 URLs of one origin at once: its robots.txt was requested once (single flight).
    assert_eq!(server.count("/robots.txt"), 1);
    assert_eq!(server.total(), 1, "{:?}", server.counts());
    drop(engine);
    let cfg = dir.path().join("optout.toml");
    std::fs::write(&cfg, NET).unwrap();
    let verify = optout(&store, &cfg, &["log", "verify"]);
    assert!(verify.status.success(), "{verify:?}");
}

#[test]
fn engine_answers_equal_the_cli_json_lines() {
    let server = site();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("optout.toml");
    std::fs::write(&cfg, NET).unwrap();
    let urls: Vec<String> = ["/private/a", "/public/b", "/", "/private"]
        .iter()
        .map(|p| server.url(p))
        .chain(["ftp://example.com/".to_string(), "".to_string()])
        .collect();
    for agent in ["mybot", "otherbot"] {
        let mut args = vec!["check", "--json", "--no-log", "--agent", agent];
        args.extend(urls.iter().map(String::as_str));
        let cli = optout(&dir.path().join("cli-store"), &cfg, &args);
        let cli = String::from_utf8(cli.stdout).unwrap();
        let engine = Engine::open(
            &config(),
            Some(&dir.path().join(format!("engine-{agent}"))),
            EngineOptions {
                record: false,
                excluded_domains: None,
            },
        )
        .unwrap();
        let ask = engine.ask(Some(agent), None).unwrap();
        let checked = runtime()
            .block_on(engine.check_many(&ask, urls.clone()))
            .unwrap();
        let mut lines = String::new();
        for c in &checked {
            let mut line = Vec::new();
            c.json_line(&ask, &mut line);
            lines.push_str(std::str::from_utf8(&line).unwrap());
            lines.push('\n');
        }
        assert_eq!(lines, cli, "{agent}");
    }
}

#[test]
fn given_inputs_are_judged_as_the_cli_judges_files_and_cut_at_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_text = "[limits]\nrobots_parse_limit = 512000\n";
    let cfg = dir.path().join("optout.toml");
    std::fs::write(&cfg, cfg_text).unwrap();
    let config = Config::from_toml(cfg_text).unwrap();
    // A robots.txt whose Disallow line is cut by the parse limit.
    let mut robots = b"User-agent: *\n".to_vec();
    robots.resize(511_990, b'#');
    robots.extend_from_slice(b"\nDisallow: /cut-off\n");
    let robots_file = dir.path().join("robots.txt");
    std::fs::write(&robots_file, &robots).unwrap();
    let urls = [
        "https://example.com/cut-off",
        "https://example.com/ok",
        "nope",
    ];
    let mut args = vec!["check", "--json", "--no-log", "--robots"];
    args.push(robots_file.to_str().unwrap());
    args.extend(["--header", "X-Robots-Tag: noai"]);
    args.extend(urls);
    let cli = optout(&dir.path().join("s"), &cfg, &args);
    let engine = Engine::open(&config, None, EngineOptions::default()).unwrap();
    assert!(engine.log().is_none(), "no store, nothing recorded");
    assert!(matches!(engine.fetcher(), Err(EngineError::NotRecording)));
    let ask = engine.ask(None, None).unwrap();
    let given = Given {
        robots: Some(GivenFile {
            name: robots_file.display().to_string(),
            bytes: robots,
        }),
        headers: vec![("X-Robots-Tag".into(), "noai".into())],
        headers_name: "--header".into(),
        ..Default::default()
    };
    let checked = engine.evaluate(&ask, given, urls).unwrap();
    let mut lines = String::new();
    for c in &checked {
        let mut line = Vec::new();
        c.json_line(&ask, &mut line);
        lines.push_str(std::str::from_utf8(&line).unwrap());
        lines.push('\n');
    }
    assert_eq!(lines, String::from_utf8(cli.stdout).unwrap());
    assert_eq!(
        checked[0].verdict,
        Some(Verdict::Refused),
        "noai refuses training"
    );
    assert!(lines.contains("robots.truncated"), "{lines}");
    // A header a server could not have sent is an error, not a judgement.
    let bad = Given {
        headers: vec![("X-Robots-Tag".into(), "all\r\nX-Robots-Tag: none".into())],
        ..Default::default()
    };
    let err = engine
        .evaluate(&ask, bad, ["https://example.com/"])
        .unwrap_err();
    assert!(matches!(err, EngineError::BadHeader(_)), "{err}");
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn a_bad_agent_and_a_held_store_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let engine = Engine::open(&config(), Some(&store), EngineOptions::default()).unwrap();
    let err = engine.ask(Some("bad agent/1.0"), None).unwrap_err();
    assert!(matches!(err, EngineError::BadAgent(_)), "{err}");
    // sled holds the store for one process; a second opener in another process is refused.
    let cfg = dir.path().join("optout.toml");
    std::fs::write(&cfg, NET).unwrap();
    let other = optout(
        &store,
        &cfg,
        &["check", "--robots", "/dev/null", "https://example.com/"],
    );
    assert_eq!(other.status.code(), Some(2), "{other:?}");
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    drop(engine);
}
