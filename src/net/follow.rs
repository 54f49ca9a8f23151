//! Fetches a policy file, following redirects by hand (RFC 9309 §2.3.1.2): up to
//! [`MAX_REDIRECTS`] hops, to any host, each hop through the private-address guard.

use super::client::HttpClient;
use super::outcome::{Ending, MAX_REDIRECTS, Trace, Validators};
use reqwest::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LOCATION};
use url::Url;

/// GETs `url`, following redirects, with `validators` as a conditional request.
pub async fn fetch(
    client: &HttpClient,
    url: Url,
    validators: Option<&Validators>,
    limit: usize,
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
        let response = match client.get(&current, headers.clone(), limit).await {
            Ok(response) => response,
            Err(e) => break Ending::Failed(e),
        };
        let redirect = (300..400).contains(&response.status) && response.status != 304;
        if !redirect {
            break Ending::Response(response);
        }
        let location = response
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let Some(location) = location else {
            break Ending::BadRedirect(format!(
                "HTTP {} from {current} without a usable Location",
                response.status
            ));
        };
        let next = match current.join(location) {
            Ok(next) if matches!(next.scheme(), "http" | "https") => next,
            Ok(next) => {
                break Ending::BadRedirect(format!(
                    "redirect from {current} to unsupported scheme {}",
                    next.scheme()
                ));
            }
            Err(e) => {
                break Ending::BadRedirect(format!(
                    "redirect from {current} to invalid Location {location:?}: {e}"
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
