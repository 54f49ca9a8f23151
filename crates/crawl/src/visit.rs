//! One URL of the crawl, through the fetch pipeline, as a task of its own: the request
//! (with the validators of a re-crawl), then the links of a kept page.

use crate::frontier::{Candidate, Validators, canonical_key};
use crate::links::{self, LinkOptions};
use optout_fetch::{Fetcher, FetcherError, HopOutcome, Outcome, Page, Redirect, Refusal};
use optout_policy::{Purpose, Verdict, parse_url};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
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
    Redirect {
        /// The redirect.
        redirect: Redirect,
        /// Redirects of the chain so far, this one included (the target's count).
        redirects: u32,
    },
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
    candidate: &Candidate,
    purpose: Purpose,
    links: Option<&LinkOptions>,
    sent: &AtomicBool,
) -> Result<Visit, FetcherError> {
    let url = match parse_url(&candidate.url) {
        Ok(url) => url,
        Err(reason) => {
            return Ok(Visit::NotKept(Refusal {
                url: candidate.url.clone(),
                verdict: Verdict::Refused,
                status: None,
                reasons: vec![reason],
                seq: None,
            }));
        }
    };
    let headers = conditional(candidate.validators.as_ref());
    let mut url = url;
    let mut redirects = candidate.redirects;
    loop {
        let before = usize::try_from(redirects).unwrap_or(usize::MAX);
        let hop = fetcher
            .fetch_hop_noting(url, purpose, headers.clone(), before, sent)
            .await?;
        let redirect = match hop {
            HopOutcome::Redirected(redirect) => redirect,
            HopOutcome::Ended(Outcome::NotFetched(refusal)) => return Ok(Visit::NotKept(refusal)),
            HopOutcome::Ended(Outcome::Fetched(page)) => {
                let links = match links {
                    Some(options) if page.status != 304 => page_links(&page, options),
                    _ => Found::default(),
                };
                return Ok(Visit::Page { page, links });
            }
        };
        redirects = redirects.saturating_add(1);
        if !same_resource(&redirect) {
            return Ok(Visit::Redirect {
                redirect,
                redirects,
            });
        }
        // The target has its source's canonical key: the frontier would take it for the
        // URL just fetched and drop it, and the page would be lost. The server says it is
        // the resource: it is requested here, in the same lease (so in its host's turn),
        // and a loop ends at `fetch.max_redirects` like any chain.
        url = redirect.to;
    }
}

/// Whether a redirect points to the URL it came from, as the frontier de-duplicates:
/// the same canonical key (`/%7Ex` and `/~x`, a fragment, a default port written out).
fn same_resource(redirect: &Redirect) -> bool {
    canonical_key(&redirect.to) == canonical_key(&redirect.from)
}

/// The links of a kept page to follow.
pub fn page_links(page: &Page, options: &LinkOptions) -> Found {
    let header = |name: &str| -> Vec<&str> {
        page.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    };
    let content_type = page.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let tags = RobotsHeaders {
        x_robots_tag: &header("x-robots-tag"),
        robots_tag: &header("robots-tag"),
    };
    links_of(tags, content_type, &page.body, &page.url, options)
}

/// A page's robots headers: `X-Robots-Tag` and `Robots-Tag` (draft-illyes-repext-03), each
/// line as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct RobotsHeaders<'a> {
    /// The `X-Robots-Tag` lines.
    pub x_robots_tag: &'a [&'a str],
    /// The `Robots-Tag` lines.
    pub robots_tag: &'a [&'a str],
}

/// The links of a page to follow: none under `nofollow` in `X-Robots-Tag` or `Robots-Tag`
/// (for all agents or ours) when nofollow is honoured; else those the HTML extractor gives.
pub fn links_of(
    robots_tags: RobotsHeaders<'_>,
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
    let x_robots_tag = robots_tags.x_robots_tag.iter().copied();
    let robots_tag = robots_tags.robots_tag.iter().copied();
    let nofollow = links::header_nofollow(x_robots_tag, &options.agent)
        || links::robots_tag_nofollow(robots_tag, &options.agent);
    if options.honour_nofollow && nofollow {
        let follow = std::mem::take(&mut found.follow);
        found.nofollow.extend(follow);
    }
    found
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
