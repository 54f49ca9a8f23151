//! What a policy-file fetch means, decided in one side-effect-free function
//! ([`classify`]) before anyone acts on it. RFC 9309 §2.3.1 gives the rules.

use super::client::{FetchError, Response};
use reqwest::header::{CACHE_CONTROL, ETAG, HeaderMap, LAST_MODIFIED, RETRY_AFTER};
use std::time::{Duration, SystemTime};
use url::Url;

/// RFC 9309 §2.3.1.2: "crawlers SHOULD follow at least five consecutive redirects".
pub const MAX_REDIRECTS: usize = 5;

/// How a fetch ended, after following redirects.
#[derive(Clone, Debug)]
pub enum Ending {
    /// A final (non-redirect) response.
    Response(Response),
    /// The request failed.
    Failed(FetchError),
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects,
    /// A redirect back to a URL already visited.
    Loop(Url),
    /// A redirect without a usable `Location`.
    BadRedirect(String),
    /// Not requested: the host is blocked by its server for longer than optout waits.
    Blocked(super::politeness::Blocked),
}

/// A fetch of one policy file, every hop of it.
#[derive(Clone, Debug)]
pub struct Trace {
    /// The URL first requested (`<origin>/robots.txt`).
    pub requested: Url,
    /// Each redirect target, in order.
    pub hops: Vec<Url>,
    /// How it ended.
    pub ending: Ending,
}

/// The HTTP validators of a response, for a conditional refetch.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    /// `ETag`, sent back as `If-None-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified`, sent back as `If-Modified-Since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// What a fetch of a policy file says.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// 2xx: the body is the file (RFC 9309 §2.3.1.1).
    Parsed {
        /// The status code.
        status: u16,
        /// The body, up to the read limit.
        body: Vec<u8>,
        /// The body was longer than the read limit.
        truncated: bool,
        /// How long it may be cached (`Cache-Control: max-age`), if the server said.
        max_age: Option<Duration>,
        /// Its validators.
        validators: Validators,
    },
    /// 4xx other than 429: the file is unavailable (§2.3.1.3).
    Unavailable {
        /// The status code.
        status: u16,
        /// The body (what the server said), up to the read limit.
        body: Vec<u8>,
        /// How long it may be cached, if the server said.
        max_age: Option<Duration>,
    },
    /// 304 to a conditional request: the cached copy is still the file.
    NotModified {
        /// How long it may now be cached, if the server said.
        max_age: Option<Duration>,
    },
    /// 429, 5xx, another status, or a network failure: nothing is known (§2.3.1.4).
    Unreachable {
        /// The status code, if there was a response.
        status: Option<u16>,
        /// What happened, on one line.
        detail: String,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Too many redirects, or a loop (§2.3.1.2): fail closed.
    RedirectLimit {
        /// What happened.
        detail: String,
    },
    /// The host is (or resolves to) a refused address.
    PrivateAddress {
        /// What the guard said.
        detail: String,
    },
}

/// Classifies a fetch. `now` reads `Retry-After` dates.
pub fn classify(trace: Trace, now: SystemTime) -> Outcome {
    let response = match trace.ending {
        Ending::Response(response) => response,
        Ending::Failed(FetchError::PrivateAddress(detail)) => {
            return Outcome::PrivateAddress { detail };
        }
        Ending::Failed(e) => {
            return Outcome::Unreachable {
                status: None,
                detail: e.to_string(),
                retry_after: None,
            };
        }
        Ending::TooManyRedirects => {
            return Outcome::RedirectLimit {
                detail: format!("more than {MAX_REDIRECTS} redirects"),
            };
        }
        Ending::Loop(url) => {
            return Outcome::RedirectLimit {
                detail: format!("redirect loop back to {url}"),
            };
        }
        Ending::BadRedirect(detail) => {
            return Outcome::Unreachable {
                status: None,
                detail,
                retry_after: None,
            };
        }
        // Nothing is known (RFC 9309 §2.3.1.4) until the server allows the next request.
        Ending::Blocked(blocked) => {
            return Outcome::Unreachable {
                status: None,
                retry_after: Some(blocked.until.duration_since(now).unwrap_or_default()),
                detail: blocked.to_string(),
            };
        }
    };
    let Response {
        status,
        headers,
        body,
        truncated,
        ..
    } = response;
    let max_age = max_age(&headers);
    match status {
        200..=299 => Outcome::Parsed {
            status,
            body,
            truncated,
            max_age,
            validators: Validators {
                etag: text(&headers, ETAG),
                last_modified: text(&headers, LAST_MODIFIED),
            },
        },
        304 => Outcome::NotModified { max_age },
        429 => Outcome::Unreachable {
            status: Some(status),
            detail: "HTTP 429 Too Many Requests".into(),
            retry_after: retry_after(&headers, now),
        },
        400..=499 => Outcome::Unavailable {
            status,
            body,
            max_age,
        },
        _ => Outcome::Unreachable {
            status: Some(status),
            detail: format!("HTTP {status}"),
            retry_after: retry_after(&headers, now),
        },
    }
}

fn text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `Cache-Control: max-age=N` (RFC 9111 §5.2.2.1), `s-maxage` ignored (we are not shared);
/// `no-store` and `no-cache` mean zero. The smallest value wins when several are given.
pub fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
            let seconds = match name.trim().to_ascii_lowercase().as_str() {
                // An invalid max-age is stale (RFC 9111 §4.2.1): zero.
                "max-age" => delta_seconds(arg.trim().trim_matches('"')).unwrap_or_default(),
                "no-store" | "no-cache" => 0,
                _ => continue,
            };
            found = Some(found.map_or(seconds, |f| f.min(seconds)));
        }
    }
    found.map(Duration::from_secs)
}

/// `delay-seconds = 1*DIGIT` (RFC 9110 §10.2.3, RFC 9111 §1.2.2). Digits too many for a
/// `u64` are the largest value, not an error: "a delta-seconds value greater than the
/// greatest integer it can represent" is that integer (RFC 9111 §1.2.2), and a server asking
/// to wait longer than a `u64` of seconds asks for a very long wait, not for none.
fn delta_seconds(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). An oversized number is
/// the longest wait (`delta_seconds`), which the caller's maximum turns into giving up.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Some(seconds) = delta_seconds(value) {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn response(status: u16, headers: &[(&'static str, &'static str)]) -> Trace {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(*n, HeaderValue::from_static(v));
        }
        Trace {
            requested: Url::parse("http://example.com/robots.txt").unwrap(),
            hops: vec![],
            ending: Ending::Response(Response {
                status,
                headers: map,
                body: b"User-agent: *\nDisallow: /\n".to_vec(),
                truncated: false,
                remote_addr: None,
                version: "HTTP/1.1",
            }),
        }
    }

    fn kind(status: u16) -> &'static str {
        match classify(response(status, &[]), SystemTime::UNIX_EPOCH) {
            Outcome::Parsed { .. } => "parsed",
            Outcome::Unavailable { .. } => "unavailable",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::NotModified { .. } => "not-modified",
            Outcome::RedirectLimit { .. } => "redirect-limit",
            Outcome::PrivateAddress { .. } => "private",
        }
    }

    #[test]
    fn rfc9309_2_3_1_status_codes() {
        assert_eq!(kind(200), "parsed");
        assert_eq!(kind(204), "parsed");
        for status in [400, 401, 403, 404, 410, 451] {
            assert_eq!(kind(status), "unavailable", "{status}");
        }
        for status in [429, 500, 502, 503, 504, 599, 100, 600, 302] {
            assert_eq!(kind(status), "unreachable", "{status}");
        }
        assert_eq!(kind(304), "not-modified");
    }

    #[test]
    fn cache_control_max_age() {
        let get = |v: &'static str| max_age(&response_headers(v));
        assert_eq!(get("max-age=60"), Some(Duration::from_secs(60)));
        assert_eq!(get("public, MAX-AGE=\"30\""), Some(Duration::from_secs(30)));
        assert_eq!(get("no-cache"), Some(Duration::ZERO));
        assert_eq!(get("max-age=abc"), Some(Duration::ZERO));
        assert_eq!(get("private"), None);
    }

    fn response_headers(v: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(CACHE_CONTROL, HeaderValue::from_static(v));
        map
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&map, now), Some(Duration::from_secs(120)));
        map.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&map, now), Some(Duration::ZERO));
        map.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&map, now), None);
    }

    /// A number too long for a `u64` is a very long wait, never none (which would retry at
    /// once), and a max-age too long is the longest lifetime (RFC 9111 §1.2.2).
    #[test]
    fn oversized_delta_seconds_are_the_longest() {
        let now = SystemTime::UNIX_EPOCH;
        let mut map = HeaderMap::new();
        for value in ["18446744073709551615", "99999999999999999999999"] {
            map.insert(RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(retry_after(&map, now), Some(Duration::from_secs(u64::MAX)));
        }
        for value in ["-5", "+5", "5s", ""] {
            map.insert(RETRY_AFTER, HeaderValue::from_static(value));
            assert_eq!(retry_after(&map, now), None, "{value:?}");
        }
        let age = max_age(&response_headers("max-age=99999999999999999999999"));
        assert_eq!(age, Some(Duration::from_secs(u64::MAX)));
    }

    proptest::proptest! {
        /// Header values come from the web: any bytes a header can carry parse or are
        /// ignored, never a panic.
        #[test]
        fn hostile_cache_and_retry_headers_never_panic(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            now in proptest::prelude::any::<u32>(),
        ) {
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                let mut map = HeaderMap::new();
                map.insert(CACHE_CONTROL, v.clone());
                map.insert(RETRY_AFTER, v);
                let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(now));
                let _ = max_age(&map);
                let _ = retry_after(&map, now);
            }
        }
    }
}
