//! The fetch pipeline: pre-check → wait → fetch → re-check → record.
//!
//! - **pre-check**: excluded domains, the private-address guard, and every location-based
//!   source of the origin (robots.txt, tdmrep.json, ai.txt) through the cached live sources;
//!   a `Crawl-delay` longer than the configured maximum skips the site;
//! - **wait** for the host's politeness slot ([`crate::net::Politeness`]);
//! - **fetch** with the shared client; a redirect is a new URL, pre-checked and paced on its
//!   own host before it is requested;
//! - **access control**: 401, 402, 403, 407 and 451 are `access.denied`, never retried;
//!   429/503 back off (honouring `Retry-After`) and retry a bounded number of times;
//! - **re-check** the response (`X-Robots-Tag`, TDMRep and `Content-Usage` headers, HTML meta
//!   tags, the paywall markup): a reserved response is **discarded**, its body dropped;
//! - **record** every request and every refusal in the evidence log before returning.
//!
//! Nothing is returned that is not on record: if the record cannot be written, the fetch
//! fails.

use crate::config::{Config, Lists};
use crate::evidence::log::AppendError;
use crate::evidence::{EvidenceLog, Record, SourceRef};
use crate::net::{FetchError, HttpClient, OriginPolicy, PolicySources, Politeness};
use crate::policy::html::PageMeta;
use crate::policy::judge::{Asset, Judge};
use crate::policy::{Code, Decision, Purpose, Reason, Verdict, parse_url};
use crate::store::StoreError;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use url::Url;

/// A fetched page the policy allows.
#[derive(Clone, Debug)]
pub struct Page {
    /// The final URL (after redirects).
    pub url: Url,
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// The reasons it was allowed (and notes).
    pub reasons: Vec<Reason>,
    /// The evidence record of the response. It is written (group commit) but durable only
    /// once `log().durable_seq() >= seq`: call `log().sync()` before storing the body where
    /// a body without its record on disk must never exist (`optout fetch -o` does).
    pub seq: u64,
}

/// Why no page was returned.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// The URL the refusal is about (the last hop).
    pub url: String,
    /// `refused` (before a request, or access denied), `discarded` (after one), or
    /// `allowed` when the request itself failed (`fetch.failed`).
    pub verdict: Verdict,
    /// The response status, if there was a response.
    pub status: Option<u16>,
    /// The reasons, refusing ones first.
    pub reasons: Vec<Reason>,
    /// The evidence record, if one was written (not for an input that is not a URL).
    pub seq: Option<u64>,
}

/// What became of a fetch.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The page, allowed.
    Fetched(Page),
    /// No page: refused, discarded, denied or failed.
    NotFetched(Refusal),
}

/// A failure of optout itself (not of the site): the evidence could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FetcherError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The evidence log failed.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::net::client::ClientError),
}

/// Whether a body without a `Content-Type` starts like markup: `<` after white space, also
/// after a UTF-8 or UTF-16 byte order mark (UTF-16 puts a zero byte beside each ASCII one).
fn looks_like_markup(body: &[u8]) -> bool {
    let utf16 = |rest: &[u8], le: bool| {
        rest.chunks_exact(2)
            .map(|pair| {
                if le {
                    [pair[0], pair[1]]
                } else {
                    [pair[1], pair[0]]
                }
            })
            .find(|[low, high]| !(*high == 0 && low.is_ascii_whitespace()))
            .is_some_and(|unit| unit == [b'<', 0])
    };
    match body {
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest.trim_ascii_start().starts_with(b"<"),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => body.trim_ascii_start().starts_with(b"<"),
    }
}

/// Statuses that mean access is controlled (Measure 1.2: never circumvented).
const ACCESS_DENIED: [u16; 5] = [401, 402, 403, 407, 451];

/// The fetch layer: one per process, shared (`Arc`) by every task.
pub struct Fetcher {
    config: Config,
    client: HttpClient,
    sources: Arc<PolicySources>,
    politeness: Politeness,
    log: Arc<EvidenceLog>,
    lists: Arc<Lists>,
}

impl Fetcher {
    /// A fetcher over `log`'s store, with its own client and policy cache.
    pub fn new(
        config: &Config,
        log: Arc<EvidenceLog>,
        lists: Lists,
    ) -> Result<Fetcher, FetcherError> {
        let client = HttpClient::new(config)?;
        let lists = Arc::new(lists);
        let sources = PolicySources::new(
            config,
            client.clone(),
            Some(log.store().clone()),
            Arc::new(lists.ai_crawlers.clone()),
        );
        Ok(Fetcher::from_parts(
            config,
            client,
            Arc::new(sources),
            log,
            lists,
        ))
    }

    /// A fetcher from parts (to share a policy cache, or give it a test clock).
    pub fn from_parts(
        config: &Config,
        client: HttpClient,
        sources: Arc<PolicySources>,
        log: Arc<EvidenceLog>,
        lists: Arc<Lists>,
    ) -> Fetcher {
        Fetcher {
            config: config.clone(),
            client,
            politeness: Politeness::new(&config.politeness),
            sources,
            log,
            lists,
        }
    }

    /// The evidence log.
    pub fn log(&self) -> &Arc<EvidenceLog> {
        &self.log
    }

    /// The per-host politeness state.
    pub fn politeness(&self) -> &Politeness {
        &self.politeness
    }

    /// How long one request may take, body included.
    pub fn total_timeout(&self) -> Duration {
        Duration::from_millis(self.config.net.total_timeout_ms)
    }

    /// Whether the private-address guard is off.
    pub fn allows_private(&self) -> bool {
        self.client.allows_private()
    }

    /// The most body bytes read of a response.
    pub fn max_body_bytes(&self) -> usize {
        self.config.net.max_body_bytes
    }

    /// The agent's product token.
    pub fn agent(&self) -> &str {
        &self.config.crawler.product_token
    }

    fn judge(&self, purpose: Purpose) -> Judge<'_> {
        Judge {
            agent: &self.config.crawler.product_token,
            purpose,
            excluded: &self.lists.excluded,
            ai_crawler_blocks: self.config.signals.ai_crawler_blocks,
        }
    }

    /// Fetches `input` for `purpose`, if every policy allows it.
    pub async fn fetch(&self, input: &str, purpose: Purpose) -> Result<Outcome, FetcherError> {
        let url = match parse_url(input) {
            Ok(url) => url,
            Err(reason) => {
                return Ok(Outcome::NotFetched(Refusal {
                    url: input.trim().to_owned(),
                    verdict: Verdict::Refused,
                    status: None,
                    reasons: vec![reason],
                    seq: None,
                }));
            }
        };
        let client = self.client.clone();
        let limit = self.config.net.max_body_bytes;
        let mut send = move |url: Url| {
            let client = client.clone();
            async move { client.get(&url, HeaderMap::new(), limit).await }
        };
        self.fetch_with(url, purpose, &mut send).await
    }

    /// The pipeline with another way of sending the request (the reqwest-middleware layer
    /// sends it down its own stack). `send` gets each hop's URL after it was pre-checked and
    /// paced, and must not follow redirects itself.
    pub async fn fetch_with<S, F>(
        &self,
        url: Url,
        purpose: Purpose,
        send: &mut S,
    ) -> Result<Outcome, FetcherError>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<crate::net::client::Response, FetchError>>,
    {
        let span = tracing::info_span!(
            "fetch",
            host = url.host_str().unwrap_or_default(),
            url = %url,
            verdict = tracing::field::Empty,
            status = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
        );
        let outcome = self
            .pipeline(url, purpose, send)
            .instrument(span.clone())
            .await?;
        match &outcome {
            Outcome::Fetched(page) => {
                span.record("verdict", "allowed");
                span.record("status", page.status);
            }
            Outcome::NotFetched(r) => {
                span.record("verdict", r.verdict.as_str());
                if let Some(status) = r.status {
                    span.record("status", status);
                }
            }
        }
        tracing::debug!(parent: &span, "done");
        Ok(outcome)
    }

    async fn pipeline<S, F>(
        &self,
        mut url: Url,
        purpose: Purpose,
        send: &mut S,
    ) -> Result<Outcome, FetcherError>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<crate::net::client::Response, FetchError>>,
    {
        let judge = self.judge(purpose);
        let mut redirects = 0;
        loop {
            // Pre-check, before anything is sent to the host.
            let (policy, decision) = match self.pre_check(&judge, &url).await? {
                Ok(allowed) => allowed,
                Err(refusal) => return Ok(Outcome::NotFetched(refusal)),
            };
            let crawl_delay = policy
                .site
                .robots()
                .and_then(|r| r.crawl_delay(judge.agent));
            // Compared with the maximum before any clamping: a huge delay is always a skip.
            let delay = crawl_delay.map(|d| self.politeness.crawl_delay(d.seconds));
            if let (Some(d), Some(Err(_))) = (&crawl_delay, delay) {
                let reason = Reason::new(Code::PolitenessCrawlDelayTooLong)
                    .with_source("robots.txt")
                    .with_line(d.line)
                    .with_detail(format!(
                        "Crawl-delay {} s is longer than politeness.max_crawl_delay_s ({} s); skipped",
                        d.seconds,
                        self.politeness.max_crawl_delay().as_secs()
                    ));
                return self.refuse(
                    &url,
                    &judge,
                    &policy.sources,
                    Verdict::Refused,
                    vec![reason],
                    None,
                );
            }
            let key = self.politeness.key(&url).await;
            let interval = self.politeness.interval(&key, delay.and_then(Result::ok));

            // Wait, fetch, and back off on 429/503.
            let mut tries = 0;
            let response = loop {
                let slot = self.politeness.acquire(&key, interval).await;
                tracing::Span::current().record("wait_ms", slot.waited.as_millis() as u64);
                let result = send(url.clone()).await;
                // The interval also counts from the end of this request, before the slot is
                // given up: however late the request went out (a busy scheduler), the next
                // one reaches the site at least an interval after it did.
                self.politeness
                    .note_request(&key, tokio::time::Instant::now(), interval);
                drop(slot);
                let response = match result {
                    Ok(response) => response,
                    Err(FetchError::PrivateAddress(detail)) => {
                        let reason = Reason::new(Code::NetworkPrivateAddress).with_detail(detail);
                        return self.refuse(
                            &url,
                            &judge,
                            &policy.sources,
                            Verdict::Refused,
                            vec![reason],
                            None,
                        );
                    }
                    Err(e) => {
                        let mut reasons = decision.reasons.clone();
                        reasons
                            .insert(0, Reason::new(Code::FetchFailed).with_detail(e.to_string()));
                        return self.refuse(
                            &url,
                            &judge,
                            &policy.sources,
                            Verdict::Allowed,
                            reasons,
                            None,
                        );
                    }
                };
                if !matches!(response.status, 429 | 503) {
                    self.politeness.answered(&key);
                    break response;
                }
                let retry_after = crate::net::outcome::retry_after(
                    &response.headers,
                    std::time::SystemTime::now(),
                );
                let wait = self.politeness.back_off(&key, retry_after);
                tries += 1;
                match wait {
                    Some(wait) if tries <= self.config.politeness.max_retries => {
                        let mut reasons = decision.reasons.clone();
                        reasons.push(Reason::new(Code::PolitenessBackoff).with_detail(format!(
                            "HTTP {}; waiting {} ms before try {} of {}",
                            response.status,
                            wait.as_millis(),
                            tries + 1,
                            self.config.politeness.max_retries + 1
                        )));
                        self.record(
                            &url,
                            &judge,
                            &policy.sources,
                            Verdict::Allowed,
                            reasons,
                            Some(&response),
                        )?;
                    }
                    _ => {
                        let reason = Reason::new(Code::PolitenessGaveUp).with_detail(match wait {
                            Some(_) => format!("HTTP {} after {tries} tries", response.status),
                            None => format!(
                                "HTTP {} with Retry-After longer than politeness.max_backoff_s",
                                response.status
                            ),
                        });
                        return self.refuse(
                            &url,
                            &judge,
                            &policy.sources,
                            Verdict::Refused,
                            vec![reason],
                            Some(&response),
                        );
                    }
                }
            };

            // Access control: never circumvented, never retried.
            if ACCESS_DENIED.contains(&response.status) {
                let reason = Reason::new(Code::AccessDenied).with_detail(format!(
                    "HTTP {}: access is controlled; not retried with other credentials, headers or agents",
                    response.status
                ));
                return self.refuse(
                    &url,
                    &judge,
                    &policy.sources,
                    Verdict::Refused,
                    vec![reason],
                    Some(&response),
                );
            }

            // A redirect: record this response, then judge the next hop before requesting it.
            if (300..400).contains(&response.status) && response.status != 304 {
                let next = response
                    .headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url.join(l.trim()).ok());
                if let Some(next) = next {
                    self.record(
                        &url,
                        &judge,
                        &policy.sources,
                        Verdict::Allowed,
                        decision.reasons.clone(),
                        Some(&response),
                    )?;
                    redirects += 1;
                    if redirects > self.config.fetch.max_redirects {
                        let reason = Reason::new(Code::FetchRedirectLimit).with_detail(format!(
                            "more than {} redirects",
                            self.config.fetch.max_redirects
                        ));
                        return self.refuse(
                            &next,
                            &judge,
                            &[],
                            Verdict::Refused,
                            vec![reason],
                            None,
                        );
                    }
                    // The next hop gets the same URL checks as an input: a Location with a
                    // user name or password would log in (Measure 1.2).
                    match parse_url(next.as_str()) {
                        Ok(checked) => url = checked,
                        Err(reason) => {
                            return self.refuse(
                                &next,
                                &judge,
                                &[],
                                Verdict::Refused,
                                vec![reason],
                                None,
                            );
                        }
                    }
                    continue;
                }
            }

            // Re-check what the response says about itself.
            let content_type = response
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let is_html = content_type.map_or_else(
                || looks_like_markup(&response.body),
                |t| t.to_ascii_lowercase().contains("html"),
            );
            let meta = is_html.then(|| PageMeta::scan_encoded(&response.body, content_type));
            let asset = Asset {
                headers: response
                    .headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                meta,
            };
            let Decision {
                verdict,
                mut reasons,
            } = judge.decide(&policy.site, Some(&asset), &url);
            let paywalled = purpose == Purpose::TrainAi
                && self.config.fetch.discard_paywalled
                && asset.meta.as_ref().is_some_and(PageMeta::paywalled);
            if paywalled {
                reasons.insert(
                    0,
                    Reason::new(Code::AccessPaywalled)
                        .with_source("html")
                        .with_detail(
                            "JSON-LD isAccessibleForFree: false; not collected for training",
                        ),
                );
            }
            if response.truncated {
                // What the unread rest says (a late meta tag, JSON-LD at the end) is unknown:
                // the part read is not collected.
                reasons.insert(
                    0,
                    Reason::new(Code::FetchTruncated).with_detail(format!(
                        "body longer than net.max_body_bytes ({}); the rest could reserve it",
                        self.config.net.max_body_bytes
                    )),
                );
            }
            if verdict != Verdict::Allowed || paywalled || response.truncated {
                // The body is dropped here: it is neither returned nor written anywhere.
                return self.refuse(
                    &url,
                    &judge,
                    &policy.sources,
                    Verdict::Discarded,
                    reasons,
                    Some(&response),
                );
            }
            let seq = self.record(
                &url,
                &judge,
                &policy.sources,
                Verdict::Allowed,
                reasons.clone(),
                Some(&response),
            )?;
            return Ok(Outcome::Fetched(Page {
                url,
                status: response.status,
                headers: response.headers,
                body: response.body,
                reasons,
                seq,
            }));
        }
    }

    /// Excluded domains, the guard on address literals, and the origin's files. An allowed
    /// URL gives its origin's policy and the decision; a refused one is recorded.
    async fn pre_check(
        &self,
        judge: &Judge<'_>,
        url: &Url,
    ) -> Result<Result<(Arc<OriginPolicy>, Decision), Refusal>, FetcherError> {
        if let Some(reason) = url.host_str().and_then(|h| judge.excluded.reason_for(h)) {
            return Ok(Err(self.refusal(
                url,
                judge,
                &[],
                Verdict::Refused,
                vec![reason],
                None,
            )?));
        }
        if let Some(FetchError::PrivateAddress(detail)) = self.client.refuses_literal(url) {
            let reason = Reason::new(Code::NetworkPrivateAddress).with_detail(detail);
            return Ok(Err(self.refusal(
                url,
                judge,
                &[],
                Verdict::Refused,
                vec![reason],
                None,
            )?));
        }
        // The policy files are requested in the host's turn, like pages.
        let policy = self.sources.for_url_paced(url, &self.politeness).await?;
        let decision = judge.decide(&policy.site, None, url);
        if decision.verdict != Verdict::Allowed {
            let refusal = self.refusal(
                url,
                judge,
                &policy.sources,
                Verdict::Refused,
                decision.reasons,
                None,
            )?;
            return Ok(Err(refusal));
        }
        Ok(Ok((policy, decision)))
    }

    /// Records a refusal and returns it.
    fn refusal(
        &self,
        url: &Url,
        judge: &Judge<'_>,
        sources: &[SourceRef],
        verdict: Verdict,
        reasons: Vec<Reason>,
        response: Option<&crate::net::client::Response>,
    ) -> Result<Refusal, FetcherError> {
        let seq = self.record(url, judge, sources, verdict, reasons.clone(), response)?;
        Ok(Refusal {
            url: url.to_string(),
            verdict,
            status: response.map(|r| r.status),
            reasons,
            seq: Some(seq),
        })
    }

    /// Records a refusal; the pipeline's outcome.
    fn refuse(
        &self,
        url: &Url,
        judge: &Judge<'_>,
        sources: &[SourceRef],
        verdict: Verdict,
        reasons: Vec<Reason>,
        response: Option<&crate::net::client::Response>,
    ) -> Result<Outcome, FetcherError> {
        self.refusal(url, judge, sources, verdict, reasons, response)
            .map(Outcome::NotFetched)
    }

    /// Appends one record; returns its sequence number.
    fn record(
        &self,
        url: &Url,
        judge: &Judge<'_>,
        sources: &[SourceRef],
        verdict: Verdict,
        reasons: Vec<Reason>,
        response: Option<&crate::net::client::Response>,
    ) -> Result<u64, FetcherError> {
        let decision = Decision { verdict, reasons };
        let mut record =
            Record::of_decision(url, judge.agent, judge.purpose, &decision, sources.to_vec());
        if let Some(response) = response {
            record.status = Some(response.status);
            record.bytes = Some(response.body.len() as u64);
        }
        Ok(self.log.append(record)?.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_markup;

    #[test]
    fn markup_is_sniffed_through_byte_order_marks() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(" \n<html>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("<html>".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for body in [&b"  <html>"[..], b"\xEF\xBB\xBF<p>", &le, &be] {
            assert!(looks_like_markup(body), "{body:?}");
        }
        for body in [
            &b"plain"[..],
            b"",
            b"\xFF\xFE",
            b"\xFF\xFEx\x00<\x00",
            b"\xFE\xFF<\x00",
        ] {
            assert!(!looks_like_markup(body), "{body:?}");
        }
    }
}
