//! `optout crawl` on bad input: one line on standard error that says what to fix, exit 2,
//! and nothing requested or written.

use std::process::Command;

fn crawl(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_optout"))
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("crawl")
        .args(args)
        .arg("-o")
        .arg(dir.path().join("crawl"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !dir.path().join("crawl").exists(),
        "{args:?}: the crawl dir was made"
    );
    (out.status.code(), stderr)
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let cases: [(&[&str], &str); 5] = [
        (&[], "no seeds"),
        (&["ftp://example.com/"], "url.unsupported-scheme"),
        (
            &["http://example.com/", "--include", "("],
            "is not a regular expression",
        ),
        (&["--resume"], "holds no crawl to resume"),
        (
            &["http://example.com/", "--seeds", "/nonexistent/seeds"],
            "cannot read seeds file",
        ),
    ];
    for (args, says) in cases {
        let (code, stderr) = crawl(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
