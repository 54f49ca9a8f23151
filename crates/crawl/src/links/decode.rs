//! How a page's bytes become text for the tokenizer, as a browser decides it (WHATWG HTML
//! §13.2.3.2, "determining the character encoding"): a byte order mark, then the `charset` of
//! the `Content-Type`, then a `<meta charset>` in the page (which `lol_html` switches to as it
//! reads, for ASCII-compatible encodings), else UTF-8.
//!
//! `lol_html` reads only ASCII-compatible encodings. A UTF-16 (or ISO-2022-JP) page is
//! decoded to UTF-8 in chunks with `encoding_rs` first: memory stays bounded. A page labelled
//! with a `replacement` encoding (`iso-2022-kr`, ...) is one U+FFFD to a browser: no links.
//!
//! The encoding also matters after reading: the query of a relative URL is percent-encoded in
//! the page's encoding (WHATWG URL §4.4, "encoding override"; UTF-16 pages use UTF-8).

use encoding_rs::{CoderResult, Encoding, REPLACEMENT, UTF_8};
use lol_html::AsciiCompatibleEncoding;
use lol_html::html_content::Element;

/// The bytes of a page and how to read them.
pub(super) struct Reading<'b> {
    bytes: &'b [u8],
    /// The encoding the bytes are in.
    source: &'static Encoding,
    /// Whether a `<meta charset>` may still decide (no BOM, no HTTP charset).
    meta_may_switch: bool,
}

/// How `body`, served as `content_type`, is read; `None` when a browser shows no content.
pub(super) fn reading<'b>(body: &'b [u8], content_type: Option<&str>) -> Option<Reading<'b>> {
    if let Some((source, bom)) = Encoding::for_bom(body) {
        return Some(Reading {
            bytes: &body[bom..],
            source,
            meta_may_switch: false,
        });
    }
    let labelled = content_type
        .and_then(optout_policy::html::charset)
        .and_then(Encoding::for_label);
    if labelled == Some(REPLACEMENT) {
        return None;
    }
    Some(Reading {
        bytes: body,
        source: labelled.unwrap_or(UTF_8),
        meta_may_switch: labelled.is_none(),
    })
}

impl Reading<'_> {
    /// The encoding the tokenizer reads: the page's own, or UTF-8 when the page is decoded
    /// first.
    pub(super) fn tokenizer_encoding(&self) -> AsciiCompatibleEncoding {
        AsciiCompatibleEncoding::new(self.source).unwrap_or_else(AsciiCompatibleEncoding::utf_8)
    }

    /// The page's encoding as known before reading.
    pub(super) fn encoding(&self) -> PageEncoding {
        PageEncoding {
            encoding: self.source,
            meta_may_switch: self.meta_may_switch,
            switched: false,
        }
    }

    /// Calls `feed` with the page in the tokenizer's encoding, in chunks of about `size`
    /// bytes, until it returns false.
    pub(super) fn for_each_chunk(&self, size: usize, mut feed: impl FnMut(&[u8]) -> bool) {
        if self.source.is_ascii_compatible() {
            for chunk in self.bytes.chunks(size.max(1)) {
                if !feed(chunk) {
                    return;
                }
            }
            return;
        }
        let mut decoder = self.source.new_decoder_without_bom_handling();
        let mut out = vec![0; size.max(16)];
        let mut input = self.bytes;
        loop {
            let (result, read, written, _) = decoder.decode_to_utf8(input, &mut out, true);
            input = &input[read..];
            if written > 0 && !feed(&out[..written]) {
                return;
            }
            if result == CoderResult::InputEmpty {
                return;
            }
        }
    }
}

/// The page's encoding, for the query of its URLs.
pub(super) struct PageEncoding {
    encoding: &'static Encoding,
    meta_may_switch: bool,
    switched: bool,
}

impl PageEncoding {
    /// Whether a `<meta charset>` may still set the encoding.
    pub(super) fn meta_may_switch(&self) -> bool {
        self.meta_may_switch
    }

    /// Notes the encoding a `<meta>` declares, as `lol_html` switches to it: the first one
    /// naming an ASCII-compatible encoding, by `charset` or `http-equiv="Content-Type"`.
    pub(super) fn read_meta(&mut self, el: &Element) {
        if !self.meta_may_switch || self.switched {
            return;
        }
        let label = super::attr(el, "charset").or_else(|| {
            let http_equiv = super::attr(el, "http-equiv")?;
            if !http_equiv.eq_ignore_ascii_case("content-type") {
                return None;
            }
            let content = super::attr(el, "content")?;
            optout_policy::html::charset(&content).map(|l| String::from_utf8_lossy(l).into())
        });
        let declared = label
            .and_then(|l| Encoding::for_label_no_replacement(l.as_bytes()))
            .filter(|e| e.is_ascii_compatible());
        if let Some(encoding) = declared {
            self.encoding = encoding;
            self.switched = true;
        }
    }

    /// The encoding queries are percent-encoded in (UTF-8 for UTF-16 pages).
    pub(super) fn query_encoding(&self) -> &'static Encoding {
        self.encoding.output_encoding()
    }
}
