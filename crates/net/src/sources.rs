//! Per-origin policy sources: robots.txt, and (configurable) tdmrep.json and ai.txt, fetched
//! concurrently on first need, cached in memory (bounded, least recently used forgotten
//! first) and in the store, refetched conditionally when they expire.
//!
//! Single flight: each origin has one slot behind an async mutex; whoever finds its files
//! stale fetches them while every other check of that origin waits for the result.

use super::client::HttpClient;
use super::clock::{Clock, SystemClock, unix_ms};
use super::compile::{OriginPolicy, compile, robots_copy};
use super::follow::{self, Pacing};
use super::known::{File, Kind, Known, Retry, State, next};
use super::outcome::classify;
use super::politeness::Politeness;
use lru::LruCache;
use optout_config::Config;
use optout_evidence::{Store, StoreError};
use optout_policy::crawlers::AiCrawlers;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;

/// Bytes counted for an origin beyond its files' bytes (the compiled rules, the keys).
const ENTRY_OVERHEAD: usize = 1024;

/// An origin's files and what they compile to.
struct Entry {
    files: Vec<(Kind, File)>,
    policy: Arc<OriginPolicy>,
}

impl Entry {
    fn expires_at(&self) -> u64 {
        self.files
            .iter()
            .map(|(_, f)| f.known.expires_at)
            .min()
            .unwrap_or(0)
    }

    fn bytes(&self) -> usize {
        ENTRY_OVERHEAD
            + self
                .files
                .iter()
                .map(|(_, f)| f.good_bytes.as_ref().map_or(0, |b| b.len()))
                .sum::<usize>()
    }
}

#[derive(Default)]
struct Slot {
    entry: tokio::sync::Mutex<Option<Entry>>,
    bytes: AtomicUsize,
}

struct Cache {
    slots: LruCache<String, Arc<Slot>>,
    bytes: usize,
}

/// The live policy sources of every origin, through one cache.
pub struct PolicySources {
    client: HttpClient,
    store: Option<Store>,
    clock: Arc<dyn Clock>,
    ai_crawlers: Arc<AiCrawlers>,
    /// The product token whose `Crawl-delay` paces a crawler's requests for policy files.
    agent: String,
    kinds: Vec<Kind>,
    parse_limit: usize,
    max_body: usize,
    retry: Retry,
    max_entries: usize,
    max_bytes: usize,
    cache: Mutex<Cache>,
    /// Lookups answered from memory, fresh ([`PolicySources::cache_counts`]).
    hits: AtomicU64,
    /// Lookups that had to load or fetch (missing or expired in memory).
    misses: AtomicU64,
    /// The per-host politeness state, shared with the fetcher over these sources
    /// ([`PolicySources::politeness`]): a crawler's policy files are paced by it, a
    /// `Retry-After` on one blocks its host for every page and file of the process, and a
    /// blocked host's files are not requested before its time.
    politeness: Arc<Politeness>,
}

impl PolicySources {
    /// Sources fetched with `client`, persisted in `store` (memory only when `None`).
    pub fn new(
        config: &Config,
        client: HttpClient,
        store: Option<Store>,
        ai_crawlers: Arc<AiCrawlers>,
    ) -> PolicySources {
        let net = &config.net;
        let mut kinds = vec![Kind::Robots];
        if net.fetch_tdmrep {
            kinds.push(Kind::Tdmrep);
        }
        if net.fetch_aitxt {
            kinds.push(Kind::AiTxt);
        }
        PolicySources {
            client,
            store,
            clock: Arc::new(SystemClock),
            ai_crawlers,
            agent: config.crawler.product_token.clone(),
            kinds,
            parse_limit: config.limits.robots_parse_limit,
            max_body: config.net.max_body_bytes,
            retry: Retry {
                first: Duration::from_secs(net.retry_unreachable_s),
                max: Duration::from_secs(net.retry_unreachable_max_s),
            },
            max_entries: net.cache_entries,
            max_bytes: net.cache_bytes,
            cache: Mutex::new(Cache {
                slots: LruCache::unbounded(),
                bytes: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            politeness: Arc::new(Politeness::new(&config.politeness)),
        }
    }

    /// The per-host politeness state every request through these sources shares.
    pub fn politeness(&self) -> &Arc<Politeness> {
        &self.politeness
    }

    /// Lookups so far answered from memory (hits) and not (misses: loaded from the store
    /// or fetched), for `/metrics` of `optout serve`.
    pub fn cache_counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Uses `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> PolicySources {
        self.clock = clock;
        self
    }

    /// The client the sources are fetched with.
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Origins held in memory now.
    pub fn cached_origins(&self) -> usize {
        self.lock_cache().slots.len()
    }

    /// The policy of `url`'s origin.
    pub async fn for_url(&self, url: &Url) -> Result<Arc<OriginPolicy>, StoreError> {
        self.for_origin(&url.origin().ascii_serialization()).await
    }

    /// The policy of `url`'s origin, for a crawler: the files it must request are requested
    /// one after another, each in its host's turn under `politeness` (robots.txt first; the
    /// others keep its `Crawl-delay`), so that they never arrive closer together than the
    /// pages would.
    pub async fn for_url_paced(
        &self,
        url: &Url,
        politeness: &Politeness,
    ) -> Result<Arc<OriginPolicy>, StoreError> {
        let pacing = politeness.config().enabled.then_some(politeness);
        self.for_origin_with(&url.origin().ascii_serialization(), pacing)
            .await
    }

    /// The policy of `origin` (`scheme://host[:port]`), fetching what is missing or stale;
    /// the files are requested together, unpaced (a check makes at most one request for each
    /// file of an origin a day).
    pub async fn for_origin(&self, origin: &str) -> Result<Arc<OriginPolicy>, StoreError> {
        self.for_origin_with(origin, None).await
    }

    async fn for_origin_with(
        &self,
        origin: &str,
        politeness: Option<&Politeness>,
    ) -> Result<Arc<OriginPolicy>, StoreError> {
        let slot = self.slot(origin);
        let mut guard = slot.entry.lock().await;
        let now = unix_ms(self.clock.now());
        if let Some(entry) = guard.as_ref()
            && entry.expires_at() > now
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(&entry.policy));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut files = match guard.take() {
            Some(entry) => entry.files,
            None => self.load(origin)?,
        };
        let stale: Vec<(Kind, Option<File>)> = self
            .kinds
            .iter()
            .map(|kind| {
                let old = files
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map(|(_, f)| f.clone());
                (*kind, old)
            })
            .filter(|(_, old)| old.as_ref().is_none_or(|f| f.known.expires_at <= now))
            .collect();
        let fetched: Vec<(Kind, Result<File, StoreError>)> = match politeness {
            None => {
                // A check's files are not paced and do not wait for host blocks: their
                // cache honours each file's Retry-After on its own clock (RFC 9309
                // §2.3.1.4), and a decision never waits out `max_backoff_s`.
                futures_util::future::join_all(stale.iter().map(|(kind, old)| async move {
                    (*kind, self.refresh(origin, *kind, old.as_ref(), None).await)
                }))
                .await
            }
            Some(politeness) => {
                // robots.txt comes first (`kinds` starts with it): its crawl-delay, new or
                // cached, paces the other files. A site whose crawl-delay is over the cap is
                // skipped before any page (`politeness.crawl-delay-too-long`): its other
                // files are not requested either, rather than sooner than it asked.
                let robots = files
                    .iter()
                    .find(|(k, _)| *k == Kind::Robots)
                    .map(|(_, f)| f.clone());
                let mut crawl_delay = self.crawl_delay(robots.as_ref(), now);
                let mut fetched = Vec::with_capacity(stale.len());
                for (kind, old) in &stale {
                    if *kind != Kind::Robots
                        && crawl_delay.is_some_and(|d| d > politeness.max_crawl_delay())
                    {
                        continue;
                    }
                    let pacing = Pacing {
                        politeness,
                        crawl_delay,
                    };
                    let file = self
                        .refresh(origin, *kind, old.as_ref(), Some(pacing))
                        .await;
                    if let (Kind::Robots, Ok(file)) = (kind, &file) {
                        crawl_delay = self.crawl_delay(Some(file), unix_ms(self.clock.now()));
                    }
                    fetched.push((*kind, file));
                }
                fetched
            }
        };
        for (kind, file) in fetched {
            let file = file?;
            files.retain(|(k, _)| *k != kind);
            files.push((kind, file));
        }
        files.sort_by_key(|(k, _)| self.kinds.iter().position(|x| x == k));
        let now = unix_ms(self.clock.now());
        let policy = compile(origin, &files, now, self.parse_limit, &self.ai_crawlers);
        let policy = Arc::new(policy);
        let entry = Entry {
            files,
            policy: Arc::clone(&policy),
        };
        let bytes = entry.bytes();
        *guard = Some(entry);
        drop(guard);
        self.account(origin, &slot, bytes);
        Ok(policy)
    }

    /// The agent's `Crawl-delay` in `robots` (a robots.txt file) as it stands at `now_ms`.
    fn crawl_delay(&self, robots: Option<&File>, now_ms: u64) -> Option<Duration> {
        let robots = robots_copy(robots?, now_ms, self.parse_limit)?;
        let delay = robots.crawl_delay(&self.agent)?;
        // Never clamped below the value: a huge delay stays over the cap and is skipped.
        Some(super::politeness::seconds(delay.seconds))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, origin: &str) -> Arc<Slot> {
        let mut cache = self.lock_cache();
        if let Some(slot) = cache.slots.get(origin) {
            return Arc::clone(slot);
        }
        let slot = Arc::new(Slot::default());
        cache.slots.put(origin.to_owned(), Arc::clone(&slot));
        slot
    }

    /// Records `slot`'s new size and forgets the least recently used origins while the cache
    /// is over its bounds (never the one just used).
    fn account(&self, origin: &str, slot: &Arc<Slot>, bytes: usize) {
        let mut cache = self.lock_cache();
        let old = slot.bytes.swap(bytes, Ordering::Relaxed);
        let present = cache
            .slots
            .peek(origin)
            .is_some_and(|s| Arc::ptr_eq(s, slot));
        if present {
            cache.bytes = cache.bytes.saturating_sub(old) + bytes;
        }
        while cache.slots.len() > 1
            && (cache.slots.len() > self.max_entries || cache.bytes > self.max_bytes)
        {
            let Some((key, evicted)) = cache.slots.pop_lru() else {
                break;
            };
            if key == origin {
                cache.slots.put(key, evicted);
                continue;
            }
            cache.bytes = cache
                .bytes
                .saturating_sub(evicted.bytes.load(Ordering::Relaxed));
        }
    }

    /// Fetches one file of `origin` and records what is now known of it.
    async fn refresh(
        &self,
        origin: &str,
        kind: Kind,
        old: Option<&File>,
        pacing: Option<Pacing<'_>>,
    ) -> Result<File, StoreError> {
        let url = format!("{origin}{}", kind.path());
        let validators = old.and_then(|f| {
            f.good_bytes.as_ref()?;
            f.known.good.as_ref().map(|g| &g.validators)
        });
        let outcome = match Url::parse(&url) {
            Ok(parsed) => {
                // robots.txt and ai.txt are read line by line, up to the parse limit; JSON
                // must be read whole to mean anything.
                let limit = match kind {
                    Kind::Tdmrep => self.parse_limit.max(self.max_body),
                    Kind::Robots | Kind::AiTxt => self.parse_limit,
                };
                let trace = follow::fetch(&self.client, parsed, validators, limit, pacing).await;
                classify(trace, self.clock.now())
            }
            Err(e) => super::outcome::Outcome::Unreachable {
                status: None,
                detail: format!("invalid URL {url}: {e}"),
                retry_after: None,
            },
        };
        let now = unix_ms(self.clock.now());
        let (mut file, received) = next(&url, old, outcome, now, self.retry);
        file.known.unguarded = self.client.allows_private();
        tracing::debug!(%url, state = ?file.known.state, status = ?file.known.status, "policy file fetched");
        if let Some(store) = &self.store {
            // Evidence records name the bytes received (none, for a refused address): their
            // snapshot is stored whatever the outcome, or `log verify` finds it missing.
            let hash =
                hex::decode(&received.sha256).map_err(|e| StoreError::Backend(e.to_string()))?;
            store.put_snapshot(&hash, &received.bytes)?;
            // A refused address says nothing about the site, only about this configuration:
            // it is not persisted (another run may allow private addresses).
            if file.known.state != State::PrivateAddress {
                let json = serde_json::to_vec(&file.known)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                store.backend().put_policy(kind.name(), origin, &json)?;
            }
        }
        Ok(file)
    }

    /// What the store knows of `origin`'s files (none without a store). A record that does
    /// not read back, or whose snapshot is gone, is refetched rather than trusted.
    fn load(&self, origin: &str) -> Result<Vec<(Kind, File)>, StoreError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let mut files = Vec::new();
        for kind in &self.kinds {
            let Some(bytes) = store.backend().policy(kind.name(), origin)? else {
                continue;
            };
            let Ok(known) = serde_json::from_slice::<Known>(&bytes) else {
                continue;
            };
            if known.state == State::PrivateAddress
                || (known.unguarded && !self.client.allows_private())
            {
                continue;
            }
            let good_bytes = match &known.good {
                Some(good) => match hex::decode(&good.sha256)
                    .ok()
                    .map(|h| store.snapshot(&h))
                    .transpose()?
                    .flatten()
                {
                    Some(b) => Some(Arc::<[u8]>::from(b)),
                    None => continue,
                },
                None => None,
            };
            files.push((*kind, File { known, good_bytes }));
        }
        Ok(files)
    }
}
