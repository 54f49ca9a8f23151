//! `optout log replay` on a real log written by the binary: no differences with this
//! version's engine; a forged bundle (a robots.txt snapshot changed and everything re-hashed
//! as a forger would) verifies but replay shows the changed verdict; a snapshot changed
//! without re-hashing fails verification and replay refuses it; a changed configuration
//! shows what it would change.

#[path = "support/audit_log.rs"]
mod audit_log;
#[path = "support/server.rs"]
mod server;

use audit_log::{Logged, RECORDS, REDECIDED, logged, python_verify};
use optout::evidence::canonical;
use optout::evidence::record::chain_hash;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn summary(records: u64, redecided: u64, differ: u64) -> String {
    format!(
        "replay: {records} records, {redecided} re-decided, {differ} differ, {} not re-decidable",
        records - redecided
    )
}

fn replay(log: &Logged, bundle: Option<&Path>) -> audit_log::Out {
    let mut args = vec!["log", "replay"];
    if let Some(bundle) = bundle {
        args.extend(["--bundle", bundle.to_str().unwrap()]);
    }
    log.run(&args)
}

#[test]
fn a_log_written_by_this_version_replays_without_differences() {
    let log = logged();
    let bundle = log.bundle("all.tar", &[]);
    for source in [None, Some(bundle.as_path())] {
        let out = replay(&log, source);
        assert_eq!(out.code, Some(0), "{source:?}: {out:?}");
        assert!(!out.stdout.contains("differs:"), "{out:?}");
        assert_eq!(
            out.stdout.lines().last(),
            Some(summary(RECORDS, REDECIDED, 0).as_str()),
            "{out:?}"
        );
        // The two fetches that got a response: their headers and page are not in the record.
        assert!(
            out.stdout.contains("not re-decidable: 2 records (record ")
                && out
                    .stdout
                    .contains("the response's headers and page are not in the record"),
            "{out:?}"
        );
    }
    // Filters select what is replayed.
    let out = log.run(&["log", "replay", "--host", "e.com"]);
    assert_eq!(out.stdout.trim(), summary(2, 2, 0), "{out:?}");
}

/// The files of a bundle, in order.
fn unpack(bundle: &Path) -> Vec<(String, Vec<u8>)> {
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

fn pack(files: &[(String, Vec<u8>)], path: &Path) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o444);
        builder.append_data(&mut header, name, &bytes[..]).unwrap();
    }
    builder.finish().unwrap();
}

/// What a forger does: `edit` the robots.txt snapshot, name it after its new SHA-256,
/// point the records at it, re-chain every record and write the new head as the
/// checkpoint (in checkpoint.txt and manifest.json).
fn forge(log: &Logged, bundle: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let old_sha = hex::encode(Sha256::digest(audit_log::ROBOTS));
    let forged = edit(audit_log::ROBOTS);
    let new_sha = hex::encode(Sha256::digest(&forged));
    let mut files = unpack(bundle);
    let mut prev = [0u8; 32];
    let mut head = (0, String::new());
    for (name, bytes) in &mut files {
        if name.ends_with(&old_sha) {
            *name = format!("optout-bundle/snapshots/{new_sha}");
            *bytes = forged.clone().into_bytes();
        } else if name == "optout-bundle/records.jsonl" {
            let mut out = Vec::new();
            for line in String::from_utf8(bytes.clone()).unwrap().lines() {
                let line = line.replace(&old_sha, &new_sha);
                let mut record: Value = serde_json::from_str(&line).unwrap();
                let map = record.as_object_mut().unwrap();
                map.remove("hash");
                map.remove("prev_hash");
                let hash = chain_hash(&prev, &canonical::to_vec(&record).unwrap());
                let map = record.as_object_mut().unwrap();
                map.insert("prev_hash".into(), hex::encode(prev).into());
                map.insert("hash".into(), hex::encode(hash).into());
                out.extend(canonical::to_vec(&record).unwrap());
                out.push(b'\n');
                prev = hash;
                head = (record["seq"].as_u64().unwrap(), hex::encode(hash));
            }
            *bytes = out;
        }
    }
    let line = format!(
        "optout-checkpoint v1 seq={} hash={} time=2026-12-01T00:00:00.000Z",
        head.0, head.1
    );
    for (name, bytes) in &mut files {
        if name.ends_with("/checkpoint.txt") {
            *bytes = format!("{line}\n").into_bytes();
        } else if name.ends_with("/manifest.json") {
            let mut manifest: Value = serde_json::from_slice(bytes).unwrap();
            manifest["checkpoint"] = line.clone().into();
            *bytes = serde_json::to_vec(&manifest).unwrap();
        }
    }
    let path = log.path("forged.tar");
    pack(&files, &path);
    path
}

#[test]
fn a_forged_and_rehashed_snapshot_verifies_but_replay_shows_the_changed_verdict() {
    let log = logged();
    let bundle = log.bundle("all.tar", &[]);
    let forged = forge(&log, &bundle, |robots| {
        robots.replace("Disallow:", "Allow:")
    });
    // Self-consistent: both verifiers accept it.
    let out = log.run(&["log", "verify", "--bundle", forged.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{out:?}");
    if let Some(py) = python_verify(&forged) {
        assert_eq!(py.code, Some(0), "{py:?}");
    }
    // But the decision it records is not what its snapshot says.
    let out = replay(&log, Some(&forged));
    assert_eq!(out.code, Some(1), "{out:?}");
    let differs: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("differs:"))
        .collect();
    assert_eq!(
        differs,
        [
            r#"differs: record 2 https://e.com/private/b: recorded refused robots.disallow line 2 "/private/"; today allowed robots.allow line 2 "/private/""#
        ],
        "{out:?}"
    );
    assert_eq!(
        out.stdout.lines().last(),
        Some(summary(RECORDS, REDECIDED, 1).as_str())
    );
}

#[test]
fn a_snapshot_changed_without_rehashing_fails_verification_and_replay_refuses_it() {
    let log = logged();
    let bundle = log.bundle("all.tar", &[]);
    let sha = hex::encode(Sha256::digest(audit_log::ROBOTS));
    let mut files = unpack(&bundle);
    for (name, bytes) in &mut files {
        if name.ends_with(&sha) {
            *bytes = audit_log::ROBOTS
                .replace("Disallow:", "Allow:")
                .into_bytes();
        }
    }
    let changed = log.path("changed.tar");
    pack(&files, &changed);
    let out = log.run(&["log", "verify", "--bundle", changed.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stdout.starts_with(&format!(
            "BROKEN: snapshot {sha}: its bytes no longer match their name"
        )),
        "{out:?}"
    );
    let out = replay(&log, Some(&changed));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("the bundle does not verify"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
}

#[test]
fn a_changed_configuration_shows_what_it_would_change() {
    let log = logged();
    // Today e.com is an excluded domain: both its records are refused by the list first.
    let list = log.path("excluded.txt");
    std::fs::write(&list, "e.com\n").unwrap();
    let config = std::fs::read_to_string(&log.config).unwrap();
    std::fs::write(
        &log.config,
        format!(
            "{config}[signals]\nexcluded_domains_file = {:?}\n",
            list.display().to_string()
        ),
    )
    .unwrap();
    let out = replay(&log, None);
    assert_eq!(out.code, Some(1), "{out:?}");
    let differs: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("differs:"))
        .collect();
    assert_eq!(differs.len(), 2, "{out:?}");
    assert!(differs[0].starts_with("differs: record 1 https://e.com/a: recorded allowed robots.allow line 3 \"/\"; today refused excluded-domain"), "{out:?}");
    assert!(differs[1].starts_with("differs: record 2 https://e.com/private/b: recorded refused robots.disallow line 2 \"/private/\"; today refused excluded-domain"), "{out:?}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let log = logged();
    let missing = log.path("missing.tar");
    let out = replay(&log, Some(&missing));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    let junk = log.path("junk.tar");
    std::fs::write(&junk, b"junk".repeat(300)).unwrap();
    let out = replay(&log, Some(&junk));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    let out = log.run(&["log", "replay", "--since", "yesterday"]);
    assert_eq!(out.code, Some(2), "{out:?}");
}
