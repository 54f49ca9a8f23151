//! Sections 2.3 and 3.1 of the public summary of training content (AI Office template,
//! C(2025) 5235): what the evidence log proves is computed from the report's figures, what
//! only a person can write comes from `[summary]` in the configuration, and a field nobody
//! filled in says so ([`TO_BE_COMPLETED`](super::template::TO_BE_COMPLETED)).

use super::figures::Figures;
use super::protocol::Protocol;
use super::template as t;
use optout_config::Config;
use serde::Serialize;

/// The most domains the template's SME option lists.
pub const SME_MAX_DOMAINS: usize = 1000;

/// Which domain-list rule of the template applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cut {
    /// The top 10% of all domains by size of content kept.
    TopTenPercent,
    /// Small and medium-sized enterprises: the top 5%, or 1,000 domains, whichever is less.
    Sme,
}

impl Cut {
    /// How many of `n` ranked domains are listed: `ceil(n × 10 / 100)`, or for SMEs
    /// `min(ceil(n × 5 / 100), 1000)`. Rounding up keeps at least one domain whenever any
    /// exists (a 10% of 4 domains is 0.4: the first one is listed, not none).
    pub fn size(self, n: usize) -> usize {
        match self {
            Cut::TopTenPercent => n.div_ceil(10),
            Cut::Sme => n.div_ceil(20).min(SME_MAX_DOMAINS),
        }
    }

    /// The rule in words, for the summary.
    pub fn rule(self) -> &'static str {
        match self {
            Cut::TopTenPercent => {
                "the top 10% of all domain names by size of content kept (rounded up)"
            }
            Cut::Sme => {
                "SME option: the top 5% of all domain names by size of content kept (rounded \
                 up), at most 1,000"
            }
        }
    }
}

/// One field of the template.
#[derive(Clone, Debug, Serialize)]
pub struct Field {
    /// The template's label, verbatim.
    pub label: &'static str,
    /// The answer: what the provider wrote, or what optout could answer alone (Yes/No, the
    /// period); `None` when it is still to be written.
    pub answer: Option<String>,
    /// The answer is still to be written by the provider.
    pub to_be_completed: bool,
    /// Facts from the configuration and the evidence log, to support the answer.
    pub from_evidence: Vec<String>,
    /// The answer is the provider's own prose (Markdown they wrote, printed as written);
    /// otherwise it was computed and is escaped like any string from the log.
    #[serde(skip)]
    pub prose: bool,
}

impl Field {
    fn new(label: &'static str, answer: Option<String>, required: bool) -> Field {
        let answer = answer.filter(|a| !a.trim().is_empty());
        Field {
            label,
            to_be_completed: required && answer.is_none(),
            answer,
            from_evidence: Vec::new(),
            prose: false,
        }
    }

    fn prose(label: &'static str, text: &str) -> Field {
        Field {
            prose: true,
            ..Field::new(label, Some(text.to_owned()), true)
        }
    }

    fn with(mut self, facts: Vec<String>) -> Field {
        self.from_evidence = facts;
        self
    }
}

/// A listed domain.
#[derive(Clone, Debug, Serialize)]
pub struct ListedDomain {
    /// The registrable domain.
    pub domain: String,
    /// Bytes kept from it.
    pub bytes: u64,
}

/// One protocol's line in 3.1.
#[derive(Clone, Debug, Serialize)]
pub struct Honoured {
    /// Its name.
    pub protocol: &'static str,
    /// The specification and version implemented.
    pub version: &'static str,
    /// How it is honoured under this configuration.
    pub honoured: String,
    /// Refused or discarded records with one of its reservations.
    pub refusals: u64,
    /// Records refused because its file could not be read.
    pub unreachable: u64,
    /// Origins whose evidence shows they use it.
    pub origins_using: Option<u64>,
}

/// The two sections.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The template.
    pub template: &'static str,
    /// The provider (`summary.provider`).
    pub provider: Option<String>,
    /// The model (`summary.model`).
    pub model: Option<String>,
    /// The records the summary is computed from.
    pub records: u64,
    /// The `--since` filter.
    pub since: Option<String>,
    /// The `--until` filter.
    pub until: Option<String>,
    /// The domain-list rule.
    pub cut: Cut,
    /// Domains with content kept: the `n` of the cut.
    pub domains_with_content: usize,
    /// The domains listed in 2.3, in rank order.
    pub domains: Vec<ListedDomain>,
    /// The protocols of 3.1.
    pub protocols: Vec<Honoured>,
    /// Section 2.3, field by field.
    pub section_2_3: Vec<Field>,
    /// Section 3.1, field by field.
    pub section_3_1: Vec<Field>,
}

/// The domains listed under `cut`: those with content kept, ranked by bytes (descending),
/// ties by name ([`Figures::domains`] is in that order).
pub fn listed(figures: &Figures, cut: Cut) -> (usize, Vec<ListedDomain>) {
    let ranked = figures.domains.iter().filter(|d| d.kept > 0);
    let n = ranked.clone().count();
    let list = ranked
        .take(cut.size(n))
        .map(|d| ListedDomain {
            domain: d.domain.clone(),
            bytes: d.bytes,
        })
        .collect();
    (n, list)
}

/// `2026-11-28T...` as `11/2026`, the template's month format.
fn month(time: &str) -> String {
    match (time.get(0..4), time.get(5..7)) {
        (Some(y), Some(m)) => format!("{m}/{y}"),
        _ => time.to_owned(),
    }
}

/// The summary of `figures` under `config`.
pub fn summary(config: &Config, figures: &Figures, cut: Cut) -> Summary {
    let s = &config.summary;
    let (n, domains) = listed(figures, cut);
    let protocols = honoured(config, figures);
    let names = |map: &std::collections::BTreeMap<String, u64>| -> Vec<String> {
        map.iter()
            .map(|(k, v)| match k.as_str() {
                "" => format!("(none): {v} records"),
                k => format!("{k}: {v} records"),
            })
            .collect()
    };
    let used = if figures.responses > 0 { "Yes" } else { "No" };
    let computed_period = match (&figures.first, &figures.last) {
        (Some(first), Some(last)) => Some(format!("From {} to {}", month(first), month(last))),
        _ => None,
    };
    let mut period_facts = vec![match (&figures.first, &figures.last) {
        (Some(first), Some(last)) => format!("records from {first} to {last}"),
        _ => "no dated records".to_owned(),
    }];
    if let Some(since) = &figures.since {
        period_facts.push(format!("filter --since {since}"));
    }
    if let Some(until) = &figures.until {
        period_facts.push(format!("filter --until {until}"));
    }
    let section_2_3 = vec![
        Field::new(t::CRAWLERS_USED, Some(used.into()), true).with(vec![format!(
            "{} records of responses to requests in the evidence log",
            figures.responses
        )]),
        Field::new(
            t::CRAWLER_NAMES,
            Some(format!(
                "User-Agent: {}; robots.txt product token: {}",
                optout_net::client::user_agent(config),
                config.crawler.product_token
            )),
            true,
        )
        .with(names(&figures.agents)),
        Field::prose(t::PURPOSES, &s.purposes).with(names(&figures.purposes)),
        Field::prose(t::BEHAVIOUR, &s.crawler_behaviour).with(behaviour(config)),
        if s.period.trim().is_empty() {
            Field::new(t::PERIOD, computed_period, true)
        } else {
            Field::prose(t::PERIOD, &s.period)
        }
        .with(period_facts),
        Field::prose(t::CONTENT, &s.content_description).with(vec![format!(
            "{} responses kept ({} bytes) from {} domains ({} origins seen)",
            figures.kept, figures.bytes_kept, n, figures.origins
        )]),
        Field::new(t::MODALITY, Some(s.modalities.join(", ")), true),
        Field::new(
            t::DOMAINS,
            Some(
                domains
                    .iter()
                    .map(|d| d.domain.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            true,
        )
        .with(vec![format!(
            "{}: {} of {n} domains with content kept; the full list is domains.csv",
            cut.rule(),
            domains.len()
        )]),
        Field {
            prose: true,
            ..Field::new(t::COMMENTS, Some(s.comments_crawling.clone()), false)
        },
    ];
    let refused = figures.verdict("refused");
    let discarded = figures.verdict("discarded");
    let section_3_1 = vec![
        Field::new(
            t::SIGNATORY,
            s.signatory.map(|y| if y { "Yes" } else { "No" }.to_owned()),
            true,
        ),
        Field::prose(t::MEASURES, &s.measures).with(vec![format!(
            "{} decisions recorded: {refused} refused (nothing collected), {discarded} \
             discarded after the response (body dropped, never stored); the protocols \
             honoured, and the refusals each caused, are in the table",
            figures.records
        )]),
        Field {
            prose: true,
            ..Field::new(t::COMMENTS, Some(s.comments_reservations.clone()), false)
        },
    ];
    Summary {
        template: t::TEMPLATE,
        provider: Some(s.provider.clone()).filter(|p| !p.is_empty()),
        model: Some(s.model.clone()).filter(|m| !m.is_empty()),
        records: figures.records,
        since: figures.since.clone(),
        until: figures.until.clone(),
        cut,
        domains_with_content: n,
        domains,
        protocols,
        section_2_3,
        section_3_1,
    }
}

/// The protocols honoured, with how this configuration honours them and the refusals.
fn honoured(config: &Config, figures: &Figures) -> Vec<Honoured> {
    let on_off = |on: bool, yes: &str, key: &str| {
        if on {
            yes.to_owned()
        } else {
            format!("off ({key} = false)")
        }
    };
    Protocol::ALL
        .iter()
        .zip(&figures.protocols)
        .filter(|(p, _)| **p != Protocol::Other)
        .map(|(p, f)| Honoured {
            protocol: p.name(),
            version: p.version(),
            honoured: match p {
                Protocol::Robots => "always; unreachable robots.txt refuses every URL".into(),
                Protocol::Tdmrep => on_off(
                    config.net.fetch_tdmrep,
                    "tdmrep.json, headers and meta tags",
                    "net.fetch_tdmrep",
                ),
                Protocol::AiTxt => on_off(config.net.fetch_aitxt, "always", "net.fetch_aitxt"),
                Protocol::AiCrawlerBlocks => on_off(
                    config.signals.ai_crawler_blocks,
                    "always",
                    "signals.ai_crawler_blocks",
                ),
                Protocol::ExcludedDomains => match config.signals.excluded_domains_file {
                    Some(_) => "a list is configured".into(),
                    None => "no list configured".into(),
                },
                Protocol::AccessControl => on_off(
                    config.fetch.discard_paywalled,
                    "always; paywalled pages discarded",
                    "fetch.discard_paywalled",
                ),
                _ => "always".into(),
            },
            refusals: f.refusals,
            unreachable: f.unreachable,
            origins_using: f.origins_using,
        })
        .collect()
}

/// What the configuration says of the crawler's behaviour.
fn behaviour(config: &Config) -> Vec<String> {
    let p = &config.politeness;
    let mut facts = vec![
        format!(
            "reads and follows robots.txt (RFC 9309) as product token {:?}; when robots.txt \
             cannot be fetched (429, 5xx, network failure) every URL of the site is refused \
             (RFC 9309 §2.3.1.4)",
            config.crawler.product_token
        ),
        format!(
            "at most one request per host every {} ms, slower when robots.txt Crawl-delay \
             asks; sites asking for more than {} s are skipped",
            p.min_interval_ms, p.max_crawl_delay_s
        ),
        format!(
            "on 429 and 503 it waits (Retry-After, else back-off) and retries at most {} times",
            p.max_retries
        ),
        "401, 402, 403, 407 and 451 are never retried, circumvented or paid for; no \
         credentials are ever sent (Code of Practice, Measure 1.2)"
            .to_owned(),
        "responses are re-checked (headers, HTML meta tags) and reserved ones discarded \
         before their body is kept; every decision is recorded in a hash-chained evidence log"
            .to_owned(),
    ];
    if config.fetch.discard_paywalled {
        facts.push(
            "pages marked paywalled (schema.org isAccessibleForFree: false) are not collected \
             for training"
                .to_owned(),
        );
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_rounds_up_and_caps_sme_lists() {
        for (n, ten, five) in [
            (0, 0, 0),
            (1, 1, 1),
            (4, 1, 1),
            (10, 1, 1),
            (11, 2, 1),
            (20, 2, 1),
            (21, 3, 2),
            (25, 3, 2),
            (100, 10, 5),
            (19_999, 2000, 1000),
            (20_000, 2000, 1000),
            (20_001, 2001, 1000),
            (30_000, 3000, 1000),
        ] {
            assert_eq!(Cut::TopTenPercent.size(n), ten, "10% of {n}");
            assert_eq!(Cut::Sme.size(n), five, "SME of {n}");
        }
    }

    #[test]
    fn the_sme_list_stops_at_1000_domains_of_a_larger_log() {
        use crate::figures::DomainFigures;
        // 30,000 domains with content (5% = 1,500) and 10 without: the 1,000 largest.
        let mut figures = Figures {
            domains: (0..30_010u64)
                .map(|i| DomainFigures {
                    domain: format!("d{i:05}.example"),
                    kept: u64::from(i < 30_000),
                    bytes: if i < 30_000 { 1_000_000 - i } else { 0 },
                    ..DomainFigures::default()
                })
                .collect(),
            ..Figures::default()
        };
        figures.domains.reverse();
        figures
            .domains
            .sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.domain.cmp(&b.domain)));
        let (n, sme) = listed(&figures, Cut::Sme);
        assert_eq!((n, sme.len()), (30_000, 1000));
        assert_eq!(sme[999].domain, "d00999.example");
        let (_, ten) = listed(&figures, Cut::TopTenPercent);
        assert_eq!(ten.len(), 3000);
        let summary = summary(&Config::default(), &figures, Cut::Sme);
        assert_eq!(summary.domains.len(), 1000);
        let modality = &summary.section_2_3[6];
        assert_eq!(modality.label, t::MODALITY);
        assert!(modality.to_be_completed && modality.answer.is_none());
    }
}
