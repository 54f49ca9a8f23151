//! The fetch pipeline: pre-check → wait → fetch → re-check → record.
//!
//! - **pre-check**: excluded domains, the private-address guard, and every location-based
//!   source of the origin (robots.txt, tdmrep.json, ai.txt) through the cached live sources;
//!   a `Crawl-delay` longer than the configured maximum skips the site;
//! - **wait** for the host's politeness slot ([`crate::net::Politeness`]);
//! - **fetch** with the shared client; a redirect is a new URL, pre-checked and paced on its
//!   own host before it is requested;
//! - **access control**: 401, 402, 403, 407 and 451 are `access.denied`, never retried; a
//!   402 with pay-per-crawl headers is `access.payment-required` (never paid);
//!   429/503 and 500/502/504 back off (honouring `Retry-After`) and retry a bounded number of
//!   times;
//! - **not the content**: a redirect without a usable `Location`, a server error, a final
//!   1xx, 204/205 (and 206/304 to a plain request) or a status outside 100-599 fail with no
//!   body handed out;
//! - **re-check** the response (`X-Robots-Tag`, TDMRep and `Content-Usage` headers, HTML meta
//!   tags, the paywall markup): a reserved response is **discarded**, its body dropped;
//! - **record** every request and every refusal in the evidence log before returning.
//!
//! Nothing is returned that is not on record: if the record cannot be written, the fetch
//! fails.

use crate::config::{Config, Lists};
use crate::evidence::log::AppendError;
use crate::evidence::record::{redact_input, redact_url};
use crate::evidence::{EvidenceLog, Record, SourceRef};
use crate::net::{FetchError, HttpClient, OriginPolicy, PolicySources, Politeness};
use crate::policy::html::PageMeta;
use crate::policy::judge::{Asset, Judge};
use crate::policy::target::names_userinfo;
use crate::policy::{Code, Decision, Purpose, Reason, Verdict, parse_url};
use crate::store::StoreError;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, LOCATION};
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
    /// `allowed` when the request was allowed but brought no content (`fetch.failed`,
    /// `fetch.bad-redirect`, `fetch.server-error`, `fetch.not-content`): `optout fetch`
    /// prints it `failed`.
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

/// Statuses tried again after backing off: the host is busy (429, 503) or it, or a gateway
/// before it, failed on the way (500, 502, 504; RFC 9110 §15.6). Other 5xx are not transient.
const RETRIED: [u16; 5] = [429, 500, 502, 503, 504];

/// The headers of Cloudflare's pay per crawl: the price a 402 asks (`crawler-price`), why a
/// paid request failed (`crawler-error`), what a 2xx was charged (`crawler-charged`), and
/// the request headers that agree to pay, which optout never sends.
const PAY_PER_CRAWL: [&str; 5] = [
    "crawler-price",
    "crawler-error",
    "crawler-charged",
    "crawler-exact-price",
    "crawler-max-price",
];

/// The first header of `names` in `headers` as `name: value` (cut to 100 characters).
fn first_header(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let value = headers.get(*name)?;
        let value: String = String::from_utf8_lossy(value.as_bytes())
            .chars()
            .take(100)
            .collect();
        Some(format!("{name}: {value}"))
    })
}

/// Why a response that answers the request is refused: access is controlled, or sold.
fn access_control(status: u16, headers: &HeaderMap) -> Option<Reason> {
    if status == 402
        && let Some(offer) = first_header(headers, &PAY_PER_CRAWL)
    {
        return Some(
            Reason::new(Code::AccessPaymentRequired).with_detail(format!(
                "HTTP 402 pay per crawl ({offer}): never paid, never retried"
            )),
        );
    }
    ACCESS_DENIED.contains(&status).then(|| {
        Reason::new(Code::AccessDenied).with_detail(format!(
            "HTTP {status}: access is controlled; not retried with other credentials, headers or agents"
        ))
    })
}

/// A response that says it was charged for (`crawler-charged`) was sold, and optout never
/// offered to buy it (it sends no `crawler-exact-price` or `crawler-max-price`): discarded.
fn charged(headers: &HeaderMap) -> Option<Reason> {
    first_header(headers, &["crawler-charged"]).map(|header| {
        Reason::new(Code::AccessPaymentRequired).with_detail(format!(
            "{header}: a charge optout never agreed to; not collected"
        ))
    })
}

/// Where a redirect points, or why it cannot be followed (no `Location`, an empty or
/// unparsable one, or a scheme other than http and https): `fetch.bad-redirect`.
fn redirect_target(url: &Url, status: u16, headers: &HeaderMap) -> Result<Url, Reason> {
    let bad = |why: String| {
        Reason::new(Code::FetchBadRedirect)
            .with_detail(format!("HTTP {status} {why}; not followed"))
    };
    let Some(location) = headers.get(LOCATION) else {
        return Err(bad("without a Location".into()));
    };
    let shown: String = String::from_utf8_lossy(location.as_bytes())
        .chars()
        .take(100)
        .collect();
    let location = location
        .to_str()
        .map_err(|_| bad(format!("with a Location that is not text ({shown:?})")))?
        .trim();
    if location.is_empty() {
        return Err(bad("with an empty Location".into()));
    }
    let next = url.join(location).map_err(|e| {
        bad(format!(
            "with a Location that is not a URL ({shown:?}: {e})"
        ))
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(bad(format!("to a {}: URL ({shown:?})", next.scheme())));
    }
    Ok(next)
}

/// Why a final response that is neither a redirect nor access control carries no content of
/// the URL, if it does not. A `plain` request asked for no part (`Range`) and had no
/// validators, so a 206 or 304 answers nothing it asked. A body still in a
/// `Content-Encoding` (the client removes the header of the codings it decoded) cannot be
/// read, so what it reserves is unknown.
fn not_content(status: u16, headers: &HeaderMap, plain: bool) -> Option<Reason> {
    let why = match status {
        500..=599 => {
            return Some(Reason::new(Code::FetchServerError).with_detail(format!(
                "HTTP {status}: a server's error page is not the content"
            )));
        }
        100..=199 => "an informational status is not a final response",
        204 | 205 => "no content",
        206 if plain => "part of a response to a request for the whole",
        304 if plain => "not modified, to a request without validators",
        600.. | 0..100 => "not an HTTP status (RFC 9110 §15: 100-599)",
        _ => {
            let coding = undecoded(headers)?;
            return Some(Reason::new(Code::FetchNotContent).with_detail(format!(
                "HTTP {status}: the body is still in Content-Encoding {coding:?}; what it says cannot be read"
            )));
        }
    };
    Some(Reason::new(Code::FetchNotContent).with_detail(format!("HTTP {status}: {why}")))
}

/// The first content coding (RFC 9110 §8.4) left on a response, other than `identity`: one
/// the client did not decode (it removes the header of those it did).
fn undecoded(headers: &HeaderMap) -> Option<String> {
    headers.get_all(CONTENT_ENCODING).iter().find_map(|value| {
        String::from_utf8_lossy(value.as_bytes())
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .find(|c| !c.is_empty() && c != "identity")
            .map(|c| c.chars().take(40).collect())
    })
}

/// The reasons of a request that was allowed but brought no content: why, then why it was
/// allowed (recorded with the verdict `allowed`; `optout fetch` prints `failed`).
fn failed(reason: Reason, decision: &Decision) -> Vec<Reason> {
    std::iter::once(reason)
        .chain(decision.reasons.iter().cloned())
        .collect()
}

/// Why a retried status was given up: the host stayed busy (429/503: `politeness.gave-up`,
/// refused), or kept failing (500/502/504: `fetch.server-error`, a failed request). `waited`
/// is false when its `Retry-After` was longer than `politeness.max_backoff_s`.
fn gave_up(status: u16, tries: u32, waited: bool) -> (Verdict, Reason) {
    let detail = if waited {
        format!("HTTP {status} after {tries} tries")
    } else {
        format!("HTTP {status} with Retry-After longer than politeness.max_backoff_s")
    };
    if matches!(status, 429 | 503) {
        (
            Verdict::Refused,
            Reason::new(Code::PolitenessGaveUp).with_detail(detail),
        )
    } else {
        let detail = format!("{detail}; a server's error page is not the content");
        (
            Verdict::Allowed,
            Reason::new(Code::FetchServerError).with_detail(detail),
        )
    }
}

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
                    url: redact_input(input.trim()).into_owned(),
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
        self.run(url, purpose, &mut send, true).await
    }

    /// The pipeline with another way of sending the request (the reqwest-middleware layer
    /// sends it down its own stack). `send` gets each hop's URL after it was pre-checked and
    /// paced, and must not follow redirects itself. Its request may be conditional or ask
    /// for a range, so a 304 or 206 is judged and handed back like any response.
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
        self.run(url, purpose, send, false).await
    }

    /// The pipeline in its tracing span. `plain`: `send` sends no validators and no `Range`.
    async fn run<S, F>(
        &self,
        url: Url,
        purpose: Purpose,
        send: &mut S,
        plain: bool,
    ) -> Result<Outcome, FetcherError>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<crate::net::client::Response, FetchError>>,
    {
        let span = tracing::info_span!(
            "fetch",
            host = url.host_str().unwrap_or_default(),
            url = %redact_url(&url),
            verdict = tracing::field::Empty,
            status = tracing::field::Empty,
            wait_ms = tracing::field::Empty,
        );
        let outcome = self
            .pipeline(url, purpose, send, plain)
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
        plain: bool,
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

            // Wait, fetch, and back off on 429/503 and 500/502/504.
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
                if !RETRIED.contains(&response.status) {
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
                        let (verdict, reason) = gave_up(response.status, tries, wait.is_some());
                        let reasons = match verdict {
                            Verdict::Allowed => failed(reason, &decision),
                            _ => vec![reason],
                        };
                        return self.refuse(
                            &url,
                            &judge,
                            &policy.sources,
                            verdict,
                            reasons,
                            Some(&response),
                        );
                    }
                }
            };

            // Access control: never circumvented, never paid for, never retried.
            if let Some(reason) = access_control(response.status, &response.headers) {
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
            // One that cannot be followed is a failed request: its body is not the page.
            if (300..400).contains(&response.status) && response.status != 304 {
                let next = match redirect_target(&url, response.status, &response.headers) {
                    Ok(next) => next,
                    Err(reason) => {
                        return self.refuse(
                            &url,
                            &judge,
                            &policy.sources,
                            Verdict::Allowed,
                            failed(reason, &decision),
                            Some(&response),
                        );
                    }
                };
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
                    return self.refuse(&next, &judge, &[], Verdict::Refused, vec![reason], None);
                }
                // The next hop gets the same URL checks as an input: a Location with a
                // user name or password would log in (Measure 1.2). The parser drops an
                // empty `@`; the Location as written shows it.
                let written = response
                    .headers
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim);
                let checked = parse_url(next.as_str()).and_then(|checked| {
                    if written.is_some_and(names_userinfo) {
                        Err(Reason::new(Code::UrlUserinfo)
                            .with_detail("the Location has an `@` before the host"))
                    } else {
                        Ok(checked)
                    }
                });
                match checked {
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

            // A final response without the content: an error page, a 204, a bare 1xx.
            if let Some(reason) = not_content(response.status, &response.headers, plain) {
                return self.refuse(
                    &url,
                    &judge,
                    &policy.sources,
                    Verdict::Allowed,
                    failed(reason, &decision),
                    Some(&response),
                );
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
            let charged = charged(&response.headers);
            if let Some(reason) = &charged {
                reasons.insert(0, reason.clone());
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
            if verdict != Verdict::Allowed || paywalled || charged.is_some() || response.truncated {
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
        // Every hop, also of a URL given to `fetch_with` unparsed: never with credentials.
        if !url.username().is_empty() || url.password().is_some() {
            let reason = Reason::new(Code::UrlUserinfo)
                .with_detail("the URL carries a user name or password; optout never logs in");
            let refusal = self.refusal(url, judge, &[], Verdict::Refused, vec![reason], None)?;
            return Ok(Err(refusal));
        }
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
            url: redact_url(url).into_owned(),
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
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn only_http_locations_that_parse_are_followed() {
        let url = Url::parse("http://example.com/a/b").unwrap();
        let target =
            |location: &[u8]| redirect_target(&url, 302, &headers(&[("location", location)]));
        assert_eq!(
            target(b" c?d ").unwrap().as_str(),
            "http://example.com/a/c?d"
        );
        assert_eq!(
            target(b"https://other.example/").unwrap().as_str(),
            "https://other.example/"
        );
        for bad in [
            &b""[..],
            b"   ",
            b"http://[::1",
            b"ftp://example.com/",
            b"javascript:x",
            b"/\xff",
        ] {
            let reason = target(bad).unwrap_err();
            assert_eq!(reason.code, Code::FetchBadRedirect, "{bad:?}");
        }
        assert!(redirect_target(&url, 301, &HeaderMap::new()).is_err());
    }

    #[test]
    fn content_codings_left_on_a_response_are_found() {
        assert_eq!(undecoded(&HeaderMap::new()), None);
        assert_eq!(
            undecoded(&headers(&[("content-encoding", b" Identity ")])),
            None
        );
        let stacked = headers(&[("content-encoding", b"identity, GZIP")]);
        assert_eq!(undecoded(&stacked).as_deref(), Some("gzip"));
        let long = [b'x'; 500];
        assert_eq!(
            undecoded(&headers(&[("content-encoding", &long)]))
                .unwrap()
                .len(),
            40
        );
    }

    #[test]
    fn statuses_without_content() {
        let none = HeaderMap::new();
        for status in [100, 101, 103, 204, 205, 206, 304, 600, 999] {
            let reason = not_content(status, &none, true).unwrap();
            assert_eq!(reason.code, Code::FetchNotContent, "{status}");
        }
        for status in [500, 501, 599] {
            let reason = not_content(status, &none, true).unwrap();
            assert_eq!(reason.code, Code::FetchServerError, "{status}");
        }
        for status in [200, 203, 299, 404, 410] {
            assert!(not_content(status, &none, true).is_none(), "{status}");
        }
        // A caller's own request may have been conditional or ranged.
        assert!(not_content(304, &none, false).is_none());
        assert!(not_content(206, &none, false).is_none());
    }

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
