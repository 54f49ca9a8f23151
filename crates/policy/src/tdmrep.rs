//! W3C TDM Reservation Protocol (TDMRep, community group final report).
//!
//! Three places say whether text and data mining rights are reserved, each overriding the
//! one before (§ "Processing priority"): `/.well-known/tdmrep.json` for the site, the
//! `tdm-reservation` / `tdm-policy` HTTP headers of a response, then `<meta
//! name="tdm-reservation">` / `<meta name="tdm-policy">` in its HTML. "At every step, the
//! absence of `tdm-reservation` and `tdm-policy` MUST not reset current values."
//!
//! A page can say it more than once: several `<meta name="tdm-reservation">`, the header
//! repeated (or its lines combined with commas, RFC 9110 §5.3), a header and a meta. The
//! report does not say which of several values of one page counts. optout fails closed: a
//! `1` anywhere in the page's headers and metas reserves, and no `0` of the same page undoes
//! it. A page's `0` still lifts a `1` of tdmrep.json, as the processing priority says.

use crate::decision::{Code, Reason};
use crate::robots::PathForms;
use crate::robots::pattern::Pattern;
use std::sync::Arc;

/// A `tdm-reservation` value as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// `1`: TDM rights are reserved.
    Reserved,
    /// `0`: TDM rights are not reserved.
    NotReserved,
    /// Any other value: "a protocol error ... `tdm-reservation` is unset".
    Invalid,
}

impl Reservation {
    /// Reads a header or meta value (`1` / `0`).
    pub fn read(value: &str) -> Reservation {
        match value.trim() {
            "1" => Reservation::Reserved,
            "0" => Reservation::NotReserved,
            _ => Reservation::Invalid,
        }
    }

    fn from_json(value: &serde_json::Value) -> Reservation {
        match value {
            serde_json::Value::Number(n) if n.as_f64() == Some(1.0) => Reservation::Reserved,
            serde_json::Value::Number(n) if n.as_f64() == Some(0.0) => Reservation::NotReserved,
            serde_json::Value::String(s) => Reservation::read(s),
            _ => Reservation::Invalid,
        }
    }
}

/// One rule of tdmrep.json.
#[derive(Clone, Debug)]
pub struct TdmRule {
    /// Its 0-based index in the file.
    pub index: u32,
    /// `location` as written.
    pub location: Arc<str>,
    /// `tdm-reservation` as read.
    pub reservation: Reservation,
    /// `tdm-policy`, if a string.
    pub policy: Option<Arc<str>>,
    pattern: Pattern,
}

/// A parsed `/.well-known/tdmrep.json`. Parsing never fails: a file that is not an array of
/// rules is kept as invalid, and decisions say it was ignored.
#[derive(Clone, Debug, Default)]
pub struct TdmRepFile {
    rules: Vec<TdmRule>,
    /// Why the file (or some of its entries) could not be used.
    pub problems: Vec<String>,
}

impl TdmRepFile {
    /// Parses tdmrep.json bytes.
    pub fn parse(bytes: &[u8]) -> TdmRepFile {
        let mut file = TdmRepFile::default();
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let value: serde_json::Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                file.problems.push(format!("not valid JSON: {e}"));
                return file;
            }
        };
        let Some(entries) = value.as_array() else {
            file.problems.push("not a JSON array of rules".into());
            return file;
        };
        for (index, entry) in entries.iter().enumerate() {
            let index = index as u32;
            let location = entry.get("location").and_then(|l| l.as_str());
            let reservation = entry.get("tdm-reservation");
            let (Some(location), Some(reservation)) = (location, reservation) else {
                file.problems.push(format!(
                    "entry {index} lacks a string `location` or a `tdm-reservation`"
                ));
                continue;
            };
            let pattern = if location.starts_with('/') || location.starts_with('*') {
                Pattern::compile(location)
            } else {
                Pattern::compile(&format!("/{location}"))
            };
            file.rules.push(TdmRule {
                index,
                location: location.into(),
                reservation: Reservation::from_json(reservation),
                policy: entry
                    .get("tdm-policy")
                    .and_then(|p| p.as_str())
                    .map(Arc::from),
                pattern,
            });
        }
        file
    }

    /// The rule for `path` (path and query): "The most specific match is the first in
    /// sequence", not the longest. A rule whose `tdm-reservation` is invalid is "unset" and
    /// does not hide a later rule; a reserving rule matches every spelling of its location.
    pub fn rule_for(&self, path: &str) -> Option<&TdmRule> {
        let path = PathForms::of(path);
        self.rules.iter().find(|r| {
            r.reservation != Reservation::Invalid
                && r.pattern
                    .matches_path(&path, r.reservation == Reservation::Reserved)
        })
    }

    /// The rules for `path` whose `tdm-reservation` is invalid and that come before the rule
    /// that applies: they are noted as unset.
    fn invalid_before(&self, path: &str) -> impl Iterator<Item = &TdmRule> {
        let forms = PathForms::of(path);
        let stop = self.rule_for(path).map_or(u32::MAX, |r| r.index);
        self.rules
            .iter()
            .filter(move |r| {
                r.index < stop
                    && r.reservation == Reservation::Invalid
                    && r.pattern.matches_path(&forms, true)
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// Where a TDMRep value came from.
#[derive(Clone, Debug)]
pub enum TdmSource {
    /// A rule of tdmrep.json.
    File(u32),
    /// A response header.
    Header,
    /// A `<meta>` element.
    Html,
}

/// The TDMRep state for one URL after every layer: the reservation and policy that stand,
/// each with the layer that set it, and notes on invalid values met on the way.
#[derive(Clone, Debug, Default)]
pub struct TdmState {
    /// The reservation that stands, if any was validly set.
    pub reservation: Option<(bool, TdmSource)>,
    /// The policy URL that stands.
    pub policy: Option<Arc<str>>,
    /// Notes (`tdmrep.invalid`) for values treated as unset.
    pub notes: Vec<Reason>,
    /// The name of a layer of the page whose `0` a reservation of the page outweighed.
    overruled: Option<&'static str>,
}

impl TdmState {
    /// Starts from the tdmrep.json rule for `path`, if any.
    pub fn from_file(file: Option<&TdmRepFile>, path: &str) -> TdmState {
        let mut state = TdmState::default();
        let Some(file) = file else { return state };
        for problem in &file.problems {
            state.notes.push(
                Reason::new(Code::TdmrepInvalid)
                    .with_source("tdmrep.json")
                    .with_detail(format!("ignored: {problem}")),
            );
        }
        for rule in file.invalid_before(path) {
            let mut r = Reason::new(Code::TdmrepInvalid)
                .with_source("tdmrep.json")
                .with_rule(rule.location.clone())
                .with_detail(
                    "tdm-reservation is neither 1 nor 0: treated as unset (TDMRep: a protocol error)",
                );
            r.entry = Some(rule.index);
            state.notes.push(r);
        }
        if let Some(rule) = file.rule_for(path) {
            let source = TdmSource::File(rule.index);
            state.apply(rule.reservation, rule.policy.clone(), source, || {
                Reason::new(Code::TdmrepInvalid).with_source("tdmrep.json")
            });
        }
        state
    }

    /// Applies one layer of the page (its headers, or its metas): every `tdm-reservation`
    /// value it has, and its `tdm-policy`. No values (absent) do not reset what stands. A `1`
    /// among the values reserves; a `0` counts only when none is `1`, and does not undo a
    /// reservation made by an earlier layer of the page (see the module).
    pub fn layer<'v>(
        &mut self,
        reservations: impl IntoIterator<Item = &'v str>,
        policy: Option<&str>,
        source: TdmSource,
        name: &'static str,
    ) {
        let (mut reserved, mut waived) = (false, false);
        for value in reservations {
            match Reservation::read(value) {
                Reservation::Reserved => reserved = true,
                Reservation::NotReserved => waived = true,
                Reservation::Invalid => self.notes.push(unset(
                    Reason::new(Code::TdmrepInvalid)
                        .with_source(name)
                        .with_rule(value.trim()),
                )),
            }
        }
        let page_reserved = matches!(
            self.reservation,
            Some((true, TdmSource::Header | TdmSource::Html))
        );
        if waived && (reserved || page_reserved) {
            self.overruled = Some(name);
        }
        if reserved {
            self.reservation = Some((true, source));
        } else if waived && page_reserved {
            return; // its `tdm-policy` goes with its `0`
        } else if waived {
            self.reservation = Some((false, source));
        }
        if let Some(policy) = policy {
            self.policy = Some(Arc::from(policy.trim()));
        }
    }

    fn apply(
        &mut self,
        reservation: Reservation,
        policy: Option<Arc<str>>,
        source: TdmSource,
        invalid: impl FnOnce() -> Reason,
    ) {
        match reservation {
            Reservation::Reserved => self.reservation = Some((true, source)),
            Reservation::NotReserved => self.reservation = Some((false, source)),
            Reservation::Invalid => self.notes.push(unset(invalid())),
        }
        if policy.is_some() {
            self.policy = policy;
        }
    }

    /// The `tdmrep.reserved` reason when rights are reserved.
    pub fn reserved_reason(&self, file_url_name: &'static str) -> Option<Reason> {
        let (true, source) = self.reservation.as_ref()? else {
            return None;
        };
        let mut reason = Reason::new(Code::TdmrepReserved);
        reason = match source {
            TdmSource::File(index) => {
                reason.entry = Some(*index);
                reason.with_source(file_url_name)
            }
            TdmSource::Header => reason.with_source("header tdm-reservation"),
            TdmSource::Html => reason.with_source("meta tdm-reservation"),
        };
        if let Some(policy) = &self.policy {
            reason = reason.with_policy(policy.clone());
        }
        if let Some(name) = self.overruled {
            reason = reason.with_detail(format!(
                "{name} 0 does not undo it: a reservation anywhere in the page wins"
            ));
        }
        Some(reason)
    }
}

/// A `tdmrep.invalid` note for a value that is neither `1` nor `0`.
fn unset(reason: Reason) -> Reason {
    reason.with_detail(
        "tdm-reservation is neither 1 nor 0: treated as unset (TDMRep: a protocol error)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"[
        {"location": "/directory-a/", "tdm-reservation": 1},
        {"location": "/directory-b/html/", "tdm-reservation": 1,
         "tdm-policy": "https://provider.com/policies/policy.json"},
        {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0}
    ]"#;

    fn reserved(state: &TdmState) -> Option<bool> {
        state.reservation.as_ref().map(|(r, _)| *r)
    }

    #[test]
    fn tdmrep_spec_example_three_groups() {
        let file = TdmRepFile::parse(SPEC_EXAMPLE.as_bytes());
        let at = |p| reserved(&TdmState::from_file(Some(&file), p));
        assert_eq!(at("/directory-a/x.pdf"), Some(true));
        assert_eq!(at("/directory-b/images/cat.jpg"), Some(false));
        assert_eq!(at("/elsewhere"), None);
        let s = TdmState::from_file(Some(&file), "/directory-b/html/page.html");
        assert_eq!(
            s.reserved_reason("tdmrep.json").unwrap().policy.as_deref(),
            Some("https://provider.com/policies/policy.json")
        );
    }

    #[test]
    fn tdmrep_first_match_in_file_order_wins_not_the_longest() {
        let file = TdmRepFile::parse(
            br#"[{"location":"/","tdm-reservation":0},{"location":"/private/","tdm-reservation":1}]"#,
        );
        assert_eq!(
            reserved(&TdmState::from_file(Some(&file), "/private/x")),
            Some(false)
        );
    }

    #[test]
    fn tdmrep_header_overrides_file_and_html_overrides_header() {
        let file = TdmRepFile::parse(br#"[{"location":"/","tdm-reservation":1}]"#);
        let mut s = TdmState::from_file(Some(&file), "/a");
        s.layer(Some("0"), None, TdmSource::Header, "header tdm-reservation");
        assert_eq!(reserved(&s), Some(false));
        s.layer(
            Some("1"),
            Some("https://p/"),
            TdmSource::Html,
            "meta tdm-reservation",
        );
        assert_eq!(reserved(&s), Some(true));
        assert_eq!(s.policy.as_deref(), Some("https://p/"));
    }

    #[test]
    fn tdmrep_a_page_reservation_anywhere_wins_over_its_waivers() {
        let page = |header: &[&str], meta: &[&str]| {
            let mut s = TdmState::default();
            s.layer(
                header.iter().copied(),
                Some("https://h/"),
                TdmSource::Header,
                "header tdm-reservation",
            );
            s.layer(
                meta.iter().copied(),
                Some("https://m/"),
                TdmSource::Html,
                "meta tdm-reservation",
            );
            s
        };
        let s = page(&[], &["1", "0"]);
        assert_eq!(reserved(&s), Some(true));
        let r = s.reserved_reason("tdmrep.json").unwrap();
        assert_eq!(r.source.as_deref(), Some("meta tdm-reservation"));
        assert!(
            r.detail
                .as_deref()
                .unwrap()
                .contains("meta tdm-reservation 0")
        );
        assert_eq!(reserved(&page(&[], &["0", "1"])), Some(true));
        // A header's `1` stands against a meta's `0`, with the header's policy.
        let s = page(&["1"], &["0"]);
        let r = s.reserved_reason("tdmrep.json").unwrap();
        assert_eq!(r.source.as_deref(), Some("header tdm-reservation"));
        assert_eq!(r.policy.as_deref(), Some("https://h/"));
        let s = page(&["0"], &["1"]);
        let r = s.reserved_reason("tdmrep.json").unwrap();
        assert_eq!(r.source.as_deref(), Some("meta tdm-reservation"));
        assert_eq!(r.policy.as_deref(), Some("https://m/"));
        assert_eq!(reserved(&page(&["0", "1"], &[])), Some(true));
        assert_eq!(reserved(&page(&["0"], &["0"])), Some(false));
        assert!(page(&["0"], &["0"]).reserved_reason("x").is_none());
    }

    #[test]
    fn tdmrep_absent_values_do_not_reset() {
        let file = TdmRepFile::parse(br#"[{"location":"/","tdm-reservation":1}]"#);
        let mut s = TdmState::from_file(Some(&file), "/a");
        s.layer(None, None, TdmSource::Header, "header tdm-reservation");
        s.layer(None, None, TdmSource::Html, "meta tdm-reservation");
        assert_eq!(reserved(&s), Some(true));
    }

    #[test]
    fn tdmrep_invalid_values_are_unset_and_noted() {
        let file = TdmRepFile::parse(br#"[{"location":"/","tdm-reservation":1}]"#);
        let mut s = TdmState::from_file(Some(&file), "/a");
        s.layer(
            Some("yes"),
            None,
            TdmSource::Header,
            "header tdm-reservation",
        );
        assert_eq!(reserved(&s), Some(true), "an invalid value does not reset");
        assert_eq!(s.notes[0].code, Code::TdmrepInvalid);
        let file = TdmRepFile::parse(br#"[{"location":"/","tdm-reservation":2}]"#);
        let s = TdmState::from_file(Some(&file), "/a");
        assert_eq!(reserved(&s), None);
        assert_eq!(s.notes[0].entry, Some(0));
    }

    #[test]
    fn tdmrep_invalid_file_is_ignored_with_a_note() {
        for bad in [
            &b"{not json"[..],
            b"{\"location\":\"/\"}",
            b"[{\"location\":5}]",
            b"",
        ] {
            let file = TdmRepFile::parse(bad);
            let s = TdmState::from_file(Some(&file), "/a");
            assert_eq!(reserved(&s), None);
            assert_eq!(s.notes[0].code, Code::TdmrepInvalid);
        }
    }
}
