//! `optout crawler-info`: the crawler's public page (Code of Practice, Copyright chapter,
//! Measure 1.3(4): rightsholders can learn about the crawler and are notified of changes;
//! Measure 1.5: a point of contact and a complaint mechanism).
//!
//! One [`CrawlerInfo`] is built from the configuration alone: product token and full
//! User-Agent, purposes, the protocols honoured with their versions, politeness, how a site
//! opts out, contact, IP ranges. It is written as a page ([`html`]), as JSON, as an IP
//! ranges file ([`ranges`]) and an Atom feed ([`feed`]); [`journal`] keeps what was
//! published in the store, so a change to a published field, and each new evidence-log
//! checkpoint, becomes one feed entry. Updating the journal needs the store's write lock:
//! it cannot run beside a crawl on the same store.

mod checkpoint;
pub mod feed;
pub mod html;
pub mod journal;
pub mod protocols;
pub mod ranges;

pub use checkpoint::Checkpoint;
pub use journal::{Entry, Journal};
pub use optout_config::crawler_info::{Prefix, Settings, parse_ranges};
pub use protocols::{OptOut, Protocol};

use optout_config::{Config, ConfigError, HostKey};
use optout_evidence::Broken;
use optout_evidence::{Store, StoreError};
use optout_policy::Purpose;
use serde::{Deserialize, Serialize};

/// The names of the files written, relative to the base URL.
pub mod files {
    /// The page.
    pub const PAGE: &str = "index.html";
    /// The page's content as JSON.
    pub const JSON: &str = "crawler.json";
    /// The IP ranges.
    pub const RANGES: &str = "ranges.json";
    /// The Atom feed.
    pub const FEED: &str = "feed.atom";
}

/// Why nothing was published. Each message is one line a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum CrawlerInfoError {
    /// The configuration lacks or misstates something the page needs.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The evidence log does not verify: no checkpoint of it is published.
    #[error("the evidence log is damaged: {0}; nothing published (run `optout log verify`)")]
    Broken(Broken),
    /// The log no longer holds the checkpoint the feed published: it was rewritten or
    /// replaced since.
    #[error(
        "the evidence log no longer holds the published checkpoint `{0}`: it was rewritten or replaced; nothing published"
    )]
    Rewritten(String),
}

/// Everything the crawler page states, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlerInfo {
    /// Who runs the crawler.
    pub operator: String,
    /// What the crawler does, in the operator's words.
    pub description: String,
    /// The RFC 9309 product tokens the crawler obeys in `User-agent` lines.
    pub product_tokens: Vec<String>,
    /// The full `User-Agent` header it sends.
    pub user_agent: String,
    /// What it collects for.
    pub purposes: Vec<Purpose>,
    /// How it behaves, in sentences.
    pub behaviour: Vec<String>,
    /// The opt-out protocols it reads, with their versions.
    pub protocols: Vec<Protocol>,
    /// How it paces its requests.
    pub politeness: Pace,
    /// A robots.txt that keeps it away from a whole site.
    pub block_all: String,
    /// How a site reserves its content from each purpose.
    pub opt_out: Vec<OptOut>,
    /// Whom to contact.
    pub contact: Contact,
    /// The IP ranges it sends from (CIDR).
    pub ip_ranges: Vec<String>,
    /// Where the published files are.
    pub links: Links,
}

/// The `[politeness]` defaults, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    /// Requests are paced at all.
    pub enabled: bool,
    /// The least time between two requests to one host, in milliseconds.
    pub min_interval_ms: u64,
    /// What one host is: `host`, `domain` or `ip`.
    pub per: String,
    /// Requests in flight to one host at once.
    pub in_flight_per_host: usize,
    /// The longest robots.txt `Crawl-delay` honoured (seconds); a site asking for more is
    /// not crawled.
    pub max_crawl_delay_s: u64,
    /// Retries after a 429 or 503.
    pub max_retries: u32,
    /// The first back-off without `Retry-After`, doubling (seconds).
    pub backoff_s: u64,
    /// The longest `Retry-After` honoured (seconds); a longer one gives up on the URL.
    pub max_backoff_s: u64,
    /// Redirects followed for a page.
    pub max_redirects: usize,
}

/// Whom a rightsholder turns to (Measure 1.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The point of contact.
    pub email: String,
    /// Where complaints go.
    pub complaint_url: String,
    /// The URL in the User-Agent header.
    pub info_url: String,
}

/// The published files' URLs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The page.
    pub page: String,
    /// Its JSON.
    pub json: String,
    /// The IP ranges.
    pub ranges: String,
    /// The Atom feed.
    pub feed: String,
}

impl CrawlerInfo {
    /// Builds the page's content from `config`, with the IP ranges read from its ranges
    /// file. Refuses without an operator, a contact and a complaint address.
    pub fn from_config(config: &Config) -> Result<(CrawlerInfo, Vec<Prefix>), ConfigError> {
        let settings = &config.crawler_info;
        settings.required()?;
        let base = settings.base(&config.crawler.contact_url)?;
        let link = |name: &str| {
            base.join(name)
                .map_or_else(|_| name.to_owned(), String::from)
        };
        let prefixes = settings.ranges()?;
        let purposes = if settings.purposes.is_empty() {
            vec![config.crawler.purpose]
        } else {
            settings.purposes.clone()
        };
        let p = &config.politeness;
        let info = CrawlerInfo {
            operator: settings.operator.clone(),
            description: settings.description.clone(),
            product_tokens: vec![config.crawler.product_token.clone()],
            user_agent: optout_net::client::user_agent(config),
            behaviour: protocols::behaviour(config),
            protocols: protocols::protocols(config),
            politeness: Pace {
                enabled: p.enabled,
                min_interval_ms: p.min_interval_ms,
                per: match p.key {
                    HostKey::Host => "host",
                    HostKey::Domain => "domain",
                    HostKey::Ip => "ip",
                }
                .into(),
                in_flight_per_host: p.in_flight_per_host,
                max_crawl_delay_s: p.max_crawl_delay_s,
                max_retries: p.max_retries,
                backoff_s: p.backoff_s,
                max_backoff_s: p.max_backoff_s,
                max_redirects: config.fetch.max_redirects,
            },
            block_all: protocols::block_all(&config.crawler.product_token),
            opt_out: protocols::opt_outs(&purposes),
            purposes,
            contact: Contact {
                email: settings.contact_email.clone(),
                complaint_url: settings.complaint_url.clone(),
                info_url: config.crawler.contact_url.clone(),
            },
            ip_ranges: prefixes.iter().map(Prefix::to_string).collect(),
            links: Links {
                page: link(""),
                json: link(files::JSON),
                ranges: link(files::RANGES),
                feed: link(files::FEED),
            },
        };
        Ok((info, prefixes))
    }
}

/// What one run publishes: the page's content, the IP ranges and the feed.
#[derive(Clone, Debug)]
pub struct Publication {
    /// The page's content.
    pub info: CrawlerInfo,
    /// The IP ranges.
    pub prefixes: Vec<Prefix>,
    /// The feed, after this run's entries.
    pub journal: Journal,
}

/// `crawler.json`: the page's content with its date and the latest checkpoint.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    info: &'a CrawlerInfo,
    updated: &'a str,
    checkpoint: Option<String>,
}

impl Publication {
    /// The files to write, `(name, contents)`.
    pub fn files(&self) -> [(&'static str, String); 4] {
        let document = Document {
            info: &self.info,
            updated: &self.journal.changed_at,
            checkpoint: self.journal.checkpoint.as_ref().map(Checkpoint::to_string),
        };
        let json = serde_json::to_string_pretty(&document).unwrap_or_default() + "\n";
        [
            (files::PAGE, html::page(self)),
            (files::JSON, json),
            (
                files::RANGES,
                ranges::json(&self.prefixes, &self.journal.changed_at),
            ),
            (files::FEED, feed::atom(self)),
        ]
    }
}

/// Records the page ([`CrawlerInfo::from_config`]) in `store`'s journal, with the log's
/// current checkpoint; `now` (RFC 3339) dates any new feed entry.
pub fn publish(
    info: CrawlerInfo,
    prefixes: Vec<Prefix>,
    store: &Store,
    now: &str,
) -> Result<Publication, CrawlerInfoError> {
    let state = serde_json::to_value(&info).unwrap_or_default();
    let journal = journal::update(store, &state, now)?;
    Ok(Publication {
        info,
        prefixes,
        journal,
    })
}
