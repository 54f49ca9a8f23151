//! The canonical JSON form that record hashes cover (docs/evidence.md, "Canonical form").
//!
//! It is RFC 8785 (JCS) for the values records contain (no floating-point numbers): object
//! keys sorted by code point, no insignificant whitespace, strings escaped minimally (`"`,
//! `\`, and control characters; `\b \f \n \r \t` short forms, others `\u00xx` in lower-case
//! hex), UTF-8. Python's `json.dumps(v, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)` produces the same bytes, which is what lets a short script verify an
//! export without optout.

use serde_json::Value;

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error)]
#[error("record contains a non-integer number ({0}); records carry integers only")]
pub struct NotCanonical(String);

/// Appends the canonical form of `value` to `out`.
pub fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_u64(u, out),
            (None, Some(i)) => {
                out.push(b'-');
                write_u64(i.unsigned_abs(), out);
            }
            (None, None) => return Err(NotCanonical(n.to_string())),
        },
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(map, &[], out, &mut Vec::new())?,
    }
    Ok(())
}

/// Writes an object; records in `offsets` where each of `slots` (keys absent from `map`,
/// in sorted order) would stand, so that they can be spliced in later by [`splice`].
fn write_object(
    map: &serde_json::Map<String, Value>,
    slots: &[&str],
    out: &mut Vec<u8>,
    offsets: &mut Vec<usize>,
) -> Result<(), NotCanonical> {
    // A `serde_json::Map` iterates in key order unless serde_json's `preserve_order` is on;
    // only then is a sorted copy of the keys needed.
    let sorted: Vec<(&String, &Value)>;
    let entries: &mut dyn Iterator<Item = (&String, &Value)> = if map.keys().is_sorted() {
        &mut map.iter()
    } else {
        sorted = {
            let mut v: Vec<_> = map.iter().collect();
            v.sort_by_key(|(k, _)| *k);
            v
        };
        &mut sorted.iter().copied()
    };
    let mut slots = slots.iter().peekable();
    out.push(b'{');
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        while slots.next_if(|slot| **slot < key.as_str()).is_some() {
            offsets.push(out.len());
        }
        write_string(key, out);
        out.push(b':');
        write(value, out)?;
    }
    for _ in slots {
        offsets.push(out.len());
    }
    out.push(b'}');
    Ok(())
}

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, NotCanonical> {
    let mut out = Vec::with_capacity(1024);
    write(value, &mut out)?;
    Ok(out)
}

/// The canonical bytes of the object `map`, and where each of `slots` (sorted keys that
/// `map` lacks) would go: [`splice`] then gives the canonical bytes of the object with those
/// keys, without writing it twice.
pub fn to_vec_with_slots(
    map: &serde_json::Map<String, Value>,
    slots: &[&str],
) -> Result<(Vec<u8>, Vec<usize>), NotCanonical> {
    let mut out = Vec::with_capacity(1024);
    let mut offsets = Vec::with_capacity(slots.len());
    write_object(map, slots, &mut out, &mut offsets)?;
    Ok((out, offsets))
}

/// Inserts `fields` (string values, in the order of the slots) at `offsets` from
/// [`to_vec_with_slots`].
pub fn splice(bytes: &[u8], offsets: &[usize], fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 160);
    let mut from = 0;
    for (&at, (key, value)) in offsets.iter().zip(fields) {
        out.extend_from_slice(&bytes[from..at]);
        let at_end = bytes.get(at) == Some(&b'}');
        let after_open = at > 0 && bytes[at - 1] == b'{';
        if at_end && !after_open {
            out.push(b',');
        }
        write_string(key, &mut out);
        out.push(b':');
        write_string(value, &mut out);
        if !at_end {
            out.push(b',');
        }
        from = at;
    }
    out.extend_from_slice(&bytes[from..]);
    out
}

/// Appends `s` as a canonical JSON string.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    loop {
        // Only ASCII bytes are escaped, so copying the runs between them keeps UTF-8 whole.
        let at = run + clean_prefix(&bytes[run..]);
        out.extend_from_slice(&bytes[run..at]);
        let Some(&b) = bytes.get(at) else { break };
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => b"",
        };
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.extend_from_slice(escape);
        }
        run = at + 1;
    }
    out.push(b'"');
}

/// Appends one of optout's own names (a reason code, a purpose, a verdict) as a JSON
/// string: lower-case letters, digits, `.` and `-` (a test in `policy/decision.rs` checks
/// every code), which need no escape, so the scan [`write_string`] makes is skipped.
pub fn write_name(name: &'static str, out: &mut Vec<u8>) {
    debug_assert!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    );
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// How many bytes `bytes` starts with that need no escape. Most strings (URLs, reasons,
/// hex, time stamps) need none: they are skipped 32 bytes at a time (a reduction the
/// compiler turns into vector instructions), then 8 at a time, then byte by byte.
fn clean_prefix(bytes: &[u8]) -> usize {
    let needs_escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let mut i = 0;
    while let Some(chunk) = bytes[i..].first_chunk::<32>() {
        if chunk.iter().fold(false, |any, &b| any | needs_escape(b)) {
            break;
        }
        i += 32;
    }
    while let Some(word) = bytes[i..].first_chunk::<8>() {
        if any_needs_escape(u64::from_le_bytes(*word)) {
            break;
        }
        i += 8;
    }
    i + bytes[i..]
        .iter()
        .position(|&b| needs_escape(b))
        .unwrap_or(bytes.len() - i)
}

/// Whether any of the 8 bytes in `w` is a control character, `"` or `\`. The classic
/// "has a zero byte" bit trick (exact: no false negatives, and no false positives when only
/// the whole word's answer is used); bytes of 0x80 and above never match.
fn any_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
    below_space || has_zero(w ^ (ONES * u64::from(b'"'))) || has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// Lower-case hex digits.
pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `n` in decimal (what `n.to_string()` gives, without the allocation).
pub fn write_u64(n: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(decimal(n, &mut [0; 20]));
}

/// `n` in decimal, written at the end of `buf`.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;
    use serde_json::json;

    #[test]
    fn keys_sorted_no_whitespace_minimal_escapes() {
        let v = json!({"b": 1, "a": [true, null, "x\"y\\z\n\u{1}é"], "c": {"z": 0, "y": -5}});
        let got = String::from_utf8(to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            got,
            r#"{"a":[true,null,"x\"y\\z\n\u0001é"],"b":1,"c":{"y":-5,"z":0}}"#
        );
    }

    #[test]
    fn spliced_fields_equal_writing_them() {
        let base = json!({"agent": "a", "origin": "o", "purpose": "p", "z": [1]});
        let map = base.as_object().unwrap();
        let (bytes, offsets) = to_vec_with_slots(map, &["hash", "prev_hash"]).unwrap();
        let spliced = splice(&bytes, &offsets, &[("hash", "H"), ("prev_hash", "P\"")]);
        let mut full = base.clone();
        full["hash"] = json!("H");
        full["prev_hash"] = json!("P\"");
        assert_eq!(spliced, to_vec(&full).unwrap());
        for (slots, want) in [
            (&["zz"][..], r#"{"a":1,"zz":"v"}"#),
            (&["0"][..], r#"{"0":"v","a":1}"#),
        ] {
            let (b, o) = to_vec_with_slots(json!({"a": 1}).as_object().unwrap(), slots).unwrap();
            assert_eq!(
                String::from_utf8(splice(&b, &o, &[(slots[0], "v")])).unwrap(),
                want
            );
        }
        let (b, o) = to_vec_with_slots(json!({}).as_object().unwrap(), &["k"]).unwrap();
        assert_eq!(splice(&b, &o, &[("k", "v")]), br#"{"k":"v"}"#);
    }

    /// serde_json escapes exactly as the canonical form does (`"`, `\\`, control characters,
    /// short forms where JSON has them, lower-case `\u00xx` otherwise; DEL and U+2028 as they
    /// are), so it is an independent oracle for the word-at-a-time string writer.
    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut cases: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
        for b in 0u8..=0x7f {
            for at in 0..17 {
                let mut s: String = "aé\u{2028}😀xyzw".chars().cycle().take(17).collect();
                s.insert(
                    s.char_indices().nth(at).map_or(s.len(), |(i, _)| i),
                    char::from(b),
                );
                cases.push(s);
            }
        }
        cases.push("\u{2028}\u{2029}\u{10ffff}\u{7f}\u{80}".into());
        for s in cases {
            let mut out = Vec::new();
            write_string(&s, &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&s).unwrap()
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn any_string_escapes_as_serde_json_does(
            chars in proptest::collection::vec(
                proptest::prop_oneof![(0u8..0x80).prop_map(char::from), proptest::arbitrary::any::<char>()],
                0..64,
            )
        ) {
            let s: String = chars.into_iter().collect();
            let mut out = Vec::new();
            write_string(&s, &mut out);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn the_escape_scan_flags_exactly_the_escaped_bytes() {
        for b in 0u8..=0xff {
            let needs = b < 0x20 || b == b'"' || b == b'\\';
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = b;
                assert_eq!(
                    any_needs_escape(u64::from_le_bytes(word)),
                    needs,
                    "{b:#x} at {at}"
                );
                let mut high = [0xe9; 8];
                high[at] = b;
                assert_eq!(
                    any_needs_escape(u64::from_le_bytes(high)),
                    needs,
                    "{b:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn integers_as_serde_json_writes_them() {
        for n in [
            json!(0),
            json!(7),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
        ] {
            assert_eq!(to_vec(&n).unwrap(), n.to_string().into_bytes());
        }
    }

    #[test]
    fn floats_are_refused() {
        assert!(to_vec(&json!({"x": 1.5})).is_err());
    }
}
