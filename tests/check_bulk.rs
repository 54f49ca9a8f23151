//! The bulk path of `optout check --robots FILE --json` gives the same bytes, and records the
//! same evidence, as before it was made fast (issue item 10): every case below runs the real
//! binary over `tests/data/check_bulk/urls.txt` (allowed, refused, AI-crawler blocks, every
//! signal line, notes, URLs that are not URLs, bytes that are not UTF-8, lines with a CR) and
//! compares its standard output and exit status, and the records of its evidence log (less
//! `time`, `hash` and `prev_hash`, which change every run), with golden files.
//!
//! The golden files were written by the code before the bulk path was changed (commit
//! d371d24), with `OPTOUT_BLESS_GOLDEN=1 cargo test --test check_bulk`. Regenerate them only
//! for an intended change of output, and say so in the commit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/check_bulk");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/robots");

/// One run: a name (the golden file's), the agent, the purpose and the input files.
struct Case {
    name: &'static str,
    agent: &'static str,
    purpose: &'static str,
    /// `(flag, file)`: the file is copied into the run's directory and named relatively, so
    /// that the records' source paths do not depend on the checkout.
    files: &'static [(&'static str, &'static str)],
}

const FIXTURE: &[(&str, &str)] = &[("--robots", "robots.txt")];

const CASES: &[Case] = &[
    Case {
        name: "own-group-train-ai",
        agent: "optout",
        purpose: "train-ai",
        files: FIXTURE,
    },
    Case {
        name: "own-group-search",
        agent: "optout",
        purpose: "search",
        files: FIXTURE,
    },
    Case {
        name: "star-train-ai",
        agent: "ExampleBot",
        purpose: "train-ai",
        files: FIXTURE,
    },
    Case {
        name: "star-ai-input",
        agent: "ExampleBot",
        purpose: "ai-input",
        files: FIXTURE,
    },
    Case {
        name: "star-search",
        agent: "ExampleBot",
        purpose: "search",
        files: FIXTURE,
    },
    Case {
        name: "gptbot-train-ai",
        agent: "GPTBot",
        purpose: "train-ai",
        files: FIXTURE,
    },
    Case {
        name: "all-files-train-ai",
        agent: "ExampleBot",
        purpose: "train-ai",
        files: &[
            ("--robots", "robots.txt"),
            ("--tdmrep", "tdmrep.json"),
            ("--aitxt", "ai.txt"),
        ],
    },
    Case {
        name: "invalid-utf8-train-ai",
        agent: "optout",
        purpose: "train-ai",
        files: &[("--robots", "invalid-utf8.txt")],
    },
    Case {
        name: "corpus-patriotswire-train-ai",
        agent: "optout",
        purpose: "train-ai",
        files: &[("--robots", "corpus:patriotswire.usatoday.com")],
    },
    Case {
        name: "corpus-nbcsportschicago-search",
        agent: "optout",
        purpose: "search",
        files: &[("--robots", "corpus:www.nbcsportschicago.com")],
    },
];

fn source(file: &str) -> (PathBuf, String) {
    match file.strip_prefix("corpus:") {
        Some(host) => (Path::new(CORPUS).join(host), host.to_owned()),
        None => (Path::new(DATA).join(file), file.to_owned()),
    }
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let urls = std::fs::File::open(Path::new(DATA).join("urls.txt")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_optout"))
        .current_dir(dir)
        .args(["--store", "store"])
        .args(args)
        .stdin(Stdio::from(urls))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// What a case printed and recorded, as the golden file holds it.
fn observe(case: &Case) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "check",
        "--json",
        "--agent",
        case.agent,
        "--purpose",
        case.purpose,
    ];
    let mut names = Vec::new();
    for (flag, file) in case.files {
        let (from, name) = source(file);
        std::fs::copy(from, dir.path().join(&name)).unwrap();
        names.push((*flag, name));
    }
    for (flag, name) in &names {
        args.extend([*flag, name.as_str()]);
    }
    let out = run(dir.path(), &args);
    assert!(
        out.stderr.is_empty(),
        "{}: {}",
        case.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = run(dir.path(), &["log", "verify"]);
    assert!(verify.status.success(), "{}: log verify failed", case.name);
    let export = run(dir.path(), &["log", "export"]);
    assert!(export.status.success());
    let mut golden = format!("== stdout, exit {:?}\n", out.status.code());
    golden.push_str(&String::from_utf8(out.stdout).unwrap());
    golden.push_str("== records, less time, hash and prev_hash\n");
    for line in String::from_utf8(export.stdout).unwrap().lines() {
        let mut record: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).unwrap();
        for volatile in ["time", "hash", "prev_hash"] {
            assert!(record.remove(volatile).is_some(), "{volatile}");
        }
        golden.push_str(&serde_json::to_string(&record).unwrap());
        golden.push('\n');
    }
    golden
}

#[test]
fn json_output_and_records_are_byte_identical_to_the_golden_files() {
    let bless = std::env::var_os("OPTOUT_BLESS_GOLDEN").is_some();
    let mut differ = Vec::new();
    for case in CASES {
        let got = observe(case);
        let path = Path::new(DATA).join(format!("golden/{}.txt", case.name));
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap();
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(g, w)| g != w)
                .unwrap_or(got.lines().count().min(want.lines().count()));
            differ.push(format!(
                "{}: first difference at line {}:\n  got  {:?}\n  want {:?}",
                case.name,
                line + 1,
                got.lines().nth(line),
                want.lines().nth(line),
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
