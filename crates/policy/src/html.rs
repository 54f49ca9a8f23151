//! The `<meta>` elements of an HTML page, read with `scraper` (html5ever): any bytes parse.
//!
//! Building the DOM of a page costs far more than fetching it from a fast server, so the
//! fetcher first asks [`may_reserve`]: a scan of the raw bytes that proves, for most pages,
//! that no `<meta>` element and no JSON-LD in them can change a decision. Only pages it
//! cannot clear are parsed. The scan may send a page to the parser needlessly; it never
//! clears one the parser would find a reservation in (argued at [`may_reserve`], checked by
//! a property test against the parser).

use memchr::memmem;
use scraper::{Html, Selector};

/// The `name`/`content` pairs of a page's `<meta>` elements, names lower-cased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageMeta {
    metas: Vec<(String, String)>,
    paywalled: bool,
}

impl PageMeta {
    /// Reads the `<meta name=... content=...>` elements of `html` (decoded lossily).
    pub fn parse(html: &[u8]) -> PageMeta {
        let text = String::from_utf8_lossy(html);
        let document = Html::parse_document(&text);
        let Ok(selector) = Selector::parse("meta[name]") else {
            return PageMeta::default();
        };
        let metas = document
            .select(&selector)
            .filter_map(|e| {
                let name = e.value().attr("name")?.trim().to_ascii_lowercase();
                let content = e.value().attr("content").unwrap_or("").to_owned();
                Some((name, content))
            })
            .collect();
        PageMeta {
            metas,
            paywalled: json_ld_paywalled(&document),
        }
    }

    /// What of the page can matter for a decision: [`PageMeta::parse`] when [`may_reserve`]
    /// says the page could reserve anything, and no metas otherwise. Every decision made
    /// from it is the one made from the full parse; it lacks only metas that decide nothing
    /// (`description`, a robots `index, follow`).
    pub fn scan(html: &[u8]) -> PageMeta {
        if may_reserve(html) {
            PageMeta::parse(html)
        } else {
            PageMeta::default()
        }
    }

    /// [`PageMeta::scan`] of a page as a browser would decode it (its byte order mark, or
    /// the `charset` of its `Content-Type`, WHATWG HTML §13.2.3.2), and of its bytes as they
    /// are. The scan and the parser read UTF-8; so do the bytes of a reservation in every
    /// ASCII-compatible encoding, which need no decoding. A page in UTF-16 (or ISO-2022-JP)
    /// hides its meta tags from a UTF-8 reading, so it is decoded, and read as it came too:
    /// a page labelled UTF-16 that is not still reserves what its bytes say. The readings'
    /// metas are joined so that a reservation in either counts: `noai`, the paywall markup
    /// and `tdm-reservation` add up (a `1` anywhere in the page reserves, whatever `0` the
    /// other reading has: see [`crate::tdmrep`]).
    pub fn scan_encoded(body: &[u8], content_type: Option<&str>) -> PageMeta {
        PageMeta::read_encoded(body, content_type, PageMeta::scan)
    }

    /// [`PageMeta::parse`] of both readings of [`PageMeta::scan_encoded`].
    pub fn parse_encoded(body: &[u8], content_type: Option<&str>) -> PageMeta {
        PageMeta::read_encoded(body, content_type, PageMeta::parse)
    }

    fn read_encoded(
        body: &[u8],
        content_type: Option<&str>,
        read: fn(&[u8]) -> PageMeta,
    ) -> PageMeta {
        match decoded(body, content_type) {
            None => read(body),
            Some(text) => {
                let mut meta = read(text.as_bytes());
                let raw = read(body);
                meta.metas.extend(raw.metas);
                meta.paywalled |= raw.paywalled;
                meta
            }
        }
    }

    /// Whether some `tdm-reservation` meta of the page is `1`, as the judge reads it.
    #[cfg(test)]
    fn reserves_tdm(&self) -> bool {
        self.get("tdm-reservation").any(|v| v.trim() == "1")
    }

    /// Whether the page's JSON-LD says it is not free to access (schema.org
    /// `isAccessibleForFree: false`, the markup Google asks paywalled pages to carry).
    pub fn paywalled(&self) -> bool {
        self.paywalled
    }

    /// The contents of every `<meta>` named `name` (case-insensitive), in page order.
    pub fn get<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.metas
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| c.as_str())
    }
}

/// `body` decoded to UTF-8 when its encoding is not ASCII-compatible: a byte order mark
/// decides, then the `charset` parameter of `content_type` (WHATWG HTML §13.2.3.2; a
/// `<meta charset>` cannot name UTF-16, and names only ASCII-compatible encodings otherwise).
/// `None` when the bytes can be read as they are. The `replacement` encoding (labels such as
/// `iso-2022-kr`, which browsers refuse to decode) is not applied: it would turn the page
/// into one U+FFFD and hide whatever it reserves.
fn decoded(body: &[u8], content_type: Option<&str>) -> Option<String> {
    use encoding_rs::{Encoding, REPLACEMENT, UTF_8};
    let (encoding, bom) = match Encoding::for_bom(body) {
        Some(found) => found,
        None => (charset(content_type?).and_then(Encoding::for_label)?, 0),
    };
    if encoding == UTF_8 || encoding == REPLACEMENT || encoding.is_ascii_compatible() {
        return None;
    }
    let (text, _had_errors) = encoding.decode_without_bom_handling(&body[bom..]);
    Some(text.into_owned())
}

/// The `charset` parameter of a `Content-Type` value, unquoted (RFC 9110 §8.3).
pub fn charset(content_type: &str) -> Option<&[u8]> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').as_bytes())
    })
}

/// Words without which no `<meta>` or JSON-LD can change a decision (ASCII, lower case):
/// the AI directives of robots metas (`noai`, `noimageai`: [`crate::tags`]), the
/// TDMRep meta names, and the schema.org paywall property.
const KEYWORDS: [&[u8]; 5] = [
    b"noai",
    b"noimageai",
    b"tdm-reservation",
    b"tdm-policy",
    b"isaccessibleforfree",
];

/// Whether [`PageMeta::parse`] could find anything in `html` that changes a decision.
///
/// `false` only when all of these hold, each of which rules out a way a decision changes:
/// - no `KEYWORDS` in any case. A robots meta reserves only by a directive that equals
///   `noai`/`noimageai` ignoring ASCII case, and the TDMRep metas are named by the others;
///   so their letters are in the page, unless a character reference spells them;
/// - no `&` in the attributes of any `<meta` start tag. Character references are decoded
///   only there (and in text, which no decision reads); of the named references only
///   `&fjlig;` gives ASCII letters ("fj", in no keyword), so this is wider than needed;
/// - JSON-LD is only read from a `<script>` whose `type` is `application/ld+json`, so it can
///   exist only if `ld+json` is in the page or a `<script` tag's attributes hold an `&`. If
///   it can, the paywall property can still be spelled with JSON `\u` escapes (script text
///   has no character references), so then a `\u` anywhere sends the page to the parser.
///
/// Bytes that are not UTF-8 become U+FFFD in the parser, never ASCII, so the scan reads the
/// raw bytes. A start tag's attributes end where the tokenizer's attribute states end it
/// (WHATWG HTML §13.2.5.32–40), `attributes_end`; the scan looks at every `<meta` and
/// `<script` in the bytes, also inside comments and scripts, so it finds at least every tag
/// the parser finds.
pub fn may_reserve(html: &[u8]) -> bool {
    let f = finders();
    let lower = html.to_ascii_lowercase();
    if f.keywords.iter().any(|k| k.find(&lower).is_some()) {
        return true;
    }
    if start_tags(&lower, &f.meta).any(|attrs| attrs.contains(&b'&')) {
        return true;
    }
    let json_ld = f.ld_json.find(&lower).is_some()
        || start_tags(&lower, &f.script).any(|attrs| attrs.contains(&b'&'));
    json_ld && f.escape.find(&lower).is_some()
}

/// The scan's searchers, built once: building a searcher costs about as much as running it
/// over a small page.
struct Finders {
    keywords: Vec<memmem::Finder<'static>>,
    meta: memmem::Finder<'static>,
    script: memmem::Finder<'static>,
    ld_json: memmem::Finder<'static>,
    escape: memmem::Finder<'static>,
}

fn finders() -> &'static Finders {
    static FINDERS: std::sync::LazyLock<Finders> = std::sync::LazyLock::new(|| Finders {
        keywords: KEYWORDS.iter().map(|k| memmem::Finder::new(*k)).collect(),
        meta: memmem::Finder::new(b"<meta"),
        script: memmem::Finder::new(b"<script"),
        ld_json: memmem::Finder::new(b"ld+json"),
        escape: memmem::Finder::new(b"\\u"),
    });
    &FINDERS
}

/// The attribute bytes of every start tag opened by `open` (`<meta`, lower case) in `lower`:
/// `open` followed by what ends a tag name (§13.2.5.8), up to the tag's end.
fn start_tags<'a>(
    lower: &'a [u8],
    open: &'a memmem::Finder<'static>,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let len = open.needle().len();
    open.find_iter(lower).filter_map(move |at| {
        let rest = &lower[at + len..];
        match rest.first() {
            Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>') => {
                Some(&rest[..attributes_end(rest)])
            }
            _ => None,
        }
    })
}

/// Where the tokenizer ends a start tag whose name ended just before `rest`: the index of
/// its `>` (or the end of the input), following the attribute states of WHATWG HTML
/// §13.2.5.32–40. Character references do not end values (they consume only alphanumerics,
/// `#` and `;`), so they need no state here.
fn attributes_end(rest: &[u8]) -> usize {
    #[derive(Clone, Copy)]
    enum State {
        BeforeName,
        Name,
        AfterName,
        BeforeValue,
        Quoted(u8),
        Unquoted,
        AfterQuoted,
        SelfClosing,
    }
    let space = |b: u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut state = State::BeforeName;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        // `next` is the state for the following byte; `again` reconsumes this one.
        let (next, again) = match state {
            State::BeforeName if space(b) => (State::BeforeName, false),
            State::BeforeName if b == b'/' || b == b'>' => (State::AfterName, true),
            State::BeforeName => (State::Name, false),
            State::Name if space(b) || b == b'/' || b == b'>' => (State::AfterName, true),
            State::Name if b == b'=' => (State::BeforeValue, false),
            State::Name => (State::Name, false),
            State::AfterName if space(b) => (State::AfterName, false),
            State::AfterName if b == b'/' => (State::SelfClosing, false),
            State::AfterName if b == b'=' => (State::BeforeValue, false),
            State::AfterName if b == b'>' => return i,
            State::AfterName => (State::Name, false),
            State::BeforeValue if space(b) => (State::BeforeValue, false),
            State::BeforeValue if b == b'"' || b == b'\'' => (State::Quoted(b), false),
            State::BeforeValue if b == b'>' => return i,
            State::BeforeValue => (State::Unquoted, true),
            State::Quoted(q) if b == q => (State::AfterQuoted, false),
            State::Quoted(q) => (State::Quoted(q), false),
            State::Unquoted if space(b) => (State::BeforeName, false),
            State::Unquoted if b == b'>' => return i,
            State::Unquoted => (State::Unquoted, false),
            State::AfterQuoted if space(b) => (State::BeforeName, false),
            State::AfterQuoted if b == b'/' => (State::SelfClosing, false),
            State::AfterQuoted if b == b'>' => return i,
            State::AfterQuoted => (State::BeforeName, true),
            State::SelfClosing if b == b'>' => return i,
            State::SelfClosing => (State::BeforeName, true),
        };
        state = next;
        if !again {
            i += 1;
        }
    }
    rest.len()
}

/// Reads every `<script type="application/ld+json">`; JSON that does not parse says nothing.
fn json_ld_paywalled(document: &Html) -> bool {
    let Ok(selector) = Selector::parse("script[type]") else {
        return false;
    };
    document
        .select(&selector)
        .filter(|e| {
            e.value()
                .attr("type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"))
        })
        .filter_map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.text().collect::<String>()).ok()
        })
        .any(|v| not_free(&v))
}

/// Looks for `isAccessibleForFree` set to `false` (or `"false"`) anywhere in the value.
/// serde_json bounds the nesting depth, so hostile input cannot overflow the stack here.
fn not_free(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "isAccessibleForFree"
                && match v {
                    Value::Bool(b) => !b,
                    Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
                    _ => false,
                })
                || not_free(v)
        }),
        Value::Array(items) => items.iter().any(not_free),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut bytes = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn whatwg_encoding_sniffing_a_bom_then_the_http_charset() {
        let page = r#"<meta name="robots" content="noai">"#;
        // A BOM decides, whatever the header says.
        assert_eq!(decoded(&utf16le(page, true), None).as_deref(), Some(page));
        assert_eq!(
            decoded(&utf16le(page, true), Some("text/html; charset=utf-8")).as_deref(),
            Some(page)
        );
        // No BOM: the `charset` parameter, any case, quoted or not; `utf-16` is LE.
        for ct in [
            "text/html; charset=utf-16",
            "text/html;CHARSET=\"UTF-16LE\"",
            "text/html ; foo=bar; charset = utf-16",
        ] {
            assert_eq!(
                decoded(&utf16le(page, false), Some(ct)).as_deref(),
                Some(page),
                "{ct}"
            );
        }
        // ASCII-compatible encodings and unknown labels are read as they are.
        for ct in [
            "text/html",
            "text/html; charset=windows-1252",
            "text/html; charset=shift_jis",
            "text/html; charset=no-such-thing",
            "text/html; charset=iso-2022-kr",
        ] {
            assert_eq!(decoded(page.as_bytes(), Some(ct)), None, "{ct}");
        }
        assert_eq!(decoded(b"\xEF\xBB\xBF<p>", None), None);
    }

    #[test]
    fn a_utf16_page_reserves_and_so_does_a_mislabelled_one() {
        let page = r#"<html><head><meta name="robots" content="noai"></head></html>"#;
        let read = PageMeta::scan(&utf16le(page, true));
        assert_eq!(read.get("robots").count(), 0, "UTF-8 reading sees nothing");
        for meta in [
            PageMeta::scan_encoded(&utf16le(page, true), None),
            PageMeta::parse_encoded(&utf16le(page, true), None),
            PageMeta::scan_encoded(&utf16le(page, false), Some("text/html; charset=utf-16")),
            PageMeta::scan_encoded(page.as_bytes(), Some("text/html; charset=utf-16")),
        ] {
            assert_eq!(meta.get("robots").collect::<Vec<_>>(), ["noai"]);
        }
    }

    #[test]
    fn a_tdm_reservation_in_either_reading_is_the_one_read() {
        let reserved = r#"<meta name="tdm-reservation" content="1">"#;
        let waived = b"<meta name=\"tdm-reservation\" content=\"0\">";
        // Decoded: reserved; the raw bytes: ASCII that waives (CJK text once decoded).
        let mut page = utf16le(reserved, true);
        page.extend_from_slice(waived);
        let meta = PageMeta::scan_encoded(&page, None);
        assert!(meta.reserves_tdm(), "{meta:?}");
        // The other way round: the raw reading reserves.
        let mut page = utf16le(r#"<meta name="tdm-reservation" content="0">"#, false);
        page.extend_from_slice(reserved.as_bytes());
        let meta = PageMeta::scan_encoded(&page, Some("text/html; charset=utf-16le"));
        assert!(meta.reserves_tdm(), "{meta:?}");
    }

    #[test]
    fn reads_meta_names_case_insensitively() {
        let m = PageMeta::parse(
            br#"<html><head><META NAME="Robots" content="noai"><meta name="tdm-reservation" content="1"></head></html>"#,
        );
        assert_eq!(m.get("robots").collect::<Vec<_>>(), ["noai"]);
        assert_eq!(m.get("TDM-Reservation").collect::<Vec<_>>(), ["1"]);
    }

    #[test]
    fn garbage_is_a_page_without_metas() {
        assert_eq!(PageMeta::parse(b"\xff\xfe<<<meta").get("robots").count(), 0);
    }

    #[test]
    fn schema_org_paywall_markup() {
        let page = br#"<html><head><script type="application/ld+json">
            {"@context":"https://schema.org","@type":"NewsArticle","isAccessibleForFree":false,
             "hasPart":{"@type":"WebPageElement","isAccessibleForFree":"False","cssSelector":".paywall"}}
            </script></head></html>"#;
        assert!(PageMeta::parse(page).paywalled());
        let nested = br#"<script type="application/ld+json">[{"@graph":[{"hasPart":[{"isAccessibleForFree":"false"}]}]}]</script>"#;
        assert!(PageMeta::parse(nested).paywalled());
        let free = br#"<script type="application/ld+json">{"isAccessibleForFree":true}</script>"#;
        assert!(!PageMeta::parse(free).paywalled());
        let broken = br#"<script type="application/ld+json">{"isAccessibleForFree":fal</script>"#;
        assert!(!PageMeta::parse(broken).paywalled());
        let deep = format!(
            "<script type=\"application/ld+json\">{}</script>",
            "[".repeat(100_000)
        );
        assert!(!PageMeta::parse(deep.as_bytes()).paywalled());
    }

    /// Everything a decision reads of a page: the judge's decision for each purpose, for a
    /// page and an image URL, and the paywall flag.
    fn effect(meta: &PageMeta) -> Vec<String> {
        use crate::crawlers::AiCrawlers;
        use crate::excluded::ExcludedDomains;
        use crate::judge::{Asset, Judge};
        use crate::site::SitePolicy;
        use crate::{Purpose, parse_url};
        let site = SitePolicy::new(None, None, None, &AiCrawlers::default());
        let asset = Asset {
            headers: vec![],
            meta: Some(meta.clone()),
        };
        let excluded = ExcludedDomains::default();
        let mut out = vec![format!("paywalled {}", meta.paywalled())];
        for purpose in Purpose::ALL {
            let judge = Judge {
                agent: "optout",
                purpose,
                excluded: &excluded,
                ai_crawler_blocks: true,
            };
            for path in ["/a.html", "/a.png"] {
                let url = parse_url(&format!("https://e.example{path}")).unwrap();
                out.push(format!("{:?}", judge.decide(&site, Some(&asset), &url)));
            }
        }
        out
    }

    fn same_effect(html: &str) {
        let full = PageMeta::parse(html.as_bytes());
        let scanned = PageMeta::scan(html.as_bytes());
        assert_eq!(effect(&scanned), effect(&full), "{html:?}");
    }

    #[test]
    fn scan_clears_an_ordinary_page() {
        let page = "<!DOCTYPE html><html><head><meta charset=utf-8><title>A &amp; B</title>\
            <meta name=\"robots\" content=\"index, follow\"><meta name=description content=\"It&#8217;s\">\
            </head><body><p>&copy; 2025</p><script>var s = \"\\u00e9\";</script></body></html>";
        // The description meta holds a character reference: the scan cannot clear it.
        assert!(may_reserve(page.as_bytes()));
        let plain = page.replace("It&#8217;s", "Its");
        assert!(!may_reserve(plain.as_bytes()));
        assert_eq!(PageMeta::scan(plain.as_bytes()), PageMeta::default());
        same_effect(page);
        same_effect(&plain);
    }

    #[test]
    fn scan_sends_every_possible_reservation_to_the_parser() {
        for page in [
            r#"<meta name="robots" content="NoAI">"#,
            r#"<META NAME=optout CONTENT=noimageai>"#,
            r#"<meta name="robots" content="n&#111;ai">"#,
            r#"<meta name="robots" content="n&#x6F;ai">"#,
            r#"<meta/name=robots/content=&#110;oai>"#,
            r#"<meta content="a>b" name="robots" data-x="&#110;oai">"#,
            r#"<meta name="tdm-reservation" content="1">"#,
            r#"<meta name="tdm&#45;reservation" content="1">"#,
            r#"<meta name="TDM-Policy" content="https://e.example/p">"#,
            r#"<script type="application/ld+json">{"isAccessibleForFree":false}</script>"#,
            r#"<script type="application/ld+json">{"\u0069sAccessibleForFree":false}</script>"#,
            r#"<script type="application/ld&#43;json">{"\u0069sAccessibleForFree":false}</script>"#,
            r#"<script type="application&sol;ld&plus;json">{"is\u0041ccessibleForFree":"false"}</script>"#,
        ] {
            assert!(may_reserve(page.as_bytes()), "{page}");
            same_effect(page);
        }
        // What the parser finds there does reserve.
        assert!(
            PageMeta::scan(br#"<meta name="robots" content="n&#111;ai">"#)
                .get("robots")
                .eq(["noai"])
        );
        assert!(PageMeta::scan(br#"<script type="application/ld&#43;json">{"\u0069sAccessibleForFree":false}</script>"#).paywalled());
    }

    #[test]
    fn attribute_ends_follow_the_tokenizer() {
        assert_eq!(attributes_end(b" name=\"a>b\" content=x>rest"), 21);
        assert_eq!(attributes_end(b" a='>' b=c>"), 10);
        assert_eq!(attributes_end(b"/>"), 1);
        assert_eq!(attributes_end(b" a=b/>"), 5);
        assert_eq!(attributes_end(b" a = \"x\"/ >"), 10);
        assert_eq!(attributes_end(b" a=\"unterminated"), 16);
        assert_eq!(attributes_end(b" a=>"), 3);
        // `"a` is a name; `="b>` opens a value that never closes.
        assert_eq!(attributes_end(b" \"a=\"b>"), 7);
    }

    /// Pieces of markup, often whole `<meta>` and JSON-LD tags whose names and values may be
    /// spelled with character references or JSON escapes, and noise that changes how the
    /// tokenizer reads what follows (comments, raw-text elements, quotes, foreign content).
    fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let pick = |items: &[&'static str]| prop::sample::select(items.to_vec());
        let name = pick(&[
            "robots",
            "ROBOTS",
            "optout",
            "tdm-reservation",
            "tdm-policy",
            "description",
            "r&#111;bots",
            "tdm&#45;reservation",
            "tdm&#x2d;policy",
            "&#111;ptout",
        ]);
        let content = pick(&[
            "noai",
            "NoImageAI",
            "index, follow",
            "1",
            "0",
            "https://e.example/p",
            "n&#111;ai",
            "&#110;oai",
            "no&#x61;i",
            "noimage&#97;i",
            "&#x31;",
            "&#48;",
            "x: noai",
            "optout: noimageai",
            "max-snippet: 2, no&#97;i",
        ]);
        let quote = pick(&["\"", "'", ""]);
        let sep = pick(&[" ", "/", "\n", " \t"]);
        let other = pick(&["", " data-x=\"a>b\"", " x='>'", " y=>"]);
        let meta = (
            name,
            content,
            quote,
            sep,
            other,
            pick(&[">", "/>", " >", ""]),
        )
            .prop_map(|(n, c, q, sep, other, end)| {
                format!("<meta{other}{sep}name={q}{n}{q}{sep}content={q}{c}{q}{end}")
            });
        let ld_type = pick(&[
            "application/ld+json",
            "application/ld&#43;json",
            "application&sol;ld&plus;json",
            "text/javascript",
        ]);
        let ld_body = pick(&[
            "{\"isAccessibleForFree\":false}",
            "{\"\\u0069sAccessibleForFree\":\"False\"}",
            "[{\"hasPart\":{\"isAccessibleFor\\u0046ree\":false}}]",
            "{\"a\":\"\\u00e9\"}",
            "{\"isAccessibleForFree\":true}",
        ]);
        let json_ld = (ld_type, ld_body, quote_pick())
            .prop_map(|(t, b, q)| format!("<script type={q}{t}{q}>{b}</script>"));
        let noise = pick(&[
            "<meta",
            "<META",
            "<meta ",
            "<script",
            "</script>",
            "<style>",
            "</style>",
            "<svg>",
            "</svg>",
            "<math>",
            "<template>",
            "<noscript>",
            "</noscript>",
            "<textarea>",
            "<title>",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<plaintext>",
            "<select>",
            "<table>",
            "\"",
            "'",
            "=",
            ">",
            "/>",
            " ",
            "\n",
            "\r",
            "&",
            "&#",
            "&amp;",
            "&fjlig;",
            "noai",
            "\\u",
            "<",
            "</",
            "\0",
            "\u{fffd}",
            "é",
        ])
        .prop_map(str::to_owned);
        prop_oneof![3 => meta, 2 => json_ld, 4 => noise, 1 => "[ -~]{0,6}"]
    }

    fn quote_pick() -> impl proptest::strategy::Strategy<Value = &'static str> {
        proptest::sample::select(vec!["\"", "'", ""])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        #[test]
        fn scan_decides_as_the_parser_does(
            parts in proptest::collection::vec(fragment(), 0..24)
        ) {
            let html = parts.concat();
            let full = PageMeta::parse(html.as_bytes());
            let scanned = PageMeta::scan(html.as_bytes());
            proptest::prop_assert_eq!(effect(&scanned), effect(&full), "{:?}", html);
        }
    }
}
