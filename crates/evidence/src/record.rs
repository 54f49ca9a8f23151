//! One evidence record per decision (schema version 1, `docs/evidence.md`).

use optout_policy::{Decision, Purpose};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use url::Url;

/// The record schema version written by this build.
pub const RECORD_SCHEMA: u32 = 1;

/// A policy source consulted for a decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// `robots.txt`, `tdmrep.json`, `ai.txt`, `headers`, `html`.
    pub kind: String,
    /// Where it came from: the URL fetched, or the file path of an offline input.
    pub url: String,
    /// The HTTP status of the fetch, if fetched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    /// When it was fetched (RFC 3339, UTC), if fetched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fetched_at: Option<String>,
    /// SHA-256 (hex) of the exact bytes used; the bytes are a snapshot in the store.
    pub sha256: String,
}

impl SourceRef {
    /// A source read from a local file (offline checks).
    pub fn offline(kind: &str, path: &str, bytes: &[u8]) -> SourceRef {
        SourceRef {
            kind: kind.to_owned(),
            url: path.to_owned(),
            status: None,
            fetched_at: None,
            sha256: sha256_hex(bytes),
        }
    }
}

/// The content of a record, before the log gives it a sequence number and hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version ([`RECORD_SCHEMA`]).
    pub schema: u32,
    /// Sequence number, from 1, without gaps (set by the log).
    pub seq: u64,
    /// When the decision was made, RFC 3339 UTC with milliseconds (set by the log if empty).
    pub time: String,
    /// The URL decided on.
    pub url: String,
    /// Its origin (`scheme://host[:port]`).
    pub origin: String,
    /// The agent's product token.
    pub agent: String,
    /// The purpose (`train-ai`, `ai-input`, `search`).
    pub purpose: String,
    /// `allowed`, `refused` or `discarded`.
    pub verdict: String,
    /// The reasons, exactly as `optout check --json` prints them.
    pub reasons: serde_json::Value,
    /// The policy sources consulted.
    pub sources: Vec<SourceRef>,
    /// For fetches: the response status.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    /// For fetches: the body size in bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bytes: Option<u64>,
}

impl Record {
    /// A record of `decision` on `url`.
    pub fn of_decision(
        url: &Url,
        agent: &str,
        purpose: Purpose,
        decision: &Decision,
        sources: Vec<SourceRef>,
    ) -> Record {
        Record {
            schema: RECORD_SCHEMA,
            seq: 0,
            time: String::new(),
            url: redact_url(url).into_owned(),
            origin: url.origin().ascii_serialization(),
            agent: agent.to_owned(),
            purpose: purpose.as_str().to_owned(),
            verdict: decision.verdict.as_str().to_owned(),
            reasons: redact_details(serde_json::to_value(&decision.reasons).unwrap_or_default()),
            sources,
            status: None,
            bytes: None,
        }
    }
}

impl Record {
    /// The record as a JSON object, moving its fields (no copies); the same object
    /// `serde_json::to_value` gives, which a test checks. Appending writes records without
    /// it; its canonical form is what that faster writer is tested against.
    pub fn into_json_map(self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut map = serde_json::Map::new();
        map.insert("schema".into(), Value::from(self.schema));
        map.insert("seq".into(), Value::from(self.seq));
        map.insert("time".into(), Value::String(self.time));
        map.insert("url".into(), Value::String(self.url));
        map.insert("origin".into(), Value::String(self.origin));
        map.insert("agent".into(), Value::String(self.agent));
        map.insert("purpose".into(), Value::String(self.purpose));
        map.insert("verdict".into(), Value::String(self.verdict));
        map.insert("reasons".into(), self.reasons);
        let sources = self
            .sources
            .into_iter()
            .map(|s| {
                let mut m = serde_json::Map::new();
                m.insert("kind".into(), Value::String(s.kind));
                m.insert("url".into(), Value::String(s.url));
                if let Some(status) = s.status {
                    m.insert("status".into(), Value::from(status));
                }
                if let Some(at) = s.fetched_at {
                    m.insert("fetched_at".into(), Value::String(at));
                }
                m.insert("sha256".into(), Value::String(s.sha256));
                Value::Object(m)
            })
            .collect();
        map.insert("sources".into(), Value::Array(sources));
        if let Some(status) = self.status {
            map.insert("status".into(), Value::from(status));
        }
        if let Some(bytes) = self.bytes {
            map.insert("bytes".into(), Value::from(bytes));
        }
        map
    }
}

/// What stands for a user name and password in a recorded or printed URL:
/// `http://user:pw@host/` is shown as `http://***@host/`. optout never sends credentials
/// (Measure 1.2), and never writes them down either: not in a record, an output line, an
/// error message or a log line.
pub const REDACTED_USERINFO: &str = "***";

/// `url` as it may be recorded or printed: its user name and password, if any, replaced by
/// [`REDACTED_USERINFO`]. Nothing else of it changes (a URL in its query stays as it is: it
/// is part of what was fetched).
pub fn redact_url(url: &Url) -> Cow<'_, str> {
    if url.username().is_empty() && url.password().is_none() {
        return Cow::Borrowed(url.as_str());
    }
    let mut shown = url.clone();
    // Neither fails for a URL that has a user name or password (it has a host).
    let _ = shown.set_password(None);
    let _ = shown.set_username(REDACTED_USERINFO);
    Cow::Owned(shown.into())
}

/// An input as given (a command-line argument, a line of standard input), as it may be
/// printed: a URL with credentials as [`redact_url`] shows it, anything else through
/// [`redact_text`].
pub fn redact_input(input: &str) -> Cow<'_, str> {
    match Url::parse(input.trim()) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Cow::Owned(redact_url(&url).into_owned())
        }
        _ => redact_text(input),
    }
}

/// Free text (a reason's detail, an error message) with the user information of every URL
/// in it replaced by [`REDACTED_USERINFO`]: after a scheme's `:` and its slashes, everything
/// up to the last `@` before the authority ends (`/`, `\`, `?`, `#` or white space). Text
/// without an `@` is returned as it is.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut shown = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(colon) = memchr::memchr(b':', &bytes[i..]).map(|c| i + c) {
        let start = colon
            + 1
            + bytes[colon + 1..]
                .iter()
                .take_while(|b| matches!(b, b'/' | b'\\'))
                .count();
        i = colon + 1;
        if start == colon + 1 {
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|b| matches!(b, b'/' | b'\\' | b'?' | b'#') || b.is_ascii_whitespace())
            .map_or(bytes.len(), |e| start + e);
        if let Some(at) = memchr::memrchr(b'@', &bytes[start..end]).map(|a| start + a) {
            shown.push_str(&text[copied..start]);
            shown.push_str(REDACTED_USERINFO);
            copied = at;
        }
        i = end.max(i);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    shown.push_str(&text[copied..]);
    Cow::Owned(shown)
}

/// The reasons of a record with every `detail` through [`redact_text`]: the details optout
/// writes carry no credentials, and this makes sure of it.
fn redact_details(mut reasons: serde_json::Value) -> serde_json::Value {
    if let serde_json::Value::Array(reasons) = &mut reasons {
        for reason in reasons {
            if let Some(serde_json::Value::String(detail)) = reason.get_mut("detail")
                && let Cow::Owned(shown) = redact_text(detail)
            {
                *detail = shown;
            }
        }
    }
    reasons
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hash of a record: `SHA-256(prev_hash_bytes || canonical(record))`, where the record
/// is the JSON object without its `hash` and `prev_hash` fields.
pub fn chain_hash(prev: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical);
    h.finalize().into()
}

/// The UTC time now, RFC 3339 with milliseconds (fixed width, so strings sort by time).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_map_is_what_serde_gives() {
        let mut full = Record {
            schema: RECORD_SCHEMA,
            seq: 3,
            time: "2026-11-28T10:00:00.000Z".into(),
            url: "https://e.com/a".into(),
            origin: "https://e.com".into(),
            agent: "optout".into(),
            purpose: "train-ai".into(),
            verdict: "refused".into(),
            reasons: serde_json::json!([{"code": "robots.disallow", "line": 2}]),
            sources: vec![SourceRef {
                kind: "robots.txt".into(),
                url: "https://e.com/robots.txt".into(),
                status: Some(200),
                fetched_at: Some("2026-11-28T09:00:00.000Z".into()),
                sha256: "ab".into(),
            }],
            status: Some(200),
            bytes: Some(10),
        };
        for _ in 0..2 {
            let want = serde_json::to_value(&full).unwrap();
            let got = serde_json::Value::Object(full.clone().into_json_map());
            assert_eq!(got, want);
            full.status = None;
            full.bytes = None;
            full.sources[0].status = None;
            full.sources[0].fetched_at = None;
        }
    }

    #[test]
    fn credentials_are_redacted_in_urls_inputs_and_text() {
        let url = Url::parse("http://user:secret@h.test:8/a?to=http://x@y/").unwrap();
        assert_eq!(redact_url(&url), "http://***@h.test:8/a?to=http://x@y/");
        let plain = Url::parse("https://h.test/a@b").unwrap();
        assert!(matches!(redact_url(&plain), Cow::Borrowed(_)));
        for (input, shown) in [
            (" http://user:secret@h.test/ ", "http://***@h.test/"),
            ("http:user:secret@h.test/", "http://***@h.test/"),
            ("http://:secret@h.test/", "http://***@h.test/"),
            ("http://@h.test/", "http://***@h.test/"),
            ("http://user:secret@", "http://***@"),
            ("not a url @ all", "not a url @ all"),
        ] {
            assert_eq!(redact_input(input), shown, "{input}");
        }
        for (text, shown) in [
            (
                "redirect from http://h.test/ to http://u:p@w@x.test/r and https://v@y.test",
                "redirect from http://h.test/ to http://***@x.test/r and https://***@y.test",
            ),
            ("\"ftp:\\\\u:s@h\\x\"", "\"ftp:\\\\***@h\\x\""),
            ("mail a@b.test: 12:30 @noon", "mail a@b.test: 12:30 @noon"),
            ("ends with http://u:p@", "ends with http://***@"),
        ] {
            assert_eq!(redact_text(text), shown, "{text}");
        }
    }
}
