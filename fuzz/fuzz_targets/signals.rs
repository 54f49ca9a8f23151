//! Fuzzes every reservation source judged together: robots.txt (with `Content-Usage`,
//! `Content-Signal`, `License` lines), tdmrep.json, ai.txt, response headers and HTML.
//!
//! Input layout: the input is split on the byte 0xFF into up to six parts:
//! robots.txt, tdmrep.json, ai.txt, header lines (`Name: value` per line), HTML, and a URL
//! path. Missing parts are absent sources. Text fields are decoded lossily. Headers include
//! `Robots-Tag` (draft-illyes-repext-03) and `X-Robots-Tag`; `signals.dict` has their
//! keywords: `cargo fuzz run signals -- -dict=signals.dict`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use optout::policy::aitxt::AiTxt;
use optout::policy::crawlers::AiCrawlers;
use optout::policy::excluded::ExcludedDomains;
use optout::policy::html::PageMeta;
use optout::policy::judge::{Asset, Judge};
use optout::policy::site::SitePolicy;
use optout::policy::tdmrep::TdmRepFile;
use optout::policy::{Purpose, RobotsTxt, Verdict, parse_url};
use std::sync::OnceLock;

fn crawlers() -> &'static AiCrawlers {
    static LIST: OnceLock<AiCrawlers> = OnceLock::new();
    LIST.get_or_init(AiCrawlers::default)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xFF);
    let robots = parts.next().filter(|p| !p.is_empty()).map(RobotsTxt::parse);
    let tdmrep = parts
        .next()
        .filter(|p| !p.is_empty())
        .map(TdmRepFile::parse);
    let aitxt = parts.next().filter(|p| !p.is_empty()).map(AiTxt::parse);
    let headers: Vec<(String, String)> = parts
        .next()
        .map(|h| {
            String::from_utf8_lossy(h)
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let meta = parts.next().map(PageMeta::parse);
    let path = parts
        .next()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| "/".to_owned());
    let Ok(url) = parse_url(&format!(
        "https://example.com/{}",
        path.trim_start_matches('/')
    )) else {
        return;
    };
    let site = SitePolicy::new(robots, tdmrep, aitxt, crawlers());
    let asset = Asset { headers, meta };
    let excluded = ExcludedDomains::parse("excluded.example\n").expect("valid list");
    for purpose in Purpose::ALL {
        for agent in ["optout", "GPTBot", "examplebot"] {
            let judge = Judge {
                agent,
                purpose,
                excluded: &excluded,
                ai_crawler_blocks: true,
            };
            for asset in [None, Some(&asset)] {
                let d = judge.decide(&site, asset, &url);
                assert!(!d.reasons.is_empty(), "a decision always has a reason");
                if d.verdict == Verdict::Allowed {
                    // An allowed decision never lists a refusing robots.txt rule first.
                    assert_ne!(d.reasons[0].code.as_str(), "robots.disallow");
                }
            }
        }
    }
});
