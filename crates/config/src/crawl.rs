//! The `[crawl]` table: how `optout crawl` discovers, archives and checkpoints.

use serde::Deserialize;

/// The `[crawl]` table (`optout crawl`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Crawl {
    /// Honour `rel=nofollow` links and a robots `nofollow` (meta tag or `X-Robots-Tag`):
    /// their links are not followed.
    pub honour_nofollow: bool,
    /// A WARC file is closed and a new one begun once it passes this size.
    pub warc_max_bytes: u64,
    /// URLs read of one sitemap (the sitemaps.org limit is 50,000).
    pub sitemap_max_urls: usize,
    /// Bytes read of one sitemap, after decompression (the sitemaps.org limit is 50 MB).
    pub sitemap_max_bytes: usize,
    /// Consecutive failed requests to a host before it is given up.
    pub host_max_errors: u32,
    /// How often the crawl makes its state durable (WARC, skip report, frontier), so a
    /// resume after a kill repeats at most this much work.
    pub checkpoint_every_ms: u64,
    /// Links read of one page.
    pub max_links_per_page: usize,
}

impl Default for Crawl {
    fn default() -> Crawl {
        Crawl {
            honour_nofollow: true,
            warc_max_bytes: 1_000_000_000,
            sitemap_max_urls: 50_000,
            sitemap_max_bytes: 52_428_800,
            host_max_errors: 5,
            checkpoint_every_ms: 1000,
            max_links_per_page: 10_000,
        }
    }
}
