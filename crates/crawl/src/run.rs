//! The crawl loop: hand out the URLs whose hosts are due, one task per URL through the
//! fetch pipeline, and write what comes back in the order that keeps a resume exact:
//!
//! 1. the evidence of a batch of kept pages is made durable (one sync for the batch);
//! 2. each page goes into the WARC, then its links into the frontier, then it is done;
//! 3. every `crawl.checkpoint_every_ms` the WARC, the skip report and the frontier are made
//!    durable together, with the positions a resume replays from ([`super::resume`]).
//!
//! Nothing refused or discarded is written anywhere but the skip report and the evidence.

use super::archive::{self, Earlier};
use super::checkpoint::Checkpoint;
use super::frontier::{Candidate, Frontier, Lease, Next, Pushed, Via};
use super::links::LinkOptions;
use super::progress::Progress;
use super::scope::Scope;
use super::sitemap::SitemapLimits;
use super::sitemap_walk::{SitemapWalks, SitemapsRead};
use super::skipped::{SitemapLine, SitemapState, SkipLine, SkipReport};
use super::tally::Tally;
use super::visit::{Found, Visit, visit};
use super::warc::WarcWriter;
use super::{CrawlError, Shutdown};
use optout_fetch::{Fetcher, FetcherError, Page, Refusal};
use optout_policy::{Code, Purpose, Verdict};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use url::Url;

/// What a crawl is asked to do.
pub struct Plan {
    /// The purpose every URL is judged for.
    pub purpose: Purpose,
    /// What may be queued.
    pub scope: Scope,
    /// Stop after this many pages kept (over every run of the crawl).
    pub max_pages: Option<u64>,
    /// Read each origin's sitemaps.
    pub sitemaps: bool,
    /// Follow links (a re-crawl does not).
    pub follow_links: bool,
    /// Pages kept by earlier runs of this crawl.
    pub kept_before: u64,
    /// A re-crawl: the earlier capture of each URL, which a 304 refers to.
    pub earlier: HashMap<String, Earlier>,
}

/// The longest a kept page waits for the batch its evidence is synced with.
const BATCH: Duration = Duration::from_millis(10);

/// The most pages in one batch.
const BATCH_PAGES: usize = 256;

/// Links found only with nofollow that a crawl remembers to report.
const MAX_NOFOLLOW: usize = 100_000;

/// The most URLs queued in the frontier for sitemap URLs to be offered: sitemaps are read
/// as the crawl needs URLs, not all at once (see [`super::sitemap_walk`]).
const SITEMAP_BACKLOG: u64 = 1000;

/// A finished task: a URL visited, or an origin's sitemaps read.
#[allow(clippy::large_enum_variant)] // one per task, moved once, as `fetcher::Outcome`
enum Finished {
    /// A URL visited, with the politeness key of its host (the host, its domain or its IP:
    /// the key the fetcher paced and blocked it by).
    Url(Lease, Result<Visit, FetcherError>, String),
    /// A URL abandoned on a stop while it waited for its polite slot: nothing was sent for
    /// the page, and its lease stays out for `--resume`.
    Abandoned,
    Sitemap(SitemapsRead),
}

/// A host's run of failures.
#[derive(Default)]
struct HostErrors {
    in_a_row: u32,
    gave_up: bool,
}

/// One crawl run.
pub struct Crawl {
    fetcher: Arc<Fetcher>,
    frontier: Arc<dyn Frontier>,
    warc: WarcWriter,
    skipped: SkipReport,
    plan: Plan,
    links: LinkOptions,
    sitemap_limits: SitemapLimits,
    tally: Tally,
    hosts: HashMap<String, HostErrors>,
    origins: HashSet<String>,
    /// The sitemaps of the origins in `origins`, read as URLs are needed.
    walks: SitemapWalks,
    pending: Vec<(Lease, Page, Found)>,
    /// When the oldest page of `pending` finished.
    pending_since: Option<Instant>,
    /// URL tasks in flight.
    visiting: u64,
    /// Links found only with nofollow so far (bounded): reported skipped at the end unless
    /// a followed link queues them first.
    nofollow: HashMap<String, Candidate>,
    /// The politeness key of each queue host whose key is not the host itself
    /// (`politeness.key = "domain"` or `"ip"`): the frontier schedules a host at its key's
    /// next slot.
    keys: HashMap<String, String>,
    last_checkpoint: Instant,
    progress: Option<Progress>,
}

impl Crawl {
    /// A crawl over its parts.
    pub fn new(
        fetcher: Arc<Fetcher>,
        frontier: Arc<dyn Frontier>,
        warc: WarcWriter,
        skipped: SkipReport,
        plan: Plan,
    ) -> Crawl {
        let config = fetcher.config().crawl.clone();
        let links = LinkOptions {
            agent: fetcher.agent().to_owned(),
            honour_nofollow: config.honour_nofollow,
            max_links: config.max_links_per_page,
        };
        let sitemap_limits = SitemapLimits {
            max_urls: config.sitemap_max_urls,
            max_bytes: config.sitemap_max_bytes,
        };
        Crawl {
            fetcher,
            frontier,
            warc,
            skipped,
            plan,
            links,
            sitemap_limits,
            tally: Tally::default(),
            hosts: HashMap::new(),
            origins: HashSet::new(),
            walks: SitemapWalks::new(),
            pending: Vec::new(),
            pending_since: None,
            visiting: 0,
            nofollow: HashMap::new(),
            keys: HashMap::new(),
            last_checkpoint: Instant::now(),
            progress: None,
        }
    }

    /// Shows progress on standard error (or not: `-q`).
    pub fn set_progress(&mut self, show: bool) {
        self.progress = show.then(Progress::new);
    }

    /// The counts so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Queues `candidate` if the scope admits it; reports it skipped if not.
    pub fn offer(&mut self, candidate: Candidate) -> Result<(), CrawlError> {
        let Ok(url) = Url::parse(&candidate.url) else {
            return Ok(());
        };
        if let Err(skip) = self.plan.scope.admit(&url, candidate.depth) {
            return self.skip(&candidate, "skipped", vec![skip.code()], None);
        }
        let host = super::frontier::queue_host(&url).unwrap_or_default();
        if self.hosts.get(&host).is_some_and(|h| h.gave_up) {
            return self.skip(&candidate, "skipped", vec!["crawl.host-gave-up"], None);
        }
        match self.frontier.push(candidate.clone())? {
            Pushed::Queued => {
                if !self.nofollow.is_empty() {
                    self.nofollow.remove(&super::frontier::canonical_key(&url));
                }
                self.discover(&url)
            }
            Pushed::Seen => {}
            Pushed::OverHostBudget => {
                self.skip(&candidate, "skipped", vec!["crawl.host-budget"], None)?;
            }
            Pushed::Unqueueable(_) => {
                self.skip(&candidate, "refused", vec!["url.invalid"], None)?;
            }
        }
        Ok(())
    }

    /// Notes the origin of a queued URL; its sitemaps are read once. Not under
    /// `--max-depth 0`: sitemap entries are depth 1, each would only be reported skipped.
    fn discover(&mut self, url: &Url) {
        if self.plan.sitemaps && self.plan.scope.admits_depth(1) {
            self.origins.insert(url.origin().ascii_serialization());
        }
    }

    /// Runs until the frontier is empty, the page limit is reached, or `shutdown` asks to
    /// stop; returns the counts. State is checkpointed on every way out but an error.
    pub async fn run(mut self, shutdown: &Shutdown) -> Result<Tally, CrawlError> {
        let mut tasks: JoinSet<Finished> = JoinSet::new();
        let max_in_flight = self.fetcher.config().politeness.max_in_flight.max(1);
        let every = Duration::from_millis(self.fetcher.config().crawl.checkpoint_every_ms);
        loop {
            let stopping = shutdown.stopping() || self.limit_reached();
            let mut wake = every;
            let mut empty = false;
            if !stopping {
                self.read_sitemaps(&mut tasks)?;
                while tasks.len() < max_in_flight && !self.limit_reached() {
                    match self.frontier.next(Instant::now())? {
                        Next::Ready(lease) => self.spawn_visit(&mut tasks, lease, shutdown)?,
                        Next::Wait(d) => {
                            wake = wake.min(d.max(Duration::from_millis(1)));
                            break;
                        }
                        Next::Busy => break,
                        Next::Empty => {
                            empty = true;
                            break;
                        }
                    }
                }
            }
            let discovering = !self.origins.is_empty() || self.walks.busy();
            if tasks.is_empty() && (stopping || (empty && !discovering)) {
                break;
            }
            if shutdown.now() {
                tasks.abort_all();
            }
            if let Some(left) = self.batch_left() {
                wake = wake.min(left.max(Duration::from_millis(1)));
            }
            tokio::select! {
                joined = tasks.join_next(), if !tasks.is_empty() => {
                    if let Some(joined) = joined {
                        self.finish(joined)?;
                    }
                }
                _ = tokio::time::sleep(wake) => {}
                _ = shutdown.asked() => {
                    if shutdown.now() {
                        tasks.abort_all();
                    }
                }
            }
            while let Some(joined) = tasks.try_join_next() {
                self.finish(joined)?;
            }
            if self.batch_left().is_some_and(|left| left.is_zero()) {
                self.write_pending()?;
            }
            self.warc.write_through()?;
            self.skipped.write_through().map_err(CrawlError::Skipped)?;
            if self.last_checkpoint.elapsed() >= every {
                self.checkpoint()?;
            }
            if let Some(progress) = &mut self.progress {
                let blocked = self.fetcher.politeness().blocked_hosts();
                progress.show(&self.tally, self.frontier.stats(), tasks.len(), blocked);
            }
        }
        if let Some(progress) = &mut self.progress {
            progress.finish();
        }
        self.write_pending()?;
        if self.limit_kept() && !shutdown.stopping() {
            self.drain(super::MAX_PAGES)?;
            self.sitemaps_left(super::MAX_PAGES)?;
        }
        if !shutdown.stopping() {
            for candidate in std::mem::take(&mut self.nofollow).into_values() {
                let in_scope = Url::parse(&candidate.url)
                    .is_ok_and(|url| self.plan.scope.admit(&url, candidate.depth).is_ok());
                if in_scope {
                    self.skip(&candidate, "skipped", vec!["crawl.nofollow"], None)?;
                }
            }
        }
        self.checkpoint()?;
        Ok(self.tally)
    }

    /// How long until the kept pages waiting for their evidence are written: one `sync` of
    /// the evidence log covers all that finished within [`BATCH`] (or [`BATCH_PAGES`] of
    /// them), so the loop does not spend its time waiting for the disk once a page. A host
    /// waits for its page to be written before it is handed out again, and its next slot is
    /// an interval after its request went out: a batch shorter than the interval costs no
    /// host any time. `None` when no page waits.
    fn batch_left(&self) -> Option<Duration> {
        let since = self.pending_since?;
        if self.pending.len() >= BATCH_PAGES {
            return Some(Duration::ZERO);
        }
        Some(BATCH.saturating_sub(since.elapsed()))
    }

    /// Whether `--max-pages` pages are kept, or would be if every page in flight were:
    /// no more is requested than can be kept.
    fn limit_reached(&self) -> bool {
        let kept =
            self.plan.kept_before + self.tally.kept + self.pending.len() as u64 + self.visiting;
        self.plan.max_pages.is_some_and(|max| kept >= max)
    }

    /// Whether `--max-pages` pages are kept.
    fn limit_kept(&self) -> bool {
        let kept = self.plan.kept_before + self.tally.kept;
        self.plan.max_pages.is_some_and(|max| kept >= max)
    }

    fn spawn_visit(
        &mut self,
        tasks: &mut JoinSet<Finished>,
        lease: Lease,
        shutdown: &Shutdown,
    ) -> Result<(), CrawlError> {
        if self.hosts.get(&lease.host).is_some_and(|h| h.gave_up) {
            let candidate = lease.candidate.clone();
            self.skip(&candidate, "skipped", vec!["crawl.host-gave-up"], None)?;
            self.frontier.done(lease, Instant::now())?;
            return Ok(());
        }
        let fetcher = Arc::clone(&self.fetcher);
        let links = self.plan.follow_links.then(|| self.links.clone());
        let purpose = self.plan.purpose;
        self.visiting += 1;
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let sent = AtomicBool::new(false);
            let visiting = visit(&fetcher, &lease, purpose, links.as_ref(), &sent);
            let abandon = async {
                shutdown.stopped().await;
                if sent.load(Ordering::SeqCst) {
                    // The request is out: finish it, so what it brings is written.
                    std::future::pending::<()>().await;
                }
            };
            let visited = tokio::select! {
                biased;
                visited = visiting => visited,
                () = abandon => return Finished::Abandoned,
            };
            let key = match Url::parse(&lease.candidate.url) {
                Ok(url) => fetcher.politeness().key(&url).await,
                Err(_) => lease.host.clone(),
            };
            Finished::Url(lease, visited, key)
        });
        Ok(())
    }

    /// Offers sitemap URLs while the frontier has room for them, and starts the reads of
    /// the next sitemap documents of the origins whose URLs were all offered.
    fn read_sitemaps(&mut self, tasks: &mut JoinSet<Finished>) -> Result<(), CrawlError> {
        for origin in self.origins.drain() {
            self.walks.start(&origin);
        }
        while self.sitemap_room() {
            let Some(candidate) = self.walks.next_candidate() else {
                break;
            };
            self.offer(candidate)?;
        }
        if !self.sitemap_room() {
            return Ok(());
        }
        for read in self.walks.reads() {
            let fetcher = Arc::clone(&self.fetcher);
            let limits = self.sitemap_limits;
            let purpose = self.plan.purpose;
            tasks.spawn(
                async move { Finished::Sitemap(read.run(&fetcher, purpose, &limits).await) },
            );
        }
        Ok(())
    }

    /// Whether sitemap URLs may be offered (and more sitemaps read): fewer than
    /// [`SITEMAP_BACKLOG`] URLs queued, and fewer than the pages `--max-pages` still allows
    /// (a URL offered past it would only be reported `crawl.max-pages`).
    fn sitemap_room(&self) -> bool {
        let kept =
            self.plan.kept_before + self.tally.kept + self.pending.len() as u64 + self.visiting;
        let room = self
            .plan
            .max_pages
            .map_or(SITEMAP_BACKLOG, |max| max.saturating_sub(kept))
            .min(SITEMAP_BACKLOG);
        self.frontier.stats().queued < room
    }

    /// One summary line per sitemap not finished (read in part, or not read), with `code`:
    /// its URLs never offered are not reported one by one.
    fn sitemaps_left(&mut self, code: &'static str) -> Result<(), CrawlError> {
        for left in self.walks.left() {
            let line = SitemapLine {
                url: &left.url,
                verdict: "skipped",
                reasons: vec![code],
                seq: None,
                depth: 0,
                found_on: left.listed_in.as_deref(),
                sitemap: SitemapState {
                    read: left.not_offered.is_some(),
                    not_offered: left.not_offered,
                },
            };
            self.skipped
                .write_sitemap(&line)
                .map_err(CrawlError::Skipped)?;
        }
        Ok(())
    }

    /// Takes in a finished task.
    fn finish(
        &mut self,
        joined: Result<Finished, tokio::task::JoinError>,
    ) -> Result<(), CrawlError> {
        let finished = match joined {
            Ok(finished) => finished,
            // Aborted by a second Ctrl-C: the lease stays out and is fetched on resume.
            Err(e) if e.is_cancelled() => return Ok(()),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        match finished {
            Finished::Sitemap(read) => Ok(self.walks.take(read, &self.plan.scope)?),
            Finished::Abandoned => {
                self.visiting -= 1;
                Ok(())
            }
            Finished::Url(lease, visited, key) => {
                self.visiting -= 1;
                if key != lease.host {
                    self.keys.insert(lease.host.clone(), key);
                }
                self.visited(lease, visited?)
            }
        }
    }

    /// Takes in a visited URL: a page waits for its evidence to be durable; a refusal is
    /// reported; a redirect's target is offered.
    fn visited(&mut self, lease: Lease, visit: Visit) -> Result<(), CrawlError> {
        match visit {
            Visit::Page { page, links } => {
                self.pending_since.get_or_insert_with(Instant::now);
                self.pending.push((lease, page, links));
                Ok(())
            }
            Visit::NotKept(refusal) => self.not_kept(lease, &refusal),
            Visit::Redirect {
                redirect,
                redirects,
            } => {
                self.host_answered(&lease.host);
                let candidate = Candidate {
                    url: redirect.to.to_string(),
                    depth: lease.candidate.depth,
                    found_on: Some(lease.candidate.url.clone()),
                    via: Via::Redirect,
                    validators: None,
                    redirects,
                };
                if self.redirect_budget_spent() {
                    self.skip(&candidate, "skipped", vec![super::MAX_PAGES], None)?;
                } else {
                    self.tally.redirects += 1;
                    self.offer(candidate)?;
                }
                self.done(lease)
            }
        }
    }

    /// Whether this run followed as many redirects as `--max-pages` pages may take:
    /// `fetch.max_redirects` each. A redirect is no page, so without this bound a crawl
    /// limited to one page could request without end (every URL a chain of redirects).
    fn redirect_budget_spent(&self) -> bool {
        let per_page = self.fetcher.config().fetch.max_redirects as u64;
        self.plan
            .max_pages
            .is_some_and(|max| self.tally.redirects >= max.saturating_mul(per_page))
    }

    /// A URL not kept: reported, counted, and its host's failures tracked.
    fn not_kept(&mut self, lease: Lease, refusal: &Refusal) -> Result<(), CrawlError> {
        let verdict = match refusal.verdict {
            Verdict::Allowed => "failed",
            v => v.as_str(),
        };
        let codes: Vec<&'static str> = refusal.reasons.iter().map(|r| r.code.as_str()).collect();
        let failed_request = codes
            .first()
            .is_some_and(|c| matches!(*c, "fetch.failed" | "fetch.server-error"));
        let candidate = chain_end(&lease, refusal, &codes);
        let gave_up = codes.first() == Some(&"politeness.gave-up");
        let detail = refusal
            .reasons
            .first()
            .filter(|_| gave_up)
            .and_then(|r| r.detail.as_deref());
        self.skip_with(&candidate, verdict, codes, refusal.seq, detail)?;
        if failed_request {
            self.host_failed(&lease.host)?;
        } else if refusal.status.is_some() {
            self.host_answered(&lease.host);
        }
        self.done(lease)
    }

    /// The politeness key of a queue host.
    fn key<'a>(&'a self, host: &'a str) -> &'a str {
        self.keys.get(host).map_or(host, String::as_str)
    }

    /// A host whose server asked it to wait longer than the crawl's patience
    /// (`politeness.max_backoff_s`) is given up: its queue is reported skipped
    /// (`crawl.host-gave-up`, with until when it is blocked) rather than each URL asked for
    /// in turn. A shorter block only defers the host's queue ([`Crawl::done`]). Returns
    /// whether the host is given up (now or before).
    fn give_up_if_blocked(&mut self, host: &str) -> Result<bool, CrawlError> {
        if self.hosts.get(host).is_some_and(|h| h.gave_up) {
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
        self.drop_host(host, Some(&detail))?;
        Ok(true)
    }

    fn host_answered(&mut self, host: &str) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.in_a_row = 0;
        }
    }

    /// One more failure in a row for `host`: its interval grows; at
    /// `crawl.host_max_errors` it is given up and its queue reported skipped.
    fn host_failed(&mut self, host: &str) -> Result<(), CrawlError> {
        let max = self.fetcher.config().crawl.host_max_errors;
        let errors = self.hosts.entry(host.to_owned()).or_default();
        errors.in_a_row += 1;
        if errors.in_a_row < max || errors.gave_up {
            return Ok(());
        }
        tracing::warn!(
            host,
            errors = max,
            "host given up after {max} failures in a row"
        );
        self.drop_host(host, None)
    }

    /// Gives `host` up: what is queued for it is reported skipped (`crawl.host-gave-up`),
    /// and so is every URL of it found later.
    fn drop_host(&mut self, host: &str, detail: Option<&str>) -> Result<(), CrawlError> {
        self.hosts.entry(host.to_owned()).or_default().gave_up = true;
        loop {
            let dropped = self.frontier.drop_host(host)?;
            if dropped.is_empty() {
                return Ok(());
            }
            for candidate in dropped {
                let codes = vec!["crawl.host-gave-up"];
                self.skip_with(&candidate, "skipped", codes, None, detail)?;
            }
        }
    }

    /// The leased URL is finished; its host is due at its next polite slot (by its
    /// politeness key: after its interval, or when its server's `Retry-After` ends), later
    /// after failures in a row (doubling per failure).
    fn done(&mut self, lease: Lease) -> Result<(), CrawlError> {
        let now = Instant::now();
        if self.give_up_if_blocked(&lease.host)? {
            self.frontier.done(lease, now)?;
            return Ok(());
        }
        let politeness = self.fetcher.politeness();
        let slot = politeness
            .next_slot(self.key(&lease.host))
            .map(|t| t.into_std())
            .unwrap_or(now);
        let failures = self.hosts.get(&lease.host).map_or(0, |h| h.in_a_row);
        let backoff = match failures {
            0 => Duration::ZERO,
            n => Duration::from_millis(self.fetcher.config().politeness.min_interval_ms)
                .saturating_mul(1 << n.min(10)),
        };
        let not_before = slot.max(now) + backoff.min(Duration::from_secs(3600));
        self.frontier.done(lease, not_before)?;
        Ok(())
    }

    fn skip(
        &mut self,
        candidate: &Candidate,
        verdict: &str,
        codes: Vec<&'static str>,
        seq: Option<u64>,
    ) -> Result<(), CrawlError> {
        self.skip_with(candidate, verdict, codes, seq, None)
    }

    fn skip_with(
        &mut self,
        candidate: &Candidate,
        verdict: &str,
        codes: Vec<&'static str>,
        seq: Option<u64>,
        detail: Option<&str>,
    ) -> Result<(), CrawlError> {
        self.tally
            .not_kept(verdict, codes.first().copied().unwrap_or("crawl.skipped"));
        let line = SkipLine {
            url: &candidate.url,
            verdict,
            reasons: codes,
            seq,
            depth: candidate.depth,
            found_on: candidate.found_on.as_deref(),
            detail,
        };
        self.skipped.write(&line).map_err(CrawlError::Skipped)
    }

    /// Writes the kept pages once their evidence is durable: WARC, then links, then done.
    fn write_pending(&mut self) -> Result<(), CrawlError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending_since = None;
        let log = Arc::clone(self.fetcher.log());
        tokio::task::block_in_place(|| log.sync())?;
        for (lease, page, links) in std::mem::take(&mut self.pending) {
            if self
                .plan
                .max_pages
                .is_some_and(|max| self.plan.kept_before + self.tally.kept >= max)
            {
                // Fetched while the limit was reached by others in flight: not kept.
                let candidate = lease.candidate.clone();
                self.skip(
                    &candidate,
                    "skipped",
                    vec![super::MAX_PAGES],
                    Some(page.seq),
                )?;
                self.done(lease)?;
                continue;
            }
            let found = (lease.candidate.depth, lease.candidate.found_on.as_deref());
            let sent = super::visit::conditional_pairs(lease.candidate.validators.as_ref());
            let earlier = self.plan.earlier.get(&lease.candidate.url);
            let client = self.fetcher.client().clone();
            tokio::task::block_in_place(|| {
                archive::write(&mut self.warc, &page, found, &client, &sent, earlier)
            })?;
            self.tally.kept += 1;
            self.tally.bytes += page.body.len() as u64;
            self.host_answered(&lease.host);
            for link in links.nofollow {
                self.not_followed(&lease, link)?;
            }
            for link in links.follow {
                let candidate = Candidate {
                    url: link.to_string(),
                    depth: lease.candidate.depth + 1,
                    found_on: Some(lease.candidate.url.clone()),
                    via: Via::Link,
                    validators: None,
                    redirects: 0,
                };
                self.offer(candidate)?;
            }
            self.done(lease)?;
        }
        Ok(())
    }

    /// A link not followed for nofollow: remembered (up to [`MAX_NOFOLLOW`]) unless its URL
    /// was queued already, and reported at the end if nothing queued it meanwhile.
    fn not_followed(&mut self, lease: &Lease, link: Url) -> Result<(), CrawlError> {
        if self.nofollow.len() >= MAX_NOFOLLOW || self.frontier.seen(link.as_str())? {
            return Ok(());
        }
        let key = super::frontier::canonical_key(&link);
        self.nofollow.entry(key).or_insert_with(|| Candidate {
            url: link.to_string(),
            depth: lease.candidate.depth + 1,
            found_on: Some(lease.candidate.url.clone()),
            via: Via::Link,
            validators: None,
            redirects: 0,
        });
        Ok(())
    }

    /// After the page limit: every URL still queued is reported skipped (`crawl.max-pages`).
    fn drain(&mut self, code: &'static str) -> Result<(), CrawlError> {
        let far = Instant::now() + Duration::from_secs(10 * 365 * 86_400);
        while let Next::Ready(lease) = self.frontier.next(far)? {
            let candidate = lease.candidate.clone();
            self.skip(&candidate, "skipped", vec![code], None)?;
            self.frontier.done(lease, Instant::now())?;
        }
        Ok(())
    }

    /// Makes the WARC, the skip report, the evidence and the frontier durable together.
    pub fn checkpoint(&mut self) -> Result<(), CrawlError> {
        let log = Arc::clone(self.fetcher.log());
        let (position, skipped) = tokio::task::block_in_place(|| {
            log.sync()?;
            let position = self.warc.flush()?;
            let skipped = self.skipped.flush().map_err(CrawlError::Skipped)?;
            Ok::<_, CrawlError>((position, skipped))
        })?;
        let meta = Checkpoint {
            warc_file: position.file,
            warc_offset: position.offset,
            cdxj_offset: position.cdxj_offset,
            skipped_offset: skipped,
            kept: self.plan.kept_before + self.tally.kept,
        };
        tokio::task::block_in_place(|| self.frontier.checkpoint(&meta.to_bytes()))?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }
}

/// The URL a refusal's skip line names: the leased one; but for a chain of redirects cut at
/// `fetch.max_redirects`, the target never requested, found on the URL that redirected.
fn chain_end(lease: &Lease, refusal: &Refusal, codes: &[&str]) -> Candidate {
    let candidate = lease.candidate.clone();
    if codes.first() != Some(&Code::FetchRedirectLimit.as_str()) {
        return candidate;
    }
    Candidate {
        url: refusal.url.clone(),
        found_on: Some(candidate.url),
        via: Via::Redirect,
        redirects: candidate.redirects.saturating_add(1),
        ..candidate
    }
}
