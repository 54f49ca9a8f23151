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
        Value::Number(n) => {
            if n.is_f64() {
                return Err(NotCanonical(n.to_string()));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
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
    let mut keys: Vec<&String> = map.keys().collect();
    if !keys.is_sorted() {
        keys.sort();
    }
    let mut slots = slots.iter().peekable();
    out.push(b'{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        while slots.next_if(|slot| **slot < key.as_str()).is_some() {
            offsets.push(out.len());
        }
        write_string(key, out);
        out.push(b':');
        write(&map[key], out)?;
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

fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // Only ASCII bytes are escaped, so copying the runs between them keeps UTF-8 whole.
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn floats_are_refused() {
        assert!(to_vec(&json!({"x": 1.5})).is_err());
    }
}
