//! robots.txt (RFC 9309): bytes in, a compiled immutable [`RobotsTxt`] out, and decisions
//! made on the compiled form without re-parsing.
//!
//! - Lines are read by the `robotstxt` crate's parser (Google's, ported), behind the input
//!   guard of `input`, which keeps that crate from panicking on real files.
//! - Groups are formed and merged by RFC 9309 §2.1 and §2.2.1 (`collect`).
//! - Paths are compared in the canonical form of §2.2.2 ([`canonical`]), by longest match
//!   with `Allow` winning a tie (`pattern`).
//! - Lines that are not UTF-8 are read as Windows-1252 (`input`), and a rule on one in two
//!   readings, its octets and its text (`Rule::compile`).

mod canonical;
mod collect;
mod input;
pub(crate) mod pattern;

pub use canonical::{PathForms, canonical, google, loose};
pub use collect::ExtensionLine;
pub use input::DEFAULT_PARSE_LIMIT;
pub(crate) use input::lines;

/// Splits text into lines as line numbers in reasons count them (CR, LF and CRLF each end a
/// line), for showing the line a reason names.
pub fn line_numbering(text: &str) -> impl Iterator<Item = &str> {
    lines(text)
}

use crate::decision::{Code, Decision, Reason, Verdict};
use collect::{AgentLine, Collector};
use pattern::Pattern;
use std::collections::HashMap;
use std::sync::Arc;
use url::{Position, Url};

/// One group as written in the file: its `User-agent` values and where it starts.
#[derive(Clone, Debug)]
pub struct Group {
    /// The `User-agent` values as written (`*` for the global group).
    pub agents: Arc<[Box<str>]>,
    /// The line of the group's first `User-agent` line.
    pub line: u32,
    /// Every valid `Crawl-delay` in the group: `(line, seconds)`.
    pub crawl_delays: Vec<(u32, f64)>,
}

/// A `Crawl-delay` that applies to an agent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrawlDelay {
    /// The delay in seconds.
    pub seconds: f64,
    /// The line it was read from.
    pub line: u32,
}

#[derive(Clone, Debug)]
struct Rule {
    allow: bool,
    /// The pattern as the file's octets say it.
    pattern: Pattern,
    /// For a `Disallow` on a line that is not UTF-8: the pattern read as Windows-1252
    /// (`Disallow: /\xFCber/` is `/über/`, `/%C3%BCber/` in a URL). See [`Rule::matches`].
    bridged: Option<Box<Pattern>>,
    line: u32,
    written: Arc<str>,
    group: u32,
}

impl Rule {
    /// Compiles a rule. A line that is not UTF-8 has two readings (RFC 9309 §2.2.2 lets
    /// implementors "bridge encoding mismatches"): its octets, percent-encoded as they are
    /// (`/%FCber/`, what a server that names files in Latin-1 is sent), and its text as
    /// Windows-1252 in UTF-8 (`/%C3%BCber/`, what a browser sends for `/über/`). A
    /// `Disallow` refuses in either reading. An `Allow` keeps only the octets' reading: they
    /// are what the file says, a URL can carry them, and reading them another way would allow
    /// what the file, read as written, refuses.
    fn compile(raw: collect::RawRule, group: u32) -> Rule {
        let (pattern, bridged) = match &raw.octets {
            None => (Pattern::compile(&raw.pattern), None),
            Some(octets) => (
                Pattern::compile_octets(octets),
                (!raw.allow).then(|| Box::new(Pattern::compile(&raw.pattern))),
            ),
        };
        Rule {
            allow: raw.allow,
            pattern,
            bridged,
            line: raw.line,
            written: raw.pattern.into(),
            group,
        }
    }

    /// Whether the rule matches `path`, in any reading for a `Disallow` (see `Pattern`).
    fn matches(&self, path: &PathForms<'_>) -> bool {
        self.pattern.matches_path(path, !self.allow)
            || self
                .bridged
                .as_ref()
                .is_some_and(|b| b.matches_path(path, true))
    }

    /// Octets, for longest match: a bridged `Disallow` counts its longer reading, so that
    /// neither reading loses to an `Allow` that only one of them outweighs.
    fn specificity(&self) -> u32 {
        let bridged = self.bridged.as_ref().map_or(0, |b| b.specificity());
        self.pattern.specificity().max(bridged)
    }
}

/// The groups that apply to one product token; their rules are merged (§2.2.1) at decision
/// time, so a hostile file cannot multiply its rules by its agents. Found once by
/// [`RobotsTxt::selection`] for deciding many paths for one agent.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    groups: Box<[u32]>,
    /// The `User-agent` values that select these groups, as written (a few at most), for
    /// `robots.no-match` reasons.
    named: Arc<[Box<str>]>,
}

impl Selection {
    /// The indices (into [`RobotsTxt::groups`]) of the selected groups.
    pub fn groups(&self) -> &[u32] {
        &self.groups
    }
}

/// A [`Selection`] being gathered: groups, and the values that named them.
type Gathering = (Vec<u32>, Vec<Box<str>>);

/// At most this many spellings of one token are named in a reason.
const MAX_NAMED: usize = 4;

/// A compiled robots.txt file. Immutable; cheap to share behind an `Arc`.
#[derive(Clone, Debug)]
pub struct RobotsTxt {
    rules: Vec<Rule>,
    groups: Vec<Group>,
    /// Per group: indices into `rules`, most specific first and `Allow` before `Disallow` on
    /// a tie, so a group's first match is its decision.
    order: Vec<Box<[u32]>>,
    by_token: HashMap<Box<str>, Selection>,
    global: Option<Selection>,
    sitemaps: Vec<(u32, String)>,
    extensions: Vec<ExtensionLine>,
    rules_outside_groups: u32,
    truncated: bool,
    invalid_utf8: bool,
}

impl RobotsTxt {
    /// Parses and compiles robots.txt bytes with the default parse limit (512 KiB).
    /// Never fails and never panics: every byte sequence is some robots.txt.
    pub fn parse(bytes: &[u8]) -> RobotsTxt {
        RobotsTxt::parse_with_limit(bytes, DEFAULT_PARSE_LIMIT)
    }

    /// Parses with a parse limit in bytes (RFC 9309 §2.5); bytes past it are ignored and
    /// [`RobotsTxt::is_truncated`] says so.
    pub fn parse_with_limit(bytes: &[u8], parse_limit: usize) -> RobotsTxt {
        let prepared = input::prepare(bytes, parse_limit);
        let mut collector = Collector::new(&prepared.text, &prepared.bridged);
        robotstxt::parse_robotstxt(&prepared.text, &mut collector);
        let collected = collector.out;

        let mut rules = Vec::new();
        let mut groups = Vec::with_capacity(collected.groups.len());
        let mut order = Vec::with_capacity(collected.groups.len());
        let mut members: HashMap<Box<str>, Gathering> = HashMap::new();
        let mut global_members: Gathering = (Vec::new(), vec!["*".into()]);
        for (index, raw) in collected.groups.into_iter().enumerate() {
            let index = index as u32;
            for (_, written, reading) in &raw.agents {
                let (list, named) = match reading {
                    AgentLine::Global => &mut global_members,
                    AgentLine::Token(token) if token.is_empty() => continue,
                    AgentLine::Token(token) => members.entry(token.clone()).or_default(),
                };
                if list.last() != Some(&index) {
                    list.push(index);
                }
                if named.len() < MAX_NAMED && !named.iter().any(|n| **n == **written) {
                    named.push(written.as_str().into());
                }
            }
            let first_rule = rules.len();
            rules.extend(raw.rules.into_iter().map(|rule| Rule::compile(rule, index)));
            order.push(sorted_rules(&rules, first_rule));
            groups.push(Group {
                line: raw.agents.first().map_or(0, |(line, _, _)| *line),
                agents: raw.agents.into_iter().map(|(_, v, _)| v.into()).collect(),
                crawl_delays: raw.crawl_delays,
            });
        }

        let selection = |(groups, named): Gathering| Selection {
            groups: groups.into(),
            named: named.into(),
        };
        let by_token = members
            .into_iter()
            .map(|(token, m)| (token, selection(m)))
            .collect();
        let global = (!global_members.0.is_empty()).then(|| selection(global_members));
        RobotsTxt {
            rules,
            groups,
            order,
            by_token,
            global,
            sitemaps: collected.sitemaps,
            extensions: collected.extensions,
            rules_outside_groups: collected.rules_outside_groups,
            truncated: prepared.truncated,
            invalid_utf8: prepared.invalid_utf8,
        }
    }

    /// Decides whether `agent` (a product token, matched case-insensitively) may fetch `url`.
    pub fn allowed(&self, agent: &str, url: &Url) -> Decision {
        self.allowed_path(agent, &url[Position::BeforePath..Position::AfterQuery])
    }

    /// Decides for a path with optional query (`/a/b?c=d`), as it appears in a request line.
    pub fn allowed_path(&self, agent: &str, path: &str) -> Decision {
        let path = if path.is_empty() { "/" } else { path };
        let decision = self.decide(agent, path);
        self.with_notes(decision)
    }

    fn decide(&self, agent: &str, path: &str) -> Decision {
        self.decide_for(self.members(agent), &PathForms::of(path))
    }

    /// What [`RobotsTxt::allowed_path`] decides for the agent whose groups are `selection`
    /// (from [`RobotsTxt::selection`]), for a path already in both forms: for judging many
    /// URLs for one agent without looking the agent up, or canonicalising the path, again.
    pub fn allowed_for(&self, selection: Option<&Selection>, path: &PathForms<'_>) -> Decision {
        self.with_notes(self.decide_for(selection, path))
    }

    fn decide_for(&self, selection: Option<&Selection>, path: &PathForms<'_>) -> Decision {
        if is_robots_txt(&path.strict) {
            return allowed(
                source_reason(Code::RobotsImplicitAllow)
                    .with_detail("RFC 9309 §2.2.2: the /robots.txt URI is implicitly allowed"),
            );
        }
        let Some(selection) = selection else {
            return allowed(
                source_reason(Code::RobotsNoGroup)
                    .with_detail("no group names this agent and there is no `*` group"),
            );
        };
        match self.deciding_rule(&selection.groups, path) {
            None => allowed(Reason {
                agents: Some(selection.named.clone()),
                ..source_reason(Code::RobotsNoMatch)
            }),
            Some(rule) if rule.allow => allowed(self.rule_reason(rule)),
            Some(rule) => refused(self.rule_reason(rule)),
        }
    }

    /// The most specific rule of the groups `members` that matches `canonical_path`.
    fn deciding_rule(&self, members: &[u32], path: &PathForms<'_>) -> Option<&Rule> {
        members
            .iter()
            .filter_map(|&g| {
                self.order[g as usize]
                    .iter()
                    .map(|&i| &self.rules[i as usize])
                    .find(|rule| rule.matches(path))
            })
            .min_by_key(|rule| precedence(rule))
    }

    fn rule_reason(&self, rule: &Rule) -> Reason {
        Reason {
            line: Some(rule.line),
            rule: Some(rule.written.clone()),
            agents: Some(self.groups[rule.group as usize].agents.clone()),
            ..source_reason(if rule.allow {
                Code::RobotsAllow
            } else {
                Code::RobotsDisallow
            })
        }
    }

    /// The `Disallow` that refuses `path` to the groups `members` (as returned by
    /// [`RobotsTxt::applicable_groups`]), if one does; cheaper than a full decision, for
    /// checking many agents against one path. `/robots.txt` is never refused.
    pub fn refusal_for_groups(&self, members: &[u32], path: &str) -> Option<Reason> {
        self.refusal_for_forms(members, &PathForms::of(path))
    }

    /// [`RobotsTxt::refusal_for_groups`] for a path already in both forms.
    pub fn refusal_for_forms(&self, members: &[u32], path: &PathForms<'_>) -> Option<Reason> {
        if is_robots_txt(&path.strict) || members.is_empty() {
            return None;
        }
        let rule = self.deciding_rule(members, path)?;
        (!rule.allow).then(|| self.rule_reason(rule))
    }

    fn with_notes(&self, mut decision: Decision) -> Decision {
        if self.truncated {
            decision.reasons.push(
                source_reason(Code::RobotsTruncated)
                    .with_detail("bytes past the parse limit were ignored"),
            );
        }
        if self.invalid_utf8 {
            decision
                .reasons
                .push(source_reason(Code::RobotsInvalidUtf8).with_detail(
                    "the file is not UTF-8; lines that are not were read as Windows-1252 \
                         too, a Disallow in either reading refusing",
                ));
        }
        decision
    }

    /// The groups for `agent`, or the `*` groups when no group names it (§2.2.1); `None`
    /// when no group applies. Look it up once to decide many paths with
    /// [`RobotsTxt::allowed_for`].
    pub fn selection(&self, agent: &str) -> Option<&Selection> {
        self.members(agent)
    }

    /// The groups for `agent`, or the `*` groups when no group names it (§2.2.1).
    fn members(&self, agent: &str) -> Option<&Selection> {
        // Tokens are stored lower-cased; lower-case the query on the stack when it is short.
        let mut buf = [0u8; 64];
        let specific = if !agent.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_token.get(agent)
        } else if agent.len() <= buf.len() {
            let lower = &mut buf[..agent.len()];
            lower.copy_from_slice(agent.as_bytes());
            lower.make_ascii_lowercase();
            std::str::from_utf8(lower)
                .ok()
                .and_then(|l| self.by_token.get(l))
        } else {
            self.by_token.get(agent.to_ascii_lowercase().as_str())
        };
        specific.or(self.global.as_ref())
    }

    /// The indices (into [`RobotsTxt::groups`]) of the groups that apply to `agent`: every
    /// group naming it, or else every `*` group (RFC 9309 §2.2.1). Empty when none applies.
    /// Lines that extend a group (`Content-Usage`, `Content-Signal`) apply through this too.
    pub fn applicable_groups(&self, agent: &str) -> &[u32] {
        self.members(agent).map_or(&[], |s| &s.groups)
    }

    /// True when a group names `agent` itself (not only through `*`).
    pub fn names_agent(&self, agent: &str) -> bool {
        self.by_token
            .contains_key(agent.to_ascii_lowercase().as_str())
    }

    /// The largest `Crawl-delay` among the groups that apply to `agent`.
    pub fn crawl_delay(&self, agent: &str) -> Option<CrawlDelay> {
        self.members(agent)?
            .groups
            .iter()
            .flat_map(|&g| &self.groups[g as usize].crawl_delays)
            .map(|&(line, seconds)| CrawlDelay { seconds, line })
            .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
    }

    /// The groups in file order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// `Sitemap` lines: `(line, value)`.
    pub fn sitemaps(&self) -> &[(u32, String)] {
        &self.sitemaps
    }

    /// Lines the protocol does not define (e.g. `Content-Usage`, `Content-Signal`,
    /// `License`), with their line numbers and groups, for the parsers that read them.
    pub fn extension_lines(&self) -> &[ExtensionLine] {
        &self.extensions
    }

    /// How many `Allow`/`Disallow` lines stood before any `User-agent` line and were ignored.
    pub fn rules_outside_groups(&self) -> u32 {
        self.rules_outside_groups
    }

    /// The file was longer than the parse limit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The file was not valid UTF-8.
    pub fn had_invalid_utf8(&self) -> bool {
        self.invalid_utf8
    }
}

/// The order of longest match: most octets first, `Allow` before `Disallow` on a tie
/// (§2.2.2: "the "allow" rule SHOULD be used"), then the earlier line.
fn precedence(rule: &Rule) -> (std::cmp::Reverse<u32>, bool, u32) {
    (
        std::cmp::Reverse(rule.specificity()),
        !rule.allow,
        rule.line,
    )
}

/// The rules from `first` on (one group's), in precedence order, without empty patterns:
/// `Disallow:` with no path restricts nothing (§2.2 `empty-pattern`).
fn sorted_rules(rules: &[Rule], first: usize) -> Box<[u32]> {
    let mut order: Vec<u32> = (first..rules.len())
        .filter(|&i| !rules[i].pattern.is_empty())
        .map(|i| i as u32)
        .collect();
    order.sort_by_key(|&i| precedence(&rules[i as usize]));
    order.into()
}

/// RFC 9309 §2.2.2: "The /robots.txt URI is implicitly allowed", in any spelling
/// (`/%72obots.txt` is the same path), with or without a query.
fn is_robots_txt(canonical_path: &[u8]) -> bool {
    let path_only = canonical_path
        .split(|&b| b == b'?')
        .next()
        .unwrap_or(canonical_path);
    path_only == b"/robots.txt"
}

fn source_reason(code: Code) -> Reason {
    Reason::new(code).with_source("robots.txt")
}

fn allowed(reason: Reason) -> Decision {
    Decision {
        verdict: Verdict::Allowed,
        reasons: vec![reason],
    }
}

fn refused(reason: Reason) -> Decision {
    Decision {
        verdict: Verdict::Refused,
        reasons: vec![reason],
    }
}

#[cfg(test)]
mod tests;
