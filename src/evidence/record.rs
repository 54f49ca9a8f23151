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
