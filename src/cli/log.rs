//! `optout log`: verify, show, export, count and checkpoint the evidence log; bundle it for
//! an auditor and replay it (`log/audit.rs`).
//!
//! Every subcommand but the hidden `append-synthetic` only reads, and reads a private copy of
//! the store ([`Store::open_read_only`]): the store's files are left byte for byte as they
//! are.

use super::CliError;
use super::output::{EXIT_CLOSED_PIPE, is_closed_pipe, printable};
use crate::config::Config;
use crate::evidence::export::{self, Filter};
use crate::evidence::{Record, SourceRef, verify_export, verify_store};
use crate::store::{Sled, Store};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod audit;

/// Arguments of `optout log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// What to do with the log.
    #[command(subcommand)]
    pub command: LogCommand,
}

/// The `log` subcommands.
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Check every record's hash and link, the head, and every snapshot. Exit 0 when
    /// intact, 1 naming the first bad record.
    Verify {
        /// Verify an exported JSONL file instead of the store.
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
        /// The export was made with filters: accept skipped sequence numbers.
        #[arg(long, requires = "export")]
        allow_gaps: bool,
        /// Verify an auditor's bundle (`optout log bundle`) instead of the store: records,
        /// links, snapshots and checkpoint, offline.
        #[arg(long, value_name = "FILE", conflicts_with = "export")]
        bundle: Option<PathBuf>,
    },
    /// Print one record and the snapshot lines that decided it.
    Show {
        /// The record's sequence number.
        seq: u64,
    },
    /// Stream records as JSONL (with `hash`, `prev_hash`) or CSV.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Which records.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Count records by verdict, reason code and host.
    Stats {
        /// Which records.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Write an auditor's bundle: the selected records, every snapshot they name, the
    /// checkpoint and a standalone verifier, in one tar file (a damaged log gets none: exit
    /// 2).
    Bundle {
        /// Which records.
        #[command(flatten)]
        filter: FilterArgs,
        /// The bundle file to write.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Re-decide every record from its snapshots with today's engine and list each whose
    /// verdict or deciding rule differs. Exit 0 when none differs, 1 when some do.
    Replay {
        /// Replay an auditor's bundle instead of the store.
        #[arg(long, value_name = "FILE")]
        bundle: Option<PathBuf>,
        /// Which records.
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Verify the log, then print the head of the chain, to publish or timestamp elsewhere
    /// (a damaged log gets no checkpoint: exit 2).
    Checkpoint,
    /// Append N synthetic records and print each acknowledged sequence number (for crash
    /// tests).
    #[command(hide = true)]
    AppendSynthetic {
        /// How many records.
        #[arg(long)]
        count: u64,
    },
}

/// Export formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// One JSON record per line, exactly as stored.
    Jsonl,
    /// RFC 4180 CSV.
    Csv,
}

/// Record filters.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Records at or after this time (RFC 3339 with any offset, e.g. 2026-11-28T10:00:00Z or
    /// 2026-11-28T11:00:00.5+01:00; without an offset UTC; a date alone is its first instant).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Records before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Records for this host or its subdomains.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Records with this verdict (allowed, refused, discarded).
    #[arg(long, value_name = "VERDICT")]
    pub verdict: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<Filter, CliError> {
        let time = |flag: &str, t: &Option<String>| -> Result<Option<String>, CliError> {
            t.as_deref()
                .map(|t| export::time_bound(t).map_err(|e| CliError::Usage(format!("{flag}: {e}"))))
                .transpose()
        };
        Ok(Filter {
            since: time("--since", &self.since)?,
            until: time("--until", &self.until)?,
            host: self.host.clone(),
            verdict: self.verdict.clone(),
        })
    }
}

/// Runs `optout log`.
pub fn run(config: &Config, store_path: &Path, args: LogArgs) -> Result<ExitCode, CliError> {
    if let LogCommand::Verify {
        bundle: Some(file), ..
    } = &args.command
    {
        return audit::verify(file);
    }
    if let LogCommand::Verify {
        export: Some(file),
        allow_gaps,
        ..
    } = &args.command
    {
        let reader = std::fs::File::open(file).map_err(|source| CliError::Read {
            path: file.clone(),
            source,
        })?;
        return Ok(report(
            verify_export(BufReader::new(reader), *allow_gaps),
            "export",
        ));
    }
    if let LogCommand::AppendSynthetic { count } = args.command {
        return append_synthetic(config, store_path, count);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.command {
        LogCommand::Verify { .. } => {
            let store = Store::open_read_only(store_path)?;
            Ok(report(verify_store(&store), "log"))
        }
        LogCommand::Show { seq } => show(&Store::open_read_only(store_path)?, seq, &mut out),
        LogCommand::Export { format, filter } => {
            let store = Store::open_read_only(store_path)?;
            let filter = filter.filter()?;
            let written = match format {
                Format::Jsonl => export::jsonl(&store, &filter, &mut out),
                Format::Csv => export::csv(&store, &filter, &mut out),
            };
            match written.and_then(|_| out.flush().map_err(export::ExportError::Io)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // `optout log export | head`: the export is incomplete, so it is not a
                // success; no message, as `check` and `fetch` (128 + SIGPIPE).
                Err(export::ExportError::Io(e)) if is_closed_pipe(&e) => {
                    Ok(ExitCode::from(EXIT_CLOSED_PIPE))
                }
                Err(export::ExportError::Csv(e)) if is_broken_pipe(&e) => {
                    Ok(ExitCode::from(EXIT_CLOSED_PIPE))
                }
                Err(e) => Err(e.into()),
            }
        }
        LogCommand::Stats { filter } => {
            let stats = export::stats(&Store::open_read_only(store_path)?, &filter.filter()?)?;
            let mut text = format!("records {}\n", stats.records);
            for (title, map) in [
                ("verdict", &stats.verdicts),
                ("reason", &stats.codes),
                ("host", &stats.hosts),
            ] {
                for (key, n) in map {
                    text.push_str(&format!("{title:<8} {n:>10}  {key}\n"));
                }
            }
            out.write_all(text.as_bytes()).map_err(CliError::Write)?;
            out.flush().map_err(CliError::Write)?;
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Checkpoint => {
            let checkpoint = crate::evidence::checkpoint(&Store::open_read_only(store_path)?)?;
            out.write_all(format!("{checkpoint}\n").as_bytes())
                .map_err(CliError::Write)?;
            out.flush().map_err(CliError::Write)?;
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Bundle { filter, output } => {
            audit::write(store_path, &filter.filter()?, &output)
        }
        LogCommand::Replay { bundle, filter } => audit::replay(
            config,
            store_path,
            bundle.as_deref(),
            &filter.filter()?,
            &mut out,
        ),
        LogCommand::AppendSynthetic { count } => append_synthetic(config, store_path, count),
    }
}

fn is_broken_pipe(e: &csv::Error) -> bool {
    matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn report<E: std::fmt::Display>(
    result: Result<crate::evidence::Verified, E>,
    what: &str,
) -> ExitCode {
    match result {
        Ok(v) => {
            println!(
                "ok: {what} intact, {} records, {} snapshots, head {} {}",
                v.records, v.snapshots, v.head.0, v.head.1
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("BROKEN: {e}");
            ExitCode::from(1)
        }
    }
}

fn show(store: &Store, seq: u64, out: &mut impl Write) -> Result<ExitCode, CliError> {
    let Some(shown) = crate::evidence::show::show(store, seq)? else {
        return Err(CliError::Usage(format!("no record {seq} in the log")));
    };
    // The record as JSON, with C1 controls escaped too (`output::JsonSafe`); the snapshot
    // lines below are the site's bytes, escaped for the terminal (`output::printable`).
    let mut json = super::output::JsonSafe::new(Vec::new());
    serde_json::to_writer_pretty(&mut json, &shown.record)
        .map_err(std::io::Error::from)
        .map_err(CliError::Write)?;
    let mut text = String::from_utf8_lossy(&json.finish().map_err(CliError::Write)?).into_owned();
    text.push('\n');
    for shown in shown.sources {
        let source = &shown.source;
        text.push_str(&format!(
            "\n--- {} {} (sha256 {})\n",
            printable(&source.kind),
            printable(&source.url),
            printable(&source.sha256)
        ));
        if !shown.present {
            text.push_str("(snapshot missing: run `optout log verify`)\n");
            continue;
        }
        for line in shown.lines {
            if line.after_gap {
                text.push_str("     ...\n");
            }
            let mark = if line.deciding { ">>" } else { "  " };
            text.push_str(&format!(
                "{mark}{:>5}  {}\n",
                line.line,
                printable(&line.text)
            ));
        }
    }
    out.write_all(text.as_bytes()).map_err(CliError::Write)?;
    out.flush().map_err(CliError::Write)?;
    Ok(ExitCode::SUCCESS)
}

/// Appends synthetic records, printing `ack SEQ` each time the durable sequence number
/// advances: a crash test kills this process and checks that every acknowledged record
/// survived.
fn append_synthetic(config: &Config, store: &Path, count: u64) -> Result<ExitCode, CliError> {
    let log = super::open_log(config, store)?;
    let robots = b"User-agent: *\nDisallow: /private/\n";
    let source = SourceRef::offline("robots.txt", "synthetic", robots);
    log.put_snapshot_with_hash(&source.sha256, robots)?;
    let mut acked = log.durable_seq();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in 0..count {
        let url = url::Url::parse(&format!("https://example.com/page/{i}"))
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let decision = crate::policy::RobotsTxt::parse(robots).allowed("optout", &url);
        let record = Record::of_decision(
            &url,
            "optout",
            crate::policy::Purpose::TrainAi,
            &decision,
            vec![source.clone()],
        );
        log.append(record)?;
        let durable = log.durable_seq();
        if durable > acked {
            acked = durable;
            writeln!(out, "ack {acked}").map_err(CliError::Write)?;
            out.flush().map_err(CliError::Write)?;
        }
    }
    let durable = log.sync()?;
    writeln!(out, "ack {durable}").map_err(CliError::Write)?;
    Ok(ExitCode::SUCCESS)
}
