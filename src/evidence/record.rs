//! One evidence record per decision (schema version 1, `docs/evidence.md`).

use crate::policy::{Decision, Purpose};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
            url: url.as_str().to_owned(),
            origin: url.origin().ascii_serialization(),
            agent: agent.to_owned(),
            purpose: purpose.as_str().to_owned(),
            verdict: decision.verdict.as_str().to_owned(),
            reasons: serde_json::to_value(&decision.reasons).unwrap_or_default(),
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
}
