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
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use url::Url;

use super::codec;
use super::schedule::{Poll, Schedule};
use super::store::{Store, corrupt};
use super::{
    Candidate, DROP_BATCH, Frontier, FrontierError, FrontierStats, Lease, Next, Pushed,
    canonical_key, queue_host,
};

/// How an [`EmbeddedFrontier`] is opened.
#[derive(Debug, Clone)]
pub struct FrontierOptions {
    /// URLs accepted per host at most (`--max-pages-per-host`); `None`: no limit.
    pub max_pages_per_host: Option<u64>,
    /// Kept from the sled store, which took it as its page cache size; the frontier's own
    /// files are read through the operating system's page cache, which is not the process's
    /// memory, so nothing uses it now.
    pub cache_bytes: u64,
}

impl Default for FrontierOptions {
    fn default() -> Self {
        FrontierOptions {
            max_pages_per_host: None,
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The single-machine [`Frontier`]. See the module documentation.
pub struct EmbeddedFrontier {
    inner: Mutex<Inner>,
}

struct Inner {
    store: Store,
    schedule: Schedule,
    max_per_host: u64,
    next_lease: u64,
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
            next_lease: 1,
            done: state.done,
            seen: state.seen,
            names_len: state.names_len,
            committed_hosts,
            meta,
            staged_seen: HashMap::new(),
            staged_removed: HashSet::new(),
        };
        Ok(EmbeddedFrontier {
            inner: Mutex::new(inner),
        })
    }

    /// Changes waiting for the next checkpoint (they are held in memory until then).
    pub fn staged_writes(&self) -> usize {
        let inner = self.lock();
        inner.staged_seen.len() + inner.staged_removed.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the files inconsistent (nothing but
        // queue records past the committed length is written between checkpoints), so a
        // poisoned lock is taken as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Frontier for EmbeddedFrontier {
    fn push(&self, candidate: Candidate) -> Result<Pushed, FrontierError> {
        let (url, host) = match queueable(&candidate.url) {
            Ok(parsed) => parsed,
            Err(why) => return Ok(Pushed::Unqueueable(why)),
        };
        let key = codec::seen_key(&canonical_key(&url));
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.seen_value(&key)?.is_some() {
            return Ok(Pushed::Seen);
        }
        let id = inner.host_id(host)?;
        if inner.schedule.host(id).record.accepted >= inner.max_per_host {
            inner.staged_seen.insert(key, 0);
            inner.seen = inner.seen.saturating_add(1);
            return Ok(Pushed::OverHostBudget);
        }
        let value = codec::candidate_value(&candidate);
        let at = inner.store.queue.append(&value).map_err(inner.io())?;
        let record = inner.schedule.host(id).record;
        if record.queued > 0 {
            inner
                .store
                .queue
                .link(record.tail, at)
                .map_err(inner.io())?;
        }
        let host = inner.schedule.host_mut(id);
        if record.queued == 0 {
            host.record.head = at;
        }
        host.record.tail = at;
        host.record.accepted = host.record.accepted.saturating_add(1);
        host.record.queued = host.record.queued.saturating_add(1);
        host.dirty = true;
        inner.staged_seen.insert(key, at + 1);
        inner.seen = inner.seen.saturating_add(1);
        inner.schedule.wake(id);
        Ok(Pushed::Queued)
    }

    fn next(&self, now: Instant) -> Result<Next, FrontierError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let id = match inner.schedule.pop_due(now) {
            Poll::Due(id) => id,
            Poll::Wait(wait) => return Ok(Next::Wait(wait)),
            Poll::Busy => return Ok(Next::Busy),
            Poll::Empty => return Ok(Next::Empty),
        };
        let (at, candidate) = match inner.first_live(id) {
            Ok(found) => found,
            Err(e) => {
                inner.schedule.unpop(id);
                return Err(e);
            }
        };
        let lease = inner.next_lease;
        inner.next_lease += 1;
        inner.schedule.lease(id, lease, at);
        let host = inner.schedule.host(id).name.clone();
        Ok(Next::Ready(Lease {
            id: lease,
            host,
            candidate,
        }))
    }

    fn done(&self, lease: Lease, not_before: Instant) -> Result<(), FrontierError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let unknown = || FrontierError::UnknownLease {
            id: lease.id,
            host: lease.host.clone(),
        };
        let id = inner.schedule.find(&lease.host).ok_or_else(unknown)?;
        let host = inner.schedule.host(id);
        let Some((out, at)) = host.lease.filter(|(out, _)| *out == lease.id) else {
            return Err(unknown());
        };
        // The head moves past the URL: the record after it, if anything is left.
        let head = if host.record.queued > 1 {
            let (header, _) = inner.header(at)?;
            Some(inner.next_of(at, header)?)
        } else {
            None
        };
        inner.schedule.finish(id, out, not_before);
        if let Some(head) = head {
            inner.schedule.host_mut(id).record.head = head;
        }
        inner.done = inner.done.saturating_add(1);
        Ok(())
    }

    fn seen(&self, url: &str) -> Result<bool, FrontierError> {
        let Ok((url, _)) = queueable(url) else {
            return Ok(false);
        };
        let key = codec::seen_key(&canonical_key(&url));
        Ok(self.lock().seen_value(&key)?.is_some())
    }

    fn mark_done(&self, url: &str) -> Result<bool, FrontierError> {
        let Ok((url, host)) = queueable(url) else {
            return Ok(false);
        };
        let key = codec::seen_key(&canonical_key(&url));
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(value) = inner.seen_value(&key)? else {
            // Fetched but never queued (pushed after the last checkpoint): seen from now on,
            // so that finding it again does not fetch it twice.
            inner.staged_seen.insert(key, 0);
            inner.seen = inner.seen.saturating_add(1);
            return Ok(false);
        };
        let (Some(at), Some(id)) = (value.checked_sub(1), inner.schedule.find(&host)) else {
            return Ok(false);
        };
        let state = inner.schedule.host(id);
        if state.lease.is_some_and(|(_, leased)| leased == at) {
            // In flight: still pending; its `done` finishes it.
            return Ok(true);
        }
        // Done URLs are before the head; removed ones carry the flag.
        if state.record.queued == 0 || at < state.record.head || inner.header(at)?.1 {
            return Ok(false);
        }
        inner.staged_removed.insert(at);
        let state = inner.schedule.host_mut(id);
        state.record.queued -= 1;
        state.dirty = true;
        inner.done = inner.done.saturating_add(1);
        Ok(true)
    }

    fn drop_host(&self, host: &str) -> Result<Vec<Candidate>, FrontierError> {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(id) = inner.schedule.find(&host) else {
            return Ok(Vec::new());
        };
        let state = inner.schedule.host(id);
        let leased = state.lease.map(|(_, at)| at);
        let mut left = state
            .record
            .queued
            .saturating_sub(u64::from(leased.is_some()));
        let (head, tail) = (state.record.head, state.record.tail);
        let mut at = state.cursor.filter(|c| *c > head).unwrap_or(head);
        let mut dropped = Vec::new();
        while left > 0 && dropped.len() < DROP_BATCH {
            let (header, removed) = inner.header(at)?;
            if !removed && Some(at) != leased {
                let bytes = inner.store.queue.payload(at, header).map_err(inner.io())?;
                dropped.push(codec::read_candidate(&bytes).map_err(|m| inner.corrupt(&m))?);
                inner.staged_removed.insert(at);
                left -= 1;
            }
            if at >= tail {
                break;
            }
            at = inner.next_of(at, header)?;
        }
        let state = inner.schedule.host_mut(id);
        state.record.queued = state.record.queued.saturating_sub(dropped.len() as u64);
        state.cursor = Some(at);
        state.dirty = true;
        Ok(dropped)
    }

    fn checkpoint(&self, meta: &[u8]) -> Result<(), FrontierError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ops = inner.checkpoint_ops(meta);
        inner.store.commit(ops.into_iter())?;
        inner.staged_seen.clear();
        inner.staged_removed.clear();
        let ids: Vec<u32> = inner
            .schedule
            .hosts()
            .filter(|(_, h)| h.dirty)
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            inner.schedule.host_mut(id).dirty = false;
        }
        inner.committed_hosts = u32::try_from(inner.schedule.len()).unwrap_or(u32::MAX);
        inner.meta = Some(meta.to_vec());
        Ok(())
    }

    fn checkpoint_meta(&self) -> Result<Option<Vec<u8>>, FrontierError> {
        Ok(self.lock().meta.clone())
    }

    fn stats(&self) -> FrontierStats {
        let inner = self.lock();
        let leased = inner.schedule.leased();
        let queued =
            (inner.schedule.hosts()).fold(0u64, |n, (_, h)| n.saturating_add(h.record.queued));
        let (hosts_due, hosts_waiting) = inner.schedule.due_and_waiting(Instant::now());
        FrontierStats {
            queued: queued.saturating_sub(leased),
            leased,
            done: inner.done,
            seen: inner.seen,
            hosts: inner.schedule.len() as u64,
            hosts_due,
            hosts_waiting,
        }
    }
}

/// The parsed URL and its queue host, or why it cannot be queued.
fn queueable(text: &str) -> Result<(Url, String), String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", url.scheme()));
    }
    let host = queue_host(&url).ok_or("no host")?;
    Ok((url, host))
}

#[path = "embedded_files.rs"]
mod files;

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
