//! Fuzzes sitemap parsing (`optout::crawl::sitemap::parse`): any bytes, plain or gzipped,
//! never panic; at most `max_urls` entries come out, each an absolute http(s) URL.
//!
//! Input layout: byte 0: bit 0 gzips the rest before parsing (so the decompressor and the
//! readers behind it are reached), bits 1-3 give `max_urls` (0-7); byte 1 gives `max_bytes`
//! (in 64-byte steps); the rest is the sitemap.

#![no_main]

use flate2::{Compression, write::GzEncoder};
use libfuzzer_sys::fuzz_target;
use optout::crawl::sitemap::{SitemapLimits, parse};
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let [flags, bytes, body @ ..] = data else {
        return;
    };
    let limits = SitemapLimits {
        max_urls: usize::from((flags >> 1) & 7),
        max_bytes: usize::from(*bytes) * 64,
    };
    let gzipped;
    let body = if flags & 1 == 1 {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(body).unwrap();
        gzipped = gz.finish().unwrap();
        &gzipped[..]
    } else {
        body
    };
    let at = url::Url::parse("https://fuzz.example/sitemap.xml").unwrap();
    if let Ok(sitemap) = parse(body, &at, &limits) {
        assert!(sitemap.entries.len() <= limits.max_urls);
        for entry in &sitemap.entries {
            assert!(matches!(entry.url.scheme(), "http" | "https"), "{}", entry.url);
        }
    }
});
