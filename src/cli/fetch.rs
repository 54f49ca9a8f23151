//! `optout fetch`: fetch URLs through the whole pipeline, like `curl` for one URL.
//!
//! One URL (without `--json` or `-o`): the body goes to standard output when it is allowed
//! (exit 0); when it is refused, discarded after the fetch, denied or failed, nothing of the
//! body is printed, the reasons go to standard error and the exit status is 1 (2 for an
//! input that is not a URL). Several URLs: one line per outcome (`--json`: one object per
//! line), and `-o DIR` stores the allowed bodies. URLs on different hosts are fetched
//! concurrently, each host at its polite pace; lines come in the order fetches finish.

use super::{CliError, EXIT_USAGE};
use crate::config::Config;
use crate::evidence::EvidenceLog;
use crate::fetcher::{Fetcher, Outcome};
use crate::policy::{Code, Purpose, Reason, Verdict};
use clap::Args;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `optout fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The purpose to fetch for: train-ai, ai-input or search (default: crawler.purpose).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<Purpose>,

    /// Print one JSON object per URL and line (url, verdict, status, bytes, reasons, seq).
    #[arg(long)]
    pub json: bool,

    /// Store allowed bodies in this directory (one file per URL, named after it).
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// URLs to fetch; when none are given, one per line from standard input.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
}

/// One line of `--json` output.
#[derive(Serialize)]
struct Line<'a> {
    url: &'a str,
    verdict: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    reasons: &'a [Reason],
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
}

/// Runs `optout fetch`.
pub fn run(config: &Config, store: &Path, args: FetchArgs) -> Result<ExitCode, CliError> {
    let purpose = args.purpose.unwrap_or(config.crawler.purpose);
    let urls = if args.urls.is_empty() {
        read_stdin()?
    } else {
        args.urls.clone()
    };
    if urls.is_empty() {
        return Err(CliError::Usage(
            "no URL given (as arguments or on standard input)".into(),
        ));
    }
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Read {
            path: dir.clone(),
            source,
        })?;
    }
    let lists = config.signals.load_lists(None)?;
    let log = Arc::new(super::open_log(config, store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Net(format!("cannot start the async runtime: {e}")))?;
    let fetcher = Arc::new(
        Fetcher::new(config, Arc::clone(&log), lists).map_err(|e| CliError::Net(e.to_string()))?,
    );
    let single = urls.len() == 1 && !args.json && args.output_dir.is_none();
    let result = runtime.block_on(async {
        if single {
            let outcome = fetcher.fetch(&urls[0], purpose).await;
            return print_single(&urls[0], outcome, &log);
        }
        fetch_many(
            &fetcher,
            urls,
            purpose,
            &args,
            config.politeness.in_flight_per_host,
        )
        .await
    });
    log.sync()?;
    result
}

fn read_stdin() -> Result<Vec<String>, CliError> {
    let mut urls = Vec::new();
    for line in std::io::stdin().lock().split(b'\n') {
        let line = line.map_err(|source| CliError::Read {
            path: "standard input".into(),
            source,
        })?;
        urls.extend(
            String::from_utf8_lossy(&line)
                .split(['\r', '\n'])
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    Ok(urls)
}

fn print_single(
    input: &str,
    outcome: Result<Outcome, crate::fetcher::FetcherError>,
    log: &EvidenceLog,
) -> Result<ExitCode, CliError> {
    let outcome = outcome.map_err(|e| CliError::Net(e.to_string()))?;
    // The record is on disk before the body is shown.
    log.sync()?;
    match outcome {
        Outcome::Fetched(page) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&page.body).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Write(e)),
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Outcome::NotFetched(refusal) => {
            let mut line = format!("{:<9} {input}", label(refusal.verdict, &refusal.reasons));
            if let Some(status) = refusal.status {
                line.push_str(&format!("  HTTP {status}"));
            }
            for reason in &refusal.reasons {
                line.push_str(&format!("  {reason}"));
            }
            if let Some(seq) = refusal.seq {
                line.push_str(&format!("  [evidence #{seq}]"));
            }
            eprintln!("{line}");
            Ok(ExitCode::from(if refusal.seq.is_none() {
                EXIT_USAGE
            } else {
                1
            }))
        }
    }
}

/// The word printed for an outcome: a failed request is `failed`, not `allowed`.
fn label(verdict: Verdict, reasons: &[Reason]) -> &'static str {
    if reasons.first().is_some_and(|r| r.code == Code::FetchFailed) {
        "failed"
    } else if reasons.first().is_some_and(|r| {
        matches!(
            r.code,
            Code::UrlInvalid | Code::UrlUnsupportedScheme | Code::UrlUserinfo
        )
    }) {
        "error"
    } else {
        verdict.as_str()
    }
}

async fn fetch_many(
    fetcher: &Arc<Fetcher>,
    urls: Vec<String>,
    purpose: Purpose,
    args: &FetchArgs,
    per_host: usize,
) -> Result<ExitCode, CliError> {
    // One queue per host, so a slow host never holds up the others.
    let mut queues: Vec<Vec<String>> = Vec::new();
    let mut by_host: HashMap<String, usize> = HashMap::new();
    for url in urls {
        let host = url::Url::parse(url.trim())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let i = *by_host.entry(host).or_insert_with(|| {
            queues.push(Vec::new());
            queues.len() - 1
        });
        queues[i].push(url);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::with_capacity(queues.len());
    for queue in queues {
        let fetcher = Arc::clone(fetcher);
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut results = futures_util::stream::iter(queue)
                .map(|url| {
                    let fetcher = Arc::clone(&fetcher);
                    async move {
                        let outcome = fetcher.fetch(&url, purpose).await;
                        super::test_panic("task");
                        (url, outcome)
                    }
                })
                .buffer_unordered(per_host);
            while let Some(result) = results.next().await {
                if tx.send(result).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut exit = 0u8;
    let mut closed = false;
    while let Some((input, outcome)) = rx.recv().await {
        let outcome = outcome.map_err(|e| CliError::Net(e.to_string()))?;
        let (verdict, status, bytes, reasons, seq, file) = match &outcome {
            Outcome::Fetched(page) => {
                // A body is written only once its record is on disk.
                let file = match &args.output_dir {
                    Some(dir) => {
                        fetcher.log().sync()?;
                        Some(save(dir, page.url.as_str(), &page.body)?)
                    }
                    None => None,
                };
                (
                    "allowed",
                    Some(page.status),
                    Some(page.body.len() as u64),
                    &page.reasons,
                    Some(page.seq),
                    file,
                )
            }
            Outcome::NotFetched(r) => {
                exit = exit.max(if r.seq.is_none() { EXIT_USAGE } else { 1 });
                (
                    label(r.verdict, &r.reasons),
                    r.status,
                    None,
                    &r.reasons,
                    r.seq,
                    None,
                )
            }
        };
        let input = input.trim();
        let written = if args.json {
            let line = Line {
                url: input,
                verdict,
                status,
                bytes,
                reasons,
                seq,
                file: file.map(|f| f.display().to_string()),
            };
            serde_json::to_writer(&mut out, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            let mut line = format!("{verdict:<9} {input}");
            if let Some(status) = status {
                line.push_str(&format!("  HTTP {status}"));
            }
            if let Some(bytes) = bytes {
                line.push_str(&format!(", {bytes} bytes"));
            }
            if let Some(file) = &file {
                line.push_str(&format!(" -> {}", file.display()));
            }
            for reason in reasons {
                line.push_str(&format!("  {reason}"));
            }
            if let Some(seq) = seq {
                line.push_str(&format!("  [evidence #{seq}]"));
            }
            line.push('\n');
            out.write_all(line.as_bytes())
        };
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                closed = true;
                break;
            }
            Err(e) => return Err(CliError::Write(e)),
            Ok(()) => {}
        }
        super::test_panic("main");
    }
    // A task that panicked sent nothing more: its URLs have no line, and that is a failure.
    // (After a closed pipe the tasks still running are abandoned, as before.)
    for task in tasks.into_iter().filter(|_| !closed) {
        task.await.map_err(|e| CliError::Internal(e.to_string()))?;
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(CliError::Write(e)),
        _ => {}
    }
    Ok(ExitCode::from(exit))
}

/// Saves a body under a name made from its URL: only `[A-Za-z0-9._-]`, at most 120
/// characters, and a hash of the full URL so that two URLs never share a file.
fn save(dir: &Path, url: &str, body: &[u8]) -> Result<PathBuf, CliError> {
    let readable: String = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let hash = &crate::evidence::record::sha256_hex(url.as_bytes())[..12];
    let path = dir.join(format!("{}-{hash}", readable.trim_start_matches('.')));
    std::fs::write(&path, body).map_err(|source| CliError::Read {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}
