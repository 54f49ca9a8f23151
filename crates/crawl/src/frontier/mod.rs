//! The frontier: what is left to fetch.
//!
//! The crawl loop claims hosts that may be contacted now ([`Frontier::claim`]): each comes
//! under a lease with its URLs. It fetches them through the pipeline, acknowledges each URL
//! ([`Frontier::ack`]), and releases the host with its next polite time
//! ([`Frontier::release`]). Hosts are queued by their politeness key ([`queue_key`]), the key
//! the fetcher paces by. URLs are de-duplicated by their [`canonical_key`]; the URL
//! requested is the one found, unchanged.
//!
//! - [`clock`](UnixMillis): frontier time, Unix milliseconds;
//! - [`lease`]: host leases, their fencing token and what a claim returns;
//! - [`canonical`]: the canonical key (RFC 3986 §6.2.2 syntax-based normalisation, in part);
//! - `schedule`: per-host state and the heap of hosts by due time, in memory;
//! - `codec`: the bytes of a queued [`Candidate`], a host's record, a checkpoint's state;
//! - `seen`: the seen-set, a hash table on disk;
//! - `queue_log`: the queues, one append-only file of records chained per host;
//! - `redo`: the redo log that commits a checkpoint; `store`: the files and how a
//!   checkpoint reaches them;
//! - [`embedded`]: [`EmbeddedFrontier`], the single-machine frontier on those files.
//!
//! The trait is the seam for a shared frontier serving a fleet of machines (issue 22, item
//! 3; issue 24): the crawl loop only sees `Arc<dyn Frontier>`.
//! `docs/frontier.md` describes the design, the crash semantics and the measurements.

pub mod canonical;
mod clock;
mod codec;
pub mod embedded;
pub mod lease;
mod queue_log;
mod redo;
mod schedule;
mod seen;
mod store;

use std::path::PathBuf;
use std::time::Duration;

pub use canonical::canonical_key;
pub use clock::{UnixMillis, WallClock};
pub use embedded::{EmbeddedFrontier, FrontierOptions};
pub use lease::{Acked, Claim, Claimed, HostHealth, HostLease, LeaseId, LeasedUrl, Stale};

use optout_config::HostKey;

/// Where a URL was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// Given by the operator (command line or `--seeds`).
    Seed,
    /// A link of a page.
    Link,
    /// A sitemap entry.
    Sitemap,
    /// The target of a redirect.
    Redirect,
}

/// The validators of an earlier fetch of the URL, sent back as `If-None-Match` /
/// `If-Modified-Since` by a re-crawl (`--recrawl`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The earlier response's `ETag`.
    pub etag: Option<String>,
    /// The earlier response's `Last-Modified`.
    pub last_modified: Option<String>,
}

/// A URL found, to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The URL as found; it is requested unchanged (the canonical key only de-duplicates).
    pub url: String,
    /// Links followed from a seed to reach it (a seed is 0).
    pub depth: u32,
    /// The page it was found on (none for a seed).
    pub found_on: Option<String>,
    /// How it was found.
    pub via: Via,
    /// Validators for a conditional request (re-crawl).
    pub validators: Option<Validators>,
    /// Redirects followed to reach it: 0 unless it is a redirect's target, then one more
    /// than its source's. A chain of redirects is bounded by `fetch.max_redirects` across
    /// its queued hops, as inside the fetch pipeline (browsers stop at about 20).
    pub redirects: u32,
}

impl Candidate {
    /// A seed: depth 0, found on no page.
    pub fn seed(url: impl Into<String>) -> Candidate {
        Candidate {
            url: url.into(),
            depth: 0,
            found_on: None,
            via: Via::Seed,
            validators: None,
            redirects: 0,
        }
    }
}

/// What [`Frontier::push`] did with a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for its host.
    Queued,
    /// Its canonical key was seen before (queued, done, or turned away for the host's
    /// budget): nothing changed.
    Seen,
    /// `max_pages_per_host` URLs of its host were accepted already. The URL counts as seen
    /// from now on, so it is reported once.
    OverHostBudget,
    /// Not an `http(s)` URL that parses, or without a host; the text says why.
    Unqueueable(String),
    /// Its host is given up ([`Frontier::give_up`]): not queued, not counted as seen.
    HostGivenUp,
}

/// Counts for the progress line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontierStats {
    /// URLs waiting in a queue (leased ones not included).
    pub queued: u64,
    /// URLs leased and not yet done.
    pub leased: u64,
    /// URLs done (by [`Frontier::ack`] or [`Frontier::mark_done`]).
    pub done: u64,
    /// Canonical keys seen.
    pub seen: u64,
    /// Hosts known.
    pub hosts: u64,
    /// Hosts with queued URLs, no lease out, and due now.
    pub hosts_due: u64,
    /// Hosts leased now.
    pub hosts_leased: u64,
    /// Hosts with queued URLs, no lease out, and not yet due.
    pub hosts_waiting: u64,
}

/// Why the frontier cannot go on. Each message is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum FrontierError {
    /// Another process has the frontier open.
    #[error(
        "frontier {0} is in use by another optout process (it holds frontier.lock); stop that process or pass another directory"
    )]
    Locked(PathBuf),
    /// The store under the frontier failed.
    #[error("frontier {path}: {message}")]
    Store {
        /// The frontier directory.
        path: PathBuf,
        /// What the store said.
        message: String,
    },
    /// The frontier's files hold something it did not write.
    #[error("frontier {path} is damaged ({message}); start the crawl in a new directory")]
    Corrupt {
        /// The frontier directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A write under a lease that expired or is not held (fencing): the caller lost the
    /// host and must discard what it did under it.
    #[error("the lease of {key} (epoch {epoch}) is stale ({why:?}): its work is not recorded")]
    StaleLease {
        /// The lease's host key.
        key: String,
        /// The lease's epoch.
        epoch: u64,
        /// Expired, or not held.
        why: Stale,
    },
    /// [`Frontier::ack`] named a URL that is not out under the lease (acknowledged
    /// already, or from another lease): a bug in the caller.
    #[error("URL {id} is not out under the lease of {key}")]
    NotInLease {
        /// The URL's id.
        id: u64,
        /// The lease's host key.
        key: String,
    },
}

/// The frontier as the crawl loop sees it: what is left to fetch, who holds which host,
/// and when each host may be asked next. `&self` everywhere: implementations lock
/// internally, so the loop shares one as `Arc<dyn Frontier>` across tasks.
///
/// Written so a frontier shared by a fleet (a database) can implement it: times are the
/// frontier's own ([`UnixMillis`], durations from its now), hosts are handed out under
/// leases with an owner, an epoch and an expiry ([`lease`]), every write under a lease is
/// fenced, and a host's health and blocks live here, not in one worker's memory.
///
/// Calls may do I/O: an implementation must not block the runtime's threads for long
/// (the embedded one keeps its calls to page-cache reads and writes under a short lock, and
/// moves a checkpoint's `fsync` to a blocking thread).
#[async_trait::async_trait]
pub trait Frontier: Send + Sync {
    /// Queues `candidate` unless its canonical key was seen, its host's budget is spent or
    /// its host is given up.
    async fn push(&self, candidate: Candidate) -> Result<Pushed, FrontierError>;
    /// [`Frontier::push`] for many (discovered links, sitemap entries), in order.
    async fn push_many(&self, candidates: Vec<Candidate>) -> Result<Vec<Pushed>, FrontierError> {
        let mut pushed = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            pushed.push(self.push(candidate).await?);
        }
        Ok(pushed)
    }
    /// Leases up to `claim.max_hosts` hosts that are due, not leased and not given up,
    /// earliest due first, each with up to `claim.max_urls_per_host` URLs in queue order.
    /// A host whose lease expired is claimable again (its unacknowledged URLs with it).
    async fn claim(&self, claim: &Claim) -> Result<Claimed, FrontierError>;
    /// Extends a lease to `lease_for` from now. Returns the new expiry; a stale lease is
    /// [`FrontierError::StaleLease`].
    async fn renew(
        &self,
        lease: &LeaseId,
        lease_for: Duration,
    ) -> Result<UnixMillis, FrontierError>;
    /// One URL of a lease is finished: it leaves the queue. Fenced. This is the frontier's
    /// record, apart from the crawl's checkpoint of its WARC files: a crawl acknowledges a
    /// page after it is written; the embedded frontier makes acknowledgements durable at its
    /// next [`Frontier::checkpoint`], a shared one at once.
    async fn ack(&self, lease: &LeaseId, url: u64, outcome: Acked) -> Result<(), FrontierError>;
    /// Gives the host back, due again `after` from now (its interval, Crawl-delay or
    /// back-off: RFC 9309 §2.5 leaves the pace to the crawler). Its URLs not acknowledged
    /// stay queued. Fenced.
    async fn release(&self, lease: &LeaseId, after: Duration) -> Result<(), FrontierError>;
    /// No lease of `key` is handed out before `until` (a server's `Retry-After`, RFC 9110
    /// §10.2.3, or a back-off); a block is never shortened by a later, earlier one. Not
    /// fenced: a server's word holds whoever heard it.
    async fn block_until(
        &self,
        key: &str,
        until: UnixMillis,
        why: &str,
    ) -> Result<(), FrontierError>;
    /// A request to `key` failed (no response): one more error in a row. Returns the health.
    async fn record_error(&self, key: &str) -> Result<HostHealth, FrontierError>;
    /// `key` answered: its run of errors ends.
    async fn record_success(&self, key: &str) -> Result<(), FrontierError>;
    /// `key`'s health.
    async fn health(&self, key: &str) -> Result<HostHealth, FrontierError>;
    /// Gives `key` up and drops its queued URLs, giving them back so the crawl can report
    /// them skipped: at most [`DROP_BATCH`] per call, to bound memory; call until it returns
    /// an empty `Vec`. URLs leased at the time stay out (acknowledge them); later pushes for
    /// the host are [`Pushed::HostGivenUp`], and it is never claimed again.
    async fn give_up(&self, key: &str) -> Result<Vec<Candidate>, FrontierError>;
    /// Whether `url`'s canonical key was seen (queued, done, or turned away for its host's
    /// budget). Changes nothing.
    async fn seen(&self, url: &str) -> Result<bool, FrontierError>;
    /// Marks a URL finished without a lease (resume replay: pages found in the WARC after
    /// the last checkpoint). Returns whether it was still pending. A URL never seen is
    /// recorded as seen, so a later push of it is [`Pushed::Seen`] and it is not fetched
    /// twice.
    async fn mark_done(&self, url: &str) -> Result<bool, FrontierError>;
    /// Makes everything so far durable together with `meta` (the crawl's own checkpoint
    /// bytes: WARC position etc.), atomically: after a crash, opening the frontier gives the
    /// state of some checkpoint, and [`Frontier::checkpoint_meta`] the meta written with it.
    async fn checkpoint(&self, meta: &[u8]) -> Result<(), FrontierError>;
    /// The meta of the checkpoint the frontier was opened at, or of the last one written
    /// since; `None` before the first checkpoint.
    async fn checkpoint_meta(&self) -> Result<Option<Vec<u8>>, FrontierError>;
    /// Counts for the progress line.
    async fn stats(&self) -> Result<FrontierStats, FrontierError>;
}

/// The most candidates one [`Frontier::give_up`] call gives back.
pub const DROP_BATCH: usize = 1024;

/// The queue key of a URL: its politeness key (`politeness.key`), so that the frontier
/// hands out a host exactly when the fetcher would let it be asked. With `key = "domain"`
/// every host of a registrable domain is one queue. With `key = "ip"` the frontier queues by
/// host name: the address is known only once the name is resolved, at fetch time, so the
/// fetcher still paces by address and a host may then wait for its slot inside a fetch.
/// `None` for a URL without a host.
pub fn queue_key(url: &url::Url, key: HostKey) -> Option<String> {
    queue_host(url)?;
    Some(optout_net::politeness::site_key(url, key))
}

/// The queue host of a URL: its host lower-cased, without a trailing dot. Ports of one host
/// share a queue, as politeness is per host (RFC 9309 §2.4 scopes robots.txt to an origin,
/// but the load falls on the machine). `None` for a URL without a host.
pub fn queue_host(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}
