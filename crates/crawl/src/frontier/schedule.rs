//! Per-host state, the order hosts are served in, and the leases out, in memory.
//!
//! Hosts with queued URLs, no lease out and not given up wait in a min-heap by the time they
//! are next due, so a slow, crawl-delayed, blocked or backing-off host never delays another,
//! and finding the next host is O(log hosts). A host goes back into the heap when its lease
//! is released, keyed by its next due time: that is Heritrix's queue rotation, with no
//! rotation code. Entries are removed lazily: a host whose queue emptied while in the heap
//! (`give_up`, `mark_done`) is skipped when it reaches the top, and one whose due time moved
//! later (`block_until`) is put back at its new time. Leases wait in a second heap by expiry:
//! a lease that lapsed is ended when a claim or the stats look, and its host is due again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use super::clock::UnixMillis;
use super::codec::HostRecord;
use super::lease::Stale;

/// One host: its record (persisted at checkpoints) and its scheduling state.
#[derive(Debug)]
pub(super) struct Host {
    pub name: String,
    pub record: HostRecord,
    /// The lease out, if any (boxed: most hosts have none, and a host's state is what the
    /// frontier's memory is made of).
    pub lease: Option<Box<LeaseOut>>,
    /// Memory only: a queue record after the head such that every record between them is
    /// removed, the leased ones aside (set by `give_up`, so the next call and a claim do not
    /// walk over what it removed). Ignored unless beyond the head.
    pub cursor: Option<u64>,
    /// When the host may be contacted next (`UnixMillis(0)`: at once, as a new host, or any
    /// host just after opening: the pipeline's own politeness wait still holds).
    pub not_before: UnixMillis,
    in_heap: bool,
    /// Its record changed since the last checkpoint.
    pub dirty: bool,
}

/// A lease out on a host.
#[derive(Debug)]
pub(super) struct LeaseOut {
    /// Index into the owners' names.
    pub owner: u32,
    pub epoch: u64,
    pub expires: UnixMillis,
    /// The queue records leased and not yet acknowledged, in queue order.
    pub urls: Vec<u64>,
}

impl Host {
    fn eligible(&self) -> bool {
        self.lease.is_none() && self.record.queued > 0 && !self.record.given_up()
    }
}

/// What [`Schedule::pop_due`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Poll {
    Due(u32),
    Wait(Duration),
    Busy,
    Empty,
}

#[derive(Debug, Default)]
pub(super) struct Schedule {
    hosts: Vec<Host>,
    by_name: HashMap<String, u32>,
    heap: BinaryHeap<Reverse<(UnixMillis, u32)>>,
    /// (expiry, host, epoch) of the leases out; stale entries (renewed or ended leases) are
    /// skipped, and swept when they outnumber the leases out (`sweep_expiries`), so the heap
    /// stays the size of the leases, not of every lease ever handed out.
    expiries: BinaryHeap<Reverse<(UnixMillis, u32, u64)>>,
    owners: Vec<String>,
    /// URLs leased and not acknowledged.
    leased: u64,
    leased_hosts: u64,
}

impl Schedule {
    /// The id of `name`, if known.
    pub fn find(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// Adds a host read from its record (or new), due at once. Returns its id, or `None`
    /// past `u32::MAX` hosts.
    pub fn add(&mut self, name: String, record: HostRecord) -> Option<u32> {
        let id = u32::try_from(self.hosts.len()).ok()?;
        self.by_name.insert(name.clone(), id);
        self.hosts.push(Host {
            name,
            record,
            lease: None,
            cursor: None,
            not_before: UnixMillis(0),
            in_heap: false,
            dirty: false,
        });
        self.wake(id);
        Some(id)
    }

    pub fn host(&self, id: u32) -> &Host {
        &self.hosts[id as usize]
    }

    pub fn host_mut(&mut self, id: u32) -> &mut Host {
        &mut self.hosts[id as usize]
    }

    pub fn hosts(&self) -> impl Iterator<Item = (u32, &Host)> {
        (0u32..).zip(self.hosts.iter())
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn leased(&self) -> u64 {
        self.leased
    }

    pub fn leased_hosts(&self) -> u64 {
        self.leased_hosts
    }

    /// The index of `owner` among the owners' names, added if new.
    pub fn owner(&mut self, owner: &str) -> u32 {
        match self.owners.iter().position(|o| o == owner) {
            Some(i) => i as u32,
            None => {
                self.owners.push(owner.to_owned());
                (self.owners.len() - 1) as u32
            }
        }
    }

    /// Puts `id` in the heap if it has queued URLs, no lease, and is not there already.
    pub fn wake(&mut self, id: u32) {
        let host = &mut self.hosts[id as usize];
        if host.eligible() && !host.in_heap {
            host.in_heap = true;
            self.heap.push(Reverse((host.not_before, id)));
        }
    }

    /// Takes the host due first out of the heap if it is due by `now + ahead`; ends the
    /// leases that lapsed by `now` first.
    pub fn pop_due(&mut self, now: UnixMillis, ahead: Duration) -> Poll {
        self.reap(now);
        let by = now.after(ahead);
        while let Some(&Reverse((due, id))) = self.heap.peek() {
            let host = &mut self.hosts[id as usize];
            if !host.eligible() {
                self.heap.pop();
                host.in_heap = false;
                continue;
            }
            if due < host.not_before {
                // Blocked since it was queued: back at its new time.
                self.heap.pop();
                self.heap.push(Reverse((host.not_before, id)));
                continue;
            }
            if due > by {
                return Poll::Wait(due.since(now));
            }
            self.heap.pop();
            host.in_heap = false;
            return Poll::Due(id);
        }
        if self.leased_hosts > 0 {
            Poll::Busy
        } else {
            Poll::Empty
        }
    }

    /// Puts back a host taken by `pop_due` without leasing it (its queue turned out empty or
    /// unreadable), so that it is not lost from the heap.
    pub fn unpop(&mut self, id: u32) {
        self.wake(id);
    }

    /// Leases `id` as `lease`: its first URL becomes the head (the records before it are
    /// done or removed).
    pub fn lease(&mut self, id: u32, lease: LeaseOut) {
        let host = &mut self.hosts[id as usize];
        debug_assert!(host.lease.is_none());
        if let Some(&first) = lease.urls.first()
            && host.record.head != first
        {
            host.record.head = first;
            host.dirty = true;
        }
        self.leased += lease.urls.len() as u64;
        self.leased_hosts += 1;
        self.expiries
            .push(Reverse((lease.expires, id, lease.epoch)));
        host.lease = Some(Box::new(lease));
    }

    /// Whether `id` is under the lease `epoch` of `owner` at `now`.
    pub fn held(&self, id: u32, owner: &str, epoch: u64, now: UnixMillis) -> Result<(), Stale> {
        match &self.hosts[id as usize].lease {
            Some(l) if l.epoch == epoch && self.owners[l.owner as usize] == owner => {
                if l.expires <= now {
                    Err(Stale::Expired)
                } else {
                    Ok(())
                }
            }
            _ => Err(Stale::NotHeld),
        }
    }

    /// Extends `id`'s lease to `expires` (checked held by the caller).
    pub fn renew(&mut self, id: u32, expires: UnixMillis) {
        if let Some(lease) = &mut self.hosts[id as usize].lease {
            lease.expires = expires;
            self.expiries.push(Reverse((expires, id, lease.epoch)));
        }
        self.sweep_expiries();
    }

    /// Takes the acknowledged record `at` out of `id`'s lease; `false` if it is not in it.
    pub fn take_url(&mut self, id: u32, at: u64) -> bool {
        let Some(lease) = &mut self.hosts[id as usize].lease else {
            return false;
        };
        let Some(i) = lease.urls.iter().position(|u| *u == at) else {
            return false;
        };
        lease.urls.remove(i);
        self.leased -= 1;
        true
    }

    /// Ends `id`'s lease: its URLs not acknowledged stay queued, and the host is due again
    /// at `not_before` at the earliest (a block may hold it longer).
    pub fn release(&mut self, id: u32, not_before: UnixMillis) {
        let host = &mut self.hosts[id as usize];
        let Some(lease) = host.lease.take() else {
            return;
        };
        self.leased -= lease.urls.len() as u64;
        self.leased_hosts -= 1;
        host.not_before = host.not_before.max(not_before);
        self.wake(id);
        self.sweep_expiries();
    }

    /// Drops the entries of ended or renewed leases once they are more than half the heap:
    /// O(1) per lease, amortised, and the heap never holds more than twice the leases out.
    fn sweep_expiries(&mut self) {
        if self.expiries.len() <= 2 * self.leased_hosts as usize + 64 {
            return;
        }
        let hosts = &self.hosts;
        self.expiries.retain(|Reverse((expires, id, epoch))| {
            let lease = hosts[*id as usize].lease.as_ref();
            lease.is_some_and(|l| l.epoch == *epoch && l.expires == *expires)
        });
    }

    /// Ends the leases that lapsed by `now`: their hosts are due again at once (the holder's
    /// last request went out before the expiry, which a lease outlives).
    fn reap(&mut self, now: UnixMillis) {
        while let Some(&Reverse((expires, id, epoch))) = self.expiries.peek() {
            if expires > now {
                return;
            }
            self.expiries.pop();
            let current = self.hosts[id as usize]
                .lease
                .as_ref()
                .is_some_and(|l| l.epoch == epoch && l.expires == expires);
            if current {
                self.release(id, UnixMillis(0));
            }
        }
    }

    /// No lease of `id` before `until`.
    pub fn block(&mut self, id: u32, until: UnixMillis) {
        let host = &mut self.hosts[id as usize];
        host.not_before = host.not_before.max(until);
    }

    /// (hosts with queued URLs, no lease, not given up and due at `now`; the same not yet
    /// due).
    pub fn due_and_waiting(&mut self, now: UnixMillis) -> (u64, u64) {
        self.reap(now);
        let eligible = self.hosts.iter().filter(|h| h.eligible());
        eligible.fold((0, 0), |(due, waiting), h| {
            if h.not_before <= now {
                (due + 1, waiting)
            } else {
                (due, waiting + 1)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(hosts: &[(&str, u64)]) -> Schedule {
        let mut s = Schedule::default();
        for (name, queued) in hosts {
            let record = HostRecord {
                accepted: *queued,
                queued: *queued,
                ..HostRecord::default()
            };
            s.add((*name).into(), record).unwrap();
        }
        s
    }

    fn lease(s: &mut Schedule, id: u32, epoch: u64, expires: UnixMillis) {
        let owner = s.owner("me");
        let urls = vec![epoch];
        let out = LeaseOut {
            owner,
            epoch,
            expires,
            urls,
        };
        s.lease(id, out);
    }

    const T0: UnixMillis = UnixMillis(1_700_000_000_000);
    const LONG: UnixMillis = UnixMillis(u64::MAX);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_backing_off_host_does_not_delay_another() {
        let mut s = schedule(&[("slow", 3), ("fast", 3)]);
        let Poll::Due(first) = s.pop_due(T0, Duration::ZERO) else {
            panic!("a host is due")
        };
        lease(&mut s, first, 1, LONG);
        let Poll::Due(second) = s.pop_due(T0, Duration::ZERO) else {
            panic!("the other host is due")
        };
        assert_ne!(first, second);
        lease(&mut s, second, 2, LONG);
        // One lease per host: both are out, nothing else is queued elsewhere.
        assert_eq!(s.pop_due(T0, Duration::ZERO), Poll::Busy);
        // `first` backs off for an hour; `second` is due again in 50 ms.
        s.release(first, T0.after(Duration::from_secs(3600)));
        assert_eq!(
            s.pop_due(T0, Duration::ZERO),
            Poll::Wait(Duration::from_secs(3600))
        );
        s.release(second, T0.after(ms(50)));
        assert_eq!(s.pop_due(T0, Duration::ZERO), Poll::Wait(ms(50)));
        assert_eq!(s.pop_due(T0, ms(50)), Poll::Due(second), "due within ahead");
        s.unpop(second);
        let later = T0.after(ms(50));
        assert_eq!(s.pop_due(later, Duration::ZERO), Poll::Due(second));
        lease(&mut s, second, 3, LONG);
        s.release(second, later.after(ms(50)));
        assert_eq!(s.pop_due(later, Duration::ZERO), Poll::Wait(ms(50)));
    }

    #[test]
    fn empty_only_when_nothing_is_queued_or_leased() {
        let mut s = schedule(&[("a", 1), ("b", 0)]);
        let Poll::Due(a) = s.pop_due(T0, Duration::ZERO) else {
            panic!("a is due")
        };
        lease(&mut s, a, 7, LONG);
        assert_eq!(s.pop_due(T0, Duration::ZERO), Poll::Busy);
        assert_eq!(s.held(a, "me", 8, T0), Err(Stale::NotHeld));
        assert_eq!(s.held(a, "you", 7, T0), Err(Stale::NotHeld));
        assert_eq!(s.held(a, "me", 7, T0), Ok(()));
        assert!(s.take_url(a, 7));
        assert!(!s.take_url(a, 7), "a URL is acknowledged once");
        s.host_mut(a).record.queued = 0;
        s.release(a, T0);
        assert_eq!(s.held(a, "me", 7, T0), Err(Stale::NotHeld));
        assert_eq!(s.pop_due(T0, Duration::ZERO), Poll::Empty);
        assert_eq!(s.leased(), 0);
    }

    #[test]
    fn a_lapsed_lease_frees_its_host_and_a_renewed_one_does_not_lapse() {
        let mut s = schedule(&[("a", 2), ("b", 2)]);
        let Poll::Due(a) = s.pop_due(T0, Duration::ZERO) else {
            panic!()
        };
        lease(&mut s, a, 1, T0.after(ms(100)));
        let Poll::Due(b) = s.pop_due(T0, Duration::ZERO) else {
            panic!()
        };
        lease(&mut s, b, 2, T0.after(ms(100)));
        s.renew(b, T0.after(ms(500)));
        let t = T0.after(ms(100));
        assert_eq!(s.held(a, "me", 1, t), Err(Stale::Expired));
        assert_eq!(s.pop_due(t, Duration::ZERO), Poll::Due(a), "lapsed");
        assert_eq!(s.held(a, "me", 1, t), Err(Stale::NotHeld));
        assert_eq!(s.held(b, "me", 2, t), Ok(()), "renewed");
        assert_eq!(s.leased_hosts(), 1);
    }

    /// The expiries of leases released long before they would end do not pile up (10
    /// million leases of a crawl would otherwise hold 240 MB).
    #[test]
    fn released_leases_leave_no_expiries_behind() {
        let mut s = schedule(&[("a", 1), ("b", 1)]);
        let b = s.find("b").unwrap();
        lease(&mut s, b, 0, T0.after(Duration::from_secs(3600)));
        let a = s.find("a").unwrap();
        for epoch in 1..10_000 {
            assert_eq!(s.pop_due(T0, Duration::ZERO), Poll::Due(a));
            lease(&mut s, a, epoch, T0.after(Duration::from_secs(600)));
            s.renew(a, T0.after(Duration::from_secs(900)));
            s.release(a, T0);
        }
        // One lease out (b): at most twice that, and the slack.
        assert!(s.expiries.len() <= 2 + 64, "{}", s.expiries.len());
        assert_eq!(s.held(b, "me", 0, T0), Ok(()), "the lease out is kept");
        s.reap(T0.after(Duration::from_secs(3600)));
        assert_eq!(
            s.held(b, "me", 0, T0),
            Err(Stale::NotHeld),
            "and still ends"
        );
    }

    #[test]
    fn a_block_moves_a_waiting_host_later() {
        let mut s = schedule(&[("a", 1), ("b", 1)]);
        let a = s.find("a").unwrap();
        s.block(a, T0.after(ms(1000)));
        let Poll::Due(b) = s.pop_due(T0, Duration::ZERO) else {
            panic!()
        };
        assert_eq!(s.host(b).name, "b");
        lease(&mut s, b, 1, LONG);
        assert_eq!(s.pop_due(T0, Duration::ZERO), Poll::Wait(ms(1000)));
    }

    #[test]
    fn hosts_are_served_by_due_time_and_emptied_or_given_up_hosts_are_skipped() {
        let mut s = schedule(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        // Empty `a` behind the heap's back, as give_up does; give `d` up.
        let a = s.find("a").unwrap();
        s.host_mut(a).record.queued = 0;
        let d = s.find("d").unwrap();
        s.host_mut(d).record.health |= super::super::codec::GIVEN_UP;
        let mut served = Vec::new();
        while let Poll::Due(id) = s.pop_due(T0, Duration::ZERO) {
            served.push(s.host(id).name.clone());
            lease(&mut s, id, u64::from(id), LONG);
        }
        served.sort();
        assert_eq!(served, ["b", "c"]);
        assert_eq!(s.due_and_waiting(T0), (0, 0));
    }
}
