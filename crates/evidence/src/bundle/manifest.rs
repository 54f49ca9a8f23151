//! `manifest.json`, read as the specification says (`docs/evidence.md`, "The auditor's
//! bundle"): a JSON object with exactly the v1 fields, each once, each of its JSON type. A
//! number is an integer only when JSON writes it as one (`40.0` and `true` are not 40 and
//! 1), so that `verify_bundle.py` and optout read a manifest alike.

use super::{FORMAT, VERSION};
use crate::verify::Broken;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// What a verifier uses of a manifest; `created` and `optout` are informational.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Manifest {
    /// The bundle was made with filters (`filter` is not null): it may have gaps.
    pub filtered: bool,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub snapshots: u64,
    /// The checkpoint line, as `checkpoint.txt` must hold it (without its LF).
    pub checkpoint: String,
}

/// The fields of a v1 manifest, each exactly once (serde names a duplicate, an unknown and
/// a missing field); their values are checked on the parsed [`Value`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for their presence only
struct Fields {
    format: IgnoredAny,
    version: IgnoredAny,
    created: IgnoredAny,
    optout: IgnoredAny,
    #[serde(deserialize_with = "nullable")]
    filter: Option<FilterFields>,
    records: IgnoredAny,
    first_seq: IgnoredAny,
    last_seq: IgnoredAny,
    snapshots: IgnoredAny,
    checkpoint: IgnoredAny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read for their presence only
struct FilterFields {
    since: IgnoredAny,
    until: IgnoredAny,
    host: IgnoredAny,
    verdict: IgnoredAny,
}

/// `null` or the value, but present: serde takes a missing `Option` for `None` unless the
/// field has its own deserializer.
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::deserialize(d)
}

fn bad(what: impl std::fmt::Display) -> Broken {
    Broken::Bundle(format!("manifest.json: {what}"))
}

/// An unsigned 64-bit integer written as one.
fn u64_of(value: &Value) -> Option<u64> {
    value.as_u64().filter(|_| value.is_u64())
}

/// Reads a manifest's text (already checked for size, UTF-8 and line endings).
pub(super) fn parse(text: &str) -> Result<Manifest, Broken> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Broken::Bundle(format!("manifest.json is not JSON ({e})")))?;
    if !value.is_object() {
        return Err(bad("not a JSON object"));
    }
    serde_json::from_str::<Fields>(text).map_err(bad)?;
    let field = |key: &str| &value[key];
    if field("format").as_str() != Some(FORMAT) {
        return Err(bad(format!("`format` is not {FORMAT:?}")));
    }
    if u64_of(field("version")) != Some(VERSION) {
        return Err(bad(format!("`version` is not the integer {VERSION}")));
    }
    for key in ["created", "optout", "checkpoint"] {
        if !field(key).is_string() {
            return Err(bad(format!("`{key}` is not a string")));
        }
    }
    let count = |key: &str| {
        u64_of(field(key)).ok_or_else(|| bad(format!("`{key}` is not an integer from 0 to 2^64-1")))
    };
    let (records, snapshots) = (count("records")?, count("snapshots")?);
    let seq = |key: &str| match field(key) {
        Value::Null => Ok(None),
        v => u64_of(v).map(Some).ok_or_else(|| {
            bad(format!(
                "`{key}` is neither null nor an integer from 0 to 2^64-1"
            ))
        }),
    };
    let (first_seq, last_seq) = (seq("first_seq")?, seq("last_seq")?);
    let filtered = match field("filter") {
        Value::Null => false,
        Value::Object(filter) => {
            if !filter.values().all(|v| v.is_null() || v.is_string()) {
                return Err(bad("`filter` has a value neither a string nor null"));
            }
            if filter.values().all(Value::is_null) {
                return Err(bad(
                    "`filter` names no filter (an unfiltered bundle says null)",
                ));
            }
            true
        }
        _ => return Err(bad("`filter` is neither null nor an object")),
    };
    Ok(Manifest {
        filtered,
        records,
        first_seq,
        last_seq,
        snapshots,
        checkpoint: field("checkpoint").as_str().unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"format":"optout-bundle","version":1,"created":"t","optout":"0.1.0",
        "filter":null,"records":2,"first_seq":1,"last_seq":2,"snapshots":1,"checkpoint":"c"}"#;

    #[test]
    fn a_v1_manifest_reads_and_every_wrong_type_or_field_is_named() {
        let good = parse(GOOD).unwrap();
        assert_eq!((good.records, good.filtered), (2, false));
        for (from, to, want) in [
            (
                r#""records":2"#,
                r#""records":2.0"#,
                "`records` is not an integer",
            ),
            (
                r#""records":2"#,
                r#""records":-2"#,
                "`records` is not an integer",
            ),
            (
                r#""version":1"#,
                r#""version":true"#,
                "`version` is not the integer 1",
            ),
            (
                r#""version":1"#,
                r#""version":1.0"#,
                "`version` is not the integer 1",
            ),
            (
                r#""first_seq":1"#,
                r#""first_seq":"1""#,
                "`first_seq` is neither",
            ),
            (
                r#""records":2"#,
                r#""records":2,"records":2"#,
                "duplicate field `records`",
            ),
            (
                r#""records":2"#,
                r#""records":2,"extra":0"#,
                "unknown field `extra`",
            ),
            (r#""records":2,"#, "", "missing field `records`"),
            (
                r#""filter":null"#,
                r#""filter":{"host":null}"#,
                "missing field `since`",
            ),
            (
                r#""filter":null"#,
                r#""filter":{"since":null,"until":null,"host":null,"verdict":null}"#,
                "`filter` names no filter",
            ),
            (r#""filter":null"#, r#""filter":7"#, "invalid type"),
        ] {
            let text = GOOD.replace(from, to);
            assert_ne!(text, GOOD);
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("bundle: manifest.json: {want}")),
                "{to}: {e}"
            );
        }
    }
}
