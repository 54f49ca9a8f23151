//! Host leases: what [`Frontier::claim`](super::Frontier::claim) hands out, and the token
//! a holder shows to act under one.
//!
//! A lease gives one owner a host's queue (by its politeness key) until it expires: no one
//! else is handed the host meanwhile, so no two fetchers hit it at once (URLFrontier's
//! queue leases; Heritrix's one active queue per host). Its epoch fences it: a newer lease
//! of the host has a greater epoch, and the frontier refuses every write under a lease
//! that expired or was superseded ([`Stale`]), as a database refuses an `UPDATE … WHERE
//! lease_epoch = $epoch` that matches no row (Kleppmann, "How to do distributed locking").
//! A website cannot check a token, so time is the other half: a lease must outlive the
//! longest fetch it covers, and a holder that may not finish in time renews it.

use std::time::Duration;

use super::Candidate;
use super::clock::UnixMillis;

/// Who holds a lease and which one: the fencing token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseId {
    /// The politeness key of the host ([`queue_key`](super::queue_key)).
    pub key: String,
    /// The owner that claimed it (a worker's name).
    pub owner: String,
    /// Greater than the epoch of every earlier lease of the host by this frontier.
    pub epoch: u64,
}

/// A URL of a lease. Acknowledge it with [`Frontier::ack`](super::Frontier::ack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedUrl {
    /// The URL's id in the frontier (unique among its queued URLs).
    pub id: u64,
    /// The URL and what was known of it when it was queued.
    pub candidate: Candidate,
}

/// A host's queue handed to one owner until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLease {
    /// The token to act under it.
    pub id: LeaseId,
    /// When it lapses, by the frontier's clock, unless renewed.
    pub expires: UnixMillis,
    /// The host's URLs leased, in queue order (FIFO per host).
    pub urls: Vec<LeasedUrl>,
}

/// What to claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Who claims.
    pub owner: String,
    /// Hosts leased at most (0 is taken as 1).
    pub max_hosts: usize,
    /// URLs per host at most (0 is taken as 1).
    pub max_urls_per_host: usize,
    /// How long the leases last: longer than the longest fetch they cover.
    pub lease_for: Duration,
    /// Hosts due within this long are claimed too (zero: due now). A crawl that stops
    /// early claims everything left to report it (a long `ahead`).
    pub ahead: Duration,
}

impl Claim {
    /// `max_hosts` hosts due now, one URL each, leased for `lease_for`.
    pub fn hosts(owner: &str, max_hosts: usize, lease_for: Duration) -> Claim {
        Claim {
            owner: owner.to_owned(),
            max_hosts,
            max_urls_per_host: 1,
            lease_for,
            ahead: Duration::ZERO,
        }
    }
}

/// What [`Frontier::claim`](super::Frontier::claim) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// Hosts leased (at least one; fewer than asked when no more were due).
    Leases(Vec<HostLease>),
    /// Nothing is due; the earliest host is due in this long (by the frontier's clock).
    Wait(Duration),
    /// Every host with queued URLs is leased: wait for a release.
    Busy,
    /// Nothing queued, nothing leased: the crawl is over.
    Empty,
}

/// What became of a leased URL ([`Frontier::ack`](super::Frontier::ack)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// Fetched and written (or refused, and the refusal reported): it leaves the queue.
    Done,
    /// Tried and failed for good: it leaves the queue too; a shared frontier keeps it
    /// apart from the done ones.
    Failed,
}

/// Why a write under a lease was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// The lease's time passed: the host may be someone else's by now.
    Expired,
    /// The host is not under this lease (released, taken over, or never handed out).
    NotHeld,
}

/// A host's health, held by the frontier so that every worker sees the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostHealth {
    /// Failed requests in a row (a response of any kind ends the run).
    pub errors_in_a_row: u32,
    /// Given up: its queue dropped, nothing of it queued again.
    pub given_up: bool,
}
