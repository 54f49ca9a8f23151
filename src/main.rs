//! The `optout` binary: parses arguments and hands over to [`optout::cli`].
//!
//! A panic is a bug, wherever it happens (the main thread, a tokio task, the evidence
//! writer's thread): the process then ends with [`optout::cli::EXIT_SOFTWARE`] and one line
//! on standard error, never with 0, and the evidence log is flushed on the way out (by the
//! command's own last `sync`, or by `EvidenceLog`'s `Drop` as the panic unwinds).
#![forbid(unsafe_code)]

use clap::Parser;
use optout::cli::{EXIT_SOFTWARE, EXIT_USAGE};
use std::io::Write;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the panic hook. A panic on another thread may be caught (tokio catches a task's)
/// and become an error, or nothing at all: this flag still knows.
static PANICKED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        on_panic(info);
        // The full report (and backtrace) only when a developer asks for it.
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            default_hook(info);
        }
    }));
    let args = optout::cli::Args::parse();
    // Quiet by default: warnings only, on standard error, never mixed into fetched bodies.
    let level = ["warn", "info", "debug", "trace"][usize::from(args.verbose.min(3))];
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("optout={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| optout::cli::run(args)));
    // After a panic anywhere the hook has printed the one line; whatever the command made of
    // it (an error, a shorter output, even success) the status says it failed.
    if PANICKED.load(Ordering::SeqCst) {
        return ExitCode::from(EXIT_SOFTWARE);
    }
    match outcome.map(|result| result.map_err(anyhow::Error::from)) {
        Ok(Ok(code)) => code,
        Ok(Err(error)) => {
            // One line: the library's messages already carry their causes.
            let _ = writeln!(std::io::stderr(), "optout: {error}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(_) => ExitCode::from(EXIT_SOFTWARE),
    }
}

/// Notes the panic and prints one line for the first one (later ones follow from it). Never
/// panics itself: a closed standard error is ignored.
fn on_panic(info: &PanicHookInfo<'_>) {
    if PANICKED.swap(true, Ordering::SeqCst) {
        return;
    }
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let _ = writeln!(
        std::io::stderr(),
        "optout: internal error (a bug, please report it): {message}{at}"
    );
}
