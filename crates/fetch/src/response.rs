//! What a response says about itself before it is judged: access control, redirects,
//! statuses without content, codings left on, markup without a `Content-Type`. Pure.

use optout_policy::{Code, Decision, Reason, Verdict};
use reqwest::header::{CONTENT_ENCODING, HeaderMap, LOCATION};
use url::Url;

/// Whether a body without a `Content-Type` starts like markup: `<` after white space, also
/// after a UTF-8 or UTF-16 byte order mark (UTF-16 puts a zero byte beside each ASCII one).
pub(super) fn looks_like_markup(body: &[u8]) -> bool {
    let utf16 = |rest: &[u8], le: bool| {
        rest.chunks_exact(2)
            .map(|pair| {
                if le {
                    [pair[0], pair[1]]
                } else {
                    [pair[1], pair[0]]
                }
            })
            .find(|[low, high]| !(*high == 0 && low.is_ascii_whitespace()))
            .is_some_and(|unit| unit == [b'<', 0])
    };
    match body {
        [0xEF, 0xBB, 0xBF, rest @ ..] => rest.trim_ascii_start().starts_with(b"<"),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => body.trim_ascii_start().starts_with(b"<"),
    }
}

/// Statuses that mean access is controlled (Measure 1.2: never circumvented).
pub(super) const ACCESS_DENIED: [u16; 5] = [401, 402, 403, 407, 451];

/// Statuses tried again after backing off: the host is busy (429, 503) or it, or a gateway
/// before it, failed on the way (500, 502, 504; RFC 9110 §15.6). Other 5xx are not transient.
pub(super) const RETRIED: [u16; 5] = [429, 500, 502, 503, 504];

/// The headers of Cloudflare's pay per crawl: the price a 402 asks (`crawler-price`), why a
/// paid request failed (`crawler-error`), what a 2xx was charged (`crawler-charged`), and
/// the request headers that agree to pay, which optout never sends.
const PAY_PER_CRAWL: [&str; 5] = [
    "crawler-price",
    "crawler-error",
    "crawler-charged",
    "crawler-exact-price",
    "crawler-max-price",
];

/// The first header of `names` in `headers` as `name: value` (cut to 100 characters).
fn first_header(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let value = headers.get(*name)?;
        let value: String = String::from_utf8_lossy(value.as_bytes())
            .chars()
            .take(100)
            .collect();
        Some(format!("{name}: {value}"))
    })
}

/// Why a response that answers the request is refused: access is controlled, or sold.
pub(super) fn access_control(status: u16, headers: &HeaderMap) -> Option<Reason> {
    if status == 402
        && let Some(offer) = first_header(headers, &PAY_PER_CRAWL)
    {
        return Some(
            Reason::new(Code::AccessPaymentRequired).with_detail(format!(
                "HTTP 402 pay per crawl ({offer}): never paid, never retried"
            )),
        );
    }
    ACCESS_DENIED.contains(&status).then(|| {
        Reason::new(Code::AccessDenied).with_detail(format!(
            "HTTP {status}: access is controlled; not retried with other credentials, headers or agents"
        ))
    })
}

/// A response that says it was charged for (`crawler-charged`) was sold, and optout never
/// offered to buy it (it sends no `crawler-exact-price` or `crawler-max-price`): discarded.
pub(super) fn charged(headers: &HeaderMap) -> Option<Reason> {
    first_header(headers, &["crawler-charged"]).map(|header| {
        Reason::new(Code::AccessPaymentRequired).with_detail(format!(
            "{header}: a charge optout never agreed to; not collected"
        ))
    })
}

/// Where a redirect points, or why it cannot be followed (no `Location`, an empty or
/// unparsable one, or a scheme other than http and https): `fetch.bad-redirect`.
pub(super) fn redirect_target(url: &Url, status: u16, headers: &HeaderMap) -> Result<Url, Reason> {
    let bad = |why: String| {
        Reason::new(Code::FetchBadRedirect)
            .with_detail(format!("HTTP {status} {why}; not followed"))
    };
    let Some(location) = headers.get(LOCATION) else {
        return Err(bad("without a Location".into()));
    };
    let shown: String = String::from_utf8_lossy(location.as_bytes())
        .chars()
        .take(100)
        .collect();
    let location = location
        .to_str()
        .map_err(|_| bad(format!("with a Location that is not text ({shown:?})")))?
        .trim();
    if location.is_empty() {
        return Err(bad("with an empty Location".into()));
    }
    let next = url.join(location).map_err(|e| {
        bad(format!(
            "with a Location that is not a URL ({shown:?}: {e})"
        ))
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(bad(format!("to a {}: URL ({shown:?})", next.scheme())));
    }
    Ok(next)
}

/// Why a final response that is neither a redirect nor access control carries no content of
/// the URL, if it does not. A `plain` request asked for no part (`Range`) and had no
/// validators, so a 206 or 304 answers nothing it asked. A body still in a
/// `Content-Encoding` (the client removes the header of the codings it decoded) cannot be
/// read, so what it reserves is unknown.
pub(super) fn not_content(status: u16, headers: &HeaderMap, plain: bool) -> Option<Reason> {
    let why = match status {
        500..=599 => {
            return Some(Reason::new(Code::FetchServerError).with_detail(format!(
                "HTTP {status}: a server's error page is not the content"
            )));
        }
        100..=199 => "an informational status is not a final response",
        204 | 205 => "no content",
        206 if plain => "part of a response to a request for the whole",
        304 if plain => "not modified, to a request without validators",
        600.. | 0..100 => "not an HTTP status (RFC 9110 §15: 100-599)",
        _ => {
            let coding = undecoded(headers)?;
            return Some(Reason::new(Code::FetchNotContent).with_detail(format!(
                "HTTP {status}: the body is still in Content-Encoding {coding:?}; what it says cannot be read"
            )));
        }
    };
    Some(Reason::new(Code::FetchNotContent).with_detail(format!("HTTP {status}: {why}")))
}

/// The first content coding (RFC 9110 §8.4) left on a response, other than `identity`: one
/// the client did not decode (it removes the header of those it did).
pub(super) fn undecoded(headers: &HeaderMap) -> Option<String> {
    headers.get_all(CONTENT_ENCODING).iter().find_map(|value| {
        String::from_utf8_lossy(value.as_bytes())
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .find(|c| !c.is_empty() && c != "identity")
            .map(|c| c.chars().take(40).collect())
    })
}

/// The reasons of a request that was allowed but brought no content: why, then why it was
/// allowed (recorded with the verdict `allowed`; `optout fetch` prints `failed`).
pub(super) fn failed(reason: Reason, decision: &Decision) -> Vec<Reason> {
    std::iter::once(reason)
        .chain(decision.reasons.iter().cloned())
        .collect()
}

/// Why a retried status was given up: the host stayed busy (429/503: `politeness.gave-up`,
/// refused), or kept failing (500/502/504: `fetch.server-error`, a failed request). A
/// `Retry-After` longer than `politeness.max_backoff_s` is not waited: the detail says until
/// when the host (`key`) is blocked, and nothing is sent to it before then.
pub(super) fn gave_up(
    status: u16,
    tries: u32,
    key: &str,
    backoff: &optout_net::Backoff,
) -> (Verdict, Reason) {
    let detail = if backoff.within {
        format!("HTTP {status} after {tries} tries")
    } else {
        format!(
            "HTTP {status} with Retry-After longer than politeness.max_backoff_s; {key} is blocked until {}",
            optout_net::politeness::rfc3339(backoff.until)
        )
    };
    if matches!(status, 429 | 503) {
        (
            Verdict::Refused,
            Reason::new(Code::PolitenessGaveUp).with_detail(detail),
        )
    } else {
        let detail = format!("{detail}; a server's error page is not the content");
        (
            Verdict::Allowed,
            Reason::new(Code::FetchServerError).with_detail(detail),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn only_http_locations_that_parse_are_followed() {
        let url = Url::parse("http://example.com/a/b").unwrap();
        let target =
            |location: &[u8]| redirect_target(&url, 302, &headers(&[("location", location)]));
        assert_eq!(
            target(b" c?d ").unwrap().as_str(),
            "http://example.com/a/c?d"
        );
        assert_eq!(
            target(b"https://other.example/").unwrap().as_str(),
            "https://other.example/"
        );
        for bad in [
            &b""[..],
            b"   ",
            b"http://[::1",
            b"ftp://example.com/",
            b"javascript:x",
            b"/\xff",
        ] {
            let reason = target(bad).unwrap_err();
            assert_eq!(reason.code, Code::FetchBadRedirect, "{bad:?}");
        }
        assert!(redirect_target(&url, 301, &HeaderMap::new()).is_err());
    }

    #[test]
    fn content_codings_left_on_a_response_are_found() {
        assert_eq!(undecoded(&HeaderMap::new()), None);
        assert_eq!(
            undecoded(&headers(&[("content-encoding", b" Identity ")])),
            None
        );
        let stacked = headers(&[("content-encoding", b"identity, GZIP")]);
        assert_eq!(undecoded(&stacked).as_deref(), Some("gzip"));
        let long = [b'x'; 500];
        assert_eq!(
            undecoded(&headers(&[("content-encoding", &long)]))
                .unwrap()
                .len(),
            40
        );
    }

    #[test]
    fn statuses_without_content() {
        let none = HeaderMap::new();
        for status in [100, 101, 103, 204, 205, 206, 304, 600, 999] {
            let reason = not_content(status, &none, true).unwrap();
            assert_eq!(reason.code, Code::FetchNotContent, "{status}");
        }
        for status in [500, 501, 599] {
            let reason = not_content(status, &none, true).unwrap();
            assert_eq!(reason.code, Code::FetchServerError, "{status}");
        }
        for status in [200, 203, 299, 404, 410] {
            assert!(not_content(status, &none, true).is_none(), "{status}");
        }
        // A caller's own request may have been conditional or ranged.
        assert!(not_content(304, &none, false).is_none());
        assert!(not_content(206, &none, false).is_none());
    }

    #[test]
    fn markup_is_sniffed_through_byte_order_marks() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(" \n<html>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("<html>".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for body in [&b"  <html>"[..], b"\xEF\xBB\xBF<p>", &le, &be] {
            assert!(looks_like_markup(body), "{body:?}");
        }
        for body in [
            &b"plain"[..],
            b"",
            b"\xFF\xFE",
            b"\xFF\xFEx\x00<\x00",
            b"\xFE\xFF<\x00",
        ] {
            assert!(!looks_like_markup(body), "{body:?}");
        }
    }
}
