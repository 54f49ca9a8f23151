//! [`EmbeddedFrontier`]: the frontier of one machine, on one sled tree in the crawl
//! directory.
//!
//! On disk (keys in `codec`): the seen-set (16-byte hash of each canonical key → the
//! sequence number of its queue entry, or nothing if it was never queued), the queues
//! (host id + sequence number → the candidate), one record per host (counters and name),
//! the counters and the crawl's checkpoint meta. In memory: one small state per host
//! (`schedule`), sled's page cache (bounded by [`FrontierOptions::cache_bytes`]) and the
//! writes since the last checkpoint (`staged`).
//!
//! Crash semantics: nothing reaches sled between checkpoints, and a checkpoint is committed
//! by its redo log (`redo`) before sled sees it, so opening after a crash gives exactly the state of the last checkpoint. A URL
//! leased at that checkpoint is still in its queue (a URL leaves its queue when it is
//! done), so pages in flight at a kill are fetched again.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use url::Url;

use super::codec::{self, COUNTERS, HOST, META};
use super::redo;
use super::schedule::{Poll, Schedule};
use super::staged::Staged;
use super::{
    Candidate, DROP_BATCH, Frontier, FrontierError, FrontierStats, Lease, Next, Pushed,
    canonical_key, queue_host,
};

/// How an [`EmbeddedFrontier`] is opened.
#[derive(Debug, Clone)]
pub struct FrontierOptions {
    /// URLs accepted per host at most (`--max-pages-per-host`); `None`: no limit.
    pub max_pages_per_host: Option<u64>,
    /// The most memory sled may use for its page cache.
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
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    staged: Staged,
    schedule: Schedule,
    max_per_host: u64,
    next_lease: u64,
    done: u64,
    seen: u64,
    meta: Option<Vec<u8>>,
}

impl EmbeddedFrontier {
    /// Opens (or creates) the frontier in `dir`, at the state of its last checkpoint.
    pub fn open(dir: &Path, options: FrontierOptions) -> Result<EmbeddedFrontier, FrontierError> {
        let path = dir.to_owned();
        let store = |e: sled::Error| store_error(&path, e);
        // sled 0.34 asserts on some damaged files instead of returning an error.
        let opened = std::panic::catch_unwind(|| {
            sled::Config::new()
                .path(dir)
                .cache_capacity(options.cache_bytes)
                .flush_every_ms(None)
                .open()
        });
        let db = opened
            .map_err(|_| corrupt(&path, "sled cannot read its files"))?
            .map_err(store)?;
        redo::recover(dir, &db).map_err(|m| corrupt(&path, &m))?;
        let staged = Staged::new(db);
        let meta = staged.get(META).map_err(store)?;
        let (done, seen) = match staged.get(COUNTERS).map_err(store)? {
            Some(v) => codec::read_counters(&v).map_err(|m| corrupt(&path, &m))?,
            None => (0, 0),
        };
        let mut schedule = Schedule::default();
        for entry in staged.scan_stored(&[HOST]) {
            let (key, value) = entry.map_err(store)?;
            let (next_seq, accepted, queued, name) =
                codec::read_host(&value).map_err(|m| corrupt(&path, &m))?;
            let id = schedule.add(name, next_seq, accepted, queued);
            if id.map(codec::host_key).as_ref().map(|k| &k[..]) != Some(&key[..]) {
                return Err(corrupt(&path, "host records are not numbered 0, 1, 2, …"));
            }
        }
        let inner = Inner {
            staged,
            schedule,
            max_per_host: options.max_pages_per_host.unwrap_or(u64::MAX),
            next_lease: 1,
            done,
            seen,
            meta,
        };
        Ok(EmbeddedFrontier {
            path,
            inner: Mutex::new(inner),
        })
    }

    /// Writes waiting for the next checkpoint (they are held in memory until then).
    pub fn staged_writes(&self) -> usize {
        self.lock().staged.pending()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave sled inconsistent (nothing is written
        // between checkpoints), so a poisoned lock is taken as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store(&self) -> impl Fn(sled::Error) -> FrontierError + '_ {
        |e| store_error(&self.path, e)
    }
}

impl Frontier for EmbeddedFrontier {
    fn push(&self, candidate: Candidate) -> Result<Pushed, FrontierError> {
        let (url, host) = match queueable(&candidate.url) {
            Ok(parsed) => parsed,
            Err(why) => return Ok(Pushed::Unqueueable(why)),
        };
        let seen_key = codec::seen_key(&canonical_key(&url));
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.staged.contains(&seen_key).map_err(self.store())? {
            return Ok(Pushed::Seen);
        }
        let id = match inner.schedule.find(&host) {
            Some(id) => id,
            None => {
                let id = inner.schedule.add(host, 0, 0, 0);
                let id = id.ok_or_else(|| corrupt(&self.path, "more than 2^32 hosts"))?;
                inner.schedule.host_mut(id).dirty = true;
                id
            }
        };
        inner.seen += 1;
        let state = inner.schedule.host_mut(id);
        if state.accepted >= inner.max_per_host {
            inner.staged.put(&seen_key, Vec::new());
            return Ok(Pushed::OverHostBudget);
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.accepted += 1;
        state.queued += 1;
        state.dirty = true;
        let value = codec::candidate_value(&candidate);
        inner.staged.put(&codec::queue_key(id, seq), value);
        inner.staged.put(&seen_key, seq.to_be_bytes().to_vec());
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
        let head = inner.schedule.host(id).head;
        let first = inner
            .staged
            .first_in(&codec::queue_key(id, head), &codec::queue_key(id, u64::MAX));
        let found = first.map_err(self.store());
        let parsed = found.and_then(|found| {
            let (key, value) =
                found.ok_or_else(|| corrupt(&self.path, "a queue is shorter than its count"))?;
            let seq = codec::queue_seq(&key).ok_or_else(|| corrupt(&self.path, "queue key"))?;
            let candidate = codec::read_candidate(&value).map_err(|m| corrupt(&self.path, &m))?;
            Ok((seq, candidate))
        });
        let (seq, candidate) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                inner.schedule.unpop(id);
                return Err(e);
            }
        };
        let lease = inner.next_lease;
        inner.next_lease += 1;
        inner.schedule.lease(id, lease, seq);
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
        let finished = inner.schedule.find(&lease.host).and_then(|id| {
            let seq = inner.schedule.finish(id, lease.id, not_before)?;
            Some((id, seq))
        });
        let Some((id, seq)) = finished else {
            return Err(FrontierError::UnknownLease {
                id: lease.id,
                host: lease.host,
            });
        };
        inner.staged.remove(&codec::queue_key(id, seq));
        inner.done += 1;
        Ok(())
    }

    fn seen(&self, url: &str) -> Result<bool, FrontierError> {
        let Ok((url, _)) = queueable(url) else {
            return Ok(false);
        };
        let seen_key = codec::seen_key(&canonical_key(&url));
        let guard = self.lock();
        guard.staged.contains(&seen_key).map_err(self.store())
    }

    fn mark_done(&self, url: &str) -> Result<bool, FrontierError> {
        let Ok((url, host)) = queueable(url) else {
            return Ok(false);
        };
        let seen_key = codec::seen_key(&canonical_key(&url));
        let mut guard = self.lock();
        let inner = &mut *guard;
        let seen = inner.staged.get(&seen_key).map_err(self.store())?;
        let Some(seen) = seen else {
            // Fetched but never queued (pushed after the last checkpoint): seen from now on,
            // so that finding it again does not fetch it twice.
            inner.staged.put(&seen_key, Vec::new());
            inner.seen += 1;
            return Ok(false);
        };
        let (Ok(seq), Some(id)) = (
            <[u8; 8]>::try_from(seen.as_slice()),
            inner.schedule.find(&host),
        ) else {
            return Ok(false);
        };
        let seq = u64::from_be_bytes(seq);
        let state = inner.schedule.host_mut(id);
        if state.lease.is_some_and(|(_, leased)| leased == seq) {
            // In flight: still pending; its `done` finishes it.
            return Ok(true);
        }
        let key = codec::queue_key(id, seq);
        if !inner.staged.contains(&key).map_err(self.store())? {
            return Ok(false);
        }
        inner.staged.remove(&key);
        state.queued = state.queued.saturating_sub(1);
        state.dirty = true;
        inner.done += 1;
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
        let (mut from, leased) = (state.head, state.lease.map(|(_, seq)| seq));
        let end = codec::queue_key(id, u64::MAX);
        let mut dropped = Vec::new();
        while dropped.len() < DROP_BATCH {
            let first = inner.staged.first_in(&codec::queue_key(id, from), &end);
            let Some((key, value)) = first.map_err(self.store())? else {
                break;
            };
            let seq = codec::queue_seq(&key).ok_or_else(|| corrupt(&self.path, "queue key"))?;
            from = seq + 1;
            if Some(seq) == leased {
                continue;
            }
            dropped.push(codec::read_candidate(&value).map_err(|m| corrupt(&self.path, &m))?);
            inner.staged.remove(&key);
        }
        let state = inner.schedule.host_mut(id);
        state.queued = state.queued.saturating_sub(dropped.len() as u64);
        state.head = from;
        state.dirty = true;
        Ok(dropped)
    }

    fn checkpoint(&self, meta: &[u8]) -> Result<(), FrontierError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut extra = Vec::new();
        for (id, host) in inner.schedule.hosts().filter(|(_, h)| h.dirty) {
            let value = codec::host_value(host.next_seq, host.accepted, host.queued, &host.name);
            extra.push((codec::host_key(id).to_vec(), value));
        }
        extra.push((
            COUNTERS.to_vec(),
            codec::counters_value(inner.done, inner.seen).to_vec(),
        ));
        extra.push((META.to_vec(), meta.to_vec()));
        let committed = inner.staged.commit(&self.path, extra);
        committed.map_err(|message| FrontierError::Store {
            path: self.path.clone(),
            message,
        })?;
        let ids: Vec<u32> = inner
            .schedule
            .hosts()
            .filter(|(_, h)| h.dirty)
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            inner.schedule.host_mut(id).dirty = false;
        }
        inner.meta = Some(meta.to_vec());
        Ok(())
    }

    fn checkpoint_meta(&self) -> Result<Option<Vec<u8>>, FrontierError> {
        Ok(self.lock().meta.clone())
    }

    fn stats(&self) -> FrontierStats {
        let inner = self.lock();
        let leased = inner.schedule.leased();
        let queued: u64 = inner.schedule.hosts().map(|(_, h)| h.queued).sum();
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

fn corrupt(path: &Path, message: &str) -> FrontierError {
    FrontierError::Corrupt {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn store_error(path: &Path, e: sled::Error) -> FrontierError {
    match e {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock
                || io.raw_os_error() == Some(11)
                || io.to_string().contains("could not acquire lock") =>
        {
            FrontierError::Locked(path.to_owned())
        }
        sled::Error::Corruption { .. } => corrupt(path, &e.to_string()),
        other => FrontierError::Store {
            path: path.to_owned(),
            message: other.to_string(),
        },
    }
}
