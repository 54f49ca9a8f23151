//! XML sitemaps and sitemap indexes (sitemaps.org protocol 0.9), read with quick-xml's pull
//! reader: no DOM, no DTD.
//!
//! Elements are told by local name and depth, with or without the sitemap namespace (and
//! whatever its prefix): `<urlset>` / `<sitemapindex>` at the root, `<url>` / `<sitemap>`
//! under it, `<loc>` and `<lastmod>` under those. Extension elements (`<image:loc>` inside
//! `<image:image>`, `<xhtml:link>`) sit deeper and are not read. The reader is lenient where
//! sites commonly are not valid XML: mismatched end tags, and a bare `&` in a URL
//! (`?a=1&b=2`), are read as written.

use super::{Entries, MAX_URL_BYTES, Sitemap, SitemapError, SitemapKind, SitemapLimits};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, Event};
use std::io::BufRead;
use url::Url;

/// The longest `<lastmod>` kept (a W3C Datetime is at most 32 characters).
const MAX_LASTMOD: usize = 64;

/// Reads an XML sitemap from `reader`.
pub(super) fn read(
    reader: impl BufRead,
    sitemap_url: &Url,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError> {
    let mut xml = Reader::from_reader(reader);
    let config = xml.config_mut();
    config.allow_dangling_amp = true;
    config.allow_unmatched_ends = true;
    config.check_end_names = false;
    let mut walk = Walk::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = match xml.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => match walk.entries.take() {
                None => return Err(not_a_sitemap(format!("not XML ({e})"))),
                Some(mut entries) => {
                    entries.sitemap.truncated = true;
                    return Ok(entries.sitemap);
                }
            },
        };
        match walk.event(event, sitemap_url, limits)? {
            Step::More => {}
            Step::Done => break,
        }
    }
    let complete = walk.depth == 0;
    let mut entries = walk
        .entries
        .ok_or_else(|| not_a_sitemap("no root element".to_owned()))?;
    entries.sitemap.truncated |= !complete;
    Ok(entries.sitemap)
}

fn not_a_sitemap(found: String) -> SitemapError {
    SitemapError::NotASitemap(found)
}

enum Step {
    More,
    Done,
}

/// Where the reader is in the document.
#[derive(Default)]
struct Walk<'l> {
    /// Open elements.
    depth: usize,
    /// Set by the root element.
    entries: Option<Entries<'l>>,
    /// Inside a `<url>` / `<sitemap>`.
    entry: Option<Entry>,
    /// Which child of the entry the text goes to.
    field: Option<Field>,
}

#[derive(Default)]
struct Entry {
    loc: Option<String>,
    lastmod: Option<String>,
    /// The `<loc>` was longer than [`MAX_URL_BYTES`].
    overlong: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Loc,
    Lastmod,
}

impl<'l> Walk<'l> {
    fn event(
        &mut self,
        event: Event<'_>,
        sitemap_url: &'l Url,
        limits: &'l SitemapLimits,
    ) -> Result<Step, SitemapError> {
        match event {
            Event::Start(e) => {
                self.open(e.local_name().as_ref(), sitemap_url, limits)?;
                self.depth += 1;
            }
            Event::Empty(e) => {
                self.open(e.local_name().as_ref(), sitemap_url, limits)?;
                self.depth += 1;
                return Ok(self.close());
            }
            Event::End(_) => return Ok(self.close()),
            Event::Text(t) => self.text(&t.xml10_content()),
            Event::CData(t) => self.text(&t.xml10_content()),
            Event::GeneralRef(r) => self.text(&reference(&r)),
            Event::Eof => return Ok(Step::Done),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        Ok(Step::More)
    }

    fn open(
        &mut self,
        name: &str,
        sitemap_url: &'l Url,
        limits: &'l SitemapLimits,
    ) -> Result<(), SitemapError> {
        let Some(entries) = &self.entries else {
            let (kind, skip) = match name {
                "urlset" => (SitemapKind::UrlSet, None),
                // An index listing itself would send the crawl round in a loop.
                "sitemapindex" => (SitemapKind::Index, Some(sitemap_url)),
                other => {
                    let other: String = other.chars().take(40).collect();
                    return Err(not_a_sitemap(format!("root element <{other}>")));
                }
            };
            let mut entries = Entries::new(kind, limits);
            entries.skip = skip;
            self.entries = Some(entries);
            return Ok(());
        };
        let entry_name = match entries.sitemap.kind {
            SitemapKind::Index => "sitemap",
            _ => "url",
        };
        match (self.depth, name) {
            (1, n) if n == entry_name => self.entry = Some(Entry::default()),
            (2, "loc") if self.entry.is_some() => self.field = Some(Field::Loc),
            (2, "lastmod") if self.entry.is_some() => self.field = Some(Field::Lastmod),
            _ => {}
        }
        Ok(())
    }

    /// Closes the innermost element; `Done` once the root closed or `max_urls` was hit.
    fn close(&mut self) -> Step {
        self.depth = self.depth.saturating_sub(1);
        match self.depth {
            2 => self.field = None,
            1 => {
                self.field = None;
                if let (Some(entry), Some(entries)) = (self.entry.take(), &mut self.entries) {
                    let loc = if entry.overlong { None } else { entry.loc };
                    let lastmod = entry.lastmod.map(|l| l.trim().to_owned());
                    let lastmod = lastmod.filter(|l| !l.is_empty());
                    if !entries.push(loc.as_deref().unwrap_or(""), lastmod) {
                        return Step::Done;
                    }
                }
            }
            0 => return Step::Done,
            _ => {}
        }
        Step::More
    }

    fn text(&mut self, text: &str) {
        let (Some(field), Some(entry)) = (self.field, &mut self.entry) else {
            return;
        };
        let (value, cap) = match field {
            Field::Loc => (&mut entry.loc, MAX_URL_BYTES),
            Field::Lastmod => (&mut entry.lastmod, MAX_LASTMOD),
        };
        let value = value.get_or_insert_with(String::new);
        if value.len() + text.len() > cap {
            entry.overlong |= field == Field::Loc;
            return;
        }
        value.push_str(text);
    }
}

/// The text of `&name;`: a character reference or one of XML's five predefined entities
/// (XML 1.0 §4.6); anything else is kept as written, never expanded.
fn reference(r: &BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match resolve_predefined_entity(r) {
        Some(text) => text.to_owned(),
        None => format!("&{};", &**r),
    }
}
