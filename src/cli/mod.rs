//! The command line: argument definitions and dispatch. One module per subcommand; each is
//! thin over the library.
//!
//! Exit status, for every subcommand: 0 success (every URL allowed), 1 a refusal, 2 a usage
//! or input error (one line on standard error); for `check` and `fetch`, 141 when standard
//! output was closed early ([`output::EXIT_CLOSED_PIPE`]); 70 an internal error (a panic: a
//! bug; one line on standard error, the evidence log flushed).

pub mod check;
pub mod crawl;
pub mod crawler_info;
pub mod fetch;
pub mod log;
pub use optout_engine::output;
pub mod report;
pub mod serve;

use crate::config::{Config, ConfigError};
use crate::store::{Sled, Store};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// optout: may this agent fetch this URL, for this purpose?
#[derive(Debug, Parser)]
#[command(name = "optout", version, about, long_about = None)]
pub struct Args {
    /// A TOML config file (see config/optout.toml); defaults are built in.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The store directory (evidence log and snapshots); default
    /// `$XDG_DATA_HOME/optout/store` or `~/.local/share/optout/store`.
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Connect to loopback, private, link-local, multicast and unspecified addresses
    /// (refused by default; for tests and intranet crawls). Same as
    /// `net.allow_private_addresses = true`.
    #[arg(long, global = true)]
    pub allow_private_addresses: bool,

    /// More log output on standard error (-v info, -vv debug, -vvv trace); `RUST_LOG`
    /// overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide whether URLs may be fetched, and say why.
    Check(check::CheckArgs),
    /// Fetch URLs through the policy pipeline (like curl for one URL).
    Fetch(fetch::FetchArgs),
    /// Read, verify and export the evidence log.
    Log(log::LogArgs),
    /// Crawl from seeds politely into WARC files, keeping nothing reserved and evidence
    /// for every URL.
    Crawl(crawl::CrawlArgs),
    /// Report from the evidence log (html, md, json), or the EU public summary's sections
    /// 2.3 and 3.1 (--eu-summary).
    Report(report::ReportArgs),
    /// Write the crawler's public page, its JSON, IP ranges and Atom feed of changes and
    /// evidence-log checkpoints (needs the store's write lock).
    CrawlerInfo(crawler_info::CrawlerInfoArgs),
    /// Serve checks, fetches and the evidence log over HTTP, for many workers at once.
    Serve(serve::ServeArgs),
}

/// A failure that stops a command. Its message is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An argument is invalid in a way clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing the output failed; a closed pipe is not an error, but the exit status
    /// [`output::EXIT_CLOSED_PIPE`].
    #[error("cannot write output: {0}")]
    Write(std::io::Error),
    /// The store could not be used.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Appending to the evidence log failed.
    #[error(transparent)]
    Append(#[from] crate::evidence::log::AppendError),
    /// The network edge could not be set up.
    #[error("{0}")]
    Net(String),
    /// Reading the evidence log failed.
    #[error(transparent)]
    Export(#[from] crate::evidence::export::ExportError),
    /// The engine could not decide.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A task panicked (a bug): its work is lost, so the command failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The exit status for a usage or input error.
pub const EXIT_USAGE: u8 = 2;

/// The exit status after a panic anywhere in the process (`EX_SOFTWARE` of sysexits.h).
pub const EXIT_SOFTWARE: u8 = 70;

/// Panics on purpose when `OPTOUT_TEST_PANIC` names `place` (`task`: in a fetch task after
/// its fetch, `main`: on the main thread after the first output line), in debug builds only:
/// the tests run the binary to check that a panic ends it with [`EXIT_SOFTWARE`], one line
/// and an intact evidence log.
pub(crate) fn test_panic(place: &str) {
    crate::engine::test_panic(place);
}

/// Runs the parsed command line.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut config = Config::load(args.config.as_deref())?;
    if args.allow_private_addresses {
        config.net.allow_private_addresses = true;
    }
    let given = args.store;
    let store = given.clone().unwrap_or_else(crate::store::default_path);
    match args.command {
        Command::Crawl(crawl) => crawl::run(&config, given.as_deref(), crawl),
        Command::Check(check) => check::run(&config, &store, check),
        Command::Fetch(fetch) => fetch::run(&config, &store, fetch),
        Command::Log(log) => log::run(&config, &store, log),
        Command::Report(report) => report::run(&config, &store, report),
        Command::CrawlerInfo(info) => crawler_info::run(&config, &store, info),
        Command::Serve(serve) => serve::run(&config, &store, serve),
    }
}

/// Opens the evidence log in `store` with the configured durability.
pub fn open_log(
    config: &Config,
    store: &std::path::Path,
) -> Result<crate::evidence::EvidenceLog, CliError> {
    let store = Store::open(store)?;
    Ok(crate::evidence::EvidenceLog::open(store, config.evidence)?)
}
