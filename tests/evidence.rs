//! The evidence log's acceptance checks: the hash chain catches every kind of tampering, in
//! the store and in an export (also with an independent Python verifier); snapshots are
//! stored once; export filters and CSV quoting; acknowledged records survive a SIGKILL;
//! bad stores fail with one line; `log show` and `log stats`; blocks (several records a
//! value): every kind of damage to them is named, schema-1 stores still work, and no
//! unsynced sled blob is written.
//!
//! Tests that corrupt the store act on a record inside whatever block holds it
//! (`support/blocks.rs`), so they hold for any split of the log into blocks.
//!
//! Every run of the binary uses its own `--store` and `XDG_DATA_HOME` under a temporary
//! directory, never the user's store, and every child process is bounded in time.

#[path = "support/blocks.rs"]
mod blocks;
use blocks::{
    all_stored, block_of, blocks, put_block, put_stored_bytes, remove_stored, stored_bytes,
    swap_stored,
};
use optout::evidence::canonical;
use optout::evidence::export::{self, Filter};
use optout::evidence::record::{RECORD_SCHEMA, chain_hash, sha256_hex};
use optout::evidence::verify::VerifyError;
use optout::evidence::{
    BLOCK, BLOCK_BYTES, Broken, Durability, EvidenceLog, Head, Record, SourceRef, verify_export,
    verify_store,
};
use optout::store::{HEAD_KEY, SCHEMA_VERSION, SNAPSHOT_CHUNK, Sled, Store, StoreError, sled};
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

/// Record `seq` as stored, inside whatever block holds it.
fn stored(store: &Store, seq: u64) -> Value {
    let bytes = stored_bytes(store, seq).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Rewrites record `seq`, inside its block, as the canonical form of `value`.
fn put_stored(store: &Store, seq: u64, value: &Value) {
    put_stored_bytes(store, seq, &canonical::to_vec(value).unwrap());
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
    while let Some(bytes) = stored_bytes(store, seq) {
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
        let bytes = stored_bytes(&store, 3).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(r#""verdict":"refused""#), "{text}");
        let forged = text.replace(r#""verdict":"refused""#, r#""verdict":"allowed""#);
        serde_json::from_str::<Value>(&forged).unwrap(); // still valid JSON
        put_stored_bytes(&store, 3, forged.as_bytes());
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
        remove_stored(&store, 3);
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
        remove_stored(&store, 6);
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
        remove_stored(&store, 6);
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
        swap_stored(&store, 2, 4);
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
    // The records, in blocks of at most BLOCK (cut at every sync too), and the head.
    let blocks = blocks(&store);
    assert_eq!(blocks.iter().map(|(_, b)| b.len()).sum::<usize>(), 10_000);
    assert!(blocks.iter().all(|(_, b)| b.len() as u64 <= BLOCK));
    assert!(
        blocks
            .iter()
            .all(|(_, b)| b.len() == 1 || b.join(&b'\n').len() <= BLOCK_BYTES)
    );
    assert!(blocks.len() < 10_000 / 4, "{} blocks", blocks.len());
    assert_eq!(store.records().len(), blocks.len() + 1);
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
    let all = all_stored(&store);
    for seq in 1..=acked {
        let (block, index, bytes) = all
            .get(seq as usize - 1)
            .unwrap_or_else(|| panic!("acknowledged record {seq} is lost"));
        assert_eq!(block + index, seq);
        let v: Value = serde_json::from_slice(bytes).unwrap();
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
    // Put back an older version (1, one record a value, which these records also are): the
    // six records are still there, nothing was added.
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
    // Version 1 was upgraded on opening.
    assert_eq!(f.open().schema().unwrap(), Some(SCHEMA_VERSION));
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
    let bytes = stored_bytes(&store, 1).unwrap();
    assert_eq!(bytes, canonical::to_vec(&first).unwrap());
    // Records are in blocks: a value holds consecutive records joined by newlines, under
    // its first record's sequence number; the head has a key of its own.
    assert_eq!(store.schema().unwrap(), Some(SCHEMA_VERSION));
    assert_eq!(SCHEMA_VERSION, 2);
    let mut seq = 0;
    for (key, lines) in blocks(&store) {
        assert_eq!(key, seq + 1);
        assert!(lines.len() as u64 <= BLOCK);
        for line in lines {
            seq += 1;
            let v: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(v["seq"], json!(seq));
            assert_eq!(line, canonical::to_vec(&v).unwrap());
        }
    }
    assert_eq!(seq, 6);
    let keys: Vec<u64> = blocks(&store).iter().map(|(k, _)| *k).collect();
    assert_eq!(store.records().len(), keys.len() + 1);
    // The library reads the same records, in the same places.
    let read: Vec<(u64, u64, Vec<u8>)> = optout::evidence::block::records(&store)
        .map(|e| e.map(|e| (e.block, e.index, e.bytes().to_vec())).unwrap())
        .collect();
    assert_eq!(read, all_stored(&store));
    assert_eq!(block_of(&store, 6).unwrap().0, *keys.last().unwrap());
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
        let bytes = stored_bytes(&store, 1).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // Same parsed value for a last-key-wins parser; reads "allowed" to a first-key one.
        let forged = text.replacen('{', "{\"verdict\":\"allowed\",", 1);
        put_stored_bytes(&store, 1, forged.as_bytes());
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
    assert!(stored_bytes(&store, 7).is_none());
    assert!(store.records().get(7u64.to_be_bytes()).unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// 9. Blocks (store schema 2): several records per value
// ---------------------------------------------------------------------------------------

/// Writes a log through the library whose blocks hold exactly `sizes` records: a sync after
/// each size, and no other (the periodic flush is an hour away, and no count triggers one).
fn blocked_log(f: &Fixture, sizes: &[u64]) {
    let store = f.open();
    let durability = Durability {
        flush_every: Duration::from_secs(3600),
        flush_records: u64::MAX,
        per_record: false,
    };
    let log = EvidenceLog::open(store.clone(), durability).unwrap();
    log.put_snapshot(ROBOTS.as_bytes()).unwrap();
    let mut n = 0;
    for &size in sizes {
        assert!(size <= BLOCK);
        for _ in 0..size {
            n += 1;
            let (url, verdict, code) = if n % 3 == 0 {
                (
                    format!("https://example.com/private/{n}"),
                    "refused",
                    "robots.disallow",
                )
            } else {
                (
                    format!("https://example.com/page/{n}"),
                    "allowed",
                    "robots.no-match",
                )
            };
            log.append(rec("2026-04-01T00:00:00.000Z", &url, verdict, &[code]))
                .unwrap();
        }
        assert_eq!(log.sync().unwrap(), n);
    }
    drop(log);
    store.flush().unwrap();
    let sizes_stored: Vec<u64> = blocks(&store)
        .iter()
        .map(|(_, lines)| lines.len() as u64)
        .collect();
    assert_eq!(sizes_stored, sizes);
}

/// Damages the store with `tamper`, checks that the library and `optout log verify` report
/// `want` (the start of the message, e.g. `record 5: record 5 is missing`) and that
/// `log export` and `log show` fail with one line rather than panic, then puts the records
/// tree back and checks that it verifies again.
fn assert_caught(f: &Fixture, tamper: impl FnOnce(&Store), want: &str) {
    let saved: Vec<(sled::IVec, sled::IVec)>;
    {
        let store = f.open();
        saved = store.records().iter().map(Result::unwrap).collect();
        tamper(&store);
        store.flush().unwrap();
        let found = broken(&store).to_string();
        assert!(found.starts_with(want), "want {want:?}, got {found:?}");
    }
    f.assert_verify_broken(want);
    for args in [
        &["log", "export"][..],
        &["log", "stats"],
        &["log", "show", "5"],
    ] {
        let out = f.run_unlocked(args);
        assert!(!out.stderr.contains("panicked"), "{args:?}: {out:?}");
        assert!(matches!(out.code, Some(0 | 2)), "{args:?}: {out:?}");
        if out.code == Some(2) {
            assert_one_line_error(&out, "");
        }
    }
    let store = f.open();
    store.records().clear().unwrap();
    for (key, value) in saved {
        store.records().insert(key, value).unwrap();
    }
    store.flush().unwrap();
    assert_eq!(verify_store(&store).unwrap().records, 9);
}

#[test]
fn every_kind_of_block_damage_names_the_first_bad_record() {
    let f = fixture();
    blocked_log(&f, &[3, 3, 3]);
    f.assert_verify_ok(9, 1);
    let line = |store: &Store, seq| stored_bytes(store, seq).unwrap();
    // A record changed inside a block.
    assert_caught(
        &f,
        |s| {
            let text = String::from_utf8(line(s, 5)).unwrap();
            let forged = text.replace("/page/5", "/page/55");
            assert_ne!(forged, text);
            put_stored_bytes(s, 5, forged.as_bytes());
        },
        "record 5: content does not match its hash",
    );
    // A record removed from the middle, the start or the end of a block.
    for seq in [5, 4, 6] {
        assert_caught(
            &f,
            |s| drop(remove_stored(s, seq)),
            &format!("record {seq}: record {seq} is missing"),
        );
    }
    // A whole block removed: a gap; the last block removed: the head.
    assert_caught(
        &f,
        |s| put_block(s, 4, &[]),
        "record 4: record 4 is missing (the block at key 7 begins with record 7",
    );
    assert_caught(
        &f,
        |s| put_block(s, 7, &[]),
        "head: the head says record 9 but the log ends at record 6",
    );
    // Records reordered within a block.
    assert_caught(
        &f,
        |s| swap_stored(s, 4, 5),
        "record 4: record 4 is missing (the block at key 4 begins with record 5",
    );
    assert_caught(
        &f,
        |s| swap_stored(s, 5, 6),
        "record 5: record 5 is missing (record 6 is line 2 of the block at key 4",
    );
    // Blocks swapped: each key now disagrees with its block's first record.
    assert_caught(
        &f,
        |s| {
            let (one, four) = (block_of(s, 1).unwrap().1, block_of(s, 4).unwrap().1);
            put_block(s, 1, &four);
            put_block(s, 4, &one);
        },
        "record 1: record 1 is missing (the block at key 1 begins with record 4",
    );
    // A block moved to another key, later or earlier, with its records intact.
    for to in [5, 3] {
        assert_caught(
            &f,
            |s| {
                let four = block_of(s, 4).unwrap().1;
                put_block(s, 4, &[]);
                put_block(s, to, &four);
            },
            &format!(
                "record 4: the block at key {to} begins with record 4 (the block's key was changed)"
            ),
        );
    }
    // A block cut short: inside a record, just after a newline, just before one.
    assert_caught(
        &f,
        |s| {
            let value = s.records().get(4u64.to_be_bytes()).unwrap().unwrap();
            let cut = line(s, 4).len() + 1 + 40;
            s.records()
                .insert(4u64.to_be_bytes(), &value[..cut])
                .unwrap();
        },
        "record 5: not JSON",
    );
    assert_caught(
        &f,
        |s| {
            let value = s.records().get(4u64.to_be_bytes()).unwrap().unwrap();
            let cut = line(s, 4).len() + 1;
            s.records()
                .insert(4u64.to_be_bytes(), &value[..cut])
                .unwrap();
        },
        "record 5: line 2 of the block at key 4 is empty",
    );
    assert_caught(
        &f,
        |s| {
            let four = line(s, 4);
            s.records().insert(4u64.to_be_bytes(), four).unwrap();
        },
        "record 5: record 5 is missing (the block at key 7 begins with record 7",
    );
    // A garbled block, and an empty one.
    assert_caught(
        &f,
        |s| {
            let garbage: &[u8] = b"\xff\x00\x13garbage\n{\"seq\":";
            s.records().insert(4u64.to_be_bytes(), garbage).unwrap();
        },
        "record 4: not JSON",
    );
    assert_caught(
        &f,
        |s| {
            s.records().insert(4u64.to_be_bytes(), &b""[..]).unwrap();
        },
        "record 4: the block at key 4 is empty",
    );
    // A record added after the end without moving the head, and heads that disagree.
    assert_caught(
        &f,
        |s| {
            let (key, mut lines) = block_of(s, 9).unwrap();
            lines.push(lines[0].clone());
            put_block(s, key, &lines);
        },
        "record 10: record 7 stands where record 10 should",
    );
    assert_caught(
        &f,
        |s| {
            let nine = hash_of(&stored(s, 9));
            set_head(s, 8, &nine);
        },
        "head: the head says record 8 but the log goes on to record 9",
    );
    assert_caught(
        &f,
        |s| set_head(s, 9, &[7; 32]),
        "head: the head's hash is not record 9's",
    );
    // A key that is neither a sequence number nor the head.
    assert_caught(
        &f,
        |s| {
            s.records().insert(b"abc", &b"{}"[..]).unwrap();
        },
        "record 10: unexpected key 616263 in the records tree",
    );
    f.assert_verify_ok(9, 1);
}

/// `log show` finds a record in the middle of a block, and exports write one record per
/// line whatever the blocks.
#[test]
fn show_and_export_read_records_inside_blocks() {
    let f = fixture();
    blocked_log(&f, &[3, 1, 8]);
    let export = f.export();
    assert_eq!(seqs(&export), (1..=12).collect::<Vec<_>>());
    assert!(verify_export(export.as_bytes(), false).is_ok());
    for seq in [1, 2, 3, 4, 5, 6, 12] {
        let out = f.run(&["log", "show", &seq.to_string()]);
        assert_eq!(out.code, Some(0), "{out:?}");
        let (json_part, _) = out.stdout.split_once("\n--- ").unwrap();
        let shown: Value = serde_json::from_str(json_part).unwrap();
        let line: Value =
            serde_json::from_str(export.lines().nth(seq as usize - 1).unwrap()).unwrap();
        assert_eq!(shown, line);
    }
    let out = f.run(&["log", "show", "13"]);
    assert_one_line_error(&out, "no record 13");
    // A record that is not itself at its place is not shown as if it were.
    {
        let store = f.open();
        swap_stored(&store, 2, 3);
    }
    let out = f.run_unlocked(&["log", "show", "2"]);
    assert_one_line_error(&out, "record 2 is unreadable");
}

/// A store written before blocks (one record per key, schema marker 1) is a valid store
/// with blocks of one: after opening (which moves its marker to 2 and nothing else) it
/// verifies, exports the same bytes and takes new records in blocks.
#[test]
fn a_version_1_store_verifies_exports_and_appends_after_opening() {
    let f = fixture();
    f.six_records();
    let export = f.export();
    // Rewrite it as optout wrote schema 1: each record under its own key, marker 1.
    let v1: Vec<(u64, Vec<u8>)> = {
        let store = f.open();
        let head = store.records().get(HEAD_KEY).unwrap().unwrap();
        let records = all_stored(&store);
        store.records().clear().unwrap();
        for (block, index, bytes) in &records {
            store
                .records()
                .insert((block + index).to_be_bytes(), bytes.as_slice())
                .unwrap();
        }
        store.records().insert(HEAD_KEY, head).unwrap();
        store.set_meta("schema", &1u32.to_be_bytes()).unwrap();
        assert_eq!(store.schema().unwrap(), Some(1));
        assert_eq!(store.records().len(), 7);
        records
            .into_iter()
            .map(|(block, index, bytes)| (block + index, bytes))
            .collect()
    };
    f.assert_verify_ok(6, 1);
    assert_eq!(f.export(), export);
    let out = f.run(&["log", "show", "3"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    {
        let store = f.open();
        assert_eq!(store.schema().unwrap(), Some(2));
        // The version-1 records are untouched, each under its own key.
        for (seq, bytes) in &v1 {
            let value = store.records().get(seq.to_be_bytes()).unwrap().unwrap();
            assert_eq!(value.as_ref(), bytes.as_slice());
        }
    }
    // New records go on the same chain, in a block after the old records.
    let robots = f.robots.to_str().unwrap();
    let out = f.run_unlocked(&[
        "check",
        "--robots",
        robots,
        "https://example.com/x",
        "https://example.com/private/y",
    ]);
    assert_eq!(out.code, Some(1), "{out:?}");
    f.assert_verify_ok(8, 1);
    let after = f.export();
    assert!(after.starts_with(&export), "{after}");
    assert_eq!(seqs(&after), [1, 2, 3, 4, 5, 6, 7, 8]);
    let store = f.open();
    let keys: Vec<u64> = blocks(&store).iter().map(|(k, _)| *k).collect();
    // (Two blocks if a periodic flush fell between the two records.)
    assert_eq!(keys[..7], [1, 2, 3, 4, 5, 6, 7]);
    assert!(keys.len() <= 8 && block_of(&store, 8).is_some(), "{keys:?}");
}

/// sled 0.34 writes a tree node larger than 128 KiB as a separate blob file, which its flush
/// does not fsync (spacejam/sled#1077); blocks are kept small enough (`BLOCK_BYTES`) that the
/// records tree never has one, with records small and large.
#[test]
fn blocks_keep_sled_from_writing_unsynced_blobs() {
    let f = fixture();
    let store = f.open();
    let log = EvidenceLog::open(store.clone(), Durability::default()).unwrap();
    log.put_snapshot(ROBOTS.as_bytes()).unwrap();
    let n = 4000;
    for i in 0..n {
        let path = "p".repeat(i % 9 * 450);
        let url = format!("https://example.com/{path}/{i}");
        log.append(rec(
            "2026-05-01T00:00:00.000Z",
            &url,
            "allowed",
            &["robots.no-match"],
        ))
        .unwrap();
    }
    assert_eq!(log.sync().unwrap(), n as u64);
    drop(log);
    store.flush().unwrap();
    let blobs: Vec<_> = std::fs::read_dir(f.store.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(blobs.is_empty(), "sled wrote blobs: {blobs:?}");
    let sizes: Vec<usize> = blocks(&store)
        .iter()
        .map(|(_, lines)| lines.join(&b'\n').len())
        .collect();
    assert!(sizes.iter().all(|&s| s <= BLOCK_BYTES), "{sizes:?}");
    assert_eq!(verify_store(&store).unwrap().records, n as u64);
}

/// A large snapshot (a 300 KiB robots.txt) is stored in chunks small enough that sled never
/// writes it to an unsynced blob file; it reads back whole, verifies, and a changed or
/// removed chunk is caught as a changed snapshot.
#[test]
fn large_snapshots_are_chunked_out_of_unsynced_blobs() {
    let f = fixture();
    let store = f.open();
    let line = "Disallow: /a-long-path-that-fills-the-file/\n";
    let mut big = String::from("User-agent: *\n");
    while big.len() < 300 * 1024 {
        big.push_str(line);
    }
    let log = EvidenceLog::open(store.clone(), Durability::default()).unwrap();
    let sha = log.put_snapshot(big.as_bytes()).unwrap();
    assert_eq!(
        log.put_snapshot(big.as_bytes()).unwrap(),
        sha,
        "stored once"
    );
    let mut record = rec(
        "2026-05-01T00:00:00.000Z",
        "https://example.com/a",
        "refused",
        &["robots.disallow"],
    );
    record.sources = vec![SourceRef {
        kind: "robots.txt".into(),
        url: "https://example.com/robots.txt".into(),
        status: Some(200),
        fetched_at: None,
        sha256: sha.clone(),
    }];
    log.append(record).unwrap();
    log.sync().unwrap();
    drop(log);
    store.flush().unwrap();
    let blobs: Vec<_> = std::fs::read_dir(f.store.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(blobs.is_empty(), "sled wrote blobs: {blobs:?}");
    let key = hex::decode(&sha).unwrap();
    assert!(
        store
            .snapshots()
            .iter()
            .all(|kv| kv.unwrap().1.len() <= SNAPSHOT_CHUNK)
    );
    assert_eq!(store.snapshots().len(), big.len().div_ceil(SNAPSHOT_CHUNK));
    assert_eq!(&store.snapshot(&key).unwrap().unwrap()[..], big.as_bytes());
    assert_eq!(verify_store(&store).unwrap().snapshots, 1);

    // A changed chunk, then a removed one.
    let (chunk_key, chunk) = store.snapshots().iter().nth(3).unwrap().unwrap();
    let mut forged = chunk.to_vec();
    forged[0] ^= 1;
    store.snapshots().insert(&chunk_key, forged).unwrap();
    match broken(&store) {
        Broken::Snapshot { sha256, what } => {
            assert_eq!(sha256, sha);
            assert!(what.contains("no longer match"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    store.snapshots().insert(&chunk_key, chunk).unwrap();
    assert_eq!(verify_store(&store).unwrap().snapshots, 1);
    store.snapshots().remove(&chunk_key).unwrap();
    match broken(&store) {
        Broken::Snapshot { sha256, what } => {
            assert_eq!(sha256, sha);
            assert!(what.contains("no longer match"), "{what}");
        }
        other => panic!("{other:?}"),
    }
}
