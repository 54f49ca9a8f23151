//! The pipeline's named steps, in the order [`super::Fetcher`] runs them on each hop:
//! [`Fetcher::pre_check`] → [`Fetcher::pace`] → [`Fetcher::send_politely`] →
//! [`Fetcher::access`] → [`Fetcher::redirect`] (a new hop) or [`Fetcher::screen`] →
//! [`Fetcher::read`] → [`Fetcher::re_check`]. Each step records what stops the fetch and
//! returns it as the outcome; a step that lets it go on returns what the next one needs.

use super::response::{
    RETRIED, access_control, charged, failed, gave_up, not_content, redirect_target,
};
use super::{Fetcher, FetcherError, Outcome, Page, Refusal};
use optout_evidence::Record;
use optout_evidence::record::redact_url;
use optout_net::client::{Head, Response};
use optout_net::{FetchError, OriginPolicy};
use optout_policy::judge::{Asset, Judge};
use optout_policy::target::names_userinfo;
use optout_policy::{Code, Decision, Reason, Verdict, parse_url};
use reqwest::header::{HeaderMap, LOCATION};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use url::Url;

/// What a step gives: the next step's input, the fetch's outcome (recorded), or a failure
/// of optout itself.
pub(super) type Step<T> = Result<Result<T, Outcome>, FetcherError>;

/// One hop: a URL that passed its pre-check, with its origin's policy and what allowed it.
pub(super) struct Hop<'a> {
    pub url: Url,
    pub judge: &'a Judge<'a>,
    pub policy: Arc<OriginPolicy>,
    pub decision: Decision,
}

/// The pace of a hop's host: its politeness key and the interval between its requests.
pub(super) struct Pace {
    key: String,
    interval: Duration,
}

/// What a record says of a response: its status and, once read, its size.
#[derive(Clone, Copy)]
pub(super) struct Answer {
    status: u16,
    bytes: Option<u64>,
}

impl From<&Head> for Answer {
    fn from(head: &Head) -> Answer {
        Answer {
            status: head.status,
            bytes: None,
        }
    }
}

impl From<&Response> for Answer {
    fn from(response: &Response) -> Answer {
        Answer {
            status: response.status,
            bytes: Some(response.body.len() as u64),
        }
    }
}

/// A header map as the judge reads it: names and values as text.
fn asset_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

impl Fetcher {
    /// **Pre-check**: credentials, excluded domains, the guard on address literals, and the
    /// origin's files, before anything is sent to the host. The policy files are requested
    /// in the host's turn, like pages.
    pub(super) async fn pre_check<'a>(&self, judge: &'a Judge<'a>, url: &Url) -> Step<Hop<'a>> {
        // Every hop, also of a URL given to `fetch_with` unparsed: never with credentials.
        let early = if !url.username().is_empty() || url.password().is_some() {
            Some(
                Reason::new(Code::UrlUserinfo)
                    .with_detail("the URL carries a user name or password; optout never logs in"),
            )
        } else if let Some(reason) = url.host_str().and_then(|h| judge.excluded.reason_for(h)) {
            Some(reason)
        } else if let Some(FetchError::PrivateAddress(detail)) = self.client.refuses_literal(url) {
            Some(Reason::new(Code::NetworkPrivateAddress).with_detail(detail))
        } else {
            None
        };
        if let Some(reason) = early {
            return self
                .refuse(url, judge, &[], Verdict::Refused, vec![reason], None)
                .map(Err);
        }
        let policy = self.sources.for_url_paced(url, &self.politeness).await?;
        let decision = judge.decide(&policy.site, None, url);
        if decision.verdict != Verdict::Allowed {
            return self
                .refuse(
                    url,
                    judge,
                    &policy.sources,
                    Verdict::Refused,
                    decision.reasons,
                    None,
                )
                .map(Err);
        }
        Ok(Ok(Hop {
            url: url.clone(),
            judge,
            policy,
            decision,
        }))
    }

    /// **Pace**: the host's interval, raised to its `Crawl-delay`. A delay longer than the
    /// configured maximum skips the site; it is compared before any clamping, so a huge
    /// delay is always a skip.
    pub(super) async fn pace(&self, hop: &Hop<'_>) -> Step<Pace> {
        let crawl_delay = hop
            .policy
            .site
            .robots()
            .and_then(|r| r.crawl_delay(hop.judge.agent));
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
            return self
                .stop(hop, Verdict::Refused, vec![reason], None)
                .map(Err);
        }
        let key = self.politeness.key(&hop.url).await;
        let interval = self.politeness.interval(&key, delay.and_then(Result::ok));
        Ok(Ok(Pace { key, interval }))
    }

    /// **Wait and send**: in the host's slot; 429/503 and 500/502/504 back off (honouring
    /// `Retry-After`) and are tried again a bounded number of times, each try recorded.
    pub(super) async fn send_politely<S, F, R>(
        &self,
        hop: &Hop<'_>,
        pace: &Pace,
        send: &mut S,
    ) -> Step<Head>
    where
        S: FnMut(Url) -> F,
        F: Future<Output = Result<R, FetchError>>,
        R: Into<Head>,
    {
        let mut tries = 0;
        loop {
            let slot = match self.politeness.acquire(&pace.key, pace.interval).await {
                Ok(slot) => slot,
                Err(blocked) => {
                    // The server asked the host to wait longer than optout waits: give up
                    // now, send nothing before its time (RFC 9110 §10.2.3).
                    let reason =
                        Reason::new(Code::PolitenessGaveUp).with_detail(blocked.to_string());
                    return self
                        .stop(hop, Verdict::Refused, vec![reason], None)
                        .map(Err);
                }
            };
            tracing::Span::current().record("wait_ms", slot.waited.as_millis() as u64);
            let result = send(hop.url.clone()).await.map(Into::into);
            // The interval also counts from the end of this request, before the slot is
            // given up: however late the request went out (a busy scheduler), the next
            // one reaches the site at least an interval after it did.
            self.politeness
                .note_request(&pace.key, tokio::time::Instant::now(), pace.interval);
            drop(slot);
            let head = match result {
                Ok(head) => head,
                Err(e) => return self.unanswered(hop, e).map(Err),
            };
            if !RETRIED.contains(&head.status) {
                self.politeness.answered(&pace.key);
                return Ok(Ok(head));
            }
            let retry_after =
                optout_net::outcome::retry_after(&head.headers, std::time::SystemTime::now());
            let backoff = self.politeness.back_off(&pace.key, retry_after);
            tries += 1;
            match backoff.wait {
                wait if backoff.within && tries <= self.config.politeness.max_retries => {
                    let mut reasons = hop.decision.reasons.clone();
                    reasons.push(Reason::new(Code::PolitenessBackoff).with_detail(format!(
                        "HTTP {}; waiting {} ms before try {} of {}",
                        head.status,
                        wait.as_millis(),
                        tries + 1,
                        self.config.politeness.max_retries + 1
                    )));
                    self.record_hop(hop, Verdict::Allowed, reasons, Some((&head).into()))?;
                }
                _ => {
                    let (verdict, reason) = gave_up(head.status, tries, &pace.key, &backoff);
                    let reasons = match verdict {
                        Verdict::Allowed => failed(reason, &hop.decision),
                        _ => vec![reason],
                    };
                    return self
                        .stop(hop, verdict, reasons, Some((&head).into()))
                        .map(Err);
                }
            }
        }
    }

    /// A request that got no response: refused by the guard (the name resolved to a
    /// private address), or failed.
    fn unanswered(&self, hop: &Hop<'_>, error: FetchError) -> Result<Outcome, FetcherError> {
        match error {
            FetchError::PrivateAddress(detail) => {
                let reason = Reason::new(Code::NetworkPrivateAddress).with_detail(detail);
                self.stop(hop, Verdict::Refused, vec![reason], None)
            }
            e => {
                let reason = Reason::new(Code::FetchFailed).with_detail(e.to_string());
                let reasons = failed(reason, &hop.decision);
                self.stop(hop, Verdict::Allowed, reasons, None)
            }
        }
    }

    /// **Access control**: 401, 402, 403, 407 and 451 are never circumvented, paid for or
    /// retried (Measure 1.2).
    pub(super) fn access(&self, hop: &Hop<'_>, head: &Head) -> Step<()> {
        match access_control(head.status, &head.headers) {
            Some(reason) => self
                .stop(hop, Verdict::Refused, vec![reason], Some(head.into()))
                .map(Err),
            None => Ok(Ok(())),
        }
    }

    /// **Redirect**: records this response and gives the next hop's URL, to be pre-checked
    /// and paced on its own host before it is requested. One that cannot be followed is a
    /// failed request (its body is not the page); too many, or one to a URL with
    /// credentials, is refused.
    pub(super) fn redirect(
        &self,
        hop: &Hop<'_>,
        head: &Head,
        redirects: &mut usize,
    ) -> Step<(Url, u64)> {
        let next = match redirect_target(&hop.url, head.status, &head.headers) {
            Ok(next) => next,
            Err(reason) => {
                let reasons = failed(reason, &hop.decision);
                return self
                    .stop(hop, Verdict::Allowed, reasons, Some(head.into()))
                    .map(Err);
            }
        };
        let reasons = hop.decision.reasons.clone();
        let seq = self.record_hop(hop, Verdict::Allowed, reasons, Some(head.into()))?;
        *redirects += 1;
        let refused = |reason: Reason| {
            self.refuse(&next, hop.judge, &[], Verdict::Refused, vec![reason], None)
                .map(Err)
        };
        if *redirects > self.config.fetch.max_redirects {
            return refused(Reason::new(Code::FetchRedirectLimit).with_detail(format!(
                "more than {} redirects",
                self.config.fetch.max_redirects
            )));
        }
        // The next hop gets the same URL checks as an input: a Location with a user name or
        // password would log in (Measure 1.2). The parser drops an empty `@`; the Location
        // as written shows it.
        let written = head
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if written.is_some_and(names_userinfo) {
            return refused(
                Reason::new(Code::UrlUserinfo)
                    .with_detail("the Location has an `@` before the host"),
            );
        }
        match parse_url(next.as_str()) {
            Ok(checked) => Ok(Ok((checked, seq))),
            Err(reason) => refused(reason),
        }
    }

    /// **Screen** a final response by its status and headers, before its body is read: a
    /// status without the content fails, and headers that reserve the response
    /// (`X-Robots-Tag`, `tdm-reservation`, `Content-Usage`) or say it was charged for
    /// discard it with its body never downloaded.
    pub(super) fn screen(&self, hop: &Hop<'_>, head: &Head, plain: bool) -> Step<()> {
        if let Some(reason) = not_content(head.status, &head.headers, plain) {
            let reasons = failed(reason, &hop.decision);
            return self
                .stop(hop, Verdict::Allowed, reasons, Some(head.into()))
                .map(Err);
        }
        let asset = Asset {
            headers: asset_headers(&head.headers),
            meta: None,
        };
        let Decision {
            verdict,
            mut reasons,
        } = hop.judge.decide(&hop.policy.site, Some(&asset), &hop.url);
        let charged = charged(&head.headers);
        if verdict == Verdict::Allowed && charged.is_none() {
            return Ok(Ok(()));
        }
        reasons.splice(0..0, charged);
        self.stop(hop, Verdict::Discarded, reasons, Some(head.into()))
            .map(Err)
    }

    /// **Read** the body, up to `net.max_body_bytes`. A connection that breaks or times out
    /// mid-body is a failed request.
    pub(super) async fn read(&self, hop: &Hop<'_>, head: Head) -> Step<Response> {
        let answer = Answer::from(&head);
        match head.read().await {
            Ok(response) => Ok(Ok(response)),
            Err(e) => {
                let reason = Reason::new(Code::FetchFailed).with_detail(e.to_string());
                let reasons = failed(reason, &hop.decision);
                self.stop(hop, Verdict::Allowed, reasons, Some(answer))
                    .map(Err)
            }
        }
    }

    /// **Re-check** what the response says about itself (headers, HTML meta tags, the
    /// paywall markup) and **record** it: a reserved, paywalled, charged or truncated
    /// response is discarded, its body dropped here, neither returned nor written anywhere.
    pub(super) fn re_check(
        &self,
        hop: Hop<'_>,
        response: Response,
    ) -> Result<Outcome, FetcherError> {
        let Decision {
            verdict,
            mut reasons,
        } = super::content::judge_content(
            &self.config,
            hop.judge,
            &hop.policy.site,
            &hop.url,
            asset_headers(&response.headers),
            &response.body,
        );
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
        if verdict != Verdict::Allowed || response.truncated {
            return self.stop(&hop, Verdict::Discarded, reasons, Some((&response).into()));
        }
        let seq = self.record_hop(
            &hop,
            Verdict::Allowed,
            reasons.clone(),
            Some((&response).into()),
        )?;
        Ok(Outcome::Fetched(Page {
            url: hop.url,
            status: response.status,
            headers: response.headers,
            body: response.body,
            reasons,
            seq,
            remote_addr: response.remote_addr,
            version: response.version,
            received_at: SystemTime::now(),
            sources: hop.policy.sources.clone(),
        }))
    }

    /// Records a hop's refusal or failure; the pipeline's outcome.
    fn stop(
        &self,
        hop: &Hop<'_>,
        verdict: Verdict,
        reasons: Vec<Reason>,
        answer: Option<Answer>,
    ) -> Result<Outcome, FetcherError> {
        let sources = &hop.policy.sources;
        self.refuse(&hop.url, hop.judge, sources, verdict, reasons, answer)
    }

    /// Records a refusal of `url`; the pipeline's outcome.
    pub(super) fn refuse(
        &self,
        url: &Url,
        judge: &Judge<'_>,
        sources: &[optout_evidence::SourceRef],
        verdict: Verdict,
        reasons: Vec<Reason>,
        answer: Option<Answer>,
    ) -> Result<Outcome, FetcherError> {
        let seq = self.record(url, judge, sources, verdict, reasons.clone(), answer)?;
        Ok(Outcome::NotFetched(Refusal {
            url: redact_url(url).into_owned(),
            verdict,
            status: answer.map(|a| a.status),
            reasons,
            seq: Some(seq),
        }))
    }

    /// Records a step of a hop that goes on (a back-off, a redirect) or its page.
    fn record_hop(
        &self,
        hop: &Hop<'_>,
        verdict: Verdict,
        reasons: Vec<Reason>,
        answer: Option<Answer>,
    ) -> Result<u64, FetcherError> {
        let sources = &hop.policy.sources;
        self.record(&hop.url, hop.judge, sources, verdict, reasons, answer)
    }

    /// **Record**: appends one record; returns its sequence number.
    fn record(
        &self,
        url: &Url,
        judge: &Judge<'_>,
        sources: &[optout_evidence::SourceRef],
        verdict: Verdict,
        reasons: Vec<Reason>,
        answer: Option<Answer>,
    ) -> Result<u64, FetcherError> {
        let decision = Decision { verdict, reasons };
        let mut record =
            Record::of_decision(url, judge.agent, judge.purpose, &decision, sources.to_vec());
        if let Some(answer) = answer {
            record.status = Some(answer.status);
            record.bytes = answer.bytes;
        }
        Ok(self.log.append(record)?.seq)
    }
}
