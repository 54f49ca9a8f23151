//! Fuzzes the fetcher's HTML scan (`optout::policy::html::may_reserve`) against the parser:
//! whenever the scan clears a page, the full parse (`PageMeta::parse`, html5ever) must find
//! nothing in it that a decision reads — no robots or agent meta with an AI directive, no
//! TDMRep meta, no paywall markup. The scan may send pages to the parser needlessly; it must
//! never clear one that reserves something.
//!
//! The input is the page's bytes, as served.

#![no_main]

use libfuzzer_sys::fuzz_target;
use optout::policy::html::{PageMeta, may_reserve};
use optout::policy::tags::AiTags;

/// The agent token the judge reads metas of (the default product token's case is irrelevant:
/// meta names compare ignoring ASCII case).
const AGENT: &str = "optout";

fuzz_target!(|data: &[u8]| {
    // Any bytes under any charset label decode (or not) without a panic, and every reading
    // keeps what the bytes as they are reserve.
    for label in [
        None,
        Some("text/html; charset=utf-16"),
        Some("text/html; charset=utf-16be"),
    ] {
        let encoded = PageMeta::scan_encoded(data, label);
        let raw = PageMeta::scan(data);
        for name in ["robots", "tdm-reservation", "tdm-policy", AGENT] {
            assert!(
                encoded.get(name).count() >= raw.get(name).count(),
                "{data:?}"
            );
        }
        assert!(encoded.paywalled() >= raw.paywalled(), "{data:?}");
        // The judge reads the last tdm-reservation: the joined reading reserves whenever
        // the bytes as they are do.
        let reserves = |m: &PageMeta| m.get("tdm-reservation").last().map(str::trim) == Some("1");
        assert!(reserves(&encoded) >= reserves(&raw), "{data:?}");
    }
    if may_reserve(data) {
        // The scanned page is parsed in full: nothing to compare.
        let _ = PageMeta::scan(data);
        return;
    }
    assert_eq!(PageMeta::scan(data), PageMeta::default());
    let full = PageMeta::parse(data);
    let mut tags = AiTags::default();
    for content in full.get("robots").chain(full.get(AGENT)) {
        tags.read_meta(content);
    }
    assert_eq!(
        tags,
        AiTags::default(),
        "cleared page has AI directives: {data:?}"
    );
    assert_eq!(full.get("tdm-reservation").count(), 0, "{data:?}");
    assert_eq!(full.get("tdm-policy").count(), 0, "{data:?}");
    assert!(!full.paywalled(), "cleared page is paywalled: {data:?}");
});
