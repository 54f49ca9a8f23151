//! Decisions for callers that fetch on their own (a Scrapy downloader middleware): a
//! response judged with its origin's live policy, and the origin's `Crawl-delay` for the
//! caller's own pacing.

use super::{Ask, Checked, Decided, Engine, EngineError};
use optout_policy::{Verdict, parse_url};

impl Engine {
    /// Decides on a response to `input` fetched by the caller, and records the decision:
    /// the origin's live policy (cached, as [`Engine::check`]) together with what the
    /// response says about itself (its `headers` and, for markup, the meta tags of `body`),
    /// judged by the fetcher's own re-check ([`optout_fetch`]). A reserved response is
    /// `discarded`; its body must not be kept.
    pub async fn check_response(
        &self,
        ask: &Ask,
        input: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Result<Checked, EngineError> {
        let url = match parse_url(input) {
            Ok(url) => url,
            Err(reason) => return self.record(ask, Decided::Error(input.to_owned(), reason)),
        };
        let judge = self.judge(ask);
        let excluded = url
            .host_str()
            .is_some_and(|h| judge.excluded.reason_for(h).is_some());
        if excluded {
            // Nothing is fetched for an excluded domain, its policy files neither.
            return self.check(ask, input).await;
        }
        let policy = self.sources.for_url(&url).await?;
        let mut decision =
            optout_fetch::judge_content(&self.config, &judge, &policy.site, &url, headers, body);
        // As the fetcher's re-check records it: a response that may not be kept is
        // discarded (it was received), whichever signal refused it.
        if decision.verdict != Verdict::Allowed {
            decision.verdict = Verdict::Discarded;
        }
        self.record(
            ask,
            Decided::Online(input.to_owned(), url, decision, Some(policy)),
        )
    }

    /// The `Crawl-delay` (seconds) the origin of `input` asks of `ask.agent` in its live
    /// robots.txt (cached, as [`Engine::check`]), if any; `None` for an input that is not a
    /// URL. For a caller that paces its own requests; the fetcher paces its own.
    pub async fn crawl_delay(&self, ask: &Ask, input: &str) -> Result<Option<f64>, EngineError> {
        let Ok(url) = parse_url(input) else {
            return Ok(None);
        };
        let policy = self.sources.for_url(&url).await?;
        Ok(policy
            .site
            .robots()
            .and_then(|robots| robots.crawl_delay(&ask.agent))
            .map(|delay| delay.seconds))
    }
}
