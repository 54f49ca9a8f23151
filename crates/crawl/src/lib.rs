//! The crawler: a caller of the fetch pipeline ([`optout_fetch`]) that discovers, queues,
//! archives and resumes.
//!
//! - [`frontier`]: what is left to fetch, per host, on disk, behind the [`frontier::Frontier`]
//!   trait;
//! - [`scope`]: what may be queued;
//! - [`links`] and [`sitemap`]: discovery, from pages and from sitemaps; [`sitemap_walk`]:
//!   the sitemaps of the crawl's origins, read as URLs are needed;
//! - [`visit`]: one URL through the pipeline, as a task;
//! - [`run`]: the crawl loop; [`tally`]: its counts; [`progress`]: shown as it goes;
//! - [`warc`]: the WARC/1.1 writer, its CDXJ index and the repair of a file cut mid-record;
//!   [`archive`]: a kept page as a WARC exchange;
//! - [`skipped`]: the skip report; [`checkpoint`] and [`resume`]: stop and go on;
//!   [`lock`]: one writer per crawl directory;
//!   [`recrawl`]: fetch an earlier crawl again, conditionally.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod archive;
pub mod checkpoint;
pub mod frontier;
pub mod links;
pub mod lock;
pub mod progress;
pub mod recrawl;
pub mod resume;
pub mod run;
pub mod scope;
pub mod sitemap;
pub mod sitemap_walk;
pub mod skipped;
pub mod tally;
pub mod visit;
pub mod warc;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The skip code of URLs left queued when the page limit was reached.
pub const MAX_PAGES: &str = "crawl.max-pages";

/// Why a crawl stopped before its end. One line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The frontier failed.
    #[error(transparent)]
    Frontier(#[from] frontier::FrontierError),
    /// The WARC could not be written.
    #[error("WARC: {0}")]
    Warc(#[from] warc::WarcError),
    /// The skip report could not be written.
    #[error("cannot write skipped.jsonl: {0}")]
    Skipped(std::io::Error),
    /// The evidence could not be written.
    #[error(transparent)]
    Fetcher(#[from] optout_fetch::FetcherError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] optout_evidence::StoreError),
    /// The crawl directory could not be read or written.
    #[error("crawl directory: {0}")]
    Io(std::io::Error),
    /// `--resume` found the directory damaged; nothing was changed.
    #[error(transparent)]
    Resume(#[from] resume::ResumeError),
}

/// Ctrl-C and SIGTERM as the crawl loop sees them: the first asks it to stop scheduling and
/// finish the requests in flight (a URL still waiting for its polite slot or a server's
/// `Retry-After` is abandoned at once, its lease left for `--resume`), the second to stop at
/// once. Shared by the signal handler and
/// the loop; the count only grows.
#[derive(Clone, Default)]
pub struct Shutdown {
    asked: Arc<AtomicU32>,
    notify: Arc<tokio::sync::Notify>,
}

impl Shutdown {
    /// Records one more request to stop.
    pub fn ask(&self) {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether a stop was asked.
    pub fn stopping(&self) -> bool {
        self.asked.load(Ordering::SeqCst) >= 1
    }

    /// Whether a stop at once was asked (a second signal).
    pub fn now(&self) -> bool {
        self.asked.load(Ordering::SeqCst) >= 2
    }

    /// Waits for the next request to stop.
    pub async fn asked(&self) {
        self.notify.notified().await
    }

    /// Resolves once a stop was asked (at once if it was already).
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stopping() {
                return;
            }
            notified.await;
        }
    }
}
