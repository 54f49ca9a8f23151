//! The frontier: what is left to fetch.
//!
//! The crawl loop asks it for the next URL whose host may be contacted now ([`Frontier::next`]),
//! fetches it through the pipeline, then reports it done with the host's next polite time
//! ([`Frontier::done`]). One request is in flight per host. URLs are de-duplicated by their
//! [`canonical_key`]; the URL requested is the one found, unchanged.
//!
//! - [`canonical`]: the canonical key (RFC 3986 §6.2.2 syntax-based normalisation, in part);
//! - `schedule`: per-host state and the heap of hosts by due time, in memory;
//! - `codec`: the bytes of a queued [`Candidate`], a host's record, a checkpoint's state;
//! - `seen`: the seen-set, a hash table on disk;
//! - `queue_log`: the queues, one append-only file of records chained per host;
//! - `redo`: the redo log that commits a checkpoint; `store`: the files and how a
//!   checkpoint reaches them;
//! - [`embedded`]: [`EmbeddedFrontier`], the single-machine frontier on those files.
//!
//! The trait is the seam for a shared frontier serving a fleet of machines later
//! (issue 13, item 3): the crawl loop only sees `Arc<dyn Frontier>`.
//! `docs/frontier.md` describes the design, the crash semantics and the measurements.

pub mod canonical;
mod codec;
pub mod embedded;
mod queue_log;
mod redo;
mod schedule;
mod seen;
mod store;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use canonical::canonical_key;
pub use embedded::{EmbeddedFrontier, FrontierOptions};

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
}

/// A URL handed out to fetch. Give it back with [`Frontier::done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Unique among the leases of this frontier since it was opened.
    pub id: u64,
    /// The queue host ([`queue_host`]) of the URL.
    pub host: String,
    /// The URL and what was known of it when it was queued.
    pub candidate: Candidate,
}

/// What [`Frontier::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A URL to fetch now.
    Ready(Lease),
    /// Nothing is due; the earliest host is due in this long.
    Wait(Duration),
    /// Every host with queued URLs has a lease out: wait for a [`Frontier::done`].
    Busy,
    /// Nothing queued, nothing leased: the crawl is over.
    Empty,
}

/// Counts for the progress line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrontierStats {
    /// URLs waiting in a queue (leased ones not included).
    pub queued: u64,
    /// URLs leased and not yet done.
    pub leased: u64,
    /// URLs done (by [`Frontier::done`] or [`Frontier::mark_done`]).
    pub done: u64,
    /// Canonical keys seen.
    pub seen: u64,
    /// Hosts known.
    pub hosts: u64,
    /// Hosts with queued URLs, no lease out, and due now.
    pub hosts_due: u64,
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
    /// [`Frontier::done`] was given a lease this frontier did not hand out (or one already
    /// done): a bug in the caller.
    #[error("lease {id} for {host} is not out (given back twice, or from another frontier)")]
    UnknownLease {
        /// The lease's id.
        id: u64,
        /// The lease's host.
        host: String,
    },
}

/// The frontier as the crawl loop sees it. `&self` everywhere: implementations lock
/// internally, so the loop shares one as `Arc<dyn Frontier>` across tasks.
pub trait Frontier: Send + Sync {
    /// Queues `candidate` unless its canonical key was seen or its host's budget is spent.
    fn push(&self, candidate: Candidate) -> Result<Pushed, FrontierError>;
    /// The next URL of a host that is due at `now` and has no lease out, chosen by the
    /// host's next slot (earliest first).
    fn next(&self, now: Instant) -> Result<Next, FrontierError>;
    /// The leased URL is finished; its host is next due at `not_before` (the crawl computes
    /// it from the interval, crawl-delay or back-off).
    fn done(&self, lease: Lease, not_before: Instant) -> Result<(), FrontierError>;
    /// Whether `url`'s canonical key was seen (queued, done, or turned away for its host's
    /// budget). Changes nothing.
    fn seen(&self, url: &str) -> Result<bool, FrontierError>;
    /// Marks a URL finished without a lease (resume replay: pages found in the WARC after
    /// the last checkpoint). Returns whether it was still pending. A URL never seen is
    /// recorded as seen, so a later push of it is [`Pushed::Seen`] and it is not fetched
    /// twice.
    fn mark_done(&self, url: &str) -> Result<bool, FrontierError>;
    /// Drops queued URLs of `host` (a host given up) and gives them back, so the crawl can
    /// report them skipped. At most [`DROP_BATCH`] per call, to bound memory: call until it
    /// returns an empty `Vec`. A URL leased at the time stays out; finish it with `done`.
    /// Later pushes for the host are queued again: barring a host is the crawl's decision.
    fn drop_host(&self, host: &str) -> Result<Vec<Candidate>, FrontierError>;
    /// Makes everything so far durable together with `meta` (the crawl's own checkpoint
    /// bytes: WARC position etc.), atomically: after a crash, opening the frontier gives the
    /// state of some checkpoint, and [`Frontier::checkpoint_meta`] the meta written with it.
    fn checkpoint(&self, meta: &[u8]) -> Result<(), FrontierError>;
    /// The meta of the checkpoint the frontier was opened at, or of the last one written
    /// since; `None` before the first checkpoint.
    fn checkpoint_meta(&self) -> Result<Option<Vec<u8>>, FrontierError>;
    /// Counts for the progress line.
    fn stats(&self) -> FrontierStats;
}

/// The most candidates one [`Frontier::drop_host`] call gives back.
pub const DROP_BATCH: usize = 1024;

/// The queue host of a URL: its host lower-cased, without a trailing dot. Ports of one host
/// share a queue, as politeness is per host (RFC 9309 §2.4 scopes robots.txt to an origin,
/// but the load falls on the machine). `None` for a URL without a host.
pub fn queue_host(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}
