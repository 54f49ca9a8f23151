//! What the crawler honours, and how a site says no to it: the protocols with their
//! versions, the crawler's general behaviour, and example reservations per purpose. The
//! text follows `docs/decisions.md`; a test runs every example through the engine, so the
//! page cannot promise what the crawler does not do.

use crate::protocol::Protocol as ReportProtocol;
use optout_config::Config;
use optout_policy::Purpose;
use serde::{Deserialize, Serialize};

/// One opt-out protocol the crawler reads (Code of Practice, Measure 1.3(1)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocol {
    /// Its common name.
    pub name: String,
    /// The specification and version followed.
    pub specification: String,
    /// Where the specification is published.
    pub url: String,
    /// Where the crawler reads it.
    pub read_from: Vec<String>,
    /// The purposes it can reserve.
    pub purposes: Vec<Purpose>,
    /// Whether this configuration honours it (some are configurable).
    pub honoured: bool,
}

/// How a site reserves its content from one purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOut {
    /// The purpose reserved.
    pub purpose: Purpose,
    /// Whether the crawler collects for this purpose at all.
    pub collected: bool,
    /// Lines to add to robots.txt (a whole file as an example).
    pub robots_txt: String,
    /// Response headers that reserve a page or file for this purpose.
    pub headers: Vec<String>,
    /// HTML `<meta>` tags that reserve a page for this purpose.
    pub html: Vec<String>,
}

/// One protocol; its specification and version are the ones the report and the EU summary
/// name ([`ReportProtocol::version`]), written in one place.
fn protocol(
    name: &str,
    specification: ReportProtocol,
    url: &str,
    read_from: &[&str],
    purposes: &[Purpose],
    honoured: bool,
) -> Protocol {
    Protocol {
        name: name.into(),
        specification: specification.version().into(),
        url: url.into(),
        read_from: read_from.iter().map(|s| (*s).to_owned()).collect(),
        purposes: purposes.to_vec(),
        honoured,
    }
}

/// The protocols honoured, as this configuration reads them.
pub fn protocols(config: &Config) -> Vec<Protocol> {
    use Purpose::{AiInput, Search, TrainAi};
    let tdmrep_from: &[&str] = if config.net.fetch_tdmrep {
        &[
            "/.well-known/tdmrep.json",
            "tdm-reservation and tdm-policy response headers",
            "<meta name=\"tdm-reservation\"> and <meta name=\"tdm-policy\">",
        ]
    } else {
        &[
            "tdm-reservation and tdm-policy response headers",
            "<meta name=\"tdm-reservation\"> and <meta name=\"tdm-policy\">",
        ]
    };
    vec![
        protocol(
            "robots.txt",
            ReportProtocol::Robots,
            "https://www.rfc-editor.org/rfc/rfc9309",
            &["/robots.txt: Allow, Disallow, Crawl-delay"],
            &Purpose::ALL,
            true,
        ),
        protocol(
            "AI-crawler blocks",
            ReportProtocol::AiCrawlerBlocks,
            "https://github.com/ai-robots-txt/ai.robots.txt",
            &["/robots.txt"],
            &[TrainAi],
            config.signals.ai_crawler_blocks,
        ),
        protocol(
            "TDMRep",
            ReportProtocol::Tdmrep,
            "https://www.w3.org/community/reports/tdmrep/",
            tdmrep_from,
            &[TrainAi, AiInput],
            true,
        ),
        protocol(
            "IETF AI preferences",
            ReportProtocol::Aipref,
            "https://datatracker.ietf.org/wg/aipref/documents/",
            &[
                "Content-Usage lines in /robots.txt",
                "Content-Usage response header",
            ],
            &[TrainAi, Search],
            true,
        ),
        protocol(
            "Content Signals",
            ReportProtocol::ContentSignals,
            "https://datatracker.ietf.org/doc/draft-romm-aipref-contentsignals/",
            &["Content-Signal lines in /robots.txt"],
            &[TrainAi, AiInput, Search],
            true,
        ),
        protocol(
            "noai, noimageai",
            ReportProtocol::Noai,
            "https://www.deviantart.com/team/journal/UPDATE-All-Deviations-Are-Opted-Out-of-AI-Datasets-934500371",
            &[
                "Robots-Tag response header (draft-illyes-repext-03: *;noai, <product token>;noai)",
                "X-Robots-Tag response header",
                "<meta name=\"robots\"> and <meta name=\"<product token>\">",
            ],
            &[TrainAi],
            true,
        ),
        protocol(
            "ai.txt",
            ReportProtocol::AiTxt,
            "https://site.spawning.ai/spawning-ai-txt",
            &["/ai.txt"],
            &[TrainAi],
            config.net.fetch_aitxt,
        ),
    ]
}

/// The crawler's general behaviour, in sentences (the EU template's "general description
/// of crawler behaviour": robots.txt, paywalls, captchas).
pub fn behaviour(config: &Config) -> Vec<String> {
    let mut lines = vec![
        "Every URL is judged before it is requested, and every redirect hop before it is followed.".to_owned(),
        "When a site's policy files cannot be read (a 429 or 5xx answer, a timeout, a network failure), nothing is fetched from the site for the purposes those files could reserve (RFC 9309 §2.3.1.4: complete disallow).".to_owned(),
        "Reservations found in a response (headers, meta tags) discard its content: it is not kept.".to_owned(),
        "Access control is respected: a 401, 402, 403, 407 or 451 answer is never retried with other credentials, headers or agents; no credentials are ever sent, nothing is paid for, and captchas are not solved (Code of Practice, Measure 1.2).".to_owned(),
        "Every decision is recorded with the policy files that made it in a hash-chained evidence log; its checkpoints are published in this page's feed.".to_owned(),
    ];
    if config.fetch.discard_paywalled {
        lines.push("Pages marked as paywalled (schema.org isAccessibleForFree: false) are not kept for AI training.".into());
    }
    lines
}

/// The example reservations, one per purpose; `collected` marks the purposes the crawler
/// collects for.
pub fn opt_outs(collected: &[Purpose]) -> Vec<OptOut> {
    Purpose::ALL
        .into_iter()
        .map(|purpose| {
            let (lines, headers, html): (&str, &[&str], &[&str]) = match purpose {
                Purpose::TrainAi => (
                    "Content-Usage: train-ai=n\nContent-Signal: ai-train=no\n",
                    &[
                        "Content-Usage: train-ai=n",
                        "tdm-reservation: 1",
                        "Robots-Tag: *;noai",
                        "X-Robots-Tag: noai",
                    ],
                    &[
                        "<meta name=\"robots\" content=\"noai, noimageai\">",
                        "<meta name=\"tdm-reservation\" content=\"1\">",
                    ],
                ),
                Purpose::AiInput => (
                    "Content-Signal: ai-input=no\n",
                    &["tdm-reservation: 1"],
                    &["<meta name=\"tdm-reservation\" content=\"1\">"],
                ),
                Purpose::Search => (
                    "Content-Usage: search=n\nContent-Signal: search=no\n",
                    &["Content-Usage: search=n"],
                    &[],
                ),
            };
            OptOut {
                purpose,
                collected: collected.contains(&purpose),
                robots_txt: format!("User-agent: *\n{lines}"),
                headers: headers.iter().map(|s| (*s).to_owned()).collect(),
                html: html.iter().map(|s| (*s).to_owned()).collect(),
            }
        })
        .collect()
}

/// The robots.txt that keeps the crawler away from a whole site, for every purpose.
pub fn block_all(product_token: &str) -> String {
    format!("User-agent: {product_token}\nDisallow: /\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use optout_policy::crawlers::AiCrawlers;
    use optout_policy::excluded::ExcludedDomains;
    use optout_policy::judge::{Asset, Judge};
    use optout_policy::site::SitePolicy;
    use optout_policy::{RobotsTxt, parse_url};

    fn refused(robots: &str, asset: Option<&Asset>, purpose: Purpose) -> bool {
        let excluded = ExcludedDomains::default();
        let judge = Judge {
            agent: "optout",
            purpose,
            excluded: &excluded,
            ai_crawler_blocks: true,
        };
        let site = SitePolicy::new(
            Some(RobotsTxt::parse(robots.as_bytes())),
            None,
            None,
            &AiCrawlers::default(),
        );
        let url = parse_url("https://example.com/article/1").unwrap();
        !judge.decide(&site, asset, &url).is_allowed()
    }

    /// Each example reserves its purpose and no other (TDMRep reserves text and data
    /// mining, which is both AI training and AI input: `docs/decisions.md`).
    #[test]
    fn every_example_reserves_what_the_page_says() {
        let tdm = |purpose| matches!(purpose, Purpose::TrainAi | Purpose::AiInput);
        for example in opt_outs(&[Purpose::TrainAi]) {
            for other in Purpose::ALL {
                let mine = other == example.purpose;
                assert_eq!(
                    refused(&example.robots_txt, None, other),
                    mine,
                    "robots.txt for {} judged for {other}",
                    example.purpose
                );
                for header in &example.headers {
                    let (name, value) = header.split_once(": ").unwrap();
                    let asset = Asset {
                        headers: vec![(name.into(), value.into())],
                        meta: None,
                    };
                    let expected = mine || (name == "tdm-reservation" && tdm(other));
                    assert_eq!(
                        refused("", Some(&asset), other),
                        expected,
                        "{header} judged for {other}"
                    );
                }
                for tag in &example.html {
                    let page = format!("<html><head>{tag}</head><body></body></html>");
                    let asset = Asset {
                        headers: vec![("Content-Type".into(), "text/html".into())],
                        meta: Some(optout_policy::html::PageMeta::parse(page.as_bytes())),
                    };
                    let expected = mine || (tag.contains("tdm-reservation") && tdm(other));
                    assert_eq!(
                        refused("", Some(&asset), other),
                        expected,
                        "{tag} for {other}"
                    );
                }
            }
        }
        for purpose in Purpose::ALL {
            assert!(refused(&block_all("optout"), None, purpose));
        }
        assert!(opt_outs(&[Purpose::Search])[2].collected);
    }
}
