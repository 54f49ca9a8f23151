//! `optout log bundle`, `optout log verify --bundle` and `optout log replay`: the auditor's
//! bundle and the re-decision of records (`docs/evidence.md`, "The auditor's bundle").

use super::super::CliError;
use super::super::output::printable;
use crate::audit::{Replayed, Replayer, Tally};
use crate::config::Config;
use crate::evidence::bundle::{self, BundleError, BundleFile, Reached};
use crate::evidence::export::{self, ExportError, Filter};
use crate::evidence::verify::Broken;
use crate::store::{Sled, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

impl From<BundleError> for CliError {
    fn from(e: BundleError) -> CliError {
        match e {
            BundleError::Store(e) => CliError::Store(e),
            BundleError::Export(e) => CliError::Export(e),
            BundleError::Io { path, source } => CliError::Read { path, source },
            other => CliError::Usage(other.to_string()),
        }
    }
}

/// `optout log bundle`: writes the bundle and prints what it holds.
pub(super) fn write(store: &Path, filter: &Filter, out: &Path) -> Result<ExitCode, CliError> {
    let store = Store::open_read_only(store)?;
    let written = bundle::write_bundle(&store, filter, out)?;
    println!(
        "bundle: {} records, {} snapshots, {}, written to {}",
        written.records,
        written.snapshots,
        written.checkpoint,
        printable(&out.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}

/// `optout log verify --bundle`: exit 0 and one line when intact, 1 naming what changed.
pub(super) fn verify(file: &Path) -> Result<ExitCode, CliError> {
    let bundle = match BundleFile::open(file) {
        Ok(bundle) => bundle,
        Err(BundleError::Broken(broken)) => return Ok(broken_line(&broken)),
        Err(e) => return Err(e.into()),
    };
    match bundle::verify_bundle(&bundle) {
        Ok(v) => {
            let shape = match v.range {
                _ if v.complete => "the whole log to the checkpoint".to_owned(),
                Some((first, last)) => format!(
                    "records {first}..{last}, filtered: links checked between consecutive records only"
                ),
                None => "no records".to_owned(),
            };
            let tie = match v.reached {
                Reached::Yes => "holds the checkpoint's record",
                Reached::No => "does not reach the checkpoint",
            };
            println!(
                "ok: bundle intact, {} records ({shape}), {} snapshots, checkpoint seq={} hash={} ({tie})",
                v.records, v.snapshots, v.checkpoint.seq, v.checkpoint.hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(BundleError::Broken(broken)) => Ok(broken_line(&broken)),
        Err(e) => Err(e.into()),
    }
}

fn broken_line(broken: &Broken) -> ExitCode {
    println!("BROKEN: {}", printable(&broken.to_string()));
    ExitCode::from(1)
}

/// Why records were not re-decidable: at most this many distinct whys are listed.
const MAX_WHYS: usize = 100;

/// What a replay prints: differing records as they come, whys grouped at the end.
struct Listing<'o, W: Write> {
    out: &'o mut W,
    tally: Tally,
    whys: BTreeMap<String, (u64, Vec<u64>)>,
}

impl<W: Write> Listing<'_, W> {
    fn add(&mut self, record: &Value, replayed: Replayed) -> Result<(), CliError> {
        self.tally.count(&replayed);
        let seq = record.get("seq").and_then(Value::as_u64).unwrap_or(0);
        match replayed {
            Replayed::Same => {}
            Replayed::Differs { recorded, today } => {
                let url = record.get("url").and_then(Value::as_str).unwrap_or("");
                let line = format!(
                    "differs: record {seq} {}: recorded {}; today {}\n",
                    printable(url),
                    printable(&recorded.to_string()),
                    printable(&today.to_string())
                );
                self.out
                    .write_all(line.as_bytes())
                    .map_err(CliError::Write)?;
            }
            Replayed::NotRedecidable(why) => {
                let full = self.whys.len() >= MAX_WHYS && !self.whys.contains_key(&why);
                let key = if full {
                    "other reasons".to_owned()
                } else {
                    why
                };
                let (n, seqs) = self.whys.entry(key).or_default();
                *n += 1;
                if seqs.len() < 5 {
                    seqs.push(seq);
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ExitCode, CliError> {
        let mut text = String::new();
        for (why, (n, seqs)) in &self.whys {
            let seqs: Vec<String> = seqs.iter().map(u64::to_string).collect();
            let more = if *n > seqs.len() as u64 { ", ..." } else { "" };
            text.push_str(&format!(
                "not re-decidable: {n} records (record {}{more}): {}\n",
                seqs.join(", "),
                printable(why)
            ));
        }
        text.push_str(&format!("{}\n", self.tally));
        self.out
            .write_all(text.as_bytes())
            .map_err(CliError::Write)?;
        self.out.flush().map_err(CliError::Write)?;
        Ok(ExitCode::from(u8::from(self.tally.differ > 0)))
    }
}

/// `optout log replay`: exit 0 when no record differs, 1 when some do, 2 on bad input.
pub(super) fn replay(
    config: &Config,
    store: &Path,
    bundle: Option<&Path>,
    filter: &Filter,
    out: &mut impl Write,
) -> Result<ExitCode, CliError> {
    let lists = config.signals.load_lists(None)?;
    let mut replayer = Replayer::new(config, &lists);
    let largest = replayer.largest_snapshot() as u64;
    let mut listing = Listing {
        out,
        tally: Tally::default(),
        whys: BTreeMap::new(),
    };
    match bundle {
        Some(file) => {
            let bundle = BundleFile::open(file)?;
            // Replaying evidence that does not verify would prove nothing.
            bundle::verify_bundle(&bundle).map_err(|e| {
                CliError::Usage(format!(
                    "{}: the bundle does not verify ({e}); run `optout log verify --bundle`",
                    file.display()
                ))
            })?;
            let mut lookup = |sha: &str| bundle.snapshot(sha, largest).map_err(|e| e.to_string());
            for line in bundle.records()?.lines() {
                let line = line.map_err(|source| CliError::Read {
                    path: file.to_owned(),
                    source,
                })?;
                let Ok(record) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if filter.keeps(&record) {
                    let replayed = replayer.replay(&record, &mut lookup);
                    listing.add(&record, replayed)?;
                }
            }
        }
        None => {
            let store = Store::open_read_only(store)?;
            let mut lookup = |sha: &str| {
                let key = hex::decode(sha).map_err(|_| format!("{sha:?} is not a SHA-256"))?;
                match store.snapshot(&key) {
                    Ok(bytes) => Ok(bytes.map(|b| b.to_vec())),
                    Err(e) => Err(e.to_string()),
                }
            };
            let mut failed = None;
            export::for_each(&store, filter, |_, record| {
                let replayed = replayer.replay(record, &mut lookup);
                listing.add(record, replayed).map_err(|e| {
                    failed = Some(e);
                    ExportError::Io(std::io::Error::other("output failed"))
                })
            })
            .map_err(|e| failed.take().unwrap_or(CliError::Export(e)))?;
        }
    }
    listing.finish()
}
