//! The `optout` binary: parses arguments and hands over to [`optout::cli`].
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = optout::cli::Args::parse();
    match optout::cli::run(args).map_err(anyhow::Error::from) {
        Ok(code) => code,
        Err(error) => {
            // One line: the library's messages already carry their causes.
            eprintln!("optout: {error}");
            ExitCode::from(optout::cli::EXIT_USAGE)
        }
    }
}
