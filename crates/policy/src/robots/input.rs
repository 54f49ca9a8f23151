//! Turning hostile robots.txt bytes into text that the `robotstxt` line parser accepts.
//!
//! `robotstxt` 0.3.0 has three input bugs that this module guards against:
//! - it truncates lines longer than 16,664 bytes by counting skipped *characters* as bytes,
//!   so a long line with a multi-byte character makes it slice inside a character and panic
//!   (and, when it does not panic, misplace the next line);
//! - its BOM skip compares characters with bytes, so a UTF-8 BOM is never skipped;
//! - it takes `&str`, so bytes that are not UTF-8 must be decoded first. A line that is not
//!   UTF-8 is decoded as Windows-1252 (Latin-1 as browsers read it, where every octet is a
//!   character), so that nothing is lost: RFC 9309 §2.2.2 "Implementors MAY bridge encoding
//!   mismatches if they detect that the robots.txt file is not UTF-8 encoded". The octets
//!   are recovered exactly by encoding the line back (see `collect`).
//!
//! The fixes keep line numbers unchanged, so that every reason can name the line as the site
//! owner sees it.

use std::borrow::Cow;

/// RFC 9309 §2.5: "The parsing limit MUST be at least 500 kibibytes".
pub const DEFAULT_PARSE_LIMIT: usize = 512 * 1024;

/// Google's parser ignores the part of a line past `2083 * 8 - 1` bytes. Lines are cut a few
/// bytes shorter, at a character boundary, so the crate never reaches its own cut.
const MAX_LINE_BYTES: usize = 2083 * 8 - 2;

/// The text to parse and what was done to get it.
pub(crate) struct Prepared<'a> {
    pub(crate) text: Cow<'a, str>,
    pub(crate) truncated: bool,
    pub(crate) invalid_utf8: bool,
    /// The numbers of the lines that are not UTF-8 and were decoded as Windows-1252, in
    /// order.
    pub(crate) bridged: Vec<u32>,
}

/// Applies the parse limit, skips a (possibly partial) UTF-8 BOM, decodes (lines that are
/// not UTF-8 as Windows-1252) and cuts over-long lines at a character boundary.
///
/// When the limit cuts a line in two, the partial line is dropped too: half of
/// `Allow: /public-area` would allow more than the site said.
pub(crate) fn prepare(bytes: &[u8], parse_limit: usize) -> Prepared<'_> {
    let mut bytes = bytes;
    let truncated = bytes.len() > parse_limit;
    if truncated {
        let cut = &bytes[..parse_limit];
        let keep = cut
            .iter()
            .rposition(|&b| b == b'\n' || b == b'\r')
            .map_or(0, |i| i + 1);
        bytes = &cut[..keep];
    }
    // Google skips a BOM prefix byte by byte, so a partial BOM is skipped as well.
    for &b in &[0xEF, 0xBB, 0xBF] {
        match bytes.split_first() {
            Some((&first, rest)) if first == b => bytes = rest,
            _ => break,
        }
    }
    let mut bridged = Vec::new();
    let (mut text, invalid_utf8) = match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (Cow::Owned(decode_lines(bytes, &mut bridged)), true),
    };
    // A BOM saved through a Latin-1 editor arrives as the characters `ï»¿` (C3 AF C2 BB
    // C2 BF). The site meant a BOM, so it is skipped too, character by character as the
    // robotstxt crate does (explicitly here, rather than by relying on that crate's bug).
    let mojibake = ['\u{EF}', '\u{BB}', '\u{BF}']
        .iter()
        .zip(text.chars())
        .take_while(|(bom, c)| *bom == c)
        .map(|(_, c)| c.len_utf8())
        .sum::<usize>();
    if mojibake > 0 {
        text = match text {
            Cow::Borrowed(s) => Cow::Borrowed(&s[mojibake..]),
            Cow::Owned(s) => Cow::Owned(s[mojibake..].to_owned()),
        };
    }
    let text = if needs_rewrite(&text) {
        Cow::Owned(rewrite_lines(&text))
    } else {
        text
    };
    Prepared {
        text,
        truncated,
        invalid_utf8,
        bridged,
    }
}

/// Decodes each line that is UTF-8 as UTF-8 and each other line as Windows-1252, noting the
/// latter in `bridged`: a file edited in two editors keeps the lines of both readable. Line
/// terminators are ASCII in both encodings, so lines keep their numbers.
fn decode_lines(bytes: &[u8], bridged: &mut Vec<u32>) -> String {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 8);
    let mut rest = bytes;
    let mut number = 1u32;
    loop {
        let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        match std::str::from_utf8(line) {
            Ok(text) => out.push_str(text),
            Err(_) => {
                out.push_str(
                    &encoding_rs::WINDOWS_1252
                        .decode_without_bom_handling(line)
                        .0,
                );
                bridged.push(number);
            }
        }
        let term = if rest[end..].starts_with(b"\r\n") {
            2
        } else {
            usize::from(end < rest.len())
        };
        // Terminators are ASCII.
        out.extend(rest[end..end + term].iter().map(|&b| char::from(b)));
        if term == 0 {
            return out;
        }
        rest = &rest[end + term..];
        number = number.saturating_add(1);
    }
}

/// Cuts over-long lines at a character boundary and removes leading spaces and tabs, which
/// Google strips before looking for the key (the crate only does so on lines with a `#`, so
/// `  Disallow /x` would otherwise be lost). Line terminators are kept exactly.
fn rewrite_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let end = memchr::memchr2(b'\r', b'\n', rest.as_bytes()).unwrap_or(rest.len());
        let line = rest[..end].trim_start_matches([' ', '\t']);
        out.push_str(&line[..line.floor_char_boundary(MAX_LINE_BYTES)]);
        // Keep the line terminator exactly as it was (CR, LF or CRLF).
        let term = if rest[end..].starts_with("\r\n") {
            2
        } else {
            usize::from(end < rest.len())
        };
        out.push_str(&rest[end..end + term]);
        rest = &rest[end + term..];
    }
    out
}

/// True when some line is too long or starts with a space or tab. Most files have neither,
/// and are then parsed without a copy.
fn needs_rewrite(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return true;
    }
    let mut start = 0;
    for end in memchr::memchr2_iter(b'\r', b'\n', bytes).chain([bytes.len()]) {
        if end - start > MAX_LINE_BYTES {
            return true;
        }
        start = end + 1;
        if bytes.get(start).is_some_and(|&b| b == b' ' || b == b'\t') {
            return true;
        }
    }
    false
}

/// Splits text into lines exactly as `robotstxt`'s parser numbers them: CR, LF and CRLF each
/// end a line, and the text after the last terminator is a (possibly empty) last line.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr2(b'\r', b'\n', current.as_bytes()) {
            Some(end) => {
                let term = if current[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[end + term..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_like_google() {
        let got: Vec<_> = lines("a\nb\r\nc\rd\n\r\ne").collect();
        assert_eq!(got, ["a", "b", "c", "d", "", "e"]);
        let got: Vec<_> = lines("a\n").collect();
        assert_eq!(got, ["a", ""]);
        let got: Vec<_> = lines("").collect();
        assert_eq!(got, [""]);
    }

    #[test]
    fn google_bom_full_and_partial_prefixes_are_skipped() {
        assert_eq!(prepare(b"\xEF\xBB\xBFUser", 100).text, "User");
        assert_eq!(prepare(b"\xEF\xBBUser", 100).text, "User");
        assert_eq!(prepare(b"\xEFUser", 100).text, "User");
        let odd = prepare(b"\xEF\x11\xBFUser", 100);
        assert!(odd.text.starts_with('\u{11}'));
        assert!(odd.invalid_utf8);
    }

    #[test]
    fn parse_limit_drops_the_partial_last_line() {
        let p = prepare(b"Allow: /a\nAllow: /public-area\n", 15);
        assert!(p.truncated);
        assert_eq!(p.text, "Allow: /a\n");
        let p = prepare(b"Allow: /a\n", 100);
        assert!(!p.truncated);
    }

    #[test]
    fn rfc9309_2_2_2_lines_not_utf8_are_decoded_as_windows_1252_and_noted() {
        let p = prepare(
            b"User-agent: *\r\nDisallow: /\xFCber/\nAllow: /\xC3\xBC\n\x80\r",
            100,
        );
        assert!(p.invalid_utf8);
        assert_eq!(
            p.text,
            "User-agent: *\r\nDisallow: /\u{FC}ber/\nAllow: /\u{FC}\n\u{20AC}\r"
        );
        assert_eq!(p.bridged, [2, 4]);
        assert!(prepare(b"Allow: /\xC3\xBC\n", 100).bridged.is_empty());
    }

    #[test]
    fn latin1_mangled_bom_is_skipped() {
        let p = prepare("\u{EF}\u{BB}\u{BF}User-agent: *".as_bytes(), 100);
        assert_eq!(p.text, "User-agent: *");
    }

    #[test]
    fn google_leading_whitespace_is_stripped_before_the_key() {
        let p = prepare(b"User-agent: a\n  \tDisallow /x\r\n", 100);
        assert_eq!(p.text, "User-agent: a\nDisallow /x\r\n");
    }

    #[test]
    fn long_lines_are_cut_at_a_char_boundary_and_keep_line_numbers() {
        let long = "é".repeat(20_000);
        let body = format!("User-agent: *\r\nDisallow: /{long}\r\nDisallow: /x\n");
        let p = prepare(body.as_bytes(), usize::MAX);
        let got: Vec<_> = lines(&p.text).collect();
        assert_eq!(got.len(), 4);
        assert!(got[1].len() <= MAX_LINE_BYTES);
        assert_eq!(got[2], "Disallow: /x");
        assert!(p.text.contains("\r\nDisallow: /x\n"));
    }
}
