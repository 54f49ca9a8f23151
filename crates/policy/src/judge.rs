//! One decision from every source: what the site's files say ([`SitePolicy`]), what a
//! response says ([`Asset`]), the excluded-domains list, for one agent and purpose.
//!
//! Every refusing signal is listed, not only the first: the evidence should show all the
//! ways a site said no. Robots.txt `Disallow` and excluded domains refuse every purpose;
//! each other signal refuses the purposes it names (see `docs/decisions.md`).

use crate::aipref::UsagePrefs;
use crate::content_signal::ContentSignals;
use crate::decision::{Code, Decision, Reason, Verdict};
use crate::excluded::ExcludedDomains;
use crate::html::PageMeta;
use crate::path_rules::PathRule;
use crate::pref::Pref;
use crate::purpose::Purpose;
use crate::robots::PathForms;
use crate::robots_tag;
use crate::site::SitePolicy;
use crate::tags::{AiTags, is_image};
use crate::tdmrep::{TdmSource, TdmState};
use url::{Position, Url};

/// Reads one category's preference out of a statement.
type Pick<T> = fn(&T) -> Pref;

/// What a response says about itself (asset-based reservations).
#[derive(Clone, Debug, Default)]
pub struct Asset {
    /// Response headers, `(name, value)`, names in any case, repeated names allowed.
    pub headers: Vec<(String, String)>,
    /// The page's `<meta>` elements, for HTML responses.
    pub meta: Option<PageMeta>,
}

impl Asset {
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The last value of a header (for single-valued TDMRep headers).
    fn last_header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).last()
    }
}

/// Who decides, for what: the agent, the purpose and the lists that apply to every site.
#[derive(Clone, Copy, Debug)]
pub struct Judge<'a> {
    /// Our product token.
    pub agent: &'a str,
    /// What the content is for.
    pub purpose: Purpose,
    /// Domains always refused.
    pub excluded: &'a ExcludedDomains,
    /// Whether a disallow for a known AI-training crawler counts as a training opt-out.
    pub ai_crawler_blocks: bool,
}

impl Judge<'_> {
    /// Decides for `url`, from the site's files and, after a fetch, the response.
    pub fn decide(&self, site: &SitePolicy, asset: Option<&Asset>, url: &Url) -> Decision {
        let path = &url[Position::BeforePath..Position::AfterQuery];
        let path = if path.is_empty() { "/" } else { path };
        let train = self.purpose == Purpose::TrainAi;
        let mut refusals: Vec<Reason> = Vec::new();
        let mut notes: Vec<Reason> = Vec::new();

        if let Some(reason) = url.host_str().and_then(|h| self.excluded.reason_for(h)) {
            refusals.push(reason);
        }
        for (reason, purposes) in &site.standing {
            if purposes.contains(&self.purpose) {
                refusals.push(reason.clone());
            }
        }
        notes.extend(site.notes.iter().cloned());

        let mut robots_allowed = None;
        if let Some(robots) = &site.robots {
            // The agent's groups and the path's canonical forms, found once for every check.
            let selection = robots.selection(self.agent);
            let forms = PathForms::of(path);
            let mut decision = robots.allowed_for(selection, &forms);
            let first = decision.reasons.remove(0);
            match decision.verdict {
                Verdict::Refused | Verdict::Discarded => refusals.push(first),
                Verdict::Allowed => robots_allowed = Some(first),
            }
            notes.extend(decision.reasons);
            if train && self.ai_crawler_blocks {
                self.ai_crawler_blocks(site, &forms, &mut refusals);
            }
            let groups = selection.map_or(&[][..], |s| s.groups());
            if let Some(usage) = &site.usage {
                let matching = usage.matching(groups, path, |p| {
                    p.train_ai == Pref::Disallow || p.search == Pref::Disallow
                });
                for rule in matching.iter().filter(|r| r.value.invalid) {
                    notes.push(
                        Reason::new(Code::AiprefInvalid)
                            .with_source("robots.txt")
                            .with_line(rule.line)
                            .with_rule(&*rule.written)
                            .with_detail("not a structured-field dictionary: preferences unknown"),
                    );
                }
                let category: Option<(Code, Pick<UsagePrefs>)> = match self.purpose {
                    Purpose::TrainAi => Some((Code::AiprefTrainAi, |p| p.train_ai)),
                    Purpose::Search => Some((Code::AiprefSearch, |p| p.search)),
                    Purpose::AiInput => None,
                };
                if let Some((code, pick)) = category {
                    refusals.extend(path_refusal(&matching, pick, code));
                }
            }
            if let Some(signals) = &site.signals {
                let matching = signals.matching(groups, path, |s| {
                    [s.ai_train, s.ai_input, s.search].contains(&Pref::Disallow)
                });
                let (code, pick): (Code, Pick<ContentSignals>) = match self.purpose {
                    Purpose::TrainAi => (Code::ContentSignalAiTrain, |s| s.ai_train),
                    Purpose::AiInput => (Code::ContentSignalAiInput, |s| s.ai_input),
                    Purpose::Search => (Code::ContentSignalSearch, |s| s.search),
                };
                refusals.extend(path_refusal(&matching, pick, code));
            }
            for (line, license) in &site.licenses {
                notes.push(
                    Reason::new(Code::RslLicense)
                        .with_source("robots.txt")
                        .with_line(*line)
                        .with_policy(&**license),
                );
            }
        }

        if matches!(self.purpose, Purpose::TrainAi | Purpose::AiInput) {
            let mut tdm = TdmState::from_file(site.tdmrep.as_ref(), path);
            if let Some(asset) = asset {
                // Every value counts, also lines combined with commas (RFC 9110 §5.3).
                tdm.layer(
                    asset
                        .header_values("tdm-reservation")
                        .flat_map(|v| v.split(',')),
                    asset.last_header("tdm-policy"),
                    TdmSource::Header,
                    "header tdm-reservation",
                );
                if let Some(meta) = &asset.meta {
                    tdm.layer(
                        meta.get("tdm-reservation"),
                        meta.get("tdm-policy").last(),
                        TdmSource::Html,
                        "meta tdm-reservation",
                    );
                }
            }
            notes.append(&mut tdm.notes);
            refusals.extend(tdm.reserved_reason("tdmrep.json"));
        }

        if train
            && let Some(reason) = site
                .aitxt
                .as_ref()
                .and_then(|a| a.reservation(self.agent, path))
        {
            refusals.push(reason);
        }

        if let Some(asset) = asset {
            self.asset_signals(asset, path, &mut refusals, &mut notes);
        }

        let verdict = if refusals.is_empty() {
            Verdict::Allowed
        } else {
            Verdict::Refused
        };
        let mut reasons = refusals;
        if let Some(allow) = robots_allowed {
            reasons.push(allow);
        }
        if reasons.is_empty() {
            reasons.push(
                Reason::new(Code::NoReservation)
                    .with_detail("no source consulted reserves this URL for this purpose"),
            );
        }
        reasons.append(&mut notes);
        Decision { verdict, reasons }
    }

    /// `robots.ai-crawler-block`: a known AI-training crawler's own group disallows the path.
    /// One reason per set of groups, naming the crawlers it refuses.
    fn ai_crawler_blocks(&self, site: &SitePolicy, path: &PathForms, refusals: &mut Vec<Reason>) {
        let Some(robots) = &site.robots else { return };
        for named in &site.ai_named {
            // No detail when the set is only our own group: already decided above.
            if let Some(rule) = robots.refusal_for_forms(&named.groups, path)
                && let Some(detail) = named.block_detail(self.agent)
            {
                refusals.push(Reason {
                    code: Code::RobotsAiCrawlerBlock,
                    detail: Some(detail.into()),
                    ..rule
                });
            }
        }
    }

    /// Signals in the response: `Content-Usage`, `Robots-Tag`, `X-Robots-Tag`, robots
    /// `<meta>` tags.
    fn asset_signals(
        &self,
        asset: &Asset,
        path: &str,
        refusals: &mut Vec<Reason>,
        notes: &mut Vec<Reason>,
    ) {
        let mut usage = UsagePrefs::default();
        for value in asset.header_values("content-usage") {
            let prefs = UsagePrefs::parse(value);
            if prefs.invalid {
                notes.push(
                    Reason::new(Code::AiprefInvalid)
                        .with_source("header Content-Usage")
                        .with_rule(value.trim())
                        .with_detail("not a structured-field dictionary: preferences unknown"),
                );
            }
            usage = usage.combine(prefs);
        }
        if self.purpose == Purpose::TrainAi && usage.train_ai == Pref::Disallow {
            refusals.push(Reason::new(Code::AiprefTrainAi).with_source("header Content-Usage"));
        }
        if self.purpose == Purpose::Search && usage.search == Pref::Disallow {
            refusals.push(Reason::new(Code::AiprefSearch).with_source("header Content-Usage"));
        }
        if self.purpose != Purpose::TrainAi {
            return;
        }
        let image = is_image(asset.last_header("content-type"), path);
        // draft-illyes-repext-03 §3.1.1: `Robots-Tag` beside `X-Robots-Tag`; either reserves.
        refusals.extend(robots_tag::training_refusal(
            asset.header_values("robots-tag"),
            self.agent,
            image,
        ));
        let mut found = |source: String, value: &str, meta: bool| {
            let mut tags = AiTags::default();
            if meta {
                tags.read_meta(value);
            } else {
                tags.read(value, self.agent);
            }
            if tags.noai {
                refusals.push(
                    Reason::new(Code::TagsNoai)
                        .with_source(source.clone())
                        .with_rule(value.trim()),
                );
            } else if tags.noimageai && image {
                refusals.push(
                    Reason::new(Code::TagsNoimageai)
                        .with_source(source)
                        .with_rule(value.trim()),
                );
            }
        };
        for value in asset.header_values("x-robots-tag") {
            found("header X-Robots-Tag".into(), value, false);
        }
        if let Some(meta) = &asset.meta {
            for value in meta.get("robots") {
                found("meta robots".into(), value, true);
            }
            for value in meta.get(self.agent) {
                found(
                    format!("meta {}", self.agent.to_ascii_lowercase()),
                    value,
                    true,
                );
            }
        }
    }
}

/// The refusal from robots.txt preference lines (`Content-Usage`, `Content-Signal`): the
/// longest matching lines combine to the most restrictive (aipref vocab §7.1), so the
/// category is disallowed when any of them disallows it; that line is named.
fn path_refusal<T>(
    matching: &[&PathRule<T>],
    pick: impl Fn(&T) -> Pref,
    code: Code,
) -> Option<Reason> {
    let rule = matching.iter().find(|r| pick(&r.value) == Pref::Disallow)?;
    Some(
        Reason::new(code)
            .with_source("robots.txt")
            .with_line(rule.line)
            .with_rule(&*rule.written),
    )
}
