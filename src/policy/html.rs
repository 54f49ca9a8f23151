//! The `<meta>` elements of an HTML page, read with `scraper` (html5ever): any bytes parse.

use scraper::{Html, Selector};

/// The `name`/`content` pairs of a page's `<meta>` elements, names lower-cased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageMeta {
    metas: Vec<(String, String)>,
    paywalled: bool,
}

impl PageMeta {
    /// Reads the `<meta name=... content=...>` elements of `html` (decoded lossily).
    pub fn parse(html: &[u8]) -> PageMeta {
        let text = String::from_utf8_lossy(html);
        let document = Html::parse_document(&text);
        let Ok(selector) = Selector::parse("meta[name]") else {
            return PageMeta::default();
        };
        let metas = document
            .select(&selector)
            .filter_map(|e| {
                let name = e.value().attr("name")?.trim().to_ascii_lowercase();
                let content = e.value().attr("content").unwrap_or("").to_owned();
                Some((name, content))
            })
            .collect();
        PageMeta {
            metas,
            paywalled: json_ld_paywalled(&document),
        }
    }

    /// Whether the page's JSON-LD says it is not free to access (schema.org
    /// `isAccessibleForFree: false`, the markup Google asks paywalled pages to carry).
    pub fn paywalled(&self) -> bool {
        self.paywalled
    }

    /// The contents of every `<meta>` named `name` (case-insensitive), in page order.
    pub fn get<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.metas
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| c.as_str())
    }
}

/// Reads every `<script type="application/ld+json">`; JSON that does not parse says nothing.
fn json_ld_paywalled(document: &Html) -> bool {
    let Ok(selector) = Selector::parse("script[type]") else {
        return false;
    };
    document
        .select(&selector)
        .filter(|e| {
            e.value()
                .attr("type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json"))
        })
        .filter_map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.text().collect::<String>()).ok()
        })
        .any(|v| not_free(&v))
}

/// Looks for `isAccessibleForFree` set to `false` (or `"false"`) anywhere in the value.
/// serde_json bounds the nesting depth, so hostile input cannot overflow the stack here.
fn not_free(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "isAccessibleForFree"
                && match v {
                    Value::Bool(b) => !b,
                    Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
                    _ => false,
                })
                || not_free(v)
        }),
        Value::Array(items) => items.iter().any(not_free),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_names_case_insensitively() {
        let m = PageMeta::parse(
            br#"<html><head><META NAME="Robots" content="noai"><meta name="tdm-reservation" content="1"></head></html>"#,
        );
        assert_eq!(m.get("robots").collect::<Vec<_>>(), ["noai"]);
        assert_eq!(m.get("TDM-Reservation").collect::<Vec<_>>(), ["1"]);
    }

    #[test]
    fn garbage_is_a_page_without_metas() {
        assert_eq!(PageMeta::parse(b"\xff\xfe<<<meta").get("robots").count(), 0);
    }

    #[test]
    fn schema_org_paywall_markup() {
        let page = br#"<html><head><script type="application/ld+json">
            {"@context":"https://schema.org","@type":"NewsArticle","isAccessibleForFree":false,
             "hasPart":{"@type":"WebPageElement","isAccessibleForFree":"False","cssSelector":".paywall"}}
            </script></head></html>"#;
        assert!(PageMeta::parse(page).paywalled());
        let nested = br#"<script type="application/ld+json">[{"@graph":[{"hasPart":[{"isAccessibleForFree":"false"}]}]}]</script>"#;
        assert!(PageMeta::parse(nested).paywalled());
        let free = br#"<script type="application/ld+json">{"isAccessibleForFree":true}</script>"#;
        assert!(!PageMeta::parse(free).paywalled());
        let broken = br#"<script type="application/ld+json">{"isAccessibleForFree":fal</script>"#;
        assert!(!PageMeta::parse(broken).paywalled());
        let deep = format!(
            "<script type=\"application/ld+json\">{}</script>",
            "[".repeat(100_000)
        );
        assert!(!PageMeta::parse(deep.as_bytes()).paywalled());
    }
}
