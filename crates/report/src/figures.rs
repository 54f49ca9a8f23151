//! The figures of a report, computed from the evidence log alone in one pass over the
//! records `optout log export` gives for the same filter ([`export::for_each`]).
//!
//! Every count is a count of records or of their reasons, so each equals what `optout log
//! stats` and `optout log export` give on the same log: `records` and `verdicts` are those of
//! `stats`, `reasons` is its `reason` table, the protocol `reasons` are sums of it. Records
//! are hostile input (a store handed to us): a field of the wrong type counts as missing,
//! never as a panic. Memory grows with the distinct domains, origins and days, not the
//! records; agents and purposes, which a log repeats, are capped at [`MAX_NAMES`].

use super::domain;
use super::protocol::{Protocol, Role, classify_text};
use optout_evidence::Store;
use optout_evidence::export::{self, ExportError, Filter};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The most distinct agents (and purposes) listed; more are counted under [`MORE_NAMES`].
pub const MAX_NAMES: usize = 100;
/// Where agents or purposes past [`MAX_NAMES`] are counted.
pub const MORE_NAMES: &str = "(others)";
/// The day of a record whose `time` is not an RFC 3339 date.
pub const NO_DAY: &str = "(no date)";

/// What a report shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    /// The `--since` filter (RFC 3339), if any.
    pub since: Option<String>,
    /// The `--until` filter, if any.
    pub until: Option<String>,
    /// Records counted (`optout log stats`: `records`).
    pub records: u64,
    /// The earliest record time.
    pub first: Option<String>,
    /// The latest record time.
    pub last: Option<String>,
    /// Records by verdict (`stats`: `verdict`).
    pub verdicts: BTreeMap<String, u64>,
    /// Reasons by code, every reason of every record (`stats`: `reason`).
    pub reasons: BTreeMap<String, u64>,
    /// Records of a request that got a response (they carry a `status`).
    pub responses: u64,
    /// Responses kept: verdict `allowed` with a body (`bytes`).
    pub kept: u64,
    /// The bytes of the kept responses.
    pub bytes_kept: u64,
    /// Per protocol, in [`Protocol::ALL`] order.
    pub protocols: Vec<ProtocolFigures>,
    /// Distinct origins seen.
    pub origins: u64,
    /// Records per day (UTC), in date order.
    pub days: Vec<Day>,
    /// Every domain, by bytes kept (descending), then name.
    pub domains: Vec<DomainFigures>,
    /// Records by agent (product token).
    pub agents: BTreeMap<String, u64>,
    /// Records by purpose.
    pub purposes: BTreeMap<String, u64>,
}

/// The figures of one protocol.
#[derive(Clone, Debug, Serialize)]
pub struct ProtocolFigures {
    /// Its identifier ([`Protocol::id`]).
    pub id: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Reasons of its codes, notes and allows included (a sum of `stats` reason counts).
    pub reasons: u64,
    /// Refused or discarded records with a reservation of it among their reasons.
    pub refusals: u64,
    /// Refused records because its file could not be read (fail closed).
    pub unreachable: u64,
    /// Refused or discarded records whose deciding (first) reason is of it: these
    /// partition the refused and discarded records.
    pub decided: u64,
    /// Origins whose evidence shows the site uses it: its file was served (2xx, or given to
    /// an offline check), or it reserved something. `None` for what is not a site's signal.
    pub origins_using: Option<u64>,
}

/// The records of one day.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD`, or [`NO_DAY`].
    pub day: String,
    /// Allowed records.
    pub allowed: u64,
    /// Refused records.
    pub refused: u64,
    /// Discarded records.
    pub discarded: u64,
    /// Records with another verdict (only in a log not written by optout).
    pub other: u64,
}

/// The records of one registrable domain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DomainFigures {
    /// The domain ([`domain::of_url`]).
    pub domain: String,
    /// Records (decisions, requests or not).
    pub requests: u64,
    /// Kept responses.
    pub kept: u64,
    /// Refused records.
    pub refused: u64,
    /// Discarded records.
    pub discarded: u64,
    /// Bytes kept.
    pub bytes: u64,
}

/// Computes the figures of the records `filter` keeps.
pub fn compute(store: &Store, filter: &Filter) -> Result<Figures, ExportError> {
    let mut tally = Tally::default();
    export::for_each(store, filter, |_, record| {
        tally.add(record);
        Ok(())
    })?;
    Ok(tally.finish(filter))
}

/// The running counts.
#[derive(Default)]
struct Tally {
    figures: Figures,
    protocols: [Counts; Protocol::ALL.len()],
    origins: HashMap<String, u16>,
    days: BTreeMap<String, Day>,
    domains: HashMap<String, DomainFigures>,
}

#[derive(Clone, Copy, Default)]
struct Counts {
    reasons: u64,
    refusals: u64,
    unreachable: u64,
    decided: u64,
}

fn text<'a>(record: &'a Value, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `YYYY-MM-DD` when `time` starts with one.
fn day_of(time: &str) -> Option<&str> {
    let day = time.get(..10)?;
    let b = day.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)).then_some(day)
}

fn count_name(map: &mut BTreeMap<String, u64>, name: &str) {
    if let Some(n) = map.get_mut(name) {
        *n += 1;
    } else if map.len() < MAX_NAMES {
        map.insert(name.to_owned(), 1);
    } else {
        *map.entry(MORE_NAMES.to_owned()).or_default() += 1;
    }
}

impl Tally {
    fn add(&mut self, record: &Value) {
        let f = &mut self.figures;
        f.records += 1;
        let verdict = text(record, "verdict");
        *f.verdicts.entry(verdict.to_owned()).or_default() += 1;
        count_name(&mut f.agents, text(record, "agent"));
        count_name(&mut f.purposes, text(record, "purpose"));
        let time = text(record, "time");
        let day = day_of(time);
        if day.is_some() {
            if f.first.as_deref().is_none_or(|t| time < t) {
                f.first = Some(time.to_owned());
            }
            if f.last.as_deref().is_none_or(|t| time > t) {
                f.last = Some(time.to_owned());
            }
        }
        let entry = self
            .days
            .entry(day.unwrap_or(NO_DAY).to_owned())
            .or_default();
        let refusal = matches!(verdict, "refused" | "discarded");
        match verdict {
            "allowed" => entry.allowed += 1,
            "refused" => entry.refused += 1,
            "discarded" => entry.discarded += 1,
            _ => entry.other += 1,
        }
        if record.get("status").and_then(Value::as_u64).is_some() {
            f.responses += 1;
        }
        let bytes = record.get("bytes").and_then(Value::as_u64);
        let kept = verdict == "allowed" && bytes.is_some();
        let bytes = if kept { bytes.unwrap_or(0) } else { 0 };
        if kept {
            f.kept += 1;
            f.bytes_kept = f.bytes_kept.saturating_add(bytes);
        }
        let name = domain::of_url(text(record, "url"));
        let row = self.domains.entry(name).or_default();
        row.requests += 1;
        row.kept += u64::from(kept);
        row.refused += u64::from(verdict == "refused");
        row.discarded += u64::from(verdict == "discarded");
        row.bytes = row.bytes.saturating_add(bytes);
        let mut uses = 0u16;
        self.reasons(record, refusal, &mut uses);
        for source in record
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let served = match source.get("status") {
                None | Some(Value::Null) => true,
                Some(status) => status.as_u64().is_some_and(|s| (200..300).contains(&s)),
            };
            let kind = text(source, "kind");
            for (i, p) in Protocol::ALL.iter().enumerate() {
                if served && p.file_kind() == Some(kind) {
                    uses |= 1 << i;
                }
            }
        }
        let origin = text(record, "origin");
        match self.origins.get_mut(origin) {
            Some(bits) => *bits |= uses,
            None => {
                self.origins.insert(origin.to_owned(), uses);
            }
        }
    }

    /// Counts the reasons of one record; sets in `uses` the protocols it shows in use.
    fn reasons(&mut self, record: &Value, refusal: bool, uses: &mut u16) {
        let mut refused_by = 0u16;
        let mut unreachable_by = 0u16;
        let codes = record
            .get("reasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("code")?.as_str());
        for (n, code) in codes.enumerate() {
            *self.figures.reasons.entry(code.to_owned()).or_default() += 1;
            let (protocol, role) = classify_text(code);
            let i = Protocol::ALL
                .iter()
                .position(|p| *p == protocol)
                .unwrap_or(0);
            self.protocols[i].reasons += 1;
            if refusal && n == 0 {
                self.protocols[i].decided += 1;
            }
            match role {
                Some(Role::Refuses) => {
                    *uses |= 1 << i;
                    refused_by |= 1 << i;
                }
                Some(Role::Unreachable) => unreachable_by |= 1 << i,
                _ => {}
            }
        }
        if refusal {
            for (i, counts) in self.protocols.iter_mut().enumerate() {
                counts.refusals += u64::from(refused_by & (1 << i) != 0);
                counts.unreachable += u64::from(unreachable_by & (1 << i) != 0);
            }
        }
    }

    fn finish(self, filter: &Filter) -> Figures {
        let mut f = self.figures;
        f.since = filter.since.clone();
        f.until = filter.until.clone();
        f.origins = self.origins.len() as u64;
        f.protocols = Protocol::ALL
            .iter()
            .zip(self.protocols)
            .enumerate()
            .map(|(i, (p, c))| ProtocolFigures {
                id: p.id(),
                name: p.name(),
                reasons: c.reasons,
                refusals: c.refusals,
                unreachable: c.unreachable,
                decided: c.decided,
                origins_using: p
                    .is_site_signal()
                    .then(|| self.origins.values().filter(|b| *b & (1 << i) != 0).count() as u64),
            })
            .collect();
        f.days = self
            .days
            .into_iter()
            .map(|(day, d)| Day { day, ..d })
            .collect();
        let mut domains: Vec<DomainFigures> = self
            .domains
            .into_iter()
            .map(|(domain, row)| DomainFigures { domain, ..row })
            .collect();
        domains.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.domain.cmp(&b.domain)));
        f.domains = domains;
        f
    }
}

impl Figures {
    /// The domains with the most records of `verdict` (`refused`, `discarded`), most first,
    /// ties by name; at most `n`, none with zero.
    pub fn top_by(&self, verdict: &str, n: usize) -> Vec<(&str, u64)> {
        let count = |d: &DomainFigures| match verdict {
            "refused" => d.refused,
            _ => d.discarded,
        };
        let mut top: Vec<(&str, u64)> = self
            .domains
            .iter()
            .filter(|d| count(d) > 0)
            .map(|d| (d.domain.as_str(), count(d)))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        top.truncate(n);
        top
    }

    /// Records with `verdict`.
    pub fn verdict(&self, verdict: &str) -> u64 {
        self.verdicts.get(verdict).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn figures(records: &[Value]) -> Figures {
        let mut tally = Tally::default();
        records.iter().for_each(|r| tally.add(r));
        tally.finish(&Filter::default())
    }

    #[test]
    fn counts_partition_and_hostile_fields_count_as_missing() {
        let f = figures(&[
            json!({"time": "2026-11-28T10:00:00.000Z", "url": "https://www.a.example/x",
                   "origin": "https://www.a.example", "verdict": "allowed", "status": 200,
                   "bytes": 10, "reasons": [{"code": "robots.allow"}],
                   "sources": [{"kind": "robots.txt", "status": 200}]}),
            json!({"time": "2026-11-29T10:00:00.000Z", "url": "https://b.example/x",
                   "origin": "https://b.example", "verdict": "refused",
                   "reasons": [{"code": "tdmrep.reserved"}, {"code": "robots.allow"},
                               {"code": "aitxt.unreachable"}],
                   "sources": [{"kind": "robots.txt", "status": 404},
                               {"kind": "tdmrep.json", "status": 200}]}),
            json!({"time": 7, "url": ["x"], "origin": null, "verdict": {"a": 1},
                   "reasons": "no", "sources": 3, "bytes": -1}),
            json!({"time": "2026-11-2", "verdict": "discarded", "bytes": 5,
                   "reasons": [{"code": "tags.noai"}, {"code": 9}, {"code": "new.code"}]}),
        ]);
        assert_eq!(f.records, 4);
        assert_eq!((f.kept, f.bytes_kept, f.responses), (1, 10, 1));
        assert_eq!(f.first.as_deref(), Some("2026-11-28T10:00:00.000Z"));
        assert_eq!(f.last.as_deref(), Some("2026-11-29T10:00:00.000Z"));
        let days: Vec<_> = f.days.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(days, ["(no date)", "2026-11-28", "2026-11-29"]);
        let by = |id: &str| f.protocols.iter().find(|p| p.id == id).unwrap().clone();
        assert_eq!(by("robots").reasons, 2);
        assert_eq!(by("robots").origins_using, Some(1));
        assert_eq!(by("tdmrep").refusals, 1);
        assert_eq!(by("tdmrep").origins_using, Some(1));
        assert_eq!(by("ai-txt").unreachable, 1);
        assert_eq!(by("ai-txt").origins_using, Some(0));
        assert_eq!(by("other").reasons, 1);
        assert_eq!(by("noai").decided, 1);
        let decided: u64 = f.protocols.iter().map(|p| p.decided).sum();
        assert_eq!(decided, f.verdict("refused") + f.verdict("discarded"));
        let reasons: u64 = f.protocols.iter().map(|p| p.reasons).sum();
        assert_eq!(reasons, f.reasons.values().sum::<u64>());
        assert_eq!(f.domains[0].domain, "a.example");
        assert_eq!(f.domains.iter().map(|d| d.requests).sum::<u64>(), 4);
        assert_eq!(f.top_by("refused", 5), [("b.example", 1)]);
    }

    #[test]
    fn agents_past_the_cap_are_counted_together() {
        let records: Vec<Value> = (0..MAX_NAMES + 5)
            .map(|i| json!({"agent": format!("bot{i}")}))
            .collect();
        let f = figures(&records);
        assert_eq!(f.agents.len(), MAX_NAMES + 1);
        assert_eq!(f.agents[MORE_NAMES], 5);
    }
}
