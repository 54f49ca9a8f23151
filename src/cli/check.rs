//! `optout check`: decide for each URL and print why.
//!
//! With any of `--robots`, `--tdmrep`, `--aitxt`, `--header`, `--html` the decision is
//! offline: no network is touched and every URL is judged against those inputs. URLs come
//! from the arguments, or one per line from standard input when none are given.

use super::{CliError, EXIT_USAGE};
use crate::config::{Config, validate_product_token};
use crate::policy::aitxt::AiTxt;
use crate::policy::html::PageMeta;
use crate::policy::judge::{Asset, Judge};
use crate::policy::site::SitePolicy;
use crate::policy::tdmrep::TdmRepFile;
use crate::policy::{Decision, Purpose, Reason, RobotsTxt, Verdict, parse_url};
use clap::Args;
use serde::Serialize;
use std::io::{BufRead, BufWriter, ErrorKind, Write};
use std::path::PathBuf;
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

    /// URLs to check; when none are given, one per line from standard input.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
}

/// One line of `--json` output.
#[derive(Serialize)]
struct Line<'a> {
    url: &'a str,
    agent: &'a str,
    purpose: Purpose,
    verdict: &'static str,
    reasons: &'a [Reason],
}

/// The worst outcome so far decides the exit status.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Worst {
    Allowed,
    Refused,
    InputError,
}

/// Runs `optout check`.
pub fn run(config: &Config, args: CheckArgs) -> Result<ExitCode, CliError> {
    let agent = args
        .agent
        .clone()
        .unwrap_or_else(|| config.crawler.product_token.clone());
    validate_product_token(&agent).map_err(|e| CliError::Usage(format!("--agent: {e}")))?;
    let purpose = args.purpose.unwrap_or(config.crawler.purpose);
    let offline = args.robots.is_some()
        || args.tdmrep.is_some()
        || args.aitxt.is_some()
        || !args.headers.is_empty()
        || args.html.is_some();
    if !offline {
        return Err(CliError::Usage(
            "online checks are not available yet: pass --robots FILE (or --tdmrep, --aitxt, --header, --html) to judge URLs offline"
                .into(),
        ));
    }
    let lists = config
        .signals
        .load_lists(args.excluded_domains.as_deref())?;
    let robots = read_opt(&args.robots)?
        .map(|b| RobotsTxt::parse_with_limit(&b, config.limits.robots_parse_limit));
    let tdmrep = read_opt(&args.tdmrep)?.map(|b| TdmRepFile::parse(&b));
    let aitxt = read_opt(&args.aitxt)?.map(|b| AiTxt::parse(&b));
    let site = SitePolicy::new(robots, tdmrep, aitxt, &lists.ai_crawlers);
    let asset = if args.headers.is_empty() && args.html.is_none() {
        None
    } else {
        let headers = args
            .headers
            .iter()
            .map(|h| match h.split_once(':') {
                Some((name, value)) if !name.trim().is_empty() => {
                    Ok((name.trim().to_owned(), value.trim().to_owned()))
                }
                _ => Err(CliError::Usage(format!(
                    "--header {h:?}: expected `Name: value`"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta = read_opt(&args.html)?.map(|b| PageMeta::parse(&b));
        Some(Asset { headers, meta })
    };
    let judge = Judge {
        agent: &agent,
        purpose,
        excluded: &lists.excluded,
        ai_crawler_blocks: config.signals.ai_crawler_blocks,
    };
    let checker = Checker {
        site: &site,
        asset: asset.as_ref(),
        judge,
        json: args.json,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut worst = Worst::Allowed;
    let result = if args.urls.is_empty() {
        let stdin = std::io::stdin();
        let mut result = Ok(());
        for line in stdin.lock().lines() {
            let line = line.map_err(|source| CliError::Read {
                path: "standard input".into(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            result = checker.one(&line, &mut out, &mut worst);
            if result.is_err() {
                break;
            }
        }
        result
    } else {
        args.urls
            .iter()
            .try_for_each(|url| checker.one(url, &mut out, &mut worst))
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => {}
        // A closed pipe (`optout check ... | head`) is not an error.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {}
        Err(e) => return Err(CliError::Write(e)),
    }
    Ok(ExitCode::from(match worst {
        Worst::Allowed => 0,
        Worst::Refused => 1,
        Worst::InputError => EXIT_USAGE,
    }))
}

fn read_opt(path: &Option<PathBuf>) -> Result<Option<Vec<u8>>, CliError> {
    path.as_ref()
        .map(|path| {
            std::fs::read(path).map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })
        })
        .transpose()
}

struct Checker<'a> {
    site: &'a SitePolicy,
    asset: Option<&'a Asset>,
    judge: Judge<'a>,
    json: bool,
}

impl Checker<'_> {
    fn one(&self, input: &str, out: &mut impl Write, worst: &mut Worst) -> std::io::Result<()> {
        let input = input.trim();
        let (verdict, reasons) = match parse_url(input) {
            Ok(url) => {
                let Decision { verdict, reasons } = self.judge.decide(self.site, self.asset, &url);
                *worst = (*worst).max(match verdict {
                    Verdict::Allowed => Worst::Allowed,
                    Verdict::Refused => Worst::Refused,
                });
                (verdict.as_str(), reasons)
            }
            Err(reason) => {
                *worst = Worst::InputError;
                ("error", vec![reason])
            }
        };
        if self.json {
            let line = Line {
                url: input,
                agent: self.judge.agent,
                purpose: self.judge.purpose,
                verdict,
                reasons: &reasons,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")
        } else {
            write!(out, "{verdict:<8} {input}")?;
            for reason in &reasons {
                write!(out, "  {reason}")?;
            }
            out.write_all(b"\n")
        }
    }
}
