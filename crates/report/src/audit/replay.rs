//! Replay: each record re-decided from its snapshots with today's engine and configuration,
//! compared with what it says was decided: the verdict and the deciding rule (the first
//! reason's code, line and rule). It shows an auditor that the decisions were right, and an
//! engineer what an engine upgrade would change.
//!
//! Pure policy over snapshot bytes: the sources are rebuilt ([`super::site`]) and judged by
//! the same [`Judge`] `optout check` and the fetcher use. What a record holds decides how
//! far it can be replayed:
//!
//! - a decision on the site's files (and, offline, a page and headers): re-decided whole;
//! - a fetch that got a response, or stopped on the network or at a fetch step (codes
//!   `fetch.*`, `access.*`, `politeness.*`, the address guard): the response's headers and
//!   page are not in the record, nor is the network's answer. Today's engine re-decides the
//!   step before the request; when the site's files now refuse the URL, that is the
//!   decision (the request would not be sent) and is compared; otherwise the record is not
//!   re-decidable, and says why.

use super::site::{Limits, Lookup, rebuild};
use optout_config::{Config, Lists};
use optout_evidence::SourceRef;
use optout_policy::judge::Judge;
use optout_policy::{Decision, Purpose, Verdict, parse_url};
use serde_json::Value;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

/// The verdict and deciding rule of a decision: what replay compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deciding {
    /// `allowed`, `refused`, `discarded`.
    pub verdict: String,
    /// The first reason's code.
    pub code: String,
    /// Its line in the policy file, if any.
    pub line: Option<u64>,
    /// Its rule as written, if any.
    pub rule: Option<String>,
}

impl Deciding {
    fn of_reasons(verdict: &str, first: Option<&Value>) -> Deciding {
        let field = |k: &str| first.and_then(|r| r.get(k));
        Deciding {
            verdict: verdict.to_owned(),
            code: field("code")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            line: field("line").and_then(Value::as_u64),
            rule: field("rule").and_then(Value::as_str).map(str::to_owned),
        }
    }

    fn of_decision(decision: &Decision) -> Deciding {
        let first = decision
            .reasons
            .first()
            .and_then(|r| serde_json::to_value(r).ok());
        Deciding::of_reasons(decision.verdict.as_str(), first.as_ref())
    }
}

impl fmt::Display for Deciding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verdict, self.code)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " {rule:?}")?;
        }
        Ok(())
    }
}

/// What became of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replayed {
    /// Re-decided: the same verdict and deciding rule.
    Same,
    /// Re-decided: today's engine decides otherwise.
    Differs {
        /// What the record says.
        recorded: Deciding,
        /// What today's engine decides.
        today: Deciding,
    },
    /// Cannot be re-decided, and why.
    NotRedecidable(String),
}

/// First-reason codes of steps after the site's files: the network, the response, the
/// fetcher's own limits (`docs/decisions.md`).
const STEP_PREFIXES: [&str; 3] = ["fetch.", "access.", "politeness."];

/// Today's engine: the configuration's lists and limits, and compiled sources shared by the
/// records that name the same ones.
pub struct Replayer<'a> {
    excluded: &'a optout_policy::excluded::ExcludedDomains,
    lists: &'a Lists,
    ai_crawler_blocks: bool,
    limits: Limits,
    compiled: lru::LruCache<String, Arc<super::site::Rebuilt>>,
}

impl<'a> Replayer<'a> {
    /// The engine of `config` with its `lists`.
    pub fn new(config: &Config, lists: &'a Lists) -> Replayer<'a> {
        Replayer {
            excluded: &lists.excluded,
            lists,
            ai_crawler_blocks: config.signals.ai_crawler_blocks,
            limits: Limits {
                parse: config.limits.robots_parse_limit,
                body: config.net.max_body_bytes,
            },
            compiled: lru::LruCache::new(NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// The largest snapshot a source can have under today's limits: a lookup may refuse
    /// larger ones (no read limit of optout's would have kept them).
    pub fn largest_snapshot(&self) -> usize {
        self.limits.largest()
    }

    /// Re-decides `record` (a parsed evidence record), its snapshots from `lookup`.
    pub fn replay(&mut self, record: &Value, lookup: &mut Lookup<'_>) -> Replayed {
        match self.try_replay(record, lookup) {
            Ok(replayed) => replayed,
            Err(why) => Replayed::NotRedecidable(why),
        }
    }

    fn try_replay(&mut self, record: &Value, lookup: &mut Lookup<'_>) -> Result<Replayed, String> {
        let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
        let reasons: &[Value] = record
            .get("reasons")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let recorded = Deciding::of_reasons(text("verdict"), reasons.first());
        let url =
            parse_url(text("url")).map_err(|r| format!("its URL cannot be judged ({})", r.code))?;
        let purpose: Purpose = text("purpose").parse().map_err(|_| {
            format!(
                "its purpose {:?} is unknown to this optout",
                text("purpose")
            )
        })?;
        let agent = text("agent");
        let rebuilt = self.rebuilt(record, reasons, lookup)?;
        let judge = Judge {
            agent,
            purpose,
            excluded: self.excluded,
            ai_crawler_blocks: self.ai_crawler_blocks,
        };
        let today =
            Deciding::of_decision(&judge.decide(&rebuilt.site, rebuilt.asset.as_ref(), &url));
        let first_source = reasons.first().and_then(|r| r.get("source"));
        let step = STEP_PREFIXES.iter().any(|p| recorded.code.starts_with(p))
            || (first_source.is_none()
                && matches!(
                    recorded.code.as_str(),
                    "network.private-address" | "url.userinfo"
                ));
        let response = record.get("status").is_some_and(|s| !s.is_null());
        if (step || response) && today.verdict != Verdict::Refused.as_str() {
            return Err(if response {
                "the response's headers and page are not in the record; the site's files still allow the request"
                    .into()
            } else {
                format!(
                    "decided by {} at a step after the site's files (the network or the fetch); the site's files still allow the request",
                    recorded.code
                )
            });
        }
        Ok(if today == recorded {
            Replayed::Same
        } else {
            Replayed::Differs { recorded, today }
        })
    }

    /// The record's sources rebuilt, from the cache when an earlier record named the same.
    fn rebuilt(
        &mut self,
        record: &Value,
        reasons: &[Value],
        lookup: &mut Lookup<'_>,
    ) -> Result<Arc<super::site::Rebuilt>, String> {
        let sources_json = record
            .get("sources")
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        let origin = record.get("origin").and_then(Value::as_str).unwrap_or("");
        // Unreadable files are rebuilt from the record's reasons, so those records are
        // not shared.
        let key = format!("{origin} {sources_json}");
        let cacheable = !reasons.iter().any(|r| {
            r.get("code").and_then(Value::as_str).is_some_and(|c| {
                c.ends_with(".unreachable")
                    || c.ends_with("redirect-limit")
                    || c == "network.private-address"
                    || c == "url.userinfo"
            })
        });
        if cacheable && let Some(hit) = self.compiled.get(&key) {
            return Ok(Arc::clone(hit));
        }
        let sources: Vec<SourceRef> = serde_json::from_value(sources_json)
            .map_err(|e| format!("its sources are unreadable ({e})"))?;
        let rebuilt = Arc::new(rebuild(
            origin,
            &sources,
            reasons,
            lookup,
            self.limits,
            &self.lists.ai_crawlers,
        )?);
        if cacheable {
            self.compiled.put(key, Arc::clone(&rebuilt));
        }
        Ok(rebuilt)
    }
}

/// Counts of a replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records replayed.
    pub records: u64,
    /// Re-decided (the same, or differing).
    pub redecided: u64,
    /// Re-decided and differing.
    pub differ: u64,
    /// Not re-decidable.
    pub not_redecidable: u64,
}

impl Tally {
    /// Counts `replayed`.
    pub fn count(&mut self, replayed: &Replayed) {
        self.records += 1;
        match replayed {
            Replayed::Same => self.redecided += 1,
            Replayed::Differs { .. } => {
                self.redecided += 1;
                self.differ += 1;
            }
            Replayed::NotRedecidable(_) => self.not_redecidable += 1,
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "replay: {} records, {} re-decided, {} differ, {} not re-decidable",
            self.records, self.redecided, self.differ, self.not_redecidable
        )
    }
}
