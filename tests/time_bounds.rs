//! One reader of time bounds (issue 21): the same instant written with `Z`, `+01:00` and
//! `-05:00`, with fractional seconds and without, selects the same records in `optout log
//! export`, `log bundle`, `report` and the service's `GET /v1/evidence`. Before, the CLI read
//! `...+01:00` after fractional seconds as UTC and refused it without them.

#[path = "support/serve.rs"]
mod serve;

use serde_json::Value;
use serve::{Service, get};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Log {
    dir: tempfile::TempDir,
}

impl Log {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_optout"))
            .arg("--store")
            .arg(self.path("store"))
            .args(args)
            .output()
            .unwrap()
    }

    fn expect(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// One offline decision, recorded.
    fn check(&self, url: &str) {
        let robots = self.path("robots.txt");
        let out = self.run(&["check", "--robots", robots.to_str().unwrap(), url]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    }
}

/// The `seq`s of JSONL records.
fn seqs(jsonl: &str) -> Vec<u64> {
    jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Milliseconds since the epoch of a record time `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn millis(time: &str) -> i64 {
    let t = humantime::parse_rfc3339(time).unwrap();
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `ms` (since the epoch) written with an offset of `offset_minutes`, with milliseconds or
/// with whole seconds (cut).
fn written(ms: i64, offset_minutes: i64, fraction: bool) -> String {
    let local = ms + offset_minutes * 60_000;
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(local as u64);
    let text = humantime::format_rfc3339_millis(at).to_string(); // ...SS.mmmZ
    let base = &text[..19];
    let frac = &text[19..23];
    let zone = match offset_minutes {
        0 => "Z".to_owned(),
        m => format!(
            "{}{:02}:{:02}",
            if m < 0 { '-' } else { '+' },
            m.abs() / 60,
            m.abs() % 60
        ),
    };
    format!("{base}{}{zone}", if fraction { frac } else { "" })
}

fn bundle_seqs(log: &Log, args: &[&str]) -> Vec<u64> {
    let file = log.path("bundle.tar");
    let _ = std::fs::remove_file(&file);
    let mut all = vec!["log", "bundle", "-o", file.to_str().unwrap()];
    all.extend(args);
    log.expect(&all);
    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap() == Path::new("optout-bundle/records.jsonl") {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            return seqs(&text);
        }
    }
    panic!("no records.jsonl in the bundle");
}

fn report_records(log: &Log, args: &[&str]) -> u64 {
    let file = log.path("report.json");
    let mut all = vec!["report", "-o", file.to_str().unwrap()];
    all.extend(args);
    log.expect(&all);
    let report: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    report["records"].as_u64().unwrap()
}

#[test]
fn one_instant_with_any_offset_selects_the_same_records_everywhere() {
    let log = Log {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(
        log.path("robots.txt"),
        "User-agent: *\nDisallow: /private/\n",
    )
    .unwrap();
    // Two records, then a second's pause, then two more: a bound at the third record's time,
    // in whole seconds or with milliseconds, falls between the second and the third.
    log.check("https://a.example/one");
    log.check("https://a.example/private/two");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    log.check("https://a.example/three");
    log.check("https://a.example/private/four");
    let all: Vec<Value> = log
        .expect(&["log", "export"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(all.len(), 4);
    let time = |i: usize| millis(all[i]["time"].as_str().unwrap());
    assert!(
        time(2) - time(1) >= 1100,
        "the records are not a second apart: {all:?}"
    );
    let third = time(2);
    let later: Vec<u64> = all[2..]
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    let earlier: Vec<u64> = all[..2]
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();

    let mut bounds = Vec::new();
    for offset in [0, 60, -300] {
        for fraction in [true, false] {
            bounds.push(written(third, offset, fraction));
        }
    }
    // Issue 21's own examples of the forms.
    assert!(
        bounds
            .iter()
            .any(|b| b.ends_with("+01:00") && b.contains('.'))
    );
    assert!(
        bounds
            .iter()
            .any(|b| b.ends_with("+01:00") && !b.contains('.'))
    );
    for bound in &bounds {
        let since = ["--since", bound.as_str()];
        let until = ["--until", bound.as_str()];
        let export = seqs(&log.expect(&["log", "export", "--since", bound]));
        assert_eq!(export, later, "log export --since {bound}");
        let export = seqs(&log.expect(&["log", "export", "--until", bound]));
        assert_eq!(export, earlier, "log export --until {bound}");
        assert_eq!(
            bundle_seqs(&log, &since),
            later,
            "log bundle --since {bound}"
        );
        assert_eq!(
            bundle_seqs(&log, &until),
            earlier,
            "log bundle --until {bound}"
        );
        assert_eq!(report_records(&log, &since), 2, "report --since {bound}");
        assert_eq!(report_records(&log, &until), 2, "report --until {bound}");
    }
    // A date alone is its first instant (UTC); a bound that is no time is one line, exit 2.
    let day = &all[0]["time"].as_str().unwrap()[..10];
    let from_day = seqs(&log.expect(&["log", "export", "--since", day]));
    assert_eq!(from_day.len(), 4, "--since {day}");
    for bad in ["yesterday", "2026-12-07T20:35:29+0100", "2026-13-01"] {
        let out = log.run(&["log", "export", "--since", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("--since"), "{err}");
    }
    // The service (it holds the store: the CLI reads it before).
    let service = Service::start(&log.path("store"), &[], &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for bound in &bounds {
        let query = bound.replace('+', "%2B");
        let (status, _, body) =
            runtime.block_on(get(&service.url(&format!("/v1/evidence?since={query}"))));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            seqs(std::str::from_utf8(&body).unwrap()),
            later,
            "GET /v1/evidence?since={bound}"
        );
    }
    assert!(service.stop().success());
}
