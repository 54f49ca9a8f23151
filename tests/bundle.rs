//! The auditor's bundle (`optout log bundle`, `optout log verify --bundle`, and the
//! standalone `verify_bundle.py` it carries) on a real log written by the binary: an intact
//! bundle verifies with both, one changed byte of a record, a snapshot or the checkpoint is
//! named by both, a filtered bundle verifies and says what it proves, and a damaged or
//! foreign file is one line, never a panic.

#[path = "support/audit_log.rs"]
mod audit_log;
#[path = "support/server.rs"]
mod server;

use audit_log::{Logged, Out, RECORDS, logged, python_verify};
use optout::store::Sled;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The files of a bundle, by name, as `tar` reads them.
fn entries(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(std::fs::File::open(bundle).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

fn entry(bundle: &Path, name: &str) -> Vec<u8> {
    entries(bundle)
        .into_iter()
        .find(|(n, _)| n == &format!("optout-bundle/{name}"))
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

fn verify(log: &Logged, bundle: &Path) -> Out {
    log.run(&["log", "verify", "--bundle", bundle.to_str().unwrap()])
}

/// Both verifiers accept `bundle`; their lines start `ok: bundle intact, N records (SHAPE`.
fn assert_intact(log: &Logged, bundle: &Path, records: u64, shape: &str) {
    let want = format!("ok: bundle intact, {records} records ({shape}");
    let out = verify(log, bundle);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with(&want), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    if let Some(py) = python_verify(bundle) {
        assert_eq!(py.code, Some(0), "{py:?}");
        assert!(py.stdout.starts_with(&want), "{py:?}");
    }
}

/// Both verifiers reject `bundle` with one line starting `BROKEN: {prefix}`.
fn assert_broken(log: &Logged, bundle: &Path, prefix: &str) {
    let want = format!("BROKEN: {prefix}");
    let out = verify(log, bundle);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stdout.starts_with(&want), "want {want:?}: {out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    if let Some(py) = python_verify(bundle) {
        assert_eq!(py.code, Some(1), "{py:?}");
        assert!(
            py.stdout.starts_with(&want),
            "python, want {want:?}: {py:?}"
        );
    }
}

/// A copy of `bundle` with the byte at the `nth` (from 0) occurrence of `needle` changed.
fn flipped(
    log: &Logged,
    bundle: &Path,
    needle: &[u8],
    nth: usize,
    name: &str,
) -> std::path::PathBuf {
    let mut bytes = std::fs::read(bundle).unwrap();
    let at = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
        .0;
    let last = at + needle.len() - 1;
    // A hex letter becomes its neighbour (`a`<->`b`, `c`<->`d`, `e`<->`f`): a flipped bit
    // would make `f` a `g`, a malformed hash rather than a changed one. Anything else (a
    // digit stays a digit) gets its lowest bit flipped.
    bytes[last] = match bytes[last] {
        b @ b'a'..=b'f' => ((b - b'a') ^ 1) + b'a',
        other => other ^ 0x01,
    };
    let path = log.path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_bundle_holds_the_export_every_snapshot_and_the_checkpoint_and_verifies() {
    let log = logged();
    let bundle = log.bundle("all.tar", &[]);
    assert_intact(&log, &bundle, RECORDS, "the whole log to the checkpoint");
    // The records exactly as `log export` writes them.
    let export = log.export();
    assert_eq!(
        String::from_utf8(entry(&bundle, "records.jsonl")).unwrap(),
        export
    );
    // Every snapshot a record names, under the SHA-256 of its bytes, and no other.
    let mut named: Vec<String> = export
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["sha256"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    named.sort();
    named.dedup();
    let mut held = Vec::new();
    for (name, bytes) in entries(&bundle) {
        if let Some(sha) = name.strip_prefix("optout-bundle/snapshots/") {
            assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
            held.push(sha.to_owned());
        }
    }
    assert_eq!(held, named);
    assert!(
        entries(&bundle)
            .iter()
            .any(|(_, b)| b == audit_log::ROBOTS.as_bytes()),
        "the offline robots.txt is a snapshot"
    );
    // The checkpoint is the last record's, in the format `log checkpoint` prints.
    let last: serde_json::Value = serde_json::from_str(export.lines().last().unwrap()).unwrap();
    let checkpoint = String::from_utf8(entry(&bundle, "checkpoint.txt")).unwrap();
    let want = format!(
        "optout-checkpoint v1 seq={RECORDS} hash={} time=",
        last["hash"].as_str().unwrap()
    );
    assert!(checkpoint.starts_with(&want), "{checkpoint}");
    let printed = log.run(&["log", "checkpoint"]);
    assert!(printed.stdout.starts_with(&want), "{printed:?}");
    // The verifier it carries is the repository's, and runs from an extracted copy.
    let script = entry(&bundle, "verify_bundle.py");
    assert_eq!(script, std::fs::read(audit_log::VERIFIER).unwrap());
    let dir = log.path("extracted");
    tar::Archive::new(std::fs::File::open(&bundle).unwrap())
        .unpack(&dir)
        .unwrap();
    if let Some(py) = python_verify(&dir.join("optout-bundle")) {
        assert_eq!(py.code, Some(0), "{py:?}");
        assert!(
            py.stdout.starts_with("ok: bundle intact, 9 records"),
            "{py:?}"
        );
    }
}

#[test]
fn one_changed_byte_of_a_record_a_snapshot_or_the_checkpoint_is_named() {
    let log = logged();
    let bundle = log.bundle("all.tar", &[]);
    let record = flipped(
        &log,
        &bundle,
        b"\"url\":\"https://e.com/private/b",
        0,
        "record.tar",
    );
    assert_broken(&log, &record, "record 2: content does not match its hash");
    let robots_sha = hex::encode(Sha256::digest(audit_log::ROBOTS));
    let snapshot = flipped(
        &log,
        &bundle,
        b"Disallow: /private/\nAllow",
        0,
        "snapshot.tar",
    );
    assert_broken(
        &log,
        &snapshot,
        &format!("snapshot {robots_sha}: its bytes no longer match their name"),
    );
    // The checkpoint line is in manifest.json first, then checkpoint.txt.
    let export = log.export();
    let last: serde_json::Value = serde_json::from_str(export.lines().last().unwrap()).unwrap();
    let hash = format!("hash={}", last["hash"].as_str().unwrap());
    let checkpoint = flipped(&log, &bundle, hash.as_bytes(), 1, "checkpoint.tar");
    assert_broken(
        &log,
        &checkpoint,
        &format!("checkpoint: its hash is not record {RECORDS}'s"),
    );
    // In the manifest only: the two no longer agree.
    let manifest = flipped(&log, &bundle, hash.as_bytes(), 0, "manifest.tar");
    assert_broken(
        &log,
        &manifest,
        "checkpoint: checkpoint.txt is not the checkpoint",
    );
}

#[test]
fn a_filtered_bundle_verifies_and_says_what_it_proves() {
    let log = logged();
    let bundle = log.bundle("e.tar", &["--host", "e.com"]);
    assert_intact(&log, &bundle, 2, "records 1..2, filtered");
    let out = verify(&log, &bundle);
    assert!(
        out.stdout.contains("does not reach the checkpoint"),
        "{out:?}"
    );
    let records = String::from_utf8(entry(&bundle, "records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 2);
    assert!(
        records
            .lines()
            .all(|l| l.contains("\"origin\":\"https://e.com\""))
    );
    // Only the snapshot those records name.
    let snapshots = entries(&bundle)
        .iter()
        .filter(|(n, _)| n.contains("/snapshots/"))
        .count();
    assert_eq!(snapshots, 1);
    // A filtered bundle whose checkpoint is not reached still catches a changed checkpoint
    // (manifest.json names it too).
    let cut = flipped(&log, &bundle, b"optout-checkpoint v1 seq=9", 1, "cut.tar");
    assert_broken(
        &log,
        &cut,
        "checkpoint: checkpoint.txt is not the checkpoint",
    );
    // Refusals only: gaps between the records it holds.
    let refused = log.bundle("refused.tar", &["--verdict", "refused"]);
    let out = verify(&log, &refused);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("filtered"), "{out:?}");
}

#[test]
fn an_empty_log_bundles_and_verifies() {
    let log = logged();
    let none = log.bundle("none.tar", &["--host", "nowhere.test"]);
    assert_intact(&log, &none, 0, "no records");
}

#[test]
fn a_damaged_or_foreign_file_is_one_line_never_a_panic() {
    let log = logged();
    let bundle = log.bundle("all.tar", &[]);
    let bytes = std::fs::read(&bundle).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.tar", Vec::new(), "BROKEN: bundle: no optout-bundle/"),
        (
            "junk.tar",
            b"not a tar archive at all\n".repeat(40),
            "BROKEN: bundle: ",
        ),
        ("half.tar", bytes[..bytes.len() / 2].to_vec(), "BROKEN: "),
        (
            "header.tar",
            {
                let mut b = bytes.clone();
                b[0] ^= 0x20; // the first entry's name: the header checksum no longer holds
                b
            },
            "BROKEN: bundle: not a readable tar archive",
        ),
    ];
    for (name, content, want) in cases {
        let path = log.path(name);
        std::fs::write(&path, content).unwrap();
        let out = verify(&log, &path);
        assert_eq!(out.code, Some(1), "{name}: {out:?}");
        assert!(out.stdout.starts_with(want), "{name}: {out:?}");
        assert_eq!(out.stdout.lines().count(), 1, "{name}: {out:?}");
        assert!(out.stderr.is_empty(), "{name}: {out:?}");
        if let Some(py) = python_verify(&path) {
            assert_eq!(py.code, Some(1), "python {name}: {py:?}");
            assert!(py.stdout.starts_with("BROKEN: "), "python {name}: {py:?}");
        }
    }
    // No file, or a directory: not a bundle at all (exit 2, one line on standard error).
    for path in [log.path("missing.tar"), log.path("xdg")] {
        let out = verify(&log, &path);
        assert_eq!(out.code, Some(2), "{out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    }
    // A bundle is written whole or not at all: no partial file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(log.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_log_that_does_not_verify_gets_no_bundle() {
    let log = logged();
    {
        // Record 1 changed through sled, as a damaged or rewritten store would hold it.
        let store = optout::store::Store::open(&log.store).unwrap();
        let (key, value) = store
            .records()
            .iter()
            .map(Result::unwrap)
            .find(|(_, v)| v.starts_with(b"{"))
            .unwrap();
        let text = String::from_utf8(value.to_vec()).unwrap();
        assert!(text.contains("https://e.com/a"), "{text}");
        let changed = text.replacen("https://e.com/a", "https://e.com/b", 1);
        store.records().insert(key, changed.as_bytes()).unwrap();
        store.flush().unwrap();
    }
    let path = log.path("never.tar");
    let out = log.run(&["log", "bundle", "-o", path.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("the log does not verify (record 1: "),
        "{out:?}"
    );
    assert!(out.stderr.contains("no bundle written"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(!path.exists());
}

// ---------------------------------------------------------------------------------------
// One set of forged bundles for both verifiers (`tests/support/forged_bundles.rs`), held to
// the specification in docs/evidence.md, "The auditor's bundle".
// ---------------------------------------------------------------------------------------

#[path = "support/forged_bundles.rs"]
mod forged_bundles;

/// The verifier an auditor trusts: the script a genuine bundle carries, extracted (the
/// repository's copy, byte for byte). A forged bundle's own script is not run: replacing
/// it is one of the forgeries.
fn trusted_script(log: &Logged, genuine: &Path) -> std::path::PathBuf {
    let script = log.path("trusted-verify_bundle.py");
    std::fs::write(&script, entry(genuine, "verify_bundle.py")).unwrap();
    assert_eq!(
        std::fs::read(&script).unwrap(),
        std::fs::read(audit_log::VERIFIER).unwrap()
    );
    script
}

/// Both verifiers on `bundle`: `optout log verify --bundle` and `python3 SCRIPT` (none
/// without python3, as `python_verify`).
fn both(log: &Logged, script: &Path, bundle: &Path) -> (Out, Option<Out>) {
    let py = audit_log::python3().map(|mut cmd| {
        let out = cmd.arg(script).arg(bundle).output().unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    });
    (verify(log, bundle), py)
}

/// What is wrong with one verifier's answer to a forgery, if anything: it must be exit 1,
/// one line `BROKEN: {want}...`, nothing on standard error (no panic, no traceback).
fn refusal_miss(who: &str, name: &str, out: &Out, want: &str) -> Option<String> {
    let ok = out.code == Some(1)
        && out.stdout.starts_with(&format!("BROKEN: {want}"))
        && out.stdout.lines().count() == 1
        && out.stderr.is_empty();
    (!ok).then(|| format!("{name}: {who} did not say `BROKEN: {want}`: {out:?}"))
}

#[test]
fn both_verifiers_accept_every_genuine_bundle_filtered_or_not() {
    let log = logged();
    let all = log.bundle("all.tar", &[]);
    let script = trusted_script(&log, &all);
    for (name, filters, shape) in [
        ("all.tar", &[][..], "the whole log to the checkpoint"),
        (
            "host.tar",
            &["--host", "e.com"][..],
            "records 1..2, filtered",
        ),
        ("refused.tar", &["--verdict", "refused"][..], "records "),
        ("none.tar", &["--host", "nowhere.test"][..], "no records"),
    ] {
        let bundle = log.bundle(name, filters);
        let (out, py) = both(&log, &script, &bundle);
        let want = "ok: bundle intact, ";
        assert_eq!(out.code, Some(0), "{name}: {out:?}");
        assert!(out.stdout.starts_with(want), "{name}: {out:?}");
        assert!(out.stdout.contains(shape), "{name}: {out:?}");
        if let Some(py) = py {
            assert_eq!(py.code, Some(0), "{name}: {py:?}");
            assert_eq!(py.stdout, out.stdout, "{name}: the verifiers disagree");
        }
    }
    // The manifest says what a bundle is: unfiltered (`filter` null) or its filters.
    let manifest = |bundle: &Path| -> serde_json::Value {
        serde_json::from_slice(&entry(bundle, "manifest.json")).unwrap()
    };
    assert!(manifest(&all)["filter"].is_null());
    assert_eq!(
        manifest(&log.path("host.tar"))["filter"],
        serde_json::json!({"since": null, "until": null, "host": "e.com", "verdict": null})
    );
}

#[test]
fn both_verifiers_refuse_every_forgery_and_name_what_is_wrong() {
    let log = logged();
    let all = log.bundle("all.tar", &[]);
    let filtered = log.bundle("e.tar", &["--host", "e.com"]);
    let script = trusted_script(&log, &all);
    let forgeries = forged_bundles::forgeries(
        &std::fs::read(&all).unwrap(),
        &std::fs::read(&filtered).unwrap(),
        RECORDS,
    );
    assert!(forgeries.len() > 40, "{}", forgeries.len());
    let mut misses = Vec::new();
    for forgery in &forgeries {
        let path = log.path(&format!("forged-{}.tar", forgery.name));
        std::fs::write(&path, &forgery.bytes).unwrap();
        let (out, py) = both(&log, &script, &path);
        misses.extend(refusal_miss("optout", &forgery.name, &out, &forgery.want));
        if let Some(py) = py {
            misses.extend(refusal_miss("python", &forgery.name, &py, &forgery.want));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn a_flipped_bit_anywhere_is_refused_by_both_verifiers_and_crashes_neither() {
    let log = logged();
    let all = log.bundle("all.tar", &[]);
    let script = trusted_script(&log, &all);
    let bytes = std::fs::read(&all).unwrap();
    let flippable = forged_bundles::flippable(&bytes);
    // Every entry's header, data and padding, and the end blocks, then spread positions:
    // a few dozen cases, so that CI stays quick.
    let mut places: Vec<usize> = forged_bundles::layout(&bytes)
        .iter()
        .flat_map(|&(_, header, data, size)| {
            let (header, data, size) = (header as usize, data as usize, size as usize);
            let mut at = vec![header + (data * 7 + size) % 512, data + size / 2];
            if size % 512 != 0 {
                at.push(data + size + (512 - size % 512) / 2);
            }
            at
        })
        .collect();
    places.extend([bytes.len() - 1024, bytes.len() - 1]);
    places.extend((1..=12).map(|i| i * 7_919 * 31 % bytes.len()));
    places.retain(|&at| flippable(at));
    let mut misses = Vec::new();
    for (i, &at) in places.iter().enumerate() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 1 << (i % 8);
        let name = format!("flip-{i}-at-{at}");
        let path = log.path(&format!("{name}.tar"));
        std::fs::write(&path, &flipped).unwrap();
        let (out, py) = both(&log, &script, &path);
        misses.extend(refusal_miss("optout", &name, &out, ""));
        if let Some(py) = py {
            misses.extend(refusal_miss("python", &name, &py, ""));
        }
    }
    assert!(places.len() >= 30, "{}", places.len());
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}
