//! Fuzzes link extraction (`optout::crawl::links::extract`): any bytes, under any charset
//! label, never panic; at most `max_links` links come out, each an absolute http(s) URL; with
//! nofollow honoured, a robots nofollow meta leaves no link.
//!
//! Input layout: byte 0 picks the `Content-Type` (mod 6) and byte 1 `max_links` (mod 16);
//! the rest is the page.

#![no_main]

use libfuzzer_sys::fuzz_target;
use optout::crawl::links::{LinkOptions, extract};

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("text/html"),
    Some("text/html; charset=utf-16le"),
    Some("text/html; charset=windows-1252"),
    Some("text/html; charset=iso-2022-jp"),
    Some("application/xhtml+xml; charset=shift_jis"),
];

fuzz_target!(|data: &[u8]| {
    let [ct, max, body @ ..] = data else {
        return;
    };
    let page = url::Url::parse("https://fuzz.example/dir/page?q=1").unwrap();
    let options = LinkOptions {
        max_links: usize::from(*max % 16),
        ..LinkOptions::default()
    };
    let content_type = CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()];
    let links = extract(body, content_type, &page, &options);
    assert!(links.links.len() <= options.max_links);
    for link in &links.links {
        assert!(matches!(link.url.scheme(), "http" | "https"), "{}", link.url);
    }
    if links.nofollow_meta {
        assert!(links.links.is_empty());
    }
});
