//! The canonical octet form in which robots.txt paths and URI paths are compared.
//!
//! RFC 9309 §2.2.2: "Octets in the URI and robots.txt paths outside the range of the ASCII
//! coded character set, and those in the reserved range defined by [RFC3986], MUST be
//! percent-encoded ... prior to comparison." and "If a percent-encoded ASCII octet is
//! encountered in the URI, it MUST be unencoded prior to comparison, unless it is a reserved
//! character ... or the character is outside the unreserved character range." Figure 4 shows
//! the effect: `/foo/bar?baz=https://foo.bar` compares equal to
//! `/foo/bar?baz=https%3A%2F%2Ffoo.bar`, `/foo/bar/ツ` to `/foo/bar/%E3%83%84`, and
//! `/foo/bar/%62%61%7A` to `/foo/bar/baz`.
//!
//! One function gives both sides the same form, so that whatever spelling a site or a URL
//! uses, equal octets compare equal:
//! 1. every valid `%XX` escape is decoded to its octet (invalid `%` stays a literal `%`);
//! 2. octets that RFC 3986 allows literally in a URI (unreserved §2.3 and reserved §2.2)
//!    are written literally; every other octet (non-ASCII, controls, space, `"`, `<`, `>`,
//!    `\`, `^`, `` ` ``, `{`, `|`, `}`, and `%` itself) is written as `%XX`, upper-case hex.
//!
//! A reserved octet written as `%2F` and one written as `/` therefore compare equal. This is
//! the reading of Figure 4 (`https://` matches `https%3A%2F%2F`), and it makes a `Disallow`
//! match every spelling of the path it names, which is the careful side for a crawler.
//! The form is idempotent: `canonical(canonical(x)) == canonical(x)`.

use std::borrow::Cow;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// True for octets that RFC 3986 (§2.2 reserved, §2.3 unreserved) allows literally in a URI.
#[inline]
pub(crate) fn is_literal(b: u8) -> bool {
    matches!(b,
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~'
        | b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@'
        | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}

#[inline]
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the valid `%XX` escape at `input[i..]`, if there is one.
#[inline]
fn escape_at(input: &[u8], i: usize) -> Option<u8> {
    if input.get(i) != Some(&b'%') {
        return None;
    }
    let hi = hex_value(*input.get(i + 1)?)?;
    let lo = hex_value(*input.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

/// True when `input` is already in canonical form (the common case: plain ASCII paths).
fn is_canonical(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            match escape_at(input, i) {
                // An escape stays only for an octet that must be escaped, in upper-case hex.
                Some(v)
                    if !is_literal(v)
                        && !input[i + 1].is_ascii_lowercase()
                        && !input[i + 2].is_ascii_lowercase() =>
                {
                    i += 3;
                    continue;
                }
                _ => return false,
            }
        }
        if !is_literal(b) {
            return false;
        }
        i += 1;
    }
    true
}

fn push_octet(out: &mut Vec<u8>, b: u8) {
    if is_literal(b) {
        out.push(b);
    } else {
        out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
    }
}

/// Returns the canonical form of `input` (a URI path and query, or a piece of a robots.txt
/// path pattern). Borrows when `input` is already canonical.
pub fn canonical(input: &[u8]) -> Cow<'_, [u8]> {
    if is_canonical(input) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + 8);
    let mut i = 0;
    while i < input.len() {
        match escape_at(input, i) {
            Some(v) => {
                push_octet(&mut out, v);
                i += 3;
            }
            None => {
                push_octet(&mut out, input[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    fn c(s: &str) -> String {
        String::from_utf8(canonical(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn rfc9309_figure4_reserved_in_query_compares_equal() {
        assert_eq!(
            c("/foo/bar?baz=https://foo.bar"),
            c("/foo/bar?baz=https%3A%2F%2Ffoo.bar")
        );
    }

    #[test]
    fn rfc9309_figure4_non_ascii_is_encoded() {
        assert_eq!(c("/foo/bar/ツ"), "/foo/bar/%E3%83%84");
        assert_eq!(c("/foo/bar/%e3%83%84"), "/foo/bar/%E3%83%84");
    }

    #[test]
    fn rfc9309_figure4_unreserved_escapes_are_decoded() {
        assert_eq!(c("/foo/bar/%62%61%7A"), "/foo/bar/baz");
    }

    #[test]
    fn invalid_escape_is_a_literal_percent() {
        assert_eq!(c("/100%"), "/100%25");
        assert_eq!(c("/a%zz"), "/a%25zz");
        assert_eq!(c("/a%2"), "/a%252");
        assert_eq!(c("/a%25"), "/a%25");
    }

    #[test]
    fn characters_not_allowed_in_uris_are_encoded() {
        assert_eq!(c("/a b|c{d}"), "/a%20b%7Cc%7Bd%7D");
        assert_eq!(c("/a%7cb"), "/a%7Cb");
    }

    #[test]
    fn canonical_is_idempotent_on_samples() {
        for s in [
            "/",
            "/a%2Fb",
            "/%25%2525",
            "/ü/%C3%BC",
            "/%7e~",
            "/x?y=%3d&z",
        ] {
            assert_eq!(c(&c(s)), c(s), "{s}");
        }
    }

    #[test]
    fn borrows_when_already_canonical() {
        assert!(matches!(
            canonical(b"/plain/path?q=1"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
