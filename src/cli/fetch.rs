//! `optout fetch`: fetch URLs through the whole pipeline, like `curl` for one URL.
//!
//! One URL (without `--json` or `-o`): the body goes to standard output when it is allowed
//! (exit 0); when it is refused, discarded after the fetch, denied or failed, nothing of the
//! body is printed, the reasons go to standard error and the exit status is 1 (2 for an
//! input that is not a URL). Several URLs: one line per outcome (`--json`: one object per
//! line), and `-o DIR` stores the allowed bodies. URLs on different hosts are fetched
//! concurrently, each host at its polite pace; lines come in the order fetches finish, and
//! URLs on standard input are fetched as they arrive.
//!
//! Plain output escapes control characters in URLs and reasons ([`super::output`]). When
//! standard output is closed early (`optout fetch ... | head -1`), no more input is read or
//! fetched, the evidence log is synced and the exit status is 141 (128 + `SIGPIPE`), with
//! no message.

use super::check::Inputs;
use super::output::{EXIT_CLOSED_PIPE, is_closed_pipe, printable, write_json_line};
use super::{CliError, EXIT_USAGE};
use crate::config::Config;
use crate::engine::fetch_many::{Fetched, Order, Stop, fetch_many};
use crate::evidence::EvidenceLog;
use crate::fetcher::{Fetcher, Outcome, OutcomeLine, label};
use crate::policy::Purpose;
use clap::Args;
use futures_util::StreamExt;
use std::io::Write;
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

/// Runs `optout fetch`.
pub fn run(config: &Config, store: &Path, args: FetchArgs) -> Result<ExitCode, CliError> {
    let purpose = args.purpose.unwrap_or(config.crawler.purpose);
    let mut inputs = Inputs::new(args.urls.clone());
    // Up to two inputs tell one URL (its body to standard output) from many; the rest of
    // standard input is read as the fetches go.
    let mut first = Vec::new();
    while first.len() < 2 {
        match inputs.next() {
            Some(input) => first.push(input?),
            None => break,
        }
    }
    if first.is_empty() {
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
    let single = first.len() == 1 && !args.json && args.output_dir.is_none();
    let result = runtime.block_on(async {
        let stop = stop_on_signals();
        if single {
            let outcome = stop.or_interrupted(&fetcher, &first[0], purpose).await;
            return print_single(&first[0], outcome, &log).map(|code| exit_status(&stop, code));
        }
        let inputs = first.into_iter().map(Ok).chain(inputs);
        let per_host = config.politeness.in_flight_per_host;
        fetch_many_printed(&fetcher, inputs, purpose, &args, per_host, &stop)
            .await
            .map(|code| exit_status(&stop, code))
    });
    // Fetches still running (standard output was closed) stop here, so that every record
    // they appended is in the log synced below.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    log.sync()?;
    result
}

fn print_single(
    input: &str,
    outcome: Result<Outcome, crate::fetcher::FetcherError>,
    log: &EvidenceLog,
) -> Result<ExitCode, CliError> {
    let outcome = outcome.map_err(|e| CliError::Net(e.to_string()))?;
    // Never a password on the output (a URL with credentials is refused anyway).
    let input = crate::evidence::record::redact_input(input);
    // The record is on disk before the body is shown.
    log.sync()?;
    match outcome {
        Outcome::Fetched(page) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&page.body).and_then(|()| out.flush()) {
                Err(e) if is_closed_pipe(&e) => Ok(ExitCode::from(EXIT_CLOSED_PIPE)),
                Err(e) => Err(CliError::Write(e)),
                Ok(()) => Ok(ExitCode::SUCCESS),
            }
        }
        Outcome::NotFetched(refusal) => {
            let mut line = format!(
                "{:<9} {}",
                label(refusal.verdict, &refusal.reasons),
                printable(input.trim())
            );
            if let Some(status) = refusal.status {
                line.push_str(&format!("  HTTP {status}"));
            }
            for reason in &refusal.reasons {
                line.push_str(&format!("  {}", printable(&reason.to_string())));
            }
            if let Some(seq) = refusal.seq {
                line.push_str(&format!("  [evidence #{seq}]"));
            }
            // Nothing is left to say if standard error is closed too.
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            Ok(ExitCode::from(if refusal.seq.is_none() {
                EXIT_USAGE
            } else {
                1
            }))
        }
    }
}

/// Fetches every input through the engine's [`fetch_many`] (one queue per host, so that a
/// slow host never holds up the others) and prints each outcome as it comes. Standard input
/// is read on its own thread while the fetches go; when standard output is closed, the rest
/// is neither read nor fetched.
async fn fetch_many_printed(
    fetcher: &Arc<Fetcher>,
    inputs: impl Iterator<Item = Result<String, CliError>> + Send + 'static,
    purpose: Purpose,
    args: &FetchArgs,
    per_host: usize,
    stop: &Stop,
) -> Result<ExitCode, CliError> {
    let (line_tx, lines) = tokio::sync::mpsc::channel(1024);
    // The first input that could not be read ends the inputs; it is reported once the
    // outcomes of those read before it are printed.
    let unreadable: Arc<std::sync::Mutex<Option<CliError>>> = Arc::default();
    let noted = Arc::clone(&unreadable);
    std::thread::spawn(move || {
        for input in inputs {
            let url = match input {
                Ok(url) => url,
                Err(e) => {
                    *noted.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    break;
                }
            };
            if line_tx.blocking_send(url).is_err() {
                break;
            }
        }
    });
    let mut lines = lines;
    let urls = futures_util::stream::poll_fn(move |cx| lines.poll_recv(cx));
    let order = Order::Ready { per_host };
    let mut outcomes = fetch_many(Arc::clone(fetcher), urls, purpose, order, stop.clone());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut exit = 0u8;
    loop {
        // Output is flushed whenever the next outcome has to be waited for.
        let next = match futures_util::poll!(outcomes.next()) {
            std::task::Poll::Ready(next) => next,
            std::task::Poll::Pending => match out.flush() {
                Err(e) if is_closed_pipe(&e) => return Ok(ExitCode::from(EXIT_CLOSED_PIPE)),
                Err(e) => return Err(CliError::Write(e)),
                Ok(()) => outcomes.next().await,
            },
        };
        let Some(Fetched { input, outcome, .. }) = next else {
            break;
        };
        let outcome = outcome.map_err(|e| CliError::Net(e.to_string()))?;
        match print_outcome(&mut out, args, &input, &outcome, &mut exit) {
            Err(CliError::Write(e)) if is_closed_pipe(&e) => {
                return Ok(ExitCode::from(EXIT_CLOSED_PIPE));
            }
            result => result?,
        }
        super::test_panic("main");
    }
    if let Some(e) = unreadable.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e);
    }
    // A task that panicked sent nothing more: its URLs have no line. The panic hook has
    // noted it, so the process still ends with EXIT_SOFTWARE (src/main.rs).
    match out.flush() {
        Err(e) if is_closed_pipe(&e) => Ok(ExitCode::from(EXIT_CLOSED_PIPE)),
        Err(e) => Err(CliError::Write(e)),
        Ok(()) => Ok(ExitCode::from(exit)),
    }
}

/// Ctrl-C or SIGTERM: fetches still waiting (a polite slot, a server's `Retry-After`) or
/// running end at once, each recorded as `fetch.interrupted`, no more input is read, and
/// the command exits 130 once every line is printed and the log is synced.
fn stop_on_signals() -> Stop {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated => {}
        }
        let _ = tx.send(true);
        // The receivers wait for `true`; the sender may go now.
    });
    Stop::new(rx)
}

/// The exit status: 130 (128 + SIGINT) when stopped, else `code`.
fn exit_status(stop: &Stop, code: ExitCode) -> ExitCode {
    if stop.asked() {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        code
    }
}

/// The exit status of a command stopped by Ctrl-C or SIGTERM.
const EXIT_INTERRUPTED: u8 = 130;

/// Prints one outcome (saving an allowed body with `-o`) and keeps the exit status.
fn print_outcome(
    out: &mut impl Write,
    args: &FetchArgs,
    input: &str,
    outcome: &Outcome,
    exit: &mut u8,
) -> Result<(), CliError> {
    // A body is written only once its record is on disk: `fetch_many` hands out no
    // outcome before.
    let file = match (&args.output_dir, outcome) {
        (Some(dir), Outcome::Fetched(page)) => Some(save(dir, page.url.as_str(), &page.body)?),
        _ => None,
    };
    if let Outcome::NotFetched(r) = outcome {
        *exit = (*exit).max(if r.seq.is_none() { EXIT_USAGE } else { 1 });
    }
    // Never a password on the output (a URL with credentials is refused anyway).
    let input = crate::evidence::record::redact_input(input.trim());
    let mut line = OutcomeLine::new(&input, outcome);
    line.file = file.map(|f| f.display().to_string());
    let written = if args.json {
        write_json_line(out, &line)
    } else {
        let mut text = format!("{:<9} {}", line.verdict, printable(line.url));
        if let Some(status) = line.status {
            text.push_str(&format!("  HTTP {status}"));
        }
        if let Some(bytes) = line.bytes {
            text.push_str(&format!(", {bytes} bytes"));
        }
        if let Some(file) = &line.file {
            text.push_str(&format!(" -> {}", printable(file)));
        }
        for reason in line.reasons {
            text.push_str(&format!("  {}", printable(&reason.to_string())));
        }
        if let Some(seq) = line.seq {
            text.push_str(&format!("  [evidence #{seq}]"));
        }
        text.push('\n');
        out.write_all(text.as_bytes())
    };
    written.map_err(CliError::Write)
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
