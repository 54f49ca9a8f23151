//! The bytes of each record: WARC header sections and blocks (WARC 1.1 sections 4 to 6), with
//! every value from the web sanitised so that no header value or URL can end a line.

use sha1::{Digest, Sha1};

use super::{Evidence, Exchange, WarcOptions};

/// `conformsTo` of each `warcinfo` record.
const CONFORMS_TO: &str =
    "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/";

/// Response headers that describe the bytes as sent, not as stored: renamed with this prefix
/// (as Common Crawl does) because the stored body is decoded and has its own length.
const RENAMED: [&str; 3] = ["content-encoding", "transfer-encoding", "content-length"];
const RENAME_PREFIX: &str = "X-Crawler-";

/// `sha1:` and the base32 of the SHA-1 of `parts` (the form of Heritrix and Common Crawl).
pub(crate) fn sha1_label(parts: &[&[u8]]) -> String {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part);
    }
    format!("sha1:{}", data_encoding::BASE32.encode(&hasher.finalize()))
}

/// A new `WARC-Record-ID`.
pub(crate) fn record_id() -> String {
    format!("<{}>", uuid::Uuid::new_v4().urn())
}

/// A field name reduced to RFC 9110 token characters (WARC 1.1 section 4: field names are
/// tokens); empty when nothing is left.
pub(crate) fn token(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))
        .collect()
}

/// A field value on one line: CR, LF and the other control characters but tab become spaces.
pub(crate) fn one_line(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .map(|&b| {
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                b' '
            } else {
                b
            }
        })
        .collect()
}

/// [`one_line`] for text.
pub(crate) fn one_line_str(value: &str) -> String {
    String::from_utf8_lossy(&one_line(value.as_bytes()))
        .trim()
        .to_owned()
}

/// A URL as a URI: spaces, control characters, non-ASCII and `<>"` percent-encoded, so that a
/// URL as found on a hostile page still gives a valid `WARC-Target-URI`.
pub(crate) fn uri(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for &b in url.as_bytes() {
        if b <= 0x20 || b >= 0x7f || b"<>\"".contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// A WARC header section: version line, fields, `Content-Length`, blank line.
pub(crate) fn head(fields: &[(&str, String)], content_length: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"WARC/1.1\r\n");
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&one_line(value.as_bytes()));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {content_length}\r\n\r\n").as_bytes());
    out
}

/// `application/warc-fields` lines.
fn field_lines(out: &mut Vec<u8>, fields: impl IntoIterator<Item = (String, String)>) {
    for (name, value) in fields {
        let name = token(&name);
        if name.is_empty() {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(one_line_str(&value).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The block of a `warcinfo` record (WARC 1.1 section 6.2).
pub(crate) fn warcinfo_block(options: &WarcOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let fixed = [
        ("software".to_owned(), options.software.clone()),
        ("format".to_owned(), "WARC File Format 1.1".to_owned()),
        ("conformsTo".to_owned(), CONFORMS_TO.to_owned()),
    ];
    field_lines(
        &mut out,
        fixed
            .into_iter()
            .chain(options.warcinfo_fields.iter().cloned()),
    );
    out
}

/// The block of a `metadata` record: the evidence of the exchange.
pub(crate) fn metadata_block(evidence: &Evidence) -> Vec<u8> {
    let mut fields = vec![
        ("optout-evidence-seq".to_owned(), evidence.seq.to_string()),
        ("optout-verdict".to_owned(), evidence.verdict.to_owned()),
    ];
    for code in evidence.reasons {
        fields.push(("optout-reason".to_owned(), (*code).to_owned()));
    }
    for (kind, url, sha256) in evidence.policy_files {
        let kind = uri(kind);
        let sha256: String = sha256.chars().filter(char::is_ascii_hexdigit).collect();
        let value = format!("{kind} {} sha256:{sha256}", uri(url));
        fields.push(("optout-policy-file".to_owned(), value));
    }
    if let Some((depth, found_on)) = evidence.found {
        fields.push(("optout-depth".to_owned(), depth.to_string()));
        if let Some(page) = found_on {
            fields.push(("optout-found-on".to_owned(), uri(page)));
        }
    }
    let mut out = Vec::new();
    field_lines(&mut out, fields);
    out
}

/// The HTTP version as a token, `HTTP/1.1` when it is not one.
fn http_version(version: &str) -> &str {
    let valid = version.starts_with("HTTP/")
        && version.len() <= 16
        && version[5..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.');
    if valid { version } else { "HTTP/1.1" }
}

/// The request-target of a GET for `url`: its path and query (origin form, RFC 9112 section
/// 3.2.1), or the whole URI when it does not parse.
fn request_target(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => {
            let mut target = parsed.path().to_owned();
            if let Some(query) = parsed.query() {
                target.push('?');
                target.push_str(query);
            }
            uri(&target)
        }
        _ => uri(url),
    }
}

fn header_line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(&one_line(value));
    out.extend_from_slice(b"\r\n");
}

/// The block of a `request` record: request line and headers as sent.
pub(crate) fn request_block(exchange: &Exchange) -> Vec<u8> {
    let version = http_version(exchange.http_version);
    let mut out = format!("GET {} {version}\r\n", request_target(exchange.url)).into_bytes();
    for (name, value) in exchange.request_headers {
        let name = token(name);
        if !name.is_empty() {
            header_line(&mut out, &name, value.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The status line and headers of a `response` or `revisit` block; the body follows them.
/// Headers that describe the bytes on the wire are renamed, and (unless `revisit`) a
/// `Content-Length` of the stored body is added. A revisit gets none: its payload is the
/// original's.
pub(crate) fn response_head(exchange: &Exchange, revisit: bool) -> Vec<u8> {
    let version = http_version(exchange.http_version);
    let reason = reqwest::StatusCode::from_u16(exchange.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("{version} {} {reason}\r\n", exchange.status).into_bytes();
    for (name, value) in exchange.response_headers {
        let name = token(name);
        if name.is_empty() {
            continue;
        }
        if RENAMED.contains(&name.to_ascii_lowercase().as_str()) {
            header_line(&mut out, &format!("{RENAME_PREFIX}{name}"), value);
        } else {
            header_line(&mut out, &name, value);
        }
    }
    if !revisit {
        header_line(
            &mut out,
            "Content-Length",
            exchange.body.len().to_string().as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The MIME type of a response for its CDXJ line: `Content-Type` without parameters,
/// lower-cased; `None` when there is none.
pub(crate) fn mime(headers: &[(String, Vec<u8>)]) -> Option<String> {
    let value = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))?;
    let value = String::from_utf8_lossy(&value.1);
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!mime.is_empty()).then_some(mime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha1_base32() {
        // SHA-1 of the empty string, base32 (as in Heritrix revisit records).
        assert_eq!(sha1_label(&[]), "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
        assert_eq!(sha1_label(&[b"ab", b"c"]), sha1_label(&[b"abc"]));
    }

    #[test]
    fn hostile_values_stay_on_one_line() {
        assert_eq!(one_line(b"a\r\nWARC-Type: x\0"), b"a  WARC-Type: x ");
        assert_eq!(
            uri("http://e.com/a b\r\n<x>\u{e9}"),
            "http://e.com/a%20b%0D%0A%3Cx%3E%C3%A9"
        );
        assert_eq!(token("Bad Name:\r\n"), "BadName");
        let h = head(&[("WARC-Target-URI", "x\r\n\r\nWARC/1.1".to_owned())], 0);
        assert_eq!(h.iter().filter(|&&b| b == b'\n').count(), 4);
    }

    #[test]
    fn coding_headers_are_renamed_and_length_is_fresh() {
        let headers = vec![
            (
                "Content-Type".to_owned(),
                b"text/html; charset=utf-8".to_vec(),
            ),
            ("Transfer-Encoding".to_owned(), b"chunked".to_vec()),
            ("content-length".to_owned(), b"99".to_vec()),
        ];
        let evidence = Evidence {
            seq: 1,
            verdict: "allowed",
            reasons: &[],
            policy_files: &[],
            found: None,
        };
        let exchange = Exchange {
            url: "http://e.com/",
            date: std::time::SystemTime::UNIX_EPOCH,
            ip: None,
            request_headers: &[],
            http_version: "HTTP/1.1",
            status: 200,
            response_headers: &headers,
            body: b"hello",
            evidence,
            revisit: None,
        };
        let head = String::from_utf8(response_head(&exchange, false)).unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             X-Crawler-Transfer-Encoding: chunked\r\nX-Crawler-content-length: 99\r\n\
             Content-Length: 5\r\n\r\n"
        );
        assert_eq!(mime(&headers).as_deref(), Some("text/html"));
        assert_eq!(mime(&[]), None);
    }

    #[test]
    fn request_line_uses_the_origin_form() {
        assert_eq!(request_target("http://e.com/a%20b?q=1#frag"), "/a%20b?q=1");
        assert_eq!(request_target("not a url"), "not%20a%20url");
        assert_eq!(http_version("HTTP/2.0"), "HTTP/2.0");
        assert_eq!(http_version("HTTP/1.1\r\nX: y"), "HTTP/1.1");
    }
}
