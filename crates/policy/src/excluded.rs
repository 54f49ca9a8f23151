//! Excluded domains (Code of Practice, Measure 1.2): sites recognised as persistently
//! infringing. A listed domain excludes itself and every subdomain, on label boundaries:
//! `pirate.example` excludes `www.pirate.example` but not `notpirate.example`.
//!
//! An entry may also be an IP address: IPv4 in any form the URL parser accepts, IPv6 with or
//! without brackets, in any valid text form. Addresses are compared as addresses, and an
//! IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) is the IPv4 address it
//! maps: a URL can reach the same host either way, so each form matches an entry in the other.

use crate::decision::{Code, Reason};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// A parsed list: one domain or IP address per line, `#` comments, blank lines ignored.
#[derive(Clone, Debug, Default)]
pub struct ExcludedDomains {
    /// Normalised domain → (line, entry as written).
    entries: HashMap<String, (u32, String)>,
    /// Address (IPv4-mapped IPv6 as IPv4) → (line, entry as written).
    addresses: HashMap<IpAddr, (u32, String)>,
}

/// A line of the list that is not a domain.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {entry:?} is not a domain name or IP address")]
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
        let mut list = ExcludedDomains::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index as u32 + 1;
            let entry = raw.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let written = (line, entry.to_owned());
            if let Some(ip) = address(entry) {
                list.addresses.insert(ip, written);
                continue;
            }
            let bare = entry.trim_start_matches("*.").trim_start_matches('.');
            match url::Host::parse(bare.trim_end_matches('.')) {
                Ok(url::Host::Domain(d)) if !d.is_empty() => list.entries.insert(d, written),
                Ok(url::Host::Ipv4(ip)) => list.addresses.insert(IpAddr::V4(ip), written),
                _ => {
                    return Err(BadEntry {
                        line,
                        entry: entry.to_owned(),
                    });
                }
            };
        }
        Ok(list)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len() + self.addresses.len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.addresses.is_empty()
    }

    /// The `excluded-domain` reason when `host` (as the URL parser gives it: lower-case,
    /// IDNA-encoded, IPv6 in brackets) is a listed domain or a subdomain of one, or a listed
    /// address.
    pub fn reason_for(&self, host: &str) -> Option<Reason> {
        if self.is_empty() {
            return None;
        }
        if let Some(ip) = address(host) {
            return self.addresses.get(&ip).map(reason);
        }
        let host = host.trim_end_matches('.');
        let mut suffix = host;
        loop {
            if let Some(entry) = self.entries.get(suffix) {
                return Some(reason(entry));
            }
            match suffix.split_once('.') {
                Some((_, rest)) => suffix = rest,
                None => return None,
            }
        }
    }
}

fn reason((line, written): &(u32, String)) -> Reason {
    Reason::new(Code::ExcludedDomain)
        .with_source("excluded-domains")
        .with_line(*line)
        .with_rule(written.as_str())
}

/// `text` as an IP address, when it is one: IPv6 with or without brackets, or IPv4 in
/// dotted-decimal form (other IPv4 forms in a list are read by the URL parser, and the URL
/// parser gives hosts dotted). An IPv4-mapped IPv6 address is its IPv4 address.
fn address(text: &str) -> Option<IpAddr> {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let ip = match unbracketed.parse::<Ipv6Addr>() {
        Ok(v6) => IpAddr::V6(v6),
        Err(_) => IpAddr::V4(text.parse().ok()?),
    };
    Some(ip.to_canonical())
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
    fn rfc4291_ipv6_entries_compare_as_addresses() {
        let l = ExcludedDomains::parse(
            "2001:DB8::1\n[2001:db8:0:0:0:0:0:2]\n2001:0db8::0:3 # expanded\n",
        )
        .unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l.reason_for("[2001:db8::1]").unwrap().line, Some(1));
        assert_eq!(l.reason_for("[2001:db8::2]").unwrap().line, Some(2));
        let r = l.reason_for("[2001:db8::3]").unwrap();
        assert_eq!(r.rule.as_deref(), Some("2001:0db8::0:3"));
        assert!(l.reason_for("[2001:db8::4]").is_none());
        assert!(l.reason_for("2001.db8").is_none());
    }

    #[test]
    fn rfc4291_2_5_5_2_ipv4_mapped_matches_its_ipv4_entry_both_ways() {
        let l = ExcludedDomains::parse("192.0.2.1\n[::ffff:198.51.100.7]\n").unwrap();
        // As the URL parser writes hosts: `[::ffff:c000:201]` for `[::ffff:192.0.2.1]`.
        for host in ["192.0.2.1", "[::ffff:c000:201]", "[::ffff:192.0.2.1]"] {
            assert_eq!(l.reason_for(host).unwrap().line, Some(1), "{host}");
        }
        for host in ["198.51.100.7", "[::ffff:c633:6407]"] {
            assert_eq!(l.reason_for(host).unwrap().line, Some(2), "{host}");
        }
        assert!(l.reason_for("192.0.2.2").is_none());
        assert!(
            l.reason_for("[::192.0.2.1]").is_none(),
            "IPv4-compatible is not mapped"
        );
    }

    #[test]
    fn ip_hosts_from_the_url_parser_match() {
        let l = ExcludedDomains::parse("::1\n0xC0.0.2.9\n").unwrap();
        for (url, line) in [("http://[0:0::1]:8080/x", 1), ("http://192.0.2.9/", 2)] {
            let url = crate::parse_url(url).unwrap();
            let host = url.host_str().unwrap();
            assert_eq!(l.reason_for(host).unwrap().line, Some(line), "{host}");
        }
    }

    #[test]
    fn bad_lines_are_errors() {
        let err = ExcludedDomains::parse("ok.example\nnot a domain\n").unwrap_err();
        assert_eq!(err.line, 2);
        for bad in ["[::1", "::g", "[192.0.2.1]", "fe80::1%eth0", "[]"] {
            assert!(ExcludedDomains::parse(bad).is_err(), "{bad}");
        }
    }
}
