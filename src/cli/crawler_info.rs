//! `optout crawler-info -o DIR`: writes the crawler page, its JSON, its IP ranges and its
//! Atom feed ([`crate::report::crawler_info`]). It opens the store to write (the feed's
//! state lives there), so it cannot run while a crawl or fetch holds the same store.

use super::CliError;
use crate::config::Config;
use crate::report::crawler_info::{self, CrawlerInfoError};
use crate::store::{Sled, Store};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `optout crawler-info`.
#[derive(Debug, Args)]
pub struct CrawlerInfoArgs {
    /// The directory to write `index.html`, `crawler.json`, `ranges.json` and `feed.atom`
    /// into (created if needed); publish it at `crawler_info.base_url`.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}

/// Runs `optout crawler-info`.
pub fn run(config: &Config, store: &Path, args: CrawlerInfoArgs) -> Result<ExitCode, CliError> {
    // The configuration first: a page that cannot be written leaves the store untouched.
    let (info, prefixes) = crawler_info::CrawlerInfo::from_config(config)?;
    let store = Store::open(store)?;
    let now = crate::evidence::record::now_rfc3339();
    let publication = crawler_info::publish(info, prefixes, &store, &now).map_err(|e| match e {
        CrawlerInfoError::Config(e) => CliError::Config(e),
        CrawlerInfoError::Store(e) => CliError::Store(e),
        other => CliError::Usage(other.to_string()),
    })?;
    let dir = &args.output;
    let cannot = |path: &Path, e: std::io::Error| {
        CliError::Write(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    for (name, contents) in publication.files() {
        // Each file replaces the last one whole: a reader never sees half a feed.
        let path = dir.join(name);
        let partial = dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, contents).map_err(|e| cannot(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| cannot(&path, e))?;
    }
    let journal = &publication.journal;
    let line = format!(
        "wrote {} (index.html, crawler.json, ranges.json, feed.atom): {} new feed entr{}, {} in all{}\n",
        dir.display(),
        journal.added,
        if journal.added == 1 { "y" } else { "ies" },
        journal.total,
        journal
            .checkpoint
            .as_ref()
            .map_or_else(String::new, |c| format!("; checkpoint seq={}", c.seq))
    );
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes()).map_err(CliError::Write)?;
    Ok(ExitCode::SUCCESS)
}
