//! The sitemaps of the crawl's origins, read as the crawl needs URLs, not all at once.
//!
//! An index may list 50,000 sitemaps of 50,000 URLs each (sitemaps.org 0.9): read whole,
//! that is gigabytes of URLs held, queued and, past `--max-pages`, each reported skipped. So
//! each origin's sitemaps are a `SitemapWalk` that the crawl loop pulls from:
//!
//! - one document of an origin is read at a time, and only when the URLs of the one before
//!   were all offered (backpressure: the loop offers sitemap URLs only while the frontier
//!   holds fewer than it can use, see `run.rs`);
//! - no document is fetched once the crawl's limits are reached;
//! - what was never offered is not reported URL by URL: [`SitemapWalks::left`] gives one
//!   line per sitemap, read in part (how many of its URLs were not offered) or not read.
//!
//! Documents are found in robots.txt `Sitemap:` lines and at `/sitemap.xml`; indexes are
//! followed within the scope, at most [`MAX_SITEMAP_DOCUMENTS`] documents per origin, each
//! once. Every document is fetched through the pipeline (judged, paced and recorded like a
//! page; its body is read as a sitemap, not archived).

use super::frontier::{Candidate, Via};
use super::scope::Scope;
use super::sitemap::{self, Sitemap, SitemapEntry, SitemapKind, SitemapLimits};
use optout_fetch::{Fetcher, FetcherError, Outcome};
use optout_policy::Purpose;
use reqwest::header::HeaderMap;
use std::collections::{HashSet, VecDeque};
use url::Url;

/// The most sitemap documents read for one origin (an index of indexes is bounded too).
pub const MAX_SITEMAP_DOCUMENTS: usize = 1000;

/// A sitemap document to read, and the index that listed it.
#[derive(Clone, Debug)]
struct Document {
    url: Url,
    listed_in: Option<Url>,
}

/// A document being offered: the URLs not offered yet.
struct Reading {
    document: Document,
    left: std::vec::IntoIter<SitemapEntry>,
}

/// One origin's sitemaps.
struct SitemapWalk {
    origin: Url,
    /// Its sitemaps were looked up (robots.txt, `/sitemap.xml`).
    started: bool,
    /// A task is reading for it.
    in_flight: bool,
    /// Documents to read, in order.
    queue: VecDeque<Document>,
    /// Documents queued or read (by URL), at most [`MAX_SITEMAP_DOCUMENTS`].
    known: HashSet<String>,
    reading: Option<Reading>,
}

impl SitemapWalk {
    fn finished(&self) -> bool {
        self.started && !self.in_flight && self.queue.is_empty() && self.reading.is_none()
    }

    /// Queues `url` unless known, out of scope, or past [`MAX_SITEMAP_DOCUMENTS`].
    fn queue(&mut self, url: Url, listed_in: Option<&Url>, scope: &Scope) {
        if self.known.len() >= MAX_SITEMAP_DOCUMENTS || scope.admit(&url, 0).is_err() {
            return;
        }
        if self.known.insert(url.to_string()) {
            self.queue.push_back(Document {
                url,
                listed_in: listed_in.cloned(),
            });
        }
    }
}

/// A read for a task: an origin's sitemap locations, or one document.
pub struct SitemapRead {
    walk: usize,
    job: Job,
}

enum Job {
    Locate(Url),
    Document(Document),
}

/// What a [`SitemapRead`] brought back, for [`SitemapWalks::take`].
pub struct SitemapsRead {
    walk: usize,
    result: Result<Got, FetcherError>,
}

enum Got {
    Located(Vec<Url>),
    /// The document, parsed when it was fetched and is a sitemap.
    Document(Document, Option<Sitemap>),
}

impl SitemapRead {
    /// Fetches what the read asks for (a task of its own).
    pub async fn run(
        self,
        fetcher: &Fetcher,
        purpose: Purpose,
        limits: &SitemapLimits,
    ) -> SitemapsRead {
        let result = match self.job {
            Job::Locate(origin) => locate(fetcher, &origin).await.map(Got::Located),
            Job::Document(document) => read(fetcher, &document.url, purpose, limits)
                .await
                .map(|map| Got::Document(document, map)),
        };
        SitemapsRead {
            walk: self.walk,
            result,
        }
    }
}

/// The sitemaps robots.txt names, then `/sitemap.xml`.
async fn locate(fetcher: &Fetcher, origin: &Url) -> Result<Vec<Url>, FetcherError> {
    let policy = fetcher
        .sources()
        .for_url_paced(origin, fetcher.politeness())
        .await?;
    let mut urls = policy
        .site
        .robots()
        .map(sitemap::robots_sitemaps)
        .unwrap_or_default();
    urls.extend(sitemap::well_known(origin));
    Ok(urls)
}

/// One document through the pipeline, parsed; `None` when not fetched or not a sitemap.
async fn read(
    fetcher: &Fetcher,
    url: &Url,
    purpose: Purpose,
    limits: &SitemapLimits,
) -> Result<Option<Sitemap>, FetcherError> {
    let outcome = fetcher
        .fetch_url(url.clone(), purpose, HeaderMap::new())
        .await?;
    let Outcome::Fetched(page) = outcome else {
        return Ok(None);
    };
    Ok(sitemap::parse(&page.body, &page.url, limits).ok())
}

/// A sitemap the crawl did not finish: for the skip report's summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapLeft {
    /// The sitemap.
    pub url: String,
    /// The index that listed it (none for one robots.txt named or `/sitemap.xml`).
    pub listed_in: Option<String>,
    /// URLs it listed that were not offered; `None` when it was not read at all.
    pub not_offered: Option<u64>,
}

/// The sitemaps of every origin the crawl queued a URL of.
pub struct SitemapWalks {
    walks: Vec<SitemapWalk>,
    origins: HashSet<String>,
    /// Where the round of [`SitemapWalks::next_candidate`] goes on.
    turn: usize,
}

impl SitemapWalks {
    /// No origin yet.
    pub fn new() -> SitemapWalks {
        SitemapWalks {
            walks: Vec::new(),
            origins: HashSet::new(),
            turn: 0,
        }
    }

    /// Walks `origin`'s sitemaps, once per origin.
    pub fn start(&mut self, origin: &str) {
        let Ok(url) = Url::parse(origin) else {
            return;
        };
        if self.origins.insert(origin.to_owned()) {
            self.walks.push(SitemapWalk {
                origin: url,
                started: false,
                in_flight: false,
                queue: VecDeque::new(),
                known: HashSet::new(),
                reading: None,
            });
        }
    }

    /// Whether any walk has more to read or offer.
    pub fn busy(&self) -> bool {
        self.walks.iter().any(|w| !w.finished())
    }

    /// The reads to start now: the next document of each walk that has nothing in flight
    /// and nothing left to offer.
    pub fn reads(&mut self) -> Vec<SitemapRead> {
        let mut reads = Vec::new();
        for (i, walk) in self.walks.iter_mut().enumerate() {
            if walk.in_flight || walk.reading.is_some() {
                continue;
            }
            let job = if !walk.started {
                walk.started = true;
                Job::Locate(walk.origin.clone())
            } else if let Some(document) = walk.queue.pop_front() {
                Job::Document(document)
            } else {
                continue;
            };
            walk.in_flight = true;
            reads.push(SitemapRead { walk: i, job });
        }
        reads
    }

    /// Takes in what a read brought: documents to read, or URLs to offer.
    pub fn take(&mut self, read: SitemapsRead, scope: &Scope) -> Result<(), FetcherError> {
        let Some(walk) = self.walks.get_mut(read.walk) else {
            return Ok(());
        };
        walk.in_flight = false;
        match read.result? {
            Got::Located(urls) => {
                for url in urls {
                    walk.queue(url, None, scope);
                }
            }
            Got::Document(_, None) => {}
            Got::Document(document, Some(map)) => match map.kind {
                SitemapKind::Index => {
                    for entry in map.entries {
                        walk.queue(entry.url, Some(&document.url), scope);
                    }
                }
                SitemapKind::UrlSet | SitemapKind::Text => {
                    walk.reading = Some(Reading {
                        document,
                        left: map.entries.into_iter(),
                    });
                }
            },
        }
        Ok(())
    }

    /// The next sitemap URL to offer, taking the walks in turn (one origin's sitemap does
    /// not hold back another's); a sitemap entry is depth 1.
    pub fn next_candidate(&mut self) -> Option<Candidate> {
        let n = self.walks.len();
        for _ in 0..n {
            self.turn = (self.turn + 1) % n;
            let walk = &mut self.walks[self.turn];
            let Some(reading) = &mut walk.reading else {
                continue;
            };
            match reading.left.next() {
                Some(entry) => {
                    return Some(Candidate {
                        url: entry.url.to_string(),
                        depth: 1,
                        found_on: None,
                        via: Via::Sitemap,
                        validators: None,
                        redirects: 0,
                    });
                }
                None => walk.reading = None,
            }
        }
        None
    }

    /// The sitemaps not finished, one each: read in part (with how many URLs were not
    /// offered) or never read. Empties the walks.
    pub fn left(&mut self) -> Vec<SitemapLeft> {
        let mut left = Vec::new();
        for walk in std::mem::take(&mut self.walks) {
            if let Some(reading) = walk.reading {
                let n = reading.left.len() as u64;
                if n > 0 {
                    left.push(summary(&reading.document, Some(n)));
                }
            }
            left.extend(walk.queue.iter().map(|d| summary(d, None)));
        }
        left
    }
}

impl Default for SitemapWalks {
    fn default() -> Self {
        SitemapWalks::new()
    }
}

fn summary(document: &Document, not_offered: Option<u64>) -> SitemapLeft {
    SitemapLeft {
        url: document.url.to_string(),
        listed_in: document.listed_in.as_ref().map(Url::to_string),
        not_offered,
    }
}
