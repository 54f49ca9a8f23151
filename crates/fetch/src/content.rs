//! Judging what a response says about itself, with its site's policy: the fetcher's
//! re-check ([`super::Fetcher`]) and [`optout_engine::Engine::check_response`] (a response
//! fetched by someone else, such as Scrapy) decide through this one function, so a page is
//! judged the same whoever fetched it.

use super::response::looks_like_markup;
use optout_config::Config;
use optout_policy::html::PageMeta;
use optout_policy::judge::{Asset, Judge};
use optout_policy::site::SitePolicy;
use optout_policy::{Code, Decision, Purpose, Reason, Verdict};
use url::Url;

/// The decision on a response to `url` with `headers` (names in any case) and `body`:
/// `X-Robots-Tag`, TDMRep and `Content-Usage` headers, the HTML meta tags when the body is
/// markup (by its `Content-Type`, or by its first bytes without one), and for training the
/// paywall markup (JSON-LD `isAccessibleForFree: false`, Code of Practice Measure 1.2), which
/// discards the page when `fetch.discard_paywalled` is on.
pub fn judge_content(
    config: &Config,
    judge: &Judge<'_>,
    site: &SitePolicy,
    url: &Url,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Decision {
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str());
    let is_html = content_type.map_or_else(
        || looks_like_markup(body),
        |t| t.to_ascii_lowercase().contains("html"),
    );
    let meta = is_html.then(|| PageMeta::scan_encoded(body, content_type));
    let asset = Asset { headers, meta };
    let mut decision = judge.decide(site, Some(&asset), url);
    let paywalled = judge.purpose == Purpose::TrainAi
        && config.fetch.discard_paywalled
        && asset.meta.as_ref().is_some_and(PageMeta::paywalled);
    if paywalled {
        decision.reasons.insert(
            0,
            Reason::new(Code::AccessPaywalled)
                .with_source("html")
                .with_detail("JSON-LD isAccessibleForFree: false; not collected for training"),
        );
        decision.verdict = Verdict::Discarded;
    }
    decision
}
