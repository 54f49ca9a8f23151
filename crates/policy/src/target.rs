//! The URL a decision is about: parsed and checked before any policy looks at it.

use crate::decision::{Code, Reason};
use url::Url;

/// Parses `input` as an absolute `http` or `https` URL. Anything else is a [`Reason`] with
/// code `url.invalid` or `url.unsupported-scheme`, never a panic.
///
/// Parsing with the `url` crate gives the path exactly as an HTTP client built on it
/// (reqwest) will send it: dot segments removed, non-ASCII percent-encoded.
pub fn parse_url(input: &str) -> Result<Url, Reason> {
    let input = input.trim();
    // The URL parser silently removes tabs and line breaks inside a URL, which would judge a
    // different URL than the one given.
    // `char::is_control` is U+0000 to U+001F and U+007F to U+009F: bytes, for ASCII input.
    let control = if input.is_ascii() {
        input.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        input.contains(|c: char| c.is_control())
    };
    if control {
        return Err(Reason::new(Code::UrlInvalid)
            .with_detail("the URL contains a control character (tab, CR, LF, ...)"));
    }
    let url =
        Url::parse(input).map_err(|e| Reason::new(Code::UrlInvalid).with_detail(format!("{e}")))?;
    match url.scheme() {
        // Credentials in a URL would be sent to the site: Measure 1.2 forbids logging in.
        "http" | "https"
            if !url.username().is_empty() || url.password().is_some() || names_userinfo(input) =>
        {
            Err(Reason::new(Code::UrlUserinfo)
                .with_detail("the URL carries a user name or password; optout never logs in"))
        }
        "http" | "https" if url.host_str().is_none_or(str::is_empty) => {
            Err(Reason::new(Code::UrlInvalid).with_detail("the URL has no host"))
        }
        "http" | "https" => Ok(url),
        other => Err(Reason::new(Code::UrlUnsupportedScheme)
            .with_detail(format!("scheme {other:?} is not http or https"))),
    }
}

/// Whether `raw` (a URL as written, absolute or relative, e.g. a `Location` value) has user
/// information: an `@` in its authority, even with nothing before it (`http://@host/`),
/// which the URL parser drops silently. Read as the WHATWG URL parser reads `http(s)`
/// URLs: after the scheme, any number of `/` or `\`; the authority ends at `/`, `\`, `?` or
/// `#`. Other schemes, and a URL without one, have an authority only after `//`.
pub fn names_userinfo(raw: &str) -> bool {
    let raw = raw.trim();
    let scheme = raw.find(':').filter(|&i| {
        raw[..i].starts_with(|c: char| c.is_ascii_alphabetic())
            && raw[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let rest = scheme.map_or(raw, |i| &raw[i + 1..]);
    let authority = rest.trim_start_matches(['/', '\\']);
    let special = scheme.is_some_and(|i| {
        raw[..i].eq_ignore_ascii_case("http") || raw[..i].eq_ignore_ascii_case("https")
    });
    if !special && rest.len() - authority.len() < 2 {
        return false;
    }
    authority
        .split(['/', '\\', '?', '#'])
        .next()
        .is_some_and(|a| a.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_parse() {
        assert!(parse_url("http://example.com").is_ok());
        assert!(parse_url(" https://example.com/a?b#c ").is_ok());
    }

    /// Control characters (`char::is_control`: C0, DEL, C1) are refused anywhere in the URL,
    /// in ASCII input and beside non-ASCII characters alike; other characters are not.
    #[test]
    fn control_characters_are_invalid_anywhere() {
        for c in ['\0', '\t', '\u{1f}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}'] {
            for url in [
                format!("https://e.com/a{c}b"),
                format!("https://e.com/é{c}x"),
            ] {
                let reason = parse_url(&url).unwrap_err();
                assert_eq!(reason.code, Code::UrlInvalid, "{url:?}");
            }
        }
        for c in [' ', '~', '\u{a0}', 'é', '\u{2028}'] {
            assert!(parse_url(&format!("https://e.com/a{c}b")).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn bad_input_is_a_reason() {
        assert_eq!(parse_url("not a url").unwrap_err().code, Code::UrlInvalid);
        assert_eq!(parse_url("").unwrap_err().code, Code::UrlInvalid);
        assert_eq!(parse_url("http://").unwrap_err().code, Code::UrlInvalid);
        assert_eq!(
            parse_url("https://e.com/a\rhttps://e.com/b")
                .unwrap_err()
                .code,
            Code::UrlInvalid
        );
        assert_eq!(
            parse_url("ftp://example.com/x").unwrap_err().code,
            Code::UrlUnsupportedScheme
        );
        assert_eq!(
            parse_url("file:///etc/passwd").unwrap_err().code,
            Code::UrlUnsupportedScheme
        );
        assert_eq!(
            parse_url("https://user:pw@example.com/").unwrap_err().code,
            Code::UrlUserinfo
        );
        assert_eq!(
            parse_url("https://user@example.com/").unwrap_err().code,
            Code::UrlUserinfo
        );
        assert_eq!(
            parse_url("https://@example.com/").unwrap_err().code,
            Code::UrlUserinfo
        );
    }

    #[test]
    fn userinfo_is_seen_as_written() {
        for raw in [
            "http://@h/",
            "HTTP://u:p@h",
            "https:\\\\:@h/x",
            "//u@h/x",
            "\\\\u@h",
            "http:u@h",
        ] {
            assert!(names_userinfo(raw), "{raw}");
        }
        for raw in [
            "http://h/a@b",
            "http://h?a=@b",
            "/a@b",
            "a@b",
            "mailto:a@b.c",
            "http://h#@",
        ] {
            assert!(!names_userinfo(raw), "{raw}");
        }
    }
}
