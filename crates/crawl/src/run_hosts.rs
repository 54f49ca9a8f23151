//! The crawl's side of its hosts: leases acknowledged, released and renewed; health and
//! blocks told to the frontier, which holds them (a shared frontier for every worker).

use std::time::{Duration, Instant};

use super::{Crawl, LEASE, Leased};
use crate::CrawlError;
use crate::frontier::{Acked, FrontierError, LeaseId, UnixMillis};

impl Crawl {
    /// The fetcher's politeness key of a queue key (they differ only for `ip`).
    fn key<'a>(&'a self, host: &'a str) -> &'a str {
        self.keys.get(host).map_or(host, String::as_str)
    }

    /// The leased URL is finished: acknowledged, and its host released to the frontier,
    /// due at its next polite slot (by the fetcher's key: after its interval, or when its
    /// server's `Retry-After` ends), later after failures in a row (doubling per failure).
    /// A host blocked beyond the crawl's patience is given up instead.
    pub(super) async fn done(&mut self, leased: Leased) -> Result<(), CrawlError> {
        let key = leased.lease.key.clone();
        let acked = self.frontier.ack(&leased.lease, leased.url.id, Acked::Done);
        fenced(acked.await)?;
        if self.give_up_if_blocked(&key).await? {
            return self.release(&leased.lease, Duration::ZERO).await;
        }
        let politeness = self.fetcher.politeness();
        let now = tokio::time::Instant::now();
        let slot = politeness
            .next_slot(self.key(&key))
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        if let Some((_, wall)) = politeness.blocked_until(self.key(&key)) {
            let until = UnixMillis::from(wall);
            let why = "Retry-After or back-off";
            self.frontier.block_until(&key, until, why).await?;
        }
        let failures = self.frontier.health(&key).await?.errors_in_a_row;
        let backoff = match failures {
            0 => Duration::ZERO,
            n => Duration::from_millis(self.fetcher.config().politeness.min_interval_ms)
                .saturating_mul(1 << n.min(10)),
        };
        let after = slot + backoff.min(Duration::from_secs(3600));
        self.release(&leased.lease, after).await
    }

    /// One URL of `lease` is no longer in flight; the host goes back to the frontier, due
    /// `after` from now, once none is.
    pub(super) async fn release(
        &mut self,
        lease: &LeaseId,
        after: Duration,
    ) -> Result<(), CrawlError> {
        let Some(held) = self.held.get_mut(&lease.key) else {
            return Ok(());
        };
        held.urls = held.urls.saturating_sub(1);
        if held.urls > 0 {
            return Ok(());
        }
        self.held.remove(&lease.key);
        fenced(self.frontier.release(lease, after).await)
    }

    /// Renews the leases out that are half way to their end, so none lapses under a fetch
    /// that waits (a `Retry-After` within `politeness.max_backoff_s`).
    pub(super) async fn renew_leases(&mut self) -> Result<(), CrawlError> {
        let due: Vec<LeaseId> = (self.held.values())
            .filter(|h| h.renewed.elapsed() >= LEASE / 2)
            .map(|h| h.lease.clone())
            .collect();
        for lease in due {
            let renewed = self.frontier.renew(&lease, LEASE).await;
            fenced(renewed.map(drop))?;
            if let Some(held) = self.held.get_mut(&lease.key) {
                held.renewed = Instant::now();
            }
        }
        Ok(())
    }

    /// A host whose server asked it to wait longer than the crawl's patience
    /// (`politeness.max_backoff_s`) is given up: its queue is reported skipped
    /// (`crawl.host-gave-up`, with until when it is blocked) rather than each URL asked for
    /// in turn. A shorter block only defers the host ([`Crawl::done`]). Returns whether the
    /// host is given up (now or before).
    async fn give_up_if_blocked(&mut self, host: &str) -> Result<bool, CrawlError> {
        if self.frontier.health(host).await?.given_up {
            return Ok(true);
        }
        let politeness = self.fetcher.politeness();
        let Some((until, wall)) = politeness.blocked_until(self.key(host)) else {
            return Ok(false);
        };
        let patience = politeness.max_backoff();
        if until.into_std() <= Instant::now() + patience {
            return Ok(false);
        }
        let detail = format!(
            "{} is blocked until {} by its server, longer than politeness.max_backoff_s ({} s)",
            self.key(host),
            optout_net::politeness::rfc3339(wall),
            patience.as_secs()
        );
        tracing::warn!(host, "{detail}; host given up");
        self.frontier
            .block_until(host, UnixMillis::from(wall), &detail)
            .await?;
        self.drop_host(host, Some(&detail)).await?;
        Ok(true)
    }

    pub(super) async fn host_answered(&mut self, host: &str) -> Result<(), CrawlError> {
        Ok(self.frontier.record_success(host).await?)
    }

    /// One more failure in a row for `host`: its interval grows; at
    /// `crawl.host_max_errors` it is given up and its queue reported skipped.
    pub(super) async fn host_failed(&mut self, host: &str) -> Result<(), CrawlError> {
        let max = self.fetcher.config().crawl.host_max_errors;
        let health = self.frontier.record_error(host).await?;
        if health.errors_in_a_row < max || health.given_up {
            return Ok(());
        }
        tracing::warn!(
            host,
            errors = max,
            "host given up after {max} failures in a row"
        );
        self.drop_host(host, None).await
    }

    /// Gives `host` up: what is queued for it is reported skipped (`crawl.host-gave-up`),
    /// and so is every URL of it found later.
    async fn drop_host(&mut self, host: &str, detail: Option<&str>) -> Result<(), CrawlError> {
        loop {
            let dropped = self.frontier.give_up(host).await?;
            if dropped.is_empty() {
                return Ok(());
            }
            for candidate in dropped {
                let codes = vec!["crawl.host-gave-up"];
                self.skip_with(&candidate, "skipped", codes, None, detail)?;
            }
        }
    }
}

/// A write the frontier fenced off (the lease lapsed or was taken over) loses only what was
/// done under that lease: the URL stays queued and is fetched again under a newer one. A
/// crawl renews its leases long before they lapse, so this is a warning, not an error.
fn fenced(result: Result<(), FrontierError>) -> Result<(), CrawlError> {
    match result {
        Err(FrontierError::StaleLease { key, epoch, why }) => {
            tracing::warn!(key, epoch, ?why, "lease lost; its work is not recorded");
            Ok(())
        }
        other => Ok(other?),
    }
}
