//! Excluded domains (Code of Practice, Measure 1.2): sites recognised as persistently
//! infringing. A listed domain excludes itself and every subdomain, on label boundaries:
//! `pirate.example` excludes `www.pirate.example` but not `notpirate.example`.

use crate::policy::decision::{Code, Reason};
use std::collections::HashMap;

/// A parsed list: one domain per line, `#` comments, blank lines ignored.
#[derive(Clone, Debug, Default)]
pub struct ExcludedDomains {
    /// Normalised domain → (line, entry as written).
    entries: HashMap<String, (u32, String)>,
}

/// A line of the list that is not a domain.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {entry:?} is not a domain name")]
pub struct BadEntry {
    /// 1-based line.
    pub line: u32,
    /// The text.
    pub entry: String,
}

impl ExcludedDomains {
    /// Parses the list; a line that is not a domain name is an error (checked before any
    /// crawl starts, so a typo cannot silently let a site through).
    pub fn parse(text: &str) -> Result<ExcludedDomains, BadEntry> {
        let mut entries = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index as u32 + 1;
            let entry = raw.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let bare = entry.trim_start_matches("*.").trim_start_matches('.');
            let normal = url::Host::parse(bare.trim_end_matches('.'))
                .ok()
                .and_then(|h| match h {
                    url::Host::Domain(d) if !d.is_empty() => Some(d),
                    url::Host::Ipv4(ip) => Some(ip.to_string()),
                    _ => None,
                })
                .ok_or_else(|| BadEntry {
                    line,
                    entry: entry.to_owned(),
                })?;
            entries.insert(normal, (line, entry.to_owned()));
        }
        Ok(ExcludedDomains { entries })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `excluded-domain` reason when `host` (as the URL parser gives it: lower-case,
    /// IDNA-encoded) is a listed domain or a subdomain of one.
    pub fn reason_for(&self, host: &str) -> Option<Reason> {
        if self.entries.is_empty() {
            return None;
        }
        let host = host.trim_end_matches('.');
        let mut suffix = host;
        loop {
            if let Some((line, written)) = self.entries.get(suffix) {
                return Some(
                    Reason::new(Code::ExcludedDomain)
                        .with_source("excluded-domains")
                        .with_line(*line)
                        .with_rule(written.as_str()),
                );
            }
            match suffix.split_once('.') {
                Some((_, rest)) => suffix = rest,
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ExcludedDomains {
        ExcludedDomains::parse(
            "# infringing\npirate.example\n\n*.warez.example  # wildcard form\nBÜCHER.example\n",
        )
        .unwrap()
    }

    #[test]
    fn domain_and_subdomains_match() {
        let l = list();
        assert_eq!(l.reason_for("pirate.example").unwrap().line, Some(2));
        assert!(l.reason_for("www.pirate.example").is_some());
        assert!(l.reason_for("a.b.warez.example").is_some());
        assert!(l.reason_for("warez.example").is_some());
    }

    #[test]
    fn no_false_match_across_label_boundaries() {
        let l = list();
        assert!(l.reason_for("notpirate.example").is_none());
        assert!(l.reason_for("pirate.example.com").is_none());
        assert!(l.reason_for("example").is_none());
    }

    #[test]
    fn idn_entries_match_their_ascii_form() {
        assert!(list().reason_for("xn--bcher-kva.example").is_some());
    }

    #[test]
    fn bad_lines_are_errors() {
        let err = ExcludedDomains::parse("ok.example\nnot a domain\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
