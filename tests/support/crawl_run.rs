//! Running the real binary for the crawl tests: a crawl directory with its configuration,
//! a watchdog so a hanging crawl fails the test instead of hanging it, `log verify`, and the
//! [`Report`] the judges fill.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Problems found so far; [`Report::assert_clean`] fails the test with all of them.
#[derive(Default, Debug)]
pub struct Report(pub Vec<String>);

impl Report {
    /// Adds a problem.
    pub fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// Panics listing every problem (at most 60), with `context` (the crawl's stderr).
    pub fn assert_clean(&self, context: &str) {
        if self.0.is_empty() {
            return;
        }
        let shown: Vec<&str> = self.0.iter().take(60).map(String::as_str).collect();
        panic!(
            "{} problem(s):\n  - {}\n--- crawl stderr (tail) ---\n{}",
            self.0.len(),
            shown.join("\n  - "),
            tail(context, 40)
        );
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A crawl directory (not yet created: the crawl creates it) and its configuration file.
pub struct CrawlDir {
    /// Holds everything; removed on drop.
    pub tmp: tempfile::TempDir,
    /// `-o DIR`.
    pub dir: PathBuf,
    /// `--config`.
    pub config: PathBuf,
}

impl CrawlDir {
    /// A fresh directory with `config` written.
    pub fn new(config: &str) -> CrawlDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("crawl");
        let path = tmp.path().join("optout.toml");
        std::fs::write(&path, config).unwrap();
        CrawlDir {
            dir,
            config: path,
            tmp,
        }
    }

    /// `optout --config C --allow-private-addresses crawl ARGS -o DIR`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_optout"));
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--allow-private-addresses")
            .arg("crawl")
            .args(args)
            .arg("-o")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs the crawl to its end (at most `limit`), returning its output.
    pub fn run(&self, args: &[&str], limit: Duration) -> Output {
        let child = self.command(args).spawn().expect("start optout crawl");
        wait_output(child, limit, &format!("optout crawl {args:?}"))
    }

    /// The evidence store (the default, `DIR/store`).
    pub fn store(&self) -> PathBuf {
        self.dir.join("store")
    }
}

/// Waits for `child` at most `limit`; kills it and panics (the crawl hung) after that.
pub fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    // Drain the pipes on threads, so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Output {
                status,
                stdout: out_thread.join().unwrap(),
                stderr: err_thread.join().unwrap(),
            };
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err_thread.join().unwrap();
            panic!(
                "{what} did not end within {limit:?} (killed): it hangs.\n--- stderr ---\n{}",
                tail(&String::from_utf8_lossy(&stderr), 40)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `optout --store STORE log verify`: exit 0, or a problem with its output.
pub fn log_verify(store: &Path, report: &mut Report) {
    let out = Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--store")
        .arg(store)
        .args(["log", "verify"])
        .output()
        .unwrap();
    if !out.status.success() {
        report.push(format!(
            "`optout --store {} log verify` exited {}: {}{}",
            store.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
}

/// The summary line (`crawl: ...`) of a crawl's stderr.
pub fn summary_line(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("crawl:"))
        .map(str::to_owned)
}
