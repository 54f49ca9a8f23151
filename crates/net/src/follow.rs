//! Fetches a policy file, following redirects by hand (RFC 9309 §2.3.1.2): up to
//! [`MAX_REDIRECTS`] hops, to any host, each hop through the private-address guard. A hop
//! to a URL with a user name or password (even an empty `@`) is not requested: optout
//! never sends credentials (Measure 1.2), so the file is not known (fail closed).
//!
//! URLs in the texts of an ending have their user information redacted
//! ([`optout_evidence::record::redact_url`]): they end up in evidence records.

use super::client::{HttpClient, userinfo_refused};
use super::outcome::{Ending, MAX_REDIRECTS, Trace, Validators, retry_after};
use super::politeness::Politeness;
use optout_evidence::record::redact_url;
use optout_policy::target::names_userinfo;
use reqwest::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LOCATION};
use std::time::{Duration, SystemTime};
use url::Url;

/// How the requests for a policy file are paced: by the crawler's politeness, with the
/// `Crawl-delay` already known for the origin's host (a crawler's), or not at all (a check).
/// When paced, a host that its server blocked (`Retry-After`, back-off) is not asked before
/// its time, and a 429 or 503 on a policy file blocks its host like a page's would.
#[derive(Clone, Copy)]
pub struct Pacing<'a> {
    /// The per-host politeness state.
    pub politeness: &'a Politeness,
    /// The origin's `Crawl-delay` for the agent, if known.
    pub crawl_delay: Option<Duration>,
}

/// GETs `url`, following redirects, with `validators` as a conditional request. With
/// `pacing`, each hop waits for its host's slot; the crawl-delay holds for hops on the
/// origin's own host.
pub async fn fetch(
    client: &HttpClient,
    url: Url,
    validators: Option<&Validators>,
    limit: usize,
    pacing: Option<Pacing<'_>>,
) -> Trace {
    let mut headers = HeaderMap::new();
    if let Some(v) = validators {
        if let Some(etag) = v.etag.as_deref().and_then(super::client::header_value) {
            headers.insert(IF_NONE_MATCH, etag);
        }
        if let Some(date) = v
            .last_modified
            .as_deref()
            .and_then(super::client::header_value)
        {
            headers.insert(IF_MODIFIED_SINCE, date);
        }
    }
    let mut hops: Vec<Url> = Vec::new();
    let mut current = url.clone();
    let ending = loop {
        let request = client.get(&current, headers.clone(), limit);
        let result = match pacing {
            Some(p) => {
                let delay = p.crawl_delay.filter(|_| current.host() == url.host());
                p.politeness
                    .paced(&current, delay, request)
                    .await
                    .map(|(output, _)| output)
            }
            None => Ok(request.await),
        };
        let response = match result {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => break Ending::Failed(e),
            Err(blocked) => break Ending::Blocked(blocked),
        };
        if let Some(p) = pacing {
            let retry_after = retry_after(&response.headers, SystemTime::now());
            p.politeness
                .heed(&current, response.status, retry_after)
                .await;
        }
        let redirect = (300..400).contains(&response.status) && response.status != 304;
        if !redirect {
            break Ending::Response(response);
        }
        let location = response
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let from = redact_url(&current);
        let Some(location) = location else {
            break Ending::BadRedirect(format!(
                "HTTP {} from {from} without a usable Location",
                response.status
            ));
        };
        let next = match current.join(location) {
            Ok(next) if !next.username().is_empty() || next.password().is_some() => {
                break Ending::Failed(userinfo_refused(format_args!(
                    "redirected from {from} to {}, a URL with a user name or password; nothing was sent there",
                    redact_url(&next)
                )));
            }
            // The parser drops an empty `@` (`http://@host/`); the Location as written shows it.
            Ok(next) if names_userinfo(location) => {
                break Ending::Failed(userinfo_refused(format_args!(
                    "redirected from {from} to {next} with an `@` before the host; nothing was sent there"
                )));
            }
            Ok(next) if matches!(next.scheme(), "http" | "https") => next,
            Ok(next) => {
                break Ending::BadRedirect(format!(
                    "redirect from {from} to unsupported scheme {}",
                    next.scheme()
                ));
            }
            // Not shown at all when it has an `@`: what is a password in a broken URL is
            // anyone's guess.
            Err(e) if location.contains('@') => {
                break Ending::BadRedirect(format!(
                    "redirect from {from} to an invalid Location (not shown: it has an `@`): {e}"
                ));
            }
            Err(e) => {
                break Ending::BadRedirect(format!(
                    "redirect from {from} to invalid Location {location:?}: {e}"
                ));
            }
        };
        if next == url || hops.contains(&next) {
            break Ending::Loop(next);
        }
        if hops.len() == MAX_REDIRECTS {
            break Ending::TooManyRedirects;
        }
        hops.push(next.clone());
        current = next;
    };
    Trace {
        requested: url,
        hops,
        ending,
    }
}
