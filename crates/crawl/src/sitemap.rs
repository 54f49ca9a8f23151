//! Sitemaps (sitemaps.org protocol 0.9): the URLs a site lists for crawlers, from XML
//! `<urlset>` sitemaps, `<sitemapindex>` indexes and text sitemaps (one URL per line), plain
//! or gzipped.
//!
//! - gzip is recognised by its magic bytes (`1f 8b`), never by the file name or the
//!   `Content-Type`: servers send `.gz` files already decompressed, and real gzip as
//!   `application/octet-stream`.
//! - Memory stays bounded: the body is read as a stream (decompressed on the fly, XML read with
//!   quick-xml's pull reader, no DOM) and stops at [`SitemapLimits::max_bytes`] of uncompressed
//!   data (a gzip bomb stops there) and at [`SitemapLimits::max_urls`] entries. No DTD is read
//!   and no entity but XML's five predefined ones and character references is expanded, so
//!   "billion laughs" documents expand nothing.
//! - Entries are taken as written: absolute http(s) URLs only (sitemaps.org: "fully-qualified
//!   URLs"); anything else is counted in [`Sitemap::errors`]. Cross-host entries are returned:
//!   scope is the crawl's. An index may list more indexes: the crawl bounds how deep it
//!   follows them.
//! - Where the sitemaps of a site are: robots.txt `Sitemap:` lines ([`robots_sitemaps`], over
//!   [`RobotsTxt::sitemaps`]) and [`well_known`] (`/sitemap.xml`).

mod input;
#[cfg(test)]
mod tests;
mod text;
mod xml;

use optout_policy::RobotsTxt;
use std::io::BufReader;
use url::Url;

/// The longest `<loc>` or text line taken as a URL (sitemaps.org allows 2,048 characters;
/// longer ones are counted as errors).
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// Caps on one sitemap (sitemaps.org: at most 50,000 URLs and 50 MB uncompressed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SitemapLimits {
    /// The most entries read (default 50,000).
    pub max_urls: usize,
    /// The most bytes of the uncompressed sitemap read (default 50 MiB).
    pub max_bytes: usize,
}

impl Default for SitemapLimits {
    fn default() -> Self {
        SitemapLimits {
            max_urls: 50_000,
            max_bytes: 50 * 1024 * 1024,
        }
    }
}

/// What a sitemap lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SitemapKind {
    /// `<urlset>`: pages.
    UrlSet,
    /// `<sitemapindex>`: more sitemaps.
    Index,
    /// A text file of page URLs, one per line.
    Text,
}

/// One `<url>` or `<sitemap>` (or text line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitemapEntry {
    /// Its `<loc>`.
    pub url: Url,
    /// Its `<lastmod>` as written (W3C Datetime), trimmed.
    pub lastmod: Option<String>,
}

/// A parsed sitemap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sitemap {
    /// What it lists.
    pub kind: SitemapKind,
    /// Its entries, in document order (an index's own URL excluded).
    pub entries: Vec<SitemapEntry>,
    /// Not all of it was read: a cap was hit, or the document broke off (XML error, corrupt
    /// gzip, end of data inside the document). The entries before that point are kept.
    pub truncated: bool,
    /// Entries that were not absolute http(s) URLs (or longer than [`MAX_URL_BYTES`], or not
    /// UTF-8).
    pub errors: usize,
}

/// Why a body is not read as a sitemap.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SitemapError {
    /// Neither a sitemap XML document nor a text list of URLs; says what was found.
    #[error("not a sitemap: {0}")]
    NotASitemap(String),
}

/// Reads the sitemap `bytes` (as received, gzipped or not) fetched from `sitemap_url`.
pub fn parse(
    bytes: &[u8],
    sitemap_url: &Url,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError> {
    let source = input::Capped::new(input::decompressed(bytes), limits.max_bytes);
    let mut reader = BufReader::with_capacity(64 * 1024, input::Utf8Lossy::new(source));
    let first = input::first_byte(&mut reader)
        .ok_or_else(|| SitemapError::NotASitemap(empty_or_broken(reader.get_ref().get_ref())))?;
    let mut sitemap = if first == b'<' {
        xml::read(&mut reader, sitemap_url, limits)?
    } else {
        text::read(&mut reader, limits)?
    };
    let source = reader.get_ref().get_ref();
    sitemap.truncated |= source.exceeded() || source.broken();
    Ok(sitemap)
}

fn empty_or_broken(source: &input::Capped) -> String {
    if source.broken() {
        "corrupt gzip data".to_owned()
    } else {
        "empty".to_owned()
    }
}

/// Collects entries under the caps; shared by the XML and text readers.
struct Entries<'l> {
    limits: &'l SitemapLimits,
    skip: Option<&'l Url>,
    sitemap: Sitemap,
}

impl<'l> Entries<'l> {
    fn new(kind: SitemapKind, limits: &'l SitemapLimits) -> Self {
        Entries {
            limits,
            skip: None,
            sitemap: Sitemap {
                kind,
                entries: Vec::new(),
                truncated: false,
                errors: 0,
            },
        }
    }

    /// Adds the entry `loc` (raw, untrimmed); false once `max_urls` is reached. A `loc` with
    /// bytes that were not UTF-8 (now U+FFFD) is not the URL the site meant: an error.
    fn push(&mut self, loc: &str, lastmod: Option<String>) -> bool {
        let loc = loc.trim_matches(|c: char| c.is_ascii_whitespace());
        let url = (loc.len() <= MAX_URL_BYTES && !loc.contains('\u{FFFD}'))
            .then(|| Url::parse(loc).ok())
            .flatten()
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(url) = url else {
            self.sitemap.errors += 1;
            return true;
        };
        if self.skip == Some(&url) {
            return true;
        }
        if self.sitemap.entries.len() >= self.limits.max_urls {
            self.sitemap.truncated = true;
            return false;
        }
        self.sitemap.entries.push(SitemapEntry { url, lastmod });
        true
    }
}

/// The sitemaps a robots.txt names in its `Sitemap:` lines (any case; RFC 9309 §2.2.4: "other
/// records", not bound to a group), absolute http(s) URLs only, each once, in file order.
pub fn robots_sitemaps(robots: &RobotsTxt) -> Vec<Url> {
    let mut urls: Vec<Url> = Vec::new();
    for (_line, value) in robots.sitemaps() {
        let Ok(url) = Url::parse(value.trim()) else {
            continue;
        };
        if matches!(url.scheme(), "http" | "https") && !urls.contains(&url) {
            urls.push(url);
        }
    }
    urls
}

/// `/sitemap.xml` on `site`'s origin, where sitemaps are looked for by convention when
/// robots.txt names none.
pub fn well_known(site: &Url) -> Option<Url> {
    matches!(site.scheme(), "http" | "https")
        .then(|| site.join("/sitemap.xml").ok())
        .flatten()
}
