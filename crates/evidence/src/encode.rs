//! A record's stored bytes, written straight from the [`Record`] in canonical key order.
//!
//! This is the append path's writer: it gives byte for byte what putting the record in a
//! `serde_json` object and writing that with [`canonical`] gives (a test checks it on
//! generated records), without building the object. The fields of a record are a fixed set,
//! so their canonical (sorted) order is known here; only `reasons`, free-form JSON, goes
//! through the general writer.
//!
//! It works in two steps so that appenders do the writing in parallel and the log's lock
//! covers only what needs the chain: [`encode`] writes everything but `seq`, `hash` and
//! `prev_hash` (those get fixed-width placeholders, `seq` a gap), and [`Encoded::seal`] fills
//! them in once the log has given the record its place.

use super::canonical::{self, HEX, NotCanonical, decimal, write_string, write_u64};
use super::reason_json::{self, Form};
use super::record::{RECORD_SCHEMA, Record, SourceRef};
use optout_policy::{Decision, Purpose};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::ops::Range;
use url::Url;

/// The `hash` field as it precedes its value, comma included: `hash` follows `agent` (or
/// `bytes`) and is never the first key.
const HASH_KEY: &[u8] = br#","hash":""#;
/// The `prev_hash` field, likewise (it follows `origin`).
const PREV_KEY: &[u8] = br#","prev_hash":""#;
/// The width of a hash in hex.
const HEX_LEN: usize = 64;

/// A record written but for its place in the chain.
#[derive(Debug)]
pub struct Encoded {
    bytes: Vec<u8>,
    /// Where the 64 hex digits of `hash` start.
    hash_at: usize,
    /// Where those of `prev_hash` start.
    prev_at: usize,
    /// Where the digits of `seq` go (after both hashes).
    seq_at: usize,
}

/// A record's stored bytes and its hash.
#[derive(Debug)]
pub struct Sealed {
    /// The canonical JSON with `hash` and `prev_hash`, as stored.
    pub bytes: Vec<u8>,
    /// `SHA-256(prev || canonical form without hash and prev_hash)`.
    pub hash: [u8; 32],
}

/// Writes `record` (its own `seq` is ignored: the log sets it in [`Encoded::seal`]).
pub fn encode(record: &Record) -> Result<Encoded, NotCanonical> {
    let fields = Fields {
        agent: &record.agent,
        bytes: record.bytes,
        origin: &record.origin,
        purpose: &record.purpose,
        schema: record.schema,
        sources: &record.sources,
        status: record.status,
        time: &record.time,
        url: &record.url,
        verdict: &record.verdict,
    };
    fields.write(|out| canonical::write(&record.reasons, out))
}

/// Writes the record of `decision` on `url` made at `time`: the bytes [`encode`] gives for
/// `Record::of_decision(url, agent, purpose, decision, sources)` with that `time` (a test
/// checks it on generated decisions), without copying the fields into a [`Record`] or the
/// reasons into a `serde_json::Value` first. It is the bulk path's record
/// (`optout check` over many URLs records every decision).
pub fn encode_decision(
    url: &Url,
    agent: &str,
    purpose: Purpose,
    decision: &Decision,
    sources: &[SourceRef],
    time: &str,
) -> Encoded {
    let mut origin = String::new();
    let fields = Fields {
        agent,
        bytes: None,
        origin: origin_of(url, &mut origin),
        purpose: purpose.as_str(),
        schema: RECORD_SCHEMA,
        sources,
        status: None,
        time,
        url: url.as_str(),
        verdict: decision.verdict.as_str(),
    };
    // A `Reason` holds no floating-point number, the only value without a canonical form.
    let Ok(encoded) = fields.write(|out| {
        reason_json::write_reasons(&decision.reasons, Form::Evidence, out);
        Ok::<(), Infallible>(())
    });
    encoded
}

/// `url.origin().ascii_serialization()`, without its allocations for the URLs decisions are
/// made on (`http` and `https` with a host: `scheme://host[:port]`, the port only when it
/// is not the scheme's default, which `Url::port` already leaves out).
fn origin_of<'a>(url: &Url, buf: &'a mut String) -> &'a str {
    match (url.scheme(), url.host_str()) {
        (scheme @ ("http" | "https"), Some(host)) => {
            buf.push_str(scheme);
            buf.push_str("://");
            buf.push_str(host);
            if let Some(port) = url.port() {
                buf.push(':');
                buf.push_str(&port.to_string());
            }
        }
        _ => *buf = url.origin().ascii_serialization(),
    }
    buf
}

/// A record's fields but `reasons`, borrowed.
struct Fields<'a> {
    agent: &'a str,
    bytes: Option<u64>,
    origin: &'a str,
    purpose: &'a str,
    schema: u32,
    sources: &'a [SourceRef],
    status: Option<u16>,
    time: &'a str,
    url: &'a str,
    verdict: &'a str,
}

impl Fields<'_> {
    /// The record in canonical key order, `reasons` written by `reasons`.
    fn write<E>(&self, reasons: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<Encoded, E> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(br#"{"agent":"#);
        write_string(self.agent, &mut out);
        if let Some(bytes) = self.bytes {
            out.extend_from_slice(br#","bytes":"#);
            write_u64(bytes, &mut out);
        }
        let hash_at = placeholder(HASH_KEY, &mut out);
        out.extend_from_slice(br#","origin":"#);
        write_string(self.origin, &mut out);
        let prev_at = placeholder(PREV_KEY, &mut out);
        out.extend_from_slice(br#","purpose":"#);
        write_string(self.purpose, &mut out);
        out.extend_from_slice(br#","reasons":"#);
        reasons(&mut out)?;
        out.extend_from_slice(br#","schema":"#);
        write_u64(self.schema.into(), &mut out);
        out.extend_from_slice(br#","seq":"#);
        let seq_at = out.len();
        out.extend_from_slice(br#","sources":["#);
        for (i, source) in self.sources.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_source(source, &mut out);
        }
        out.push(b']');
        if let Some(status) = self.status {
            out.extend_from_slice(br#","status":"#);
            write_u64(status.into(), &mut out);
        }
        out.extend_from_slice(br#","time":"#);
        write_string(self.time, &mut out);
        out.extend_from_slice(br#","url":"#);
        write_string(self.url, &mut out);
        out.extend_from_slice(br#","verdict":"#);
        write_string(self.verdict, &mut out);
        out.push(b'}');
        Ok(Encoded {
            bytes: out,
            hash_at,
            prev_at,
            seq_at,
        })
    }
}

fn write_source(source: &SourceRef, out: &mut Vec<u8>) {
    out.push(b'{');
    if let Some(at) = &source.fetched_at {
        out.extend_from_slice(br#""fetched_at":"#);
        write_string(at, out);
        out.push(b',');
    }
    out.extend_from_slice(br#""kind":"#);
    write_string(&source.kind, out);
    out.extend_from_slice(br#","sha256":"#);
    write_string(&source.sha256, out);
    if let Some(status) = source.status {
        out.extend_from_slice(br#","status":"#);
        write_u64(status.into(), out);
    }
    out.extend_from_slice(br#","url":"#);
    write_string(&source.url, out);
    out.push(b'}');
}

/// Writes `key` and room for a hash value; returns where the value starts.
fn placeholder(key: &[u8], out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(key);
    let at = out.len();
    out.extend_from_slice(&[b'0'; HEX_LEN]);
    out.push(b'"');
    at
}

impl Encoded {
    /// Gives the record sequence number `seq` and links it to `prev`, the hash of the record
    /// before. The hash covers the canonical form without `hash` and `prev_hash`, which is
    /// the stored bytes less those two fields: it is fed in three pieces around them.
    pub fn seal(self, seq: u64, prev: &[u8; 32]) -> Sealed {
        let Encoded {
            mut bytes,
            hash_at,
            prev_at,
            seq_at,
        } = self;
        let mut digits = [0; 20];
        bytes.splice(seq_at..seq_at, decimal(seq, &mut digits).iter().copied());
        let field = |at: usize, key: &[u8]| -> Range<usize> { at - key.len()..at + HEX_LEN + 1 };
        let (hash_field, prev_field) = (field(hash_at, HASH_KEY), field(prev_at, PREV_KEY));
        let mut hasher = Sha256::new();
        hasher.update(prev);
        hasher.update(&bytes[..hash_field.start]);
        hasher.update(&bytes[hash_field.end..prev_field.start]);
        hasher.update(&bytes[prev_field.end..]);
        let hash: [u8; 32] = hasher.finalize().into();
        write_hex(&hash, &mut bytes[hash_at..hash_at + HEX_LEN]);
        write_hex(prev, &mut bytes[prev_at..prev_at + HEX_LEN]);
        Sealed { bytes, hash }
    }
}

/// Writes `bytes` as lower-case hex into `out` (twice as long).
fn write_hex(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}

/// `bytes` as a lower-case hex string (what `hex::encode` gives).
pub fn hex_string(bytes: &[u8; 32]) -> String {
    let mut out = [0u8; HEX_LEN];
    write_hex(bytes, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceRef;
    use crate::record::chain_hash;
    use optout_policy::{Decision, Verdict};
    use optout_strategies::{hostile, reason};
    use proptest::prelude::*;
    use serde_json::Value;

    /// The stored bytes and hash the way the log made them before this writer: the record
    /// as a `serde_json` object, written by the general canonical writer, the hash fields
    /// spliced in.
    fn via_value(record: Record, seq: u64, prev: &[u8; 32]) -> Result<Sealed, NotCanonical> {
        let mut map = record.into_json_map();
        map.insert("seq".into(), Value::from(seq));
        let (form, slots) = canonical::to_vec_with_slots(&map, &["hash", "prev_hash"])?;
        let hash = chain_hash(prev, &form);
        let (hash_hex, prev_hex) = (hex::encode(hash), hex::encode(prev));
        let fields = [
            ("hash", hash_hex.as_str()),
            ("prev_hash", prev_hex.as_str()),
        ];
        let bytes = canonical::splice(&form, &slots, &fields);
        Ok(Sealed { bytes, hash })
    }

    /// Free-form JSON for `reasons`: integers of both signs, strings and keys hostile.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            hostile().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(hostile(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn source() -> impl Strategy<Value = SourceRef> {
        let at = prop::option::of(hostile());
        (hostile(), hostile(), any::<Option<u16>>(), at, hostile()).prop_map(
            |(kind, url, status, fetched_at, sha256)| SourceRef {
                kind,
                url,
                status,
                fetched_at,
                sha256,
            },
        )
    }

    fn record() -> impl Strategy<Value = Record> {
        let strings = (
            hostile(),
            hostile(),
            hostile(),
            hostile(),
            hostile(),
            hostile(),
        );
        let sources = prop::collection::vec(source(), 0..4);
        let extra = (any::<u32>(), any::<Option<u16>>(), any::<Option<u64>>());
        (strings, json(), sources, extra).prop_map(
            |((time, url, origin, agent, purpose, verdict), reasons, sources, extra)| Record {
                schema: extra.0,
                seq: 0,
                time,
                url,
                origin,
                agent,
                purpose,
                verdict,
                reasons,
                sources,
                status: extra.1,
                bytes: extra.2,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn byte_identical_to_the_value_writer(
            record in record(),
            seq in prop_oneof![Just(0), Just(1), Just(u64::MAX), any::<u64>()],
            prev in any::<[u8; 32]>(),
        ) {
            let fast = encode(&record).unwrap().seal(seq, &prev);
            let slow = via_value(record, seq, &prev).unwrap();
            prop_assert_eq!(
                String::from_utf8_lossy(&fast.bytes),
                String::from_utf8_lossy(&slow.bytes)
            );
            prop_assert_eq!(&fast.bytes, &slow.bytes);
            prop_assert_eq!(fast.hash, slow.hash);
            // The sled store joins records with newlines (`optout-sled`'s `block.rs`): a record
            // never has one.
            prop_assert!(!fast.bytes.contains(&b'\n'));
            prop_assert_eq!(hex_string(&fast.hash), hex::encode(fast.hash));
        }
    }

    /// URLs of every kind of origin: default and other ports, IP literals, IDNs, schemes
    /// that are not http (their origin is opaque or has no host), with hostile paths.
    fn url() -> impl Strategy<Value = Url> {
        let base = prop::sample::select(vec![
            "https://example.com",
            "http://example.com:8080",
            "HTTP://Example.COM:80",
            "https://example.com:443",
            "https://[::1]:8443",
            "http://127.0.0.1",
            "https://café.example",
            "ftp://example.com:21",
            "file://",
            "data:text/plain,",
        ]);
        (base, hostile()).prop_filter_map("not a URL", |(base, path)| {
            Url::parse(&format!("{base}/{path}")).ok()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The bulk path's record is the one `Record::of_decision` makes, byte for byte.
        #[test]
        fn a_decision_encodes_as_its_record_does(
            url in url(),
            (agent, time) in (hostile(), hostile()),
            purpose in prop::sample::select(Purpose::ALL.to_vec()),
            verdict in prop::sample::select(vec![Verdict::Allowed, Verdict::Refused, Verdict::Discarded]),
            reasons in prop::collection::vec(reason(), 0..5),
            sources in prop::collection::vec(source(), 0..3),
            seq in any::<u64>(),
            prev in any::<[u8; 32]>(),
        ) {
            let decision = Decision { verdict, reasons };
            let record = Record {
                time: time.clone(),
                ..Record::of_decision(&url, &agent, purpose, &decision, sources.clone())
            };
            let want = encode(&record).unwrap().seal(seq, &prev);
            let got = encode_decision(&url, &agent, purpose, &decision, &sources, &time)
                .seal(seq, &prev);
            prop_assert_eq!(
                String::from_utf8_lossy(&got.bytes),
                String::from_utf8_lossy(&want.bytes)
            );
            prop_assert_eq!(got.hash, want.hash);
        }
    }

    /// Found by the proptest above: the fast encoder wrote a detail's user information
    /// as it was, where `Record::of_decision` redacts it.
    #[test]
    fn details_are_redacted_by_both() {
        let url = Url::parse("https://example.com/").unwrap();
        for detail in [":\\@", "see https://user:secret@example.com/x"] {
            let decision = Decision {
                verdict: Verdict::Refused,
                reasons: vec![
                    optout_policy::Reason::new(optout_policy::Code::RobotsDisallow)
                        .with_detail(detail),
                ],
            };
            let record = Record {
                time: "t".into(),
                ..Record::of_decision(&url, "a", Purpose::TrainAi, &decision, Vec::new())
            };
            let want = encode(&record).unwrap().seal(1, &[0; 32]);
            let got =
                encode_decision(&url, "a", Purpose::TrainAi, &decision, &[], "t").seal(1, &[0; 32]);
            assert_eq!(got.bytes, want.bytes);
            assert!(!String::from_utf8_lossy(&got.bytes).contains("secret"));
        }
    }

    #[test]
    fn floats_in_reasons_are_refused_by_both() {
        let record = Record {
            schema: 1,
            seq: 0,
            time: String::new(),
            url: String::new(),
            origin: String::new(),
            agent: String::new(),
            purpose: String::new(),
            verdict: String::new(),
            reasons: serde_json::json!([{"x": 1.5}]),
            sources: Vec::new(),
            status: None,
            bytes: None,
        };
        assert!(encode(&record).is_err());
        assert!(via_value(record, 1, &[0; 32]).is_err());
    }
}
