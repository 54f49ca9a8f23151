//! `optout check`: decide for each URL and print why.
//!
//! With any of `--robots`, `--tdmrep`, `--aitxt`, `--header`, `--html` the decision is
//! offline: no network is touched and every URL is judged against those inputs. URLs come
//! from the arguments, or one per line from standard input when none are given.

use super::{CliError, EXIT_USAGE};
use crate::config::{Config, validate_product_token};
use crate::evidence::{EvidenceLog, Record, SourceRef};
use crate::policy::aitxt::AiTxt;
use crate::policy::html::PageMeta;
use crate::policy::judge::{Asset, Judge};
use crate::policy::site::SitePolicy;
use crate::policy::tdmrep::TdmRepFile;
use crate::policy::{Decision, Purpose, Reason, RobotsTxt, Verdict, parse_url};
use clap::Args;
use serde::Serialize;
use std::io::{BufRead, BufWriter, ErrorKind, Write};
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

/// One line of `--json` output.
#[derive(Serialize)]
struct Line<'a> {
    url: &'a str,
    agent: &'a str,
    purpose: Purpose,
    verdict: &'static str,
    reasons: &'a [Reason],
    /// The evidence record's sequence number, when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
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
    let log = if args.no_log {
        None
    } else {
        Some(super::open_log(config, store)?)
    };
    let mut sources = Vec::new();
    let mut read = |kind: &str, path: &Option<PathBuf>| -> Result<Option<Vec<u8>>, CliError> {
        let bytes = read_opt(path)?;
        if let (Some(bytes), Some(path)) = (&bytes, path) {
            sources.push((
                SourceRef::offline(kind, &path.display().to_string(), bytes),
                bytes.clone(),
            ));
        }
        Ok(bytes)
    };
    let robots = read("robots.txt", &args.robots)?
        .map(|b| RobotsTxt::parse_with_limit(&b, config.limits.robots_parse_limit));
    let tdmrep = read("tdmrep.json", &args.tdmrep)?.map(|b| TdmRepFile::parse(&b));
    let aitxt = read("ai.txt", &args.aitxt)?.map(|b| AiTxt::parse(&b));
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
        let meta = read("html", &args.html)?.map(|b| PageMeta::parse(&b));
        if !headers.is_empty() {
            let text: String = headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
            sources.push((
                SourceRef::offline("headers", "--header", text.as_bytes()),
                text.into_bytes(),
            ));
        }
        Some(Asset { headers, meta })
    };
    if let Some(log) = &log {
        for (source, bytes) in &sources {
            log.put_snapshot_with_hash(&source.sha256, bytes)?;
        }
    }
    let sources: Vec<SourceRef> = sources.into_iter().map(|(s, _)| s).collect();
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
        log: log.as_ref(),
        sources: &sources,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut worst = Worst::Allowed;
    let result = if args.urls.is_empty() {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut result = Ok(());
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = input
                .read_until(b'\n', &mut buf)
                .map_err(|source| CliError::Read {
                    path: "standard input".into(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            // A line that is not UTF-8 is judged (and reported) on its own, and a CR inside a
            // line ends a URL too: the URL parser would otherwise drop it and glue two URLs.
            let text = String::from_utf8_lossy(&buf);
            for line in text.split(['\r', '\n']) {
                if line.trim().is_empty() {
                    continue;
                }
                result = checker.one(line, &mut out, &mut worst);
                if result.is_err() {
                    break;
                }
            }
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
    let result = result.and_then(|()| out.flush().map_err(CliError::Write));
    // Every decision made is on disk before the exit status says so.
    if let Some(log) = &log {
        log.sync()?;
    }
    match result {
        Ok(()) => {}
        // A closed pipe (`optout check ... | head`) is not an error.
        Err(CliError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => {}
        Err(e) => return Err(e),
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
    log: Option<&'a EvidenceLog>,
    sources: &'a [SourceRef],
}

impl Checker<'_> {
    fn one(&self, input: &str, out: &mut impl Write, worst: &mut Worst) -> Result<(), CliError> {
        let input = input.trim();
        let mut seq = None;
        let (verdict, reasons) = match parse_url(input) {
            Ok(url) => {
                let decision = self.judge.decide(self.site, self.asset, &url);
                if let Some(log) = self.log {
                    let record = Record::of_decision(
                        &url,
                        self.judge.agent,
                        self.judge.purpose,
                        &decision,
                        self.sources.to_vec(),
                    );
                    seq = Some(log.append(record)?.seq);
                }
                let Decision { verdict, reasons } = decision;
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
        let written = if self.json {
            let line = Line {
                url: input,
                agent: self.judge.agent,
                purpose: self.judge.purpose,
                verdict,
                reasons: &reasons,
                seq,
            };
            serde_json::to_writer(&mut *out, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
        } else {
            let mut line = format!("{verdict:<8} {input}");
            for reason in &reasons {
                line.push_str(&format!("  {reason}"));
            }
            if let Some(seq) = seq {
                line.push_str(&format!("  [evidence #{seq}]"));
            }
            line.push('\n');
            out.write_all(line.as_bytes())
        };
        written.map_err(CliError::Write)
    }
}
