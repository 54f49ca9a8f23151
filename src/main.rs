//! The `optout` binary: parses arguments and hands over to [`optout::cli`].
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = optout::cli::Args::parse();
    // Quiet by default: warnings only, on standard error, never mixed into fetched bodies.
    let level = ["warn", "info", "debug", "trace"][usize::from(args.verbose.min(3))];
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("optout={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match optout::cli::run(args).map_err(anyhow::Error::from) {
        Ok(code) => code,
        Err(error) => {
            // One line: the library's messages already carry their causes.
            eprintln!("optout: {error}");
            ExitCode::from(optout::cli::EXIT_USAGE)
        }
    }
}
