//! One URL of the crawl, through the fetch pipeline, as a task of its own: the request
//! (with the validators of a re-crawl), then the links of a kept page. And the sitemaps of
//! an origin, also through the pipeline.

use crate::crawl::frontier::{Lease, Validators};
use crate::crawl::links::{self, LinkOptions};
use crate::crawl::sitemap::{self, SitemapKind, SitemapLimits};
use crate::fetcher::{Fetcher, FetcherError, HopOutcome, Outcome, Page, Redirect, Refusal};
use crate::policy::{Purpose, Verdict, parse_url};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::AtomicBool;
use url::Url;

/// What became of a leased URL.
pub enum Visit {
    /// Kept: the page and the links found on it.
    Page {
        /// The page (evidence written, maybe not yet durable).
        page: Page,
        /// Its links (none when links are not followed).
        links: Found,
    },
    /// Not kept: refused, discarded or failed (recorded when `seq` is set).
    NotKept(Refusal),
    /// A redirect, recorded; its target is queued as a URL of its own.
    Redirect(Redirect),
}

/// The links of a page: to follow, and not to follow for nofollow.
#[derive(Debug, Default)]
pub struct Found {
    /// Links to follow.
    pub follow: Vec<Url>,
    /// Links a nofollow (`rel`, robots meta or `X-Robots-Tag`) keeps from being followed.
    pub nofollow: Vec<Url>,
}

/// The conditional headers sent, as name/value pairs (for the WARC request record).
pub fn conditional_pairs(validators: Option<&Validators>) -> Vec<(String, String)> {
    conditional(validators)
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// The request headers of a re-crawl's conditional request (RFC 9110 §13.1.2, §13.1.3).
fn conditional(validators: Option<&Validators>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let Some(v) = validators else {
        return headers;
    };
    let mut put = |name, value: &Option<String>| {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    };
    put(reqwest::header::IF_NONE_MATCH, &v.etag);
    put(reqwest::header::IF_MODIFIED_SINCE, &v.last_modified);
    headers
}

/// Fetches a leased URL for `purpose` and reads the links of the page if kept and `follow`.
/// `sent` is set just before the page's request goes out.
pub async fn visit(
    fetcher: &Fetcher,
    lease: &Lease,
    purpose: Purpose,
    links: Option<&LinkOptions>,
    sent: &AtomicBool,
) -> Result<Visit, FetcherError> {
    let url = match parse_url(&lease.candidate.url) {
        Ok(url) => url,
        Err(reason) => {
            return Ok(Visit::NotKept(Refusal {
                url: lease.candidate.url.clone(),
                verdict: Verdict::Refused,
                status: None,
                reasons: vec![reason],
                seq: None,
            }));
        }
    };
    let headers = conditional(lease.candidate.validators.as_ref());
    match fetcher
        .fetch_hop_noting(url, purpose, headers, sent)
        .await?
    {
        HopOutcome::Redirected(redirect) => Ok(Visit::Redirect(redirect)),
        HopOutcome::Ended(Outcome::NotFetched(refusal)) => Ok(Visit::NotKept(refusal)),
        HopOutcome::Ended(Outcome::Fetched(page)) => {
            let links = match links {
                Some(options) if page.status != 304 => page_links(&page, options),
                _ => Found::default(),
            };
            Ok(Visit::Page { page, links })
        }
    }
}

/// The links of a kept page to follow.
pub fn page_links(page: &Page, options: &LinkOptions) -> Found {
    let tags: Vec<&str> = page
        .headers
        .get_all("x-robots-tag")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let content_type = page.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    links_of(&tags, content_type, &page.body, &page.url, options)
}

/// The links of a page to follow: none under `X-Robots-Tag: nofollow` (for all agents or
/// ours) when nofollow is honoured; else those the HTML extractor gives.
pub fn links_of(
    robots_tags: &[&str],
    content_type: Option<&str>,
    body: &[u8],
    url: &Url,
    options: &LinkOptions,
) -> Found {
    let links = links::extract(body, content_type, url, options);
    let urls = |links: Vec<links::Link>| links.into_iter().map(|l| l.url).collect::<Vec<_>>();
    let mut found = Found {
        follow: urls(links.links),
        nofollow: urls(links.nofollow),
    };
    let tags = robots_tags.iter().copied();
    if options.honour_nofollow && links::header_nofollow(tags, &options.agent) {
        let follow = std::mem::take(&mut found.follow);
        found.nofollow.extend(follow);
    }
    found
}

/// The most sitemap documents read for one origin (an index of indexes is bounded too).
const MAX_SITEMAP_DOCUMENTS: usize = 1000;

/// The URLs the sitemaps of `origin` list: those its robots.txt names and `/sitemap.xml`,
/// indexes followed (within `in_scope`), each document fetched once through the pipeline
/// (judged, paced and recorded like a page; its body is read as a sitemap, not archived).
/// At most `limits.max_urls` URLs per document.
pub async fn sitemap_urls(
    fetcher: &Fetcher,
    origin: &Url,
    purpose: Purpose,
    limits: &SitemapLimits,
    in_scope: impl Fn(&Url) -> bool,
) -> Result<Vec<Url>, FetcherError> {
    let policy = fetcher
        .sources()
        .for_url_paced(origin, fetcher.politeness())
        .await?;
    let mut queue: VecDeque<Url> = policy
        .site
        .robots()
        .map(sitemap::robots_sitemaps)
        .unwrap_or_default()
        .into();
    queue.extend(sitemap::well_known(origin));
    let mut seen = HashSet::new();
    let mut urls = Vec::new();
    while let Some(document) = queue.pop_front() {
        if seen.len() >= MAX_SITEMAP_DOCUMENTS || !in_scope(&document) {
            continue;
        }
        if !seen.insert(document.to_string()) {
            continue;
        }
        let outcome = fetcher
            .fetch_url(document.clone(), purpose, HeaderMap::new())
            .await?;
        let Outcome::Fetched(page) = outcome else {
            continue;
        };
        let Ok(map) = sitemap::parse(&page.body, &page.url, limits) else {
            continue;
        };
        match map.kind {
            SitemapKind::Index => queue.extend(map.entries.into_iter().map(|e| e.url)),
            _ => urls.extend(map.entries.into_iter().map(|e| e.url)),
        }
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_become_conditional_headers() {
        let v = Validators {
            etag: Some("\"abc\"".into()),
            last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT".into()),
        };
        let headers = conditional(Some(&v));
        assert_eq!(headers["if-none-match"], "\"abc\"");
        assert_eq!(
            headers["if-modified-since"],
            "Tue, 01 Dec 2026 10:00:00 GMT"
        );
        let hostile = Validators {
            etag: Some("a\r\nx: y".into()),
            last_modified: None,
        };
        assert!(conditional(Some(&hostile)).is_empty());
    }
}
