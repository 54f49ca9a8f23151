//! `optout check`: decide for each URL and print why.
//!
//! With any of `--robots`, `--tdmrep`, `--aitxt`, `--header`, `--html` the decision is
//! offline: no network is touched and every URL is judged against those inputs. Without them
//! it is online: each origin's robots.txt, tdmrep.json and ai.txt come from the live site
//! through the policy cache ([`crate::net::PolicySources`]), many URLs at once. URLs come
//! from the arguments, or one per line from standard input when none are given; results are
//! printed in input order.
//!
//! Offline files are read up to the limits the online path reads (`check/offline.rs`), and a
//! `--header` must be one HTTP field. Plain output escapes control characters in URLs and
//! reasons ([`super::output`]). When standard output is closed early (`optout check ... |
//! head -1`), no more input is read, the evidence log is synced and the exit status is 141
//! (128 + `SIGPIPE`), with no message.

mod offline;

use super::CliError;
use super::EXIT_USAGE;
use super::output::{EXIT_CLOSED_PIPE, is_closed_pipe, printable};
use crate::config::Config;
use crate::engine::{Ask, Checked, Engine, EngineOptions, Given, OpenEngine};
use crate::policy::{Purpose, Verdict};
use clap::Args;
use futures_util::{FutureExt, StreamExt};
use std::borrow::Cow;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `optout check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The product token to decide for (default: crawler.product_token from the config).
    #[arg(long, value_name = "TOKEN")]
    pub agent: Option<String>,

    /// The purpose to decide for: train-ai, ai-input or search (default: crawler.purpose).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<Purpose>,

    /// Judge every URL against this robots.txt file; no network is touched.
    #[arg(long, value_name = "FILE")]
    pub robots: Option<PathBuf>,

    /// The site's /.well-known/tdmrep.json (TDMRep).
    #[arg(long, value_name = "FILE")]
    pub tdmrep: Option<PathBuf>,

    /// The site's /ai.txt.
    #[arg(long, value_name = "FILE")]
    pub aitxt: Option<PathBuf>,

    /// A response header to judge, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// The HTML page to judge (its meta tags).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Domains always refused, one per line (replaces signals.excluded_domains_file).
    #[arg(long, value_name = "FILE")]
    pub excluded_domains: Option<PathBuf>,

    /// Print one JSON object per URL and line.
    #[arg(long)]
    pub json: bool,

    /// Do not record the decisions in the evidence log.
    #[arg(long)]
    pub no_log: bool,

    /// URLs to check; when none are given, one per line from standard input.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
}

/// The worst outcome so far decides the exit status.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Worst {
    Allowed,
    Refused,
    InputError,
}

/// Runs `optout check`.
pub fn run(config: &Config, store: &Path, args: CheckArgs) -> Result<ExitCode, CliError> {
    let offline = args.robots.is_some()
        || args.tdmrep.is_some()
        || args.aitxt.is_some()
        || !args.headers.is_empty()
        || args.html.is_some();
    // Header flags are checked before the store is opened: a usage error costs nothing.
    let given = match offline {
        true => Some(offline::given(config, &args)?),
        false => None,
    };
    let options = EngineOptions {
        record: !args.no_log,
        excluded_domains: args.excluded_domains.clone(),
    };
    // Offline without a log needs no store; online, the store holds the policy cache even
    // with --no-log.
    let store = (!offline || !args.no_log).then_some(store);
    let engine = Engine::open(config, store, options)?;
    let ask = engine
        .ask(args.agent.as_deref(), args.purpose)
        .map_err(|e| CliError::Usage(format!("--{e}")))?;
    let mut report = Report::new(&ask, args.json);
    let result = match given {
        Some(given) => offline_checks(&engine, &ask, given, args.urls, &mut report),
        None => online_checks(&engine, &ask, args.urls, &mut report),
    };
    report.finish(result, &engine)
}

/// Judges every input against the files given on the command line.
fn offline_checks(
    engine: &Engine,
    ask: &Ask,
    given: Given,
    urls: Vec<String>,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    let (evaluation, sources) = engine.given(given)?;
    let mut inputs = Inputs::new(urls);
    loop {
        // Lines already read are printed before waiting for more (see `Inputs::ready`).
        if !inputs.ready() {
            report.flush()?;
        }
        let Some(input) = inputs.next() else { break };
        let checked = engine.check_given(ask, &evaluation, &sources, &input?)?;
        report.emit(checked)?;
    }
    Ok(())
}

/// Judges every input against its origin's live policy files, many at once.
fn online_checks(
    engine: &Engine,
    ask: &Ask,
    urls: Vec<String>,
    report: &mut Report<'_>,
) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Net(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<String, CliError>>(1024);
        // Standard input is read on its own thread: a slow producer never blocks the checks.
        std::thread::spawn(move || {
            for input in Inputs::new(urls) {
                if tx.blocking_send(input).is_err() {
                    break;
                }
            }
        });
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let mut checked = std::pin::pin!(engine.check_stream(ask, stream));
        loop {
            // Output is flushed whenever the next result has to be waited for.
            let next = match checked.next().now_or_never() {
                Some(next) => next,
                None => {
                    report.flush()?;
                    checked.next().await
                }
            };
            let Some(next) = next else { break };
            report.emit(next?)?;
        }
        Ok(())
    })
}

/// The longest line read from standard input: a URL is far shorter, and input without line
/// breaks (`< /dev/zero`) must not be gathered into memory whole.
const MAX_INPUT_LINE: usize = 1 << 20;

/// The URLs to check: the arguments, or else standard input, one per line. A line that is
/// not UTF-8 is judged (and reported) on its own, and a CR inside a line ends a URL too: the
/// URL parser would otherwise drop it and glue two URLs.
pub(super) enum Inputs {
    Args(std::vec::IntoIter<String>),
    Stdin {
        reader: std::io::BufReader<std::io::Stdin>,
        pending: std::collections::VecDeque<String>,
        done: bool,
    },
}

impl Inputs {
    pub(super) fn new(urls: Vec<String>) -> Inputs {
        if urls.is_empty() {
            Inputs::Stdin {
                reader: std::io::BufReader::new(std::io::stdin()),
                pending: Default::default(),
                done: false,
            }
        } else {
            Inputs::Args(urls.into_iter())
        }
    }

    /// True when the next input is at hand without reading standard input, which may wait
    /// for its writer. Output is flushed before such a wait: a reader of the output sees
    /// each result before the writer of the input sends more, and a reader that went away
    /// is noticed then, so the input stops being read.
    fn ready(&self) -> bool {
        match self {
            Inputs::Args(_) => true,
            Inputs::Stdin {
                reader,
                pending,
                done,
            } => *done || !pending.is_empty() || !reader.buffer().is_empty(),
        }
    }
}

impl Iterator for Inputs {
    type Item = Result<String, CliError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (reader, pending, done) = match self {
            Inputs::Args(urls) => return urls.next().map(Ok),
            Inputs::Stdin {
                reader,
                pending,
                done,
            } => (reader, pending, done),
        };
        loop {
            if let Some(line) = pending.pop_front() {
                return Some(Ok(line));
            }
            if *done {
                return None;
            }
            let mut buf = Vec::new();
            let room = MAX_INPUT_LINE as u64 + 1;
            match reader.by_ref().take(room).read_until(b'\n', &mut buf) {
                Ok(0) => *done = true,
                Ok(n) if n > MAX_INPUT_LINE && buf.last() != Some(&b'\n') => {
                    *done = true;
                    return Some(Err(CliError::Usage(format!(
                        "standard input: a line is longer than {MAX_INPUT_LINE} bytes; give one URL per line"
                    ))));
                }
                // Split on the bytes: a CR or LF is never inside a UTF-8 sequence, so each
                // piece decodes as it would within the whole line.
                Ok(_) => {
                    for piece in buf.split(|&b| b == b'\r' || b == b'\n') {
                        let line = match std::str::from_utf8(piece) {
                            Ok(line) => Cow::Borrowed(line),
                            Err(_) => String::from_utf8_lossy(piece),
                        };
                        if !line.trim().is_empty() {
                            pending.push_back(line.into_owned());
                        }
                    }
                }
                Err(source) => {
                    *done = true;
                    return Some(Err(CliError::Read {
                        path: "standard input".into(),
                        source,
                    }));
                }
            }
        }
    }
}

/// Prints outcomes, and keeps the exit status.
struct Report<'a> {
    ask: &'a Ask,
    json: bool,
    out: BufWriter<std::io::StdoutLock<'static>>,
    /// The `--json` line being written, reused from line to line.
    line: Vec<u8>,
    worst: Worst,
}

impl<'a> Report<'a> {
    fn new(ask: &'a Ask, json: bool) -> Report<'a> {
        Report {
            ask,
            json,
            // Room for a few hundred lines a write in bulk checks.
            out: BufWriter::with_capacity(1 << 16, std::io::stdout().lock()),
            line: Vec::with_capacity(1024),
            worst: Worst::Allowed,
        }
    }

    fn emit(&mut self, checked: Checked) -> Result<(), CliError> {
        self.worst = self.worst.max(match checked.verdict {
            Some(Verdict::Allowed) => Worst::Allowed,
            Some(Verdict::Refused | Verdict::Discarded) => Worst::Refused,
            None => Worst::InputError,
        });
        let out = &mut self.out;
        let written = if self.json {
            let line = &mut self.line;
            line.clear();
            checked.json_line(self.ask, line);
            line.push(b'\n');
            super::output::write_json_bytes(out, line)
        } else {
            let verdict = checked.verdict_str();
            let mut line = format!("{verdict:<8} {}", printable(&checked.input));
            for reason in &checked.reasons {
                line.push_str(&format!("  {}", printable(&reason.to_string())));
            }
            if let Some(seq) = checked.seq {
                line.push_str(&format!("  [evidence #{seq}]"));
            }
            line.push('\n');
            out.write_all(line.as_bytes())
        };
        written.map_err(CliError::Write)
    }

    /// Writes out what is buffered.
    fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(CliError::Write)
    }

    /// Flushes output and the log, and turns the worst outcome into the exit status:
    /// [`EXIT_CLOSED_PIPE`] when standard output was closed before all was written.
    fn finish(
        mut self,
        result: Result<(), CliError>,
        engine: &Engine,
    ) -> Result<ExitCode, CliError> {
        let result = result.and_then(|()| self.out.flush().map_err(CliError::Write));
        // Every decision made is on disk before the exit status says so.
        engine.sync()?;
        match result {
            Ok(()) => {}
            // A closed pipe (`optout check ... | head`): no message, as for a tool killed by
            // SIGPIPE, and not success either, since not every result was written.
            Err(CliError::Write(e)) if is_closed_pipe(&e) => {
                return Ok(ExitCode::from(EXIT_CLOSED_PIPE));
            }
            Err(e) => return Err(e),
        }
        Ok(ExitCode::from(match self.worst {
            Worst::Allowed => 0,
            Worst::Refused => 1,
            Worst::InputError => EXIT_USAGE,
        }))
    }
}
