//! `optout check`: decide for each URL and print why.
//!
//! With `--robots FILE` the decision is offline: no network is touched and every URL is
//! judged against that file. URLs come from the arguments, or one per line from standard
//! input when none are given.

use super::{CliError, EXIT_USAGE};
use crate::config::{Config, validate_product_token};
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
    let Some(robots_path) = &args.robots else {
        return Err(CliError::Usage(
            "online checks are not available yet: pass --robots FILE to judge URLs offline".into(),
        ));
    };
    let bytes = std::fs::read(robots_path).map_err(|source| CliError::Read {
        path: robots_path.clone(),
        source,
    })?;
    let robots = RobotsTxt::parse_with_limit(&bytes, config.limits.robots_parse_limit);

    let checker = Checker {
        robots: &robots,
        agent: &agent,
        purpose,
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

struct Checker<'a> {
    robots: &'a RobotsTxt,
    agent: &'a str,
    purpose: Purpose,
    json: bool,
}

impl Checker<'_> {
    fn one(&self, input: &str, out: &mut impl Write, worst: &mut Worst) -> std::io::Result<()> {
        let input = input.trim();
        let (verdict, reasons) = match parse_url(input) {
            Ok(url) => {
                let Decision { verdict, reasons } = self.robots.allowed(self.agent, &url);
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
                agent: self.agent,
                purpose: self.purpose,
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
