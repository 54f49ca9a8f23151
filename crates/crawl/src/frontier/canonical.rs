//! The canonical key of a URL, for de-duplication only (the URL requested is the one found).
//!
//! RFC 3986 §6.2.2 syntax-based normalisation, as far as issue 13 asks and no further: the
//! fragment dropped (it never reaches the server, §3.5), scheme and host lower-cased
//! (§6.2.2.1), the default port dropped (§6.2.3), percent-encodings upper-cased (§6.2.2.1)
//! and those of unreserved characters (§2.3: ALPHA DIGIT `-` `.` `_` `~`) decoded
//! (§6.2.2.2). Nothing else changes: the query keeps its order, `+` stays `+`, reserved
//! characters stay encoded, since servers may tell them apart.
//!
//! The [`url`] crate has done part of this when the URL was parsed (WHATWG URL rules): it
//! lower-cases the scheme and a special scheme's host, drops a special scheme's default port
//! and removes dot-segments (including `%2e` ones). This module does the rest.

use url::{Position, Url};

/// The canonical key of `url`: see the module documentation. Idempotent: the key of a URL
/// parsed from a key is that key.
pub fn canonical_key(url: &Url) -> String {
    let before_host = &url[..Position::BeforeHost];
    let host = &url[Position::BeforeHost..Position::AfterHost];
    let after_host = &url[Position::AfterHost..Position::AfterQuery];
    let mut key = String::with_capacity(url.as_str().len());
    key.push_str(&normalise_escapes(before_host));
    key.push_str(&host.to_ascii_lowercase());
    let rest = match (url.port(), default_port(url.scheme())) {
        // Non-special schemes keep an explicit default port in `url`; drop it here.
        (Some(port), Some(default)) if port == default => {
            let explicit = format!(":{port}");
            after_host.strip_prefix(&explicit).unwrap_or(after_host)
        }
        _ => after_host,
    };
    key.push_str(&normalise_escapes(rest));
    key
}

/// The default port of the schemes the crawler requests.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `text` with every `%XY` escape upper-cased, and decoded if it encodes an unreserved
/// character. A `%` not followed by two hex digits is left as it is.
fn normalise_escapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match escape {
            Some((high, low)) => {
                let byte = high * 16 + low;
                if is_unreserved(byte) && !completes_stray_escape(&out, byte) {
                    out.push(char::from(byte));
                } else {
                    out.push('%');
                    out.push(char::from(HEX_UPPER[usize::from(high)]));
                    out.push(char::from(HEX_UPPER[usize::from(low)]));
                }
                i += 3;
            }
            None => {
                // Copy up to the next `%` in one piece (keeps multi-byte characters whole).
                let end = text[i + 1..].find('%').map_or(text.len(), |at| i + 1 + at);
                out.push_str(&text[i..end]);
                i = end;
            }
        }
    }
    out
}

/// Whether appending `byte` to `out` would turn a stray `%` at its end (`%` or `%X`, not a
/// valid escape) into one: `%a%30` stays `%a%30`, not `%a0`, which means another byte.
fn completes_stray_escape(out: &str, byte: u8) -> bool {
    let tail = out.as_bytes();
    byte.is_ascii_hexdigit()
        && (tail.ends_with(b"%")
            || (tail.len() >= 2
                && tail[tail.len() - 2] == b'%'
                && tail[tail.len() - 1].is_ascii_hexdigit()))
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 §2.3: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(url: &str) -> String {
        canonical_key(&Url::parse(url).expect("test URL parses"))
    }

    #[test]
    fn rfc3986_examples_are_equivalent() {
        // RFC 3986 §6.2.2: "eXAMPLE://a/./b/../b/%63/%7bfoo%7d" ≡ "example://a/b/c/%7Bfoo%7D".
        assert_eq!(
            key("HTTP://a/./b/../b/%63/%7bfoo%7d"),
            "http://a/b/c/%7Bfoo%7D"
        );
        assert_eq!(
            key("eXAMPLE://a/./b/../b/%63/%7bfoo%7d"),
            "example://a/b/c/%7Bfoo%7D"
        );
        // §6.2.2.1: case of scheme, host and percent-encodings.
        assert_eq!(key("HTTP://www.EXAMPLE.com/"), "http://www.example.com/");
        assert_eq!(key("http://example.com/a%3ab"), "http://example.com/a%3Ab");
        // §6.2.2.2: unreserved characters decoded, reserved ones kept encoded.
        assert_eq!(
            key("http://example.com/%41%7a%30%2D%2e%5f%7E"),
            "http://example.com/Az0-._~"
        );
        assert_eq!(
            key("http://example.com/%2f%3F%23%25"),
            "http://example.com/%2F%3F%23%25"
        );
        // §6.2.3: empty path, empty port and default port.
        for same in [
            "http://example.com",
            "http://example.com/",
            "http://example.com:/",
            "http://example.com:80/",
            "http://EXAMPLE.com/#frag",
        ] {
            assert_eq!(key(same), "http://example.com/", "{same}");
        }
        assert_eq!(key("https://example.com:443/x"), "https://example.com/x");
        assert_eq!(key("example://a:80/x"), "example://a:80/x");
    }

    #[test]
    fn nothing_else_changes() {
        // Query order, `+`, case outside the host, non-default ports, userinfo.
        assert_eq!(key("http://h/P?b=2&a=1+%7e#f"), "http://h/P?b=2&a=1+~");
        assert_eq!(key("http://h:8080/"), "http://h:8080/");
        assert_ne!(key("http://h/a"), key("http://h/A"));
        assert_ne!(key("http://h/?a=1&b=2"), key("http://h/?b=2&a=1"));
        assert_eq!(key("http://U%3a:p@h/"), "http://U%3A:p@h/");
        // Broken escapes are left alone; non-ASCII stays encoded as `url` encoded it.
        assert_eq!(key("http://h/%zz%4"), "http://h/%zz%4");
        // Decoding never makes a new escape out of a stray `%`.
        assert_eq!(key("http://h/%a%30%%34%31"), "http://h/%a%30%%341");
        assert_eq!(key("http://h/%%%30"), "http://h/%%%30");
        assert_eq!(key("http://h/é%e9"), "http://h/%C3%A9%E9");
    }

    proptest! {
        #[test]
        fn canonical_key_is_idempotent_and_never_panics(
            host in "[a-zA-Z0-9.-]{1,12}",
            path in "(%[0-9a-fA-F]{0,2}|[a-zA-Z0-9./?#&=+~_!$'()*,;:@é-]){0,40}",
        ) {
            if let Ok(url) = Url::parse(&format!("http://{host}/{path}")) {
                let first = canonical_key(&url);
                let again = Url::parse(&first).map(|u| canonical_key(&u));
                prop_assert_eq!(Ok(first.clone()), again);
                prop_assert!(first.len() <= url.as_str().len());
            }
        }

        #[test]
        fn canonical_key_never_panics_on_any_text(text in ".{0,80}") {
            if let Ok(url) = Url::parse(&text) {
                let first = canonical_key(&url);
                if let Ok(again) = Url::parse(&first) {
                    let _ = canonical_key(&again);
                }
            }
        }
    }
}
