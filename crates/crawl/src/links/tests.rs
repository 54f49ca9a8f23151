use super::*;
use proptest::prelude::*;

fn page() -> Url {
    Url::parse("https://example.com/dir/page.html?x=1").unwrap()
}

fn read(html: &str) -> Links {
    extract(
        html.as_bytes(),
        Some("text/html"),
        &page(),
        &LinkOptions::default(),
    )
}

fn urls(links: &Links) -> Vec<String> {
    links.links.iter().map(|l| l.url.to_string()).collect()
}

#[test]
fn whatwg_a_area_and_canonical_links() {
    let links = read(
        r#"<html><head><link rel="canonical" href="/canon"><link rel=stylesheet href=/s.css>
        </head><body><a href="a.html">A</a><map><area href="/area" alt=x></map>
        <a>no href</a><a href=" https://other.org/x ">x</a></body></html>"#,
    );
    let kinds: Vec<_> = links.links.iter().map(|l| l.kind).collect();
    assert_eq!(
        urls(&links),
        [
            "https://example.com/canon",
            "https://example.com/dir/a.html",
            "https://example.com/area",
            "https://other.org/x",
        ]
    );
    assert_eq!(
        kinds,
        [
            LinkKind::Canonical,
            LinkKind::Anchor,
            LinkKind::Area,
            LinkKind::Anchor
        ]
    );
    assert!(!links.truncated);
}

#[test]
fn whatwg_base_applies_to_earlier_links() {
    let links = read(
        r#"<a href="before">b</a><base href="https://cdn.example.net/root/">
        <base href="https://ignored.example/"><a href="after">a</a>"#,
    );
    assert_eq!(
        urls(&links),
        [
            "https://cdn.example.net/root/before",
            "https://cdn.example.net/root/after"
        ]
    );
}

#[test]
fn whatwg_relative_base_resolves_against_the_page_and_a_broken_one_falls_back() {
    let links = read(r#"<base href="../other/"><a href="x">x</a>"#);
    assert_eq!(urls(&links), ["https://example.com/other/x"]);
    // The first base with an href decides, even when it does not parse.
    let links = read(r#"<base href="https://[bad/"><base href="/ignored/"><a href="x">x</a>"#);
    assert_eq!(urls(&links), ["https://example.com/dir/x"]);
}

#[test]
fn only_http_and_https_links_are_kept() {
    let links = read(
        r#"<a href="javascript:void(0)">j</a><a href="mailto:a@b.c">m</a>
        <a href="data:text/html,hi">d</a><a href="ftp://e.com/f">f</a><a href="tel:123">t</a>
        <a href="java&#9;script:alert(1)">tab</a><a href="HTTP://E.COM/Up">u</a>"#,
    );
    assert_eq!(urls(&links), ["http://e.com/Up"]);
}

#[test]
fn fragments_are_kept_but_links_to_the_page_itself_dropped() {
    let links = read(
        r##"<a href="#top">t</a><a href="">e</a><a href="?x=1#s">s</a>
        <a href="other.html#part">o</a>"##,
    );
    assert_eq!(urls(&links), ["https://example.com/dir/other.html#part"]);
}

#[test]
fn whatwg_attribute_whitespace_and_entities() {
    let links = read("<a href=\"\n\t /p?a=1&amp;b=2 \n\">x</a><a href=\"/q\nr\">y</a>");
    assert_eq!(
        urls(&links),
        ["https://example.com/p?a=1&b=2", "https://example.com/qr"]
    );
}

#[test]
fn duplicate_hrefs_are_kept_once() {
    let links = read(r#"<a href="/x">1</a><a href="/x">2</a><a href="/y">3</a><a href="/x">"#);
    assert_eq!(
        urls(&links),
        ["https://example.com/x", "https://example.com/y"]
    );
}

#[test]
fn html_rel_is_a_case_insensitive_token_list() {
    let links = read(
        r#"<a href="/a" rel="NoFollow external">a</a><a href="/b" rel="nofollowers">b</a>
        <a href="/c" rel="ugc	nofollow">c</a><link rel="Canonical nofollow" href="/d">"#,
    );
    assert_eq!(urls(&links), ["https://example.com/b"]);
    assert_eq!(links.skipped_nofollow, 3);
}

#[test]
fn google_robots_meta_nofollow_drops_every_link() {
    for meta in [
        r#"<meta name="robots" content="noindex, nofollow">"#,
        r#"<meta name="ROBOTS" content="None">"#,
        r#"<meta name="optout" content="NOFOLLOW">"#,
    ] {
        let html = format!(r#"<link rel=canonical href=/c><a href="/a">a</a>{meta}"#);
        let links = read(&html);
        assert!(links.nofollow_meta, "{meta}");
        assert!(links.links.is_empty(), "{meta}");
    }
    let other = read(r#"<meta name="googlebot" content="nofollow"><a href="/a">a</a>"#);
    assert!(!other.nofollow_meta);
    assert_eq!(other.links.len(), 1);
}

#[test]
fn nofollow_not_honoured_when_switched_off() {
    let options = LinkOptions {
        honour_nofollow: false,
        ..LinkOptions::default()
    };
    let html = r#"<meta name=robots content=nofollow><a href="/a" rel=nofollow>a</a>"#;
    let links = extract(html.as_bytes(), None, &page(), &options);
    assert!(links.nofollow_meta);
    assert_eq!(links.skipped_nofollow, 0);
    assert_eq!(urls(&links), ["https://example.com/a"]);
}

#[test]
fn max_links_caps_the_list() {
    let html: String = (0..50).map(|i| format!("<a href=/p{i}>{i}</a>")).collect();
    let options = LinkOptions {
        max_links: 10,
        ..LinkOptions::default()
    };
    let links = extract(html.as_bytes(), None, &page(), &options);
    assert_eq!(links.links.len(), 10);
    assert!(links.truncated);
    assert_eq!(links.links[9].url.path(), "/p9");
}

#[test]
fn non_html_content_types_have_no_links() {
    let html = b"<a href=/x>x</a>";
    for ct in ["application/pdf", "text/plain", "image/svg+xml"] {
        assert!(
            extract(html, Some(ct), &page(), &LinkOptions::default())
                .links
                .is_empty()
        );
    }
    for ct in ["TEXT/HTML; charset=utf-8", "application/xhtml+xml"] {
        assert_eq!(
            extract(html, Some(ct), &page(), &LinkOptions::default())
                .links
                .len(),
            1
        );
    }
}

#[test]
fn whatwg_url_query_is_encoded_in_the_page_encoding() {
    // "é" in windows-1252 is 0xE9: the query keeps the page's encoding, the path is UTF-8.
    let body = b"<a href=\"/caf\xe9?q=\xe9\">x</a>";
    let links = extract(
        body,
        Some("text/html; charset=windows-1252"),
        &page(),
        &LinkOptions::default(),
    );
    assert_eq!(urls(&links), ["https://example.com/caf%C3%A9?q=%E9"]);
    // The same page declaring its charset in a meta.
    let body = b"<meta charset=\"latin1\"><a href=\"/caf\xe9?q=\xe9\">x</a>";
    let links = extract(body, Some("text/html"), &page(), &LinkOptions::default());
    assert_eq!(urls(&links), ["https://example.com/caf%C3%A9?q=%E9"]);
    // An HTTP charset wins over the meta (WHATWG HTML §13.2.3.2).
    let body = "<meta charset=latin1><a href=\"/caf\u{e9}?q=\u{e9}\">x</a>";
    let links = extract(
        body.as_bytes(),
        Some("text/html;charset=utf-8"),
        &page(),
        &LinkOptions::default(),
    );
    assert_eq!(urls(&links), ["https://example.com/caf%C3%A9?q=%C3%A9"]);
}

#[test]
fn whatwg_utf16_pages_are_decoded() {
    let html = "<a href=\"/\u{e9}t\u{e9}?q=\u{e9}\">x</a><a href=/b>b</a>";
    let mut le: Vec<u8> = vec![0xFF, 0xFE];
    le.extend(html.encode_utf16().flat_map(u16::to_le_bytes));
    let links = extract(&le, Some("text/html"), &page(), &LinkOptions::default());
    assert_eq!(
        urls(&links),
        [
            "https://example.com/%C3%A9t%C3%A9?q=%C3%A9",
            "https://example.com/b"
        ]
    );
    let be: Vec<u8> = html.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let links = extract(
        &be,
        Some("text/html; charset=UTF-16BE"),
        &page(),
        &LinkOptions::default(),
    );
    assert_eq!(links.links.len(), 2);
}

#[test]
fn whatwg_replacement_encoding_shows_nothing() {
    let links = extract(
        b"<a href=/x>x</a>",
        Some("text/html; charset=iso-2022-kr"),
        &page(),
        &LinkOptions::default(),
    );
    assert_eq!(links, Links::default());
}

#[test]
fn broken_html_still_yields_links() {
    let links =
        read("<a href=/one <a href='/two'>x</p></a><<a href=/three>\0<a href=\"/unterminated");
    assert!(urls(&links).contains(&"https://example.com/three".to_owned()));
}

#[test]
fn overlong_hrefs_are_dropped() {
    let long = format!(
        "<a href=\"/{}\">x</a><a href=/ok>ok</a>",
        "a".repeat(MAX_HREF_BYTES)
    );
    assert_eq!(urls(&read(&long)), ["https://example.com/ok"]);
}

#[test]
fn a_tag_larger_than_the_tokenizer_cap_truncates() {
    // A tag spanning many chunks: the tokenizer buffers it and gives up at its cap.
    let html = format!(
        "<a href=/first>f</a><a href=/big title=\"{}\">b</a><a href=/after>a</a>",
        "x".repeat(TOKENIZER_MEMORY + CHUNK)
    );
    let links = read(&html);
    assert!(links.truncated);
    assert_eq!(urls(&links)[0], "https://example.com/first");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_under_the_cap(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        max_links in 0usize..8,
        ct in proptest::option::of(prop_oneof![
            Just("text/html"), Just("text/html; charset=utf-16"),
            Just("text/html; charset=shift_jis"), Just("text/html; charset=iso-2022-jp"),
        ]),
    ) {
        let options = LinkOptions { max_links, ..LinkOptions::default() };
        let links = extract(&body, ct, &page(), &options);
        prop_assert!(links.links.len() <= max_links);
        for link in &links.links {
            prop_assert!(matches!(link.url.scheme(), "http" | "https"));
        }
    }

    #[test]
    fn html_like_input_never_panics(
        parts in proptest::collection::vec(prop_oneof![
            Just("<a href="), Just("<base href="), Just("<link rel=canonical href="),
            Just("<meta name=robots content="), Just("<area href="), Just("\""), Just(">"),
            Just("nofollow"), Just("/x"), Just("#f"), Just("http://h/"), Just("<script>"),
            Just("</a>"), Just("<!--"), Just("-->"), Just("<meta charset=latin1>"), Just("\u{e9}"),
        ], 0..40),
    ) {
        let html: String = parts.concat();
        let links = read(&html);
        prop_assert!(links.links.len() <= LinkOptions::default().max_links);
    }
}
