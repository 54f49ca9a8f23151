//! `ranges.json`: the crawler's IP ranges in the shape Google's and OpenAI's crawler pages
//! use, and the JAFAR draft (draft-illyes-webbotauth-jafar) builds on:
//! `{"creationTime": "...", "prefixes": [{"ipv4Prefix": "..."}, {"ipv6Prefix": "..."}]}`.
//! The page links it with `rel="client-ranges"` (draft-illyes-webbotauth-cbcp).

use super::Prefix;
use serde_json::{Value, json};

/// The file's text; `creation_time` is when the published state last changed, so an
/// unchanged configuration writes the same bytes.
pub fn json(prefixes: &[Prefix], creation_time: &str) -> String {
    let prefixes: Vec<Value> = prefixes
        .iter()
        .map(|p| {
            let key = if p.addr.is_ipv4() {
                "ipv4Prefix"
            } else {
                "ipv6Prefix"
            };
            json!({ key: p.to_string() })
        })
        .collect();
    let doc = json!({ "creationTime": creation_time, "prefixes": prefixes });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_shape() {
        let prefixes = [
            Prefix::parse("192.0.2.0/24").unwrap(),
            Prefix::parse("2001:db8::/32").unwrap(),
        ];
        let doc: Value =
            serde_json::from_str(&json(&prefixes, "2026-01-01T00:00:00.000Z")).unwrap();
        assert_eq!(
            doc,
            json!({"creationTime": "2026-01-01T00:00:00.000Z",
                   "prefixes": [{"ipv4Prefix": "192.0.2.0/24"}, {"ipv6Prefix": "2001:db8::/32"}]})
        );
    }
}
