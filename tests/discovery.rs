//! Discovery on realistic inputs: a news page with a base, a canonical and nofollow links; a
//! gzipped sitemap index leading to a text sitemap served already decompressed; gzip bombs;
//! a 50 MB page. Pure functions, so no server: the bytes are what a server would send.

use flate2::{Compression, write::GzEncoder};
use optout::crawl::links::{self, LinkKind, LinkOptions};
use optout::crawl::sitemap::{self, SitemapError, SitemapKind, SitemapLimits};
use optout::policy::RobotsTxt;
use std::io::Write;
use std::sync::Mutex;
use url::Url;

/// The tests that allocate tens of MB run one at a time, so a memory figure is one test's.
static HEAVY: Mutex<()> = Mutex::new(());

fn gzip(bytes: &[u8]) -> Vec<u8> {
    gzip_at(bytes, Compression::fast())
}

fn gzip_at(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), level);
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

const NEWS_PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Council approves budget &amp; new tram line | The Daily Example</title>
  <meta name="robots" content="index, follow, max-image-preview:large">
  <meta name="googlebot" content="nofollow">
  <link rel="canonical" href="https://news.example.com/2025/06/budget-tram?utm_source=x&amp;ref=canon">
  <link rel="stylesheet" href="/static/site.css">
  <link rel="alternate" type="application/rss+xml" href="/feeds/city.xml">
  <base href="https://news.example.com/2025/06/">
  <script>var l = '<a href="/from-script">x</a>';</script>
</head>
<body>
  <nav>
    <a href="/">Home</a> <a href="/city/">City</a> <a href="/city/">City (again)</a>
    <a href="../../sport/">Sport</a> <a href="#main" class="skip">Skip</a>
  </nav>
  <main id="main">
    <article>
      <p>The council <a href="budget-vote-live">voted</a> on Tuesday; see
      <a href="https://council.example.gov/minutes?id=7&amp;lang=en#item-3">the minutes</a>.</p>
      <p><a href="https://ads.example.net/click?c=1" rel="sponsored nofollow">Advertisement</a>
      <a href="https://social.example/share?u=x" rel="NoFollow noopener" target="_blank">Share</a>
      <a href="mailto:tips@news.example.com">Send a tip</a>
      <a href="javascript:window.print()">Print</a>
      <a href="tel:+15551234">Call</a></p>
      <img src="map.png" usemap="#m"><map name="m"><area shape="rect" coords="0,0,9,9" href="districts/north" alt="North"></map>
    </article>
    <section class="comments"><a href="/user/42" rel="ugc nofollow">commenter</a></section>
  </main>
  <footer><a href="//cdn.example.com/privacy">Privacy</a> <a href=" /terms
  ">Terms</a></footer>
</body>
</html>"##;

#[test]
fn news_page_with_base_canonical_and_nofollow() {
    let page = Url::parse("https://news.example.com/2025/06/budget-tram").unwrap();
    let found = links::extract(
        NEWS_PAGE.as_bytes(),
        Some("text/html; charset=utf-8"),
        &page,
        &LinkOptions::default(),
    );
    let got: Vec<(LinkKind, &str)> = found
        .links
        .iter()
        .map(|l| (l.kind, l.url.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                LinkKind::Canonical,
                "https://news.example.com/2025/06/budget-tram?utm_source=x&ref=canon"
            ),
            (LinkKind::Anchor, "https://news.example.com/"),
            (LinkKind::Anchor, "https://news.example.com/city/"),
            (LinkKind::Anchor, "https://news.example.com/sport/"),
            (
                LinkKind::Anchor,
                "https://news.example.com/2025/06/budget-vote-live"
            ),
            (
                LinkKind::Anchor,
                "https://council.example.gov/minutes?id=7&lang=en#item-3"
            ),
            (
                LinkKind::Area,
                "https://news.example.com/2025/06/districts/north"
            ),
            (LinkKind::Anchor, "https://cdn.example.com/privacy"),
            (LinkKind::Anchor, "https://news.example.com/terms"),
        ]
    );
    // The googlebot meta is not ours; three rel=nofollow links were skipped.
    assert!(!found.nofollow_meta);
    assert_eq!(found.skipped_nofollow, 3);
    assert!(!found.truncated);

    // The same page with our own token's meta saying nofollow: nothing is followed.
    let ours = NEWS_PAGE.replace(r#"name="googlebot""#, r#"name="OptOut""#);
    let found = links::extract(ours.as_bytes(), None, &page, &LinkOptions::default());
    assert!(found.nofollow_meta);
    assert!(found.links.is_empty());
    // The header is read by the crawl, with the same rules.
    assert!(links::header_nofollow(
        ["noarchive", "optout: nofollow"].into_iter(),
        "optout"
    ));
    assert!(!links::header_nofollow(
        ["googlebot: nofollow"].into_iter(),
        "optout"
    ));
}

/// draft-illyes-repext-03 §3.1.1: `Robots-Tag` members are product tokens (or `*`) with the
/// rules as parameters; the crawl follows no link of a page whose members for `*` or for
/// its token say `nofollow` (or `none`), and reads an unreadable field as `nofollow`.
#[test]
fn robots_tag_nofollow_is_scoped_by_token() {
    let says = |lines: &[&str]| links::robots_tag_nofollow(lines.iter().copied(), "OptOut");
    assert!(says(&["*;nofollow"]));
    assert!(says(&["optout;noindex;nofollow"]));
    assert!(says(&["otherbot;noai", "OptOut;none"]));
    assert!(!says(&["otherbot;nofollow"]));
    assert!(!says(&["*;noai, otherbot;nofollow"]));
    assert!(!says(&[]));
    // Not a structured list: read as X-Robots-Tag, scoping and all.
    assert!(says(&["optout: nofollow"]));
    assert!(!says(&["googlebot: nofollow"]));
    // Unreadable: nothing is followed.
    assert!(says(&["\u{1}{{{"]));
    assert!(says(&[&"*;noai, ".repeat(2000)]));
}

/// A page served with `Robots-Tag: *;nofollow` has its links reported, not followed.
#[test]
fn a_page_with_robots_tag_nofollow_is_not_followed() {
    use optout::crawl::visit::{RobotsHeaders, links_of};
    let page = Url::parse("https://news.example/a").unwrap();
    let body = br#"<html><body><a href="/b">b</a></body></html>"#;
    let options = LinkOptions {
        agent: "OptOut".into(),
        ..LinkOptions::default()
    };
    let follow = |robots_tag: &[&str]| {
        let tags = RobotsHeaders {
            x_robots_tag: &[],
            robots_tag,
        };
        links_of(tags, Some("text/html"), body, &page, &options)
    };
    let found = follow(&["*;nofollow"]);
    assert!(found.follow.is_empty(), "{found:?}");
    assert_eq!(found.nofollow.len(), 1);
    let found = follow(&["otherbot;nofollow"]);
    assert_eq!(found.follow.len(), 1, "{found:?}");
}

#[test]
fn gzip_sitemap_index_to_a_text_sitemap_served_decompressed() {
    let robots = RobotsTxt::parse(
        b"User-agent: *\nDisallow: /admin/\n\nSitemap: https://shop.example/sitemap_index.xml.gz\n",
    );
    let index_url = &sitemap::robots_sitemaps(&robots)[0];
    let index = gzip(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://shop.example/products.txt.gz</loc><lastmod>2025-06-01</lastmod></sitemap>
  <sitemap><loc>https://shop.example/sitemap_index.xml.gz</loc></sitemap>
</sitemapindex>"#,
    );
    let parsed = sitemap::parse(&index, index_url, &SitemapLimits::default()).unwrap();
    assert_eq!(parsed.kind, SitemapKind::Index);
    assert_eq!(parsed.entries.len(), 1, "the index's own URL is left out");
    let child = &parsed.entries[0];
    assert_eq!(child.lastmod.as_deref(), Some("2025-06-01"));

    // `products.txt.gz`, but the server decompressed it (Content-Encoding: gzip, undone by the
    // client): plain text under a `.gz` name.
    let text: String = (1..=500)
        .map(|i| format!("https://shop.example/p/{i}\r\n"))
        .chain([
            "\r\n".to_owned(),
            "https://elsewhere.example/x\n".to_owned(),
        ])
        .collect();
    let parsed = sitemap::parse(text.as_bytes(), &child.url, &SitemapLimits::default()).unwrap();
    assert_eq!(parsed.kind, SitemapKind::Text);
    assert_eq!(parsed.entries.len(), 501);
    assert_eq!(
        parsed.entries[499].url.as_str(),
        "https://shop.example/p/500"
    );
    // Cross-host entries are the crawl's to scope.
    assert_eq!(
        parsed.entries[500].url.host_str(),
        Some("elsewhere.example")
    );
    // The same file really gzipped reads the same.
    let again = sitemap::parse(
        &gzip(text.as_bytes()),
        &child.url,
        &SitemapLimits::default(),
    );
    assert_eq!(again.unwrap(), parsed);
}

/// `members` gzip members each of `chunk` repeated to `member_bytes`, after `head`: a small
/// file that decompresses to `members * member_bytes` bytes.
fn bomb(head: &[u8], chunk: &[u8], member_bytes: usize, members: usize) -> Vec<u8> {
    let body: Vec<u8> = chunk.iter().copied().cycle().take(member_bytes).collect();
    let member = gzip_at(&body, Compression::best());
    let mut out = gzip(head);
    for _ in 0..members {
        out.extend_from_slice(&member);
    }
    out
}

#[test]
fn gzip_bombs_stop_at_the_byte_cap() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let url = Url::parse("https://bomb.example/sitemap.xml").unwrap();
    let limits = SitemapLimits {
        max_urls: 50_000,
        max_bytes: 8 * 1024 * 1024,
    };
    // A sitemap that never ends: 1 GiB of empty elements after one entry.
    let head = b"<urlset><url><loc>https://bomb.example/a</loc></url>";
    let xml = bomb(head, b"<x/>", 16 * 1024 * 1024, 64);
    assert!(xml.len() < 4 * 1024 * 1024, "{} bytes", xml.len());
    let parsed = sitemap::parse(&xml, &url, &limits).unwrap();
    assert!(parsed.truncated);
    assert_eq!(parsed.entries.len(), 1);
    // 1 GiB of zeros: not a sitemap, found out without reading it all.
    let zeros = bomb(b"", &[0], 16 * 1024 * 1024, 64);
    assert!(matches!(
        sitemap::parse(&zeros, &url, &limits),
        Err(SitemapError::NotASitemap(_))
    ));
    // A text sitemap bomb stops at max_urls.
    let text = bomb(b"", b"https://bomb.example/same\n", 16 * 1024 * 1024, 64);
    let parsed = sitemap::parse(&text, &url, &limits).unwrap();
    assert!(parsed.truncated);
    assert_eq!(parsed.entries.len(), 50_000);
}

/// A page of about `bytes` bytes: text, markup and one link per paragraph, all distinct.
fn big_page(bytes: usize) -> Vec<u8> {
    let mut page = b"<!DOCTYPE html><html><head><title>big</title></head><body>".to_vec();
    let mut i = 0u64;
    while page.len() < bytes {
        writeln!(
            page,
            "<p class=\"row\">Item {i} <span>lorem ipsum dolor sit amet</span> \
             <a href=\"/item/{i}?page=2&amp;sort=asc\">item {i}</a></p>"
        )
        .unwrap();
        i += 1;
    }
    page.extend_from_slice(b"</body></html>");
    page
}

/// Resident memory of this process, and its peak since the last reset, in KiB.
fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_50_mb_page_is_read_in_bounded_memory() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let page = big_page(50 * 1024 * 1024);
    let url = Url::parse("https://big.example/list").unwrap();
    let options = LinkOptions::default();
    // Resets the peak (Linux: writing 5 to clear_refs resets VmHWM).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = memory_kib("VmRSS:");
    let found = links::extract(&page, Some("text/html"), &url, &options);
    let peak = memory_kib("VmHWM:");
    assert_eq!(found.links.len(), options.max_links);
    assert!(found.truncated);
    assert_eq!(
        found.links[0].url.as_str(),
        "https://big.example/item/0?page=2&sort=asc"
    );
    if let (true, Some(before), Some(peak)) = (reset, before, peak) {
        // A DOM of this page would take several times its 50 MB; the reader keeps at most
        // `max_links` hrefs and a tokenizer buffer.
        let extra_mib = peak.saturating_sub(before) / 1024;
        eprintln!("peak extra memory reading a 50 MB page: {extra_mib} MiB");
        assert!(extra_mib < 32, "{extra_mib} MiB");
    }
}

/// Link extraction throughput, for the README (not a timed test: run it by hand with
/// `cargo test --test discovery -- --ignored --nocapture`).
#[test]
#[ignore]
fn link_extraction_throughput() {
    let _heavy = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let page = big_page(50 * 1024 * 1024);
    let url = Url::parse("https://big.example/list").unwrap();
    for max_links in [10_000, usize::MAX] {
        let options = LinkOptions {
            max_links,
            ..LinkOptions::default()
        };
        let start = std::time::Instant::now();
        let found = links::extract(&page, Some("text/html"), &url, &options);
        let seconds = start.elapsed().as_secs_f64();
        eprintln!(
            "max_links {max_links}: {} links, {:.0} MB/s",
            found.links.len(),
            page.len() as f64 / 1e6 / seconds
        );
    }
    let text: String = (0..1_000_000)
        .map(|i| format!("https://e.com/p/{i}\n"))
        .collect();
    let xml: String = std::iter::once("<urlset>".to_owned())
        .chain((0..50_000).map(|i| {
            format!("<url><loc>https://e.com/p/{i}</loc><lastmod>2025-01-01</lastmod></url>")
        }))
        .chain(std::iter::once("</urlset>".to_owned()))
        .collect();
    for (name, body) in [("text", text.into_bytes()), ("xml", xml.into_bytes())] {
        let body = gzip(&body);
        let start = std::time::Instant::now();
        let parsed = sitemap::parse(&body, &url, &SitemapLimits::default()).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        eprintln!(
            "{name} sitemap: {} entries, {:.0} entries/s",
            parsed.entries.len(),
            parsed.entries.len() as f64 / seconds
        );
    }
}
