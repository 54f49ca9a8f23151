//! The HTML report in a real browser: headless Chromium (`$CHROMIUM`, which
//! `scripts/test-all` exports after installing Debian's `chromium`) opens the file, with
//! no network, and the test checks that the charts are in the DOM the browser built, that
//! the browser logged no console error, and that it renders on screen (a screenshot) and
//! in print (a PDF). When `CHROMIUM` is unset (a plain `cargo test`) and no `chromium` runs,
//! the test is skipped with a note; under `scripts/test-all` it fails instead.

#[path = "support/server.rs"]
mod server;

use server::{Reply, Server};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The browser, or `None` to skip (only when `CHROMIUM` is unset).
fn chromium() -> Option<String> {
    let required = std::env::var_os("CHROMIUM").is_some();
    let program = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    match Command::new(&program).arg("--version").output() {
        Ok(o) if o.status.success() => Some(program),
        other => {
            assert!(!required, "CHROMIUM={program} cannot run: {other:?}");
            eprintln!("chromium is not installed: the browser test is skipped");
            None
        }
    }
}

/// Runs headless Chromium on `page` with `extra` flags; kills it if it has not finished
/// after two minutes (a guard against a hang, not a timing assertion).
fn browse(program: &str, profile: &Path, page: &Path, extra: &[String]) -> Output {
    let child = Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let watchdog = std::thread::spawn(move || {
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if !Path::new(&format!("/proc/{id}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill").arg(id.to_string()).status();
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    out
}

/// Console errors in Chromium's log: `CONSOLE` lines, uncaught exceptions, failed loads.
fn console_errors(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Failed to load"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium_with_its_charts_and_no_console_error() {
    let Some(program) = chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let optout = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_optout"))
            .arg("--store")
            .arg(dir.path().join("store"))
            .arg("--allow-private-addresses")
            .args(args)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {out:?}"
        );
    };
    let robots = dir.path().join("robots.txt");
    std::fs::write(&robots, "User-agent: *\nDisallow: /private/\n").unwrap();
    let robots = robots.to_str().unwrap();
    optout(&[
        "check",
        "--robots",
        robots,
        "https://a.example/private/<script>x",
    ]);
    optout(&[
        "check",
        "--robots",
        robots,
        "--header",
        "X-Robots-Tag: noai",
        "https://b.example/",
    ]);
    let site = Server::start();
    site.route("/page", Reply::ok(vec![b'x'; 4000]));
    site.route("/tdm", Reply::ok("x").header("tdm-reservation", "1"));
    optout(&["fetch", "--json", &site.url("/page"), &site.url("/tdm")]);
    let page = dir.path().join("report.html");
    optout(&["report", "-o", page.to_str().unwrap()]);

    // Self-contained: nothing to fetch, nothing to run.
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["<script", " src=", " href=", "url(", "@import"] {
        assert!(!html.contains(external), "{external} in the report");
    }

    let profile = dir.path().join("profile");
    let out = browse(&program, &profile, &page, &["--dump-dom".into()]);
    assert!(out.status.success(), "{out:?}");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let errors = console_errors(&out.stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    for chart in ["chart-time", "chart-verdicts", "chart-protocols"] {
        assert!(
            dom.contains(&format!("<svg id=\"{chart}\"")),
            "{chart} not in the DOM"
        );
    }
    assert!(dom.contains("<rect"), "no bars drawn");
    assert!(dom.contains("id=\"table-domains\""));
    assert!(!dom.contains("<script"), "a log string became markup");

    let shot = dir.path().join("shot.png");
    let out = browse(
        &program,
        &profile,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 2000));
    // A blank page of that size compresses to a few kilobytes; text and charts do not.
    assert!(png.len() > 20_000, "screenshot of {} bytes", png.len());

    let pdf = dir.path().join("print.pdf");
    let out = browse(
        &program,
        &profile,
        &page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.len() > 5_000,
        "{} bytes",
        pdf.len()
    );
}
