//! The `<meta>` elements of an HTML page, read with `scraper` (html5ever): any bytes parse.

use scraper::{Html, Selector};

/// The `name`/`content` pairs of a page's `<meta>` elements, names lower-cased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageMeta {
    metas: Vec<(String, String)>,
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
        PageMeta { metas }
    }

    /// The contents of every `<meta>` named `name` (case-insensitive), in page order.
    pub fn get<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.metas
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| c.as_str())
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
}
