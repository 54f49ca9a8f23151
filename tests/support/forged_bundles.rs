//! Forged bundles, in one place, for both bundle verifiers (`optout log verify --bundle` and
//! `verify_bundle.py`): each made from a genuine bundle by one change the specification
//! (`docs/evidence.md`, "The auditor's bundle") refuses, kept otherwise consistent (counts
//! in the manifest refitted) so that the change itself is what a verifier must name.
//!
//! Used through `#[path = "support/forged_bundles.rs"] mod forged_bundles;`.

#![allow(dead_code)]

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub const ROOT: &str = "optout-bundle/";

/// A bundle's entries in order: full name, tar entry type, bytes.
#[derive(Clone)]
pub struct Members(pub Vec<(String, tar::EntryType, Vec<u8>)>);

/// One forgery: its name, the file's bytes, and what both verifiers must print after
/// `BROKEN: ` (a prefix of their line).
pub struct Forgery {
    pub name: String,
    pub bytes: Vec<u8>,
    pub want: String,
}

impl Members {
    pub fn read(bundle: &[u8]) -> Members {
        let mut archive = tar::Archive::new(bundle);
        Members(
            archive
                .entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
                    let kind = e.header().entry_type();
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
                    (name, kind, bytes)
                })
                .collect(),
        )
    }

    /// The archive, as optout writes it: ustar headers, read-only files.
    pub fn write(&self) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, bytes) in &self.0 {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o444);
            header.set_entry_type(*kind);
            if kind.is_symlink() {
                header.set_link_name("README.txt").unwrap();
            }
            header.set_path(name).unwrap();
            header.set_cksum();
            builder.append(&header, &bytes[..]).unwrap();
        }
        builder.into_inner().unwrap()
    }

    pub fn get(&self, short: &str) -> &[u8] {
        let name = format!("{ROOT}{short}");
        &self.0.iter().find(|(n, _, _)| *n == name).unwrap().2
    }

    pub fn set(&mut self, short: &str, bytes: Vec<u8>) -> &mut Self {
        let name = format!("{ROOT}{short}");
        self.0.iter_mut().find(|(n, _, _)| *n == name).unwrap().2 = bytes;
        self
    }

    pub fn edit(&mut self, short: &str, f: impl FnOnce(String) -> String) -> &mut Self {
        let text = String::from_utf8(self.get(short).to_vec()).unwrap();
        self.set(short, f(text).into_bytes())
    }

    pub fn remove(&mut self, short: &str) -> &mut Self {
        let name = format!("{ROOT}{short}");
        self.0.retain(|(n, _, _)| *n != name);
        self
    }

    pub fn add(&mut self, name: &str, kind: tar::EntryType, bytes: &[u8]) -> &mut Self {
        self.0.push((name.to_owned(), kind, bytes.to_vec()));
        self
    }

    /// Edits the manifest as JSON (written back as optout writes it).
    pub fn manifest(&mut self, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> &mut Self {
        let mut manifest: Value = serde_json::from_slice(self.get("manifest.json")).unwrap();
        f(manifest.as_object_mut().unwrap());
        let mut bytes = serde_json::to_vec_pretty(&manifest).unwrap();
        bytes.push(b'\n');
        self.set("manifest.json", bytes)
    }

    /// Keeps the records `keep` keeps, drops the snapshots no record left names, and fits
    /// the manifest's counts to them: a forger's consistent removal.
    pub fn keep_records(&mut self, keep: impl Fn(u64) -> bool) -> &mut Self {
        let records = String::from_utf8(self.get("records.jsonl").to_vec()).unwrap();
        let kept: Vec<&str> = records.lines().filter(|l| keep(seq_of(l))).collect();
        let named: BTreeSet<String> = kept.iter().flat_map(|l| snapshots_of(l)).collect();
        let mut text = kept.join("\n");
        if !kept.is_empty() {
            text.push('\n');
        }
        let (first, last) = (
            kept.first().map(|l| seq_of(l)),
            kept.last().map(|l| seq_of(l)),
        );
        self.set("records.jsonl", text.into_bytes());
        self.0.retain(|(n, _, _)| {
            n.strip_prefix(&format!("{ROOT}snapshots/"))
                .is_none_or(|sha| named.contains(sha))
        });
        let (count, snapshots) = (kept.len(), named.len());
        self.manifest(|m| {
            m.insert("records".into(), count.into());
            m.insert("first_seq".into(), first.into());
            m.insert("last_seq".into(), last.into());
            m.insert("snapshots".into(), snapshots.into());
        })
    }

    pub fn forgery(&self, name: &str, want: &str) -> Forgery {
        Forgery {
            name: name.to_owned(),
            bytes: self.write(),
            want: want.to_owned(),
        }
    }
}

fn seq_of(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

fn snapshots_of(line: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(line).unwrap();
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sha256"].as_str().unwrap().to_owned())
        .collect()
}

/// Where each entry lies in an archive: (name, header position, data position, size).
pub fn layout(bundle: &[u8]) -> Vec<(String, u64, u64, u64)> {
    let mut archive = tar::Archive::new(bundle);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            (
                name,
                e.raw_header_position(),
                e.raw_file_position(),
                e.size(),
            )
        })
        .collect()
}

/// Every forgery, made from `all` (a genuine bundle of the whole log, `records` records)
/// and `filtered` (a genuine bundle made with `--host`, whose records are 1 and 2).
pub fn forgeries(all: &[u8], filtered: &[u8], records: u64) -> Vec<Forgery> {
    let genuine = Members::read(all);
    let with = |f: &dyn Fn(&mut Members)| {
        let mut m = genuine.clone();
        f(&mut m);
        m
    };
    let last = records;
    let mut out = vec![
        // Records removed from an unfiltered bundle, the manifest refitted to them.
        with(&|m| {
            m.keep_records(|s| !(4..=6).contains(&s));
        })
        .forgery(
            "dropped-middle",
            "bundle: records 4..6 are missing from an unfiltered bundle",
        ),
        with(&|m| {
            m.keep_records(|s| s < last - 1);
        })
        .forgery(
            "dropped-tail",
            &format!(
                "bundle: records {}..{last} are missing from an unfiltered bundle",
                last - 1
            ),
        ),
        with(&|m| {
            m.keep_records(|s| s != 1);
        })
        .forgery(
            "dropped-first",
            "bundle: records 1..1 are missing from an unfiltered bundle",
        ),
        // A filtered bundle that claims to be unfiltered.
        {
            let mut m = Members::read(filtered);
            m.manifest(|m| {
                m.insert("filter".into(), Value::Null);
            });
            m.forgery(
                "filtered-as-unfiltered",
                &format!("bundle: records 3..{last} are missing from an unfiltered bundle"),
            )
        },
        // Line endings and the lines of records.jsonl.
        with(&|m| {
            m.edit("records.jsonl", |t| t.replace('\n', "\r\n"));
        })
        .forgery(
            "crlf-records",
            "bundle: records.jsonl line 1 holds a CR (line endings are LF only)",
        ),
        with(&|m| {
            m.edit("manifest.json", |t| t.replace('\n', "\r\n"));
        })
        .forgery(
            "crlf-manifest",
            "bundle: optout-bundle/manifest.json holds a CR",
        ),
        with(&|m| {
            m.edit("checkpoint.txt", |t| t.replace('\n', "\r\n"));
        })
        .forgery(
            "crlf-checkpoint",
            "bundle: optout-bundle/checkpoint.txt holds a CR",
        ),
        with(&|m| {
            m.edit("records.jsonl", |t| format!("{t}\n"));
        })
        .forgery(
            "blank-line",
            &format!("bundle: records.jsonl line {} is empty", records + 1),
        ),
        with(&|m| {
            m.edit("records.jsonl", |t| t.trim_end_matches('\n').to_owned());
        })
        .forgery(
            "no-final-lf",
            &format!("bundle: records.jsonl line {records} does not end in LF"),
        ),
        with(&|m| {
            m.edit("checkpoint.txt", |t| t.trim_end_matches('\n').to_owned());
        })
        .forgery(
            "checkpoint-no-lf",
            "checkpoint: not an `optout-checkpoint v1` line",
        ),
        // The manifest's JSON types, fields and size.
        with(&|m| {
            m.edit("manifest.json", |t| {
                t.replace(
                    &format!("\"records\": {records}"),
                    &format!("\"records\": {records}.0"),
                )
            });
        })
        .forgery(
            "records-float",
            "bundle: manifest.json: `records` is not an integer",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert("version".into(), true.into());
            });
        })
        .forgery(
            "version-bool",
            "bundle: manifest.json: `version` is not the integer 1",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert("version".into(), 1.0.into());
            });
        })
        .forgery(
            "version-float",
            "bundle: manifest.json: `version` is not the integer 1",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert("first_seq".into(), "1".into());
            });
        })
        .forgery(
            "first-seq-string",
            "bundle: manifest.json: `first_seq` is neither null nor an integer",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert("snapshots".into(), (-1).into());
            });
        })
        .forgery(
            "snapshots-negative",
            "bundle: manifest.json: `snapshots` is not an integer",
        ),
        with(&|m| {
            m.edit("manifest.json", |t| {
                t.replacen("{\n", &format!("{{\n  \"records\": {records},\n"), 1)
            });
        })
        .forgery(
            "manifest-duplicate-field",
            "bundle: manifest.json: duplicate field `records`",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert("signed_by".into(), "the auditor".into());
            });
        })
        .forgery(
            "manifest-unknown-field",
            "bundle: manifest.json: unknown field `signed_by`",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.remove("last_seq");
            });
        })
        .forgery(
            "manifest-missing-field",
            "bundle: manifest.json: missing field `last_seq`",
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert(
                    "filter".into(),
                    serde_json::json!({"since": null, "until": null, "host": null, "verdict": null}),
                );
            });
        })
        .forgery(
            "filter-names-nothing",
            "bundle: manifest.json: `filter` names no filter",
        ),
        with(&|m| {
            m.edit("manifest.json", |t| {
                t.replace(&format!("\"records\": {records}"), "\"records\": NaN")
            });
        })
        .forgery("manifest-nan", "bundle: manifest.json is not JSON"),
        with(&|m| {
            m.manifest(|m| {
                m.insert("records".into(), (records - 1).into());
            });
        })
        .forgery(
            "manifest-count",
            &format!("bundle: manifest.json does not say {records} records"),
        ),
        with(&|m| {
            m.manifest(|m| {
                m.insert("last_seq".into(), (records - 1).into());
            });
        })
        .forgery(
            "manifest-last-seq",
            "bundle: manifest.json `first_seq` and `last_seq` are not",
        ),
        // Larger than the limit (1 MiB): JSON whitespace, so that only the size is wrong.
        // The limit is checked before reading, so 200 MB cost the same (but the disk).
        with(&|m| {
            m.edit("manifest.json", |t| format!("{}{t}", " ".repeat(1 << 20)));
        })
        .forgery(
            "manifest-oversized",
            "bundle: optout-bundle/manifest.json is larger than 1048576 bytes",
        ),
        // Members: unknown, outside the root, missing, duplicated, not plain files.
        with(&|m| {
            m.add(
                &format!("{ROOT}extra.txt"),
                tar::EntryType::Regular,
                b"more",
            );
        })
        .forgery(
            "unknown-member",
            "bundle: unexpected file optout-bundle/extra.txt",
        ),
        with(&|m| {
            m.add(
                &format!("{ROOT}snapshots/NOT-A-HASH"),
                tar::EntryType::Regular,
                b"x",
            );
        })
        .forgery(
            "snapshot-badly-named",
            "bundle: unexpected file optout-bundle/snapshots/NOT-A-HASH",
        ),
        with(&|m| {
            m.add("evil.txt", tar::EntryType::Regular, b"more");
        })
        .forgery("outside-root", "bundle: \"evil.txt\" is outside optout-bundle/"),
        with(&|m| {
            m.add(&format!("{ROOT}link"), tar::EntryType::Symlink, b"");
        })
        .forgery(
            "symlink-member",
            "bundle: \"optout-bundle/link\" is not a plain file",
        ),
        with(&|m| {
            let records = m.get("records.jsonl").to_vec();
            m.add(
                &format!("{ROOT}records.jsonl"),
                tar::EntryType::Regular,
                &records,
            );
        })
        .forgery(
            "duplicate-member",
            "bundle: two files named \"optout-bundle/records.jsonl\"",
        ),
    ];
    for member in [
        "README.txt",
        "manifest.json",
        "checkpoint.txt",
        "records.jsonl",
        "verify_bundle.py",
    ] {
        out.push(
            with(&|m| {
                m.remove(member);
            })
            .forgery(
                &format!("missing-{member}"),
                &format!("bundle: no optout-bundle/{member} in the bundle"),
            ),
        );
    }
    // Changed content: a record, a snapshot, the checkpoint, the README, the verifier.
    let export = String::from_utf8(genuine.get("records.jsonl").to_vec()).unwrap();
    let robots = genuine
        .0
        .iter()
        .find(|(_, _, b)| b.starts_with(b"User-agent: *\nDisallow: /private/\nAllow"))
        .map(|(n, _, _)| n.rsplit('/').next().unwrap().to_owned())
        .unwrap();
    let last_hash = serde_json::from_str::<Value>(export.lines().last().unwrap()).unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_hash: String = last_hash
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    out.extend([
        with(&|m| {
            m.edit("records.jsonl", |t| {
                t.replacen("https://e.com/private/b", "https://e.com/private/c", 1)
            });
        })
        .forgery(
            "changed-record",
            "record 2: content does not match its hash",
        ),
        with(&|m| {
            let name = format!("snapshots/{robots}");
            m.edit(&name, |t| t.replace("Disallow", "Allow"));
        })
        .forgery(
            "changed-snapshot",
            &format!("snapshot {robots}: its bytes no longer match their name"),
        ),
        with(&|m| {
            m.edit("checkpoint.txt", |t| t.replace(&last_hash, &other_hash));
            m.edit("manifest.json", |t| t.replace(&last_hash, &other_hash));
        })
        .forgery(
            "changed-checkpoint",
            &format!("checkpoint: its hash is not record {records}'s"),
        ),
        with(&|m| {
            m.edit("checkpoint.txt", |t| {
                t.replace(&format!("seq={records} "), &format!("seq=0{records} "))
            });
        })
        .forgery(
            "checkpoint-leading-zero",
            "checkpoint: not an `optout-checkpoint v1` line",
        ),
        with(&|m| {
            let (before, hash) = (records - 1, {
                let line = export.lines().nth(records as usize - 2).unwrap();
                serde_json::from_str::<Value>(line).unwrap()["hash"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            });
            let swap = |t: String| {
                t.replace(&format!("seq={records} "), &format!("seq={before} "))
                    .replace(&last_hash, &hash)
            };
            m.edit("checkpoint.txt", swap);
            m.edit("manifest.json", swap);
        })
        .forgery(
            "record-past-checkpoint",
            &format!(
                "checkpoint: record {records} is past the checkpoint's record {}",
                records - 1
            ),
        ),
        with(&|m| {
            m.set("verify_bundle.py", b"print(\"ok\")\n".to_vec());
        })
        .forgery(
            "replaced-verifier",
            "bundle: verify_bundle.py is not this verifier",
        ),
        with(&|m| {
            m.edit("README.txt", |t| {
                t.replace(
                    "Check it:",
                    "Already checked by the auditor; no need to check it:",
                )
            });
        })
        .forgery(
            "changed-readme",
            "bundle: README.txt is not the README optout writes",
        ),
        with(&|m| {
            let bytes = b"an extra file".to_vec();
            let sha = hex::encode(Sha256::digest(&bytes));
            m.add(
                &format!("{ROOT}snapshots/{sha}"),
                tar::EntryType::Regular,
                &bytes,
            );
        })
        .forgery(
            "unnamed-snapshot",
            &format!(
                "snapshot {}: in the bundle but named by no record",
                hex::encode(Sha256::digest(b"an extra file"))
            ),
        ),
        with(&|m| {
            m.remove(&format!("snapshots/{robots}"));
            m.manifest(|m| {
                let n = m["snapshots"].as_u64().unwrap() - 1;
                m.insert("snapshots".into(), n.into());
            });
        })
        .forgery(
            "missing-snapshot",
            &format!("snapshot {robots}: named by record 1 but missing from the bundle"),
        ),
    ]);
    // The archive's form, byte by byte: padding, the end, a header that is not ustar.
    let places = layout(all);
    let (name, _, pos, size) = places
        .iter()
        .find(|(_, _, _, size)| size % 512 != 0)
        .unwrap()
        .clone();
    let mut padded = all.to_vec();
    padded[(pos + size) as usize] = b'x';
    out.push(Forgery {
        name: "padding".into(),
        bytes: padded,
        want: format!("bundle: the padding after {name} is not all zero bytes"),
    });
    let mut appended = all.to_vec();
    appended.extend(b"appended".repeat(64));
    out.push(Forgery {
        name: "appended".into(),
        bytes: appended,
        want: "bundle: the end of the archive is not all zero bytes".into(),
    });
    out.push(Forgery {
        name: "no-end-blocks".into(),
        bytes: all[..all.len() - 1024].to_vec(),
        want: "bundle: the archive does not end with zero blocks".into(),
    });
    let mut gnu = all.to_vec();
    let header = places[0].1 as usize;
    gnu[header + 257..header + 265].copy_from_slice(b"ustar  \0");
    let mut block = tar::Header::new_old();
    block
        .as_mut_bytes()
        .copy_from_slice(&gnu[header..header + 512]);
    block.set_cksum();
    gnu[header..header + 512].copy_from_slice(block.as_bytes());
    out.push(Forgery {
        name: "gnu-header".into(),
        bytes: gnu,
        want: format!("bundle: \"{}\" is not a ustar header", places[0].0),
    });
    out
}

/// Where in `bundle` a byte may be flipped and both verifiers must refuse it: every byte
/// but the manifest's informational `created` and `optout` values.
pub fn flippable(bundle: &[u8]) -> impl Fn(usize) -> bool {
    let (_, _, pos, size) = layout(bundle)
        .into_iter()
        .find(|(n, _, _, _)| n.ends_with("/manifest.json"))
        .unwrap();
    let manifest = &bundle[pos as usize..(pos + size) as usize];
    let value_of = |key: &str| {
        let text = std::str::from_utf8(manifest).unwrap();
        let start = text.find(&format!("\"{key}\": \"")).unwrap() + key.len() + 5;
        let end = start + text[start..].find('"').unwrap();
        (pos as usize + start)..(pos as usize + end)
    };
    let skipped = [value_of("created"), value_of("optout")];
    move |at| !skipped.iter().any(|r| r.contains(&at))
}
