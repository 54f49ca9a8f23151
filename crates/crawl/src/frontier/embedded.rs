//! [`EmbeddedFrontier`]: the frontier of one machine, in files of its own in the crawl
//! directory (`store`).
//!
//! On disk: the seen-set as a hash table of 16-byte keys (`seen`), each key's value the
//! offset of its queue record plus one (0: never queued); the queues as one append-only file
//! of records chained per host (`queue_log`); one record per host (counters, head and tail
//! offsets); the counters and the crawl's checkpoint meta. In memory: one small state per
//! host (`schedule`, about 150 bytes) and the seen keys and removals since the last
//! checkpoint. Memory is bounded by the number of hosts and the work between two
//! checkpoints, not by the number of URLs (docs/frontier.md has the measurements).
//!
//! Crash semantics: the seen-set, the host records and removals reach the files only through
//! a checkpoint's redo log (`redo`), and queue records appended since it are cut off when
//! opening, so opening after a crash gives exactly the state of the last checkpoint. A URL
//! leased at that checkpoint is still in its queue (the head moves past a URL when it is
//! done), so pages in flight at a kill are fetched again.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use url::Url;

use super::canonical_key;
use super::clock::{UnixMillis, WallClock};
use super::codec;
use super::schedule::Schedule;
use super::store::{Store, corrupt};
use super::{
    Acked, Candidate, Claim, Claimed, Frontier, FrontierError, FrontierStats, HostHealth, LeaseId,
    Pushed, queue_key,
};
use optout_config::HostKey;

/// How an [`EmbeddedFrontier`] is opened.
#[derive(Debug, Clone)]
pub struct FrontierOptions {
    /// URLs accepted per host at most (`--max-pages-per-host`); `None`: no limit.
    pub max_pages_per_host: Option<u64>,
    /// Kept from the sled store, which took it as its page cache size; the frontier's own
    /// files are read through the operating system's page cache, which is not the process's
    /// memory, so nothing uses it now.
    pub cache_bytes: u64,
    /// What a queue is: `politeness.key`, so the frontier and the fetcher agree on a host
    /// ([`queue_key`]).
    pub key: HostKey,
    /// The clock leases and due times are read from.
    pub clock: WallClock,
}

impl Default for FrontierOptions {
    fn default() -> Self {
        FrontierOptions {
            max_pages_per_host: None,
            cache_bytes: 64 * 1024 * 1024,
            key: HostKey::Host,
            clock: WallClock::system(),
        }
    }
}

/// The single-machine [`Frontier`]. See the module documentation.
pub struct EmbeddedFrontier {
    inner: Arc<Mutex<Inner>>,
    key: HostKey,
    clock: WallClock,
}

pub(super) struct Inner {
    store: Store,
    schedule: Schedule,
    max_per_host: u64,
    /// The next lease's epoch: one counter for every host, started at the microseconds
    /// since 1970 when the frontier was opened, so that a lease of an earlier opening never
    /// matches one of this (leases are not kept across openings).
    next_epoch: u64,
    done: u64,
    seen: u64,
    names_len: u64,
    /// Hosts whose names are in `hosts.names` already.
    committed_hosts: u32,
    meta: Option<Vec<u8>>,
    /// Seen keys since the last checkpoint (value as in the table).
    staged_seen: HashMap<[u8; 16], u64>,
    /// Queue records removed from the middle of their queue since the last checkpoint.
    staged_removed: HashSet<u64>,
}

impl EmbeddedFrontier {
    /// Opens (or creates) the frontier in `dir`, at the state of its last checkpoint.
    pub fn open(dir: &Path, options: FrontierOptions) -> Result<EmbeddedFrontier, FrontierError> {
        let (store, state, hosts) = Store::open(dir)?;
        let mut schedule = Schedule::default();
        for (name, record) in hosts {
            schedule
                .add(name, record)
                .ok_or_else(|| corrupt(dir, "more than 2^32 hosts"))?;
        }
        let committed_hosts = u32::try_from(schedule.len()).unwrap_or(u32::MAX);
        let meta = state.as_ref().map(|s| s.meta.clone());
        let state = state.unwrap_or_default();
        let inner = Inner {
            store,
            schedule,
            max_per_host: options.max_pages_per_host.unwrap_or(u64::MAX),
            next_epoch: first_epoch(),
            done: state.done,
            seen: state.seen,
            names_len: state.names_len,
            committed_hosts,
            meta,
            staged_seen: HashMap::new(),
            staged_removed: HashSet::new(),
        };
        Ok(EmbeddedFrontier {
            inner: Arc::new(Mutex::new(inner)),
            key: options.key,
            clock: options.clock,
        })
    }

    /// Changes waiting for the next checkpoint (they are held in memory until then).
    pub fn staged_writes(&self) -> usize {
        let inner = self.lock();
        inner.staged_seen.len() + inner.staged_removed.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// The parsed URL and its queue key, or why it cannot be queued.
    fn queueable(&self, text: &str) -> Result<(Url, String), String> {
        let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not http or https", url.scheme()));
        }
        let key = queue_key(&url, self.key).ok_or("no host")?;
        Ok((url, key))
    }
}

#[async_trait::async_trait]
impl Frontier for EmbeddedFrontier {
    async fn push(&self, candidate: Candidate) -> Result<Pushed, FrontierError> {
        match self.queueable(&candidate.url) {
            Ok((url, key)) => self.lock().push(&candidate, &url, key),
            Err(why) => Ok(Pushed::Unqueueable(why)),
        }
    }

    async fn claim(&self, claim: &Claim) -> Result<Claimed, FrontierError> {
        self.lock().claim(claim, self.clock.now())
    }

    async fn renew(
        &self,
        lease: &LeaseId,
        lease_for: Duration,
    ) -> Result<UnixMillis, FrontierError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let id = inner.held(lease, now)?;
        let expires = now.after(lease_for);
        inner.schedule.renew(id, expires);
        Ok(expires)
    }

    async fn ack(&self, lease: &LeaseId, url: u64, outcome: Acked) -> Result<(), FrontierError> {
        // Failed or done, the URL leaves the queue: the crawl's skip report tells them apart.
        let _ = outcome;
        self.lock().ack(lease, url, self.clock.now())
    }

    async fn release(&self, lease: &LeaseId, after: Duration) -> Result<(), FrontierError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let id = inner.held(lease, now)?;
        inner.schedule.release(id, now.after(after));
        Ok(())
    }

    async fn block_until(
        &self,
        key: &str,
        until: UnixMillis,
        why: &str,
    ) -> Result<(), FrontierError> {
        tracing::debug!(key, until = until.0, why, "host blocked");
        let mut inner = self.lock();
        let id = inner.host_id(key.to_owned())?;
        inner.schedule.block(id, until);
        Ok(())
    }

    async fn record_error(&self, key: &str) -> Result<HostHealth, FrontierError> {
        let mut inner = self.lock();
        let id = inner.host_id(key.to_owned())?;
        let host = inner.schedule.host_mut(id);
        let errors = host.record.errors().saturating_add(1);
        host.record.set_errors(errors);
        host.dirty = true;
        Ok(health(&host.record))
    }

    async fn record_success(&self, key: &str) -> Result<(), FrontierError> {
        let mut inner = self.lock();
        if let Some(id) = inner.schedule.find(key) {
            let host = inner.schedule.host_mut(id);
            if host.record.errors() > 0 {
                host.record.set_errors(0);
                host.dirty = true;
            }
        }
        Ok(())
    }

    async fn health(&self, key: &str) -> Result<HostHealth, FrontierError> {
        let inner = self.lock();
        let found = inner.schedule.find(key);
        Ok(found.map_or_else(HostHealth::default, |id| {
            health(&inner.schedule.host(id).record)
        }))
    }

    async fn give_up(&self, key: &str) -> Result<Vec<Candidate>, FrontierError> {
        self.lock().give_up(key)
    }

    async fn seen(&self, url: &str) -> Result<bool, FrontierError> {
        let Ok((url, _)) = self.queueable(url) else {
            return Ok(false);
        };
        let key = codec::seen_key(&canonical_key(&url));
        Ok(self.lock().seen_value(&key)?.is_some())
    }

    async fn mark_done(&self, url: &str) -> Result<bool, FrontierError> {
        let Ok((url, key)) = self.queueable(url) else {
            return Ok(false);
        };
        self.lock().mark_done(&url, &key)
    }

    async fn checkpoint(&self, meta: &[u8]) -> Result<(), FrontierError> {
        // The one call that waits for the disk (`fsync`): on a blocking thread, so the
        // runtime's threads go on meanwhile.
        let inner = Arc::clone(&self.inner);
        let meta = meta.to_vec();
        let commit = move || lock(&inner).checkpoint(&meta);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(commit)
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
            Err(_) => commit(),
        }
    }

    async fn checkpoint_meta(&self) -> Result<Option<Vec<u8>>, FrontierError> {
        Ok(self.lock().meta.clone())
    }

    async fn stats(&self) -> Result<FrontierStats, FrontierError> {
        Ok(self.lock().stats(self.clock.now()))
    }
}

fn first_epoch() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock cannot leave the files inconsistent (nothing but queue
    // records past the committed length is written between checkpoints), so a poisoned lock
    // is taken as it is.
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

fn health(record: &super::codec::HostRecord) -> HostHealth {
    HostHealth {
        errors_in_a_row: record.errors(),
        given_up: record.given_up(),
    }
}

#[path = "embedded_queue.rs"]
mod queue;

#[path = "embedded_files.rs"]
mod files;

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
