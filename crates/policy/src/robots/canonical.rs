//! The canonical octet forms in which robots.txt paths and URI paths are compared.
//!
//! RFC 9309 §2.2.2: "Octets in the URI and robots.txt paths outside the range of the ASCII
//! coded character set, and those in the reserved range defined by [RFC3986], MUST be
//! percent-encoded ... prior to comparison." and "If a percent-encoded ASCII octet is
//! encountered in the URI, it MUST be unencoded prior to comparison, unless it is a reserved
//! character ... or the character is outside the unreserved character range." Figure 4:
//! `/foo/bar/ツ` compares as `/foo/bar/%E3%83%84`, and `/foo/bar/%62%61%7A` as
//! `/foo/bar/baz`.
//!
//! [`canonical`] is that form, applied to both sides: escapes of unreserved octets are
//! decoded; escapes of every other octet stay (upper-case hex); raw octets outside RFC 3986's
//! unreserved and reserved sets (non-ASCII, controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``,
//! `{`, `|`, `}`, a `%` that starts no escape) are encoded. `%2F` and `/` stay different.
//!
//! [`loose`] also decodes escapes of reserved octets, so that `%2F` equals `/` and
//! `https%3A%2F%2F` equals `https://` (Figure 4's first example). Matching uses it only on
//! the careful side: a `Disallow` (or any reservation) matches if either form matches; an
//! `Allow`, and the implicit allow of `/robots.txt`, only in the strict form. So no spelling
//! of a path escapes a `Disallow`, and no spelling widens an `Allow`.
//!
//! [`google`] is the form Google's parser compares in (a third reading): no escape is decoded,
//! only non-ASCII octets are encoded and escapes upper-cased. It is used only for patterns
//! with a `%` that starts no escape (`/100%`, `/a%2*`), where the RFC form cannot tell a
//! literal `%` from the start of an escape in the URL (see `pattern`).
//!
//! All forms are idempotent.

use std::borrow::Cow;
use std::cell::OnceCell;

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

/// RFC 3986 §2.3 unreserved octets.
#[inline]
fn is_unreserved(b: u8) -> bool {
    matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~')
}

/// True when `input` is already in the form where escapes of octets `decode` accepts are
/// decoded (the common case: plain ASCII paths).
fn is_normal(input: &[u8], decode: fn(u8) -> bool) -> bool {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            match escape_at(input, i) {
                // An escape stays only for an octet that is not decoded, in upper-case hex.
                Some(v)
                    if !decode(v)
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

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
}

fn normalise(input: &[u8], decode: fn(u8) -> bool) -> Cow<'_, [u8]> {
    if is_normal(input, decode) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + 8);
    let mut i = 0;
    while i < input.len() {
        match escape_at(input, i) {
            Some(v) => {
                if decode(v) {
                    out.push(v);
                } else {
                    push_escaped(&mut out, v);
                }
                i += 3;
            }
            None => {
                let b = input[i];
                if is_literal(b) {
                    out.push(b);
                } else {
                    push_escaped(&mut out, b);
                }
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// The RFC 9309 §2.2.2 form of `input` (a URI path and query, or a piece of a robots.txt
/// path pattern): unreserved escapes decoded. Borrows when `input` is already in that form.
pub fn canonical(input: &[u8]) -> Cow<'_, [u8]> {
    normalise(input, is_unreserved)
}

/// The loose form: every escape of an octet allowed literally in a URI decoded, so reserved
/// octets compare equal to their escapes. For matching reservations only (see the module).
pub fn loose(input: &[u8]) -> Cow<'_, [u8]> {
    normalise(input, is_literal)
}

/// Google's form of `input` (its `MaybeEscapePattern`, applied to both sides): octets
/// outside ASCII percent-encoded, valid escapes in upper-case hex, everything else as it is.
/// A `%` that starts no escape stays a bare `%`. Borrows when nothing changes.
pub fn google(input: &[u8]) -> Cow<'_, [u8]> {
    let changes = |i: usize| {
        input[i] >= 0x80
            || (escape_at(input, i).is_some()
                && (input[i + 1].is_ascii_lowercase() || input[i + 2].is_ascii_lowercase()))
    };
    if !(0..input.len()).any(changes) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + 8);
    let mut i = 0;
    while i < input.len() {
        match escape_at(input, i) {
            Some(v) => {
                push_escaped(&mut out, v);
                i += 3;
            }
            None if input[i] >= 0x80 => {
                push_escaped(&mut out, input[i]);
                i += 1;
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// True when some `%` in `input` starts no `%XX` escape (`/100%`, `/a%zz`, `/a%2`).
pub(crate) fn has_stray_percent(input: &[u8]) -> bool {
    memchr::memchr_iter(b'%', input).any(|i| escape_at(input, i).is_none())
}

/// A path (with query) in its forms, computed once per decision.
#[derive(Clone, Debug)]
pub struct PathForms<'a> {
    /// The RFC 9309 form.
    pub strict: Cow<'a, [u8]>,
    /// The loose form, when it differs (only paths with a `%` can differ).
    pub loose: Option<Cow<'a, [u8]>>,
    /// The path as given, for Google's form.
    raw: &'a [u8],
    /// Google's form, computed the first time a pattern with a stray `%` asks for it.
    google: OnceCell<Cow<'a, [u8]>>,
}

impl<'a> PathForms<'a> {
    /// The forms of `path`.
    pub fn of(path: &'a str) -> PathForms<'a> {
        let bytes = path.as_bytes();
        let strict = canonical(bytes);
        let loose = if bytes.contains(&b'%') {
            let l = loose(bytes);
            (l.as_ref() != strict.as_ref()).then_some(l)
        } else {
            None
        };
        PathForms {
            strict,
            loose,
            raw: bytes,
            google: OnceCell::new(),
        }
    }

    /// The loose form (the strict one when they are equal).
    pub fn loose(&self) -> &[u8] {
        self.loose.as_deref().unwrap_or(&self.strict)
    }

    /// Google's form ([`google`]).
    pub fn google(&self) -> &[u8] {
        self.google.get_or_init(|| google(self.raw))
    }
}

#[cfg(test)]
mod tests {
    use super::{canonical, google, has_stray_percent, loose};

    fn c(s: &str) -> String {
        String::from_utf8(canonical(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn rfc9309_reserved_escapes_stay_encoded_in_the_strict_form() {
        assert_eq!(c("/a%2fb"), "/a%2Fb");
        assert_ne!(c("/a%2Fb"), c("/a/b"));
        assert_eq!(c("/robots.txt%3Fx"), "/robots.txt%3Fx");
    }

    #[test]
    fn rfc9309_figure4_reserved_in_query_compares_equal_loosely() {
        let l = |s: &str| String::from_utf8(loose(s.as_bytes()).into_owned()).unwrap();
        assert_eq!(
            l("/foo/bar?baz=https://foo.bar"),
            l("/foo/bar?baz=https%3A%2F%2Ffoo.bar")
        );
        assert_eq!(l("/a%20b"), "/a%20b");
        assert_eq!(l(&l("/x%2F%25%7e")), l("/x%2F%25%7e"));
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
        assert_eq!(c("/%7e"), "/~");
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

    #[test]
    fn google_parser_form_encodes_non_ascii_and_upper_cases_escapes_only() {
        let g = |s: &[u8]| String::from_utf8(google(s).into_owned()).unwrap();
        assert_eq!(g(b"/a%zz/%e3%83%84/%41"), "/a%zz/%E3%83%84/%41");
        assert_eq!(g("/café%".as_bytes()), "/caf%C3%A9%");
        assert_eq!(g(b"/caf\xE9"), "/caf%E9");
        assert_eq!(g(g(b"/x%2f%").as_bytes()), g(b"/x%2f%"));
        assert!(matches!(
            google(b"/100%/a%2F"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn stray_percent_is_a_percent_that_starts_no_escape() {
        for s in ["/100%", "/a%zz", "/a%2", "/%", "/a%2*", "/%%41"] {
            assert!(has_stray_percent(s.as_bytes()), "{s}");
        }
        for s in ["/a%2F", "/%E3%83%84", "/plain", "/%25"] {
            assert!(!has_stray_percent(s.as_bytes()), "{s}");
        }
    }
}
