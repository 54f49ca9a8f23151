//! A store that is read-only, damaged or swapped out from under optout: commands that only
//! read never write to it, and damage is never silent (`docs/evidence.md`, "Damage").
//!
//! Every run of the real binary uses its own store under a temporary directory and is
//! bounded in time. Damage is made in the real sled `db` file of a real store, by flipping a
//! byte where a record's bytes sit, or through sled.

use optout::store::{Sled, Store};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\n";

/// No single run of the binary may take longer than this.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

struct Fixture {
    dir: tempfile::TempDir,
    store: PathBuf,
    robots: PathBuf,
}

#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
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

impl Fixture {
    fn cmd_in(&self, store: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_optout"));
        cmd.env("XDG_DATA_HOME", self.dir.path().join("xdg"))
            .env_remove("RUST_BACKTRACE")
            .arg("--store")
            .arg(store)
            .args(args);
        cmd
    }

    fn run_in(&self, store: &Path, args: &[&str], stdin: &str) -> Out {
        let mut child = self
            .cmd_in(store, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let bytes = stdin.as_bytes().to_vec();
        let feeder = std::thread::spawn(move || drop(input.write_all(&bytes)));
        let out = wait_bounded(child);
        feeder.join().unwrap();
        out
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_in(&self.store, args, "")
    }

    /// `optout check` of `n` URLs read from standard input, against the fixture's robots.txt.
    fn check_many(&self, store: &Path, from: usize, n: usize) {
        let urls: String = (from..from + n)
            .map(|i| format!("https://example.com/page/{i}\n"))
            .collect();
        let out = self.run_in(store, &["check", "--robots", self.robots_arg()], &urls);
        assert_eq!(out.code, Some(0), "{out:?}");
    }

    fn robots_arg(&self) -> &str {
        self.robots.to_str().unwrap()
    }

    /// `check --robots FILE URL`: offline, and it appends.
    fn check_one(&self, store: &Path) -> Out {
        self.run_in(
            store,
            &[
                "check",
                "--robots",
                self.robots_arg(),
                "https://example.com/x",
            ],
            "",
        )
    }
}

fn wait_bounded(mut child: Child) -> Out {
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("optout did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Exit 2 and one line on standard error, naming the problem, no panic.
fn assert_one_line_error(out: &Out, needle: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.starts_with("optout: "), "{out:?}");
    assert!(out.stderr.contains(needle), "want {needle:?}: {out:?}");
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

/// Every entry under `dir`: its relative path, then for a file its bytes' SHA-256, length
/// and modification time (for a directory, its modification time).
fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut all = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            let mtime = meta.modified().unwrap();
            let name = entry.path().strip_prefix(dir).unwrap().to_owned();
            if meta.is_dir() {
                stack.push(entry.path());
                all.insert(name, format!("dir {mtime:?}"));
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                let hash = optout::evidence::record::sha256_hex(&bytes);
                all.insert(name, format!("{hash} {} {mtime:?}", bytes.len()));
            }
        }
    }
    all.insert(
        PathBuf::new(),
        format!("{:?}", std::fs::metadata(dir).unwrap().modified()),
    );
    all
}

/// Makes `dir` and everything in it read-only (`writable` undoes it).
fn set_writable(dir: &Path, writable: bool) {
    let mode = |is_dir: bool| match (is_dir, writable) {
        (true, true) => 0o755,
        (true, false) => 0o555,
        (false, true) => 0o644,
        (false, false) => 0o444,
    };
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let is_dir = entry.file_type().unwrap().is_dir();
        if is_dir {
            set_writable(&entry.path(), writable);
        }
        std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode(is_dir)))
            .unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode(true))).unwrap();
}

/// Runs every read-only command on `store` and checks each succeeds.
fn read_everything(f: &Fixture, store: &Path, records: u64) {
    let verify = f.run_in(store, &["log", "verify"], "");
    assert_eq!(verify.code, Some(0), "{verify:?}");
    assert!(
        verify
            .stdout
            .starts_with(&format!("ok: log intact, {records} records")),
        "{verify:?}"
    );
    for args in [
        &["log", "show", "2"][..],
        &["log", "export"],
        &["log", "export", "--format", "csv"],
        &["log", "stats"],
        &["log", "checkpoint"],
    ] {
        let out = f.run_in(store, args, "");
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?}: {out:?}");
    }
}

/// `log verify`, `show`, `export`, `stats` and `checkpoint` leave every file of the store
/// byte for byte as it was (and its modification times), also when the store is read-only,
/// and a copy of it (as on a CD) verifies.
#[test]
fn read_only_commands_never_write_to_the_store() {
    let f = fixture();
    f.check_many(&f.store, 0, 40);
    f.check_many(&f.store, 40, 40);
    set_writable(&f.store, false);
    let before = fingerprint(&f.store);
    read_everything(&f, &f.store, 80);
    let after = fingerprint(&f.store);
    set_writable(&f.store, true);
    assert_eq!(before, after, "a read-only command wrote to the store");
    // A copy somewhere else, read-only.
    let copy = f.dir.path().join("cd");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(&f.store).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        } else {
            std::fs::create_dir(copy.join(entry.file_name())).unwrap();
        }
    }
    set_writable(&copy, false);
    let before = fingerprint(&copy);
    read_everything(&f, &copy, 80);
    assert_eq!(before, fingerprint(&copy));
    set_writable(&copy, true);
    // Nothing is left behind in the temporary directories.
    for base in [Path::new("/dev/shm").to_owned(), std::env::temp_dir()] {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        let own = format!("optout-read-{}-", std::process::id());
        assert!(
            entries
                .filter_map(Result::ok)
                .all(|e| !e.file_name().to_string_lossy().starts_with(&own)),
            "a copy was left in {base:?}"
        );
    }
}

/// A schema-1 store is read (the copy is upgraded), and stays schema 1, byte for byte.
#[test]
fn a_version_1_store_is_verified_without_being_upgraded() {
    let f = fixture();
    f.check_many(&f.store, 0, 10);
    {
        let store = retry_locked(|| Store::open(&f.store));
        store.set_meta("schema", &1u32.to_be_bytes()).unwrap();
    }
    // sled releases its lock lazily (spacejam/sled#1234).
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.run(&["log", "stats"]).code != Some(0) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = fingerprint(&f.store);
    read_everything(&f, &f.store, 10);
    assert_eq!(before, fingerprint(&f.store));
}

fn retry_locked(open: impl Fn() -> Result<Store, optout::store::StoreError>) -> Store {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Err(e) if e.to_string().contains("in use") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other.unwrap(),
        }
    }
}

/// Where `needle` occurs in `bytes`.
fn occurrences(bytes: &[u8], needle: &[u8]) -> Vec<usize> {
    bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Copies the store at `from` to `to` (files and the `blobs` directory).
fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        } else {
            copy_store(&entry.path(), &to.join(entry.file_name()));
        }
    }
}

/// Flips one bit inside each copy of an old record's bytes in the sled `db` file, one copy
/// at a time (sled keeps older versions of a page until it reuses their space; a flip there
/// harms nothing). Whatever sled makes of it (recovery stopping at the flip and dropping the
/// rest of its log, a checksum error when the page is read, or a panic at open), damage that
/// `log verify` reports is never passed over: `check` and `log checkpoint` then fail with
/// the one-line damaged error, and `log verify` names where.
fn flips_are_never_silent(f: &Fixture, runs: usize) {
    for run in 0..runs {
        f.check_many(&f.store, run * 300, 300);
    }
    let db = std::fs::read(f.store.join("db")).unwrap();
    let at = occurrences(&db, b"https://example.com/page/17\"");
    assert!(!at.is_empty(), "the record's bytes are in the db file");
    let mut caught = 0;
    for (i, offset) in at.into_iter().enumerate() {
        let damaged = f.dir.path().join(format!("damaged-{runs}-{i}"));
        copy_store(&f.store, &damaged);
        let mut bytes = db.clone();
        bytes[offset + 20] ^= 0x04;
        std::fs::write(damaged.join("db"), &bytes).unwrap();
        let verify = f.run_in(&damaged, &["log", "verify"], "");
        if verify.code == Some(0) {
            // An old copy of the page, which no read reaches.
            let all = format!("{} records", runs * 300);
            assert!(verify.stdout.contains(&all), "{verify:?}");
            continue;
        }
        caught += 1;
        // Named: the first bad record or block, the head, or the damage sled reports.
        let named = verify.stdout.starts_with("BROKEN: record ")
            || verify.stdout.starts_with("BROKEN: head: ")
            || verify.stderr.contains("is damaged");
        assert!(named, "{verify:?}");
        assert!(!verify.stderr.contains("panicked"), "{verify:?}");
        let checkpoint = f.run_in(&damaged, &["log", "checkpoint"], "");
        assert_one_line_error(&checkpoint, "is damaged");
        assert!(checkpoint.stdout.is_empty(), "{checkpoint:?}");
        let check = f.check_one(&damaged);
        assert_one_line_error(&check, "is damaged");
    }
    assert!(caught > 0, "no flip was noticed");
}

/// One run of `check`: sled has no snapshot yet, and its recovery stops at the flip, dropping
/// every record after it (the acknowledged head shows it).
#[test]
fn a_flipped_byte_in_a_store_written_once_is_never_silent() {
    let f = fixture();
    flips_are_never_silent(&f, 1);
}

/// Three runs: old pages are covered by sled's snapshot, and read only on demand; a writer
/// reads them all before appending.
#[test]
fn a_flipped_byte_in_an_old_block_is_never_silent() {
    let f = fixture();
    flips_are_never_silent(&f, 3);
}

/// Damage that only the chain shows: records rewritten through sled. The last one is seen
/// by `check` before it appends (the head against the last record); one in the middle by
/// `log checkpoint`, which verifies before it prints, and `log verify` names it.
#[test]
fn a_record_rewritten_through_sled_is_never_silent() {
    let f = fixture();
    f.check_many(&f.store, 0, 20);
    let rewrite = |store: &Path, seq: u64| {
        let store = retry_locked(|| Store::open(store));
        let (key, value) = store
            .records()
            .range(..=seq.to_be_bytes())
            .next_back()
            .unwrap()
            .unwrap();
        let first = u64::from_be_bytes(key.as_ref().try_into().unwrap());
        let mut lines: Vec<Vec<u8>> = value.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let line = &mut lines[(seq - first) as usize];
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.contains("\"allowed\""), "{text}");
        *line = text.replace("\"allowed\"", "\"refused\"").into_bytes();
        store.records().insert(key, lines.join(&b'\n')).unwrap();
        store.flush().unwrap();
    };
    let tail = f.dir.path().join("tail");
    copy_store(&f.store, &tail);
    rewrite(&tail, 20);
    let check = retry_out(|| f.check_one(&tail));
    assert_one_line_error(&check, "is damaged: record 20: ");
    let middle = f.dir.path().join("middle");
    copy_store(&f.store, &middle);
    rewrite(&middle, 7);
    let verify = retry_out(|| f.run_in(&middle, &["log", "verify"], ""));
    assert_eq!(verify.code, Some(1), "{verify:?}");
    assert!(
        verify.stdout.starts_with("BROKEN: record 7: "),
        "{verify:?}"
    );
    let checkpoint = f.run_in(&middle, &["log", "checkpoint"], "");
    assert_one_line_error(&checkpoint, "is damaged: record 7: ");
    assert!(checkpoint.stdout.is_empty(), "{checkpoint:?}");
}

/// Runs `run` again while the store is still locked by this process's closing handle.
fn retry_out(run: impl Fn() -> Out) -> Out {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run();
        if out.code == Some(2) && out.stderr.contains("in use") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        return out;
    }
}

/// The acknowledged sequence number in `store`'s `optout-acknowledged` file, if any.
fn acknowledged(store: &Path) -> u64 {
    std::fs::read(store.join("optout-acknowledged"))
        .ok()
        .and_then(|b| Some(u64::from_be_bytes(b.get(8..16)?.try_into().ok()?)))
        .unwrap_or(0)
}

/// `check` reading URLs from a pipe while its store directory is deleted, or replaced by
/// another store: it fails with one line, and does not report success for records that are
/// in no store.
#[test]
fn a_store_deleted_or_replaced_while_checking_is_an_error() {
    for replace in [false, true] {
        let f = fixture();
        let other = f.dir.path().join("other");
        f.check_many(&other, 0, 3);
        let mut child = f
            .cmd_in(&f.store, &["check", "--robots", f.robots_arg()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        writeln!(input, "https://example.com/a\nhttps://example.com/b").unwrap();
        input.flush().unwrap();
        // The records are on disk once the acknowledged head says so (group commit).
        let deadline = Instant::now() + RUN_TIMEOUT;
        while acknowledged(&f.store) < 2 {
            assert!(Instant::now() < deadline, "no flush within {RUN_TIMEOUT:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::remove_dir_all(&f.store).unwrap();
        if replace {
            copy_store(&other, &f.store);
        }
        writeln!(input, "https://example.com/c\nhttps://example.com/d").unwrap();
        drop(input);
        let out = wait_bounded(child);
        assert_one_line_error(&out, "was deleted or replaced");
        if replace {
            // The other store is as it was.
            let verify = f.run(&["log", "verify"]);
            assert!(
                verify.stdout.starts_with("ok: log intact, 3 records"),
                "{verify:?}"
            );
        }
    }
}
