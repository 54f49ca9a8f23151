//! The crawl loop: hand out the URLs whose hosts are due, one task per URL through the
//! fetch pipeline, and write what comes back in the order that keeps a resume exact:
//!
//! 1. the evidence of a batch of kept pages is made durable (one sync for the batch);
//! 2. each page goes into the WARC, then its links into the frontier, then it is
//!    acknowledged and its host released to the frontier with its next polite time;
//! 3. every `crawl.checkpoint_every_ms` the WARC, the skip report and the frontier are made
//!    durable together, with the positions a resume replays from ([`super::resume`]).
//!
//! Nothing refused or discarded is written anywhere but the skip report and the evidence.
//!
//! Hosts come from the frontier under leases ([`Frontier::claim`]), one URL per host at a
//! time, as before leases: a host's next URL waits for its polite slot in the frontier, not
//! in a task. A host's health and its server's blocks are the frontier's (`hosts`).

use super::archive::{self, Earlier};
use super::checkpoint::Checkpoint;
use super::frontier::{
    Acked, Candidate, Claim, Claimed, Frontier, HostLease, LeaseId, LeasedUrl, Pushed, Via,
};
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

/// How long a host lease lasts. Renewed while its URL is in flight (a fetch may wait out a
/// `Retry-After` within `politeness.max_backoff_s` and try again), so it never lapses under
/// a running crawl; the length only matters to a frontier shared with other processes.
const LEASE: Duration = Duration::from_secs(120);

/// A leased URL in the crawl's hands: the lease it came under (the token its writes show)
/// and the URL.
pub(crate) struct Leased {
    lease: LeaseId,
    url: LeasedUrl,
}

impl Leased {
    fn candidate(&self) -> &Candidate {
        &self.url.candidate
    }
}

/// A lease out: its token, when it was last renewed (by this process's clock, so another
/// machine's clock never matters), and its URLs not yet acknowledged.
struct Held {
    lease: LeaseId,
    renewed: Instant,
    urls: usize,
}

/// A finished task: a URL visited, or an origin's sitemaps read.
#[allow(clippy::large_enum_variant)] // one per task, moved once, as `fetcher::Outcome`
enum Finished {
    /// A URL visited, with the politeness key the fetcher paced and blocked it by (the
    /// queue key, but for `politeness.key = "ip"` the host's address).
    Url(Leased, Result<Visit, FetcherError>, String),
    /// A URL abandoned on a stop while it waited for its polite slot: nothing was sent for
    /// the page; its host is released, its URL stays queued for `--resume`.
    Abandoned(Leased),
    Sitemap(SitemapsRead),
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
    /// Who this crawl is to the frontier.
    owner: String,
    /// The leases out, by host key.
    held: HashMap<String, Held>,
    origins: HashSet<String>,
    /// The sitemaps of the origins in `origins`, read as URLs are needed.
    walks: SitemapWalks,
    pending: Vec<(Leased, Page, Found)>,
    /// When the oldest page of `pending` finished.
    pending_since: Option<Instant>,
    /// URL tasks in flight.
    visiting: u64,
    /// Links found only with nofollow so far (bounded): reported skipped at the end unless
    /// a followed link queues them first.
    nofollow: HashMap<String, Candidate>,
    /// The fetcher's politeness key of each queue key that differs from it (only with
    /// `politeness.key = "ip"`: the frontier queues by host name, the fetcher paces by
    /// address), so a host is due at its address's next slot.
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
            owner: format!("optout-crawl-{}", std::process::id()),
            held: HashMap::new(),
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
    pub async fn offer(&mut self, candidate: Candidate) -> Result<(), CrawlError> {
        let Ok(url) = Url::parse(&candidate.url) else {
            return Ok(());
        };
        if let Err(skip) = self.plan.scope.admit(&url, candidate.depth) {
            return self.skip(&candidate, "skipped", vec![skip.code()], None);
        }
        match self.frontier.push(candidate.clone()).await? {
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
            Pushed::HostGivenUp => {
                self.skip(&candidate, "skipped", vec!["crawl.host-gave-up"], None)?;
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
                self.read_sitemaps(&mut tasks).await?;
                loop {
                    let room = self.room(max_in_flight.saturating_sub(tasks.len()));
                    if room == 0 {
                        break;
                    }
                    let claim = Claim::hosts(&self.owner, room, LEASE);
                    match self.frontier.claim(&claim).await? {
                        Claimed::Leases(leases) => {
                            for lease in leases {
                                self.spawn_visits(&mut tasks, lease, shutdown);
                            }
                        }
                        Claimed::Wait(d) => {
                            wake = wake.min(d.max(Duration::from_millis(1)));
                            break;
                        }
                        Claimed::Busy => break,
                        Claimed::Empty => {
                            empty = true;
                            break;
                        }
                    }
                }
            }
            self.renew_leases().await?;
            wake = wake.min(LEASE / 4);
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
                        self.finish(joined).await?;
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
                self.finish(joined).await?;
            }
            if self.batch_left().is_some_and(|left| left.is_zero()) {
                self.write_pending().await?;
            }
            self.warc.write_through()?;
            self.skipped.write_through().map_err(CrawlError::Skipped)?;
            if self.last_checkpoint.elapsed() >= every {
                self.checkpoint().await?;
            }
            if self.progress.is_some() {
                let stats = self.frontier.stats().await?;
                let blocked = self.fetcher.politeness().blocked_hosts();
                if let Some(progress) = &mut self.progress {
                    progress.show(&self.tally, stats, tasks.len(), blocked);
                }
            }
        }
        if let Some(progress) = &mut self.progress {
            progress.finish();
        }
        self.write_pending().await?;
        if self.limit_kept() && !shutdown.stopping() {
            self.drain(super::MAX_PAGES).await?;
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
        self.checkpoint().await?;
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
        self.room(1) == 0
    }

    /// How many more URLs may be handed out, at most `free` (tasks free): as many as
    /// `--max-pages` still allows if every page in flight were kept.
    fn room(&self, free: usize) -> usize {
        let kept =
            self.plan.kept_before + self.tally.kept + self.pending.len() as u64 + self.visiting;
        let left = self
            .plan
            .max_pages
            .map_or(u64::MAX, |max| max.saturating_sub(kept));
        usize::try_from(left).map_or(free, |left| left.min(free))
    }

    /// Whether `--max-pages` pages are kept.
    fn limit_kept(&self) -> bool {
        let kept = self.plan.kept_before + self.tally.kept;
        self.plan.max_pages.is_some_and(|max| kept >= max)
    }

    /// Starts a task per URL of `lease` (one, as claimed) and holds the lease meanwhile.
    fn spawn_visits(
        &mut self,
        tasks: &mut JoinSet<Finished>,
        lease: HostLease,
        shutdown: &Shutdown,
    ) {
        self.held.insert(
            lease.id.key.clone(),
            Held {
                lease: lease.id.clone(),
                renewed: Instant::now(),
                urls: lease.urls.len(),
            },
        );
        for url in lease.urls {
            let leased = Leased {
                lease: lease.id.clone(),
                url,
            };
            self.spawn_visit(tasks, leased, shutdown);
        }
    }

    fn spawn_visit(&mut self, tasks: &mut JoinSet<Finished>, leased: Leased, shutdown: &Shutdown) {
        let fetcher = Arc::clone(&self.fetcher);
        let links = self.plan.follow_links.then(|| self.links.clone());
        let purpose = self.plan.purpose;
        self.visiting += 1;
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let sent = AtomicBool::new(false);
            let visiting = visit(&fetcher, leased.candidate(), purpose, links.as_ref(), &sent);
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
                () = abandon => return Finished::Abandoned(leased),
            };
            let key = match Url::parse(&leased.candidate().url) {
                Ok(url) => fetcher.politeness().key(&url).await,
                Err(_) => leased.lease.key.clone(),
            };
            Finished::Url(leased, visited, key)
        });
    }

    /// Offers sitemap URLs while the frontier has room for them, and starts the reads of
    /// the next sitemap documents of the origins whose URLs were all offered.
    async fn read_sitemaps(&mut self, tasks: &mut JoinSet<Finished>) -> Result<(), CrawlError> {
        for origin in self.origins.drain() {
            self.walks.start(&origin);
        }
        while self.sitemap_room().await? {
            let Some(candidate) = self.walks.next_candidate() else {
                break;
            };
            self.offer(candidate).await?;
        }
        if !self.sitemap_room().await? {
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
    async fn sitemap_room(&self) -> Result<bool, CrawlError> {
        let kept =
            self.plan.kept_before + self.tally.kept + self.pending.len() as u64 + self.visiting;
        let room = self
            .plan
            .max_pages
            .map_or(SITEMAP_BACKLOG, |max| max.saturating_sub(kept))
            .min(SITEMAP_BACKLOG);
        Ok(self.frontier.stats().await?.queued < room)
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
    async fn finish(
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
            Finished::Abandoned(leased) => {
                self.visiting -= 1;
                self.release(&leased.lease, Duration::ZERO).await
            }
            Finished::Url(leased, visited, key) => {
                self.visiting -= 1;
                if key != leased.lease.key {
                    self.keys.insert(leased.lease.key.clone(), key);
                }
                self.visited(leased, visited?).await
            }
        }
    }

    /// Takes in a visited URL: a page waits for its evidence to be durable; a refusal is
    /// reported; a redirect's target is offered.
    async fn visited(&mut self, leased: Leased, visit: Visit) -> Result<(), CrawlError> {
        match visit {
            Visit::Page { page, links } => {
                self.pending_since.get_or_insert_with(Instant::now);
                self.pending.push((leased, page, links));
                Ok(())
            }
            Visit::NotKept(refusal) => self.not_kept(leased, &refusal).await,
            Visit::Redirect {
                redirect,
                redirects,
            } => {
                self.host_answered(&leased.lease.key).await?;
                let candidate = Candidate {
                    url: redirect.to.to_string(),
                    depth: leased.candidate().depth,
                    found_on: Some(leased.candidate().url.clone()),
                    via: Via::Redirect,
                    validators: None,
                    redirects,
                };
                if self.redirect_budget_spent() {
                    self.skip(&candidate, "skipped", vec![super::MAX_PAGES], None)?;
                } else {
                    self.tally.redirects += 1;
                    self.offer(candidate).await?;
                }
                self.done(leased).await
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
    async fn not_kept(&mut self, leased: Leased, refusal: &Refusal) -> Result<(), CrawlError> {
        let verdict = match refusal.verdict {
            Verdict::Allowed => "failed",
            v => v.as_str(),
        };
        let codes: Vec<&'static str> = refusal.reasons.iter().map(|r| r.code.as_str()).collect();
        let failed_request = codes
            .first()
            .is_some_and(|c| matches!(*c, "fetch.failed" | "fetch.server-error"));
        let candidate = chain_end(leased.candidate(), refusal, &codes);
        let gave_up = codes.first() == Some(&"politeness.gave-up");
        let detail = refusal
            .reasons
            .first()
            .filter(|_| gave_up)
            .and_then(|r| r.detail.as_deref());
        self.skip_with(&candidate, verdict, codes, refusal.seq, detail)?;
        if failed_request {
            self.host_failed(&leased.lease.key).await?;
        } else if refusal.status.is_some() {
            self.host_answered(&leased.lease.key).await?;
        }
        self.done(leased).await
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
    async fn write_pending(&mut self) -> Result<(), CrawlError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending_since = None;
        let log = Arc::clone(self.fetcher.log());
        tokio::task::block_in_place(|| log.sync())?;
        for (leased, page, links) in std::mem::take(&mut self.pending) {
            if self
                .plan
                .max_pages
                .is_some_and(|max| self.plan.kept_before + self.tally.kept >= max)
            {
                // Fetched while the limit was reached by others in flight: not kept.
                let candidate = leased.candidate().clone();
                self.skip(
                    &candidate,
                    "skipped",
                    vec![super::MAX_PAGES],
                    Some(page.seq),
                )?;
                self.done(leased).await?;
                continue;
            }
            let candidate = leased.candidate();
            let found = (candidate.depth, candidate.found_on.as_deref());
            let sent = super::visit::conditional_pairs(candidate.validators.as_ref());
            let earlier = self.plan.earlier.get(&candidate.url);
            let client = self.fetcher.client().clone();
            tokio::task::block_in_place(|| {
                archive::write(&mut self.warc, &page, found, &client, &sent, earlier)
            })?;
            self.tally.kept += 1;
            self.tally.bytes += page.body.len() as u64;
            self.host_answered(&leased.lease.key).await?;
            for link in links.nofollow {
                self.not_followed(leased.candidate(), link).await?;
            }
            for link in links.follow {
                let candidate = Candidate {
                    url: link.to_string(),
                    depth: leased.candidate().depth + 1,
                    found_on: Some(leased.candidate().url.clone()),
                    via: Via::Link,
                    validators: None,
                    redirects: 0,
                };
                self.offer(candidate).await?;
            }
            self.done(leased).await?;
        }
        Ok(())
    }

    /// A link not followed for nofollow: remembered (up to [`MAX_NOFOLLOW`]) unless its URL
    /// was queued already, and reported at the end if nothing queued it meanwhile.
    async fn not_followed(&mut self, from: &Candidate, link: Url) -> Result<(), CrawlError> {
        if self.nofollow.len() >= MAX_NOFOLLOW || self.frontier.seen(link.as_str()).await? {
            return Ok(());
        }
        let key = super::frontier::canonical_key(&link);
        self.nofollow.entry(key).or_insert_with(|| Candidate {
            url: link.to_string(),
            depth: from.depth + 1,
            found_on: Some(from.url.clone()),
            via: Via::Link,
            validators: None,
            redirects: 0,
        });
        Ok(())
    }

    /// After the page limit: every URL still queued is reported skipped (`crawl.max-pages`).
    async fn drain(&mut self, code: &'static str) -> Result<(), CrawlError> {
        let claim = Claim {
            ahead: Duration::from_secs(10 * 365 * 86_400),
            ..Claim::hosts(&self.owner, 1, LEASE)
        };
        while let Claimed::Leases(leases) = self.frontier.claim(&claim).await? {
            for lease in leases {
                for url in &lease.urls {
                    self.skip(&url.candidate, "skipped", vec![code], None)?;
                    self.frontier.ack(&lease.id, url.id, Acked::Done).await?;
                }
                self.frontier.release(&lease.id, Duration::ZERO).await?;
            }
        }
        Ok(())
    }

    /// Makes the WARC, the skip report, the evidence and the frontier durable together.
    pub async fn checkpoint(&mut self) -> Result<(), CrawlError> {
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
        self.frontier.checkpoint(&meta.to_bytes()).await?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }
}

/// The URL a refusal's skip line names: the leased one; but for a chain of redirects cut at
/// `fetch.max_redirects`, the target never requested, found on the URL that redirected.
fn chain_end(leased: &Candidate, refusal: &Refusal, codes: &[&str]) -> Candidate {
    let candidate = leased.clone();
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

#[path = "run_hosts.rs"]
mod hosts;
