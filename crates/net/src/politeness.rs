//! Per-host politeness: a least interval between requests to one host (raised to the site's
//! `Crawl-delay`), a bound on requests in flight per host and over all hosts, and back-off
//! after 429/503 honouring `Retry-After`.
//!
//! A `Retry-After` (RFC 9110 §10.2.3) or a back-off after 429/503 blocks the *host* (the
//! politeness key: host, domain or IP), not the one URL that got it: no request of any
//! caller sharing this state goes to the host before the time the server gave. A wait over
//! `politeness.max_backoff_s` is not waited at all: the request gives up at once
//! ([`Blocked`]), so nothing hangs on a wait it will not honour. `max_backoff_s` is how
//! long optout is willing to wait, never a cap on what the server asked.
//!
//! Each host has its own `governor` GCRA limiter (burst 1), so hosts can have different
//! intervals (governor's keyed limiter has one quota for all keys). Time is tokio's, so
//! tests run under `tokio::time::pause()`. A waiting host holds no global permit: it sleeps
//! first and takes a permit only when its slot has come, so waiting hosts never block others.
//! Idle hosts are forgotten.

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use optout_config::{HostKey, Politeness as Config};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// governor's clock over tokio's time: time since the politeness state was made.
#[derive(Clone, Debug)]
struct TokioClock {
    start: Instant,
}

impl GovernorClock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// One host's pace.
struct Pace {
    interval: Duration,
    limiter: Option<Limiter>,
    /// No request before this: back-off, or the last request plus a changed interval.
    not_before: Instant,
    last_sent: Option<Instant>,
    /// 429/503s in a row.
    backoffs: u32,
    last_used: Instant,
    /// No request before this, by the server's word (`Retry-After`) or a back-off.
    block: Option<Block>,
}

/// A host blocked by its server: until when, on both clocks (tokio's to wait, the wall
/// clock to say so in evidence).
#[derive(Clone, Copy, Debug)]
struct Block {
    until: Instant,
    wall: SystemTime,
}

/// A request that will not wait: its host is blocked for longer than
/// `politeness.max_backoff_s`. The host gets no request before `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The politeness key of the host.
    pub key: String,
    /// When the host may be asked again (wall clock).
    pub until: SystemTime,
    /// `politeness.max_backoff_s`.
    pub max: Duration,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is blocked until {} by its server (Retry-After or back-off), longer than politeness.max_backoff_s ({} s)",
            self.key,
            rfc3339(self.until),
            self.max.as_secs()
        )
    }
}

/// What a 429 or 503 did to its host ([`Politeness::back_off`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// How long the host is blocked from now.
    pub wait: Duration,
    /// Until when (wall clock).
    pub until: SystemTime,
    /// Whether the wait is within `politeness.max_backoff_s` (else the URL gives up).
    pub within: bool,
}

/// The politeness key of `url` by `politeness.key` as far as it is known without DNS: the
/// host name lower-cased without its trailing dot (`host`, and `ip` before resolving), or
/// its registrable domain (`domain`; an address or a name under no public suffix stays
/// itself). The one place the key is made: the fetcher paces by it and the crawl's
/// frontier queues by it, so a host is handed out exactly when its slot is free.
pub fn site_key(url: &Url, key: HostKey) -> String {
    // `example.com.` is `example.com`: one site, one pace.
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match key {
        HostKey::Host | HostKey::Ip => host,
        HostKey::Domain if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') => {
            host
        }
        HostKey::Domain => match psl::domain_str(&host) {
            Some(domain) => domain.to_owned(),
            None => host,
        },
    }
}

/// A wall-clock time as RFC 3339 in UTC, to the second.
pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

struct Host {
    in_flight: Arc<Semaphore>,
    pace: Mutex<Pace>,
    /// Requests waiting for this host's slot now.
    waiters: AtomicUsize,
}

/// A request waiting for its host's slot: counts the host as waiting while any does
/// ([`Politeness::waiting_hosts`]).
struct Waiting<'a> {
    host: &'a Host,
    hosts: &'a AtomicUsize,
}

impl<'a> Waiting<'a> {
    fn new(host: &'a Host, hosts: &'a AtomicUsize) -> Waiting<'a> {
        if host.waiters.fetch_add(1, Ordering::Relaxed) == 0 {
            hosts.fetch_add(1, Ordering::Relaxed);
        }
        Waiting { host, hosts }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.host.waiters.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.hosts.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The right to send one request to a host now. Dropping it ends the request.
pub struct Slot {
    /// The politeness key of the host.
    pub key: String,
    /// How long the request waited for its slot.
    pub waited: Duration,
    /// The interval the host is paced at.
    pub interval: Duration,
    /// When the slot was granted: slots of one host are granted at least `interval` apart
    /// by this clock reading.
    pub granted: Instant,
    _host: Option<OwnedSemaphorePermit>,
    _global: OwnedSemaphorePermit,
    /// Keeps the host's state alive while the request runs (the idle sweep skips it).
    _pace: Option<Arc<Host>>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("key", &self.key)
            .field("waited", &self.waited)
            .field("interval", &self.interval)
            .finish()
    }
}

/// The politeness state of every host.
pub struct Politeness {
    config: Config,
    clock: TokioClock,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    global: Arc<Semaphore>,
    /// Hosts with a request waiting for its slot now.
    waiting_hosts: AtomicUsize,
}

/// Hosts kept before idle ones are swept.
const SWEEP_AT: usize = 1024;

/// The farthest any wait reaches (30 years, as tokio's own "far future"): a deadline past it
/// is this far, never an overflow. No pace or back-off the config allows comes near it.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// `at + by`, saturated at [`FAR_FUTURE`] from `at`: `Instant + Duration` panics on overflow.
pub(crate) fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by.min(FAR_FUTURE))
        .or_else(|| at.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(at)
}

/// A number of seconds from the web (a `Crawl-delay`) as a `Duration`, never shorter than
/// it: too large a value (or one that is not a number) is [`Duration::MAX`], so a
/// comparison with a maximum is never fooled by clamping first.
pub(crate) fn seconds(value: f64) -> Duration {
    if value.is_nan() {
        return Duration::MAX;
    }
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

/// A `Crawl-delay` over `politeness.max_crawl_delay_s`: the site is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrawlDelayTooLong;

impl Politeness {
    /// Politeness as configured.
    pub fn new(config: &Config) -> Politeness {
        Politeness {
            config: config.clone(),
            clock: TokioClock {
                start: Instant::now(),
            },
            hosts: Mutex::new(HashMap::new()),
            global: Arc::new(Semaphore::new(permits(config.max_in_flight))),
            waiting_hosts: AtomicUsize::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The politeness key of `url`'s host ([`site_key`]; for `ip`, the first address its
    /// name resolves to).
    pub async fn key(&self, url: &Url) -> String {
        match self.config.key {
            HostKey::Ip => {
                let host = site_key(url, HostKey::Host);
                let port = url.port_or_known_default().unwrap_or(80);
                let first = match tokio::net::lookup_host((host.as_str(), port)).await {
                    Ok(mut addrs) => addrs.next().map(|a| a.ip().to_string()),
                    Err(_) => None,
                };
                first.unwrap_or(host)
            }
            key => site_key(url, key),
        }
    }

    /// The interval for `key`: the configured one (or its override), raised to `crawl_delay`.
    pub fn interval(&self, key: &str, crawl_delay: Option<Duration>) -> Duration {
        let base = self
            .config
            .hosts
            .get(key)
            .copied()
            .unwrap_or(self.config.min_interval_ms);
        Duration::from_millis(base).max(crawl_delay.unwrap_or_default())
    }

    /// The longest crawl-delay honoured.
    pub fn max_crawl_delay(&self) -> Duration {
        Duration::from_secs(self.config.max_crawl_delay_s)
    }

    /// A robots.txt `Crawl-delay` of `seconds` as the delay to pace at, or
    /// [`CrawlDelayTooLong`] when it is over `politeness.max_crawl_delay_s`. Compared before
    /// anything is clamped, so that a huge delay (`1e300`) is always a skip, never a wait.
    pub fn crawl_delay(&self, seconds: f64) -> Result<Duration, CrawlDelayTooLong> {
        let delay = self::seconds(seconds);
        if delay > self.max_crawl_delay() {
            return Err(CrawlDelayTooLong);
        }
        Ok(delay)
    }

    /// Hosts with at least one request waiting for its slot now (`/metrics` of `optout
    /// serve`).
    pub fn waiting_hosts(&self) -> usize {
        self.waiting_hosts.load(Ordering::Relaxed)
    }

    /// Hosts whose state is held now.
    pub fn hosts(&self) -> usize {
        self.lock_hosts().len()
    }

    fn lock_hosts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Host>>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn host(&self, key: &str) -> Arc<Host> {
        let mut hosts = self.lock_hosts();
        if let Some(host) = hosts.get(key) {
            return Arc::clone(host);
        }
        if hosts.len() >= SWEEP_AT {
            let forget = Duration::from_secs(self.config.idle_forget_s);
            let now = Instant::now();
            hosts.retain(|_, host| {
                let pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
                // Held by a request, backing off, or recently used: keep.
                Arc::strong_count(host) > 1
                    || pace.not_before > now
                    || now.saturating_duration_since(pace.last_used) < forget
            });
        }
        let host = Arc::new(Host {
            in_flight: Arc::new(Semaphore::new(permits(self.config.in_flight_per_host))),
            pace: Mutex::new(Pace {
                interval: Duration::ZERO,
                limiter: None,
                not_before: Instant::now(),
                last_sent: None,
                backoffs: 0,
                last_used: Instant::now(),
                block: None,
            }),
            waiters: AtomicUsize::new(0),
        });
        hosts.insert(key.to_owned(), Arc::clone(&host));
        host
    }

    /// Waits for `key`'s next slot, paced at `interval`; gives up at once, without waiting,
    /// when the host is blocked (`Retry-After`, back-off) for longer than
    /// `politeness.max_backoff_s`.
    pub async fn acquire(&self, key: &str, interval: Duration) -> Result<Slot, Blocked> {
        let started = Instant::now();
        if !self.config.enabled {
            // Unpaced, but a server's Retry-After still holds.
            self.wait_out_block(key).await?;
            let global = Arc::clone(&self.global)
                .acquire_owned()
                .await
                .expect("the global semaphore is never closed");
            return Ok(Slot {
                key: key.to_owned(),
                waited: started.elapsed(),
                interval: Duration::ZERO,
                granted: Instant::now(),
                _host: None,
                _global: global,
                _pace: None,
            });
        }
        let host = self.host(key);
        let _waiting = Waiting::new(&host, &self.waiting_hosts);
        self.check_block(key, &host)?;
        let host_permit = Arc::clone(&host.in_flight)
            .acquire_owned()
            .await
            .expect("a host semaphore is never closed");
        loop {
            // Checked again after every wait: another request may have been told to wait.
            self.check_block(key, &host)?;
            if let Some(wait) = self.until_free(&host, interval) {
                self.wait_for_slot(later(Instant::now(), wait), interval)
                    .await;
                continue;
            }
            let global = Arc::clone(&self.global)
                .acquire_owned()
                .await
                .expect("the global semaphore is never closed");
            match self.take_cell(&host) {
                Ok(granted) => {
                    return Ok(Slot {
                        key: key.to_owned(),
                        waited: granted.saturating_duration_since(started),
                        interval,
                        granted,
                        _host: Some(host_permit),
                        _global: global,
                        _pace: Some(Arc::clone(&host)),
                    });
                }
                Err(wait) => {
                    drop(global);
                    self.wait_for_slot(later(Instant::now(), wait), interval)
                        .await;
                }
            }
        }
    }

    /// `Err` when `host` is blocked for longer than `politeness.max_backoff_s` from now.
    fn check_block(&self, key: &str, host: &Host) -> Result<(), Blocked> {
        let pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        match pace.block {
            Some(block) if block.until > later(Instant::now(), self.max_backoff()) => {
                Err(Blocked {
                    key: key.to_owned(),
                    until: block.wall,
                    max: self.max_backoff(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Waits until `key`'s block (if any) has passed, with no pacing (politeness switched
    /// off still owes the server its `Retry-After`). Gives up at once on a block longer than
    /// `politeness.max_backoff_s`.
    pub async fn wait_out_block(&self, key: &str) -> Result<(), Blocked> {
        loop {
            let Some(host) = self.lock_hosts().get(key).cloned() else {
                return Ok(());
            };
            self.check_block(key, &host)?;
            let until = host
                .pace
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .block
                .map(|b| b.until);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return Ok(()),
            }
        }
    }

    /// Hosts blocked by their server now, and the latest time one is blocked until (the
    /// crawl's progress line).
    pub fn blocked_hosts(&self) -> (usize, Option<SystemTime>) {
        let now = Instant::now();
        let hosts = self.lock_hosts();
        let mut count = 0;
        let mut latest: Option<SystemTime> = None;
        for host in hosts.values() {
            let pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(block) = pace.block.filter(|b| b.until > now) {
                count += 1;
                latest = Some(latest.map_or(block.wall, |l| l.max(block.wall)));
            }
        }
        (count, latest)
    }

    /// `politeness.max_backoff_s`: the longest optout waits for a host.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_secs(self.config.max_backoff_s)
    }

    /// When `key`'s server allows the next request, if it has blocked the host (and the
    /// block has not passed): tokio's clock and the wall clock.
    pub fn blocked_until(&self, key: &str) -> Option<(Instant, SystemTime)> {
        let host = Arc::clone(self.lock_hosts().get(key)?);
        let pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        let block = pace.block?;
        (block.until > Instant::now()).then_some((block.until, block.wall))
    }

    /// Waits until `deadline` for a slot of a host paced at `interval`: precisely when the
    /// interval is under `precise_below_ms`. tokio's timer wakes about 1 ms late and a host's
    /// next slot counts from then: 2% of a 50 ms interval, 0.1% of the default 1 s. A precise
    /// wake costs a hop through `async-io`'s thread (tens of µs of CPU), worth paying only
    /// where the millisecond matters.
    async fn wait_for_slot(&self, deadline: Instant, interval: Duration) {
        if interval < Duration::from_millis(self.config.precise_below_ms) {
            sleep_precisely(deadline).await;
        } else {
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// How long until `host` may be asked for a cell (back-off, a changed interval); sets
    /// the interval first.
    fn until_free(&self, host: &Host, interval: Duration) -> Option<Duration> {
        let mut pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        pace.last_used = now;
        if pace.interval != interval || (pace.limiter.is_none() && !interval.is_zero()) {
            pace.limiter = Quota::with_period(interval.min(FAR_FUTURE)).map(|q| {
                RateLimiter::direct_with_clock(q.allow_burst(nonzero_one()), self.clock.clone())
            });
            // A new limiter starts with a free cell: keep the new spacing from the last request.
            if let Some(last) = pace.last_sent {
                pace.not_before = pace.not_before.max(later(last, interval));
            }
            pace.interval = interval;
        }
        (pace.not_before > now).then(|| pace.not_before - now)
    }

    /// Takes the host's next cell now, or says how long to wait for it. Returns when it was
    /// taken; the next is not before that plus the interval. (governor's limiter reads its
    /// own clock a moment earlier: were this thread preempted in between, the limiter alone
    /// could grant the next slot a little less than an interval after this reading.)
    fn take_cell(&self, host: &Host) -> Result<Instant, Duration> {
        let mut pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if pace.not_before > now {
            return Err(pace.not_before - now);
        }
        if let Some(limiter) = &pace.limiter
            && let Err(not_until) = limiter.check()
        {
            return Err(not_until
                .wait_time_from(self.clock.now())
                .max(Duration::from_millis(1)));
        }
        let granted = Instant::now();
        pace.last_sent = Some(granted);
        pace.last_used = granted;
        pace.not_before = pace.not_before.max(later(granted, pace.interval));
        Ok(granted)
    }

    /// Sends `request` to `url`'s host in its turn: waits for the host's slot, paced at its
    /// interval raised to `crawl_delay` (at most the configured maximum), and counts the
    /// interval also from the end of the request. Returns the request's output and how long
    /// the slot took to come; not sent at all when the host is blocked for longer than
    /// `politeness.max_backoff_s`.
    pub async fn paced<F: Future>(
        &self,
        url: &Url,
        crawl_delay: Option<Duration>,
        request: F,
    ) -> Result<(F::Output, Duration), Blocked> {
        let key = self.key(url).await;
        let delay = crawl_delay.map(|d| d.min(self.max_crawl_delay()));
        let interval = self.interval(&key, delay);
        let slot = self.acquire(&key, interval).await?;
        let output = request.await;
        self.note_request(&key, Instant::now(), interval);
        Ok((output, slot.waited))
    }

    /// Takes in a response from `url`'s host outside the fetch pipeline (a crawler's policy
    /// file): a 429 or 503 with a `Retry-After` blocks the host like a page's would
    /// ([`Politeness::back_off`]). Without one, the file's own retry schedule (RFC 9309
    /// §2.3.1.4, `net.retry_unreachable_s`) is the back-off, and the host is not blocked.
    pub async fn heed(&self, url: &Url, status: u16, retry_after: Option<Duration>) {
        if matches!(status, 429 | 503) && retry_after.is_some() {
            let key = self.key(url).await;
            self.back_off(&key, retry_after);
        }
    }

    /// Counts a request to `key` at `at` that the pacing did not see (the policy files of its
    /// origin, or the end of a paced request), so the next request keeps the interval from it.
    pub fn note_request(&self, key: &str, at: Instant, interval: Duration) {
        if !self.config.enabled {
            return;
        }
        let host = self.host(key);
        let mut pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        pace.not_before = pace.not_before.max(later(at, interval));
    }

    /// After a 429 or 503: no request to `key` before the server's `Retry-After`, or else an
    /// exponentially growing back-off (RFC 9110 §10.2.3, §15.5.20, §15.6.4). The whole host
    /// waits the full time the server gave, whatever `politeness.max_backoff_s` says: that
    /// bounds how long optout waits, so a longer wait gives up (`within` is false) and the
    /// host still gets nothing before `until`.
    pub fn back_off(&self, key: &str, retry_after: Option<Duration>) -> Backoff {
        let host = self.host(key);
        let mut pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        pace.backoffs += 1;
        let doubled = Duration::from_secs(self.config.backoff_s)
            .saturating_mul(1 << pace.backoffs.saturating_sub(1).min(16));
        let max = self.max_backoff();
        let wait = retry_after.unwrap_or(doubled.min(max));
        let now = Instant::now();
        let until = later(now, wait);
        let wall = wall_clock_after(until.saturating_duration_since(now));
        pace.not_before = pace.not_before.max(until);
        let block = match pace.block {
            Some(old) if old.until >= until => old,
            _ => Block { until, wall },
        };
        pace.block = Some(block);
        Backoff {
            wait: block.until.saturating_duration_since(now),
            until: block.wall,
            within: wait <= max,
        }
    }

    /// The earliest time `key`'s next request may go out (its last request plus its
    /// interval, or the end of a back-off), for a scheduler that hands out only hosts that
    /// are due; `None` for a host with no state.
    pub fn next_slot(&self, key: &str) -> Option<Instant> {
        let host = Arc::clone(self.lock_hosts().get(key)?);
        let pace = host.pace.lock().unwrap_or_else(|p| p.into_inner());
        let after_last = pace.last_sent.map(|at| later(at, pace.interval));
        Some(after_last.map_or(pace.not_before, |at| at.max(pace.not_before)))
    }

    /// A response that was not a 429/503 ends the host's back-off streak.
    pub fn answered(&self, key: &str) {
        if let Some(host) = self.lock_hosts().get(key) {
            host.pace.lock().unwrap_or_else(|p| p.into_inner()).backoffs = 0;
        }
    }
}

/// How much of a wait is left to the precise timer.
const PRECISE: Duration = Duration::from_millis(3);

/// Sleeps until `deadline`, waking within about 0.1 ms of it rather than tokio's 1 ms.
///
/// tokio's timer wheel counts whole milliseconds and rounds a deadline up to the next one,
/// and the wait for it is rounded up to a millisecond again: a tokio sleep wakes about 1 ms
/// late on average. A host's next slot counts from when its last request went out, so that
/// millisecond is lost on every request, 2% of a 50 ms interval. The wait is slept on tokio's
/// timer until [`PRECISE`] before the deadline, and the rest on `async-io`'s timer, which
/// waits on a timerfd to the microsecond. Never early: the wait ends when both clocks have
/// reached the deadline, and on a paused tokio clock (tests) tokio's own sleep ends it.
async fn sleep_precisely(deadline: Instant) {
    if let Some(coarse) = deadline.checked_sub(PRECISE)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse).await;
    }
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return;
    }
    // tokio's sleep runs beside the precise one: on a paused clock it is the one that ends
    // the wait, and it keeps tokio from thinking the runtime idle and moving the clock on
    // to some later timer while the precise one waits in real time.
    let coarse = tokio::time::sleep_until(deadline);
    tokio::pin!(coarse);
    tokio::select! {
        biased;
        () = &mut coarse => {}
        _ = async_io::Timer::after(left) => {
            if Instant::now() < deadline {
                coarse.await;
            }
        }
    }
}

/// Permits for a semaphore: tokio panics above [`Semaphore::MAX_PERMITS`] (the config
/// allows far fewer; this holds for a `Politeness` made from an unchecked one too).
fn permits(n: usize) -> usize {
    n.clamp(1, Semaphore::MAX_PERMITS)
}

/// The wall-clock time `wait` from now, saturated as [`later`] saturates.
fn wall_clock_after(wait: Duration) -> SystemTime {
    let now = SystemTime::now();
    now.checked_add(wait.min(FAR_FUTURE)).unwrap_or(now)
}

fn nonzero_one() -> std::num::NonZeroU32 {
    std::num::NonZeroU32::MIN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(interval_ms: u64) -> Config {
        Config {
            min_interval_ms: interval_ms,
            ..Config::default()
        }
    }

    /// One key for the fetcher and the crawl's frontier: a table of URLs and their key by
    /// `politeness.key`.
    #[test]
    fn site_keys_by_host_and_domain() {
        let table = [
            (
                "http://WWW.Example.co.uk./a",
                "www.example.co.uk",
                "example.co.uk",
            ),
            (
                "https://a.b.example.com:8443/",
                "a.b.example.com",
                "example.com",
            ),
            ("http://127.0.0.2:8080/", "127.0.0.2", "127.0.0.2"),
            ("http://[::1]/", "[::1]", "[::1]"),
            ("http://localhost/", "localhost", "localhost"),
        ];
        for (url, host, domain) in table {
            let url = Url::parse(url).unwrap();
            assert_eq!(site_key(&url, HostKey::Host), host, "{url}");
            assert_eq!(site_key(&url, HostKey::Ip), host, "{url}: before resolving");
            assert_eq!(site_key(&url, HostKey::Domain), domain, "{url}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_by_the_interval() {
        let p = Politeness::new(&config(1000));
        let start = Instant::now();
        let mut times = Vec::new();
        let mut granted: Vec<Instant> = Vec::new();
        for _ in 0..5 {
            let slot = p
                .acquire("a.example", Duration::from_secs(1))
                .await
                .unwrap();
            times.push(Instant::now() - start);
            if let Some(last) = granted.last() {
                assert!(slot.granted - *last >= Duration::from_secs(1));
            }
            granted.push(slot.granted);
            drop(slot);
        }
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(1), "{times:?}");
        }
        assert!(times[4] < Duration::from_millis(4100), "{times:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_host_does_not_block_another() {
        let p = Arc::new(Politeness::new(&Config {
            max_in_flight: 1,
            ..config(10_000)
        }));
        drop(
            p.acquire("slow.example", Duration::from_secs(10))
                .await
                .unwrap(),
        );
        let waiting = {
            let p = Arc::clone(&p);
            tokio::spawn(async move {
                p.acquire("slow.example", Duration::from_secs(10))
                    .await
                    .unwrap()
            })
        };
        tokio::task::yield_now().await;
        let start = Instant::now();
        let other = p
            .acquire("fast.example", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(Instant::now() - start < Duration::from_millis(10));
        drop(other);
        let slot = waiting.await.unwrap();
        assert!(slot.waited >= Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn crawl_delay_raises_the_interval_and_retry_after_is_honoured() {
        let p = Politeness::new(&config(100));
        assert_eq!(
            p.interval("a", Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(p.interval("a", None), Duration::from_millis(100));
        drop(p.acquire("a", Duration::from_millis(100)).await.unwrap());
        let backoff = p.back_off("a", Some(Duration::from_secs(30)));
        assert_eq!(backoff.wait, Duration::from_secs(30));
        assert!(backoff.within);
        let start = Instant::now();
        drop(p.acquire("a", Duration::from_millis(100)).await.unwrap());
        assert!(Instant::now() - start >= Duration::from_secs(30));
        assert!(!p.back_off("a", Some(Duration::from_secs(100_000))).within);
    }

    #[tokio::test(start_paused = true)]
    async fn a_longer_interval_keeps_its_spacing_from_the_last_request() {
        let p = Politeness::new(&config(100));
        drop(p.acquire("a", Duration::from_millis(100)).await.unwrap());
        let start = Instant::now();
        drop(p.acquire("a", Duration::from_secs(2)).await.unwrap());
        assert!(Instant::now() - start >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_precise_sleep_is_never_early_on_a_paused_clock() {
        for ms in [0, 1, 2, 3, 4, 10, 1000] {
            let deadline = Instant::now() + Duration::from_millis(ms);
            sleep_precisely(deadline).await;
            assert!(Instant::now() >= deadline, "{ms} ms");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_precise_sleep_keeps_a_paused_clock_from_jumping_past_it() {
        // Another task's far timer: while the precise timer waits in real time, a paused
        // runtime that looked idle would move the clock on to it.
        let far = tokio::spawn(tokio::time::sleep(Duration::from_secs(30)));
        let start = Instant::now();
        let waited = tokio::time::timeout(
            Duration::from_secs(60),
            sleep_precisely(start + Duration::from_secs(1)),
        )
        .await;
        assert!(waited.is_ok(), "the wait outlived its timeout");
        let took = Instant::now() - start;
        assert!(took >= Duration::from_secs(1), "{took:?}");
        assert!(took < Duration::from_millis(1100), "{took:?}");
        far.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_precise_sleep_is_never_early() {
        for micros in [
            0, 300, 999, 1_000, 1_500, 2_999, 3_000, 3_001, 4_700, 12_345,
        ] {
            let deadline = Instant::now() + Duration::from_micros(micros);
            sleep_precisely(deadline).await;
            assert!(Instant::now() >= deadline, "{micros} µs");
            // tokio's `Instant` is std's when the clock is not paused.
            assert!(
                std::time::Instant::now() >= deadline.into_std(),
                "{micros} µs"
            );
        }
    }

    /// Values no validated config holds (a library user may build one by hand) and values
    /// from the web: every wait saturates, a huge crawl-delay is too long before anything
    /// is clamped, and nothing panics.
    #[tokio::test(start_paused = true)]
    async fn huge_values_saturate_and_never_panic() {
        let p = Politeness::new(&Config {
            min_interval_ms: u64::MAX,
            max_crawl_delay_s: u64::MAX,
            max_backoff_s: u64::MAX,
            backoff_s: u64::MAX,
            in_flight_per_host: usize::MAX,
            max_in_flight: usize::MAX,
            ..Config::default()
        });
        for huge in [1e300, 99999999999999999999999.0, f64::INFINITY, f64::NAN] {
            assert_eq!(p.crawl_delay(huge), Err(CrawlDelayTooLong), "{huge}");
        }
        assert_eq!(p.crawl_delay(2.5), Ok(Duration::from_millis(2500)));
        assert_eq!(p.crawl_delay(-1.0), Ok(Duration::ZERO));
        let interval = p.interval("a", None);
        assert_eq!(interval, Duration::from_millis(u64::MAX));
        drop(p.acquire("a", interval).await.unwrap());
        p.note_request("a", Instant::now(), interval);
        assert!(!p.back_off("a", Some(Duration::MAX)).within);
        assert!(p.back_off("a", None).within);
        // The next slot is decades away: waited for, not overflowed.
        let next = tokio::time::timeout(Duration::from_secs(3600), p.acquire("a", interval));
        assert!(next.await.is_err());
        assert!(later(Instant::now(), Duration::MAX) > Instant::now());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_hosts_are_forgotten() {
        let p = Politeness::new(&Config {
            idle_forget_s: 1,
            ..config(10)
        });
        for i in 0..SWEEP_AT {
            drop(
                p.acquire(&format!("h{i}"), Duration::from_millis(10))
                    .await
                    .unwrap(),
            );
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(p.acquire("new", Duration::from_millis(10)).await.unwrap());
        assert!(p.hosts() < 10, "{}", p.hosts());
    }

    /// RFC 9110 §10.2.3: a `Retry-After` longer than `max_backoff_s` blocks the whole host
    /// for the full time; every request to it gives up at once rather than waiting out the
    /// cap and asking early.
    #[tokio::test(start_paused = true)]
    async fn rfc9110_10_2_3_a_long_retry_after_blocks_the_host_for_its_full_time() {
        let p = Politeness::new(&Config {
            max_backoff_s: 3,
            ..config(10)
        });
        let backoff = p.back_off("a", Some(Duration::from_secs(10)));
        assert!(!backoff.within);
        assert_eq!(backoff.wait, Duration::from_secs(10));
        let start = Instant::now();
        let blocked = p.acquire("a", Duration::from_millis(10)).await.unwrap_err();
        assert_eq!(Instant::now(), start, "gave up without waiting");
        assert_eq!(blocked.key, "a");
        assert!(
            blocked.to_string().contains("max_backoff_s (3 s)"),
            "{blocked}"
        );
        // Another host is not blocked.
        drop(p.acquire("b", Duration::from_millis(10)).await.unwrap());
        // Past the cap, still blocked; past the server's time, free.
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(p.acquire("a", Duration::from_millis(10)).await.is_err());
        tokio::time::advance(Duration::from_secs(6)).await;
        let slot = p.acquire("a", Duration::from_millis(10)).await.unwrap();
        assert!(Instant::now() - start >= Duration::from_secs(10));
        drop(slot);
    }

    /// A `Retry-After` within `max_backoff_s` is waited out by every request to the host,
    /// not only the one that got it.
    #[tokio::test(start_paused = true)]
    async fn a_short_retry_after_is_waited_by_every_request_to_the_host() {
        let p = Arc::new(Politeness::new(&config(10)));
        drop(p.acquire("a", Duration::from_millis(10)).await.unwrap());
        let start = Instant::now();
        assert!(p.back_off("a", Some(Duration::from_secs(8))).within);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let p = Arc::clone(&p);
                tokio::spawn(async move {
                    let slot = p.acquire("a", Duration::from_millis(10)).await.unwrap();
                    slot.granted
                })
            })
            .collect();
        for waiter in waiters {
            let granted = waiter.await.unwrap();
            assert!(granted - start >= Duration::from_secs(8));
        }
    }

    /// A block is never shortened by a later, shorter `Retry-After`.
    #[tokio::test(start_paused = true)]
    async fn a_later_shorter_retry_after_keeps_the_longer_block() {
        let p = Politeness::new(&config(10));
        p.back_off("a", Some(Duration::from_secs(100)));
        let shorter = p.back_off("a", Some(Duration::from_secs(1)));
        assert!(shorter.wait >= Duration::from_secs(99), "{shorter:?}");
        assert!(p.blocked_until("a").is_some());
        assert!(p.blocked_until("b").is_none());
    }

    /// A 429/503 with a Retry-After heeded from a policy file blocks the host for pages too:
    /// a short block is waited out, a long one gives up at once.
    #[tokio::test(start_paused = true)]
    async fn a_heeded_retry_after_blocks_the_host() {
        let p = Politeness::new(&Config {
            max_backoff_s: 5,
            ..config(10)
        });
        let url = Url::parse("http://a.example/robots.txt").unwrap();
        p.heed(&url, 429, Some(Duration::from_secs(2))).await;
        let start = Instant::now();
        p.wait_out_block("a.example").await.unwrap();
        assert!(Instant::now() - start >= Duration::from_secs(2));
        p.heed(&url, 503, Some(Duration::from_secs(60))).await;
        let start = Instant::now();
        assert!(p.acquire("a.example", Duration::ZERO).await.is_err());
        assert_eq!(Instant::now(), start);
        // Without a Retry-After the file's own retry schedule is the back-off.
        let other = Url::parse("http://b.example/robots.txt").unwrap();
        p.heed(&other, 503, None).await;
        assert!(p.blocked_until("b.example").is_none());
    }

    /// With pacing off, a server's block still holds.
    #[tokio::test(start_paused = true)]
    async fn a_block_holds_with_pacing_off() {
        let p = Politeness::new(&Config {
            enabled: false,
            max_backoff_s: 5,
            ..config(10)
        });
        p.back_off("a", Some(Duration::from_secs(2)));
        let start = Instant::now();
        drop(p.acquire("a", Duration::ZERO).await.unwrap());
        assert!(Instant::now() - start >= Duration::from_secs(2));
        p.back_off("a", Some(Duration::from_secs(60)));
        assert!(p.acquire("a", Duration::ZERO).await.is_err());
    }
}
