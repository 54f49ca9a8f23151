//! A real evidence log for the bundle and replay tests, written by the real binary: offline
//! checks of files (robots.txt, tdmrep.json, a header, a page) and fetches from a loopback
//! server (a page, a disallowed URL, a page its header reserves, and a site whose robots.txt
//! is unreachable).
//!
//! Used through `#[path = "support/audit_log.rs"] mod audit_log;` (with `server.rs`).

#![allow(dead_code)]

use super::server::{Reply, Server, closed_port};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The offline robots.txt: record 2 (`https://e.com/private/b`) is refused by its line 2.
pub const ROBOTS: &str = "User-agent: *\nDisallow: /private/\nAllow: /\n";

/// What the log holds: records 1-5 offline, 6-9 fetches (their order among themselves
/// is the fetcher's).
pub const RECORDS: u64 = 9;

/// Records a replay re-decides: all but the two fetches that got a response.
pub const REDECIDED: u64 = 7;

/// A directory with a store, the input files and a config.
pub struct Logged {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    pub config: PathBuf,
    pub server: Server,
}

/// What a finished run of the binary printed.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Logged {
    /// The binary with this store and config, private addresses allowed (loopback).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_optout"));
        cmd.env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .arg("--store")
            .arg(&self.store)
            .arg("--config")
            .arg(&self.config)
            .arg("--allow-private-addresses")
            .args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        let out = self.cmd(args).output().unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }

    /// `optout log bundle [filters] -o NAME`, checked to succeed; the bundle's path.
    pub fn bundle(&self, name: &str, filters: &[&str]) -> PathBuf {
        let path = self.path(name);
        let mut args = vec!["log", "bundle"];
        args.extend_from_slice(filters);
        args.extend(["-o", path.to_str().unwrap()]);
        let out = self.run(&args);
        assert_eq!(out.code, Some(0), "{out:?}");
        path
    }

    /// `optout log export` (JSONL).
    pub fn export(&self) -> String {
        let out = self.run(&["log", "export"]);
        assert_eq!(out.code, Some(0), "{out:?}");
        out.stdout
    }
}

/// Writes the log (see [`RECORDS`]).
pub fn logged() -> Logged {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("xdg")).unwrap();
    let config = dir.path().join("optout.toml");
    std::fs::write(
        &config,
        "[politeness]\nmin_interval_ms = 1\n[net]\nread_timeout_ms = 2000\ntotal_timeout_ms = 5000\n",
    )
    .unwrap();
    let server = Server::start();
    server.route(
        "/robots.txt",
        Reply::ok("User-agent: *\nDisallow: /private/\n"),
    );
    server.route("/page", Reply::ok("<p>a page</p>"));
    server.route(
        "/noai",
        Reply::ok("reserved text").header("X-Robots-Tag", "noai"),
    );
    let log = Logged {
        store: dir.path().join("store"),
        config,
        server,
        dir,
    };
    let robots = log.write("robots.txt", ROBOTS);
    let tdmrep = log.write("tdmrep.json", r#"[{"location":"/","tdm-reservation":1}]"#);
    let page = log.write(
        "page.html",
        r#"<html><head><meta name="robots" content="noai"></head><body>x</body></html>"#,
    );
    let checks: [(&[&str], &[&str]); 4] = [
        (
            &["--robots", &robots],
            &["https://e.com/a", "https://e.com/private/b"],
        ),
        (
            &["--robots", &robots, "--header", "X-Robots-Tag: noai"],
            &["https://f.com/x"],
        ),
        (&["--tdmrep", &tdmrep], &["https://g.com/z"]),
        (&["--html", &page], &["https://h.com/p"]),
    ];
    for (files, urls) in checks {
        let mut args = vec!["check"];
        args.extend_from_slice(files);
        args.extend_from_slice(urls);
        let out = log.run(&args);
        assert!(matches!(out.code, Some(0 | 1)), "{out:?}");
    }
    let unreachable = format!("http://127.0.0.1:{}/a", closed_port());
    let fetched = log.run(&[
        "fetch",
        "--json",
        &log.server.url("/page"),
        &log.server.url("/private/x"),
        &log.server.url("/noai"),
        &unreachable,
    ]);
    assert_eq!(fetched.stdout.lines().count(), 4, "{fetched:?}");
    assert_eq!(log.export().lines().count() as u64, RECORDS);
    log
}

/// `python3`, when there is one. Under CI (`CI` set) a missing one fails the test; in a
/// plain `cargo test` the independent verifier is skipped with a note.
pub fn python3() -> Option<Command> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 is needed for the standalone bundle verifier"
        );
        eprintln!("python3 not found: skipping the standalone verifier");
        return None;
    }
    Some(Command::new("python3"))
}

/// The standalone verifier, as the repository holds it.
pub const VERIFIER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/evidence/verify_bundle.py"
);

/// Runs the standalone verifier on `target` (a bundle file or directory); `None` without
/// python3.
pub fn python_verify(target: &Path) -> Option<Out> {
    let out = python3()?.arg(VERIFIER).arg(target).output().unwrap();
    Some(Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
