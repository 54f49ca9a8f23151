//! `optout crawl`: seeds in, a WARC corpus out, with nothing reserved in it and evidence for
//! every URL kept or skipped. Thin over [`crate::crawl`]; the plan of a crawl is kept in
//! `DIR/crawl.json` so `--resume` goes on with the same scope and limits (a plan flag given
//! with `--resume` or `--recrawl` must repeat the saved value: one that contradicts it is
//! refused, never silently ignored). One process writes a crawl directory at a time
//! ([`DirLock`]).

use super::CliError;
use crate::config::{Config, MAX_LIST_BYTES, read_bounded};
use crate::crawl::frontier::{Candidate, EmbeddedFrontier, Frontier, FrontierOptions};
use crate::crawl::lock::{DirLock, LOCK_FILE};
use crate::crawl::run::{Crawl, Plan};
use crate::crawl::scope::{Scope, ScopeKind};
use crate::crawl::skipped::SkipReport;
use crate::crawl::warc::{WarcOptions, WarcWriter};
use crate::crawl::{Shutdown, recrawl, resume};
use crate::fetcher::Fetcher;
use crate::policy::{Purpose, parse_url};
use clap::Args;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `--scope`: the command line's names of [`ScopeKind`] (clap stays in the binary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    /// The seeds' hosts (ports of a host included).
    Host,
    /// The seeds' registrable domains, per the Public Suffix List.
    Domain,
    /// Any host.
    Any,
}

/// Arguments of `optout crawl`.
#[derive(Debug, Args)]
pub struct CrawlArgs {
    /// Seed URLs.
    pub seeds: Vec<String>,
    /// A file of seed URLs, one per line.
    #[arg(long = "seeds", value_name = "FILE")]
    pub seeds_file: Option<PathBuf>,
    /// The crawl directory: WARC files, index.cdxj, skipped.jsonl, the frontier and (unless
    /// --store is given) the evidence store.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub dir: PathBuf,
    /// How far from the seeds: their hosts, their registrable domains, or any host
    /// (default: host).
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Only URLs matching one of these patterns (regular expressions on the whole URL).
    #[arg(long, value_name = "REGEX")]
    pub include: Vec<String>,
    /// No URL matching one of these patterns.
    #[arg(long, value_name = "REGEX")]
    pub exclude: Vec<String>,
    /// Stop after this many pages kept.
    #[arg(long, value_name = "N")]
    pub max_pages: Option<u64>,
    /// Follow links at most this deep (seeds are 0).
    #[arg(long, value_name = "D")]
    pub max_depth: Option<u32>,
    /// Keep at most this many URLs per host.
    #[arg(long, value_name = "N")]
    pub max_pages_per_host: Option<u64>,
    /// The purpose to crawl for: train-ai, ai-input or search (default: crawler.purpose).
    #[arg(long)]
    pub purpose: Option<Purpose>,
    /// Do not read robots.txt `Sitemap:` lines and /sitemap.xml.
    #[arg(long)]
    pub no_sitemaps: bool,
    /// Continue the crawl in DIR (after Ctrl-C, a kill or a power cut), with the plan it
    /// started with: a seed, scope, limit or purpose flag given too must repeat it.
    #[arg(long)]
    pub resume: bool,
    /// Fetch the pages of the crawl in DIR again, conditionally, into new WARC files.
    #[arg(long)]
    pub recrawl: bool,
    /// No progress line.
    #[arg(short, long)]
    pub quiet: bool,
}

/// What `--resume` needs of the first run: `DIR/crawl.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Saved {
    /// The crawl's id, written in the `warcinfo` record of each of its WARC files, so that a
    /// resume repairs no file another crawl wrote (absent in plans saved before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    seeds: Vec<String>,
    scope: String,
    include: Vec<String>,
    exclude: Vec<String>,
    max_pages: Option<u64>,
    max_depth: Option<u32>,
    max_pages_per_host: Option<u64>,
    purpose: Purpose,
    sitemaps: bool,
}

const PLAN_FILE: &str = "crawl.json";

/// The start of the crawl's WARC file names.
const WARC_PREFIX: &str = "optout";

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// Whether `dir` holds anything (but a lock file, which a crawl that never started leaves).
fn occupied(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name() != LOCK_FILE)))
}

/// The seeds of the command line and of `--seeds FILE`, in order.
fn seeds_given(args: &CrawlArgs) -> Result<Vec<String>, CliError> {
    let mut seeds = args.seeds.clone();
    if let Some(file) = &args.seeds_file {
        let text = read_bounded(file, MAX_LIST_BYTES, "seeds file")?;
        seeds.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(seeds)
}

/// The plan flags given with `--resume` or `--recrawl` that contradict the saved plan, as
/// `--flag given (the plan: saved)`. A flag left out, or repeating the saved value, is no
/// contradiction: the command line of the first run with `--resume` added is accepted.
fn contradictions(args: &CrawlArgs, saved: &Saved) -> Result<Vec<String>, CliError> {
    fn opt<T: PartialEq + std::fmt::Display>(
        out: &mut Vec<String>,
        flag: &str,
        given: Option<T>,
        saved: Option<T>,
    ) {
        if let Some(given) = given.filter(|g| Some(g) != saved.as_ref()) {
            let saved = saved.map_or_else(|| "none".to_owned(), |s| s.to_string());
            out.push(format!("{flag} {given} (the plan: {saved})"));
        }
    }
    fn list(out: &mut Vec<String>, flag: &str, given: &[String], saved: &[String]) {
        let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
        if !given.is_empty() && set(given) != set(saved) {
            out.push(format!(
                "{flag} {} (the plan: {})",
                given.join(" "),
                if saved.is_empty() {
                    "none".to_owned()
                } else {
                    saved.join(" ")
                }
            ));
        }
    }
    let mut out = Vec::new();
    list(&mut out, "seeds", &seeds_given(args)?, &saved.seeds);
    let scope = args.scope.map(|k| format!("{k:?}").to_ascii_lowercase());
    opt(&mut out, "--scope", scope, Some(saved.scope.clone()));
    list(&mut out, "--include", &args.include, &saved.include);
    list(&mut out, "--exclude", &args.exclude, &saved.exclude);
    opt(&mut out, "--max-pages", args.max_pages, saved.max_pages);
    opt(&mut out, "--max-depth", args.max_depth, saved.max_depth);
    opt(
        &mut out,
        "--max-pages-per-host",
        args.max_pages_per_host,
        saved.max_pages_per_host,
    );
    let purpose = |p: Purpose| p.as_str().to_owned();
    opt(
        &mut out,
        "--purpose",
        args.purpose.map(purpose),
        Some(purpose(saved.purpose)),
    );
    if args.no_sitemaps && saved.sitemaps {
        out.push("--no-sitemaps (the plan: sitemaps read)".to_owned());
    }
    Ok(out)
}

/// The plan: saved by the first run, read back by `--resume` and `--recrawl`.
fn plan(config: &Config, args: &CrawlArgs) -> Result<Saved, CliError> {
    let path = args.dir.join(PLAN_FILE);
    if args.resume || args.recrawl {
        if !path.exists() {
            return Err(usage(format!(
                "{} holds no crawl to {}; start one with seeds and -o",
                args.dir.display(),
                if args.recrawl { "re-crawl" } else { "resume" }
            )));
        }
        let text = read_bounded(&path, MAX_LIST_BYTES, "crawl plan")?;
        let saved: Saved = serde_json::from_str(&text)
            .map_err(|e| usage(format!("{} is damaged: {e}", path.display())))?;
        let contradicting = contradictions(args, &saved)?;
        if !contradicting.is_empty() {
            return Err(usage(format!(
                "{} contradicts the plan of the crawl in {}: --{} goes on with the plan it \
                 started with (crawl.json); repeat its values or leave the flags out, or start a \
                 new crawl in another directory",
                contradicting.join(", "),
                args.dir.display(),
                if args.recrawl { "recrawl" } else { "resume" }
            )));
        }
        return Ok(saved);
    }
    if occupied(&args.dir) {
        return Err(usage(format!(
            "{} is not empty; pass --resume to continue the crawl in it, or give an empty directory",
            args.dir.display()
        )));
    }
    let seeds = seeds_given(args)?;
    if seeds.is_empty() {
        return Err(usage("no seeds: give seed URLs or --seeds FILE"));
    }
    for seed in &seeds {
        parse_url(seed).map_err(|r| usage(format!("seed {seed:?}: {r}")))?;
    }
    Ok(Saved {
        id: Some(uuid::Uuid::new_v4().to_string()),
        seeds,
        scope: format!("{:?}", args.scope.unwrap_or(ScopeArg::Host)).to_ascii_lowercase(),
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        max_pages: args.max_pages,
        max_depth: args.max_depth,
        max_pages_per_host: args.max_pages_per_host,
        purpose: args.purpose.unwrap_or(config.crawler.purpose),
        sitemaps: !args.no_sitemaps,
    })
}

fn regexes(patterns: &[String]) -> Result<Vec<Regex>, CliError> {
    patterns
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| {
                // The regex crate's message spans lines (the pattern, a caret, the error).
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim().to_owned();
                usage(format!("pattern {p:?} is not a regular expression: {why}"))
            })
        })
        .collect()
}

fn scope_of(saved: &Saved) -> Result<Scope, CliError> {
    let kind = match saved.scope.as_str() {
        "domain" => ScopeKind::Domain,
        "any" => ScopeKind::Any,
        _ => ScopeKind::Host,
    };
    let seeds: Vec<url::Url> = saved
        .seeds
        .iter()
        .filter_map(|s| parse_url(s).ok())
        .collect();
    let include = regexes(&saved.include)?;
    let exclude = regexes(&saved.exclude)?;
    Ok(Scope::new(kind, &seeds, include, exclude, saved.max_depth))
}

/// Runs `optout crawl`.
pub fn run(config: &Config, store: Option<&Path>, args: CrawlArgs) -> Result<ExitCode, CliError> {
    let saved = plan(config, &args)?;
    let scope = scope_of(&saved)?;
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|source| CliError::Read {
        path: dir.clone(),
        source,
    })?;
    // Held until the process ends: nothing below runs beside another writer of `dir`.
    let _lock = DirLock::acquire(dir).map_err(|e| usage(e.to_string()))?;
    if !args.resume && !args.recrawl && occupied(dir) {
        // Another crawl started in it between the check in `plan` and the lock.
        return Err(usage(format!(
            "{} is not empty; pass --resume to continue the crawl in it, or give an empty directory",
            dir.display()
        )));
    }
    if !args.resume && !args.recrawl {
        let json = serde_json::to_vec_pretty(&saved).unwrap_or_default();
        std::fs::write(dir.join(PLAN_FILE), json).map_err(|source| CliError::Read {
            path: dir.join(PLAN_FILE),
            source,
        })?;
    }
    let store = store.map_or_else(|| dir.join("store"), Path::to_owned);
    let lists = config.signals.load_lists(None)?;
    let log = Arc::new(super::open_log(config, &store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Net(format!("cannot start the async runtime: {e}")))?;
    let fetcher = Arc::new(
        Fetcher::new(config, Arc::clone(&log), lists).map_err(|e| CliError::Net(e.to_string()))?,
    );
    let shutdown = Shutdown::default();
    let result = runtime.block_on(async {
        listen(shutdown.clone());
        crawl(config, &args, &saved, scope, fetcher, &shutdown).await
    });
    let synced = log.sync();
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(summary) => {
            synced?;
            eprintln!("crawl: {summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("optout: crawl stopped: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Ctrl-C and SIGTERM, each asking the crawl to stop (the second: at once).
fn listen(shutdown: Shutdown) {
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            shutdown.ask();
        }
    });
}

/// Opens the parts, replays after a kill, offers the seeds, runs, and says how it ended.
async fn crawl(
    config: &Config,
    args: &CrawlArgs,
    saved: &Saved,
    scope: Scope,
    fetcher: Arc<Fetcher>,
    shutdown: &Shutdown,
) -> Result<String, crate::crawl::CrawlError> {
    let dir = &args.dir;
    let frontier_dir = if args.recrawl {
        dir.join("recrawl")
    } else {
        dir.join("frontier")
    };
    let fresh_recrawl = args.recrawl && !args.resume;
    if fresh_recrawl && frontier_dir.exists() {
        std::fs::remove_dir_all(&frontier_dir).map_err(crate::crawl::CrawlError::Io)?;
    }
    let options = FrontierOptions {
        max_pages_per_host: saved.max_pages_per_host,
        key: config.politeness.key,
        ..FrontierOptions::default()
    };
    let frontier: Arc<dyn Frontier> = Arc::new(EmbeddedFrontier::open(&frontier_dir, options)?);
    let follow = !args.recrawl;
    let links = crate::crawl::links::LinkOptions {
        agent: fetcher.agent().to_owned(),
        honour_nofollow: config.crawl.honour_nofollow,
        max_links: config.crawl.max_links_per_page,
    };
    let earlier = if args.recrawl {
        recrawl::earlier(dir, fresh_recrawl.then_some(&*frontier))?
    } else {
        Default::default()
    };
    if fresh_recrawl {
        recrawl::start_after_existing(dir, &*frontier).await?;
    }
    let owner = resume::Owner {
        crawl_id: saved.id.as_deref(),
        prefix: WARC_PREFIX,
    };
    let replayed = resume::replay(dir, &*frontier, follow.then_some(&links), owner).await?;
    let skipped = SkipReport::open(dir, Some(replayed.skipped_end))
        .map_err(crate::crawl::CrawlError::Skipped)?;
    let warc = WarcWriter::open(dir, warc_options(config, saved))?;
    let plan = Plan {
        purpose: saved.purpose,
        scope,
        max_pages: saved.max_pages,
        sitemaps: saved.sitemaps && follow,
        follow_links: follow,
        kept_before: replayed.checkpoint.kept + replayed.pages,
        earlier: earlier.pages,
    };
    let mut crawl = Crawl::new(fetcher, Arc::clone(&frontier), warc, skipped, plan);
    crawl.set_progress(!args.quiet);
    for candidate in replayed.links {
        crawl.offer(candidate).await?;
    }
    if !args.recrawl {
        for seed in &saved.seeds {
            crawl.offer(Candidate::seed(seed.clone())).await?;
        }
    }
    for candidate in earlier.candidates {
        crawl.offer(candidate).await?;
    }
    let tally = crawl.run(shutdown).await?;
    let mut line = tally.to_string();
    if shutdown.stopping() {
        line.push_str("; stopped, continue with --resume");
    } else {
        crate::crawl::warc::sort_cdxj(&dir.join(crate::crawl::warc::INDEX_FILE))?;
    }
    Ok(line)
}

fn warc_options(config: &Config, saved: &Saved) -> WarcOptions {
    WarcOptions {
        prefix: WARC_PREFIX.into(),
        max_file_bytes: config.crawl.warc_max_bytes,
        software: format!("optout/{}", env!("CARGO_PKG_VERSION")),
        warcinfo_fields: vec![
            ("operator".into(), config.crawler.contact_url.clone()),
            (
                "http-header-user-agent".into(),
                crate::net::client::user_agent(config),
            ),
            (
                "robots".into(),
                "obey (RFC 9309), with TDMRep, Content-Usage, Content Signals, noai and ai.txt"
                    .into(),
            ),
            ("optout-purpose".into(), saved.purpose.as_str().into()),
        ]
        .into_iter()
        .chain(
            saved
                .id
                .clone()
                .map(|id| (resume::CRAWL_ID_FIELD.into(), id)),
        )
        .collect(),
    }
}
