//! The crawler page in a real browser: headless Chromium (`$CHROMIUM`, installed by
//! `scripts/test-all`) takes a screenshot of it, dumps its DOM with every section, and logs
//! no console message (the page has no script; a control page shows the check sees one).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Chromium, or `None` (with a note) when `CHROMIUM` is not set; set, it must run.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("CHROMIUM").map(PathBuf::from);
    if found.is_none() {
        eprintln!("CHROMIUM is not set: the browser test is skipped (scripts/test-all sets it)");
    }
    found
}

/// Runs Chromium headless on `page` with `args`; killed if it has not ended in two minutes
/// (a guard against a hang, not a timing assertion).
fn run_chromium(program: &Path, page: &Path, args: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("CHROMIUM={} cannot run: {e}", program.display()));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The console messages Chromium logged (`INFO:CONSOLE` lines), and uncaught errors.
fn console(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect()
}

/// Writes a crawler page with every section filled into `dir/out`.
fn publish(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("ranges.txt"), "192.0.2.0/24\n2001:db8::/32\n").unwrap();
    let config = format!(
        "[crawler_info]\noperator = \"Example AI <b>Ltd</b>\"\ncontact_email = \"crawler@example.org\"\ncomplaint_url = \"https://example.org/complaints\"\nranges_file = {:?}\ndescription = \"Collects public web pages for training.\"\npurposes = [\"train-ai\", \"search\"]\n",
        dir.join("ranges.txt")
    );
    std::fs::write(dir.join("optout.toml"), config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--config")
        .arg(dir.join("optout.toml"))
        .arg("--store")
        .arg(dir.join("store"))
        .args(["crawler-info", "-o"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("out").join("index.html")
}

#[test]
fn the_page_renders_with_every_section_and_no_console_errors() {
    let Some(program) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = publish(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing loaded from elsewhere, no script.
    for needle in ["<script", " src=", "stylesheet", "@import", "url("] {
        assert!(!html.contains(needle), "the page holds {needle:?}");
    }

    let shot = dir.path().join("shot.png");
    let out = run_chromium(
        &program,
        &page,
        &[
            "--window-size=1280,2000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(console(&out), Vec::<String>::new());
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    // A page of text and tables, not a blank: a white 1280x2000 PNG is a few kilobytes.
    assert!(png.len() > 50_000, "screenshot of {} bytes", png.len());

    let out = run_chromium(&program, &page, &["--dump-dom"]);
    assert_eq!(console(&out), Vec::<String>::new());
    let dom = String::from_utf8_lossy(&out.stdout);
    for id in [
        "identification",
        "opt-out",
        "opt-out-train-ai",
        "opt-out-ai-input",
        "opt-out-search",
        "protocols",
        "behaviour",
        "ip-ranges",
        "contact",
        "updates",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "no #{id} in the DOM");
    }
    for text in [
        "RFC 9309",
        "draft-ietf-aipref-vocab-07",
        "draft-ietf-aipref-attach-05",
        "draft-romm-aipref-contentsignals-00",
        "2001:db8::/32",
        "Example AI &lt;b&gt;Ltd&lt;/b&gt;",
        "rel=\"client-ranges\"",
        "application/atom+xml",
    ] {
        assert!(dom.contains(text), "{text:?} not in the DOM");
    }
    assert!(
        !dom.contains("<b>Ltd"),
        "markup from the config was rendered"
    );
}

/// The console check sees a console message: without this, an empty list proves nothing.
#[test]
fn the_console_check_sees_an_error() {
    let Some(program) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<html><body><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let out = run_chromium(&program, &page, &["--dump-dom"]);
    let seen = console(&out);
    assert!(seen.iter().any(|l| l.contains("boom")), "{seen:?}");
}
