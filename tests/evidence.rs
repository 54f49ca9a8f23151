//! The evidence log's acceptance checks: the hash chain catches every kind of tampering, in
//! the store and in an export (also with an independent Python verifier); snapshots are
//! stored once; export filters and CSV quoting; acknowledged records survive a SIGKILL;
//! bad stores fail with one line; `log show` and `log stats`.
//!
//! Every run of the binary uses its own `--store` and `XDG_DATA_HOME` under a temporary
//! directory, never the user's store, and every child process is bounded in time.

use optout::evidence::canonical;
use optout::evidence::export::{self, Filter};
use optout::evidence::record::{RECORD_SCHEMA, chain_hash, sha256_hex};
use optout::evidence::verify::VerifyError;
use optout::evidence::{
    Broken, Durability, EvidenceLog, Head, Record, SourceRef, verify_export, verify_store,
};
use optout::store::{HEAD_KEY, Store, StoreError};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROBOTS: &str = "\
User-agent: *
Disallow: /private/
Allow: /private/open
";

/// The URLs of the standard six-record log, and their verdicts in order (seq 1..=6).
const URLS: [&str; 6] = [
    "https://example.com/",
    "https://example.com/private/a",
    "https://example.com/private/b",
    "https://example.com/public",
    "https://example.com/private/c",
    "https://example.com/private/open/d",
];
const VERDICTS: [&str; 6] = [
    "allowed", "refused", "refused", "allowed", "refused", "allowed",
];

/// No single run of the binary may take longer than this.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

struct Fixture {
    dir: tempfile::TempDir,
    store: PathBuf,
    robots: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let robots = dir.path().join("robots.txt");
    std::fs::write(&robots, ROBOTS).unwrap();
    std::fs::create_dir_all(dir.path().join("xdg")).unwrap();
    Fixture {
        store: dir.path().join("store"),
        robots,
        dir,
    }
}

/// What a finished run of the binary produced.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Fixture {
    /// The binary, with this fixture's store and data directory.
    fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in(&self.store, args)
    }

    /// The binary, with another store.
    fn cmd_in(&self, store: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_optout"));
        cmd.env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .arg("--store")
            .arg(store)
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        run_bounded(self.cmd(args), None)
    }

    fn run_stdin(&self, args: &[&str], stdin: String) -> Out {
        run_bounded(self.cmd(args), Some(stdin.into_bytes()))
    }

    /// Runs after this process dropped its own handle on the store: sled releases its file
    /// lock lazily (spacejam/sled#1234), so "in use" is retried for a few seconds.
    fn run_unlocked(&self, args: &[&str]) -> Out {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.run(args);
            if out.code == Some(2) && out.stderr.contains("in use") && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            return out;
        }
    }

    /// Opens the store in this process (retrying while a handle of ours is still closing).
    fn open(&self) -> Store {
        retry_locked(|| Store::open(&self.store)).unwrap()
    }

    /// Writes the standard six-record log with `optout check`.
    fn six_records(&self) {
        let mut args = vec!["check", "--json", "--robots", self.robots.to_str().unwrap()];
        args.extend(URLS);
        let out = self.run(&args);
        assert_eq!(out.code, Some(1), "{out:?}");
        let lines: Vec<Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 6, "{out:?}");
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line["seq"], json!(i as u64 + 1), "{line}");
            assert_eq!(line["verdict"], json!(VERDICTS[i]), "{line}");
        }
    }

    /// The JSONL export of the whole log.
    fn export(&self) -> String {
        let out = self.run_unlocked(&["log", "export"]);
        assert_eq!(out.code, Some(0), "{out:?}");
        out.stdout
    }

    /// `optout log checkpoint`, parsed into (seq, hash).
    fn checkpoint(&self) -> (u64, String) {
        let out = self.run_unlocked(&["log", "checkpoint"]);
        assert_eq!(out.code, Some(0), "{out:?}");
        let re = regex::Regex::new(
            r"^optout-checkpoint v1 seq=(\d+) hash=([0-9a-f]{64}) time=\d{4}-\d\d-\d\dT\S+Z\n$",
        )
        .unwrap();
        let caps = re
            .captures(&out.stdout)
            .unwrap_or_else(|| panic!("{out:?}"));
        (caps[1].parse().unwrap(), caps[2].to_owned())
    }

    /// Does the log still hold a checkpoint taken earlier: is record `seq` there, with that
    /// hash? (A log that was cut or rewritten after the checkpoint no longer does.)
    fn holds_checkpoint(&self, (seq, hash): &(u64, String)) -> bool {
        let (head, _) = self.checkpoint();
        head >= *seq
            && self.export().lines().any(|line| {
                let v: Value = serde_json::from_str(line).unwrap();
                v["seq"] == json!(seq) && v["hash"] == json!(hash)
            })
    }

    fn assert_verify_ok(&self, records: u64, snapshots: u64) {
        let out = self.run_unlocked(&["log", "verify"]);
        assert_eq!(out.code, Some(0), "{out:?}");
        let want =
            format!("ok: log intact, {records} records, {snapshots} snapshots, head {records} ");
        assert!(out.stdout.starts_with(&want), "{out:?}");
    }

    /// `optout log verify` exits 1 with one line starting with `prefix`.
    fn assert_verify_broken(&self, prefix: &str) {
        let out = self.run_unlocked(&["log", "verify"]);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
        assert!(
            out.stdout.starts_with(&format!("BROKEN: {prefix}")),
            "want {prefix:?}: {out:?}"
        );
    }
}

/// Runs `cmd` to completion, feeding `stdin`; kills it and fails after [`RUN_TIMEOUT`].
fn run_bounded(mut cmd: Command, stdin: Option<Vec<u8>>) -> Out {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let feeder = child.stdin.take().map(|mut input| {
        let bytes = stdin.unwrap_or_default();
        // The child may exit early and close its end.
        std::thread::spawn(move || drop(input.write_all(&bytes)))
    });
    let out = reader(child.stdout.take().unwrap());
    let err = reader(child.stderr.take().unwrap());
    let status = wait_bounded(&mut child, RUN_TIMEOUT, &format!("{cmd:?}"));
    if let Some(feeder) = feeder {
        feeder.join().unwrap();
    }
    Out {
        code: status.code(),
        stdout: String::from_utf8(out.join().unwrap()).unwrap(),
        stderr: String::from_utf8(err.join().unwrap()).unwrap(),
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Waits for `child`, killing it and failing the test if it outlives `timeout`.
fn wait_bounded(child: &mut Child, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Retries `f` for a few seconds while it fails on sled's file lock (our own handle on the
/// store may still be closing: spacejam/sled#1234).
fn retry_locked<T, E: std::fmt::Display>(mut f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match f() {
            Err(e)
                if Instant::now() < deadline
                    && (e.to_string().contains("in use") || e.to_string().contains("lock")) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// `optout` failed the way every input error must: exit 2, one line on standard error
/// naming the problem, no panic.
fn assert_one_line_error(out: &Out, needle: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.ends_with('\n'), "{out:?}");
    assert!(out.stderr.starts_with("optout: "), "{out:?}");
    assert!(out.stderr.contains(needle), "want {needle:?}: {out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

fn robots_sha() -> String {
    sha256_hex(ROBOTS.as_bytes())
}

fn broken(store: &Store) -> Broken {
    match verify_store(store) {
        Err(VerifyError::Broken(b)) => b,
        other => panic!("expected a broken log, got {other:?}"),
    }
}

fn stored(store: &Store, seq: u64) -> Value {
    let bytes = store.records().get(seq.to_be_bytes()).unwrap().unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn put_stored(store: &Store, seq: u64, value: &Value) {
    store
        .records()
        .insert(seq.to_be_bytes(), canonical::to_vec(value).unwrap())
        .unwrap();
    store.flush().unwrap();
}

fn hash_of(value: &Value) -> [u8; 32] {
    hex::decode(value["hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// Recomputes the chain from record `from` to the end, and the head, the way someone with
/// write access to the store could after changing a record.
fn rehash_from(store: &Store, from: u64) {
    let mut prev = if from == 1 {
        [0; 32]
    } else {
        hash_of(&stored(store, from - 1))
    };
    let mut seq = from;
    while let Some(bytes) = store.records().get(seq.to_be_bytes()).unwrap() {
        let mut value: Value = serde_json::from_slice(&bytes).unwrap();
        let map = value.as_object_mut().unwrap();
        map.remove("hash");
        map.remove("prev_hash");
        let hash = chain_hash(&prev, &canonical::to_vec(&value).unwrap());
        value["prev_hash"] = json!(hex::encode(prev));
        value["hash"] = json!(hex::encode(hash));
        put_stored(store, seq, &value);
        prev = hash;
        seq += 1;
    }
    set_head(store, seq - 1, &prev);
}

fn set_head(store: &Store, seq: u64, hash: &[u8; 32]) {
    let mut head = seq.to_be_bytes().to_vec();
    head.extend_from_slice(hash);
    store.records().insert(HEAD_KEY, head).unwrap();
    store.flush().unwrap();
}

/// A record with an explicit time (the log keeps a non-empty time), judged against
/// [`ROBOTS`].
fn rec(time: &str, url: &str, verdict: &str, codes: &[&str]) -> Record {
    Record {
        schema: RECORD_SCHEMA,
        seq: 0,
        time: time.to_owned(),
        url: url.to_owned(),
        origin: url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default(),
        agent: "optout".to_owned(),
        purpose: "train-ai".to_owned(),
        verdict: verdict.to_owned(),
        reasons: codes
            .iter()
            .map(|c| json!({"code": c, "source": "robots.txt"}))
            .collect(),
        sources: vec![SourceRef::offline(
            "robots.txt",
            "robots.txt",
            ROBOTS.as_bytes(),
        )],
        status: None,
        bytes: None,
    }
}

/// Appends `records` through the library into the fixture's store.
fn library_log(f: &Fixture, records: Vec<Record>) {
    let store = f.open();
    let log = EvidenceLog::open(store.clone(), Durability::default()).unwrap();
    assert_eq!(log.put_snapshot(ROBOTS.as_bytes()).unwrap(), robots_sha());
    for record in records {
        log.append(record).unwrap();
    }
    assert_eq!(log.sync().unwrap(), log.head().seq);
    drop(log);
    store.flush().unwrap();
}

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

// ---------------------------------------------------------------------------------------
// 1. Chain verification in the store
// ---------------------------------------------------------------------------------------

#[test]
fn intact_log_verifies_with_its_count() {
    let f = fixture();
    f.six_records();
    f.assert_verify_ok(6, 1);
    let (seq, hash) = f.checkpoint();
    assert_eq!(seq, 6);
    let out = f.run(&["log", "verify"]);
    assert_eq!(
        out.stdout,
        format!("ok: log intact, 6 records, 1 snapshots, head 6 {hash}\n")
    );
    let store = f.open();
    let verified = verify_store(&store).unwrap();
    assert_eq!(verified.records, 6);
    assert_eq!(verified.snapshots, 1);
    assert_eq!(verified.head, (6, hash));
    assert_eq!(Head::read(&store).unwrap().seq, 6);
}

#[test]
fn a_changed_record_is_caught() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        let bytes = store.records().get(3u64.to_be_bytes()).unwrap().unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.contains(r#""verdict":"refused""#), "{text}");
        let forged = text.replace(r#""verdict":"refused""#, r#""verdict":"allowed""#);
        serde_json::from_str::<Value>(&forged).unwrap(); // still valid JSON
        store
            .records()
            .insert(3u64.to_be_bytes(), forged.as_bytes())
            .unwrap();
        store.flush().unwrap();
        match broken(&store) {
            Broken::Record { seq: 3, what } => assert!(what.contains("content"), "{what}"),
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken("record 3: content does not match its hash");
}

#[test]
fn a_changed_and_rehashed_record_is_caught_at_the_next_one() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        let mut value = stored(&store, 3);
        let prev = hash_of(&stored(&store, 2));
        let map = value.as_object_mut().unwrap();
        map.remove("hash");
        map.remove("prev_hash");
        value["verdict"] = json!("allowed");
        let hash = chain_hash(&prev, &canonical::to_vec(&value).unwrap());
        value["prev_hash"] = json!(hex::encode(prev));
        value["hash"] = json!(hex::encode(hash));
        put_stored(&store, 3, &value);
        match broken(&store) {
            Broken::Record { seq: 4, what } => assert!(what.contains("prev_hash"), "{what}"),
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken("record 4: prev_hash does not match");
}

#[test]
fn a_record_removed_in_the_middle_is_caught() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        store.records().remove(3u64.to_be_bytes()).unwrap().unwrap();
        store.flush().unwrap();
        match broken(&store) {
            Broken::Record { seq: 3, what } => assert!(what.contains("missing"), "{what}"),
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken("record 3: record 3 is missing");
}

#[test]
fn the_last_record_removed_is_caught_by_the_head() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        store.records().remove(6u64.to_be_bytes()).unwrap().unwrap();
        store.flush().unwrap();
        match broken(&store) {
            Broken::Head(what) => {
                assert!(what.contains("record 6"), "{what}");
                assert!(what.contains("ends at record 5"), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken("head: the head says record 6 but the log ends at record 5");
}

#[test]
fn the_last_record_removed_with_the_head_rewritten_is_revealed_by_a_checkpoint() {
    let f = fixture();
    f.six_records();
    let checkpoint = f.checkpoint();
    assert_eq!(checkpoint.0, 6);
    assert!(f.holds_checkpoint(&checkpoint));
    {
        let store = f.open();
        let prev = stored(&store, 5);
        store.records().remove(6u64.to_be_bytes()).unwrap().unwrap();
        set_head(&store, 5, &hash_of(&prev));
        // The chain alone cannot see this: it is a valid five-record log.
        assert_eq!(verify_store(&store).unwrap().records, 5);
    }
    f.assert_verify_ok(5, 1);
    // The checkpoint published before can: its record is gone.
    let now = f.checkpoint();
    assert_eq!(now.0, 5);
    assert_ne!(now, checkpoint);
    assert!(!f.holds_checkpoint(&checkpoint));
}

#[test]
fn a_rewritten_history_is_revealed_by_a_checkpoint() {
    let f = fixture();
    f.six_records();
    let checkpoint = f.checkpoint();
    {
        let store = f.open();
        let mut value = stored(&store, 2);
        value["verdict"] = json!("allowed");
        put_stored(&store, 2, &value);
        assert!(matches!(broken(&store), Broken::Record { seq: 2, .. }));
        rehash_from(&store, 2);
        assert_eq!(verify_store(&store).unwrap().records, 6);
    }
    f.assert_verify_ok(6, 1);
    let now = f.checkpoint();
    assert_eq!(now.0, 6);
    assert_ne!(now.1, checkpoint.1);
    assert!(!f.holds_checkpoint(&checkpoint));
}

#[test]
fn two_records_swapped_are_caught() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        let two = store.records().get(2u64.to_be_bytes()).unwrap().unwrap();
        let four = store.records().get(4u64.to_be_bytes()).unwrap().unwrap();
        store.records().insert(2u64.to_be_bytes(), four).unwrap();
        store.records().insert(4u64.to_be_bytes(), two).unwrap();
        store.flush().unwrap();
        match broken(&store) {
            Broken::Record { seq: 2, what } => assert!(what.contains("reordered"), "{what}"),
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken("record 2: ");
}

#[test]
fn a_changed_snapshot_is_caught() {
    let f = fixture();
    f.six_records();
    let sha = robots_sha();
    {
        let store = f.open();
        let key = hex::decode(&sha).unwrap();
        assert_eq!(store.snapshots().len(), 1);
        let forged = ROBOTS.replace("Disallow: /private/", "Disallow: /privat/");
        store.snapshots().insert(&key, forged.as_bytes()).unwrap();
        store.flush().unwrap();
        match broken(&store) {
            Broken::Snapshot { sha256, what } => {
                assert_eq!(sha256, sha);
                assert!(what.contains("no longer match"), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken(&format!("snapshot {sha}: its bytes no longer match"));
}

#[test]
fn a_removed_snapshot_is_caught() {
    let f = fixture();
    f.six_records();
    let sha = robots_sha();
    {
        let store = f.open();
        store
            .snapshots()
            .remove(hex::decode(&sha).unwrap())
            .unwrap()
            .unwrap();
        store.flush().unwrap();
        match broken(&store) {
            Broken::Snapshot { sha256, what } => {
                assert_eq!(sha256, sha);
                assert!(what.contains("missing"), "{what}");
            }
            other => panic!("{other:?}"),
        }
    }
    f.assert_verify_broken(&format!("snapshot {sha}: named by a record but missing"));
}

// ---------------------------------------------------------------------------------------
// 2. Export tampering, with optout and with an independent Python verifier
// ---------------------------------------------------------------------------------------

const PYTHON_VERIFIER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/evidence/verify_export.py"
);

/// A log whose records exercise the canonical form: non-ASCII, quotes, commas, backslashes,
/// control characters, non-ASCII object keys, big integers. Returns the JSONL export.
fn awkward_export(f: &Fixture) -> String {
    // A robots.txt whose path (the source's `url`) is awkward, recorded by `optout check`.
    let robots = f.dir.path().join("rob,ôts \"q\"\t\u{1}✓.txt");
    std::fs::write(&robots, ROBOTS).unwrap();
    let out = f.run(&[
        "check",
        "--robots",
        robots.to_str().unwrap(),
        "https://example.com/private/x,y",
        "https://例え.jp/パス?q=\"x\",y",
    ]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let mut odd = rec(
        "2026-03-01T00:00:00.000Z",
        "https://例え.jp/パス?q=\"x\",y;z",
        "refused",
        &[],
    );
    const CONTROL: &str = "\u{0}\u{1}\u{1f}\u{7f}\u{85}\u{2028} back\\slash \n\r\t\u{8}\u{c} /";
    odd.reasons = json!([
        {"code": "robots.disallow", "rule": "/\"quoted\", comma; é ü 漢字 🦀"},
        {"code": "x.control", "text": CONTROL},
        {"é": 1, "z": -2, "\u{ffff}": 3, "\u{10000}": 4, "A": u64::MAX, "": null, "t": true},
    ]);
    odd.agent = "optout".into();
    odd.status = Some(200);
    odd.bytes = Some(u64::MAX);
    let mut plain = rec(
        "2026-03-01T00:00:01.000Z",
        "https://example.com/a,b",
        "allowed",
        &["robots.no-match"],
    );
    plain.sources[0].url = "C:\\robots \"1\".txt".into();
    library_log(f, vec![odd, plain]);
    let export = f.export();
    assert_eq!(seqs(&export), [1, 2, 3, 4]);
    // The canonical form really is exercised: raw UTF-8, short and \u00xx escapes.
    for needle in [
        "🦀",
        "例え",
        "\\u0000",
        "\\u001f",
        "\\n\\r\\t\\b\\f",
        "\\\"quoted\\\"",
        "\u{7f}",
    ] {
        assert!(export.contains(needle), "{needle:?} not in {export}");
    }
    export
}

/// Runs the Python verifier on `export`; `None` when there is no python3.
fn python_verify(f: &Fixture, export: &str) -> Option<Out> {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        eprintln!("python3 not found: skipping the independent verifier");
        return None;
    }
    let file = f.dir.path().join("py-export.jsonl");
    std::fs::write(&file, export).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(PYTHON_VERIFIER).arg(&file);
    Some(run_bounded(cmd, None))
}

/// `optout log verify --export` on `export`.
fn optout_verify_export(f: &Fixture, export: &str) -> Out {
    let file = f.dir.path().join("export.jsonl");
    std::fs::write(&file, export).unwrap();
    f.run(&["log", "verify", "--export", file.to_str().unwrap()])
}

fn assert_export_broken(f: &Fixture, export: &str, prefix: &str) {
    // Every verifier is run and every miss reported together.
    let mut misses = Vec::new();
    if !matches!(
        verify_export(export.as_bytes(), false),
        Err(VerifyError::Broken(Broken::Record { .. }))
    ) {
        misses.push("verify_export passed it".to_owned());
    }
    let out = optout_verify_export(f, export);
    if out.code != Some(1) || !out.stdout.starts_with(&format!("BROKEN: {prefix}")) {
        misses.push(format!(
            "`optout log verify --export` did not say BROKEN: {prefix}...: {out:?}"
        ));
    }
    if let Some(py) = python_verify(f, export)
        && (py.code != Some(1) || !py.stderr.starts_with("BROKEN: "))
    {
        misses.push(format!("the Python verifier passed it: {py:?}"));
    }
    assert!(
        misses.is_empty(),
        "a tampered export was not caught:\n{}\n--- export:\n{export}",
        misses.join("\n")
    );
}

#[test]
fn an_intact_export_verifies_with_optout_and_python() {
    let f = fixture();
    let export = awkward_export(&f);
    let head = f.checkpoint();
    let out = optout_verify_export(&f, &export);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        format!(
            "ok: export intact, 4 records, 0 snapshots, head 4 {}\n",
            head.1
        )
    );
    assert_eq!(verify_export(export.as_bytes(), false).unwrap().records, 4);
    if let Some(py) = python_verify(&f, &export) {
        assert_eq!(py.code, Some(0), "{py:?}");
        assert_eq!(py.stdout, format!("ok: 4 records, head 4 {}\n", head.1));
    }
    // The store itself is intact too (the library records named their snapshot).
    f.assert_verify_ok(4, 1);
}

#[test]
fn a_changed_export_line_is_caught() {
    let f = fixture();
    let export = awkward_export(&f);
    let lines: Vec<&str> = export.lines().collect();
    assert!(lines[2].contains(r#""verdict":"refused""#));
    let forged = lines[2].replace(r#""verdict":"refused""#, r#""verdict":"allowed""#);
    let tampered = [lines[0], lines[1], &forged, lines[3]].join("\n") + "\n";
    assert_export_broken(&f, &tampered, "record 3: content does not match its hash");
    // A change inside the awkward strings is caught as well.
    let forged = lines[2].replace("🦀", "🦞");
    assert_ne!(forged, lines[2]);
    let tampered = [lines[0], lines[1], &forged, lines[3]].join("\n") + "\n";
    assert_export_broken(&f, &tampered, "record 3: content does not match its hash");
}

#[test]
fn a_deleted_export_line_is_caught() {
    let f = fixture();
    let export = awkward_export(&f);
    let lines: Vec<&str> = export.lines().collect();
    let tampered = [lines[0], lines[1], lines[3]].join("\n") + "\n";
    assert_export_broken(&f, &tampered, "record ");
}

#[test]
fn swapped_export_lines_are_caught() {
    let f = fixture();
    let export = awkward_export(&f);
    let lines: Vec<&str> = export.lines().collect();
    let tampered = [lines[0], lines[2], lines[1], lines[3]].join("\n") + "\n";
    assert_export_broken(&f, &tampered, "record ");
}

// ---------------------------------------------------------------------------------------
// 3. Snapshots are stored once
// ---------------------------------------------------------------------------------------

#[test]
fn ten_thousand_decisions_store_the_robots_txt_once() {
    let f = fixture();
    let urls: String = (0..10_000)
        .map(|i| {
            if i % 2 == 0 {
                format!("https://example.com/private/{i}\n")
            } else {
                format!("https://example.com/page/{i}\n")
            }
        })
        .collect();
    let out = f.run_stdin(&["check", "--robots", f.robots.to_str().unwrap()], urls);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 10_000);
    assert!(out.stdout.ends_with("[evidence #10000]\n"));
    let store = f.open();
    assert_eq!(store.snapshots().len(), 1);
    let (key, bytes) = store.snapshots().first().unwrap().unwrap();
    assert_eq!(hex::encode(&key), robots_sha());
    assert_eq!(bytes.as_ref(), ROBOTS.as_bytes());
    assert_eq!(store.records().len(), 10_001); // records and the head
    let verified = verify_store(&store).unwrap();
    assert_eq!((verified.records, verified.snapshots), (10_000, 1));
}

// ---------------------------------------------------------------------------------------
// 4. Export filters and CSV
// ---------------------------------------------------------------------------------------

fn filter_log(f: &Fixture) {
    library_log(
        f,
        vec![
            rec(
                "2026-01-01T00:00:00.000Z",
                "https://example.com/a",
                "allowed",
                &["robots.no-match"],
            ),
            rec(
                "2026-01-02T00:00:00.000Z",
                "https://www.example.com/b",
                "refused",
                &["robots.disallow"],
            ),
            rec(
                "2026-01-03T00:00:00.000Z",
                "https://notexample.com/c",
                "refused",
                &["robots.disallow"],
            ),
            rec(
                "2026-01-04T00:00:00.000Z",
                "https://deep.Sub.EXAMPLE.com/d",
                "discarded",
                &[],
            ),
            rec(
                "2026-01-05T12:00:00.000Z",
                "https://example.org/e",
                "allowed",
                &["robots.allow"],
            ),
            rec(
                "2026-01-06T00:00:00.000Z",
                "https://example.com:8443/f,\"g\"\nh",
                "refused",
                &["robots.disallow", "tdmrep.reserved"],
            ),
        ],
    );
}

#[test]
fn export_filters_by_time_host_and_verdict() {
    let f = fixture();
    filter_log(&f);
    let cases: &[(&[&str], &[u64])] = &[
        (&[], &[1, 2, 3, 4, 5, 6]),
        // --since is inclusive, --until exclusive.
        (&["--since", "2026-01-02T00:00:00Z"], &[2, 3, 4, 5, 6]),
        (&["--until", "2026-01-04T00:00:00Z"], &[1, 2, 3]),
        (
            &[
                "--since",
                "2026-01-02T00:00:00Z",
                "--until",
                "2026-01-05T12:00:00Z",
            ],
            &[2, 3, 4],
        ),
        (&["--since", "2026-01-05T11:59:59.999Z"], &[5, 6]),
        (&["--since", "2027-01-01T00:00:00Z"], &[]),
        // Subdomains are included; notexample.com is not a subdomain of example.com.
        (&["--host", "example.com"], &[1, 2, 4, 6]),
        (&["--host", "EXAMPLE.com."], &[1, 2, 4, 6]),
        (&["--host", "sub.example.com"], &[4]),
        (&["--host", "notexample.com"], &[3]),
        (&["--host", "ample.com"], &[]),
        (&["--verdict", "refused"], &[2, 3, 6]),
        (&["--verdict", "allowed"], &[1, 5]),
        (&["--host", "example.com", "--verdict", "refused"], &[2, 6]),
        (
            &[
                "--host",
                "example.com",
                "--since",
                "2026-01-03T00:00:00Z",
                "--until",
                "2026-01-06T00:00:00Z",
            ],
            &[4],
        ),
    ];
    for (filter, want) in cases {
        let mut args = vec!["log", "export"];
        args.extend_from_slice(filter);
        let out = f.run_unlocked(&args);
        assert_eq!(out.code, Some(0), "{filter:?}: {out:?}");
        assert_eq!(seqs(&out.stdout), *want, "{filter:?}");
        // Every exported line is the stored record, byte for byte, so each verifies alone.
        for line in out.stdout.lines() {
            assert!(verify_export(line.as_bytes(), false).is_ok(), "{line}");
        }
        // A filtered export verifies as a whole when gaps are allowed.
        assert!(
            verify_export(out.stdout.as_bytes(), true).is_ok(),
            "{filter:?}"
        );
    }
    // The library filter agrees.
    let store = f.open();
    let filter = Filter {
        host: Some("example.com".into()),
        verdict: Some("refused".into()),
        ..Filter::default()
    };
    let mut out = Vec::new();
    assert_eq!(export::jsonl(&store, &filter, &mut out).unwrap(), 2);
    assert_eq!(seqs(&String::from_utf8(out).unwrap()), [2, 6]);
}

#[test]
fn a_bad_filter_time_is_one_line() {
    let f = fixture();
    filter_log(&f);
    let out = f.run_unlocked(&["log", "export", "--since", "yesterday"]);
    assert_one_line_error(&out, "--since");
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// A small RFC 4180 reader: quoted fields, doubled quotes, CRLF or LF rows.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty() && !was_quoted, "stray quote in {text:?}");
                quoted = true;
                was_quoted = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                was_quoted = false;
            }
            c => {
                assert!(!was_quoted, "text after a closing quote in {text:?}");
                field.push(c);
            }
        }
    }
    assert!(!quoted, "unterminated quote");
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[test]
fn csv_export_quotes_commas_quotes_and_newlines() {
    let f = fixture();
    filter_log(&f);
    let out = f.run_unlocked(&["log", "export", "--format", "csv"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    // The exact RFC 4180 text of the awkward URL.
    assert!(
        out.stdout
            .contains(",\"https://example.com:8443/f,\"\"g\"\"\nh\","),
        "{}",
        out.stdout
    );
    let rows = parse_csv(&out.stdout);
    assert_eq!(rows[0], export::CSV_HEADER);
    assert_eq!(rows.len(), 7, "{rows:?}");
    let jsonl = f.export();
    for (row, line) in rows[1..].iter().zip(jsonl.lines()) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(row.len(), 12, "{row:?}");
        assert_eq!(row[0], v["seq"].to_string());
        for (i, key) in [
            (1, "time"),
            (2, "url"),
            (3, "origin"),
            (4, "agent"),
            (5, "purpose"),
            (6, "verdict"),
            (10, "prev_hash"),
            (11, "hash"),
        ] {
            assert_eq!(row[i], v[key].as_str().unwrap(), "{key}");
        }
        let codes: Vec<&str> = v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(row[7], codes.join(";"));
        assert_eq!((row[8].as_str(), row[9].as_str()), ("", ""));
    }
    assert_eq!(rows[6][2], "https://example.com:8443/f,\"g\"\nh");
    assert_eq!(rows[6][7], "robots.disallow;tdmrep.reserved");
    // Filters apply to CSV as well.
    let out = f.run_unlocked(&["log", "export", "--format", "csv", "--verdict", "allowed"]);
    let rows = parse_csv(&out.stdout);
    let kept: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(kept, ["1", "5"]);
}

// ---------------------------------------------------------------------------------------
// 5. Crash: every acknowledged record survives SIGKILL
// ---------------------------------------------------------------------------------------

/// Runs `append-synthetic` under `config`, SIGKILLs it once three acks beyond `past` were
/// printed, and checks that the log verifies and holds every acknowledged record.
fn crash_test(config: &str, count: u64, past: u64) {
    let f = fixture();
    std::fs::create_dir_all(&f.store).unwrap();
    let config_file = f.dir.path().join("optout.toml");
    std::fs::write(&config_file, config).unwrap();
    let count = count.to_string();
    let mut child = f
        .cmd(&[
            "--config",
            config_file.to_str().unwrap(),
            "log",
            "append-synthetic",
            "--count",
            &count,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = reader(child.stderr.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let acks = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let seq: u64 = line
                .strip_prefix("ack ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected output line {line:?}"));
            if tx.send(seq).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut acked = 0;
    let mut beyond = 0;
    while beyond < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(seq) => {
                assert!(seq > acked, "acks must increase: {seq} after {acked}");
                acked = seq;
                if seq > past {
                    beyond += 1;
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "saw only up to ack {acked} ({e}); stderr: {}",
                    String::from_utf8_lossy(&stderr.join().unwrap())
                );
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = wait_bounded(&mut child, Duration::from_secs(10), "killed child");
    assert_eq!(
        status.code(),
        None,
        "the child finished before it was killed"
    );
    // Acks printed before the kill count too.
    acks.join().unwrap();
    acked = rx.try_iter().fold(acked, u64::max);
    drop(stderr);

    let out = f.run(&["log", "verify"]);
    assert_eq!(out.code, Some(0), "after a crash at ack {acked}: {out:?}");
    let store = f.open();
    let head = Head::read(&store).unwrap();
    assert!(
        head.seq >= acked,
        "acknowledged {acked} but the log ends at {}",
        head.seq
    );
    for seq in 1..=acked {
        let bytes = store
            .records()
            .get(seq.to_be_bytes())
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged record {seq} is lost"));
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["seq"], json!(seq));
    }
    assert_eq!(verify_store(&store).unwrap().records, head.seq);
}

#[test]
fn acknowledged_records_survive_sigkill_with_group_commit() {
    crash_test(
        "[evidence]\nflush_every_ms = 5\nflush_records = 1000\n",
        2_000_000,
        5_000,
    );
}

#[test]
fn acknowledged_records_survive_sigkill_with_per_record_flush() {
    crash_test("[evidence]\nflush_per_record = true\n", 200_000, 500);
}

// ---------------------------------------------------------------------------------------
// 6. Bad stores and inputs: exit 2, one line
// ---------------------------------------------------------------------------------------

#[test]
fn a_store_in_use_by_another_process_is_one_line() {
    let f = fixture();
    std::fs::create_dir_all(&f.store).unwrap();
    let mut child = f
        .cmd(&["log", "append-synthetic", "--count", "100000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let first = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading: a closed pipe would make the writer exit (and free the lock) before
        // the checks below run.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx.recv_timeout(Duration::from_secs(30));
    let result = std::panic::catch_unwind(|| {
        let line = line.expect("the writer printed no ack within 30 s");
        assert!(line.starts_with("ack "), "{line:?}");
        // It holds the lock now.
        assert_one_line_error(&f.run(&["log", "verify"]), "in use");
        let robots = f.robots.to_str().unwrap();
        assert_one_line_error(
            &f.run(&["check", "--robots", robots, "https://example.com/"]),
            "in use",
        );
        assert_one_line_error(&f.run(&["log", "export"]), "in use");
    });
    child.kill().unwrap();
    wait_bounded(&mut child, Duration::from_secs(10), "killed writer");
    first.join().unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    // Once the writer is gone the store opens again, intact.
    let out = f.run(&["log", "verify"]);
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn an_unusable_store_path_is_one_line() {
    // Tests run as root, where permission bits stop nothing: use paths no one can create.
    let f = fixture();
    let file = f.dir.path().join("plain-file");
    std::fs::write(&file, b"not a store").unwrap();
    let robots = f.robots.to_str().unwrap();
    for store in [file.join("store"), file.clone()] {
        let check = ["check", "--robots", robots, "https://example.com/"];
        let out = run_bounded(f.cmd_in(&store, &check), None);
        assert_one_line_error(&out, "cannot open store");
        assert!(out.stdout.is_empty(), "{out:?}");
        for args in [
            &["log", "verify"][..],
            &["log", "export"],
            &["log", "checkpoint"],
            &["log", "append-synthetic", "--count", "1"],
        ] {
            let out = run_bounded(f.cmd_in(&store, args), None);
            assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
            assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:?}");
            assert!(!out.stderr.contains("panicked"), "{out:?}");
        }
    }
    // The file was not touched.
    assert_eq!(std::fs::read(&file).unwrap(), b"not a store");
}

#[test]
fn a_newer_schema_is_refused_without_a_new_empty_log() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        store.set_meta("schema", &99u32.to_be_bytes()).unwrap();
    }
    let robots = f.robots.to_str().unwrap();
    for args in [
        &["log", "verify"][..],
        &["log", "export"],
        &["log", "show", "1"],
        &["check", "--robots", robots, "https://example.com/"],
    ] {
        let out = f.run_unlocked(args);
        assert_one_line_error(&out, "schema version 99");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    }
    assert!(matches!(
        retry_locked(|| Store::open(&f.store)),
        Err(StoreError::NewerSchema { found: 99, .. })
    ));
    // Put the version back: the six records are still there, nothing was added.
    {
        let db = retry_locked(|| {
            sled::Config::new()
                .path(&f.store)
                .flush_every_ms(None)
                .open()
        })
        .unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema", &1u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    f.assert_verify_ok(6, 1);
    assert_eq!(seqs(&f.export()), [1, 2, 3, 4, 5, 6]);
}

#[test]
fn showing_a_record_that_is_not_there_is_one_line() {
    let f = fixture();
    f.six_records();
    for seq in ["999", "7", "0"] {
        let out = f.run(&["log", "show", seq]);
        assert_one_line_error(&out, &format!("no record {seq}"));
        assert!(out.stdout.is_empty(), "{out:?}");
    }
    let out = f.run(&["log", "verify", "--export", "/nonexistent/export.jsonl"]);
    assert_one_line_error(&out, "/nonexistent/export.jsonl");
}

// ---------------------------------------------------------------------------------------
// 7. `log show`
// ---------------------------------------------------------------------------------------

#[test]
fn show_prints_the_record_and_marks_the_deciding_line() {
    let f = fixture();
    f.six_records();
    let export = f.export();
    let out = f.run(&["log", "show", "2"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let (json_part, snapshot) = out.stdout.split_once("\n--- ").unwrap();
    let shown: Value = serde_json::from_str(json_part).unwrap();
    let stored: Value = serde_json::from_str(export.lines().nth(1).unwrap()).unwrap();
    assert_eq!(shown, stored);
    assert_eq!(shown["url"], json!(URLS[1]));
    let want = format!(
        "robots.txt {} (sha256 {})\n{}",
        f.robots.display(),
        robots_sha(),
        concat!(
            "      1  User-agent: *\n",
            ">>    2  Disallow: /private/\n",
            "      3  Allow: /private/open\n",
            "      4  \n",
        )
    );
    assert_eq!(snapshot, want);
    // Record 6 was decided by the Allow line.
    let out = f.run(&["log", "show", "6"]);
    assert!(
        out.stdout.contains(">>    3  Allow: /private/open\n"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("\n      2  Disallow: /private/\n"),
        "{out:?}"
    );
    assert_eq!(out.stdout.matches("\n>>").count(), 1, "{out:?}");
}

#[test]
fn show_marks_the_deciding_line_of_a_long_robots_txt() {
    let f = fixture();
    let mut robots: String = (1..=99).map(|i| format!("# comment {i}\n")).collect();
    robots.push_str("User-agent: *\nDisallow: /deep/\n");
    robots.extend((1..=50).map(|i| format!("Allow: /open/{i}\n")));
    let file = f.dir.path().join("long-robots.txt");
    std::fs::write(&file, &robots).unwrap();
    let out = f.run(&[
        "check",
        "--robots",
        file.to_str().unwrap(),
        "https://example.com/deep/x",
    ]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let out = f.run(&["log", "show", "1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains(">>  101  Disallow: /deep/\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("\n    100  User-agent: *\n"), "{out:?}");
    assert!(out.stdout.contains("     ...\n"), "{out:?}");
    assert!(!out.stdout.contains("# comment 1\n"), "{out:?}");
    assert_eq!(out.stdout.matches("\n>>").count(), 1, "{out:?}");
}

// ---------------------------------------------------------------------------------------
// 8. `log stats`
// ---------------------------------------------------------------------------------------

fn parse_stats(text: &str) -> (u64, BTreeMap<(String, String), u64>) {
    let mut lines = text.lines();
    let records = lines
        .next()
        .and_then(|l| l.strip_prefix("records "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    let re = regex::Regex::new(r"^(verdict|reason|host) +(\d+)  (\S+)$").unwrap();
    let counts = lines
        .map(|l| {
            let c = re.captures(l).unwrap_or_else(|| panic!("{l:?} in {text}"));
            ((c[1].to_owned(), c[3].to_owned()), c[2].parse().unwrap())
        })
        .collect();
    (records, counts)
}

fn counts(items: &[(&str, &str, u64)]) -> BTreeMap<(String, String), u64> {
    items
        .iter()
        .map(|(t, k, n)| ((t.to_string(), k.to_string()), *n))
        .collect()
}

#[test]
fn stats_count_by_verdict_reason_and_host() {
    let f = fixture();
    let t = "2026-02-01T00:00:00.000Z";
    library_log(
        &f,
        vec![
            rec(t, "https://example.com/a", "allowed", &["robots.no-match"]),
            rec(
                t,
                "https://www.example.com/b",
                "refused",
                &["robots.disallow"],
            ),
            rec(
                t,
                "https://example.com/c",
                "refused",
                &["robots.disallow", "tdmrep.reserved"],
            ),
            rec(t, "https://other.org/d", "allowed", &["robots.allow"]),
            rec(t, "https://OTHER.org/e", "discarded", &[]),
        ],
    );
    let out = f.run_unlocked(&["log", "stats"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let (records, got) = parse_stats(&out.stdout);
    assert_eq!(records, 5);
    assert_eq!(
        got,
        counts(&[
            ("verdict", "allowed", 2),
            ("verdict", "discarded", 1),
            ("verdict", "refused", 2),
            ("reason", "robots.allow", 1),
            ("reason", "robots.disallow", 2),
            ("reason", "robots.no-match", 1),
            ("reason", "tdmrep.reserved", 1),
            ("host", "example.com", 2),
            ("host", "other.org", 2),
            ("host", "www.example.com", 1),
        ])
    );
    let out = f.run(&["log", "stats", "--verdict", "refused"]);
    let (records, got) = parse_stats(&out.stdout);
    assert_eq!(records, 2);
    assert_eq!(
        got,
        counts(&[
            ("verdict", "refused", 2),
            ("reason", "robots.disallow", 2),
            ("reason", "tdmrep.reserved", 1),
            ("host", "example.com", 1),
            ("host", "www.example.com", 1),
        ])
    );
    let out = f.run(&["log", "stats", "--host", "other.org"]);
    assert_eq!(parse_stats(&out.stdout).0, 2);
    // The library agrees.
    let stats = export::stats(&f.open(), &Filter::default()).unwrap();
    assert_eq!(stats.records, 5);
    assert_eq!(stats.verdicts["refused"], 2);
    assert_eq!(stats.codes["robots.disallow"], 2);
    assert_eq!(stats.hosts["other.org"], 2);
}

/// The checks above mean something only if the store's layout is what they assume.
#[test]
fn the_store_layout_the_tests_rely_on() {
    let f = fixture();
    f.six_records();
    let store = f.open();
    let head = Head::decode(&store.records().get(HEAD_KEY).unwrap().unwrap()).unwrap();
    assert_eq!(head.seq, 6);
    assert_eq!(head.hash, hash_of(&stored(&store, 6)));
    let first = stored(&store, 1);
    assert_eq!(first["prev_hash"], json!(hex::encode([0u8; 32])));
    assert_eq!(first["sources"][0]["sha256"], json!(robots_sha()));
    // Stored bytes are the canonical form, with the hashes.
    let bytes = store.records().get(1u64.to_be_bytes()).unwrap().unwrap();
    assert_eq!(
        bytes.as_ref(),
        canonical::to_vec(&first).unwrap().as_slice()
    );
}

// ---------------------------------------------------------------------------------------
// Review findings, kept as regressions

#[test]
fn an_emptied_or_foreign_store_directory_is_not_reported_intact() {
    let f = fixture();
    f.six_records();
    std::fs::remove_dir_all(&f.store).unwrap();
    std::fs::create_dir_all(&f.store).unwrap();
    let out = f.run_unlocked(&["log", "verify"]);
    assert_one_line_error(&out, "no evidence log");
    std::fs::write(f.store.join("notes.txt"), b"hi").unwrap();
    let out = f.run_unlocked(&[
        "check",
        "--robots",
        f.robots.to_str().unwrap(),
        "https://e.com/",
    ]);
    assert_one_line_error(&out, "not an optout store");
}

#[test]
fn a_record_rewritten_with_a_duplicate_key_is_caught() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        let bytes = store.records().get(1u64.to_be_bytes()).unwrap().unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        // Same parsed value for a last-key-wins parser; reads "allowed" to a first-key one.
        let forged = text.replacen('{', "{\"verdict\":\"allowed\",", 1);
        store
            .records()
            .insert(1u64.to_be_bytes(), forged.as_bytes())
            .unwrap();
        store.flush().unwrap();
    }
    f.assert_verify_broken("record 1: not in canonical form");
    let export = f.export();
    let forged = export.replacen("{\"agent\"", "{\"verdict\":\"allowed\",\"agent\"", 1);
    assert!(verify_export(forged.as_bytes(), false).is_err());
}

#[test]
fn a_log_whose_head_was_removed_is_not_appended_to() {
    let f = fixture();
    f.six_records();
    {
        let store = f.open();
        store.records().remove(HEAD_KEY).unwrap();
        store.flush().unwrap();
    }
    let out = f.run_unlocked(&[
        "check",
        "--robots",
        f.robots.to_str().unwrap(),
        "https://e.com/",
    ]);
    assert_one_line_error(&out, "no head");
    // Record 1 was not overwritten.
    let store = f.open();
    assert_eq!(stored(&store, 1)["seq"], 1);
    assert!(store.records().get(7u64.to_be_bytes()).unwrap().is_none());
}
