use super::*;
use flate2::{Compression, write::GzEncoder};
use proptest::prelude::*;
use std::io::Write;

fn at() -> Url {
    Url::parse("https://example.com/sitemap.xml").unwrap()
}

fn read(body: &[u8]) -> Result<Sitemap, SitemapError> {
    parse(body, &at(), &SitemapLimits::default())
}

fn urls(sitemap: &Sitemap) -> Vec<String> {
    sitemap.entries.iter().map(|e| e.url.to_string()).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

const URLSET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>https://example.com/</loc>
    <lastmod> 2005-01-01 </lastmod>
    <changefreq>monthly</changefreq>
    <priority>0.8</priority>
  </url>
  <url>
    <loc>
      https://example.com/catalog?item=12&amp;desc=vacation_hawaii
    </loc>
    <image:image><image:loc>https://cdn.example.com/photo.jpg</image:loc></image:image>
  </url>
</urlset>"#;

#[test]
fn sitemaps_org_urlset() {
    let sitemap = read(URLSET.as_bytes()).unwrap();
    assert_eq!(sitemap.kind, SitemapKind::UrlSet);
    assert_eq!(
        urls(&sitemap),
        [
            "https://example.com/",
            "https://example.com/catalog?item=12&desc=vacation_hawaii"
        ]
    );
    assert_eq!(sitemap.entries[0].lastmod.as_deref(), Some("2005-01-01"));
    assert_eq!(sitemap.entries[1].lastmod, None);
    assert!(!sitemap.truncated);
    assert_eq!(sitemap.errors, 0);
}

#[test]
fn sitemaps_org_index() {
    let index = r#"<?xml version="1.0" encoding="UTF-8"?>
    <sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://example.com/sitemap1.xml.gz</loc>
        <lastmod>2004-10-01T18:23:17+00:00</lastmod></sitemap>
      <sitemap><loc>https://example.com/sitemap2.xml.gz</loc></sitemap>
      <sitemap><loc>https://example.com/sitemap.xml</loc></sitemap>
      <url><loc>https://example.com/not-in-an-index</loc></url>
    </sitemapindex>"#;
    let sitemap = read(index.as_bytes()).unwrap();
    assert_eq!(sitemap.kind, SitemapKind::Index);
    // The index's own URL is left out: it would loop.
    assert_eq!(
        urls(&sitemap),
        [
            "https://example.com/sitemap1.xml.gz",
            "https://example.com/sitemap2.xml.gz"
        ]
    );
    assert_eq!(
        sitemap.entries[0].lastmod.as_deref(),
        Some("2004-10-01T18:23:17+00:00")
    );
}

#[test]
fn sitemaps_org_namespace_absent_or_prefixed_and_cdata() {
    let plain = "<urlset><url><loc><![CDATA[https://e.com/a?b=1&c=2]]></loc></url></urlset>";
    assert_eq!(
        urls(&read(plain.as_bytes()).unwrap()),
        ["https://e.com/a?b=1&c=2"]
    );
    let prefixed = r#"<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sm:url><sm:loc>https://e.com/p</sm:loc></sm:url></sm:urlset>"#;
    assert_eq!(
        urls(&read(prefixed.as_bytes()).unwrap()),
        ["https://e.com/p"]
    );
}

#[test]
fn sitemaps_org_entity_escaping_and_common_mistakes() {
    let xml = "<urlset><url><loc>https://e.com/&#x61;&#98;?q=&lt;&gt;&quot;&apos;</loc></url>\
        <url><loc>https://e.com/?a=1&b=2</loc></url>\
        <url><loc>https://e.com/&custom;</loc></url></urlset>";
    let sitemap = read(xml.as_bytes()).unwrap();
    assert_eq!(
        urls(&sitemap),
        [
            "https://e.com/ab?q=%3C%3E%22%27",
            "https://e.com/?a=1&b=2",
            "https://e.com/&custom;"
        ]
    );
}

#[test]
fn only_absolute_http_urls_are_entries() {
    let xml = "<urlset><url><loc>/relative</loc></url><url><loc>ftp://e.com/f</loc></url>\
        <url><loc></loc></url><url/><url><lastmod>2020</lastmod></url>\
        <url><loc>HTTP://E.COM/ok</loc></url></urlset>";
    let sitemap = read(xml.as_bytes()).unwrap();
    assert_eq!(urls(&sitemap), ["http://e.com/ok"]);
    assert_eq!(sitemap.errors, 5);
}

#[test]
fn sitemaps_org_text_sitemap() {
    let text = "\u{feff}https://e.com/a\r\n\r\n  https://e.com/b  \nnot a url\nmailto:x@e.com\n\
        https://e.com/c";
    let sitemap = read(text.as_bytes()).unwrap();
    assert_eq!(sitemap.kind, SitemapKind::Text);
    assert_eq!(
        urls(&sitemap),
        ["https://e.com/a", "https://e.com/b", "https://e.com/c"]
    );
    assert_eq!(sitemap.errors, 2);
}

#[test]
fn gzip_is_recognised_by_its_magic_bytes_only() {
    let plain = read(URLSET.as_bytes()).unwrap();
    assert_eq!(read(&gzip(URLSET.as_bytes())).unwrap(), plain);
    let text = read(&gzip(b"https://e.com/a\nhttps://e.com/b\n")).unwrap();
    assert_eq!(text.entries.len(), 2);
    // Two gzip members read as one stream.
    let mut two = gzip(b"https://e.com/a\n");
    two.extend(gzip(b"https://e.com/b\n"));
    assert_eq!(read(&two).unwrap().entries.len(), 2);
}

#[test]
fn corrupt_gzip_keeps_what_was_read() {
    let body: String = (0..2000).map(|i| format!("https://e.com/{i}\n")).collect();
    let gz = gzip(body.as_bytes());
    let cut = &gz[..gz.len() / 2];
    let sitemap = read(cut).unwrap();
    assert!(sitemap.truncated);
    assert!(!sitemap.entries.is_empty() && sitemap.entries.len() < 2000);
    assert_eq!(
        read(&[0x1f, 0x8b, 0, 0]),
        Err(SitemapError::NotASitemap("corrupt gzip data".to_owned()))
    );
}

#[test]
fn max_bytes_caps_the_uncompressed_size() {
    // 19 bytes a line.
    let body: String = (0..1000)
        .map(|i| format!("https://e.com/{i:04}\n"))
        .collect();
    let limits = |max_bytes| SitemapLimits {
        max_bytes,
        ..SitemapLimits::default()
    };
    let sitemap = parse(&gzip(body.as_bytes()), &at(), &limits(1900)).unwrap();
    assert!(sitemap.truncated);
    assert_eq!(sitemap.entries.len(), 100);
    // A line cut by the cap is not an entry (it would be another URL).
    let sitemap = parse(body.as_bytes(), &at(), &limits(1900 + 17)).unwrap();
    assert_eq!(sitemap.entries.len(), 100);
    assert_eq!(sitemap.errors, 0);
    // Exactly at the cap is not truncated.
    let exact = parse(&body.as_bytes()[..1900], &at(), &limits(1900)).unwrap();
    assert!(!exact.truncated);
    assert_eq!(exact.entries.len(), 100);
}

#[test]
fn max_urls_caps_the_entries() {
    let xml: String = (0..20)
        .map(|i| format!("<url><loc>https://e.com/{i}</loc></url>"))
        .collect();
    let xml = format!("<urlset>{xml}</urlset>");
    let limits = SitemapLimits {
        max_urls: 5,
        ..SitemapLimits::default()
    };
    let sitemap = parse(xml.as_bytes(), &at(), &limits).unwrap();
    assert_eq!(sitemap.entries.len(), 5);
    assert!(sitemap.truncated);
}

#[test]
fn broken_xml_keeps_the_entries_before_the_break() {
    let xml = "<urlset><url><loc>https://e.com/a</loc></url><url><loc>https://e.com/b</loc>";
    let sitemap = read(xml.as_bytes()).unwrap();
    assert_eq!(urls(&sitemap), ["https://e.com/a"]);
    assert!(sitemap.truncated);
    let xml = "<urlset><url><loc>https://e.com/a</loc></url><url <<<";
    let sitemap = read(xml.as_bytes()).unwrap();
    assert_eq!(urls(&sitemap), ["https://e.com/a"]);
    assert!(sitemap.truncated);
}

#[test]
fn invalid_utf8_in_a_loc() {
    let xml = b"<urlset><url><loc>https://e.com/a\xff</loc></url><url><loc>https://e.com/b</loc></url></urlset>";
    let sitemap = read(xml).unwrap();
    assert_eq!(urls(&sitemap), ["https://e.com/b"]);
    assert_eq!(sitemap.errors, 1);
    assert!(!sitemap.truncated);
    let text = read(b"https://e.com/a\nhttps://e.com/\xe9\nhttps://e.com/c\n").unwrap();
    assert_eq!(urls(&text), ["https://e.com/a", "https://e.com/c"]);
    assert_eq!(text.errors, 1);
}

#[test]
fn xml_billion_laughs_expands_nothing() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<urlset><url><loc>https://e.com/&lol3;</loc></url></urlset>"#;
    let sitemap = read(xml.as_bytes()).unwrap();
    assert_eq!(urls(&sitemap), ["https://e.com/&lol3;"]);
}

#[test]
fn what_is_not_a_sitemap() {
    for (body, found) in [
        (&b""[..], "empty"),
        (b"  \n\t ", "empty"),
        (
            b"<!DOCTYPE html><html><body>404</body></html>",
            "root element <html>",
        ),
        (b"<rss version=\"2.0\"></rss>", "root element <rss>"),
        (b"Not Found", "text that does not start with an http(s) URL"),
        (
            b"\x89PNG\r\n\x1a\n\0\0",
            "text that does not start with an http(s) URL",
        ),
        (b"<!-- only a comment -->", "no root element"),
    ] {
        assert_eq!(
            read(body),
            Err(SitemapError::NotASitemap(found.to_owned())),
            "{body:?}"
        );
    }
    let error = read(b"<urlset attr=\"unclosed><url>")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("not a sitemap: not XML ("), "{error}");
}

#[test]
fn overlong_urls_are_errors() {
    let long = format!("https://e.com/{}", "a".repeat(MAX_URL_BYTES));
    let text = format!("https://e.com/1\n{long}\nhttps://e.com/2\n");
    let sitemap = read(text.as_bytes()).unwrap();
    assert_eq!(urls(&sitemap), ["https://e.com/1", "https://e.com/2"]);
    assert_eq!(sitemap.errors, 1);
    let xml = format!(
        "<urlset><url><loc>{long}</loc></url><url><loc>https://e.com/3</loc></url></urlset>"
    );
    let sitemap = read(xml.as_bytes()).unwrap();
    assert_eq!(urls(&sitemap), ["https://e.com/3"]);
    assert_eq!(sitemap.errors, 1);
}

#[test]
fn rfc9309_2_2_4_sitemap_lines_of_robots_txt() {
    let robots = RobotsTxt::parse(
        b"sitemap: https://e.com/a.xml\nUser-agent: *\nDisallow: /x\nSITEMAP:https://e.com/b.xml.gz\n\
        Sitemap: /relative.xml\nSitemap: ftp://e.com/c.xml\nSitemap: https://e.com/a.xml\n",
    );
    assert_eq!(
        robots_sitemaps(&robots)
            .iter()
            .map(Url::as_str)
            .collect::<Vec<_>>(),
        ["https://e.com/a.xml", "https://e.com/b.xml.gz"]
    );
    let site = Url::parse("https://e.com:8443/some/page?q").unwrap();
    assert_eq!(
        well_known(&site).unwrap().as_str(),
        "https://e.com:8443/sitemap.xml"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_under_the_caps(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        max_urls in 0usize..6,
        gz in any::<bool>(),
    ) {
        let body = if gz { gzip(&body) } else { body };
        let limits = SitemapLimits { max_urls, max_bytes: 1024 };
        if let Ok(sitemap) = parse(&body, &at(), &limits) {
            prop_assert!(sitemap.entries.len() <= max_urls);
        }
    }

    #[test]
    fn xml_like_input_never_panics(
        parts in proptest::collection::vec(prop_oneof![
            Just("<urlset>"), Just("<sitemapindex>"), Just("<url>"), Just("</url>"),
            Just("<sitemap>"), Just("<loc>"), Just("</loc>"), Just("<lastmod>"),
            Just("https://e.com/x"), Just("&amp;"), Just("&"), Just("<![CDATA["), Just("]]>"),
            Just("</urlset>"), Just("<!DOCTYPE x>"), Just("<a:loc>"), Just("\u{e9}"),
        ], 0..40),
    ) {
        let xml: String = parts.concat();
        let limits = SitemapLimits { max_urls: 3, ..SitemapLimits::default() };
        if let Ok(sitemap) = parse(xml.as_bytes(), &at(), &limits) {
            prop_assert!(sitemap.entries.len() <= 3);
        }
    }
}
