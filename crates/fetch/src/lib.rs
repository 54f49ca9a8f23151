//! The fetch pipeline: pre-check → wait → fetch → re-check → record.
//!
//! - **pre-check**: excluded domains, the private-address guard, and every location-based
//!   source of the origin (robots.txt, tdmrep.json, ai.txt) through the cached live sources;
//!   a `Crawl-delay` longer than the configured maximum skips the site;
//! - **wait** for the host's politeness slot ([`optout_net::Politeness`]);
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

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use optout_config::{Config, Lists};
use optout_evidence::StoreError;
use optout_evidence::log::AppendError;
use optout_evidence::record::{redact_input, redact_url};
use optout_evidence::{EvidenceLog, SourceRef};
use optout_net::{FetchError, Head, HttpClient, PolicySources, Politeness};
use optout_policy::judge::Judge;
use optout_policy::{Code, Purpose, Reason, Verdict, parse_url};
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::Instrument;
use url::Url;

mod content;
mod line;
#[cfg(feature = "reqwest-middleware")]
pub mod middleware;
mod response;
mod steps;

pub use content::judge_content;
pub use line::{OutcomeLine, label};

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
    /// The address the response came from, if known.
    pub remote_addr: Option<std::net::SocketAddr>,
    /// The response's HTTP version (`HTTP/1.1`).
    pub version: &'static str,
    /// When the response was judged.
    pub received_at: std::time::SystemTime,
    /// The policy files the decision used.
    pub sources: Vec<SourceRef>,
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
// One outcome per fetch, moved once to its caller, never stored in bulk: boxing the page
// would cost an allocation per fetch for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The page, allowed.
    Fetched(Page),
    /// No page: refused, discarded, denied or failed.
    NotFetched(Refusal),
}

/// A redirect handed back to the caller instead of followed ([`Fetcher::fetch_hop`]): a
/// crawler queues its target as a URL of its own, under its own scope and de-duplication.
#[derive(Clone, Debug)]
pub struct Redirect {
    /// The URL that answered with the redirect.
    pub from: Url,
    /// Where it points (checked as an input URL would be).
    pub to: Url,
    /// The redirect's status.
    pub status: u16,
    /// The evidence record of the redirect response.
    pub seq: u64,
}

/// How one hop ended: an outcome, or a redirect not followed.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // as `Outcome`
pub enum HopOutcome {
    /// The fetch ended here.
    Ended(Outcome),
    /// The response was a redirect; its target was not requested.
    Redirected(Redirect),
}

/// Whether a request with `headers` asks for the whole current representation: no
/// validators and no range (RFC 9110 §13.1, §14.2), so a 304 or 206 answers nothing it asked.
fn is_plain(headers: &HeaderMap) -> bool {
    const NOT_PLAIN: [&str; 6] = [
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
        "if-range",
        "range",
    ];
    !NOT_PLAIN.iter().any(|name| headers.contains_key(*name))
}

impl HopOutcome {
    /// The outcome of a pipeline that follows redirects (it never hands one back; if it
    /// did, the fetch brought no content).
    fn followed(self) -> Outcome {
        match self {
            HopOutcome::Ended(outcome) => outcome,
            HopOutcome::Redirected(r) => Outcome::NotFetched(Refusal {
                url: redact_url(&r.from).into_owned(),
                verdict: Verdict::Allowed,
                status: Some(r.status),
                reasons: vec![
                    Reason::new(optout_policy::Code::FetchBadRedirect)
                        .with_detail("a redirect was not followed"),
                ],
                seq: Some(r.seq),
            }),
        }
    }
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
    Client(#[from] optout_net::client::ClientError),
}

/// The fetch layer: one per process, shared (`Arc`) by every task.
pub struct Fetcher {
    config: Config,
    client: HttpClient,
    sources: Arc<PolicySources>,
    /// Shared with the policy sources: one politeness state per process.
    politeness: Arc<Politeness>,
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
            politeness: Arc::clone(sources.politeness()),
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
            Err(reason) => return Ok(not_a_url(input, reason)),
        };
        self.fetch_url(url, purpose, HeaderMap::new()).await
    }

    /// Records that `input` was not fetched because the command was stopped (Ctrl-C,
    /// SIGTERM) first, typically while it waited for its host's polite slot: the evidence
    /// shows every URL a run was asked for, fetched or not.
    pub fn interrupted(&self, input: &str, purpose: Purpose) -> Result<Outcome, FetcherError> {
        let url = match parse_url(input) {
            Ok(url) => url,
            Err(reason) => return Ok(not_a_url(input, reason)),
        };
        let reason = Reason::new(Code::FetchInterrupted)
            .with_detail("stopped (Ctrl-C or SIGTERM) before the fetch ended; nothing kept");
        let judge = self.judge(purpose);
        self.refuse(&url, &judge, &[], Verdict::Allowed, vec![reason], None)
    }

    /// Fetches `url` for `purpose` with request `headers`, such as the validators of a
    /// re-crawl (`If-None-Match`, `If-Modified-Since`; RFC 9110 §13.1): a 304 to them is
    /// judged and handed back as a page with an empty body. Credentials headers are refused
    /// by the client, as everywhere.
    pub async fn fetch_url(
        &self,
        url: Url,
        purpose: Purpose,
        headers: HeaderMap,
    ) -> Result<Outcome, FetcherError> {
        self.send_own(url, purpose, headers, true, 0, None)
            .await
            .map(HopOutcome::followed)
    }

    /// One hop of [`Self::fetch_url`]: a redirect is recorded and handed back, its target
    /// not requested. `redirects_before`: the redirects of the chain that led to `url`
    /// (a crawler queues each target as a URL of its own); a redirect past
    /// `fetch.max_redirects` in all is refused (`fetch.redirect-limit`), as in one fetch.
    pub async fn fetch_hop(
        &self,
        url: Url,
        purpose: Purpose,
        headers: HeaderMap,
        redirects_before: usize,
    ) -> Result<HopOutcome, FetcherError> {
        let sent = AtomicBool::new(false);
        self.fetch_hop_noting(url, purpose, headers, redirects_before, &sent)
            .await
    }

    /// [`Self::fetch_hop`], setting `sent` while the page's request is out: it is set just
    /// before a request is sent and cleared when a 429/503 (or 500/502/504) is answered and
    /// the pipeline backs off. While it is clear, a caller may drop the fetch (it waits for
    /// its polite slot or a server's `Retry-After`): nothing is in flight, and what was
    /// recorded (the back-off notes) stays true.
    pub async fn fetch_hop_noting(
        &self,
        url: Url,
        purpose: Purpose,
        headers: HeaderMap,
        redirects_before: usize,
        sent: &AtomicBool,
    ) -> Result<HopOutcome, FetcherError> {
        self.send_own(url, purpose, headers, false, redirects_before, Some(sent))
            .await
    }

    /// The pipeline with this fetcher's own client sending `headers` on every hop;
    /// redirects followed or handed back.
    async fn send_own(
        &self,
        url: Url,
        purpose: Purpose,
        headers: HeaderMap,
        follow: bool,
        redirects_before: usize,
        sent: Option<&AtomicBool>,
    ) -> Result<HopOutcome, FetcherError> {
        let plain = is_plain(&headers);
        let client = self.client.clone();
        let limit = self.config.net.max_body_bytes;
        let mut send = move |url: Url| {
            if let Some(sent) = sent {
                sent.store(true, Ordering::SeqCst);
            }
            let client = client.clone();
            let headers = headers.clone();
            async move {
                let result = client.send(&url, headers, limit).await;
                // A status that is retried: the pipeline records it, then waits again;
                // nothing is in flight during that wait.
                if let (Some(sent), Ok(head)) = (sent, &result)
                    && response::RETRIED.contains(&head.status)
                {
                    sent.store(false, Ordering::SeqCst);
                }
                result
            }
        };
        self.run(url, purpose, &mut send, plain, follow, redirects_before)
            .await
    }

    /// The HTTP client (what it sends with every request: [`HttpClient::default_request_headers`]).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// The live policy sources (each origin's robots.txt, tdmrep.json and ai.txt, cached).
    pub fn sources(&self) -> &Arc<PolicySources> {
        &self.sources
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The pipeline with another way of sending the request (the reqwest-middleware layer
    /// sends it down its own stack). `send` gets each hop's URL after it was pre-checked and
    /// paced, and must not follow redirects itself. Its request may be conditional or ask
    /// for a range, so a 304 or 206 is judged and handed back like any response.
    pub async fn fetch_with<S, F, R>(
        &self,
        url: Url,
        purpose: Purpose,
        send: &mut S,
    ) -> Result<Outcome, FetcherError>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<R, FetchError>>,
        R: Into<Head>,
    {
        self.run(url, purpose, send, false, true, 0)
            .await
            .map(HopOutcome::followed)
    }

    /// The pipeline in its tracing span. `plain`: `send` sends no validators and no `Range`.
    async fn run<S, F, R>(
        &self,
        url: Url,
        purpose: Purpose,
        send: &mut S,
        plain: bool,
        follow: bool,
        redirects_before: usize,
    ) -> Result<HopOutcome, FetcherError>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<R, FetchError>>,
        R: Into<Head>,
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
            .pipeline(url, purpose, send, plain, follow, redirects_before)
            .instrument(span.clone())
            .await?;
        match &outcome {
            HopOutcome::Redirected(r) => {
                span.record("verdict", "allowed");
                span.record("status", r.status);
            }
            HopOutcome::Ended(Outcome::Fetched(page)) => {
                span.record("verdict", "allowed");
                span.record("status", page.status);
            }
            HopOutcome::Ended(Outcome::NotFetched(r)) => {
                span.record("verdict", r.verdict.as_str());
                if let Some(status) = r.status {
                    span.record("status", status);
                }
            }
        }
        tracing::debug!(parent: &span, "done");
        Ok(outcome)
    }

    /// The pipeline: each hop pre-checked, paced, sent, and judged by its headers before
    /// its body is read and by its content after (the steps are in [`steps`]).
    async fn pipeline<S, F, R>(
        &self,
        url: Url,
        purpose: Purpose,
        send: &mut S,
        plain: bool,
        follow: bool,
        redirects_before: usize,
    ) -> Result<HopOutcome, FetcherError>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<R, FetchError>>,
        R: Into<Head>,
    {
        let ended = |outcome| Ok(HopOutcome::Ended(outcome));
        let judge = self.judge(purpose);
        let mut url = url;
        let mut redirects = redirects_before;
        loop {
            let hop = match self.pre_check(&judge, &url).await? {
                Ok(hop) => hop,
                Err(outcome) => return ended(outcome),
            };
            let pace = match self.pace(&hop).await? {
                Ok(pace) => pace,
                Err(outcome) => return ended(outcome),
            };
            let head = match self.send_politely(&hop, &pace, send).await? {
                Ok(head) => head,
                Err(outcome) => return ended(outcome),
            };
            if let Err(outcome) = self.access(&hop, &head)? {
                return ended(outcome);
            }
            if (300..400).contains(&head.status) && head.status != 304 {
                match self.redirect(&hop, &head, &mut redirects)? {
                    Ok((to, seq)) if !follow => {
                        return Ok(HopOutcome::Redirected(Redirect {
                            from: hop.url,
                            to,
                            status: head.status,
                            seq,
                        }));
                    }
                    Ok((next, _)) => url = next,
                    Err(outcome) => return ended(outcome),
                }
                continue;
            }
            if let Err(outcome) = self.screen(&hop, &head, plain)? {
                return ended(outcome);
            }
            let response = match self.read(&hop, head).await? {
                Ok(response) => response,
                Err(outcome) => return ended(outcome),
            };
            return self.re_check(hop, response).map(HopOutcome::Ended);
        }
    }
}

/// The outcome for an input that is not a URL: refused, nothing requested or recorded.
fn not_a_url(input: &str, reason: Reason) -> Outcome {
    Outcome::NotFetched(Refusal {
        url: redact_input(input.trim()).into_owned(),
        verdict: Verdict::Refused,
        status: None,
        reasons: vec![reason],
        seq: None,
    })
}
