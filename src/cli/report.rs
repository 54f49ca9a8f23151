//! `optout report`: figures from the evidence log for people (`--format html|md`) and
//! machines (`json`), and `--eu-summary`: sections 2.3 and 3.1 of the EU public summary of
//! training content. Reads a private copy of the store ([`Store::open_read_only`]), as
//! `optout log` does: the store is left byte for byte as it is.

use super::CliError;
use crate::config::Config;
use crate::evidence::export::{Filter, time_bound};
use crate::report::{Cut, eu_render, eu_summary, render};
use crate::store::{Sled, Store};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `optout report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Records at or after this time (RFC 3339 with any offset, e.g. 2026-11-28T10:00:00Z or
    /// 2026-11-28T11:00:00.5+01:00; without an offset UTC; a date alone is its first instant).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Records before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The report's format (default: from the file's extension, else html).
    #[arg(long, value_enum, conflicts_with = "eu_summary")]
    pub format: Option<Format>,
    /// Write sections 2.3 and 3.1 of the EU public summary (summary.md, summary.json,
    /// domains.csv) into the directory -o names.
    #[arg(long)]
    pub eu_summary: bool,
    /// List the top 5% of domains, at most 1,000 (the template's option for small and
    /// medium-sized enterprises), instead of the top 10%.
    #[arg(long, requires = "eu_summary")]
    pub sme: bool,
    /// The report file (`-`: standard output), or with --eu-summary the directory.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: PathBuf,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One self-contained HTML file (inline CSS and SVG charts, no script).
    Html,
    /// Markdown.
    Md,
    /// JSON: every figure.
    Json,
}

/// A time bound as records write their time (UTC, milliseconds), so strings compare as times
/// ([`time_bound`], the one reader of bounds).
fn time(flag: &str, t: &Option<String>) -> Result<Option<String>, CliError> {
    t.as_deref()
        .map(|t| time_bound(t).map_err(|e| CliError::Usage(format!("{flag}: {e}"))))
        .transpose()
}

/// Runs `optout report`.
pub fn run(config: &Config, store_path: &Path, args: ReportArgs) -> Result<ExitCode, CliError> {
    let filter = Filter {
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
        ..Filter::default()
    };
    let store = Store::open_read_only(store_path)?;
    let figures = crate::report::compute(&store, &filter)?;
    drop(store);
    if args.eu_summary {
        let cut = if args.sme {
            Cut::Sme
        } else {
            Cut::TopTenPercent
        };
        let summary = eu_summary::summary(config, &figures, cut);
        let dir = &args.output;
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let json =
            serde_json::to_vec_pretty(&summary).map_err(|e| CliError::Internal(e.to_string()))?;
        let csv = eu_render::domains_csv(&figures, &summary)
            .map_err(|e| CliError::Internal(e.to_string()))?;
        write(
            &dir.join("summary.md"),
            eu_render::markdown(&summary).as_bytes(),
        )?;
        write(&dir.join("summary.json"), &json)?;
        write(&dir.join("domains.csv"), &csv)?;
        return Ok(ExitCode::SUCCESS);
    }
    let format =
        args.format
            .unwrap_or_else(|| match args.output.extension().and_then(|e| e.to_str()) {
                Some("json") => Format::Json,
                Some("md" | "markdown") => Format::Md,
                _ => Format::Html,
            });
    let bytes = match format {
        Format::Html => render::html_page(&figures).into_bytes(),
        Format::Md => render::markdown(&figures).into_bytes(),
        Format::Json => render::json(&figures).map_err(|e| CliError::Internal(e.to_string()))?,
    };
    if args.output.as_os_str() == "-" {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return match out.write_all(&bytes).and_then(|()| out.flush()) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) if super::output::is_closed_pipe(&e) => {
                Ok(ExitCode::from(super::output::EXIT_CLOSED_PIPE))
            }
            Err(e) => Err(CliError::Write(e)),
        };
    }
    write(&args.output, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

fn write_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::Write(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}

/// Writes `path` whole or not at all: into a temporary file beside it, then renamed over it,
/// so a reader (or a failed run) never sees half a report.
fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.tmp", name.as_deref().unwrap_or("report")));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            write_error(path, e)
        })
}
