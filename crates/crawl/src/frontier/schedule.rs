//! Per-host state and the order hosts are served in, in memory.
//!
//! Hosts with queued URLs and no lease out wait in a min-heap by the time they are next due,
//! so a slow, crawl-delayed or backing-off host never delays another, and finding the next
//! host is O(log hosts). A host goes back into the heap when its lease is done, keyed by its
//! `not_before`: that is Heritrix's queue rotation, with no rotation code. Entries are
//! removed lazily: a host whose queue emptied while in the heap (`drop_host`, `mark_done`)
//! is skipped when it reaches the top.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use super::codec::HostRecord;

/// One host: its record (persisted at checkpoints) and its scheduling state.
#[derive(Debug)]
pub(super) struct Host {
    pub name: String,
    pub record: HostRecord,
    /// The lease out: (lease id, offset of its URL's queue record).
    pub lease: Option<(u64, u64)>,
    /// Memory only: a queue record after the head such that every record between them is
    /// removed, the leased one aside (set by `drop_host`, so the next call and `next` do not
    /// walk over what it removed). Ignored unless beyond the head.
    pub cursor: Option<u64>,
    /// When the host may be contacted next; `None`: at once (a new host, or any host just
    /// after opening: the pipeline's own politeness wait still holds).
    pub not_before: Option<Instant>,
    in_heap: bool,
    /// Its record changed since the last checkpoint.
    pub dirty: bool,
}

impl Host {
    fn eligible(&self) -> bool {
        self.lease.is_none() && self.record.queued > 0
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
    heap: BinaryHeap<Reverse<(Option<Instant>, u32)>>,
    leased: u64,
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
            not_before: None,
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

    /// Puts `id` in the heap if it has queued URLs, no lease, and is not there already.
    pub fn wake(&mut self, id: u32) {
        let host = &mut self.hosts[id as usize];
        if host.eligible() && !host.in_heap {
            host.in_heap = true;
            self.heap.push(Reverse((host.not_before, id)));
        }
    }

    /// Takes the host due first out of the heap if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Poll {
        while let Some(&Reverse((due, id))) = self.heap.peek() {
            let host = &mut self.hosts[id as usize];
            if !host.eligible() {
                self.heap.pop();
                host.in_heap = false;
                continue;
            }
            if let Some(due) = due.filter(|due| *due > now) {
                return Poll::Wait(due - now);
            }
            self.heap.pop();
            host.in_heap = false;
            return Poll::Due(id);
        }
        if self.leased > 0 {
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

    /// Leases the queue record at `at` of `id`: it becomes the head (the records before it
    /// are done or removed).
    pub fn lease(&mut self, id: u32, lease: u64, at: u64) {
        let host = &mut self.hosts[id as usize];
        debug_assert!(host.lease.is_none());
        host.lease = Some((lease, at));
        if host.record.head != at {
            host.record.head = at;
            host.dirty = true;
        }
        self.leased += 1;
    }

    /// Ends the lease `lease` of `id`: its URL leaves the queue (the caller moves the head),
    /// and the host is due again at `not_before`. Returns the URL's record offset, or `None`
    /// if that lease is not out.
    pub fn finish(&mut self, id: u32, lease: u64, not_before: Instant) -> Option<u64> {
        let host = &mut self.hosts[id as usize];
        let (out, seq) = host.lease?;
        if out != lease {
            return None;
        }
        host.lease = None;
        host.record.queued = host.record.queued.saturating_sub(1);
        host.not_before = Some(not_before);
        host.dirty = true;
        self.leased -= 1;
        self.wake(id);
        Some(seq)
    }

    /// (hosts with queued URLs, no lease and due at `now`; the same not yet due).
    pub fn due_and_waiting(&self, now: Instant) -> (u64, u64) {
        let eligible = self.hosts.iter().filter(|h| h.eligible());
        eligible.fold((0, 0), |(due, waiting), h| {
            if h.not_before.is_none_or(|t| t <= now) {
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

    #[test]
    fn a_backing_off_host_does_not_delay_another() {
        let t0 = Instant::now();
        let mut s = schedule(&[("slow", 3), ("fast", 3)]);
        let Poll::Due(first) = s.pop_due(t0) else {
            panic!("a host is due")
        };
        s.lease(first, 1, 0);
        let Poll::Due(second) = s.pop_due(t0) else {
            panic!("the other host is due")
        };
        assert_ne!(first, second);
        s.lease(second, 2, 0);
        // One lease per host: both are out, nothing else is queued elsewhere.
        assert_eq!(s.pop_due(t0), Poll::Busy);
        // `first` backs off for an hour; `second` is due again in 50 ms.
        s.finish(first, 1, t0 + Duration::from_secs(3600)).unwrap();
        assert_eq!(s.pop_due(t0), Poll::Wait(Duration::from_secs(3600)));
        s.finish(second, 2, t0 + Duration::from_millis(50)).unwrap();
        assert_eq!(s.pop_due(t0), Poll::Wait(Duration::from_millis(50)));
        let later = t0 + Duration::from_millis(50);
        assert_eq!(s.pop_due(later), Poll::Due(second));
        s.lease(second, 3, 1);
        s.finish(second, 3, later + Duration::from_millis(50))
            .unwrap();
        assert_eq!(s.pop_due(later), Poll::Wait(Duration::from_millis(50)));
    }

    #[test]
    fn empty_only_when_nothing_is_queued_or_leased() {
        let t0 = Instant::now();
        let mut s = schedule(&[("a", 1), ("b", 0)]);
        let Poll::Due(a) = s.pop_due(t0) else {
            panic!("a is due")
        };
        s.lease(a, 7, 0);
        assert_eq!(s.pop_due(t0), Poll::Busy);
        assert_eq!(s.finish(a, 8, t0), None, "a lease not out is refused");
        assert_eq!(s.finish(a, 7, t0), Some(0));
        assert_eq!(s.finish(a, 7, t0), None, "a lease is finished once");
        assert_eq!(s.pop_due(t0), Poll::Empty);
        assert_eq!(s.leased(), 0);
    }

    #[test]
    fn hosts_are_served_by_due_time_and_emptied_hosts_are_skipped() {
        let t0 = Instant::now();
        let mut s = schedule(&[("a", 1), ("b", 1), ("c", 1)]);
        // Empty `a` behind the heap's back, as drop_host does.
        let a = s.find("a").unwrap();
        s.host_mut(a).record.queued = 0;
        let mut served = Vec::new();
        while let Poll::Due(id) = s.pop_due(t0) {
            served.push(s.host(id).name.clone());
            s.lease(id, u64::from(id), 0);
        }
        served.sort();
        assert_eq!(served, ["b", "c"]);
        assert_eq!(s.due_and_waiting(t0), (0, 0));
    }
}
