//! What [`EmbeddedFrontier`](super::EmbeddedFrontier) does under its lock: queue, claim,
//! acknowledge, give up, mark done and checkpoint. Synchronous and short: the async trait
//! methods call these with the lock held.

use url::Url;

use super::Inner;
use crate::frontier::clock::UnixMillis;
use crate::frontier::codec::{self, GIVEN_UP};
use crate::frontier::schedule::{LeaseOut, Poll};
use crate::frontier::{
    Candidate, Claim, Claimed, DROP_BATCH, FrontierError, FrontierStats, HostLease, LeaseId,
    LeasedUrl, Pushed, canonical_key,
};

impl Inner {
    pub(super) fn push(
        &mut self,
        candidate: &Candidate,
        url: &Url,
        host: String,
    ) -> Result<Pushed, FrontierError> {
        let known = self.schedule.find(&host);
        if known.is_some_and(|id| self.schedule.host(id).record.given_up()) {
            return Ok(Pushed::HostGivenUp);
        }
        let key = codec::seen_key(&canonical_key(url));
        if self.seen_value(&key)?.is_some() {
            return Ok(Pushed::Seen);
        }
        let id = match known {
            Some(id) => id,
            None => self.host_id(host)?,
        };
        if self.schedule.host(id).record.accepted >= self.max_per_host {
            self.staged_seen.insert(key, 0);
            self.seen = self.seen.saturating_add(1);
            return Ok(Pushed::OverHostBudget);
        }
        let value = codec::candidate_value(candidate);
        let at = self.store.queue.append(&value).map_err(self.io())?;
        let record = self.schedule.host(id).record;
        if record.queued > 0 {
            self.store.queue.link(record.tail, at).map_err(self.io())?;
        }
        let host = self.schedule.host_mut(id);
        if record.queued == 0 {
            host.record.head = at;
        }
        host.record.tail = at;
        host.record.accepted = host.record.accepted.saturating_add(1);
        host.record.queued = host.record.queued.saturating_add(1);
        host.dirty = true;
        self.staged_seen.insert(key, at + 1);
        self.seen = self.seen.saturating_add(1);
        self.schedule.wake(id);
        Ok(Pushed::Queued)
    }

    pub(super) fn claim(
        &mut self,
        claim: &Claim,
        now: UnixMillis,
    ) -> Result<Claimed, FrontierError> {
        let mut leases = Vec::new();
        let owner = self.schedule.owner(&claim.owner);
        while leases.len() < claim.max_hosts.max(1) {
            let id = match self.schedule.pop_due(now, claim.ahead) {
                Poll::Due(id) => id,
                _ if !leases.is_empty() => break,
                Poll::Wait(wait) => return Ok(Claimed::Wait(wait)),
                Poll::Busy => return Ok(Claimed::Busy),
                Poll::Empty => return Ok(Claimed::Empty),
            };
            let urls = match self.live_urls(id, claim.max_urls_per_host.max(1)) {
                Ok(urls) => urls,
                Err(e) => {
                    self.schedule.unpop(id);
                    return Err(e);
                }
            };
            let epoch = self.next_epoch;
            self.next_epoch += 1;
            let expires = now.after(claim.lease_for);
            let out = LeaseOut {
                owner,
                epoch,
                expires,
                urls: urls.iter().map(|u| u.id).collect(),
            };
            self.schedule.lease(id, out);
            let key = self.schedule.host(id).name.clone();
            leases.push(HostLease {
                id: LeaseId {
                    key,
                    owner: claim.owner.clone(),
                    epoch,
                },
                expires,
                urls,
            });
        }
        Ok(Claimed::Leases(leases))
    }

    /// Up to `max` live URLs of `id` from its first, in queue order.
    fn live_urls(&self, id: u32, max: usize) -> Result<Vec<LeasedUrl>, FrontierError> {
        let (at, candidate) = self.first_live(id)?;
        let mut urls = vec![LeasedUrl { id: at, candidate }];
        let record = self.schedule.host(id).record;
        let mut at = at;
        while urls.len() < max && (urls.len() as u64) < record.queued && at < record.tail {
            let (header, _) = self.header(at)?;
            at = self.next_of(at, header)?;
            let (header, removed) = self.header(at)?;
            if !removed {
                let bytes = self.store.queue.payload(at, header).map_err(self.io())?;
                let candidate = codec::read_candidate(&bytes).map_err(|m| self.corrupt(&m))?;
                urls.push(LeasedUrl { id: at, candidate });
            }
        }
        Ok(urls)
    }

    /// The host id of `lease` if it holds the host at `now` (fencing).
    pub(super) fn held(&self, lease: &LeaseId, now: UnixMillis) -> Result<u32, FrontierError> {
        let stale = |why| FrontierError::StaleLease {
            key: lease.key.clone(),
            epoch: lease.epoch,
            why,
        };
        let id = self
            .schedule
            .find(&lease.key)
            .ok_or_else(|| stale(crate::frontier::Stale::NotHeld))?;
        self.schedule
            .held(id, &lease.owner, lease.epoch, now)
            .map_err(stale)?;
        Ok(id)
    }

    /// The URL at `at` leaves its queue: the head moves past it, or it is flagged removed
    /// (acknowledged out of order).
    pub(super) fn ack(
        &mut self,
        lease: &LeaseId,
        at: u64,
        now: UnixMillis,
    ) -> Result<(), FrontierError> {
        let id = self.held(lease, now)?;
        let record = self.schedule.host(id).record;
        let next_head = if at == record.head && record.queued > 1 {
            let (header, _) = self.header(at)?;
            Some(self.next_of(at, header)?)
        } else {
            None
        };
        if !self.schedule.take_url(id, at) {
            return Err(FrontierError::NotInLease {
                id: at,
                key: lease.key.clone(),
            });
        }
        if at != record.head {
            self.staged_removed.insert(at);
        }
        let host = self.schedule.host_mut(id);
        if let Some(head) = next_head {
            host.record.head = head;
        }
        host.record.queued = host.record.queued.saturating_sub(1);
        host.dirty = true;
        self.done = self.done.saturating_add(1);
        Ok(())
    }

    pub(super) fn give_up(&mut self, key: &str) -> Result<Vec<Candidate>, FrontierError> {
        let id = self.host_id(key.to_owned())?;
        let state = self.schedule.host_mut(id);
        state.record.health |= GIVEN_UP;
        state.dirty = true;
        let state = self.schedule.host(id);
        let leased: Vec<u64> = state
            .lease
            .as_ref()
            .map_or_else(Vec::new, |l| l.urls.clone());
        let mut left = state.record.queued.saturating_sub(leased.len() as u64);
        let (head, tail) = (state.record.head, state.record.tail);
        let mut at = state.cursor.filter(|c| *c > head).unwrap_or(head);
        let mut dropped = Vec::new();
        while left > 0 && dropped.len() < DROP_BATCH {
            let (header, removed) = self.header(at)?;
            if !removed && !leased.contains(&at) {
                let bytes = self.store.queue.payload(at, header).map_err(self.io())?;
                dropped.push(codec::read_candidate(&bytes).map_err(|m| self.corrupt(&m))?);
                self.staged_removed.insert(at);
                left -= 1;
            }
            if at >= tail {
                break;
            }
            at = self.next_of(at, header)?;
        }
        let state = self.schedule.host_mut(id);
        state.record.queued = state.record.queued.saturating_sub(dropped.len() as u64);
        state.cursor = Some(at);
        Ok(dropped)
    }

    pub(super) fn mark_done(&mut self, url: &Url, host: &str) -> Result<bool, FrontierError> {
        let key = codec::seen_key(&canonical_key(url));
        let Some(value) = self.seen_value(&key)? else {
            // Fetched but never queued (pushed after the last checkpoint): seen from now on,
            // so that finding it again does not fetch it twice.
            self.staged_seen.insert(key, 0);
            self.seen = self.seen.saturating_add(1);
            return Ok(false);
        };
        let (Some(at), Some(id)) = (value.checked_sub(1), self.schedule.find(host)) else {
            return Ok(false);
        };
        let state = self.schedule.host(id);
        if state.lease.as_ref().is_some_and(|l| l.urls.contains(&at)) {
            // In flight: still pending; its acknowledgement finishes it.
            return Ok(true);
        }
        // Done URLs are before the head; removed ones carry the flag.
        if state.record.queued == 0 || at < state.record.head || self.header(at)?.1 {
            return Ok(false);
        }
        self.staged_removed.insert(at);
        let state = self.schedule.host_mut(id);
        state.record.queued -= 1;
        state.dirty = true;
        self.done = self.done.saturating_add(1);
        Ok(true)
    }

    pub(super) fn checkpoint(&mut self, meta: &[u8]) -> Result<(), FrontierError> {
        let ops = self.checkpoint_ops(meta);
        self.store.commit(ops.into_iter())?;
        self.staged_seen.clear();
        self.staged_removed.clear();
        let ids: Vec<u32> = self
            .schedule
            .hosts()
            .filter(|(_, h)| h.dirty)
            .map(|(id, _)| id)
            .collect();
        for id in ids {
            self.schedule.host_mut(id).dirty = false;
        }
        self.committed_hosts = u32::try_from(self.schedule.len()).unwrap_or(u32::MAX);
        self.meta = Some(meta.to_vec());
        Ok(())
    }

    pub(super) fn stats(&mut self, now: UnixMillis) -> FrontierStats {
        let (hosts_due, hosts_waiting) = self.schedule.due_and_waiting(now);
        let leased = self.schedule.leased();
        let queued =
            (self.schedule.hosts()).fold(0u64, |n, (_, h)| n.saturating_add(h.record.queued));
        FrontierStats {
            queued: queued.saturating_sub(leased),
            leased,
            done: self.done,
            seen: self.seen,
            hosts: self.schedule.len() as u64,
            hosts_due,
            hosts_leased: self.schedule.leased_hosts(),
            hosts_waiting,
        }
    }
}
