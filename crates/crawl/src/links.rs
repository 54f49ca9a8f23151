//! Links from an HTML page: `a[href]`, `area[href]` and `link rel=canonical`, resolved
//! against the page's `<base href>`, for the crawl to queue.
//!
//! Pages are read with `lol_html`, a streaming tokenizer: no DOM is built, whatever the size
//! of the page. The body is fed in chunks; what stays in memory is the hrefs found (at most
//! [`LinkOptions::max_links`] of them, each at most [`MAX_HREF_BYTES`]) and the tokenizer's
//! buffer for a tag cut by a chunk boundary (capped by [`TOKENIZER_MEMORY`]).
//!
//! Nofollow, as Google documents it (there is no RFC): a robots meta (`<meta name="robots">`
//! or one named after our product token) whose comma-separated content says `nofollow` or
//! `none` drops every link of the page, canonical included (a canonical is not a followed link
//! in Google's sense, but one rule is easier to audit); `rel="nofollow"` (a token list, any
//! case) drops that link. The `X-Robots-Tag` header is read by [`header_nofollow`], since the
//! crawl holds the headers. [`LinkOptions::honour_nofollow`] turns both off.

mod charref;
mod decode;
mod nofollow;
#[cfg(test)]
mod tests;

pub use nofollow::{header_nofollow, robots_tag_nofollow};

use decode::{Reading, reading};
use lol_html::html_content::Element;
use lol_html::{HtmlRewriter, MemorySettings, Settings, element};
use std::cell::RefCell;
use std::collections::HashSet;
use url::Url;

/// Hrefs longer than this are not links the crawl follows (they are `data:` payloads or
/// generated junk; browsers and search engines cap URLs well below it).
pub const MAX_HREF_BYTES: usize = 8 * 1024;

/// The tokenizer's memory cap: a single tag larger than this (spanning chunk boundaries)
/// stops the reading, with the links found so far kept and [`Links::truncated`] set.
pub const TOKENIZER_MEMORY: usize = 4 * 1024 * 1024;

/// The size of the chunks the body is fed to the tokenizer in.
const CHUNK: usize = 64 * 1024;

/// How links are extracted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkOptions {
    /// Our product token (e.g. `optout`): a `<meta name="{agent}">` counts like a robots meta.
    pub agent: String,
    /// Honour `rel=nofollow` and robots `nofollow` metas (default true).
    pub honour_nofollow: bool,
    /// The most distinct links kept per page (default 10,000).
    pub max_links: usize,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            agent: "optout".to_owned(),
            honour_nofollow: true,
            max_links: 10_000,
        }
    }
}

/// The element a link came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// `<a href>`.
    Anchor,
    /// `<area href>` (image maps).
    Area,
    /// `<link rel="canonical" href>`.
    Canonical,
}

/// One link, resolved to an absolute http(s) URL, exactly as found otherwise (fragment kept:
/// the frontier canonicalises for de-duplication).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The absolute URL.
    pub url: Url,
    /// Where it came from.
    pub kind: LinkKind,
}

/// The links of one page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// Distinct links (by kind and href), in page order.
    pub links: Vec<Link>,
    /// A robots meta said `nofollow` (or `none`); when honoured, `links` is empty.
    pub nofollow_meta: bool,
    /// `rel=nofollow` links not followed.
    pub skipped_nofollow: usize,
    /// The links not followed for nofollow (`rel=nofollow`, or every link under a robots
    /// nofollow meta), when honoured: the crawl reports them skipped.
    pub nofollow: Vec<Link>,
    /// Not every link was read: `max_links` was reached, or the tokenizer gave up (a tag
    /// larger than [`TOKENIZER_MEMORY`]). The links found so far are kept.
    pub truncated: bool,
}

/// The links of an HTML page `body`, served as `content_type`, fetched from `page_url`.
///
/// A body whose `Content-Type` is not HTML (`text/html`, `application/xhtml+xml`) has no
/// links; without a `Content-Type` the body is read as HTML. Only `http` and `https` links
/// are kept; a link to the page itself (a bare fragment such as `#top`, even under a `<base>`
/// elsewhere, or `href=""`) is dropped. Never panics; any bytes are read.
pub fn extract(
    body: &[u8],
    content_type: Option<&str>,
    page_url: &Url,
    options: &LinkOptions,
) -> Links {
    if !is_html(content_type) {
        return Links::default();
    }
    let Some(reading) = reading(body, content_type) else {
        return Links::default();
    };
    let page = RefCell::new(Page::new(options, reading.encoding()));
    let complete = tokenize(&page, &reading);
    let mut page = page.into_inner();
    page.truncated |= !complete;
    page.finish(page_url)
}

/// Whether a `Content-Type` is HTML (or absent).
fn is_html(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("text/html")
        || essence.eq_ignore_ascii_case("application/xhtml+xml")
}

/// Runs the tokenizer over the page; false when it stopped before the end.
fn tokenize(page: &RefCell<Page<'_>>, reading: &Reading<'_>) -> bool {
    let add = |kind: LinkKind| {
        move |el: &mut Element| {
            page.borrow_mut().add(kind, el);
            Ok(())
        }
    };
    let settings = Settings::new()
        .append_element_content_handler(element!("a[href]", add(LinkKind::Anchor)))
        .append_element_content_handler(element!("area[href]", add(LinkKind::Area)))
        .append_element_content_handler(element!("link[rel][href]", |el| {
            if has_token(attr(el, "rel").as_deref(), "canonical") {
                page.borrow_mut().add(LinkKind::Canonical, el);
            }
            Ok(())
        }))
        .append_element_content_handler(element!("base[href]", |el| {
            page.borrow_mut().base(el);
            Ok(())
        }))
        .append_element_content_handler(element!("meta", |el| {
            page.borrow_mut().meta(el);
            Ok(())
        }))
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(TOKENIZER_MEMORY))
        // Non-strict: an ambiguous parse state (`<select><xmp>`) is guessed at rather than
        // failing the page; a wrong guess can only miss or add a link, which is then judged.
        .with_strict(false)
        .with_encoding(reading.tokenizer_encoding())
        .with_adjust_charset_on_meta_tag(reading.encoding().meta_may_switch());
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    let mut ok = true;
    reading.for_each_chunk(CHUNK, |chunk| {
        ok = ok && rewriter.write(chunk).is_ok();
        ok
    });
    ok && rewriter.end().is_ok()
}

/// The value of `el`'s attribute `name`, its character references decoded.
fn attr(el: &Element, name: &str) -> Option<String> {
    let raw = el.get_attribute(name)?;
    Some(match charref::decode(&raw) {
        std::borrow::Cow::Borrowed(_) => raw,
        std::borrow::Cow::Owned(decoded) => decoded,
    })
}

/// Whether the space-separated token list `value` holds `token` (ASCII case-insensitive),
/// as HTML reads `rel` (WHATWG HTML §2.3.8 and §4.6.7).
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| {
        v.split(|c: char| c.is_ascii_whitespace())
            .any(|t| t.eq_ignore_ascii_case(token))
    })
}

/// What the tokenizer found so far.
struct Page<'o> {
    options: &'o LinkOptions,
    /// The first `<base href>`, raw.
    base: Option<String>,
    /// Each href with whether `rel=nofollow` keeps it from being followed.
    hrefs: Vec<(LinkKind, String, bool)>,
    seen: HashSet<(LinkKind, String, bool)>,
    nofollow_meta: bool,
    skipped_nofollow: usize,
    truncated: bool,
    /// The page's encoding as far as known; a `<meta charset>` may still set it.
    encoding: decode::PageEncoding,
}

impl<'o> Page<'o> {
    fn new(options: &'o LinkOptions, encoding: decode::PageEncoding) -> Self {
        Page {
            options,
            base: None,
            hrefs: Vec::new(),
            seen: HashSet::new(),
            nofollow_meta: false,
            skipped_nofollow: 0,
            truncated: false,
            encoding,
        }
    }

    fn add(&mut self, kind: LinkKind, el: &Element) {
        let nofollow =
            self.options.honour_nofollow && has_token(attr(el, "rel").as_deref(), "nofollow");
        if nofollow {
            self.skipped_nofollow += 1;
        }
        let Some(href) = attr(el, "href") else {
            return;
        };
        // HTML strips leading and trailing ASCII whitespace from URL attributes
        // (WHATWG HTML §2.4.2 "parse a URL"); the URL parser removes tabs and newlines.
        let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
        // A bare fragment (`#top`) means this page, whatever the base says.
        if href.len() > MAX_HREF_BYTES || href.starts_with('#') || other_scheme(href) {
            return;
        }
        let key = (kind, href.to_owned(), nofollow);
        if self.seen.contains(&key) {
            return;
        }
        if self.hrefs.len() >= self.options.max_links {
            self.truncated = true;
            return;
        }
        self.seen.insert(key.clone());
        self.hrefs.push(key);
    }

    /// WHATWG HTML §4.2.3: the document base URL is the frozen base URL of the *first* `base`
    /// element with an `href` in tree order; it applies to every URL of the document, before
    /// and after it.
    fn base(&mut self, el: &Element) {
        if self.base.is_none() {
            self.base = attr(el, "href");
        }
    }

    fn meta(&mut self, el: &Element) {
        self.encoding.read_meta(el);
        let Some(name) = attr(el, "name") else {
            return;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("robots") || name.eq_ignore_ascii_case(&self.options.agent) {
            let content = attr(el, "content").unwrap_or_default();
            self.nofollow_meta |= nofollow::meta_nofollow(&content);
        }
    }

    /// Resolves the hrefs against the base, now that the whole page was read.
    fn finish(self, page_url: &Url) -> Links {
        let mut links = Links {
            links: Vec::new(),
            nofollow_meta: self.nofollow_meta,
            skipped_nofollow: self.skipped_nofollow,
            nofollow: Vec::new(),
            truncated: self.truncated,
        };
        let all_nofollow = self.nofollow_meta && self.options.honour_nofollow;
        let query = self.encoding.query_encoding();
        let encode = encoder(query);
        let override_: url::EncodingOverride<'_> = (query != encoding_rs::UTF_8).then_some(&encode);
        let parse = |base: &Url, href: &str| {
            Url::options()
                .base_url(Some(base))
                .encoding_override(override_)
                .parse(href)
                .ok()
        };
        // §4.2.3: a base href that does not parse leaves the document's own URL as the base.
        let base = self.base.as_deref().and_then(|b| parse(page_url, b.trim()));
        let base = base.as_ref().unwrap_or(page_url);
        for (kind, href, nofollow) in self.hrefs {
            let Some(url) = parse(base, &href) else {
                continue;
            };
            if matches!(url.scheme(), "http" | "https") && !same_document(&url, page_url) {
                match nofollow || all_nofollow {
                    true => links.nofollow.push(Link { url, kind }),
                    false => links.links.push(Link { url, kind }),
                }
            }
        }
        links
    }
}

/// Whether `href` is absolute with a scheme other than http(s) (`mailto:`, `javascript:`,
/// `data:` ...), told from its first characters (RFC 3986 §3.1 scheme syntax). A shortcut
/// only: the resolved URL's scheme is checked again.
fn other_scheme(href: &str) -> bool {
    let Some((scheme, _)) = href.split_once(':') else {
        return false;
    };
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    is_scheme && !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https")
}

/// `encoding`'s encoder, for a URL's query (unmappable characters become `&#N;`, as the
/// WHATWG URL parser writes them).
fn encoder(
    encoding: &'static encoding_rs::Encoding,
) -> impl Fn(&str) -> std::borrow::Cow<'_, [u8]> {
    move |s| encoding.encode(s).0
}

/// Whether `url` is `page` apart from the fragment.
fn same_document(url: &Url, page: &Url) -> bool {
    url[..url::Position::AfterQuery] == page[..url::Position::AfterQuery]
}
