//! Text sitemaps (sitemaps.org "Text file"): one URL per line, UTF-8, nothing else. Blank
//! lines are skipped (and a `\r` before the `\n`). A body whose first line is not an http(s)
//! URL is not a text sitemap (an error page, an HTML page, binary data).

use super::input::{Capped, Utf8Lossy};
use super::{Entries, MAX_URL_BYTES, Sitemap, SitemapError, SitemapKind, SitemapLimits};
use std::io::{BufRead, BufReader, Read};

/// Reads a text sitemap from `reader`.
pub(super) fn read(
    reader: &mut BufReader<Utf8Lossy<Capped<'_>>>,
    limits: &SitemapLimits,
) -> Result<Sitemap, SitemapError> {
    let mut entries = Entries::new(SitemapKind::Text, limits);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        // One byte over the cap tells an overlong line; it is then skipped unbuffered.
        let cap = (MAX_URL_BYTES + 2) as u64;
        let Ok(n) = reader.by_ref().take(cap).read_until(b'\n', &mut line) else {
            break;
        };
        if n == 0 {
            break;
        }
        let complete = line.ends_with(b"\n") || n < cap as usize;
        if !complete {
            skip_line(reader);
        }
        let source = reader.get_ref().get_ref();
        if !line.ends_with(b"\n") && (source.exceeded() || source.broken()) {
            // The last line, cut by the cap or by corrupt data: another URL than the site's.
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            continue;
        }
        if first && !looks_like_url(text) {
            return Err(SitemapError::NotASitemap(
                "text that does not start with an http(s) URL".to_owned(),
            ));
        }
        first = false;
        let loc = if complete { text } else { "" };
        if !entries.push(loc, None) {
            break;
        }
    }
    if first {
        return Err(SitemapError::NotASitemap("empty".to_owned()));
    }
    Ok(entries.sitemap)
}

fn looks_like_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Skips the rest of a line (up to and including its `\n`) without buffering it.
fn skip_line(reader: &mut impl BufRead) {
    loop {
        let Ok(buf) = reader.fill_buf() else { return };
        if buf.is_empty() {
            return;
        }
        match memchr::memchr(b'\n', buf) {
            Some(at) => return reader.consume(at + 1),
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    }
}
